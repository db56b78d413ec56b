"""Starting reference processes: the services that create what a process works on and hand
the work to its task.

Import, clone and remote install create the Reference and its Process and queue the task by
name (virtool_site.tasks_queue) when the transaction commits; what can be checked cheaply is
checked first (an import's upload: it exists, is a reference file, is gzip-compressed), answering
400 and creating nothing, and a task that fails later removes the reference it was filling
(refs.processes.common.reference_fill_run). Deletion hides the reference
at once and queues the removal of its data; an update queues the installation of the newer
release found by `reference_release_check`. `reference_import_path` creates a reference from
a local file and imports it synchronously (commands, the demo loader). The work itself is in
refs.processes.
"""

from pathlib import Path

from django.db import transaction

from refs.models import Reference
from refs.permissions import references_visible
from refs.processes.common import (
    CLONE_STEPS,
    DELETE_STEPS,
    IMPORT_STEPS,
    REMOTE_STEPS,
    UPDATE_STEPS,
    TransferError,
    process_context,
    reference_fill_run,
    reference_unfilled_remove,
)
from refs.processes.import_file import reference_file_import
from refs.remotes import (
    RemoteError,
    RemoteUnavailable,
    release_latest,
    release_retrieved,
    slug_valid,
    update_document,
)
from refs.revisions import reference_revision_bump
from refs.services.references import reference_create
from virtool_site.errors import BadRequest, Conflict, InvalidInput, NotFound, ServiceUnavailable
from virtool_site.ids import random_id
from virtool_site.models import Process, Upload
from virtool_site.processes import Progress
from virtool_site.services import process_create, upload_key
from virtool_site.storage import stored_head
from virtool_site.tasks_queue import task_enqueue


@transaction.atomic
def reference_new(
    *, user, process_type: str, steps: list[str], context: dict, name, description, organism, data_type, public,
    **fields,
) -> Reference:
    """A new reference and the Process that will fill it, written together (blank settings
    get their defaults; `context` adds to the process's context)."""
    reference_id = random_id()
    process = process_create(
        process_type=process_type, steps=steps, user=user, context=process_context(user, reference_id, **context)
    )
    return reference_create(
        user=user,
        name=name,
        description=description or "",
        organism=organism or "",
        data_type=data_type or "genome",
        public=bool(public),
        id=reference_id,
        process=process,
        **fields,
    )


def _queue(task_name: str, *args, fills: bool = False):
    # 503 now when the broker is down (the transaction rolls back); published on commit.
    # Every task here takes (reference_id, process_id, ...): a late publish failure fails it,
    # and the new reference a filling task was made for goes, as when the task itself fails.
    on_error = None
    if fills:
        def on_error(error, reference_id=args[0]):
            with transaction.atomic():
                reference_unfilled_remove(reference_id=reference_id)
    task_enqueue(task_name, *args, process_id=args[1], on_error=on_error)


def reference_import_path(
    *,
    user,
    path,
    name: str,
    description: str = "",
    organism: str = "",
    data_type: str = "genome",
    public: bool = False,
    progress: Progress | None = None,
) -> Reference:
    """Create a reference from a local file and import it synchronously (commands, demo).

    The same process and writer as the API path; raises TransferError when it fails (the
    reference is removed and its process keeps the error, as after a failed API import).
    """
    path = Path(path)
    if not path.is_file():
        raise TransferError(f"File not found: {path}")
    reference = reference_new(
        user=user, process_type="import_reference", steps=IMPORT_STEPS, context={"path": path.name},
        name=name, description=description, organism=organism, data_type=data_type, public=public,
        imported_from={"id": path.name, "name": path.name, "user": {"id": user.username}},
    )
    process = reference.process
    with reference_fill_run(process.id, reference_id=reference.id, extra=progress) as run:
        if run is not None:
            reference_file_import(reference_id=reference.id, path=path, user=user, progress=run)
    process.refresh_from_db()
    if process.error:
        raise TransferError(process.error.get("message", "Import failed"))
    return Reference.all_objects.get(id=reference.id)


