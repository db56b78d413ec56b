"""Reference processes and storage: an import reads its upload from storage (a real S3 server,
moto, through django-storages) into the worker's scratch; a remote install downloads into
scratch; a deletion removes the stored index files; a store that cannot be reached answers an
import's request 503, fails a process with its message, and changes nothing it should not."""

import pytest

from indexes.models import Index, IndexFile
from refs import services
from refs.models import OTU, Reference
from refs.tests.transfer_factories import (
    FakeGitHub,
    file_document,
    file_otu,
    gz_bytes,
    gzip_bomb,
    reference_file,
    upload_from,
)
from virtool_site import storage
from virtool_site.errors import BadRequest, ServiceUnavailable
from virtool_site.models import Process

pytestmark = pytest.mark.django_db


@pytest.fixture
def curator(user_factory):
    return user_factory(username="curator", create_ref=True)


def import_upload(user, upload, capture) -> Reference:
    with capture(execute=True):
        return services.reference_create_import(
            user=user, upload_id=upload.id, name="Imported", description="", organism="", data_type="genome", public=False,
        )


def process_of(reference) -> Process:
    return Process.objects.get(id=reference.process_id)


def test_an_import_reads_its_upload_from_s3_and_keeps_no_scratch(
    curator, tmp_path, s3_storage, data_dir, django_capture_on_commit_callbacks
):
    path = reference_file(tmp_path / "r.json.gz", [file_otu() for _ in range(4)])
    upload = upload_from(path, user=curator)
    assert s3_storage.read(f"uploads/{upload.id}") == path.read_bytes()
    reference = import_upload(curator, upload, django_capture_on_commit_callbacks)
    process = process_of(reference)
    assert process.complete and process.error is None, process.error
    assert OTU.objects.filter(reference=reference).count() == 4
    # The worker's copy of the upload was scratch: nothing of it is left on its disk.
    assert not (data_dir / "uploads").exists()
    assert [p for p in (data_dir / "tmp").rglob("*") if p.is_file()] == []


def test_a_gzip_bomb_uploaded_to_s3_is_refused_as_before(
    curator, tmp_path, settings, s3_storage, django_capture_on_commit_callbacks
):
    settings.GZIP_MAX_DECOMPRESSED_BYTES = 4 * 1024 * 1024
    upload = upload_from(gzip_bomb(tmp_path / "bomb.json.gz", decompressed_bytes=40 * 1024 * 1024), user=curator)
    reference = import_upload(curator, upload, django_capture_on_commit_callbacks)
    assert process_of(reference).error["errors"] == [
        {"id": "file_too_large", "message": "Decompressed content exceeds the limit of 4194304 bytes"}
    ]
    assert not OTU.objects.filter(reference_id=reference.id).exists()
    assert not Reference.all_objects.filter(id=reference.id).exists()


def import_queued(user, upload, capture) -> tuple[Reference, list]:
    """An import created, its task not run yet (the callbacks run it)."""
    with capture(execute=False) as callbacks:
        reference = services.reference_create_import(
            user=user, upload_id=upload.id, name="Imported", description="", organism="", data_type="genome", public=False,
        )
    return reference, callbacks


def test_an_upload_gone_from_storage_is_400_at_once(curator, tmp_path, s3_storage):
    upload = upload_from(reference_file(tmp_path / "r.json.gz"), user=curator)
    s3_storage.client.delete_object(Bucket=s3_storage.name, Key=f"uploads/{upload.id}")
    with pytest.raises(BadRequest, match="File not found"):
        services.reference_create_import(
            user=curator, upload_id=upload.id, name="Imported", description="", organism="", data_type="genome",
            public=False,
        )
    assert not Reference.all_objects.exists() and not Process.objects.exists()


def test_an_import_whose_upload_goes_from_storage_before_its_task_fails_file_not_found(
    curator, tmp_path, s3_storage, django_capture_on_commit_callbacks
):
    upload = upload_from(reference_file(tmp_path / "r.json.gz"), user=curator)
    reference, callbacks = import_queued(curator, upload, django_capture_on_commit_callbacks)
    s3_storage.client.delete_object(Bucket=s3_storage.name, Key=f"uploads/{upload.id}")
    for callback in callbacks:
        callback()
    assert process_of(reference).error["message"] == "File not found"
    assert not Reference.all_objects.filter(id=reference.id).exists()


