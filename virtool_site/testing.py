"""Test helpers importable from any app's tests (`from virtool_site.testing import wait_for`)."""

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import URLPattern, URLResolver, get_resolver

from virtool_site.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port of 127.0.0.1 nothing listens on (for fake servers, or for services made
    unreachable)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CeleryWorkerProcess:
    """A `celery -A virtool_site worker` subprocess serving this test's database and queue."""

    def __init__(
        self, *, database_url: str, data_dir: Path, extra_env: dict | None = None, pool: str = "solo", queue: str | None = None
    ):
        # A worker started on a dead worker's queue receives its unacknowledged tasks.
        self.queue = queue or f"test-{uuid.uuid4().hex[:12]}"
        self.hostname = f"{self.queue}-{uuid.uuid4().hex[:6]}@localhost"
        self.log_path = data_dir / f"{self.queue}.log"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DATA_DIR": str(data_dir),
            "REDIS_URL": django_settings.REDIS_URL,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "PYTHONUNBUFFERED": "1",
            **{k: str(v) for k, v in (extra_env or {}).items()},
        }
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "virtool_site", "worker", "-P", pool, "-c", "1",
             "-Q", self.queue, "-n", self.hostname, "--without-heartbeat", "--without-mingle",
             "--without-gossip", "-l", "INFO"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited early:\n{self.log()}")
            if celery_app.control.ping(destination=[self.hostname], timeout=0.5):
                return
        raise RuntimeError(f"celery worker did not start:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def kill(self):
        """SIGKILL, as when a machine dies: unacknowledged tasks go back to the queue."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


def wait_for(predicate, *, timeout: float = 120, interval: float = 0.2, message: str = "condition", log=None):
    """Poll `predicate` until it returns a truthy value (returned), or fail after `timeout`,
    showing the end of `log()` (a worker's log, say) when given."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
    except BaseException:
        if log is not None:
            print(log()[-5000:])
        raise
    tail = f"\n{log()[-5000:]}" if log is not None else ""
    pytest.fail(f"timed out after {timeout}s waiting for {message}{tail}")


def _route_text(pattern) -> str:
    """A readable route: `refs/{ref_id}`, `analyses/document/{analysis_id}.{extension}`."""
    text = str(pattern.pattern)
    if hasattr(pattern.pattern, "_route"):  # path(): converters
        return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", text)
    text = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", text)  # re_path(): named groups
    text = text.removeprefix("^").removesuffix("$").removesuffix("/?")
    return text.replace("\\.", ".")


def url_routes(patterns=None, prefix: str = ""):
    """(route, view callback) of every URL the service answers, walked from the URLconf (tests
    that must cover every endpoint fail when one is added without its row)."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + _route_text(pattern)
        if isinstance(pattern, URLResolver):
            yield from url_routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


def post_file(client, name="reference.json.gz", content=b"\x1f\x8bdata", upload_type="reference"):
    """POST /api/uploads of `content` as a multipart file named `name`."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        f"/api/uploads?name={name}&type={upload_type}",
        {"file": SimpleUploadedFile("whatever", content)},
        format="multipart",
    )