#: 400 messages of an import whose upload cannot be a reference file (documented in the API).
UPLOAD_NOT_FOUND = "File not found"
UPLOAD_NOT_REFERENCE = "File is not a reference file"
UPLOAD_NOT_GZIPPED = "File is not gzip-compressed"
GZIP_MAGIC = b"\x1f\x8b"


def _reference_upload(upload_id: str, *, lock: bool = False) -> Upload:
    """The ready reference upload `upload_id`, or BadRequest."""
    uploads = Upload.objects.select_for_update() if lock else Upload.objects
    upload = uploads.filter(id=upload_id or "").first()
    if upload is None or not upload.ready:
        raise BadRequest(UPLOAD_NOT_FOUND)
    if upload.type != "reference":
        raise BadRequest(UPLOAD_NOT_REFERENCE)
    return upload


def reference_upload_check(*, upload_id: str) -> Upload:
    """The checks an import makes before creating anything, cheap enough for the request:
    the upload exists, is a reference upload and its stored file starts as gzip does (read
    through the storage API: an unreachable store is a 503). What the file holds (gzip
    intact, JSON, shape, content) is for the import task to find."""
    upload = _reference_upload(upload_id)
    try:
        head = stored_head(upload_key(upload), len(GZIP_MAGIC))
    except FileNotFoundError:
        raise BadRequest(UPLOAD_NOT_FOUND) from None
    if head != GZIP_MAGIC:
        raise BadRequest(UPLOAD_NOT_GZIPPED)
    return upload


def reference_create_import(
    *, user, upload_id: str, name: str, description: str = "", organism: str = "", data_type: str = "genome",
    public: bool = False,
) -> Reference:
    """A new reference, filled from an uploaded reference file by the import_reference task
    (an upload that fails `reference_upload_check` is a 400 and nothing is created)."""
    reference_upload_check(upload_id=upload_id)
    with transaction.atomic():
        upload = _reference_upload(upload_id, lock=True)  # not removed meanwhile
        upload.reserved = True
        upload.save(update_fields=["reserved"])
        reference = reference_new(
            user=user, process_type="import_reference", steps=IMPORT_STEPS, context={"upload_id": upload.id},
            name=name, description=description, organism=organism, data_type=data_type, public=public,
            imported_from={"id": upload.id, "name": upload.name, "user": {"id": user.username}},
        )
        _queue("refs.import_reference", reference.id, reference.process_id, upload.id, user.pk, fills=True)
    return reference


def reference_create_clone(
    *, user, source_id: str, name: str, description: str = "", organism: str = "", data_type: str = "genome",
    public: bool = False,
) -> Reference:
    """A new reference with a copy of every OTU of a reference the user can see."""
    source = references_visible(user).filter(id=source_id or "").first()
    if source is None:
        raise BadRequest("Source reference does not exist")
    with transaction.atomic():
        reference = reference_new(
            user=user,
            process_type="clone_reference",
            steps=CLONE_STEPS,
            context={"source_id": source.id},
            name=name or f"Clone of {source.name}",
            description=description,
            organism=organism or source.organism,
            # The copied OTUs are of the source's kind, whatever the request says.
            data_type=source.data_type,
            public=public,
            cloned_from={"id": source.id, "name": source.name},
            restrict_source_types=source.restrict_source_types,
            source_types=list(source.source_types or []),
        )
        _queue("refs.clone_reference", reference.id, reference.process_id, source.id, user.pk, fills=True)
    return reference