def test_an_import_while_the_store_is_unreachable_is_503_and_creates_nothing(curator, tmp_path, s3_storage):
    upload = upload_from(reference_file(tmp_path / "r.json.gz"), user=curator)
    s3_storage.server.stop()
    try:
        with pytest.raises(ServiceUnavailable, match="Storage unavailable"):
            services.reference_create_import(
                user=curator, upload_id=upload.id, name="Imported", description="", organism="",
                data_type="genome", public=False,
            )
    finally:
        s3_storage.server.start()
    assert not Reference.all_objects.exists() and not Process.objects.exists()


def test_an_import_whose_store_goes_before_its_task_fails_with_its_message(
    curator, tmp_path, s3_storage, django_capture_on_commit_callbacks
):
    upload = upload_from(reference_file(tmp_path / "r.json.gz"), user=curator)
    reference, callbacks = import_queued(curator, upload, django_capture_on_commit_callbacks)
    s3_storage.server.stop()
    try:
        for callback in callbacks:
            callback()
        process = process_of(reference)
        assert process.error == {"id": "transfer_error", "message": "Storage unavailable"}
        assert not OTU.objects.filter(reference_id=reference.id).exists()
        assert not Reference.all_objects.filter(id=reference.id).exists()
    finally:
        s3_storage.server.start()


@pytest.fixture
def indexed(curator, tmp_path, storage_backend, django_capture_on_commit_callbacks):
    """An imported reference with a ready index whose files are stored."""
    upload = upload_from(reference_file(tmp_path / "r.json.gz", [file_otu() for _ in range(2)]), user=curator)
    reference = import_upload(curator, upload, django_capture_on_commit_callbacks)
    index = Index.objects.create(reference=reference, version=0, ready=True, user=curator, manifest={})
    for name in ("reference.fa.gz", "reference.1.bt2"):
        storage.stored_save_path(f"references/{reference.id}/{index.id}/{name}", _scratch(tmp_path, name))
        IndexFile.objects.create(index=index, name=name, type="bowtie2", size=10)
    return reference


def _scratch(tmp_path, name):
    path = tmp_path / f"scratch-{name}"
    path.write_bytes(b"index data")
    return path


def test_deleting_a_reference_removes_its_stored_index_files(
    curator, client_for, indexed, storage_backend, django_capture_on_commit_callbacks
):
    assert [key for key, _ in storage.stored_objects(f"references/{indexed.id}")]
    with django_capture_on_commit_callbacks(execute=True):
        process_id = client_for(curator).delete(f"/api/refs/{indexed.id}").json()["id"]
    process = Process.objects.get(id=process_id)
    assert process.complete and process.error is None
    assert list(storage.stored_objects(f"references/{indexed.id}")) == []
    assert not Reference.all_objects.filter(id=indexed.id).exists()


def test_deleting_a_reference_while_the_store_is_unreachable_fails_and_keeps_its_rows(
    curator, client_for, tmp_path, s3_storage, django_capture_on_commit_callbacks
):
    upload = upload_from(reference_file(tmp_path / "r.json.gz", [file_otu() for _ in range(2)]), user=curator)
    reference = import_upload(curator, upload, django_capture_on_commit_callbacks)
    index = Index.objects.create(reference=reference, version=0, ready=True, user=curator, manifest={})
    s3_storage.server.stop()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(curator).delete(f"/api/refs/{reference.id}")
        assert response.status_code == 202
        process = Process.objects.get(id=response.json()["id"])
        assert process.error == {"id": "transfer_error", "message": "Storage unavailable"}
        # Nothing removed: a re-run of the task finishes the deletion.
        assert Index.objects.filter(id=index.id).exists()
        assert OTU.objects.filter(reference_id=reference.id).count() == 2
    finally:
        s3_storage.server.start()


def test_a_remote_install_downloads_into_scratch_and_leaves_nothing(
    curator, client_for, settings, s3_storage, data_dir, django_capture_on_commit_callbacks
):
    github = FakeGitHub()
    settings.GITHUB_API_URL, settings.GITHUB_TOKEN, settings.HTTP_TIMEOUT_SECONDS = github.url, "", 5
    try:
        github.publish("virtool/ref-plant-viruses", gz_bytes(file_document([file_otu() for _ in range(3)])), release_id=1)
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(curator).post(
                "/api/refs", {"name": "Remote", "data_type": "genome", "remote_from": "virtool/ref-plant-viruses"},
                format="json",
            )
        assert response.status_code == 201, response.json()
        reference = Reference.objects.get(id=response.json()["id"])
        assert process_of(reference).error is None
        assert OTU.objects.filter(reference=reference).count() == 3
        assert [p for p in (data_dir / "tmp").rglob("*") if p.is_file()] == []
        assert s3_storage.keys() == []  # a release is never kept: it is imported and gone
    finally:
        github.close()
