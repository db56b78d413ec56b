"""spec/refs.md, endpoint by endpoint: documented behaviours not pinned elsewhere."""

import re

import pytest

from refs import services
from refs.models import OTU
from refs.tests.factories import ReferenceFactory
from refs.tests.test_transfer_import import start_import
from refs.tests.transfer_factories import file_otu, reference_file

pytestmark = pytest.mark.django_db

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
RIGHTS_KEYS = {"id", "build", "modify", "modify_kind", "remove"}


@pytest.fixture
def imported(curator, tmp_path, django_capture_on_commit_callbacks):
    path = reference_file(tmp_path / "r.json.gz", [file_otu() for _ in range(2)])
    return start_import(curator, path, django_capture_on_commit_callbacks)


# List -------------------------------------------------------------------------------------------


def test_list_defaults_to_the_first_page_of_15(owner_client, owner):
    for n in range(16):
        ReferenceFactory(user=owner, name=f"Ref {n:02d}")
    body = owner_client.get("/api/refs").json()
    assert len(body["documents"]) == 15
    assert (body["page"], body["per_page"], body["page_count"], body["found_count"], body["total_count"]) == (
        1, 15, 2, 16, 16,
    )
    assert len(owner_client.get("/api/refs?page=2").json()["documents"]) == 1


def test_list_document_of_an_imported_reference_has_the_spec_fields(curator_client, imported):
    document = curator_client.get("/api/refs").json()["documents"][0]
    assert TIME.fullmatch(document["created_at"])
    assert {key: document[key] for key in ("id", "name", "data_type", "public", "user", "latest_build")} == {
        "id": imported.id,
        "name": "Imported",
        "data_type": "genome",
        "public": False,
        "user": {"id": "curator"},
        "latest_build": None,
    }
    assert "organism" in document
    assert document["imported_from"]["name"] == "reference.json.gz"
    assert document["imported_from"]["user"] == {"id": "curator"}
    assert document["imported_from"]["id"].endswith("-reference.json.gz")
    assert document["process"] == {"id": imported.process_id}


# Get --------------------------------------------------------------------------------------------


def test_get_of_an_imported_reference_has_every_field_of_the_spec(curator_client, imported):
    body = curator_client.get(f"/api/refs/{imported.id}").json()
    assert TIME.fullmatch(body["created_at"])
    assert {key: body[key] for key in ("id", "name", "description", "data_type", "public", "user")} == {
        "id": imported.id,
        "name": "Imported",
        "description": "",
        "data_type": "genome",
        "public": False,
        "user": {"id": "curator"},
    }
    assert "organism" in body
    assert (body["internal_control"], body["latest_build"]) == (None, None)
    assert body["imported_from"]["user"] == {"id": "curator"}
    assert body["process"] == {"id": imported.process_id}
    assert len(body["users"]) == 1 and RIGHTS_KEYS <= set(body["users"][0])
    assert {k: body["users"][0][k] for k in RIGHTS_KEYS} == {
        "id": "curator", "build": True, "modify": True, "modify_kind": True, "remove": True,
    }
    # The import's OTUs were created by the importing user.
    assert body["contributors"] == [{"id": "curator", "count": OTU.objects.filter(reference=imported).count()}]


# Create -----------------------------------------------------------------------------------------


def test_create_honours_description_and_public(curator_client):
    response = curator_client.post(
        "/api/refs",
        {"name": "Shared", "description": "For everyone", "data_type": "genome", "public": True},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["description"], body["public"]) == ("For everyone", True)


def test_create_without_the_optional_organism_is_201(curator_client):
    response = curator_client.post("/api/refs", {"name": "Plain", "data_type": "genome"}, format="json")
    assert response.status_code == 201
    assert response.json()["name"] == "Plain"


# Remove -----------------------------------------------------------------------------------------


def test_remove_hides_the_references_history_at_once(
    owner_client, owner, reference, abtv, django_capture_on_commit_callbacks
):
    services.otu_edit(user=owner, otu_id=abtv.id, abbreviation="")
    with django_capture_on_commit_callbacks(execute=False):
        response = owner_client.delete(f"/api/refs/{reference.id}")
    assert response.status_code == 202
    assert response["Content-Location"] == f"/api/processes/{response.json()['id']}"
    assert owner_client.get("/api/history").json()["documents"] == []
    assert owner_client.get(f"/api/history/{abtv.id}.1").status_code == 404
    assert owner_client.get(f"/api/otus/{abtv.id}/history").status_code == 404
    assert owner_client.get(f"/api/refs/{reference.id}/history").status_code == 404
    assert owner_client.delete(f"/api/history/{abtv.id}.1").status_code == 404


def test_remove_of_a_missing_reference_is_404_not_found(owner_client):
    response = owner_client.delete("/api/refs/nothere0")
    assert response.status_code == 404
    assert response.json() == {"id": "not_found", "message": "Not found"}
