"""The S3 storage backend: django-storages' S3Storage (boto3), for AWS, MinIO, Ceph and the like.

Selected by setting `AWS_STORAGE_BUCKET_NAME` (see settings.py); configured with
django-storages' own variables (`AWS_S3_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_S3_REGION_NAME`, `AWS_LOCATION`, ...). On top of S3Storage:

- every object is stored as opaque `application/octet-stream` with no Content-Encoding, so
  no client or proxy ever "helpfully" inflates a `.gz` file: the bytes stored are the bytes
  served;
- the botocore client gives up quickly on an unreachable endpoint (STORAGE_CONNECT_TIMEOUT,
  STORAGE_MAX_ATTEMPTS) and transfers are multipart in bounded memory
  (STORAGE_MULTIPART_CHUNK_BYTES x STORAGE_MAX_CONCURRENCY);
- the operations `virtool_site.storage` needs beyond Django's API, streaming and without
  reading whole objects into memory: `save_path`, `open_stream`, `download_to`, `local_copy`,
  `local_directory`, `delete_prefix`, `objects`, `download_url`, `error_translate`, `check`.
"""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from s3transfer.exceptions import RetriesExceededError, S3DownloadFailedError, S3UploadFailedError
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

#: ClientError codes meaning "no such object" (reads answer 404, deletes succeed).
MISSING_CODES = {"404", "NoSuchKey", "NotFound"}

OCTET_STREAM = "application/octet-stream"


def _client_error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "")) or str(
        error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
    )


