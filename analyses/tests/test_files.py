import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from analyses.models import AnalysisFile
from analyses.tests.factories import AnalysisFactory
from virtool_site.services import job_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def analysis(sample):
    return AnalysisFactory(sample=sample, ready=True)


def upload(client, analysis_id, query="name=results.fa&format=fasta", content=b">a\nACGT\n", filename="upload.bin"):
    return client.post(
        f"/api/analyses/{analysis_id}/files?{query}",
        {"file": SimpleUploadedFile(filename, content)},
        format="multipart",
    )


def test_upload_file_is_kept_as_id_name_under_the_analysis_folder(owner_client, analysis, data_dir):
    response = upload(owner_client, analysis.id)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"analysis", "description", "format", "id", "name", "name_on_disk", "size", "uploaded_at"}
    assert body["analysis"] == analysis.id and body["description"] is None
    assert (body["format"], body["name"], body["size"]) == ("fasta", "results.fa", 8)
    assert body["name_on_disk"] == f"{body['id']}-results.fa"
    assert body["uploaded_at"].endswith("Z")
    assert response["Location"] == f"/api/analyses/{analysis.id}/files/{body['id']}"
    assert (data_dir / "analyses" / analysis.id / body["name_on_disk"]).read_bytes() == b">a\nACGT\n"
    files = owner_client.get(f"/api/analyses/{analysis.id}").json()["files"]
    assert files == [body]


@pytest.mark.parametrize(
    "name, expected", [("reads.fq.gz", "fastq"), ("hits.TSV", "tsv"), ("mapped.bam", "bam"), ("notes.txt", None)]
)
def test_upload_format_is_inferred_from_the_name_when_omitted(owner_client, analysis, name, expected):
    assert upload(owner_client, analysis.id, query=f"name={name}").json()["format"] == expected


@pytest.mark.parametrize("file_format", ["sam", "bam", "fasta", "fastq", "csv", "tsv", "json"])
def test_upload_accepts_every_documented_format(owner_client, analysis, file_format):
    response = upload(owner_client, analysis.id, query=f"name=results.out&format={file_format}")
    assert response.status_code == 201, response.json()
    assert response.json()["format"] == file_format


def test_upload_with_an_unsupported_format_is_400(owner_client, analysis):
    response = upload(owner_client, analysis.id, query="name=a.doc&format=doc")
    assert response.status_code == 400
    assert response.json() == {"id": "bad_request", "message": "Unsupported analysis file format"}
    assert not AnalysisFile.objects.exists()


def test_upload_without_the_upload_file_permission_is_403(client_for, user_factory, sample, analysis):
    sample.user.upload_file = False
    sample.user.save()
    response = upload(client_for(sample.user), analysis.id)
    assert response.status_code == 403
    assert response.json()["message"] == "Insufficient rights"


def test_upload_to_a_missing_analysis_is_404(owner_client):
    assert upload(owner_client, "nothere").status_code == 404


def test_upload_of_a_name_already_kept_is_409(owner_client, analysis, data_dir):
    first = upload(owner_client, analysis.id).json()
    response = upload(owner_client, analysis.id, content=b"other")
    assert response.status_code == 409
    assert response.json() == {"id": "conflict", "message": "File is already associated with analysis"}
    assert (data_dir / "analyses" / analysis.id / first["name_on_disk"]).read_bytes() == b">a\nACGT\n"
    assert AnalysisFile.objects.count() == 1


@pytest.mark.parametrize("query", ["format=fasta", "name=&format=fasta"])
def test_upload_without_a_name_is_422_invalid_query(owner_client, analysis, query):
    response = upload(owner_client, analysis.id, query=query)
    assert response.status_code == 422
    body = response.json()
    assert (body["id"], body["message"]) == ("invalid_query", "Invalid query")
    assert "name" in body["errors"]


@pytest.mark.parametrize("name", ["../../etc/passwd", "a/b.fa", ".hidden", "x\\y.fa"])
def test_upload_names_that_could_be_paths_are_refused(owner_client, analysis, data_dir, name):
    from urllib.parse import quote

    response = upload(owner_client, analysis.id, query=f"name={quote(name)}")
    assert response.status_code == 422
    assert not AnalysisFile.objects.exists()
    assert not (data_dir / "analyses").exists() or not any((data_dir / "analyses").rglob("*passwd*"))


def test_upload_without_a_file_is_400(owner_client, analysis):
    response = owner_client.post(f"/api/analyses/{analysis.id}/files?name=a.fa", {}, format="multipart")
    assert response.status_code == 400


def test_upload_past_the_size_limit_is_413_and_keeps_nothing(owner_client, analysis, settings, data_dir):
    settings.UPLOAD_MAX_BYTES = 1000
    response = upload(owner_client, analysis.id, content=b"x" * 5000)
    assert response.status_code == 413
    assert not AnalysisFile.objects.exists()
    assert not (data_dir / "analyses").exists() or not any((data_dir / "analyses").rglob("*"))


def test_the_analysis_job_may_upload_and_another_job_may_not(job_client, analysis, sample):
    job, key = job_create(workflow="pathoscope_bowtie", user=None)
    analysis.job = job
    analysis.save()
    assert upload(job_client(job.id, key), analysis.id).status_code == 201
    other, other_key = job_create(workflow="pathoscope_bowtie", user=None)
    assert upload(job_client(other.id, other_key), analysis.id, query="name=b.fa").status_code == 403


# Download ----------------------------------------------------------------------------------


def test_download_streams_the_file_back(owner_client, analysis):
    content = os.urandom(3 * 1024 * 1024)
    kept = upload(owner_client, analysis.id, query="name=mapped.bam", content=content).json()
    response = owner_client.get(f"/api/analyses/{analysis.id}/files/{kept['id']}", HTTP_ACCEPT="application/octet-stream")
    assert response.status_code == 200
    assert response.streaming
    assert b"".join(response.streaming_content) == content
    assert response["Content-Disposition"] == 'attachment; filename="mapped.bam"'


def test_download_of_a_missing_file_is_404(owner_client, analysis, sample):
    response = owner_client.get(f"/api/analyses/{analysis.id}/files/999")
    assert response.status_code == 404
    assert response.json() == {"id": "not_found", "message": "Not found"}
    other = AnalysisFactory(sample=sample)
    kept = upload(owner_client, other.id).json()
    assert owner_client.get(f"/api/analyses/{analysis.id}/files/{kept['id']}").status_code == 404
    assert owner_client.get(f"/api/analyses/nothere/files/{kept['id']}").status_code == 404


def test_download_of_a_file_gone_from_disk_is_404_with_its_message(owner_client, analysis, data_dir):
    kept = upload(owner_client, analysis.id).json()
    (data_dir / "analyses" / analysis.id / kept["name_on_disk"]).unlink()
    response = owner_client.get(f"/api/analyses/{analysis.id}/files/{kept['id']}")
    assert response.status_code == 404
    assert response.json() == {"id": "not_found", "message": "Uploaded file not found at expected location"}


def test_download_of_an_analysis_whose_sample_is_gone_is_400(owner_client, analysis):
    kept = upload(owner_client, analysis.id).json()
    type(analysis).objects.filter(id=analysis.id).update(sample=None)
    response = owner_client.get(f"/api/analyses/{analysis.id}/files/{kept['id']}")
    assert response.status_code == 400
    assert response.json()["message"] == "Parent sample does not exist"
