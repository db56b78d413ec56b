"""Persistent files through the storage API (virtool_site.storage), on local files and on a
real S3 server (moto) through django-storages/boto3: the backends, uploads, downloads (headers
and bytes pinned for both), the presigned redirect, and a store that cannot be reached."""

import io
import tracemalloc
from pathlib import Path

import pytest
import requests
from django.core.files.uploadedfile import TemporaryUploadedFile

from virtool_site import storage
from virtool_site.models import Upload
from virtool_site.services import upload_create
from virtool_site.testing import post_file

pytestmark = pytest.mark.django_db

UNAVAILABLE = {"id": "service_unavailable", "message": "Storage unavailable"}


def download_headers(response) -> dict:
    """The headers a download answers, with those that must not be there (None)."""
    names = ("Content-Type", "Content-Disposition", "Content-Length", "Content-Encoding", "ETag", "Accept-Ranges")
    return {name: response.get(name) for name in names}


def expected_headers(filename: str, size: int) -> dict:
    """What downloads answered when files were read from DATA_DIR (Django's FileResponse)."""
    return {
        "Content-Type": "application/octet-stream",
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Content-Length": str(size),
        "Content-Encoding": None,
        "ETag": None,
        "Accept-Ranges": None,
    }


def stored_keys(bucket, data_dir: Path, prefix: str) -> list[str]:
    if bucket is not None:
        return bucket.keys(prefix)
    root = data_dir / prefix
    return sorted(p.relative_to(data_dir).as_posix() for p in root.rglob("*") if p.is_file()) if root.exists() else []


# The backends ------------------------------------------------------------------------------


def test_backend_saves_reads_lists_and_deletes(storage_backend, data_dir, tmp_path):
    storage.stored_save("things/a/one.bin", io.BytesIO(b"one"))
    scratch = tmp_path / "two.bin"
    scratch.write_bytes(b"two" * 1000)
    assert storage.stored_save_path("things/a/two.bin", scratch) == 3000
    assert not scratch.exists()
    storage.stored_save("things/b/three.bin", io.BytesIO(b"3"))
    storage.stored_save("thingsmore/x.bin", io.BytesIO(b"x"))

    assert sorted(key for key, _ in storage.stored_objects("things")) == [
        "things/a/one.bin", "things/a/two.bin", "things/b/three.bin",
    ]
    stream, size = storage.stored_open("things/a/two.bin")
    with stream:
        assert size == 3000 and stream.read() == b"two" * 1000
    with storage.stored_local_copy("things/a/one.bin") as path:
        assert path.read_bytes() == b"one"
    assert storage.stored_exists("things/a/one.bin") and not storage.stored_exists("things/a/none.bin")
    with pytest.raises(FileNotFoundError):
        storage.stored_open("things/a/none.bin")

    # Overwritten in place: keys are the services' own.
    storage.stored_save("things/a/one.bin", io.BytesIO(b"uno"))
    assert storage.stored_open("things/a/one.bin")[0].read() == b"uno"

    directory = storage.stored_directory("things/a", cache=tmp_path / "cache" / "a")
    assert sorted(p.name for p in directory.iterdir()) == ["one.bin", "two.bin"]
    assert (directory / "two.bin").read_bytes() == b"two" * 1000

    storage.stored_delete_prefix("things/a")
    storage.stored_delete("things/b/three.bin")
    storage.stored_delete("things/b/never.bin")  # deleting nothing is no error
    assert list(storage.stored_objects("things")) == []
    assert [key for key, _ in storage.stored_objects("thingsmore")] == ["thingsmore/x.bin"]


def test_s3_objects_are_opaque_bytes_whatever_their_name(s3_storage):
    """No guessed type and no Content-Encoding: a client reading the object directly (or through
    a presigned URL) never gets a .gz file inflated."""
    storage.stored_save("x/reference.json.gz", io.BytesIO(b"\x1f\x8b\x08"))
    head = s3_storage.head("x/reference.json.gz")
    assert head["ContentType"] == "application/octet-stream"
    assert "ContentEncoding" not in head


