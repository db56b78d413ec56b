"""End to end with a real Redis and a real `celery worker` process: the real 2,084-OTU
reference through the API (upload, import, clone, delete), a worker killed mid-import, and a
gzip bomb refused with the worker's memory bounded."""

import time
from pathlib import Path

import pytest

from history.models import Change
from refs.models import OTU, Isolate, Reference, Sequence
from refs.tests.transfer_factories import file_otu, gzip_bomb, reference_file
from virtool_site.models import Process
from virtool_site.testing import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.worker]

REAL_COUNTS = {"otus": 2084, "isolates": 3648, "sequences": 4783}


@pytest.fixture
def curator(user_factory):
    return user_factory(username="curator", create_ref=True, upload_file=True)


@pytest.fixture
def curator_client(client_for, curator):
    return client_for(curator)


def upload(client, path: Path) -> str:
    with open(path, "rb") as handle:
        response = client.post(
            "/api/uploads?name=reference.json.gz&type=reference", {"file": handle}, format="multipart"
        )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def watch(process_id: str, *, timeout: float, worker) -> tuple[Process, list[tuple]]:
    """Wait for a process to complete; the (step, progress) states seen on the way."""
    seen = []

    def done():
        process = Process.objects.get(id=process_id)
        state = (process.step, round(process.progress, 3), process.complete)
        if not seen or seen[-1] != state:
            seen.append(state)
        return process if process.complete else None

    return wait_for(done, timeout=timeout, interval=0.05, message=f"process {process_id}", log=worker.log), seen


def counts(reference_id: str) -> dict:
    return {
        "otus": OTU.objects.filter(reference_id=reference_id).count(),
        "isolates": Isolate.objects.filter(otu__reference_id=reference_id).count(),
        "sequences": Sequence.objects.filter(otu__reference_id=reference_id).count(),
    }


def test_real_reference_imports_clones_and_deletes_through_the_api(
    celery_worker, curator_client, real_reference_path
):
    upload_id = upload(curator_client, real_reference_path)
    response = curator_client.post(
        "/api/refs", {"name": "Plant Viruses", "data_type": "genome", "import_from": upload_id}, format="json"
    )
    assert response.status_code == 201, response.json()
    reference_id = response.json()["id"]
    process, seen = watch(response.json()["process"]["id"], timeout=600, worker=celery_worker)
    assert process.error is None, process.error
    assert process.progress == 1.0
    assert counts(reference_id) == REAL_COUNTS
    changes = Change.objects.filter(reference_id=reference_id)
    assert changes.count() == 2084
    assert set(changes.values_list("method_name", flat=True)) == {"import"}
    assert set(changes.values_list("otu_id", flat=True)) == set(
        OTU.objects.filter(reference_id=reference_id).values_list("id", flat=True)
    )
    # Progress was visible while the OTUs were being written in their one transaction.
    assert any(step in ("write_otus", "write_history") and not complete for step, _, complete in seen), seen

    body = curator_client.get(f"/api/refs/{reference_id}").json()
    assert body["imported_from"]["id"] == upload_id

    response = curator_client.post(
        "/api/refs", {"name": "Copy", "data_type": "genome", "clone_from": reference_id}, format="json"
    )
    assert response.status_code == 201
    clone_id = response.json()["id"]
    process, _ = watch(response.json()["process"]["id"], timeout=600, worker=celery_worker)
    assert process.error is None, process.error
    assert counts(clone_id) == REAL_COUNTS
    assert Change.objects.filter(reference_id=clone_id, method_name="clone").count() == 2084

    started = time.monotonic()
    response = curator_client.delete(f"/api/refs/{reference_id}")
    assert response.status_code == 202
    assert curator_client.get(f"/api/refs/{reference_id}").status_code == 404
    process, _ = watch(response.json()["id"], timeout=300, worker=celery_worker)
    assert process.error is None, process.error
    print(f"deletion of the real reference: {time.monotonic() - started:.2f} s")
    assert not Reference.all_objects.filter(id=reference_id).exists()
    assert counts(reference_id) == {"otus": 0, "isolates": 0, "sequences": 0}
    assert not Change.objects.filter(reference_id=reference_id).exists()
    # The clone is untouched.
    assert counts(clone_id) == REAL_COUNTS


def test_a_worker_killed_while_writing_leaves_nothing_and_the_import_completes_on_redelivery(
    celery_worker_factory, curator_client, tmp_path
):
    otus = [file_otu(isolates=2, sequences=2, length=6000) for _ in range(900)]
    path = reference_file(tmp_path / "big.json.gz", otus)
    first = celery_worker_factory()
    upload_id = upload(curator_client, path)
    response = curator_client.post(
        "/api/refs", {"name": "Big", "data_type": "genome", "import_from": upload_id}, format="json"
    )
    reference_id, process_id = response.json()["id"], response.json()["process"]["id"]
    wait_for(
        lambda: Process.objects.get(id=process_id).step in ("write_otus", "write_history"),
        timeout=120, interval=0.02, message="the write step",
    )
    first.kill()
    process = Process.objects.get(id=process_id)
    assert not process.complete
    assert counts(reference_id)["otus"] == 0
    assert not Change.objects.filter(reference_id=reference_id).exists()

    # A worker comes back on the same queue; the unacknowledged task is delivered again
    # (visibility timeout 1 s) and starts over.
    second = celery_worker_factory({"CELERY_VISIBILITY_TIMEOUT": "1"}, queue=first.queue)
    process, seen = watch(process_id, timeout=300, worker=second)
    assert process.error is None, process.error
    assert counts(reference_id) == {"otus": 900, "isolates": 1800, "sequences": 3600}
    assert Change.objects.filter(reference_id=reference_id).count() == 900
    assert seen[0][0] in ("write_otus", "write_history", "load_file", "validate")


def test_a_gzip_bomb_is_refused_by_the_worker_with_bounded_memory(
    celery_worker_factory, curator_client, tmp_path
):
    limit = 64 * 1024 * 1024
    worker = celery_worker_factory({"GZIP_MAX_DECOMPRESSED_BYTES": str(limit)})
    path = gzip_bomb(tmp_path / "bomb.json.gz", decompressed_bytes=4 * limit)
    assert path.stat().st_size < 1024 * 1024
    upload_id = upload(curator_client, path)
    response = curator_client.post(
        "/api/refs", {"name": "Bomb", "data_type": "genome", "import_from": upload_id}, format="json"
    )
    process, _ = watch(response.json()["process"]["id"], timeout=120, worker=worker)
    assert process.error["errors"] == [
        {"id": "file_too_large", "message": f"Decompressed content exceeds the limit of {limit} bytes"}
    ]
    assert counts(response.json()["id"])["otus"] == 0
    status = Path(f"/proc/{worker.process.pid}/status").read_text()
    peak_kb = int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1])
    assert peak_kb < 300 * 1024, f"worker peak RSS {peak_kb / 1024:.0f} MB"
