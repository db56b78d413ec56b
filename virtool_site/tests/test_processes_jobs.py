import pytest

from virtool_site.models import Job
from virtool_site.services import (
    job_create,
    process_complete,
    process_create,
    process_fail,
    process_progress,
    process_restart,
    process_step,
)

pytestmark = pytest.mark.django_db


def test_process_document_has_the_virtool_fields(user_client, user):
    process = process_create(process_type="delete_reference", steps=["delete_indexes", "delete_otus"], user=user, context={"ref_id": "x"})
    body = user_client.get(f"/api/processes/{process.id}").json()
    assert body == {
        "id": process.id,
        "type": "delete_reference",
        "step": "delete_indexes",
        "step_count": 2,
        "progress": 0,
        "complete": False,
        "error": None,
        "context": {"ref_id": "x"},
        "created_at": body["created_at"],
    }


def test_process_advances_through_steps_and_completes(user):
    process = process_create(process_type="import_reference", steps=["load", "validate", "write", "history"], user=user)
    process_step(process_id=process.id, step="validate")
    process.refresh_from_db()
    assert (process.step, process.progress) == ("validate", 0.25)
    process_progress(process_id=process.id, step_fraction=0.5)
    process.refresh_from_db()
    assert process.progress == pytest.approx(0.375)
    process_complete(process_id=process.id)
    process.refresh_from_db()
    assert process.complete and process.progress == 1


def test_process_records_errors_and_restarts_clean(user):
    process = process_create(process_type="import_reference", steps=["load", "write"], user=user)
    process_step(process_id=process.id, step="write")
    process_fail(process_id=process.id, error=ValueError("boom"))
    process.refresh_from_db()
    assert process.complete and process.error == {"type": "ValueError", "message": "boom"}
    process_restart(process_id=process.id)
    process.refresh_from_db()
    assert (process.step, process.complete, process.error, process.progress) == ("load", False, None, 0)


def test_processes_are_visible_to_their_user_and_administrators(client_for, user, user_factory, admin_user):
    process = process_create(process_type="clone_reference", steps=["copy"], user=user)
    other = user_factory()
    assert client_for(other).get(f"/api/processes/{process.id}").status_code == 404
    assert client_for(admin_user).get(f"/api/processes/{process.id}").status_code == 200
    assert [p["id"] for p in client_for(user).get("/api/processes").json()] == [process.id]


def test_unknown_process_is_404(user_client):
    response = user_client.get("/api/processes/nothere")
    assert response.status_code == 404
    assert response.json() == {"id": "not_found", "message": "Not found"}


def test_jobs_list_and_cancel_needs_cancel_job(client_for, user_factory):
    owner = user_factory()
    job, _ = job_create(workflow="build_index", user=owner)
    listed = client_for(owner).get("/api/jobs").json()
    assert [j["id"] for j in listed["documents"]] == [job.id]
    assert client_for(owner).put(f"/api/jobs/{job.id}/cancel").status_code == 403
    canceller = user_factory(cancel_job=True)
    response = client_for(canceller).put(f"/api/jobs/{job.id}/cancel")
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    assert client_for(canceller).put(f"/api/jobs/{job.id}/cancel").status_code == 409
    assert client_for(canceller).put("/api/jobs/unknown1/cancel").status_code == 404


def test_a_job_runner_reads_only_its_own_job(api_client, user):
    import base64

    job, key = job_create(workflow="nuvs", user=user)
    other, _ = job_create(workflow="nuvs", user=user)
    header = "Basic " + base64.b64encode(f"job-{job.id}:{key}".encode()).decode()
    assert api_client.get(f"/api/jobs/{other.id}", HTTP_AUTHORIZATION=header).status_code == 404
    Job.objects.filter(id=job.id).update(state="complete")
    assert api_client.get(f"/api/jobs/{job.id}", HTTP_AUTHORIZATION=header).status_code == 401
