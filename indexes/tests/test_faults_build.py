"""Fault: a Celery worker SIGKILLed while bowtie2-build runs on the real 2,084-OTU reference.

Nothing of the build is visible while it is unfinished (no files recorded, the index not
ready, no OTU marked indexed), and its bowtie2-build dies with it; a worker brought back on the same queue gets the unacknowledged
task again, builds from scratch and finalizes. The job says so: complete, no error, and the
built index aligns reads.
"""

import subprocess
from pathlib import Path

import pytest

from history.models import Change
from indexes.models import Index, IndexFile
from indexes.selectors import index_build_scratch, index_directory
from indexes.tests.real_data import reference_file_load
from refs.models import OTU, Sequence
from virtool_site.models import Job
from virtool_site.testing import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.worker]

#: A worker that takes over the unacknowledged tasks of a dead one within a second or two.
REDELIVER_AT_ONCE = {
    "CELERY_VISIBILITY_TIMEOUT": "1",
    "CELERY_UNACKED_RESTORE_INTERVAL": "1",
    "CELERY_UNACKED_RESTORE_THROTTLE": "1",
}


def builders_of(directory: Path) -> list[int]:
    """Pids of bowtie2-build processes writing into `directory`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if arguments and b"bowtie2-build" in arguments[0] and any(str(directory).encode() in a for a in arguments):
            pids.append(int(entry.name))
    return pids


def aligned_to(index: Index, read: str) -> str:
    result = subprocess.run(
        ["bowtie2", "-x", str(index_directory(index) / "reference"), "-c", read, "--no-hd", "--no-unal", "-p", "1"],
        check=True, capture_output=True, text=True,
    )
    lines = [line for line in result.stdout.splitlines() if line]
    assert len(lines) == 1, result.stdout + result.stderr
    return lines[0].split("\t")[2]


def test_a_worker_killed_during_bowtie2_build_leaves_no_partial_index_and_redelivery_builds_it(
    celery_worker_factory, client_for, user_factory, real_reference_path
):
    user = user_factory(username="builder")
    reference = reference_file_load(real_reference_path, user=user)
    first = celery_worker_factory()
    response = client_for(user).post(f"/api/refs/{reference.id}/indexes")
    assert response.status_code == 201, response.content
    index_id, job_id = response.json()["id"], response.json()["job"]["id"]
    index = Index.objects.get(id=index_id)
    directory = index_directory(index)
    # bowtie2-build writes into the worker's scratch; the finished files are stored afterwards.
    scratch = index_build_scratch(index)

    # The FASTA is written (progress 0.1) and bowtie2-build is running on it.
    wait_for(lambda: Job.objects.get(id=job_id).progress >= 0.1, timeout=60, interval=0.05, message="bowtie2-build")
    wait_for(lambda: builders_of(scratch), timeout=10, interval=0.05, message="the bowtie2-build process")
    first.kill()

    job = Job.objects.get(id=job_id)
    assert job.state == Job.State.RUNNING and job.error is None
    index.refresh_from_db()
    assert not index.ready
    assert not IndexFile.objects.filter(index=index).exists()
    assert not OTU.objects.filter(reference=reference, last_indexed_version__isnull=False).exists()
    # The dead worker's bowtie2-build dies with it (indexes.services.bowtie2_tied_to_worker),
    # before any other worker is there to stop it on redelivery.
    wait_for(lambda: not builders_of(scratch), timeout=10, interval=0.05, message="the orphaned bowtie2-build to stop")

    second = celery_worker_factory(REDELIVER_AT_ONCE, queue=first.queue)

    def finished():
        job = Job.objects.get(id=job_id)
        return job if job.finished else None

    job = wait_for(finished, timeout=120, interval=0.2, message="the redelivered build", log=second.log)
    assert not builders_of(scratch), second.log()[-5000:]
    assert job.state == Job.State.COMPLETE and job.error is None and job.progress == 1.0
    index.refresh_from_db()
    assert index.ready
    files = {f.name: f.size for f in IndexFile.objects.filter(index=index)}
    assert len(files) == 8
    assert files == {path.name: path.stat().st_size for path in directory.iterdir()}
    assert set(OTU.objects.filter(reference=reference).values_list("last_indexed_version", flat=True)) == {0}
    assert not Change.objects.filter(reference_id=reference.id, index__isnull=True).exists()

    # The index is sound: a read cut from a default-isolate sequence aligns back to it.
    sequence = next(
        s for s in Sequence.objects.filter(otu__reference=reference, isolate__default=True).order_by("id")[:200]
        if len(s.sequence) > 400 and set(s.sequence[200:300]) <= set("ACGT")
    )
    assert aligned_to(index, sequence.sequence[200:300]) == sequence.id
