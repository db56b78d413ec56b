"""Storage test fixtures: a real S3 server (moto in server mode) and the service on it.

The suite keeps the local default storage; a test opts into S3 with the `s3_storage` fixture
(or `storage_backend`, parametrized over both). `s3_server` is one moto server subprocess per
test process, on a free port (so each pytest-xdist worker has its own, and CI starts nothing);
`s3_storage` gives each test a bucket of its own, points settings.STORAGES at it through the
real django-storages/boto3 code, and empties and removes the bucket afterwards.
`S3Server.stop()`/`start()` take the endpoint down and bring it back on the same port, for
fault tests. Registered in the root conftest.py.
"""

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from virtool_site.testing import free_port

ACCESS_KEY = "virtool-test-key"
SECRET_KEY = "virtool-test-secret"
REGION = "us-east-1"


class S3Server:
    """`python -m moto.server` on 127.0.0.1, a free port."""

    def __init__(self, log_path: Path, port: int | None = None):
        self.port = port or free_port()
        self.log_path = log_path
        self.process = None
        self.start()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        if shutil.which("setpriv"):
            # Dies with the test process, should that be killed.
            command = ["setpriv", "--pdeathsig", "TERM", "--", *command]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ})
        deadline = time.monotonic() + timeout
        while True:
            try:
                requests.get(self.endpoint_url, timeout=2)
                return
            except requests.RequestException:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not start:\n{self.log_path.read_text(errors='replace')}")
                time.sleep(0.1)

    def stop(self) -> None:
        """The endpoint goes away (connections refused); its data with it."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def client(self):
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint_url, aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY, region_name=REGION,
        )


class S3Bucket:
    """A bucket of the test's own on an S3 server, with what a process needs to use it."""

    def __init__(self, server: S3Server, name: str | None = None):
        self.server = server
        self.name = name or f"test-{uuid.uuid4().hex[:20]}"
        self.client = server.client()
        self.client.create_bucket(Bucket=self.name)

    @property
    def options(self) -> dict:
        """settings.STORAGES["default"]["OPTIONS"] for this bucket."""
        return {
            "bucket_name": self.name,
            "endpoint_url": self.server.endpoint_url,
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "region_name": REGION,
        }

    @property
    def env(self) -> dict:
        """The environment that selects this bucket in another process (django-storages' names)."""
        return {
            "AWS_STORAGE_BUCKET_NAME": self.name,
            "AWS_S3_ENDPOINT_URL": self.server.endpoint_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_S3_REGION_NAME": REGION,
        }

    def keys(self, prefix: str = "") -> list[str]:
        keys = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix):
            keys.extend(entry["Key"] for entry in page.get("Contents", ()))
        return sorted(keys)

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def head(self, key: str) -> dict:
        return self.client.head_object(Bucket=self.name, Key=key)

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=data)

    def remove(self) -> None:
        try:
            for start in range(0, len(keys := self.keys()), 1000):
                objects = [{"Key": key} for key in keys[start : start + 1000]]
                self.client.delete_objects(Bucket=self.name, Delete={"Objects": objects, "Quiet": True})
            self.client.delete_bucket(Bucket=self.name)
        except Exception:  # noqa: BLE001 - a server a test stopped has nothing left to free
            pass


def s3_settings(settings, options: dict, **storage_settings) -> None:
    """Point the test's settings at S3 storage with `options` (a bucket's, or any)."""
    settings.STORAGE_MAX_ATTEMPTS = 1
    settings.STORAGE_CONNECT_TIMEOUT = 2.0
    for name, value in storage_settings.items():
        setattr(settings, name, value)
    # Last: changing STORAGES drops the storage instances, which read the settings above.
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "virtool_site.storage_s3.S3DataStorage", "OPTIONS": dict(options)},
    }


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """One S3 server (moto) for this test process."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        from conftest import service_missing

        service_missing("moto[server] is not installed (requirements-dev.txt)")
    server = S3Server(tmp_path_factory.mktemp("s3") / "moto.log")
    yield server
    server.stop()


@pytest.fixture
def s3_storage(settings, s3_server):
    """This test's files in a bucket of its own on the S3 server (real django-storages code)."""
    bucket = S3Bucket(s3_server)
    s3_settings(settings, bucket.options)
    yield bucket
    bucket.remove()


@pytest.fixture
def s3_unreachable(settings):
    """S3 storage whose endpoint refuses connections (nothing listens on its port)."""
    s3_settings(
        settings,
        {
            "bucket_name": "unreachable",
            "endpoint_url": f"http://127.0.0.1:{free_port()}",
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "region_name": REGION,
        },
    )


@pytest.fixture(params=["local", "s3"])
def storage_backend(request):
    """Run the test on both backends: None for local files, the S3Bucket for S3."""
    if request.param == "local":
        return None
    return request.getfixturevalue("s3_storage")
