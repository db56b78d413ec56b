"""A real index build on a real Celery worker, checked by aligning reads with bowtie2."""

import subprocess

import pytest

from indexes.models import Index
from indexes.selectors import index_directory
from indexes.tests.real_data import reference_file_load
from refs.models import OTU, Sequence
from virtool_site.models import Job
from virtool_site.testing import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

COMPLEMENT = str.maketrans("ACGTacgt", "TGCAtgca")


def align(index: Index, read: str) -> list[str]:
    """The SAM fields of the read's alignment against the built index."""
    result = subprocess.run(
        ["bowtie2", "-x", str(index_directory(index) / "reference"), "-c", read, "--no-hd", "--no-unal", "-p", "1"],
        check=True,
        capture_output=True,
        text=True,
    )
    lines = [line for line in result.stdout.splitlines() if line]
    assert len(lines) == 1, result.stdout + result.stderr
    return lines[0].split("\t")


def wait_until_finished(index_id: str, job_id: str) -> None:
    def finished():
        if Index.objects.filter(id=index_id, ready=True).exists():
            return True
        job = Job.objects.get(id=job_id)
        if job.state == "error":
            pytest.fail(f"build failed: {job.error}")
        return False

    wait_for(finished, timeout=180, message="the index build")


def test_built_index_aligns_a_read_cut_from_one_of_its_sequences(celery_worker, client_for, user, real_reference_path):
    reference = reference_file_load(real_reference_path, user=user, limit=12)
    assert OTU.objects.filter(reference=reference, verified=False).count() == 0
    response = client_for(user).post(f"/api/refs/{reference.id}/indexes")
    assert response.status_code == 201, response.json()
    body = response.json()
    wait_until_finished(body["id"], body["job"]["id"])

    index = Index.objects.get(id=body["id"])
    assert Job.objects.get(id=body["job"]["id"]).state == "complete"
    assert index.files.count() == 8
    sequence = (
        Sequence.objects.filter(otu__reference=reference, isolate__default=True)
        .order_by("id")
        .exclude(sequence="")
        .last()
    )
    assert len(sequence.sequence) > 400
    read = sequence.sequence[200:300].upper()
    assert set(read) <= set("ACGT"), "pick a read without ambiguous bases"

    fields = align(index, read)
    assert fields[2] == sequence.id
    assert int(fields[3]) == 201  # SAM positions are 1-based
    assert int(fields[1]) & 16 == 0

    reverse = align(index, read.translate(COMPLEMENT)[::-1])
    assert reverse[2] == sequence.id
    assert int(reverse[3]) == 201
    assert int(reverse[1]) & 16 == 16

    for otu in OTU.objects.filter(reference=reference):
        assert otu.last_indexed_version == 0
    detail = client_for(user).get(f"/api/indexes/{index.id}").json()
    assert detail["ready"] is True and detail["change_count"] == 12


def test_a_failed_build_on_the_worker_keeps_the_error_on_the_job(celery_worker_factory, client_for, user, real_reference_path):
    celery_worker_factory({"BOWTIE2_BUILD_PATH": "/nonexistent/bowtie2-build"})
    reference = reference_file_load(real_reference_path, user=user, limit=2)
    body = client_for(user).post(f"/api/refs/{reference.id}/indexes").json()
    wait_for(lambda: Job.objects.get(id=body["job"]["id"]).state == "error", timeout=120, message="the failed build")
    assert not Index.objects.filter(id=body["id"]).exists()
    assert "Could not run bowtie2-build" in Job.objects.get(id=body["job"]["id"]).error["message"]
    # Its changes are unbuilt again: the reference can be built once more.
    assert client_for(user).get(f"/api/refs/{reference.id}/indexes").json()["change_count"] == 2
