"""What every reference process shares: its steps, its error, the run it works in (and the
run of one that fills a new reference, which that reference does not outlive if it fails),
the per-reference lock, and small lookups."""

from contextlib import contextmanager

from history.models import Change
from indexes.models import Index
from refs.imports import ReferenceFileInvalid, import_time_limit
from refs.models import OTU, Reference
from refs.revisions import reference_revision_bump
from virtool_site.locks import advisory_lock
from virtool_site.models import Process, Upload, User
from virtool_site.processes import ProcessError, Progress, process_run

IMPORT_STEPS = ["load_file", "validate", "write_otus", "write_history"]
CLONE_STEPS = ["copy_otus", "write_history"]
REMOTE_STEPS = ["download", "load_file", "validate", "write_otus", "write_history"]
UPDATE_STEPS = ["download", "load_file", "validate", "remove_otus", "update_otus", "write_history"]
DELETE_STEPS = ["delete_indexes", "delete_otus"]

#: The lock namespace; the name predates refs.processes and is kept so that workers of either
#: version exclude each other during a rolling deploy.
LOCK_NAMESPACE = "refs.transfer"


class TransferError(ProcessError):
    """A reference process cannot do its work (a message for the process error)."""

    error_id = "transfer_error"


@contextmanager
def reference_process_run(process_id: str | None, *, extra: Progress | None = None, on_fail=None):
    """`virtool_site.processes.process_run` for reference processes: an invalid reference
    file ends the process with the file's report; without a process, failures are raised
    as TransferError. Every pass over a reference file inside shares one import time limit."""
    with (
        process_run(process_id, extra=extra, error_class=TransferError, on_fail=on_fail) as progress,
        import_time_limit(),
    ):
        try:
            yield progress
        except ReferenceFileInvalid as error:
            raise TransferError(str(error), report=error.report) from error


@contextmanager
def reference_fill_run(process_id: str | None, *, reference_id: str, extra: Progress | None = None):
    """`reference_process_run` for a process that fills the new reference made for it (import,
    clone, remote install).

    When the process fails (an invalid or unreadable file, the time limit, storage, any
    error), the reference goes in the transaction that records the failure
    (`reference_unfilled_remove`): the client that was answered 201 then gets 404 for it,
    and finds why in the process. Only a failure removes it: a worker killed mid-task records
    nothing, and the redelivered task fills the reference. A failed task delivered again
    (its worker died before acknowledging it) leaves its failure as it is.
    """
    if process_id and _failed_and_removed(process_id, reference_id):
        yield None
        return
    with reference_process_run(
        process_id, extra=extra, on_fail=lambda report: reference_unfilled_remove(reference_id=reference_id)
    ) as progress:
        yield progress


def _failed_and_removed(process_id: str, reference_id: str) -> bool:
    process = Process.objects.filter(id=process_id).first()
    return (
        process is not None
        and process.complete
        and process.error is not None
        and not Reference.all_objects.filter(id=reference_id).exists()
    )


def reference_unfilled_remove(*, reference_id: str) -> bool:
    """Remove a new reference whose filling failed, with its rights, in the caller's
    transaction; and release its upload, unless another reference is importing it. Whether
    it was removed.

    Kept: a reference being deleted (its deletion process removes it), and one that holds
    anything (OTUs, history or indexes: committed by an earlier delivery of the same task,
    or a curator's work since).
    """
    reference_revision_bump(reference_ids=reference_id)  # first; it also locks the row
    reference = Reference.all_objects.filter(id=reference_id).first()
    if reference is None or reference.deleted:
        return False
    if (
        reference_written(reference_id)
        or Change.objects.filter(reference_id=reference_id).exists()
        or Index.objects.filter(reference_id=reference_id).exists()
    ):
        return False
    Reference.all_objects.filter(id=reference_id).delete()
    upload_id = (reference.imported_from or {}).get("id")
    if isinstance(upload_id, str) and not Reference.all_objects.filter(imported_from__id=upload_id).exists():
        Upload.objects.filter(id=upload_id).update(reserved=False)
    return True


def reference_lock(reference_id: str):
    """Serialises the bulk writers and the deletion of one reference (see virtool_site.locks)."""
    return advisory_lock(LOCK_NAMESPACE, reference_id)


def process_user(user_id) -> User | None:
    """The user a task acts for (None when unknown or gone)."""
    return User.objects.filter(pk=user_id).first() if user_id is not None else None


def reference_written(reference_id: str) -> bool:
    """Whether the reference has OTUs: an earlier delivery of the same task committed them."""
    return OTU.objects.filter(reference_id=reference_id).exists()


def process_context(user, reference_id: str, **extra) -> dict:
    """A reference process's `context`."""
    return {"ref_id": reference_id, "user_id": user.username if user else None, **extra}
