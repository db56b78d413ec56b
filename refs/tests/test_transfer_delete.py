"""DELETE /api/refs/{id}: the reference vanishes at once, a delete_reference task removes
its indexes (rows and files), OTUs, isolates, sequences and history, then the row."""

import pytest

from history.models import Change
from indexes.models import Index, IndexFile
from refs import services, tasks
from refs.models import OTU, Isolate, Reference, ReferenceUser, Sequence
from refs.processes.common import DELETE_STEPS
from refs.tests.test_transfer_import import start_import
from refs.tests.transfer_factories import file_otu, reference_file
from virtool_site.files import data_path
from virtool_site.models import Process

pytestmark = pytest.mark.django_db


@pytest.fixture
def reference(curator, tmp_path, django_capture_on_commit_callbacks):
    """An imported reference with a ready index and its files on disk."""
    path = reference_file(tmp_path / "r.json.gz", [file_otu(isolates=2, sequences=2) for _ in range(5)])
    reference = start_import(curator, path, django_capture_on_commit_callbacks)
    index = Index.objects.create(reference=reference, version=0, ready=True, user=curator,
                                 manifest={o.id: 0 for o in OTU.objects.filter(reference=reference)})
    Change.objects.filter(reference_id=reference.id).update(index=index)
    directory = data_path("references", reference.id, index.id)
    directory.mkdir(parents=True)
    for name in ("reference.fa.gz", "reference.json.gz", "reference.1.bt2"):
        (directory / name).write_bytes(b"index data")
        IndexFile.objects.create(index=index, name=name, type="bowtie2", size=10)
    return Reference.objects.get(id=reference.id)


@pytest.fixture
def other(curator, tmp_path, django_capture_on_commit_callbacks):
    return start_import(curator, reference_file(tmp_path / "o.json.gz", [file_otu() for _ in range(2)]),
                        django_capture_on_commit_callbacks, name="Other")


