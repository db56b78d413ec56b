"""Files: safe names, paths under DATA_DIR, bounded uploads and gzip limits.

Persistent files are kept through the storage API (virtool_site.storage); `data_path` is for
what stays on this host: the embedded SQLite file and scratch (DATA_DIR/tmp).
"""

import gzip
import os
import re
import zlib
from pathlib import Path

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler

from virtool_site.errors import BadRequest, InvalidInput, PayloadTooLarge

#: A file name a client may give (uploads, analysis files): a plain name, never a path. Written
#: with explicit character classes, so that OpenAPI validators and clients read it the same.
FILE_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9 ._()+,=-]{0,199}$"
FILE_NAME_RULE = "Use letters, digits, spaces and . _ - ( ) + , = only, starting with a letter or digit."
_SAFE_NAME = re.compile(FILE_NAME_PATTERN)


def safe_file_name(name: str | None, *, field: str = "name") -> str:
    """The name itself when it is a plain file name; 422 for anything that could be a path."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Invalid query", errors={field: ["This field is required."]})
    if name in (".", "..") or os.path.basename(name) != name or "\\" in name or not _SAFE_NAME.match(name):
        raise InvalidInput(
            "Invalid file name",
            errors={field: [FILE_NAME_RULE]},
        )
    return name


def data_path(*parts: str) -> Path:
    """A path under DATA_DIR; refuses anything that would resolve outside it."""
    root = Path(settings.DATA_DIR).resolve()
    path = root.joinpath(*parts).resolve()
    if root != path and root not in path.parents:
        raise BadRequest("Invalid path")
    return path


class SizeLimitedUploadHandler(TemporaryFileUploadHandler):
    """Streams an upload to a temporary file and stops it once it passes `max_bytes`."""

    def __init__(self, request=None, *, max_bytes: int):
        super().__init__(request)
        self.max_bytes = max_bytes
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            raise PayloadTooLarge(f"File is larger than the limit of {self.max_bytes} bytes")
        return super().receive_data_chunk(raw_data, start)


def upload_limit_install(request, *, max_bytes: int | None = None) -> None:
    """Stream multipart uploads of this request through a size-limited handler.

    Must run before anything reads the body (see `BoundedUploadMixin`).
    """
    max_bytes = max_bytes or settings.UPLOAD_MAX_BYTES
    request.upload_handlers = [SizeLimitedUploadHandler(request, max_bytes=max_bytes)]


def upload_declared_size_check(request, *, max_bytes: int | None = None) -> None:
    """Refuse at once a body whose declared length is already past the limit."""
    max_bytes = max_bytes or settings.UPLOAD_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > max_bytes + 64 * 1024:  # allow for the multipart envelope
        raise PayloadTooLarge(f"File is larger than the limit of {max_bytes} bytes")


class GzipTooLarge(Exception):
    pass


class NotGzipped(Exception):
    pass


class BoundedGzipReader:
    """A readable stream over a gzip file that refuses to decompress more than `max_bytes`.

    Memory stays bounded whatever the compression ratio: data is inflated in small pieces.
    """

    def __init__(self, path: str | os.PathLike, *, max_bytes: int | None = None):
        self.max_bytes = max_bytes if max_bytes is not None else settings.GZIP_MAX_DECOMPRESSED_BYTES
        self._raw = open(path, "rb")
        magic = self._raw.read(2)
        self._raw.seek(0)
        if magic != b"\x1f\x8b":
            self._raw.close()
            raise NotGzipped("File is not gzip-compressed")
        self._gzip = gzip.GzipFile(fileobj=self._raw, mode="rb")
        self.decompressed = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = 1024 * 1024
        try:
            data = self._gzip.read(size)
        except (OSError, EOFError, zlib.error) as error:
            raise NotGzipped(f"File is not valid gzip: {error}") from error
        self.decompressed += len(data)
        if self.decompressed > self.max_bytes:
            raise GzipTooLarge(f"Decompressed content exceeds the limit of {self.max_bytes} bytes")
        return data

    def readable(self):
        return True

    def close(self):
        self._gzip.close()
        self._raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
