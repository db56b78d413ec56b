"""Cloning references: POST /api/refs with clone_from and the clone_reference task."""

import pytest

from history.models import Change
from refs import services, tasks
from refs.documents import otu_document, otus_with_children
from refs.models import OTU, Isolate, Reference, ReferenceUser, Sequence
from refs.processes.history_sql import CreationHistory
from refs.processes.writer import BulkWriter
from refs.tests.test_transfer_import import file_form, start_import
from refs.tests.transfer_factories import file_otu, reference_file
from virtool_site import bulk_copy
from virtool_site.models import Process

pytestmark = pytest.mark.django_db


@pytest.fixture
def source(curator, tmp_path, django_capture_on_commit_callbacks):
    """An imported reference of 6 OTUs, one of them edited since (version 2) and one built."""
    otus = [file_otu(isolates=1 + n % 3, sequences=1 + n % 2) for n in range(6)]
    otus[5]["isolates"] = []
    reference = start_import(curator, reference_file(tmp_path / "s.json.gz", otus), django_capture_on_commit_callbacks,
                             name="Plant Viruses")
    edited = OTU.objects.get(reference=reference, name=otus[0]["name"])
    services.otu_edit(user=curator, otu_id=edited.id, abbreviation="")
    services.otu_edit(user=curator, otu_id=edited.id, name="Renamed virus")
    OTU.objects.filter(reference=reference, name=otus[1]["name"]).update(last_indexed_version=0)
    return Reference.objects.get(id=reference.id)


def clone(user, source_id, django_capture_on_commit_callbacks, name="Clone") -> Reference:
    with django_capture_on_commit_callbacks(execute=True):
        reference = services.reference_create_clone(
            user=user, source_id=source_id, name=name, description="", organism="", data_type="genome", public=False
        )
    return Reference.objects.get(id=reference.id)


def documents(reference) -> list[dict]:
    return [otu_document(o) for o in otus_with_children(OTU.objects.filter(reference=reference).order_by("name"))]