def reference_create_remote(
    *, user, slug: str, name: str, description: str = "", organism: str = "", data_type: str = "genome",
    public: bool = False,
) -> Reference:
    """A new reference installed from the latest release of a GitHub repository."""
    if not slug_valid(slug):
        raise InvalidInput(
            "Invalid input",
            errors={"remote_from": ["Must be a GitHub repository such as virtool/ref-plant-viruses."]},
        )
    try:
        release = release_latest(slug)
    except RemoteUnavailable as error:
        raise ServiceUnavailable("Could not reach GitHub") from error
    except RemoteError as error:
        raise BadRequest(str(error)) from error
    with transaction.atomic():
        reference = reference_new(
            user=user,
            process_type="remote_reference",
            steps=REMOTE_STEPS,
            context={"slug": slug, "release": release},
            name=name or slug,
            description=description,
            organism=organism,
            data_type=data_type,
            public=public,
            remotes_from={"slug": slug, "errors": []},
            release=release_retrieved(release, installed=None),
            installed=None,
            updates=[update_document(release, user=user)],
        )
        _queue("refs.remote_reference", reference.id, reference.process_id, user.pk, fills=True)
    return reference


def reference_delete(*, user, reference: Reference, queue: bool = True) -> Process:
    """Hide the reference at once and queue the deletion of everything in it (`queue=False`:
    the caller runs `reference_delete_run` itself).

    Rights are the caller's business (the `remove` right).
    """
    with transaction.atomic():
        process = process_create(
            process_type="delete_reference", steps=DELETE_STEPS, user=user, context=process_context(user, reference.id)
        )
        reference_revision_bump(reference_ids=reference.id)
        if not Reference.objects.filter(id=reference.id).update(deleted=True, process=process):
            raise NotFound()
        if queue:
            _queue("refs.delete_reference", reference.id, process.id)
    reference.deleted = True
    return process


def _process_running(reference: Reference) -> bool:
    if reference.process_id is None:
        return False
    return Process.objects.filter(id=reference.process_id, complete=False).exists()


def reference_release_check(*, reference: Reference) -> dict:
    """Ask GitHub for the latest release; store it with `newer` and return it.

    When GitHub cannot be reached, the error is kept in `remotes_from.errors` and the stored
    release is returned.
    """
    if not reference.remotes_from:
        raise BadRequest("Not a remote reference")
    stored = reference.release or {}
    remotes_from = dict(reference.remotes_from)
    try:
        release = release_latest(remotes_from.get("slug", ""), etag=stored.get("etag"))
        remotes_from["errors"] = []
    except RemoteError as error:
        release = None
        remotes_from["errors"] = [str(error)]
    if release is None:
        release = {k: v for k, v in stored.items() if k not in ("newer", "retrieved_at")}
    release = release_retrieved(release, installed=reference.installed) if release else None
    with transaction.atomic():
        reference_revision_bump(reference_ids=reference.id)
        Reference.all_objects.filter(id=reference.id).update(release=release, remotes_from=remotes_from)
    reference.release, reference.remotes_from = release, remotes_from
    return release or {}


def reference_update_remote(*, user, reference: Reference) -> tuple[dict, Process]:
    """Queue the installation of the stored newer release: the new `updates` entry and the
    process. The caller checks the `modify` right."""
    if not reference.remotes_from:
        raise BadRequest("Not a remote reference")
    with transaction.atomic():
        reference_revision_bump(reference_ids=reference.id)  # also locks the row
        reference = Reference.objects.filter(id=reference.id).first()
        if reference is None:
            raise NotFound()
        release = reference.release
        if not release or not release.get("download_url"):
            raise BadRequest("Target release does not exist")
        if _process_running(reference):
            raise Conflict("A process is already running on this reference")
        if (reference.installed or {}).get("id") == release.get("id"):
            raise Conflict("Latest release is already installed")
        release = {k: v for k, v in release.items() if k not in ("newer", "retrieved_at")}
        process = process_create(
            process_type="update_remote_reference", steps=UPDATE_STEPS, user=user,
            context=process_context(user, reference.id, release=release),
        )
        update = update_document(release, user=user)
        updates = [u for u in reference.updates or [] if u.get("id") != release.get("id")] + [update]
        Reference.objects.filter(id=reference.id).update(updates=updates, process=process)
        _queue("refs.update_remote_reference", reference.id, process.id, user.pk)
    return update, process
