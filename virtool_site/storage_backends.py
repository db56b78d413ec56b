"""The local storage backend: persistent files under DATA_DIR (the embedded default).

`LocalDataStorage` is Django's FileSystemStorage rooted at settings.DATA_DIR (read at each
use, so a test's DATA_DIR override applies at once) that overwrites in place: keys are chosen
by the services (`uploads/{id}`, `references/{ref}/{index}/{name}`, ...), never by clients, and
a rebuilt index replaces its files. It adds the few operations `virtool_site.storage` needs
beyond Django's API, with the same names as the S3 backend (`virtool_site.storage_s3`):
`save_path`, `open_stream`, `download_to`, `local_copy`, `local_directory`, `delete_prefix`,
`objects`, `download_url`, `error_translate`, `check`.
"""

import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.files.move import file_move_safe
from django.core.files.storage import FileSystemStorage


#: OSError numbers meaning DATA_DIR cannot keep files now.
UNAVAILABLE_ERRNOS = {errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.ENOTDIR, errno.EIO}


class LocalDataStorage(FileSystemStorage):
    """Files under DATA_DIR, overwritten in place."""

    def __init__(self, location=None, **options):
        options.setdefault("allow_overwrite", True)
        super().__init__(location=location, **options)

    @property
    def base_location(self):
        return self._value_or_setting(self._location, str(settings.DATA_DIR))

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    def save_path(self, name: str, path: Path) -> int:
        """Move a local (scratch) file to `name`: a rename when both are on one file system."""
        destination = Path(self.path(name))
        destination.parent.mkdir(parents=True, exist_ok=True)
        size = path.stat().st_size
        file_move_safe(str(path), str(destination), allow_overwrite=True)
        return size

    def open_stream(self, name: str):
        """(binary file, size); FileNotFoundError when there is no such file."""
        try:
            handle = open(self.path(name), "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as error:
            raise FileNotFoundError(name) from error
        return handle, os.fstat(handle.fileno()).st_size

    @contextmanager
    def local_copy(self, name: str, *, scratch: Path) -> Iterator[Path]:
        """The file itself: nothing to copy on a local disk."""
        path = Path(self.path(name))
        if not path.is_file():
            raise FileNotFoundError(name)
        yield path

    def download_to(self, name: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(self.path(name), path)
        except (IsADirectoryError, NotADirectoryError) as error:
            raise FileNotFoundError(name) from error

    def local_directory(self, prefix: str) -> Path | None:
        """The stored files under `prefix/` are a directory already."""
        path = Path(self.path(prefix.rstrip("/")))
        if not path.is_dir():
            raise FileNotFoundError(prefix)
        return path

    def delete_prefix(self, prefix: str) -> None:
        """Delete every file whose key starts with `prefix/`."""
        path = Path(self.path(prefix.rstrip("/")))
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()

    def objects(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        """(key, last modified) of every file under `prefix/`."""
        root = Path(self.location)
        top = Path(self.path(prefix.rstrip("/")))
        for directory, _, files in os.walk(top):
            for file_name in files:
                path = Path(directory) / file_name
                try:
                    modified = path.stat().st_mtime
                except FileNotFoundError:
                    continue
                yield path.relative_to(root).as_posix(), datetime.fromtimestamp(modified, tz=UTC)

    def download_url(self, name: str, *, filename: str, content_type: str, expire: int) -> str | None:
        """Local files have no URL of their own: downloads are streamed by the service."""
        return None

    def error_translate(self, error: BaseException) -> BaseException | None:
        """DATA_DIR refusing a write (no permission, full, read-only, a file where a folder
        goes, I/O error) as StorageUnavailable, as health reports it; other local file errors
        (a missing file, a bad gzip read by a caller) keep their meaning."""
        from virtool_site.storage import StorageUnavailable

        if isinstance(error, OSError) and error.errno in UNAVAILABLE_ERRNOS:
            return StorageUnavailable(detail=f"{type(error).__name__}: {error}")
        return None

    def check(self) -> None:
        """Raise when files cannot be kept (DATA_DIR missing or not writable)."""
        root = Path(self.location)
        root.mkdir(parents=True, exist_ok=True)
        if not os.access(root, os.W_OK):
            raise PermissionError(errno.EACCES, "DATA_DIR is not writable", str(root))
