"""The Job API of index builds: POST /api/indexes/{id}/files and PATCH /api/indexes/{id}."""

import gzip
import subprocess

import pytest

from history.models import Change
from indexes.models import Index, IndexFile
from indexes.selectors import BOWTIE2_FILE_NAMES, index_directory
from indexes.services import index_create
from indexes.signals import index_ready
from indexes.tests.conftest import read_fasta_gz
from refs.models import OTU, Sequence
from virtool_site.models import Job
from virtool_site.services import job_create

pytestmark = pytest.mark.django_db

REQUIRED = ["reference.json.gz", "reference.fa.gz", *BOWTIE2_FILE_NAMES]


@pytest.fixture
def external(user, built_reference):
    """An index whose build an external runner does; (index, key)."""
    return index_create(user=user, reference_id=built_reference.id, runner="external")


@pytest.fixture
def runner(external, job_client):
    index, key = external
    return job_client(index.job_id, key)


def upload(client, index_id, name, content=b"data", *, field="file"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    url = f"/api/indexes/{index_id}/files" + (f"?name={name}" if name is not None else "")
    return client.post(url, {field: SimpleUploadedFile("blob", content)}, format="multipart")


def upload_all(client, index_id, names=REQUIRED):
    for name in names:
        assert upload(client, index_id, name, f"content of {name}".encode()).status_code == 201


class TestUpload:
    def test_201_with_the_file_document(self, runner, external):
        index, _ = external
        response = upload(runner, index.id, "reference.fa.gz", b"\x1f\x8b fasta")
        assert response.status_code == 201, response.json()
        body = response.json()
        index_file = IndexFile.objects.get(index=index)
        assert body == {
            "id": index_file.id,
            "name": "reference.fa.gz",
            "index": index.id,
            "reference": index.reference_id,
            "size": 8,
            "type": "fasta",
            "download_url": f"/api/indexes/{index.id}/files/reference.fa.gz",
        }
        assert response["Location"] == f"/api/indexes/{index.id}/files/reference.fa.gz"
        assert (index_directory(index) / "reference.fa.gz").read_bytes() == b"\x1f\x8b fasta"

    @pytest.mark.parametrize(
        "name, file_type",
        [
            ("reference.json.gz", "json"),
            ("reference.fa.gz", "fasta"),
            ("reference.1.bt2", "bowtie2"),
            ("reference.2.bt2", "bowtie2"),
            ("reference.3.bt2", "bowtie2"),
            ("reference.4.bt4", "bowtie2"),
            ("reference.4.bt2", "bowtie2"),
            ("reference.rev.1.bt2", "bowtie2"),
            ("reference.rev.2.bt2", "bowtie2"),
        ],
    )
    def test_accepts_every_index_file_name(self, runner, external, name, file_type):
        response = upload(runner, external[0].id, name)
        assert response.status_code == 201
        assert response.json()["type"] == file_type

    def test_the_spec_spelling_reference_4_bt4_is_kept_under_the_name_bowtie2_reads(self, runner, external):
        index = external[0]
        response = upload(runner, index.id, "reference.4.bt4")
        assert response.status_code == 201 and response.json()["name"] == "reference.4.bt2"
        assert (index_directory(index) / "reference.4.bt2").exists()
        assert upload(runner, index.id, "reference.4.bt2").status_code == 409

    def test_administrator_may_upload(self, admin_client, external):
        assert upload(admin_client, external[0].id, "reference.1.bt2").status_code == 201

    @pytest.mark.parametrize("name", ["reference.fa", "reference.5.bt2", "../reference.1.bt2", "reference.1.bt2l", "x"])
    def test_400_for_an_unsupported_name(self, runner, external, name):
        response = upload(runner, external[0].id, name)
        assert response.status_code == 400
        assert response.json() == {"id": "bad_request", "message": "Unsupported index file name"}
        assert not IndexFile.objects.exists()

    def test_400_without_a_file(self, runner, external):
        response = upload(runner, external[0].id, "reference.1.bt2", field="other")
        assert response.status_code == 400

    def test_403_for_a_user(self, user_client, external):
        response = upload(user_client, external[0].id, "reference.1.bt2")
        assert response.status_code == 403
        assert response.json() == {"id": "insufficient_rights", "message": "Insufficient rights"}

    def test_403_for_another_jobs_runner(self, job_client, user, external):
        job, key = job_create(workflow="build_index", user=user)
        response = upload(job_client(job.id, key), external[0].id, "reference.1.bt2")
        assert response.status_code == 403
        assert response.json()["message"] == "Insufficient rights"

    def test_404_for_a_missing_index(self, runner):
        response = upload(runner, "missing1", "reference.1.bt2")
        assert response.status_code == 404
        assert response.json() == {"id": "not_found", "message": "Not found"}

    def test_409_when_the_name_was_already_uploaded(self, runner, external):
        assert upload(runner, external[0].id, "reference.1.bt2", b"first").status_code == 201
        response = upload(runner, external[0].id, "reference.1.bt2", b"second")
        assert response.status_code == 409
        assert response.json() == {"id": "conflict", "message": "File name already exists"}
        assert (index_directory(external[0]) / "reference.1.bt2").read_bytes() == b"first"

    def test_409_for_a_finalized_index(self, admin_client, runner, external):
        upload_all(runner, external[0].id, [n for n in REQUIRED if n != "reference.1.bt2"] + ["reference.1.bt2"])
        assert runner.patch(f"/api/indexes/{external[0].id}").status_code == 200
        assert upload(admin_client, external[0].id, "reference.4.bt4").status_code == 409

    def test_422_without_a_name(self, runner, external):
        response = upload(runner, external[0].id, None)
        assert response.status_code == 422
        assert (response.json()["id"], response.json()["message"]) == ("invalid_query", "Invalid query")
        assert "name" in response.json()["errors"]

    def test_413_over_the_upload_limit(self, runner, external, settings):
        settings.UPLOAD_MAX_BYTES = 1024
        response = upload(runner, external[0].id, "reference.1.bt2", b"x" * 300_000)
        assert response.status_code == 413
        assert not IndexFile.objects.exists()

    def test_401_anonymous(self, api_client, external):
        assert upload(api_client, external[0].id, "reference.1.bt2").status_code == 401

    def test_401_with_a_wrong_job_key(self, job_client, external):
        assert upload(job_client(external[0].job_id, "wrong"), external[0].id, "reference.1.bt2").status_code == 401


class TestFinalize:
    def test_finalizes_an_index_whose_files_were_uploaded(self, runner, external, django_capture_on_commit_callbacks):
        index, _ = external
        received = []

        def receiver(sender, index, **kwargs):
            received.append(index.id)

        upload_all(runner, index.id)
        index_ready.connect(receiver)
        try:
            with django_capture_on_commit_callbacks(execute=True):
                response = runner.patch(f"/api/indexes/{index.id}")
        finally:
            index_ready.disconnect(receiver)
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["ready"] is True
        assert len(body["files"]) == 8
        assert received == [index.id]
        index.refresh_from_db()
        assert index.ready
        assert Job.objects.get(id=index.job_id).state == "complete"
        for otu in OTU.objects.filter(reference_id=index.reference_id):
            assert otu.last_indexed_version == index.manifest[otu.id]

    def test_the_spec_name_reference_4_bt4_satisfies_the_fourth_bowtie2_file(self, runner, external):
        index, _ = external
        upload_all(runner, index.id, [n if n != "reference.4.bt2" else "reference.4.bt4" for n in REQUIRED])
        assert runner.patch(f"/api/indexes/{index.id}").status_code == 200

    def test_the_job_key_stops_working_once_finalized(self, runner, external):
        upload_all(runner, external[0].id)
        assert runner.patch(f"/api/indexes/{external[0].id}").status_code == 200
        assert runner.get(f"/api/indexes/{external[0].id}").status_code == 401

    def test_409_when_required_files_are_missing(self, runner, external):
        index, _ = external
        upload_all(runner, index.id, ["reference.json.gz", "reference.1.bt2"])
        response = runner.patch(f"/api/indexes/{index.id}")
        assert response.status_code == 409
        message = response.json()["message"]
        assert "reference.fa.gz" in message and "reference.rev.2.bt2" in message
        assert "reference.1.bt2," not in message
        index.refresh_from_db()
        assert not index.ready
        assert OTU.objects.filter(last_indexed_version__isnull=False).count() == 0

    def test_409_when_already_finalized(self, admin_client, runner, external):
        upload_all(runner, external[0].id)
        assert runner.patch(f"/api/indexes/{external[0].id}").status_code == 200
        response = admin_client.patch(f"/api/indexes/{external[0].id}")
        assert response.status_code == 409

    def test_409_when_the_job_was_cancelled(self, admin_client, external):
        from virtool_site.services import job_cancel

        upload_all(admin_client, external[0].id)
        job_cancel(job_id=external[0].job_id)
        assert admin_client.patch(f"/api/indexes/{external[0].id}").status_code == 409

    def test_administrator_may_finalize(self, admin_client, external):
        upload_all(admin_client, external[0].id)
        assert admin_client.patch(f"/api/indexes/{external[0].id}").status_code == 200

    def test_403_for_a_user_even_with_the_build_right(self, user_client, external):
        response = user_client.patch(f"/api/indexes/{external[0].id}")
        assert response.status_code == 403
        assert response.json()["message"] == "Insufficient rights"

    def test_403_for_another_jobs_runner(self, job_client, user, external):
        job, key = job_create(workflow="build_index", user=user)
        assert job_client(job.id, key).patch(f"/api/indexes/{external[0].id}").status_code == 403

    def test_404_for_a_missing_index(self, runner):
        assert runner.patch("/api/indexes/missing1").status_code == 404

    def test_401_anonymous(self, api_client, external):
        assert api_client.patch(f"/api/indexes/{external[0].id}").status_code == 401


def test_an_external_runner_builds_an_index_through_the_job_api(user_client, job_client, built_reference, tmp_path):
    """What a workflow runner does: read the manifest, build with bowtie2, upload, finalize."""
    created = user_client.post(f"/api/refs/{built_reference.id}/indexes", {"runner": "external"}, format="json").json()
    runner = job_client(created["job"]["id"], created["job"]["key"])
    index = runner.get(f"/api/indexes/{created['id']}").json()
    assert index["ready"] is False

    work = tmp_path / "runner"
    work.mkdir()
    sequences = Sequence.objects.filter(otu_id__in=index["manifest"], isolate__default=True).order_by("id")
    (work / "reference.fa").write_text("".join(f">{s.id}\n{s.sequence}\n" for s in sequences))
    with open(work / "reference.fa", "rb") as src, gzip.open(work / "reference.fa.gz", "wb") as dst:
        dst.write(src.read())
    with gzip.open(work / "reference.json.gz", "wt") as handle:
        handle.write('{"otus": []}')
    subprocess.run(["bowtie2-build", "-q", str(work / "reference.fa"), str(work / "reference")], check=True)
    for name in REQUIRED:
        with open(work / name, "rb") as handle:
            response = runner.post(
                f"/api/indexes/{created['id']}/files?name={name}", {"file": handle}, format="multipart"
            )
        assert response.status_code == 201, response.json()

    response = runner.patch(f"/api/indexes/{created['id']}")
    assert response.status_code == 200
    assert response.json()["ready"] is True
    built = Index.objects.get(id=created["id"])
    assert read_fasta_gz(index_directory(built) / "reference.fa.gz") == {s.id: s.sequence for s in sequences}
    assert Change.objects.filter(index=built).count() == 3
    listed = user_client.get(f"/api/refs/{built_reference.id}/indexes").json()["documents"]
    assert [(d["id"], d["ready"], d["has_files"]) for d in listed] == [(built.id, True, True)]
