"""Deletions that cross apps: an upload an import still needs, a user whose jobs still run,
a sample removed while its runner uploads a file."""

import base64
import threading
import time

import pytest
from django.core.files.base import ContentFile
from django.db import connection

from analyses import services as analyses_services
from analyses.models import AnalysisFile
from analyses.tests.factories import AnalysisFactory, SampleFactory
from refs import services as refs_services
from refs.tests.transfer_factories import reference_file, upload_from
from virtool_site.errors import NotFound
from virtool_site.models import Job, Process, Upload
from virtool_site.services import job_authenticate, job_create
from virtool_site.storage import file_storage


# Uploads and imports -----------------------------------------------------------------------


def _import_start(user, upload):
    return refs_services.reference_create_import(
        user=user, upload_id=upload.id, name="Imported", description="", organism="", data_type="genome", public=False
    )


@pytest.mark.django_db
def test_deleting_an_upload_an_import_has_not_read_yet_is_409_and_keeps_it(user_factory, client_for, tmp_path):
    curator = user_factory(create_ref=True, remove_file=True)
    upload = upload_from(reference_file(tmp_path / "r.json.gz"), user=curator)
    _import_start(curator, upload)  # its task is queued on commit, which this test never reaches

    response = client_for(curator).delete(f"/api/uploads/{upload.id}")

    assert response.status_code == 409
    assert response.json() == {"id": "conflict", "message": "Upload is in use by an import"}
    assert Upload.objects.filter(id=upload.id).exists()
    assert file_storage().exists(f"uploads/{upload.id}")


@pytest.mark.django_db
def test_an_upload_whose_import_finished_can_be_deleted(
    user_factory, client_for, tmp_path, django_capture_on_commit_callbacks
):
    curator = user_factory(create_ref=True, remove_file=True)
    upload = upload_from(reference_file(tmp_path / "r.json.gz"), user=curator)
    with django_capture_on_commit_callbacks(execute=True):
        reference = _import_start(curator, upload)
    assert Process.objects.get(id=reference.process_id).complete

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(curator).delete(f"/api/uploads/{upload.id}")

    assert response.status_code == 204
    assert not Upload.objects.filter(id=upload.id).exists()


# Users and their jobs ----------------------------------------------------------------------


@pytest.mark.django_db
def test_deleting_a_user_cancels_their_unfinished_jobs_so_the_job_keys_stop(user_factory, api_client):
    user = user_factory()
    running, key = job_create(workflow="pathoscope_bowtie", user=user)
    Job.objects.filter(id=running.id).update(state=Job.State.RUNNING)
    finished, _ = job_create(workflow="pathoscope_bowtie", user=user)
    Job.objects.filter(id=finished.id).update(state=Job.State.COMPLETE)
    assert job_authenticate(job_id=running.id, key=key) is not None

    user.delete()

    assert job_authenticate(job_id=running.id, key=key) is None
    api_client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"job-{running.id}:{key}".encode()).decode())
    assert api_client.get(f"/api/jobs/{running.id}").status_code == 401
    assert Job.objects.get(id=running.id).state == Job.State.CANCELLED
    assert Job.objects.get(id=finished.id).state == Job.State.COMPLETE


# Samples and their runners' files -----------------------------------------------------------


class GatedFile(ContentFile):
    """An uploaded file whose content arrives only once the test lets it."""

    def __init__(self, content, *, started: threading.Event, release: threading.Event):
        super().__init__(content, name="results.fa")
        self.started, self.release = started, release

    def chunks(self, chunk_size=None):
        self.started.set()
        assert self.release.wait(15)
        yield from super().chunks(chunk_size)


def _in_thread(target, outcome: dict, name: str) -> threading.Thread:
    def run():
        try:
            outcome[name] = target()
        except BaseException as error:  # noqa: BLE001 - reported to the test
            outcome[name] = error
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_a_sample_removed_while_its_runner_uploads_a_file_waits_and_removes_the_file_too(user_factory):
    owner = user_factory()
    sample = SampleFactory(user=owner)
    job, _ = job_create(workflow="pathoscope_bowtie", user=owner)
    analysis = AnalysisFactory(sample=sample, job=job)
    started, release = threading.Event(), threading.Event()
    outcome: dict = {}

    upload = _in_thread(
        lambda: analyses_services.analysis_file_create(
            analysis=analysis, name="results.fa", file_format=None,
            uploaded_file=GatedFile(b">a\nACGT\n", started=started, release=release),
        ),
        outcome,
        "upload",
    )
    assert started.wait(15)
    removal = _in_thread(lambda: analyses_services.sample_remove(sample=sample), outcome, "removal")
    time.sleep(0.5)
    release.set()
    upload.join(15)
    removal.join(15)

    assert isinstance(outcome["upload"], AnalysisFile), outcome["upload"]
    assert outcome["removal"] is None, outcome["removal"]
    assert not AnalysisFile.objects.filter(analysis_id=analysis.id).exists()
    assert not file_storage().exists(f"analyses/{analysis.id}/{outcome['upload'].name_on_disk}")
    assert Job.objects.get(id=job.id).state == Job.State.CANCELLED


@pytest.mark.django_db(transaction=True)
def test_a_file_uploaded_for_an_analysis_removed_just_before_is_404_and_stores_nothing(user_factory):
    owner = user_factory()
    sample = SampleFactory(user=owner)
    analysis = AnalysisFactory(sample=sample)
    analyses_services.sample_remove(sample=sample)

    with pytest.raises(NotFound):
        analyses_services.analysis_file_create(
            analysis=analysis, name="results.fa", file_format=None, uploaded_file=ContentFile(b">a\nACGT\n")
        )

    assert not AnalysisFile.objects.exists()
    folder = f"analyses/{analysis.id}"
    assert not file_storage().exists(folder) or file_storage().listdir(folder) == ([], [])
