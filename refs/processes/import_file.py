"""Import: a reference file written as the OTUs of a new, empty reference.

`reference_file_import` validates the whole file before writing anything, then writes every
OTU, isolate, sequence and Change in one transaction (refs.processes.writer). It serves the
import of an upload (`reference_import_run`, the import_reference task), of a local file
(refs.services.reference_processes.reference_import_path) and of a downloaded release
(refs.processes.remote).
"""

from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from refs.imports import otu_file_normalise, reference_file_check, reference_file_otus, reference_file_validate
from refs.models import OTU, Reference
from refs.processes.common import (
    TransferError,
    process_user,
    reference_fill_run,
    reference_lock,
    reference_written,
)
from refs.processes.history_sql import CreationHistory
from refs.processes.rows import new_id, otu_build
from refs.processes.writer import BulkWriter
from refs.revisions import reference_revision_bump
from virtool_site.models import Upload
from virtool_site.processes import Progress
from virtool_site.services import upload_key
from virtool_site.storage import StorageUnavailable, stored_local_copy


def reference_file_import(
    *,
    reference_id: str,
    path,
    user,
    progress: Progress,
    method: str = "import",
    on_written: Callable[[Reference], None] | None = None,
) -> dict | None:
    """Validate a reference file, then write all its OTUs and their Changes in one transaction.

    Returns counts, or None when the reference is gone. Raises ReferenceFileInvalid, having
    written nothing. A reference that already has OTUs was written by an earlier delivery of
    the same task and is left as it is.
    """
    remote = method == "remote"
    if reference_written(reference_id):
        # Committed by an earlier delivery: the file is not read again (it may be gone now).
        return {"otus": OTU.objects.filter(reference_id=reference_id).count(), "skipped": True}
    progress.step("load_file")
    decompressed = reference_file_check(path, progress=progress.fraction)
    progress.step("validate")
    summary = reference_file_validate(path, progress=progress.fraction, checked=True)
    summary.decompressed_bytes = decompressed
    created_at = timezone.now()
    with reference_lock(reference_id), transaction.atomic():
        reference = Reference.all_objects.filter(id=reference_id).first()
        if reference is None or reference.deleted:
            return None
        reference_revision_bump(reference_ids=reference_id)
        if reference_written(reference_id):
            return {"otus": OTU.objects.filter(reference_id=reference_id).count(), "skipped": True}
        creation = CreationHistory(
            method_name=method,
            verb="Installed" if remote else "Imported",
            origin=(reference.remotes_from or {}).get("slug") if remote else None,
            user=user,
            created_at=created_at,
        )
        progress.step("write_otus")
        writer = BulkWriter(creation=creation)
        try:
            for position, raw in enumerate(reference_file_otus(path)):
                document, rows = otu_build(
                    otu_file_normalise(raw), otu_id=new_id(), reference_id=reference_id, imported=True,
                    remote=remote, created_at=created_at,
                )
                writer.add_created(document, rows)
                if position % 50 == 0:
                    progress.fraction(position / max(summary.otu_count, 1))
            writer.flush()
            progress.step("write_history")
            writer.write_history(progress.fraction)
        finally:
            writer.close()
        fields = {}
        if isinstance(summary.header.get("data_type"), str) and summary.header["data_type"]:
            fields["data_type"] = summary.header["data_type"][:32]
        if isinstance(summary.header.get("organism"), str) and summary.header["organism"] and not reference.organism:
            fields["organism"] = summary.header["organism"][:255]
        if fields:
            Reference.all_objects.filter(id=reference_id).update(**fields)
        if on_written:
            on_written(reference)
    return {**writer.counts, "changes": writer.change_count}


def reference_import_run(*, reference_id: str, process_id: str | None, upload_id: str, user_id=None) -> None:
    """The import_reference task: import an uploaded file into its new, empty reference (which
    goes if the import fails: refs.processes.common.reference_fill_run).

    The upload is read from storage: on local storage the stored file itself, otherwise a copy
    in this worker's scratch, removed afterwards (virtool_site.storage.stored_local_copy).
    """
    with reference_fill_run(process_id, reference_id=reference_id) as progress:
        if progress is None:
            return
        upload = Upload.objects.filter(id=upload_id).first()
        if upload is None:
            raise TransferError("File not found")
        try:
            with stored_local_copy(upload_key(upload)) as path:
                reference_file_import(
                    reference_id=reference_id, path=path, user=process_user(user_id), progress=progress
                )
        except FileNotFoundError:
            raise TransferError("File not found") from None
        except StorageUnavailable as error:
            raise TransferError(error.message) from error
