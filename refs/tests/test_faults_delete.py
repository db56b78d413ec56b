"""Fault: a Celery worker SIGKILLed in the middle of deleting the real 2,084-OTU reference.

The deletion's second step removes OTUs, isolates, sequences, history and the Reference row in
one transaction. A worker killed inside it leaves every row in place (the transaction is
rolled back with the dead connection); a worker brought back on the same queue gets the
unacknowledged task again, restarts the process and finishes the deletion. The process says
so: complete, no error. (Import is covered the same way in test_transfer_worker.py.)
"""

import pytest
from django.db.models import Case, Value, When
from django.db.models.functions import Concat

from history.models import Change
from indexes.models import Index, IndexFile
from indexes.selectors import index_directory
from indexes.tests.real_data import reference_file_load
from refs.models import OTU, Isolate, Reference, Sequence
from virtool_site.models import Process
from virtool_site.testing import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.worker]

#: A worker that takes over the unacknowledged tasks of a dead one within a second or two.
REDELIVER_AT_ONCE = {
    "CELERY_VISIBILITY_TIMEOUT": "1",
    "CELERY_UNACKED_RESTORE_INTERVAL": "1",
    "CELERY_UNACKED_RESTORE_THROTTLE": "1",
}
#: The real reference loaded COPIES times into one reference (names suffixed): 6,252 OTUs and
#: 14,349 sequences, so the deletion's transaction lasts long enough to be killed inside it.
COPIES = 3
REAL_COUNTS = {"otus": 2084 * COPIES, "isolates": 3648 * COPIES, "sequences": 4783 * COPIES, "changes": 2084 * COPIES}


def real_reference_copies(path, *, user, copies: int) -> Reference:
    """One reference holding `copies` loads of the real file, the OTUs of each extra copy
    renamed " (copy N)" (names and abbreviations are unique within a reference)."""
    reference = reference_file_load(path, user=user)
    for number in range(2, copies + 1):
        extra = reference_file_load(path, user=user, name=f"Copy {number}")
        suffix = f" (copy {number})"
        OTU.objects.filter(reference=extra).update(
            reference=reference,
            name=Concat("name", Value(suffix)),
            abbreviation=Case(When(abbreviation="", then=Value("")), default=Concat("abbreviation", Value(suffix))),
        )
        Change.objects.filter(reference_id=extra.id).update(reference_id=reference.id)
        extra.delete()
    return reference


def counts(reference_id: str) -> dict:
    return {
        "otus": OTU.objects.filter(reference_id=reference_id).count(),
        "isolates": Isolate.objects.filter(otu__reference_id=reference_id).count(),
        "sequences": Sequence.objects.filter(otu__reference_id=reference_id).count(),
        "changes": Change.objects.filter(reference_id=reference_id).count(),
    }


def test_a_worker_killed_while_deleting_the_real_reference_leaves_it_whole_and_redelivery_deletes_it(
    celery_worker_factory, client_for, user_factory, real_reference_path
):
    owner = user_factory(username="owner")
    reference = real_reference_copies(real_reference_path, user=owner, copies=COPIES)
    # A ready index with a file on disk: the deletion's first step removes both.
    index = Index.objects.create(reference=reference, version=0, ready=True, user=owner, manifest={})
    directory = index_directory(index)
    directory.mkdir(parents=True)
    (directory / "reference.fa.gz").write_bytes(b"\x1f\x8b" + b"\0" * 1000)
    IndexFile.objects.create(index=index, name="reference.fa.gz", type="fasta", size=1002)
    assert counts(reference.id) == REAL_COUNTS

    first = celery_worker_factory()
    response = client_for(owner).delete(f"/api/refs/{reference.id}")
    assert response.status_code == 202, response.content
    process_id = response.json()["id"]
    # Hidden at once, whatever the worker does.
    assert client_for(owner).get(f"/api/refs/{reference.id}").status_code == 404

    wait_for(
        lambda: Process.objects.get(id=process_id).step == "delete_otus",
        timeout=60, interval=0.01, message="the delete_otus step",
    )
    first.kill()

    process = Process.objects.get(id=process_id)
    assert not process.complete and process.error is None
    assert process.step == "delete_otus"
    # The first step had committed: the index and its files are gone.
    assert not Index.objects.filter(reference_id=reference.id).exists()
    assert not directory.exists()
    # The second step is all or nothing: the killed transaction left every row in place.
    assert counts(reference.id) == REAL_COUNTS, "the kill came after the delete committed: enlarge the data"
    assert Reference.all_objects.get(id=reference.id).deleted

    second = celery_worker_factory(REDELIVER_AT_ONCE, queue=first.queue)

    def finished():
        process = Process.objects.get(id=process_id)
        return process if process.complete else None

    process = wait_for(finished, timeout=120, interval=0.1, message="the redelivered deletion", log=second.log)
    assert process.error is None, process.error
    assert process.progress == 1.0
    assert counts(reference.id) == {"otus": 0, "isolates": 0, "sequences": 0, "changes": 0}
    assert not Reference.all_objects.filter(id=reference.id).exists()
    assert "refs.delete_reference" in second.log()
    body = client_for(owner).get(f"/api/processes/{process_id}").json()
    assert body["complete"] is True and body["error"] is None
