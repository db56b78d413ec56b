import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from history.models import Change
from indexes.models import Index, IndexFile
from refs import services
from refs.models import Reference, ReferenceUser
from refs.tests.factories import OTUFactory, ReferenceFactory
from virtool_site.tests.factories import GroupFactory

pytestmark = pytest.mark.django_db

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def query_count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(queries)


# List -------------------------------------------------------------------------------------------


def test_list_shows_visible_references_in_the_page_envelope(owner_client, owner, reference, stranger):
    ReferenceFactory(user=stranger, name="Private of stranger")
    public = ReferenceFactory(user=stranger, name="Public of stranger", public=True)
    body = owner_client.get("/api/refs").json()
    assert {d["id"] for d in body["documents"]} == {reference.id, public.id}
    assert (body["total_count"], body["found_count"], body["page"], body["per_page"]) == (2, 2, 1, 15)


def test_list_document_matches_virtool_fields(owner_client, reference):
    document = owner_client.get("/api/refs").json()["documents"][0]
    assert document["id"] == reference.id
    assert document["user"] == {"id": "owner"}
    assert document["latest_build"] is None
    assert document["process"] is None
    assert TIME.fullmatch(document["created_at"])
    for field in ("imported_from", "cloned_from", "remotes_from"):
        assert field not in document
    assert {"name", "data_type", "organism", "public", "otu_count", "unbuilt_change_count"} <= set(document)


def test_list_shows_source_fields_when_set(owner_client, owner):
    imported = {"id": "ctrtptqj-reference.json.gz", "name": "reference.json.gz", "user": {"id": "owner"}}
    services.reference_create(user=owner, name="Imported", imported_from=imported)
    document = owner_client.get("/api/refs").json()["documents"][0]
    assert document["imported_from"] == imported
    assert "cloned_from" not in document


def test_list_find_filters_by_name_and_total_count_ignores_it(owner_client, owner, reference):
    services.reference_create(user=owner, name="Barcodes")
    body = owner_client.get("/api/refs?find=plant").json()
    assert [d["name"] for d in body["documents"]] == ["Plant Viruses"]
    assert (body["found_count"], body["total_count"]) == (1, 2)


def test_list_paginates(owner_client, owner):
    for n in range(5):
        services.reference_create(user=owner, name=f"Ref {n}")
    body = owner_client.get("/api/refs?page=2&per_page=2").json()
    assert len(body["documents"]) == 2
    assert (body["page_count"], body["page"]) == (3, 2)


@pytest.mark.parametrize("query", ["page=0", "per_page=x", "per_page=1000"])
def test_list_bad_query_is_422(owner_client, query):
    response = owner_client.get(f"/api/refs?{query}")
    assert response.status_code == 422
    assert response.json()["message"] == "Invalid query"


def test_list_requires_authentication(api_client):
    assert api_client.get("/api/refs").status_code == 401


def test_list_hides_references_pending_deletion(owner_client, reference):
    Reference.objects.filter(id=reference.id).update(deleted=True)
    assert owner_client.get("/api/refs").json()["documents"] == []


def test_list_runs_a_fixed_number_of_queries_whatever_the_page_size(owner_client, owner, django_assert_num_queries):
    for n in range(12):
        reference = ReferenceFactory(user=owner, name=f"Ref {n:02d}")
        OTUFactory.create_batch(2, reference=reference)
        index = Index.objects.create(reference=reference, version=0, ready=True, user=owner)
        IndexFile.objects.create(index=index, name="reference.json.gz", type="json")
    # the page (with its counts, found count and latest builds), the total count
    for per_page in (2, 12):
        with django_assert_num_queries(2):
            assert owner_client.get(f"/api/refs?per_page={per_page}&find=ref").status_code == 200
    # without `find` nothing is filtered: the found count is the total count
    assert query_count(owner_client, "/api/refs?per_page=12") == 1


# Create -----------------------------------------------------------------------------------------


@pytest.fixture
def creator(user_factory):
    return user_factory(username="igboyes", create_ref=True)


@pytest.fixture
def creator_client(client_for, creator):
    return client_for(creator)