def test_local_storage_follows_data_dir(data_dir):
    storage.stored_save("uploads/x", io.BytesIO(b"here"))
    assert (data_dir / "uploads" / "x").read_bytes() == b"here"


# Uploads -----------------------------------------------------------------------------------


def test_upload_is_stored_with_its_row(uploader, storage_backend, data_dir):
    user, client = uploader
    response = post_file(client)
    assert response.status_code == 201, response.content
    upload_id = response.json()["id"]
    assert Upload.objects.get(id=upload_id).size == 6
    assert stored_keys(storage_backend, data_dir, "uploads") == [f"uploads/{upload_id}"]
    if storage_backend is not None:
        assert storage_backend.read(f"uploads/{upload_id}") == b"\x1f\x8bdata"
        # The web process keeps nothing of it: its DATA_DIR may be an empty scratch disk.
        assert not (data_dir / "uploads").exists()


def test_upload_download_headers_and_bytes_are_the_same_on_both_backends(uploader, storage_backend):
    _, client = uploader
    content = bytes(range(256)) * 40
    upload_id = post_file(client, name="reads (1).fq.gz", content=content).json()["id"]
    response = client.get(f"/api/uploads/{upload_id}")
    assert response.status_code == 200
    assert download_headers(response) == expected_headers("reads (1).fq.gz", len(content))
    assert b"".join(response.streaming_content) == content


def test_upload_delete_removes_the_object_once_the_row_is_gone(
    uploader, storage_backend, data_dir, django_capture_on_commit_callbacks
):
    _, client = uploader
    upload_id = post_file(client).json()["id"]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert client.delete(f"/api/uploads/{upload_id}").status_code == 204
        # Not before the commit: a rollback would keep the row, which needs its file.
        assert stored_keys(storage_backend, data_dir, "uploads") == [f"uploads/{upload_id}"]
    for callback in callbacks:
        callback()
    assert stored_keys(storage_backend, data_dir, "uploads") == []
    assert client.get(f"/api/uploads/{upload_id}").status_code == 404


def test_upload_whose_object_is_gone_is_404_with_its_message(uploader, s3_storage):
    _, client = uploader
    upload_id = post_file(client).json()["id"]
    s3_storage.client.delete_object(Bucket=s3_storage.name, Key=f"uploads/{upload_id}")
    response = client.get(f"/api/uploads/{upload_id}")
    assert response.status_code == 404
    assert response.json() == {"id": "not_found", "message": "Uploaded file not found at expected location"}


def test_upload_limits_hold_on_s3(uploader, s3_storage, settings):
    settings.UPLOAD_MAX_BYTES = 1000
    _, client = uploader
    assert post_file(client, content=b"x" * 5000).status_code == 413
    assert post_file(client, name="../escape").status_code == 422
    assert not Upload.objects.exists()
    assert s3_storage.keys() == []


def test_a_failed_row_write_leaves_no_object(uploader, storage_backend, data_dir, user, needs_postgresql):
    """The object is written first; when its row cannot be written it is deleted again."""
    upload = TemporaryUploadedFile("f", "application/octet-stream", 4, None)
    upload.write(b"data")
    upload.seek(0)
    user.delete()  # the row's user is gone: its insert fails on the foreign key
    with pytest.raises(Exception):
        upload_create(user=user, name="r.json.gz", upload_type="reference", uploaded_file=upload)
    upload.close()
    assert not Upload.objects.exists()
    assert stored_keys(storage_backend, data_dir, "uploads") == []


