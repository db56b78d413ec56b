"""Benchmark: the same work on local files and on an S3 server, side by side, as ratios.

    .venv/bin/python bench/storage.py [PATH]

Creates its own PostgreSQL database (vs_bench_storage, on the server of DATABASE_URL or
postgres://postgres@127.0.0.1:5432), migrates it, starts an S3 server (moto in server mode, as
the tests do; a real deployment's MinIO or AWS is faster) and, alternately with local files
(DATA_DIR) and with a bucket on that server, REPEATS times:
- import: POST /api/refs importing the uploaded real reference file (the task runs in-process:
  the upload is read from storage, validated and written);
- index build: POST /api/refs/{id}/indexes on that reference (FASTA, bowtie2-build, the files
  stored from scratch, finalize);
- 100 MB download: GET /api/uploads/{id} of a 100 MB file through gunicorn (sendfile on local
  files, streamed from the bucket on S3), read by an HTTP client to the last byte; on S3 also
  with STORAGE_DOWNLOAD_REDIRECT (a 302 to a presigned URL the client follows) and, for scale,
  the same object read straight from the S3 server with boto3 (no service at all).
It prints each figure for both backends (medians, interleaved so a busy moment of a shared
machine does not decide a ratio) and the S3/local ratio. Target: each ratio <= 1.3. Over
loopback a local download is a sendfile() of the page cache; the S3 one cannot be faster than
the S3 server alone, so the last line shows what the service adds to the server's own time.
The database is dropped at the end. Figures are printed, never asserted.
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _pg import admin_execute, server_url, with_database  # bench/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = os.environ.get("BENCH_DATABASE_NAME", "vs_bench_storage")
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
DOWNLOAD_MB = int(os.environ.get("BENCH_DOWNLOAD_MB", "100"))
DEFAULT_FILE = ROOT.parent / "shared" / "data" / "ref-plant-viruses.json.gz"
TARGET = 1.3


def main(path: Path) -> None:
    admin_execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}"')
    admin_execute(f'CREATE DATABASE "{BENCH_DB}"')
    work = Path(tempfile.mkdtemp(prefix="vs-bench-storage-"))
    database_url = with_database(server_url(), BENCH_DB)
    os.environ.update(
        DATABASE_URL=database_url, DATA_DIR=str(work / "data"), CELERY_TASK_ALWAYS_EAGER="true",
        DJANGO_SETTINGS_MODULE="virtool_site.settings", LOG_LEVEL="WARNING",
    )
    os.environ.pop("REDIS_URL", None)
    (work / "data").mkdir()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from virtool_site.storage_testing import S3Bucket, S3Server

    server = S3Server(work / "moto.log")
    servers = []
    try:
        call_command("migrate", verbosity=0)
        bucket = S3Bucket(server)
        run(path, work, database_url, bucket, servers)
    finally:
        for web in servers:
            web.terminate()
            web.wait()
        server.stop()
        connections.close_all()
        admin_execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}"')
        shutil.rmtree(work, ignore_errors=True)


def backend(bucket):
    """override_settings for local files (bucket None) or the bucket."""
    from django.conf import settings
    from django.test.utils import override_settings

    if bucket is None:
        return override_settings()
    storages = {**settings.STORAGES, "default": {"BACKEND": "virtool_site.storage_s3.S3DataStorage", "OPTIONS": bucket.options}}
    return override_settings(STORAGES=storages)


def gunicorn(port: int, env: dict, log: Path) -> subprocess.Popen:
    import requests

    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "virtool_site.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--timeout", "120", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(f"http://127.0.0.1:{port}/api/health", timeout=5)
            return process
        except requests.RequestException:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(log.read_text())
            time.sleep(0.1)


def run(path: Path, work: Path, database_url: str, bucket, servers: list) -> None:
    import requests
    from django.core.files.uploadedfile import TemporaryUploadedFile
    from rest_framework.test import APIClient

    from virtool_site.models import User
    from virtool_site.services import api_key_create, upload_create
    from virtool_site.testing import free_port

    user = User.objects.create_superuser(username="bench", email="", password="bench-password")
    client = APIClient()
    client.force_authenticate(user=user)
    _, key = api_key_create(user=user, name="bench")

    def stored_upload(source: Path, name: str, upload_type: str):
        spooled = TemporaryUploadedFile(name, "application/octet-stream", source.stat().st_size, None)
        with open(source, "rb") as handle:
            shutil.copyfileobj(handle, spooled, 1 << 20)
        spooled.flush()
        try:
            return upload_create(user=user, name=name, upload_type=upload_type, uploaded_file=spooled)
        finally:
            spooled.close()

    big = work / "big.bin"
    with open(big, "wb") as handle:
        block = os.urandom(1 << 20)
        for _ in range(DOWNLOAD_MB):
            handle.write(block)

    # One web server per backend, on the same database; each downloads what its backend holds.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    local_port, s3_port, redirect_port = free_port(), free_port(), free_port()
    servers.append(gunicorn(local_port, {**env, "DATA_DIR": str(work / "data")}, work / "web-local.log"))
    servers.append(gunicorn(s3_port, {**env, "DATA_DIR": str(work / "web-s3"), **bucket.env}, work / "web-s3.log"))
    servers.append(gunicorn(
        redirect_port, {**env, "DATA_DIR": str(work / "web-s3r"), **bucket.env, "STORAGE_DOWNLOAD_REDIRECT": "true"},
        work / "web-s3-redirect.log",
    ))
    ports = {"local": local_port, "s3": s3_port}

    def download(port: int, upload_id: str) -> float:
        started = time.perf_counter()
        received = 0
        with requests.get(
            f"http://127.0.0.1:{port}/api/uploads/{upload_id}",
            headers={"Authorization": f"Bearer {key}"}, stream=True, timeout=120,
        ) as response:
            response.raise_for_status()
            for chunk in response.iter_content(1 << 20):
                received += len(chunk)
        assert received == DOWNLOAD_MB * (1 << 20)
        return time.perf_counter() - started

    def s3_alone(upload_id: str) -> float:
        started = time.perf_counter()
        body = bucket.client.get_object(Bucket=bucket.name, Key=f"uploads/{upload_id}")["Body"]
        received = sum(len(chunk) for chunk in iter(lambda: body.read(1 << 20), b""))
        assert received == DOWNLOAD_MB * (1 << 20)
        return time.perf_counter() - started

    # Warm both servers up (a first request loads the S3 client and its models).
    for name, store in (("local", None), ("s3", bucket)):
        with backend(store):
            warm = stored_upload(big, "big.bin", "reads")
        download(ports[name], warm.id)
    s3_alone(warm.id)
    download(redirect_port, warm.id)

    figures = {name: {"local": [], "s3": []} for name in ("import", "index build", f"{DOWNLOAD_MB} MB download")}
    alone, redirected = [], []
    print(f"file: {path.name} ({path.stat().st_size / 1024**2:.1f} MB); {REPEATS} interleaved rounds; "
          f"S3: moto server at {bucket.server.endpoint_url}")
    for round_number in range(REPEATS):
        for name, store in (("local", None), ("s3", bucket)) if round_number % 2 == 0 else (("s3", bucket), ("local", None)):
            with backend(store):
                upload = stored_upload(path, "reference.json.gz", "reference")
                started = time.perf_counter()
                response = client.post("/api/refs", {"name": f"{name} {round_number}", "import_from": upload.id}, format="json")
                imported = time.perf_counter() - started
                assert response.status_code == 201, response.content
                reference_id = response.json()["id"]
                process = client.get(f"/api/processes/{response.json()['process']['id']}").json()
                assert process["complete"] and not process["error"], process

                started = time.perf_counter()
                response = client.post(f"/api/refs/{reference_id}/indexes", {}, format="json")
                built = time.perf_counter() - started
                index = client.get(f"/api/indexes/{response.json()['id']}").json()
                assert index["ready"], index

                large = stored_upload(big, "big.bin", "reads")
            downloaded = download(ports[name], large.id)
            if store is not None:
                alone.append(s3_alone(large.id))
                redirected.append(download(redirect_port, large.id))
            for figure, seconds in zip(figures, (imported, built, downloaded)):
                figures[figure][name].append(seconds)
            print(f"  round {round_number + 1} {name:5}: import {imported:6.2f} s, build {built:6.2f} s, "
                  f"download {downloaded:6.2f} s")

    print("-" * 78)
    print(f"{'':22}{'local':>10}{'S3':>10}{'S3/local':>10}   (medians; target <= {TARGET})")
    for figure, by_backend in figures.items():
        local = statistics.median(by_backend["local"])
        s3 = statistics.median(by_backend["s3"])
        verdict = "ok" if s3 / local <= TARGET else "over"
        print(f"{figure:22}{local:9.2f}s{s3:9.2f}s{s3 / local:10.2f}   {verdict}")
    local_download = statistics.median(figures[f"{DOWNLOAD_MB} MB download"]["local"])
    s3_download = statistics.median(figures[f"{DOWNLOAD_MB} MB download"]["s3"])
    redirect = statistics.median(redirected)
    print(f"{'  ... with redirect':22}{'':10}{redirect:9.2f}s{redirect / local_download:10.2f}   "
          f"{'ok' if redirect / local_download <= TARGET else 'over'}  (302 to a presigned URL)")
    print(f"{'S3 server alone (GET)':22}{'':10}{statistics.median(alone):9.2f}s"
          f"   the service's S3 download takes {s3_download / statistics.median(alone):.2f} x the server's own GET")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_FILE)