def test_create_empty_reference_is_201_with_the_spec_body(creator_client):
    response = creator_client.post(
        "/api/refs", {"name": "Plant Viruses", "organism": "viruses", "data_type": "genome"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert response["Location"] == f"/api/refs/{body['id']}"
    assert re.fullmatch(r"[a-z0-9]{8}", body["id"])
    assert TIME.fullmatch(body["created_at"])
    expected = {
        "data_type": "genome",
        "description": "",
        "name": "Plant Viruses",
        "organism": "viruses",
        "public": False,
        "user": {"id": "igboyes"},
        "contributors": [],
        "internal_control": None,
        "latest_build": None,
        "groups": [],
        "otu_count": 0,
        "unbuilt_change_count": 0,
    }
    assert {key: body[key] for key in expected} == expected
    assert [{k: v for k, v in u.items() if k != "created_at"} for u in body["users"]] == [
        {"id": "igboyes", "build": True, "modify": True, "modify_otu": True, "modify_kind": True, "remove": True}
    ]
    for field in ("imported_from", "cloned_from", "remotes_from"):
        assert field not in body


def test_create_through_a_group_permission(client_for, user_factory):
    group = GroupFactory(flags={"create_ref": True})
    member = user_factory()
    member.groups.add(group)
    assert client_for(member).post("/api/refs", {"name": "Mine"}, format="json").status_code == 201


def test_create_needs_the_create_ref_permission(owner_client):
    response = owner_client.post("/api/refs", {"name": "Plant Viruses"}, format="json")
    assert response.status_code == 403
    assert response.json() == {"id": "insufficient_rights", "message": "Insufficient rights"}


def test_create_with_a_source_needs_the_create_ref_permission_too(owner_client):
    response = owner_client.post("/api/refs", {"name": "Clone", "clone_from": "abcdefgh"}, format="json")
    assert response.status_code == 403


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "X", "data_type": "protein"}, "data_type"),
        ({"name": "X", "public": "perhaps"}, "public"),
    ],
)
def test_create_invalid_body_is_422(creator_client, body, field):
    response = creator_client.post("/api/refs", body, format="json")
    assert response.status_code == 422
    assert field in response.json()["errors"]


@pytest.mark.parametrize(
    "sources",
    [
        {"clone_from": "abcdefgh", "import_from": "abcdefgh-reference.json.gz"},
        {"clone_from": "abcdefgh", "remote_from": "virtool/ref-plant-viruses"},
        {"import_from": "abcdefgh-reference.json.gz", "remote_from": "virtool/ref-plant-viruses"},
    ],
)
def test_create_with_two_sources_is_422(creator_client, sources):
    response = creator_client.post("/api/refs", {"name": "Two", **sources}, format="json")
    assert response.status_code == 422
    assert set(sources) <= set(response.json()["errors"])
    assert not Reference.objects.filter(name="Two").exists()


# Get --------------------------------------------------------------------------------------------


def test_get_shows_rights_contributors_counts_and_latest_build(owner_client, owner, reference, otu_factory, user_factory):
    other = user_factory(username="other")
    group = GroupFactory(name="curators")
    services.reference_user_add(user=owner, reference=reference, user_id="other", rights={"modify_otu": True})
    services.reference_group_add(user=owner, reference=reference, group_id="curators", rights={"build": True})
    otu = otu_factory(isolates=1, sequences=1)  # 3 changes by owner
    services.otu_edit(user=other, otu_id=otu.id, name="Renamed")
    index = Index.objects.create(reference=reference, version=0, ready=True, user=owner)
    Change.objects.filter(otu_id=otu.id, otu_version__lt=2).update(index=index)
    Index.objects.create(reference=reference, version=1, ready=False, user=owner)
    services.reference_edit(user=owner, reference=reference, internal_control=otu.id)

    body = owner_client.get(f"/api/refs/{reference.id}").json()
    assert body["contributors"] == [{"id": "owner", "count": 3}, {"id": "other", "count": 1}]
    assert body["otu_count"] == 1
    assert body["unbuilt_change_count"] == 2
    assert body["internal_control"] == {"id": otu.id, "name": "Renamed"}
    assert body["latest_build"] == {
        "id": index.id,
        "version": 0,
        "created_at": body["latest_build"]["created_at"],
        "user": {"id": "owner"},
        "has_json": False,
    }
    assert [u["id"] for u in body["users"]] == ["owner", "other"]
    assert body["users"][1]["modify_otu"] is body["users"][1]["modify_kind"] is True
    assert body["groups"][0]["id"] == group.name
    assert body["groups"][0]["build"] is True


def test_get_latest_build_has_json_when_the_index_has_its_json_file(owner_client, owner, reference):
    index = Index.objects.create(reference=reference, version=0, ready=True, user=owner)
    IndexFile.objects.create(index=index, name="reference.json.gz", type="json")
    assert owner_client.get(f"/api/refs/{reference.id}").json()["latest_build"]["has_json"] is True


def test_get_reference_of_another_user_is_404(stranger_client, reference):
    response = stranger_client.get(f"/api/refs/{reference.id}")
    assert response.status_code == 404
    assert response.json() == {"id": "not_found", "message": "Not found"}


