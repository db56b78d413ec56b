"""Index files in storage: a build stores its files from the worker's scratch (local files and
a real S3 server through django-storages), the Job API stores uploads, downloads keep their
status, headers and bytes on both backends, and a store that goes away fails cleanly."""

import gzip
import io
import stat
import subprocess
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from history.models import Change
from indexes.models import Index, IndexFile
from indexes.selectors import BOWTIE2_FILE_NAMES, index_build_scratch, index_directory
from indexes.services import index_build, index_create
from refs.models import OTU, Sequence
from virtool_site.models import Job
from virtool_site.storage_testing import S3Bucket, S3Server, s3_settings
from virtool_site.tests.test_storage import download_headers, expected_headers

pytestmark = pytest.mark.django_db

ALL_FILES = sorted(["reference.json.gz", "reference.fa.gz", *BOWTIE2_FILE_NAMES])
UNAVAILABLE = {"id": "service_unavailable", "message": "Storage unavailable"}


def build(client, reference, capture) -> Index:
    with capture(execute=True):
        response = client.post(f"/api/refs/{reference.id}/indexes")
    assert response.status_code == 201, response.content
    return Index.objects.filter(id=response.json()["id"]).first() or Index(id=response.json()["id"], reference=reference)


def stored(bucket, index) -> dict[str, bytes]:
    """The index's stored files by name, from either backend."""
    prefix = f"references/{index.reference_id}/{index.id}/"
    if bucket is None:
        directory = index_directory(index)
        return {p.name: p.read_bytes() for p in directory.iterdir()} if directory.exists() else {}
    return {key[len(prefix):]: bucket.read(key) for key in bucket.keys(prefix)}


def test_a_build_stores_its_files_and_keeps_no_scratch(
    user_client, built_reference, storage_backend, data_dir, django_capture_on_commit_callbacks
):
    index = build(user_client, built_reference, django_capture_on_commit_callbacks)
    index.refresh_from_db()
    assert index.ready
    files = stored(storage_backend, index)
    assert sorted(files) == ALL_FILES
    assert {f.name: f.size for f in IndexFile.objects.filter(index=index)} == {n: len(b) for n, b in files.items()}
    with gzip.open(io.BytesIO(files["reference.fa.gz"]), "rt") as handle:
        names = [line[1:].strip() for line in handle if line.startswith(">")]
    assert sorted(names) == sorted(
        Sequence.objects.filter(otu__reference=built_reference, isolate__default=True).values_list("id", flat=True)
    )
    assert not index_build_scratch(index).exists()
    if storage_backend is not None:
        # The worker's DATA_DIR holds nothing but (emptied) scratch.
        assert not (data_dir / "references").exists()


def test_bowtie2_aligns_against_the_files_a_build_stored_on_s3(
    user_client, built_reference, s3_storage, tmp_path, django_capture_on_commit_callbacks
):
    index = build(user_client, built_reference, django_capture_on_commit_callbacks)
    for name, content in stored(s3_storage, index).items():
        (tmp_path / name).write_bytes(content)
    sequence = Sequence.objects.filter(otu__reference=built_reference, isolate__default=True).order_by("id").first()
    result = subprocess.run(
        ["bowtie2", "-x", str(tmp_path / "reference"), "-c", sequence.sequence[50:150], "--no-hd", "--no-unal", "-p", "1"],
        check=True, capture_output=True, text=True,
    )
    assert result.stdout.split("\t")[2] == sequence.id


@pytest.mark.parametrize("name", ["reference.fa.gz", "reference.json.gz", "reference.1.bt2", "reference.rev.2.bt2"])
def test_downloads_answer_the_same_headers_and_bytes_on_both_backends(
    user_client, built_reference, storage_backend, name, django_capture_on_commit_callbacks
):
    index = build(user_client, built_reference, django_capture_on_commit_callbacks)
    content = stored(storage_backend, index)[name]
    response = user_client.get(f"/api/indexes/{index.id}/files/{name}")
    assert response.status_code == 200
    assert download_headers(response) == expected_headers(name, len(content))
    assert b"".join(response.streaming_content) == content


def test_a_file_gone_from_s3_is_404_with_its_message(user_client, built_reference, s3_storage, django_capture_on_commit_callbacks):
    index = build(user_client, built_reference, django_capture_on_commit_callbacks)
    s3_storage.client.delete_object(Bucket=s3_storage.name, Key=f"references/{built_reference.id}/{index.id}/reference.3.bt2")
    response = user_client.get(f"/api/indexes/{index.id}/files/reference.3.bt2")
    assert response.status_code == 404
    assert response.json() == {"id": "not_found", "message": "Index file not found at expected location"}


