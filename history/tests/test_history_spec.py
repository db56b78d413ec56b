"""spec/history.md, endpoint by endpoint: documented behaviours not pinned elsewhere."""

import re

import pytest

from history.models import Change
from refs import services
from refs.models import OTU, Reference

pytestmark = pytest.mark.django_db

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
NOT_FOUND = {"id": "not_found", "message": "Not found"}


# Find -------------------------------------------------------------------------------------------


def test_find_documents_have_every_field_of_the_spec_and_no_diff(owner_client, owner, abtv):
    services.otu_edit(user=owner, otu_id=abtv.id, abbreviation="")
    document = owner_client.get("/api/history").json()["documents"][0]
    assert TIME.fullmatch(document.pop("created_at"))
    assert {key: document[key] for key in ("id", "method_name", "description", "virus", "index", "user")} == {
        "id": f"{abtv.id}.1",
        "method_name": "edit",
        "description": "Removed abbreviation ABTV",
        "virus": {"id": abtv.id, "name": "Abaca bunchy top virus", "version": 1},
        "index": {"id": "unbuilt", "version": "unbuilt"},
        "user": {"id": "owner"},
    }
    assert "diff" not in document


def test_find_defaults_to_the_first_page_of_15(owner_client, owner, abtv):
    for n in range(15):
        services.otu_edit(user=owner, otu_id=abtv.id, name=f"Name {n}")
    body = owner_client.get("/api/history").json()
    assert len(body["documents"]) == 15
    assert (body["page"], body["per_page"], body["page_count"], body["found_count"], body["total_count"]) == (
        1, 15, 2, 16, 16,
    )
    assert body["documents"][0]["id"] == f"{abtv.id}.15"
    assert [d["id"] for d in owner_client.get("/api/history?page=2").json()["documents"]] == [f"{abtv.id}.0"]


def test_find_invalid_query_body_is_the_spec_error(owner_client):
    response = owner_client.get("/api/history?per_page=many")
    assert response.status_code == 422
    body = response.json()
    assert (body["id"], body["message"]) == ("invalid_query", "Invalid query")
    assert "per_page" in body["errors"]


# Get --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("change_id", ["nothere0.0", "nodotatall", "nothere0.removed"])
def test_get_change_that_does_not_exist_is_404_not_found(owner_client, abtv, change_id):
    response = owner_client.get(f"/api/history/{change_id}")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_get_change_of_a_deleted_reference_is_404_not_found(owner_client, reference, abtv):
    Reference.objects.filter(id=reference.id).update(deleted=True)
    response = owner_client.get(f"/api/history/{abtv.id}.0")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


# Revert -----------------------------------------------------------------------------------------


def test_revert_answers_204_with_no_body(owner_client, owner, abtv):
    services.otu_edit(user=owner, otu_id=abtv.id, abbreviation="")
    response = owner_client.delete(f"/api/history/{abtv.id}.1")
    assert response.status_code == 204
    assert response.content == b""


def test_revert_missing_change_is_404_not_found(owner_client, stranger_client, abtv):
    for client, change_id in ((owner_client, "nothere0.3"), (stranger_client, f"{abtv.id}.0")):
        response = client.delete(f"/api/history/{change_id}")
        assert response.status_code == 404
        assert response.json() == NOT_FOUND
    assert Change.objects.filter(id=f"{abtv.id}.0").exists()


def test_revert_of_a_public_reference_without_modify_otu_is_403_insufficient_rights(
    stranger_client, owner, reference, abtv
):
    Reference.objects.filter(id=reference.id).update(public=True)
    assert stranger_client.get(f"/api/history/{abtv.id}.0").status_code == 200
    response = stranger_client.delete(f"/api/history/{abtv.id}.0")
    assert response.status_code == 403
    assert response.json() == {"id": "insufficient_rights", "message": "Insufficient rights"}
    assert OTU.objects.filter(id=abtv.id).exists()


def test_revert_is_allowed_by_the_right_given_under_its_older_name_modify_kind(
    client_for, user_factory, owner_client, reference, abtv
):
    member = user_factory(username="member")
    response = owner_client.post(
        f"/api/refs/{reference.id}/users", {"user_id": "member", "modify_kind": True}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert client_for(member).delete(f"/api/history/{abtv.id}.0").status_code == 204
    assert not OTU.objects.filter(id=abtv.id).exists()


def test_revert_409_not_unbuilt_changes_nothing(owner_client, owner, reference, abtv):
    from indexes.models import Index

    services.otu_edit(user=owner, otu_id=abtv.id, abbreviation="")
    index = Index.objects.create(reference=reference, version=0, ready=True, user=owner)
    Change.objects.filter(id=f"{abtv.id}.0").update(index=index)
    response = owner_client.delete(f"/api/history/{abtv.id}.1")
    assert response.status_code == 204  # the later, unbuilt change alone may go
    response = owner_client.delete(f"/api/history/{abtv.id}.0")
    assert response.status_code == 409
    assert response.json() == {"id": "conflict", "message": "Not unbuilt"}
    assert OTU.objects.get(id=abtv.id).version == 0
    assert Change.objects.filter(id=f"{abtv.id}.0", index=index).exists()