def test_get_public_reference_of_another_user(stranger_client, reference):
    Reference.objects.filter(id=reference.id).update(public=True)
    assert stranger_client.get(f"/api/refs/{reference.id}").status_code == 200


def test_get_reference_shared_with_a_group_of_the_user(stranger_client, stranger, reference, owner):
    group = GroupFactory()
    stranger.groups.add(group)
    services.reference_group_add(user=owner, reference=reference, group_id=group.name, rights={})
    assert stranger_client.get(f"/api/refs/{reference.id}").status_code == 200


def test_get_administrator_sees_every_reference(admin_client, reference):
    assert admin_client.get(f"/api/refs/{reference.id}").status_code == 200


def test_get_missing_or_deleted_reference_is_404(owner_client, reference):
    assert owner_client.get("/api/refs/nothere0").status_code == 404
    Reference.objects.filter(id=reference.id).update(deleted=True)
    assert owner_client.get(f"/api/refs/{reference.id}").status_code == 404


def test_get_internal_control_of_a_removed_otu_is_null(owner_client, owner, reference, abtv):
    services.reference_edit(user=owner, reference=reference, internal_control=abtv.id)
    services.otu_remove(user=owner, otu_id=abtv.id)
    assert owner_client.get(f"/api/refs/{reference.id}").json()["internal_control"] is None


# Edit -------------------------------------------------------------------------------------------


def test_edit_changes_settings(owner_client, reference, abtv):
    response = owner_client.patch(
        f"/api/refs/{reference.id}",
        {
            "name": "Renamed",
            "description": "Viruses of plants",
            "organism": "virus",
            "internal_control": abtv.id,
            "restrict_source_types": True,
            "source_types": [" Isolate", "clone", "isolate", ""],
            "public": True,
        },
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Renamed"
    assert body["description"] == "Viruses of plants"
    assert body["internal_control"] == {"id": abtv.id, "name": abtv.name}
    assert body["restrict_source_types"] is True
    assert body["source_types"] == ["isolate", "clone"]
    assert body["public"] is True


def test_edit_clears_the_internal_control(owner_client, owner, reference, abtv):
    services.reference_edit(user=owner, reference=reference, internal_control=abtv.id)
    body = owner_client.patch(f"/api/refs/{reference.id}", {"internal_control": None}, format="json").json()
    assert body["internal_control"] is None


def test_edit_internal_control_must_be_an_otu_of_the_reference(owner_client, owner, reference):
    other = services.reference_create(user=owner, name="Other")
    foreign = services.otu_create(user=owner, reference=other, name="Foreign")
    response = owner_client.patch(f"/api/refs/{reference.id}", {"internal_control": foreign.id}, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == "Internal control does not exist"


def test_edit_needs_the_modify_right(client_for, user_factory, owner, reference):
    member = user_factory()
    services.reference_user_add(
        user=owner, reference=reference, user_id=member.username, rights={"build": True, "modify_otu": True, "remove": True}
    )
    response = client_for(member).patch(f"/api/refs/{reference.id}", {"name": "Mine"}, format="json")
    assert response.status_code == 403
    assert response.json()["message"] == "Insufficient rights"
    assert Reference.objects.get(id=reference.id).name == "Plant Viruses"


def test_edit_invisible_reference_is_404(stranger_client, reference):
    assert stranger_client.patch(f"/api/refs/{reference.id}", {"name": "X"}, format="json").status_code == 404


@pytest.mark.parametrize("body", [{"name": ""}, {"source_types": "isolate"}, {"public": "perhaps"}])
def test_edit_invalid_body_is_422(owner_client, reference, body):
    assert owner_client.patch(f"/api/refs/{reference.id}", body, format="json").status_code == 422


# Delete (the deletion itself is refs.processes.delete, tested in test_transfer_delete) -------


def test_delete_needs_the_remove_right(client_for, user_factory, owner, reference):
    member = user_factory()
    services.reference_user_add(
        user=owner, reference=reference, user_id=member.username, rights={"build": True, "modify": True, "modify_otu": True}
    )
    response = client_for(member).delete(f"/api/refs/{reference.id}")
    assert response.status_code == 403
    assert Reference.objects.filter(id=reference.id).exists()


def test_delete_invisible_reference_is_404(stranger_client, reference):
    assert stranger_client.delete(f"/api/refs/{reference.id}").status_code == 404


def test_reference_create_service_gives_the_creator_every_right(owner):
    reference = services.reference_create(user=owner, name="Mine")
    entry = ReferenceUser.objects.get(reference=reference)
    assert (entry.user, entry.build, entry.modify, entry.modify_otu, entry.remove) == (owner, True, True, True, True)