def test_a_large_upload_goes_to_s3_in_parts_and_in_bounded_memory(s3_storage, user, settings):
    """Sent from the upload's spool file a part at a time: memory does not grow with the file."""
    settings.STORAGE_MULTIPART_CHUNK_BYTES = 5 * 1024**2  # S3's smallest part
    settings.STORAGES = {**settings.STORAGES}  # new storage instances read it
    storage.stored_save("warm-up", io.BytesIO(b"x"))  # the client and its models, once per process
    size = 48 * 1024**2
    upload = TemporaryUploadedFile("big", "application/octet-stream", size, None)
    block = bytes(range(256)) * 4096
    for _ in range(size // len(block)):
        upload.write(block)
    upload.flush()
    upload.seek(0)
    tracemalloc.start()
    try:
        created = upload_create(user=user, name="big.fq", upload_type="reads", uploaded_file=upload)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        upload.close()
    assert created.size == size
    head = s3_storage.head(f"uploads/{created.id}")
    assert head["ContentLength"] == size
    assert head["ETag"].strip('"').endswith("-10")  # a multipart upload of ten 5 MiB parts
    assert peak < 16 * 1024**2, f"peak {peak / 1024**2:.1f} MiB for a {size / 1024**2:.0f} MiB upload"


# Redirects ---------------------------------------------------------------------------------


def test_download_redirects_to_a_presigned_url_that_serves_the_same_file(uploader, s3_storage, settings):
    settings.STORAGE_DOWNLOAD_REDIRECT = True
    settings.STORAGE_DOWNLOAD_REDIRECT_SECONDS = 60
    _, client = uploader
    content = b"\x1f\x8b" + bytes(range(256)) * 10
    upload_id = post_file(client, name="reference.json.gz", content=content).json()["id"]
    response = client.get(f"/api/uploads/{upload_id}")
    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith(f"{s3_storage.server.endpoint_url}/{s3_storage.name}/uploads/")
    assert "X-Amz-Expires=60" in url and "X-Amz-Signature=" in url
    followed = requests.get(url, timeout=10)
    assert followed.status_code == 200
    assert followed.content == content
    assert followed.headers["Content-Type"] == "application/octet-stream"
    assert followed.headers["Content-Disposition"] == 'attachment; filename="reference.json.gz"'
    assert "Content-Encoding" not in followed.headers


def test_redirect_for_a_missing_object_is_still_the_services_404(uploader, s3_storage, settings):
    settings.STORAGE_DOWNLOAD_REDIRECT = True
    _, client = uploader
    upload_id = post_file(client).json()["id"]
    s3_storage.client.delete_object(Bucket=s3_storage.name, Key=f"uploads/{upload_id}")
    response = client.get(f"/api/uploads/{upload_id}")
    assert response.status_code == 404
    assert response.json()["message"] == "Uploaded file not found at expected location"


def test_redirect_setting_means_nothing_on_local_storage(uploader, settings):
    settings.STORAGE_DOWNLOAD_REDIRECT = True
    _, client = uploader
    upload_id = post_file(client).json()["id"]
    response = client.get(f"/api/uploads/{upload_id}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"\x1f\x8bdata"


# A store that cannot be reached ------------------------------------------------------------


def test_upload_while_the_store_is_unreachable_is_503_and_keeps_nothing(uploader, s3_unreachable):
    _, client = uploader
    response = post_file(client)
    assert response.status_code == 503
    assert response.json() == UNAVAILABLE
    assert not Upload.objects.exists()


def test_download_while_the_store_is_unreachable_is_503(uploader, s3_storage, settings):
    _, client = uploader
    upload_id = post_file(client).json()["id"]
    s3_storage.server.stop()
    try:
        response = client.get(f"/api/uploads/{upload_id}")
        assert response.status_code == 503
        assert response.json() == UNAVAILABLE
        settings.STORAGE_DOWNLOAD_REDIRECT = True
        response = client.get(f"/api/uploads/{upload_id}")
        assert response.status_code == 503
        assert response.json() == UNAVAILABLE
        # Deleting needs the store too: 503, and the upload is kept.
        response = client.delete(f"/api/uploads/{upload_id}")
        assert response.status_code == 503
        assert Upload.objects.filter(id=upload_id).exists()
    finally:
        s3_storage.server.start()