def test_post_refs_with_clone_from_answers_201_with_cloned_from(
    curator_client, source, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = curator_client.post(
            "/api/refs", {"name": "My copy", "data_type": "genome", "clone_from": source.id}, format="json"
        )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["cloned_from"] == {"id": source.id, "name": "Plant Viruses"}
    assert body["name"] == "My copy"
    process = Process.objects.get(id=body["process"]["id"])
    assert process.type == "clone_reference" and process.steps == ["copy_otus", "write_history"]
    assert process.complete and process.error is None
    assert OTU.objects.filter(reference_id=body["id"]).count() == 6


@pytest.mark.parametrize("portable", [False, True], ids=["in_database", "bulk_create"])
def test_clone_copies_every_otu_with_new_ids_and_a_clone_change_each(
    curator, source, django_capture_on_commit_callbacks, monkeypatch, portable
):
    if portable:
        monkeypatch.setattr(bulk_copy, "copy_available", lambda: False)
    copy = clone(curator, source.id, django_capture_on_commit_callbacks)
    originals, copies = documents(source), documents(copy)
    assert [file_form(d) for d in copies] == [file_form(d) for d in originals]
    assert not {d["_id"] for d in originals} & {d["_id"] for d in copies}
    original_sequences = set(Sequence.objects.filter(otu__reference=source).values_list("id", flat=True))
    copied_sequences = set(Sequence.objects.filter(otu__reference=copy).values_list("id", flat=True))
    assert len(copied_sequences) == len(original_sequences) and not copied_sequences & original_sequences
    assert Isolate.objects.filter(otu__reference=copy).count() == Isolate.objects.filter(otu__reference=source).count()
    changes = {c.otu_id: c for c in Change.objects.filter(reference_id=copy.id)}
    assert len(changes) == 6
    for document in copies:
        assert document["version"] == 0 and document["last_indexed_version"] is None
        assert document["reference"] == {"id": copy.id}
        change = changes[document["_id"]]
        assert change.id == f"{document['_id']}.0" and change.method_name == "clone"
        label = f"{document['name']} ({document['abbreviation']})" if document["abbreviation"] else document["name"]
        assert change.description == f"Cloned {label} from Plant Viruses"
        assert change.user == curator
        assert change.diff == document
    verified = {d["name"]: d["verified"] for d in copies}
    assert verified == {d["name"]: d["verified"] for d in originals}
    # The source is untouched.
    assert Change.objects.filter(reference_id=source.id).count() == 8


def test_clone_takes_data_type_and_source_types_from_the_source(curator, source, django_capture_on_commit_callbacks):
    Reference.objects.filter(id=source.id).update(restrict_source_types=True, source_types=["isolate", "clone"])
    copy = clone(curator, source.id, django_capture_on_commit_callbacks)
    assert copy.data_type == source.data_type
    assert (copy.restrict_source_types, copy.source_types) == (True, ["isolate", "clone"])
    assert ReferenceUser.objects.filter(reference=copy, user=curator, remove=True).exists()


def test_clone_of_a_remote_reference_is_not_remote(curator, source, django_capture_on_commit_callbacks):
    OTU.objects.filter(reference=source).update(remote_id="remote01")
    Sequence.objects.filter(otu__reference=source).update(remote_id="remseq01")
    copy = clone(curator, source.id, django_capture_on_commit_callbacks)
    assert not OTU.objects.filter(reference=copy, remote_id__isnull=False).exists()
    assert not Sequence.objects.filter(otu__reference=copy, remote_id__isnull=False).exists()
    assert all("remote" not in c.diff for c in Change.objects.filter(reference_id=copy.id))


def test_clone_of_a_reference_the_user_cannot_see_is_400(
    source, user_factory, client_for
):
    stranger = user_factory(username="stranger", create_ref=True)
    response = client_for(stranger).post(
        "/api/refs", {"name": "Copy", "data_type": "genome", "clone_from": source.id}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"id": "bad_request", "message": "Source reference does not exist"}


def test_clone_of_an_unknown_reference_is_400(curator_client):
    response = curator_client.post(
        "/api/refs", {"name": "Copy", "data_type": "genome", "clone_from": "nothere1"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Source reference does not exist"


def test_clone_of_a_public_reference_of_another_user(source, user_factory, client_for, django_capture_on_commit_callbacks):
    Reference.objects.filter(id=source.id).update(public=True)
    reader = user_factory(username="reader", create_ref=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(reader).post(
            "/api/refs", {"name": "Mine", "data_type": "genome", "clone_from": source.id}, format="json"
        )
    assert response.status_code == 201
    assert OTU.objects.filter(reference_id=response.json()["id"]).count() == 6


def test_a_source_deleted_before_the_task_runs_fails_the_process(curator, source, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        reference = services.reference_create_clone(
            user=curator, source_id=source.id, name="Copy", description="", organism="", data_type="genome",
            public=False,
        )
    Reference.objects.filter(id=source.id).update(deleted=True)
    for callback in callbacks:
        callback()
    process = Process.objects.get(id=reference.process_id)
    assert process.error == {"id": "transfer_error", "message": "Source reference does not exist"}
    assert not OTU.objects.filter(reference_id=reference.id).exists()
    assert not Reference.all_objects.filter(id=reference.id).exists()


def test_a_redelivered_clone_writes_nothing_twice(curator, source, django_capture_on_commit_callbacks):
    copy = clone(curator, source.id, django_capture_on_commit_callbacks)
    Process.objects.filter(id=copy.process_id).update(complete=False, step="write_history")
    tasks.clone_reference(copy.id, copy.process_id, source.id, curator.pk)
    process = Process.objects.get(id=copy.process_id)
    assert process.complete and process.error is None
    assert OTU.objects.filter(reference=copy).count() == 6
    assert Change.objects.filter(reference_id=copy.id).count() == 6


def test_a_failed_clone_leaves_no_otu_behind(curator, source, django_capture_on_commit_callbacks, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("history store unavailable")

    # The last write of either path (SQL-built history, or the portable writer's Changes).
    monkeypatch.setattr(CreationHistory, "insert", broken)
    monkeypatch.setattr(BulkWriter, "write_history", broken)
    with django_capture_on_commit_callbacks(execute=True):
        copy = services.reference_create_clone(
            user=curator, source_id=source.id, name="Clone", description="", organism="", data_type="genome",
            public=False,
        )
    process = Process.objects.get(id=copy.process_id)
    assert process.error["message"] == "history store unavailable"
    assert not OTU.objects.filter(reference_id=copy.id).exists()
    assert not Sequence.objects.filter(otu__reference_id=copy.id).exists()
    # The reference made for the clone went with the failure.
    assert not Reference.all_objects.filter(id=copy.id).exists()
