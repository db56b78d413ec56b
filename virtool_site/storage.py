"""Persistent files, through Django's storage API: the one place the service touches them.

Every persistent file (uploads, index files, analysis files, the local BLAST database) is an
object of `storages["default"]` under a key the services choose (`uploads/{id}`,
`references/{ref_id}/{index_id}/{name}`, `analyses/{analysis_id}/{name_on_disk}`, `blast/...`).
The embedded default is `LocalDataStorage`, files under DATA_DIR in that same layout;
setting AWS_STORAGE_BUCKET_NAME selects `S3DataStorage` (django-storages, boto3). Hosts then
share nothing but PostgreSQL, Redis and the bucket: DATA_DIR is scratch (`scratch_path`).

Rules the services follow with these functions:

- An object is written before the row that names it commits; when the row's transaction
  fails the service deletes the object (`stored_delete_quietly`). An object is deleted after
  the transaction deleting its row commits (`stored_delete_on_commit`), so a rollback keeps
  both. What a crash leaves between the two `storage_orphans_remove`
  (virtool_site.storage_sweep) removes later.
- A store that cannot be reached, or refuses us, raises `StorageUnavailable` (a 503
  ServiceUnavailable, "Storage unavailable"): requests answer it and change nothing; tasks
  end failed with that message. Only this module translates backend errors.
- Downloads are `stored_response`: streamed with the same status, headers and bytes whatever
  the backend, or, with STORAGE_DOWNLOAD_REDIRECT on S3, a 302 to a short-lived presigned URL.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.files.storage import storages
from django.http import FileResponse, HttpResponseRedirect

from virtool_site.errors import ApplicationError, NotFound, ServiceUnavailable

logger = logging.getLogger(__name__)

STORAGE_UNAVAILABLE = "Storage unavailable"
OCTET_STREAM = "application/octet-stream"


class StorageUnavailable(ServiceUnavailable):
    """The object store cannot be used now; `detail` says why (for logs and job errors)."""

    default_message = STORAGE_UNAVAILABLE

    def __init__(self, message: str | None = None, *, detail: str = ""):
        super().__init__(message)
        self.detail = detail


def file_storage():
    """The storage backend of persistent files (settings.STORAGES["default"])."""
    return storages["default"]


@contextmanager
def storage_errors():
    """Turn the backend's 'cannot reach the store' errors into StorageUnavailable and its
    'no such object' errors into FileNotFoundError; anything else passes unchanged."""
    try:
        yield
    except (ApplicationError, FileNotFoundError):
        raise
    except Exception as error:
        translate = getattr(file_storage(), "error_translate", None)
        translated = translate(error) if translate else None
        if translated is None:
            raise
        if isinstance(translated, StorageUnavailable):
            logger.warning("storage unavailable: %s", translated.detail)
        raise translated from error


def scratch_path(*parts: str) -> Path:
    """A directory for work files under DATA_DIR/tmp (created): never shared, never kept."""
    from virtool_site.files import data_path

    path = data_path("tmp", *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


# Writes ------------------------------------------------------------------------------------


def stored_save(name: str, content) -> int:
    """Store a file object (an uploaded file: moved when spooled to disk locally, multipart
    from that spool to S3) under `name`, replacing what was there; its size."""
    from django.core.files import File

    if not hasattr(content, "chunks"):
        content = File(content, name=name.rsplit("/", 1)[-1])
    with storage_errors():
        saved = file_storage().save(name, content)
    if saved != name:  # an overwriting backend keeps the key it was given
        raise RuntimeError(f"storage kept {name} as {saved}")
    return content.size


def stored_save_path(name: str, path: Path) -> int:
    """Store a local scratch file under `name` (moved locally, uploaded to S3); its size.
    The scratch file is gone afterwards."""
    with storage_errors():
        return file_storage().save_path(name, Path(path))


def stored_delete(name: str) -> None:
    with storage_errors():
        file_storage().delete(name)


def stored_delete_prefix(prefix: str) -> None:
    """Delete every object under `prefix/`."""
    with storage_errors():
        file_storage().delete_prefix(prefix)


def stored_delete_quietly(names: list[str] = (), prefixes: list[str] = ()) -> None:
    """Best-effort deletes (after a commit, or undoing a failed write): a failure is logged
    and the objects are left for `storage_orphans_remove`."""
    for name in names:
        try:
            stored_delete(name)
        except Exception as error:  # noqa: BLE001 - the sweep removes what is left
            logger.warning("could not delete stored %s: %s", name, error)
    for prefix in prefixes:
        try:
            stored_delete_prefix(prefix)
        except Exception as error:  # noqa: BLE001 - the sweep removes what is left
            logger.warning("could not delete stored %s/: %s", prefix, error)


def stored_delete_on_commit(*, names: list[str] = (), prefixes: list[str] = (), check: bool = False) -> None:
    """Delete objects once the current transaction commits (best effort, see above), so a
    rollback keeps them with their rows. With `check`, a store that cannot be reached raises
    StorageUnavailable now (a request answers 503 and its transaction changes nothing)."""
    from django.db import transaction

    if check:
        storage_check()
    names, prefixes = list(names), list(prefixes)
    transaction.on_commit(lambda: stored_delete_quietly(names, prefixes))


# Reads -------------------------------------------------------------------------------------


def stored_exists(name: str) -> bool:
    with storage_errors():
        return file_storage().exists(name)


def stored_open(name: str):
    """(binary stream, size) of a stored file, read as it is consumed; FileNotFoundError when
    there is none."""
    with storage_errors():
        return file_storage().open_stream(name)


def stored_head(name: str, size: int) -> bytes:
    """The first `size` bytes of a stored file (fewer when it is shorter), e.g. to tell its
    format in a request; FileNotFoundError when there is none."""
    stream, _ = stored_open(name)
    try:
        with storage_errors():
            return stream.read(size)
    finally:
        stream.close()


@contextmanager
def stored_local_copy(name: str) -> Iterator[Path]:
    """A local path holding the stored file for the duration of the block: the file itself
    on local storage, a scratch download (removed after) on S3."""
    # The block runs inside the translation too; it is the caller's reading of a local file,
    # which raises no backend errors of its own.
    with storage_errors(), file_storage().local_copy(name, scratch=scratch_path("objects")) as path:
        yield path


def stored_directory(prefix: str, *, cache: Path) -> Path:
    """A local directory holding every stored file under `prefix/` (read-only use).

    Local storage: the stored directory itself. Otherwise the files are fetched once into
    `cache` (a scratch directory named after an immutable prefix, e.g. a BLAST database's),
    through a temporary sibling renamed into place, so concurrent fetches on one host never
    see half a directory. FileNotFoundError when nothing is stored there.
    """
    import shutil

    from virtool_site.ids import random_id

    storage = file_storage()
    with storage_errors():
        local = storage.local_directory(prefix)
        if local is not None:
            return local
        if cache.is_dir():
            return cache
        partial = cache.with_name(f".{cache.name}.{random_id()}")
        partial.mkdir(parents=True)
        try:
            start = prefix.rstrip("/") + "/"
            fetched = 0
            for key, _ in storage.objects(prefix):
                storage.download_to(key, partial / key[len(start) :])
                fetched += 1
            if not fetched:
                raise FileNotFoundError(prefix)
            try:
                partial.rename(cache)
            except OSError:
                if not cache.is_dir():  # another fetch on this host won the rename: use it
                    raise
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return cache


def stored_objects(prefix: str) -> Iterator[tuple[str, datetime]]:
    """(key, last modified) of every stored file under `prefix/`."""
    with storage_errors():
        yield from file_storage().objects(prefix)


def storage_check() -> None:
    """Raise StorageUnavailable unless the store answers (health checks)."""
    with storage_errors():
        file_storage().check()


# Downloads ---------------------------------------------------------------------------------

#: Block size when streaming a stored object to a client (Django's default of 4 KiB costs a
#: Python call per 4 KiB).
DOWNLOAD_BLOCK_SIZE = 1024 * 1024


def stored_response(name: str, *, filename: str, not_found: str, content_type: str = OCTET_STREAM):
    """The download of a stored file as an attachment named `filename`.

    Streamed: 200 with Content-Type, Content-Disposition and Content-Length and the stored
    bytes, exactly alike for both backends. With STORAGE_DOWNLOAD_REDIRECT (S3 only): 302 to a
    presigned URL valid STORAGE_DOWNLOAD_REDIRECT_SECONDS that answers those same headers.
    A missing file is 404 `not_found`; an unreachable store 503 "Storage unavailable".
    """
    storage = file_storage()
    if settings.STORAGE_DOWNLOAD_REDIRECT:
        with storage_errors():
            # Checked first, so a missing file stays a 404 from the service (and a store that
            # is down a 503) rather than an error page of the store.
            if not storage.exists(name):
                raise NotFound(not_found)
            url = storage.download_url(
                name, filename=filename, content_type=content_type, expire=settings.STORAGE_DOWNLOAD_REDIRECT_SECONDS
            )
        if url:
            return HttpResponseRedirect(url)
    try:
        stream, size = stored_open(name)
    except FileNotFoundError:
        raise NotFound(not_found) from None
    response = FileResponse(stream, as_attachment=True, filename=filename, content_type=content_type)
    if not response.has_header("Content-Length"):
        # A remote stream has no size of its own; the store said how long the object is.
        response["Content-Length"] = str(size)
        response.block_size = DOWNLOAD_BLOCK_SIZE
    return response