class ObjectReader:
    """A read-only stream over an object's body, with no `fileno()`: WSGI servers must not
    try sendfile() on the HTTP connection underneath."""

    def __init__(self, body):
        self._body = body

    def read(self, size: int = -1) -> bytes:
        return self._body.read(None if size is None or size < 0 else size)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._body.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class S3DataStorage(S3Storage):
    """S3Storage with streaming reads, prefix operations and quick failure when unreachable."""

    def __init__(self, **options):
        options.setdefault("client_config", self._client_config(options))
        options.setdefault("transfer_config", self._transfer_config())
        super().__init__(**options)
        # Keys are chosen by the services, never by clients: an existing key is replaced.
        self.file_overwrite = True

    @staticmethod
    def _client_config(options: dict) -> Config:
        addressing_style = options.get("addressing_style") or getattr(settings, "AWS_S3_ADDRESSING_STYLE", None)
        # SigV4 (presigned URLs included): what AWS, MinIO and Ceph all accept.
        signature_version = (
            options.get("signature_version") or getattr(settings, "AWS_S3_SIGNATURE_VERSION", None) or "s3v4"
        )
        return Config(
            s3={"addressing_style": addressing_style},
            signature_version=signature_version,
            connect_timeout=settings.STORAGE_CONNECT_TIMEOUT,
            read_timeout=settings.STORAGE_READ_TIMEOUT,
            retries={"mode": "standard", "max_attempts": settings.STORAGE_MAX_ATTEMPTS},
        )

    @staticmethod
    def _transfer_config() -> TransferConfig:
        chunk = settings.STORAGE_MULTIPART_CHUNK_BYTES
        return TransferConfig(
            multipart_threshold=chunk,
            multipart_chunksize=chunk,
            max_concurrency=settings.STORAGE_MAX_CONCURRENCY,
            # s3transfer queues at most this many chunks in memory ahead of the uploads.
            max_io_queue=settings.STORAGE_MAX_CONCURRENCY * 2,
            use_threads=True,
        )

    # Writes ------------------------------------------------------------------------------

    def get_object_parameters(self, name):
        return {**self.object_parameters, "ContentType": OCTET_STREAM}

    def _get_write_parameters(self, name, content=None):
        # No guessed type and no Content-Encoding: gzip files stay opaque bytes.
        params = self.get_object_parameters(name)
        if "ACL" not in params and self.default_acl:
            params["ACL"] = self.default_acl
        return params

    def _key(self, name: str) -> str:
        return self._normalize_name(clean_name(name))

    def _save(self, name, content):
        # An upload spooled to a temporary file is sent from that file, a part at a time read
        # as it is sent; any other content goes through S3Storage (parts held in memory).
        temporary_path = getattr(content, "temporary_file_path", None)
        if temporary_path is None:
            return super()._save(name, content)
        cleaned = clean_name(name)
        self.bucket.Object(self._key(cleaned)).upload_file(
            temporary_path(), ExtraArgs=self._get_write_parameters(cleaned), Config=self.transfer_config
        )
        return cleaned

    def save_path(self, name: str, path: Path) -> int:
        """Upload a local (scratch) file to `name` (multipart, in parallel); the file is removed."""
        size = path.stat().st_size
        self.bucket.Object(self._key(name)).upload_file(
            str(path), ExtraArgs=self._get_write_parameters(name), Config=self.transfer_config
        )
        path.unlink(missing_ok=True)
        return size

    # Reads -------------------------------------------------------------------------------

    def open_stream(self, name: str):
        """(stream, size) over the object's body, read as it is consumed."""
        try:
            response = self.connection.meta.client.get_object(Bucket=self.bucket_name, Key=self._key(name))
        except ClientError as error:
            if _client_error_code(error) in MISSING_CODES:
                raise FileNotFoundError(name) from error
            raise
        return ObjectReader(response["Body"]), int(response["ContentLength"])

    def download_to(self, name: str, path: Path) -> None:
        """Download the object to a local file (multipart, in parallel)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.connection.meta.client.download_file(
                self.bucket_name, self._key(name), str(path), Config=self.transfer_config
            )
        except ClientError as error:
            if _client_error_code(error) in MISSING_CODES:
                raise FileNotFoundError(name) from error
            raise

    @contextmanager
    def local_copy(self, name: str, *, scratch: Path) -> Iterator[Path]:
        """Download the object into a scratch file, removed after."""
        scratch.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=scratch, prefix="object-")
        os.close(handle)
        path = Path(temporary)
        try:
            self.download_to(name, path)
            yield path
        finally:
            path.unlink(missing_ok=True)

    def local_directory(self, prefix: str) -> Path | None:
        """Objects have no local directory: callers fetch them (virtool_site.storage)."""
        return None

    def exists(self, name):
        try:
            self.connection.meta.client.head_object(Bucket=self.bucket_name, Key=self._key(name))
        except ClientError as error:
            if _client_error_code(error) in MISSING_CODES:
                return False
            raise
        return True

    def objects(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        """(key, last modified) of every object under `prefix/`, a page (1000) per request."""
        location = self._normalize_name("")
        start = self._key(prefix.rstrip("/")) + "/"
        paginator = self.connection.meta.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket_name, Prefix=start):
            for entry in page.get("Contents", ()):
                key = entry["Key"]
                if location:
                    key = key[len(location) :].lstrip("/")
                yield key, entry["LastModified"]

    def download_url(self, name: str, *, filename: str, content_type: str, expire: int) -> str | None:
        """A presigned GET URL, valid for `expire` seconds, that answers the same headers as
        the service's own download (type and attachment name)."""
        from django.utils.http import content_disposition_header

        parameters = {
            "ResponseContentType": content_type,
            "ResponseContentDisposition": content_disposition_header(True, filename),
        }
        return self.url(name, parameters=parameters, expire=expire)

    # Deletes -----------------------------------------------------------------------------

    def delete_prefix(self, prefix: str) -> None:
        """Delete every object under `prefix/`, a thousand per request."""
        client = self.connection.meta.client
        batch: list[dict] = []
        for key, _ in list(self.objects(prefix)):
            batch.append({"Key": self._key(key)})
            if len(batch) == 1000:
                client.delete_objects(Bucket=self.bucket_name, Delete={"Objects": batch, "Quiet": True})
                batch = []
        if batch:
            client.delete_objects(Bucket=self.bucket_name, Delete={"Objects": batch, "Quiet": True})

    # Health ------------------------------------------------------------------------------

    def check(self) -> None:
        """Raise unless the bucket answers."""
        self.connection.meta.client.head_bucket(Bucket=self.bucket_name)

    def error_translate(self, error: BaseException) -> BaseException | None:
        """An error meaning the store cannot be used now (unreachable, refusing our
        credentials, no such bucket), as StorageUnavailable; None for anything else."""
        from virtool_site.storage import StorageUnavailable

        if isinstance(error, ClientError):
            code = _client_error_code(error)
            if code in MISSING_CODES:
                return FileNotFoundError(str(error))
            return StorageUnavailable(detail=f"{code}: {error}")
        if isinstance(error, (BotoCoreError, Boto3Error, S3UploadFailedError, S3DownloadFailedError, RetriesExceededError)):
            return StorageUnavailable(detail=f"{type(error).__name__}: {error}")
        return None
