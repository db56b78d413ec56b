"""End to end on several "hosts": two web processes (gunicorn) and two Celery workers (the
default and the builds queue), each with its own empty DATA_DIR, sharing nothing but
PostgreSQL, Redis and an S3 bucket (moto in server mode, through django-storages/boto3).

The real plant-virus reference is uploaded through web A, imported by the default worker
(reading the upload from the bucket), and built into an index by the builds worker; web B
serves reference.fa.gz and a bowtie2 file with the bytes the build stored; an analysis file
uploaded through web A by the analysis's job runner is downloaded through web B. No process
keeps a persistent file on its own disk.
"""

import base64
import uuid

import pytest
import requests

from virtool_site.models import User
from virtool_site.services import api_key_create
from virtool_site.testing import CeleryWorkerProcess, wait_for
from virtool_site.tests.test_faults import Gunicorn, app_env

pytestmark = [pytest.mark.slow, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PERSISTENT = ("uploads", "references", "analyses", "blast")


def database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    return (
        f"postgres://{db['USER'] or 'postgres'}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )


@pytest.fixture
def hosts(s3_storage, tmp_path, settings):
    """Web A, web B, the default worker and the builds worker, each on its own DATA_DIR."""
    from django.db import connection

    from conftest import service_missing

    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        service_missing("the scale-out test needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL)")
    queues = {"default": f"test-default-{uuid.uuid4().hex[:8]}", "builds": f"test-builds-{uuid.uuid4().hex[:8]}"}
    shared = {
        **s3_storage.env,
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_TASK_DEFAULT_QUEUE": queues["default"],
        "CELERY_BUILDS_QUEUE": queues["builds"],
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    data_dirs = {name: tmp_path / name for name in ("web-a", "web-b", "default", "builds")}
    for path in data_dirs.values():
        path.mkdir()
    started = []
    try:
        web = {}
        for name in ("web-a", "web-b"):
            env = app_env(database_url=database_url(), data_dir=data_dirs[name], **shared)
            web[name] = Gunicorn(env, tmp_path / f"{name}.log", workers=1)
            started.append(web[name])
        workers = {}
        for name in ("default", "builds"):
            workers[name] = CeleryWorkerProcess(
                database_url=database_url(), data_dir=data_dirs[name], queue=queues[name],
                extra_env={**shared, "LOG_LEVEL": "INFO"},
            )
            started.append(workers[name])
        yield web, workers, data_dirs
    finally:
        for process in started:
            process.stop()


def test_web_and_workers_on_separate_disks_share_only_the_databases_and_the_bucket(
    hosts, s3_storage, real_reference_path
):
    web, workers, data_dirs = hosts
    web_a, web_b = web["web-a"], web["web-b"]
    user = User.objects.create(username="curator", is_superuser=True, is_staff=True)
    _, key = api_key_create(user=user, name="scale-out")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"

    # Upload through web A: straight into the bucket.
    with open(real_reference_path, "rb") as handle:
        response = session.post(
            web_a.url("/api/uploads?name=ref-plant-viruses.json.gz&type=reference"), files={"file": handle}, timeout=120
        )
    assert response.status_code == 201, response.text
    upload_id = response.json()["id"]
    assert s3_storage.read(f"uploads/{upload_id}") == real_reference_path.read_bytes()

    # Import on the default worker, which reads the upload from the bucket.
    response = session.post(web_a.url("/api/refs"), json={"name": "Plant viruses", "import_from": upload_id}, timeout=60)
    assert response.status_code == 201, response.text
    reference_id = response.json()["id"]
    process_id = response.json()["process"]["id"]

    def imported():
        process = session.get(web_b.url(f"/api/processes/{process_id}"), timeout=30).json()
        if process.get("error"):
            pytest.fail(f"import failed: {process['error']}")
        return process if process["complete"] else None

    wait_for(imported, timeout=600, interval=1, message="the import", log=workers["default"].log)
    assert "refs.import_reference[" in workers["default"].log()

    # Build on the builds worker.
    response = session.post(web_b.url(f"/api/refs/{reference_id}/indexes"), json={}, timeout=60)
    assert response.status_code == 201, response.text
    index_id = response.json()["id"]

    def built():
        index = session.get(web_a.url(f"/api/indexes/{index_id}"), timeout=30)
        if index.status_code == 404:
            pytest.fail(f"the build failed:\n{workers['builds'].log()[-5000:]}")
        return index.json() if index.json()["ready"] else None

    index = wait_for(built, timeout=900, interval=1, message="the index build", log=workers["builds"].log)
    assert "indexes.build_index[" in workers["builds"].log()
    assert "indexes.build_index[" not in workers["default"].log()
    assert "refs.import_reference[" not in workers["builds"].log()

    # Web B serves the files with the bytes the build stored.
    sizes = {f["name"]: f["size"] for f in index["files"]}
    for name in ("reference.fa.gz", "reference.1.bt2"):
        stored = s3_storage.read(f"references/{reference_id}/{index_id}/{name}")
        response = session.get(web_b.url(f"/api/indexes/{index_id}/files/{name}"), timeout=120)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert response.headers["Content-Disposition"] == f'attachment; filename="{name}"'
        assert int(response.headers["Content-Length"]) == len(stored) == sizes[name]
        assert response.content == stored

    # An analysis file: uploaded through web A by the analysis's runner, read through web B.
    response = session.post(web_a.url("/api/samples"), json={"name": "Grapevine 1"}, timeout=30)
    assert response.status_code == 201, response.text
    sample_id = response.json()["id"]
    response = session.post(
        web_a.url(f"/api/samples/{sample_id}/analyses"), json={"ref_id": reference_id, "workflow": "pathoscope_bowtie"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    analysis = response.json()
    runner = requests.Session()
    token = base64.b64encode(f"job-{analysis['job']['id']}:{analysis['job']['key']}".encode()).decode()
    runner.headers["Authorization"] = f"Basic {token}"
    content = b"@SQ\tSN:" + index_id.encode() + b"\n" + bytes(range(256)) * 1000
    response = runner.post(
        web_a.url(f"/api/analyses/{analysis['id']}/files?name=results.sam"), files={"file": ("results.sam", content)},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    file_id = response.json()["id"]
    response = session.get(web_b.url(f"/api/analyses/{analysis['id']}/files/{file_id}"), timeout=60)
    assert response.status_code == 200 and response.content == content
    assert response.headers["Content-Disposition"] == 'attachment; filename="results.sam"'

    # Nothing persistent on any host's own disk: only scratch (emptied) and logs.
    for name, path in data_dirs.items():
        kept = [p.name for p in path.iterdir() if p.name in PERSISTENT]
        assert kept == [], f"{name} keeps {kept}"
        scratch = path / "tmp"
        leftovers = [p for p in scratch.rglob("*") if p.is_file()] if scratch.exists() else []
        assert leftovers == [], f"{name} left scratch files {leftovers}"
