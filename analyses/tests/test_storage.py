"""Analysis files and the local BLAST database in storage: local files and a real S3 server
(moto) through django-storages. Downloads keep status, headers and bytes on both backends; a
store that cannot be reached answers 503 and changes nothing; a BLAST worker with an empty
DATA_DIR fetches the stored database into its scratch."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from analyses.blast import blast_db_current
from analyses.models import Analysis, AnalysisFile, NuVsBlast, Sample, Workflow
from analyses.tests.factories import AnalysisFactory, nuvs_results
from virtool_site.tests.test_storage import download_headers, expected_headers

pytestmark = pytest.mark.django_db

UNAVAILABLE = {"id": "service_unavailable", "message": "Storage unavailable"}


@pytest.fixture
def analysis(sample):
    return AnalysisFactory(sample=sample, ready=True)


def upload(client, analysis_id, name="results.fa", content=b">a\nACGT\n"):
    return client.post(
        f"/api/analyses/{analysis_id}/files?name={name}", {"file": SimpleUploadedFile("u", content)}, format="multipart"
    )


def keys(bucket, data_dir, prefix):
    if bucket is not None:
        return bucket.keys(prefix)
    root = data_dir / prefix
    return sorted(p.relative_to(data_dir).as_posix() for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_analysis_file_is_stored_and_downloaded_with_the_same_headers_and_bytes(
    owner_client, analysis, storage_backend, data_dir
):
    content = b"\x1f\x8b" + bytes(range(256)) * 50
    response = upload(owner_client, analysis.id, name="reads.sam.gz", content=content)
    assert response.status_code == 201, response.content
    body = response.json()
    assert keys(storage_backend, data_dir, "analyses") == [f"analyses/{analysis.id}/{body['name_on_disk']}"]
    download = owner_client.get(f"/api/analyses/{analysis.id}/files/{body['id']}")
    assert download.status_code == 200
    assert download_headers(download) == expected_headers("reads.sam.gz", len(content))
    assert b"".join(download.streaming_content) == content


def test_removing_an_analysis_or_sample_deletes_their_stored_files(
    owner_client, sample, storage_backend, data_dir, django_capture_on_commit_callbacks
):
    first = AnalysisFactory(sample=sample, ready=True)
    second = AnalysisFactory(sample=sample, ready=True)
    assert upload(owner_client, first.id).status_code == 201
    assert upload(owner_client, second.id).status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.delete(f"/api/analyses/{first.id}").status_code == 204
    assert [k.split("/")[1] for k in keys(storage_backend, data_dir, "analyses")] == [second.id]
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.delete(f"/api/samples/{sample.id}").status_code == 204
    assert keys(storage_backend, data_dir, "analyses") == []


def test_upload_while_the_store_is_unreachable_is_503_and_keeps_nothing(owner_client, analysis, s3_unreachable):
    response = upload(owner_client, analysis.id)
    assert response.status_code == 503
    assert response.json() == UNAVAILABLE
    assert not AnalysisFile.objects.exists()


def test_download_and_removal_while_the_store_is_unreachable_are_503_and_change_nothing(
    owner_client, sample, analysis, s3_storage
):
    file_id = upload(owner_client, analysis.id).json()["id"]
    s3_storage.server.stop()
    try:
        response = owner_client.get(f"/api/analyses/{analysis.id}/files/{file_id}")
        assert (response.status_code, response.json()) == (503, UNAVAILABLE)
        response = owner_client.delete(f"/api/analyses/{analysis.id}")
        assert (response.status_code, response.json()) == (503, UNAVAILABLE)
        response = owner_client.delete(f"/api/samples/{sample.id}")
        assert (response.status_code, response.json()) == (503, UNAVAILABLE)
        assert Analysis.objects.filter(id=analysis.id).exists() and Sample.objects.filter(id=sample.id).exists()
        assert AnalysisFile.objects.filter(id=file_id).exists()
    finally:
        s3_storage.server.start()


# The local BLAST database --------------------------------------------------------------------


def test_blast_database_is_stored_and_a_worker_with_an_empty_data_dir_fetches_it(
    owner_client, sample, otu_sequences, s3_storage, data_dir, django_capture_on_commit_callbacks
):
    call_command("build_blast_db", stdout=open("/dev/null", "w"))
    stored = s3_storage.keys("blast/")
    pointer = s3_storage.read("blast/CURRENT").decode()
    assert pointer.startswith("db-") and "blast/CURRENT" in stored
    assert any(key.startswith(f"blast/{pointer}/references.n") for key in stored)
    assert not (data_dir / "blast").exists()  # nothing kept on the building host

    contig = otu_sequences[1].sequence[200:700]
    nuvs = AnalysisFactory(sample=sample, workflow=Workflow.NUVS, ready=True, results=nuvs_results([contig]))
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.put(f"/api/analyses/{nuvs.id}/0/blast", {}, format="json").status_code == 200
    record = NuVsBlast.objects.get(analysis=nuvs)
    assert record.ready and record.error is None, record.error
    assert record.result["hits"][0]["accession"] == otu_sequences[1].accession
    # Fetched once into this worker's scratch, named after the (immutable) database.
    assert blast_db_current() == str(data_dir / "tmp" / "blast" / pointer / "references")


def test_rebuilding_the_blast_database_keeps_the_current_and_previous_in_storage(otu_sequences, s3_storage):
    names = []
    for _ in range(3):
        call_command("build_blast_db", stdout=open("/dev/null", "w"))
        names.append(s3_storage.read("blast/CURRENT").decode())
    databases = {key.split("/")[1] for key in s3_storage.keys("blast/") if key.count("/") == 2}
    assert databases == set(names[1:])


def test_blast_while_the_store_is_unreachable_fails_with_its_message(
    owner_client, sample, otu_sequences, settings, s3_unreachable, django_capture_on_commit_callbacks
):
    nuvs = AnalysisFactory(sample=sample, workflow=Workflow.NUVS, ready=True, results=nuvs_results(["ACGT" * 100]))
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.put(f"/api/analyses/{nuvs.id}/0/blast", {}, format="json").status_code == 200
    record = NuVsBlast.objects.get(analysis=nuvs)
    assert not record.ready and record.error == "Storage unavailable"


def test_upload_when_local_storage_cannot_be_written_is_503_and_keeps_nothing(owner_client, analysis, data_dir):
    (data_dir / "analyses").write_text("")  # a regular file where the analyses' folder goes
    response = upload(owner_client, analysis.id)
    assert (response.status_code, response.json()) == (503, UNAVAILABLE)
    assert not AnalysisFile.objects.exists()


def test_blast_whose_database_cannot_be_fetched_into_scratch_fails_with_its_message(
    owner_client, sample, otu_sequences, data_dir, django_capture_on_commit_callbacks
):
    """A worker's scratch that cannot take the database (full, or not a folder) ends the BLAST
    with an error instead of leaving it pending for ever."""
    call_command("build_blast_db", stdout=open("/dev/null", "w"))
    (data_dir / "tmp").mkdir(exist_ok=True)
    (data_dir / "tmp" / "blast").write_text("")  # a regular file where the fetched databases go
    nuvs = AnalysisFactory(sample=sample, workflow=Workflow.NUVS, ready=True, results=nuvs_results(["ACGT" * 100]))
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.put(f"/api/analyses/{nuvs.id}/0/blast", {}, format="json").status_code == 200
    record = NuVsBlast.objects.get(analysis=nuvs)
    assert not record.ready and record.error


def test_removal_when_local_storage_cannot_be_reached_is_503_and_changes_nothing(
    owner_client, sample, analysis, settings, tmp_path
):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings.DATA_DIR = str(blocker / "data")  # under a regular file: DATA_DIR cannot be used
    response = owner_client.delete(f"/api/analyses/{analysis.id}")
    assert (response.status_code, response.json()) == (503, UNAVAILABLE)
    response = owner_client.delete(f"/api/samples/{sample.id}")
    assert (response.status_code, response.json()) == (503, UNAVAILABLE)
    assert Analysis.objects.filter(id=analysis.id).exists() and Sample.objects.filter(id=sample.id).exists()
