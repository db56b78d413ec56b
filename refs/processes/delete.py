"""Deletion: a reference (already hidden by refs.services.reference_processes.reference_delete)
removed with its indexes and their files, its OTUs, isolates, sequences and history.

Each step is idempotent, so a task re-run after its worker died finishes the job.
"""

from django.db import transaction

from history.models import Change
from indexes.models import Index
from refs.models import OTU, Isolate, Reference, Sequence
from refs.processes.common import TransferError, reference_lock, reference_process_run
from refs.revisions import reference_revision_bump
from virtool_site.processes import Progress
from virtool_site.storage import StorageUnavailable, stored_delete_prefix


def reference_delete_run(*, reference_id: str, process_id: str | None, extra: Progress | None = None) -> None:
    """The delete_reference task: indexes and their files, then OTUs, isolates, sequences and
    history, then the Reference row. Each step is idempotent: a re-run finishes the job."""
    with reference_process_run(process_id, extra=extra) as progress:
        if progress is None:
            return
        reference = Reference.all_objects.filter(id=reference_id).first()
        if reference is not None and not reference.deleted:
            raise TransferError("Reference is not marked for deletion")
        progress.step("delete_indexes")
        with reference_lock(reference_id):
            # The stored index files first: a store that cannot be reached fails the process
            # with its message before any row goes, and a re-run starts from here.
            try:
                stored_delete_prefix(f"references/{reference_id}")
            except StorageUnavailable as error:
                raise TransferError(error.message) from error
            with transaction.atomic():
                reference_revision_bump(reference_ids=reference_id)
                Index.objects.filter(reference_id=reference_id).delete()
            progress.step("delete_otus")
            with transaction.atomic():
                reference_revision_bump(reference_ids=reference_id)
                Change.objects.filter(reference_id=reference_id).delete()
                Sequence.objects.filter(otu__reference_id=reference_id).delete()
                Isolate.objects.filter(otu__reference_id=reference_id).delete()
                OTU.objects.filter(reference_id=reference_id).delete()
                Reference.all_objects.filter(id=reference_id).delete()