def test_a_failed_build_leaves_nothing_stored(
    user_client, built_reference, s3_storage, settings, tmp_path, django_capture_on_commit_callbacks
):
    script = tmp_path / "bowtie2-build"
    script.write_text("#!/bin/sh\necho 'broken' >&2\nexit 3\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    settings.BOWTIE2_BUILD_PATH = str(script)
    index = build(user_client, built_reference, django_capture_on_commit_callbacks)
    assert not Index.objects.filter(id=index.id).exists()
    assert s3_storage.keys() == []
    assert not index_build_scratch(index).exists()


def test_a_redelivered_build_first_deletes_what_a_dead_one_stored(
    user_client, built_reference, s3_storage, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        response = user_client.post(f"/api/refs/{built_reference.id}/indexes")
    index = Index.objects.get(id=response.json()["id"])
    Job.objects.filter(id=index.job_id).update(state="running", progress=0.95)
    prefix = f"references/{built_reference.id}/{index.id}"
    s3_storage.put(f"{prefix}/reference.fa", b">half\nAC")
    s3_storage.put(f"{prefix}/reference.1.bt2", b"partial")
    index_build(index_id=index.id)
    index.refresh_from_db()
    assert index.ready
    assert sorted(stored(s3_storage, index)) == ALL_FILES
    assert stored(s3_storage, index)["reference.1.bt2"] != b"partial"


# Job API uploads ---------------------------------------------------------------------------


@pytest.fixture
def external(user, built_reference):
    return index_create(user=user, reference_id=built_reference.id, runner="external")


def upload(client, index_id, name, content=b"data"):
    return client.post(f"/api/indexes/{index_id}/files?name={name}", {"file": SimpleUploadedFile("b", content)}, format="multipart")


def test_job_api_uploads_are_stored_with_their_rows_and_finalize(external, job_client, user_client, storage_backend):
    index, key = external
    client = job_client(index.job_id, key)
    for name in ["reference.json.gz", "reference.fa.gz", *BOWTIE2_FILE_NAMES[:3], "reference.4.bt4", *BOWTIE2_FILE_NAMES[4:]]:
        assert upload(client, index.id, name, f"content of {name}".encode()).status_code == 201
    files = stored(storage_backend, index)
    assert sorted(files) == ALL_FILES
    assert files["reference.4.bt2"] == b"content of reference.4.bt4"
    # A second upload of a name is refused, and the stored file is not touched.
    assert upload(client, index.id, "reference.1.bt2", b"other").status_code == 409
    assert stored(storage_backend, index)["reference.1.bt2"] == b"content of reference.1.bt2"
    assert client.patch(f"/api/indexes/{index.id}").status_code == 200
    # The job's key ends with its job; the index's owner downloads.
    response = user_client.get(f"/api/indexes/{index.id}/files/reference.4.bt2")
    assert b"".join(response.streaming_content) == b"content of reference.4.bt4"


def test_job_api_upload_while_the_store_is_unreachable_is_503_and_keeps_nothing(external, job_client, s3_unreachable):
    index, key = external
    response = upload(job_client(index.job_id, key), index.id, "reference.fa.gz")
    assert response.status_code == 503
    assert response.json() == UNAVAILABLE
    assert not IndexFile.objects.exists()


def test_job_api_upload_when_local_storage_cannot_be_written_is_503_and_keeps_nothing(external, job_client, data_dir):
    index, key = external
    (data_dir / "references").write_text("")  # a regular file where the references' folder goes
    response = upload(job_client(index.job_id, key), index.id, "reference.fa.gz")
    assert (response.status_code, response.json()) == (503, UNAVAILABLE)
    assert not IndexFile.objects.exists()


def test_download_while_the_store_is_unreachable_is_503(
    user_client, built_reference, s3_storage, django_capture_on_commit_callbacks
):
    index = build(user_client, built_reference, django_capture_on_commit_callbacks)
    s3_storage.server.stop()
    try:
        response = user_client.get(f"/api/indexes/{index.id}/files/reference.fa.gz")
        assert response.status_code == 503
        assert response.json() == UNAVAILABLE
    finally:
        s3_storage.server.start()


# A store that goes away during a build -----------------------------------------------------


@pytest.fixture
def own_s3_server(tmp_path, settings):
    """An S3 server of this test's own (it is stopped part way), and a bucket on it."""
    server = S3Server(tmp_path / "moto-own.log")
    bucket = S3Bucket(server)
    s3_settings(settings, bucket.options)
    yield server, bucket
    server.stop()


def test_a_store_going_away_during_the_store_step_fails_the_build_with_its_message(
    user_client, built_reference, own_s3_server, settings, tmp_path, django_capture_on_commit_callbacks
):
    """bowtie2-build runs to its end; as it ends the store goes down (the wrapper stops the
    server), so storing the files fails: the job ends failed with "Storage unavailable", the
    index and its scratch are gone and its changes are unbuilt again."""
    server, _ = own_s3_server
    script = tmp_path / "bowtie2-build"
    script.write_text(f"#!/bin/sh\nbowtie2-build \"$@\"\nstatus=$?\nkill {server.process.pid}\nsleep 1\nexit $status\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    settings.BOWTIE2_BUILD_PATH = str(script)

    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(f"/api/refs/{built_reference.id}/indexes")
    assert response.status_code == 201
    body = response.json()
    job = Job.objects.get(id=body["job"]["id"])
    assert job.state == Job.State.ERROR
    assert job.error["message"] == "Storage unavailable"
    assert job.error["type"] == "StorageUnavailable" and job.error["detail"]
    assert job.progress >= 0.9  # bowtie2-build had finished: the store step failed
    assert not Index.objects.filter(id=body["id"]).exists()
    assert not IndexFile.objects.exists()
    assert set(Change.objects.values_list("index_id", flat=True)) == {None}
    assert not OTU.objects.filter(last_indexed_version__isnull=False).exists()
    assert not index_build_scratch(Index(id=body["id"], reference=built_reference)).exists()


def test_a_build_while_the_store_is_unreachable_fails_at_once_with_its_message(
    user_client, built_reference, s3_unreachable, django_capture_on_commit_callbacks
):
    index = build(user_client, built_reference, django_capture_on_commit_callbacks)
    assert not Index.objects.filter(id=index.id).exists()
    job = Job.objects.get(workflow="build_index")
    assert job.state == Job.State.ERROR and job.error["message"] == "Storage unavailable"
    assert not Path(index_build_scratch(index)).exists()