def test_delete_answers_202_with_the_process_of_the_spec(curator_client, reference, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = curator_client.delete(f"/api/refs/{reference.id}")
    assert response.status_code == 202
    body = response.json()
    assert response["Content-Location"] == f"/api/processes/{body['id']}"
    # The spec's document; the process API adds complete, error and context.
    assert {k: body[k] for k in ("progress", "step", "step_count", "type")} == {
        "progress": 0, "step": "delete_indexes", "step_count": 2, "type": "delete_reference",
    }
    assert body["created_at"].endswith("Z") and len(body["id"]) == 8
    assert Process.objects.get(id=body["id"]).steps == ["delete_indexes", "delete_otus"]


def test_a_deleted_reference_disappears_from_every_endpoint_before_the_task_runs(
    curator_client, reference, django_capture_on_commit_callbacks
):
    otu = OTU.objects.filter(reference=reference).first()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert curator_client.delete(f"/api/refs/{reference.id}").status_code == 202
    assert len(callbacks) == 1
    # Nothing has been removed yet, but nobody can reach it any more.
    assert OTU.objects.filter(reference=reference).count() == 5
    assert curator_client.get(f"/api/refs/{reference.id}").status_code == 404
    assert reference.id not in [r["id"] for r in curator_client.get("/api/refs").json()["documents"]]
    assert curator_client.get(f"/api/refs/{reference.id}/otus").status_code == 404
    assert curator_client.get(f"/api/refs/{reference.id}/export?scope=unbuilt").status_code == 404
    assert curator_client.get(f"/api/otus/{otu.id}").status_code == 404
    assert curator_client.delete(f"/api/refs/{reference.id}").status_code == 404


def test_the_task_removes_indexes_files_otus_history_and_the_reference(
    curator_client, reference, other, django_capture_on_commit_callbacks
):
    directory = data_path("references", reference.id)
    assert directory.exists()
    with django_capture_on_commit_callbacks(execute=True):
        process_id = curator_client.delete(f"/api/refs/{reference.id}").json()["id"]
    process = Process.objects.get(id=process_id)
    assert process.complete and process.error is None and process.progress == 1.0
    assert process.step == "delete_otus"
    assert not Reference.all_objects.filter(id=reference.id).exists()
    assert not ReferenceUser.objects.filter(reference_id=reference.id).exists()
    assert not Index.objects.filter(reference_id=reference.id).exists()
    assert not IndexFile.objects.filter(index__reference_id=reference.id).exists()
    assert not directory.exists()
    assert not OTU.objects.filter(reference_id=reference.id).exists()
    assert not Isolate.objects.filter(otu__reference_id=reference.id).exists()
    assert not Sequence.objects.filter(otu__reference_id=reference.id).exists()
    assert not Change.objects.filter(reference_id=reference.id).exists()
    # Other references are untouched.
    assert OTU.objects.filter(reference=other).count() == 2
    assert Change.objects.filter(reference_id=other.id).count() == 2
    # The process stays readable.
    assert curator_client.get(f"/api/processes/{process_id}").json()["complete"] is True


def test_analyses_that_used_the_reference_stay_readable(
    curator_client, reference, client_for, django_capture_on_commit_callbacks
):
    from analyses.tests.factories import AnalysisFactory

    index = Index.objects.get(reference=reference)
    analysis = AnalysisFactory(reference_id=reference.id, reference_name=reference.name, index_id=index.id,
                               index_version=index.version, ready=True)
    with django_capture_on_commit_callbacks(execute=True):
        assert curator_client.delete(f"/api/refs/{reference.id}").status_code == 202
    response = client_for(analysis.sample.user).get(f"/api/analyses/{analysis.id}")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["id"] == analysis.id
    assert reference.id in str(body) and reference.name in str(body)


def test_delete_needs_the_remove_right(reference, user_factory, client_for):
    member = user_factory(username="member")
    ReferenceUser.objects.create(reference=reference, user=member, build=True, modify=True, modify_otu=True)
    response = client_for(member).delete(f"/api/refs/{reference.id}")
    assert response.status_code == 403
    assert response.json() == {"id": "insufficient_rights", "message": "Insufficient rights"}
    assert Reference.objects.filter(id=reference.id).exists()


def test_delete_of_an_invisible_reference_is_404(reference, user_factory, client_for):
    response = client_for(user_factory(username="stranger")).delete(f"/api/refs/{reference.id}")
    assert response.status_code == 404
    assert Reference.objects.filter(id=reference.id).exists()


def test_delete_by_an_anonymous_client_is_401(reference, api_client):
    assert api_client.delete(f"/api/refs/{reference.id}").status_code == 401


def test_an_administrator_may_delete_any_reference(reference, admin_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.delete(f"/api/refs/{reference.id}").status_code == 202
    assert not Reference.all_objects.filter(id=reference.id).exists()


def test_a_deletion_interrupted_midway_completes_when_run_again(curator, reference):
    process = services.reference_delete(user=curator, reference=reference, queue=False)
    # A worker died after the first step: indexes gone, OTUs still there.
    Index.objects.filter(reference=reference).delete()
    Process.objects.filter(id=process.id).update(step="delete_otus", progress=0.5)
    tasks.delete_reference(reference.id, process.id)
    process.refresh_from_db()
    assert process.complete and process.error is None
    assert not Reference.all_objects.filter(id=reference.id).exists()
    assert not OTU.objects.filter(reference_id=reference.id).exists()
    # Running it once more changes nothing and fails nothing.
    tasks.delete_reference(reference.id, process.id)
    assert Process.objects.get(id=process.id).error is None


def test_the_task_refuses_a_reference_not_marked_for_deletion(curator, reference):
    from virtool_site.services import process_create

    process = process_create(process_type="delete_reference", steps=DELETE_STEPS, user=curator)
    tasks.delete_reference(reference.id, process.id)
    assert Process.objects.get(id=process.id).error["message"] == "Reference is not marked for deletion"
    assert OTU.objects.filter(reference=reference).count() == 5


def test_the_remove_right_may_come_from_a_group(reference, user_factory, client_for,
                                                 django_capture_on_commit_callbacks):
    from django.contrib.auth.models import Group

    from refs.models import ReferenceGroup

    group = Group.objects.create(name="curators")
    member = user_factory(username="member")
    member.groups.add(group)
    ReferenceGroup.objects.create(reference=reference, group=group, remove=True)
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(member).delete(f"/api/refs/{reference.id}").status_code == 202
    assert not Reference.all_objects.filter(id=reference.id).exists()
