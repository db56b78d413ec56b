import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from virtool_site.models import Upload
from virtool_site.testing import post_file

pytestmark = pytest.mark.django_db


def test_upload_is_stored_under_data_dir_with_a_virtool_id(uploader, data_dir):
    user, client = uploader
    response = post_file(client)
    assert response.status_code == 201
    body = response.json()
    assert body["id"].endswith("-reference.json.gz") and len(body["id"]) == len("xxxxxxxx-reference.json.gz")
    assert body["size"] == 6 and body["user"] == {"id": user.username} and body["type"] == "reference"
    assert (data_dir / "uploads" / body["id"]).read_bytes() == b"\x1f\x8bdata"
    assert response["Location"] == f"/api/uploads/{body['id']}"


def test_upload_needs_the_upload_file_permission(user_client):
    response = post_file(user_client)
    assert response.status_code == 403
    assert not Upload.objects.exists()


def test_upload_without_credentials_is_401(api_client):
    assert post_file(api_client).status_code == 401


@pytest.mark.parametrize("name", ["../../etc/passwd", "a/b.json", "..", ".hidden", "x\\y", "%2e%2e%2fescape"])
def test_upload_names_that_could_be_paths_are_refused(uploader, name, data_dir):
    _, client = uploader
    response = post_file(client, name=name)
    assert response.status_code == 422
    assert not Upload.objects.exists()
    assert not (data_dir / "uploads").exists() or not any((data_dir / "uploads").iterdir())


def test_upload_without_name_is_422(uploader):
    _, client = uploader
    response = client.post("/api/uploads", {"file": SimpleUploadedFile("f", b"x")}, format="multipart")
    assert response.status_code == 422
    assert "name" in response.json()["errors"]


def test_upload_without_file_is_400(uploader):
    _, client = uploader
    response = client.post("/api/uploads?name=ok.json.gz", {}, format="multipart")
    assert response.status_code == 400


def test_upload_past_the_size_limit_is_413_and_leaves_nothing(uploader, settings, data_dir):
    settings.UPLOAD_MAX_BYTES = 1000
    _, client = uploader
    response = post_file(client, content=b"x" * 5000)
    assert response.status_code == 413
    assert response.json()["id"] == "payload_too_large"
    assert not Upload.objects.exists()


def test_upload_larger_than_declared_length_is_stopped_while_streaming(uploader, settings):
    """A client can lie about Content-Length; the handler counts the bytes it really receives."""
    from virtool_site.errors import PayloadTooLarge
    from virtool_site.files import SizeLimitedUploadHandler

    handler = SizeLimitedUploadHandler(None, max_bytes=10)
    handler.new_file("file", "f", "application/octet-stream", 0)
    handler.receive_data_chunk(b"x" * 10, 0)
    with pytest.raises(PayloadTooLarge):
        handler.receive_data_chunk(b"x", 10)


def test_upload_list_get_and_delete(uploader, data_dir, client_for, user_factory, django_capture_on_commit_callbacks):
    user, client = uploader
    upload_id = post_file(client).json()["id"]
    assert client.get("/api/uploads").json()["documents"][0]["id"] == upload_id
    download = client.get(f"/api/uploads/{upload_id}")
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"\x1f\x8bdata"

    assert client_for(user_factory()).delete(f"/api/uploads/{upload_id}").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(f"/api/uploads/{upload_id}").status_code == 204
    assert not (data_dir / "uploads" / upload_id).exists()
    assert client.delete(f"/api/uploads/{upload_id}").status_code == 404


def test_uploading_a_bad_type_is_422(uploader):
    _, client = uploader
    assert post_file(client, upload_type="executable").status_code == 422
