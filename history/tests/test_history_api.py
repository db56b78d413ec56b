import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from history.models import Change
from indexes.models import Index
from refs import services
from refs.documents import otu_document_load
from refs.models import OTU, Isolate, Reference

pytestmark = pytest.mark.django_db

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def query_count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(queries)


def build(reference, owner, *, version=0, otu_ids=None) -> Index:
    """An index build that includes the reference's unbuilt changes (of `otu_ids` if given)."""
    index = Index.objects.create(reference=reference, version=version, ready=True, user=owner)
    changes = Change.objects.filter(reference_id=reference.id, index__isnull=True)
    if otu_ids is not None:
        changes = changes.filter(otu_id__in=otu_ids)
    changes.update(index=index)
    return index


# The spec example -------------------------------------------------------------------------------


def test_get_change_matches_the_spec_example(owner_client, owner, reference, abtv):
    services.otu_edit(user=owner, otu_id=abtv.id, abbreviation="")
    response = owner_client.get(f"/api/history/{abtv.id}.1")
    assert response.status_code == 200
    body = response.json()
    assert TIME.fullmatch(body["created_at"])
    del body["created_at"]
    assert body == {
        "id": f"{abtv.id}.1",
        "method_name": "edit",
        "description": "Removed abbreviation ABTV",
        "otu": {"id": abtv.id, "name": "Abaca bunchy top virus", "version": 1},
        "virus": {"id": abtv.id, "name": "Abaca bunchy top virus", "version": 1},
        "reference": {"id": reference.id},
        "index": {"id": "unbuilt", "version": "unbuilt"},
        "user": {"id": "owner"},
        "diff": [["change", "abbreviation", ["ABTV", ""]], ["change", "version", [0, 1]]],
    }


def test_get_create_change_holds_the_whole_document(owner_client, abtv):
    body = owner_client.get(f"/api/history/{abtv.id}.0").json()
    assert body["method_name"] == "create"
    assert body["description"] == "Created Abaca bunchy top virus (ABTV)"
    assert body["diff"]["_id"] == abtv.id
    assert body["diff"]["abbreviation"] == "ABTV"


def test_get_built_change_shows_its_index(owner_client, owner, reference, abtv):
    index = build(reference, owner)
    body = owner_client.get(f"/api/history/{abtv.id}.0").json()
    assert body["index"] == {"id": index.id, "version": 0}


def test_get_removal_change_shows_removed_version(owner_client, owner, abtv):
    services.otu_remove(user=owner, otu_id=abtv.id)
    body = owner_client.get(f"/api/history/{abtv.id}.removed").json()
    assert body["otu"] == {"id": abtv.id, "name": "Abaca bunchy top virus", "version": "removed"}
    assert body["virus"] == body["otu"]
    assert body["description"] == "Removed Abaca bunchy top virus (ABTV)"


def test_get_missing_or_invisible_change_is_404(owner_client, stranger_client, abtv):
    response = owner_client.get("/api/history/nothere0.0")
    assert response.status_code == 404
    assert response.json() == {"id": "not_found", "message": "Not found"}
    assert stranger_client.get(f"/api/history/{abtv.id}.0").status_code == 404


# Find -------------------------------------------------------------------------------------------


def test_find_lists_newest_first_without_diffs(owner_client, owner, abtv, otu_factory):
    services.otu_edit(user=owner, otu_id=abtv.id, abbreviation="")
    tmv = otu_factory("Tobacco mosaic virus", "TMV")
    body = owner_client.get("/api/history").json()
    assert [d["id"] for d in body["documents"]] == [f"{tmv.id}.0", f"{abtv.id}.1", f"{abtv.id}.0"]
    assert "diff" not in body["documents"][0]
    assert (body["total_count"], body["found_count"], body["per_page"], body["page"]) == (3, 3, 15, 1)


def test_find_paginates(owner_client, owner, abtv):
    for n in range(4):
        services.otu_edit(user=owner, otu_id=abtv.id, name=f"Name {n}")
    body = owner_client.get("/api/history?page=2&per_page=2").json()
    assert [d["id"] for d in body["documents"]] == [f"{abtv.id}.2", f"{abtv.id}.1"]
    assert (body["page_count"], body["found_count"]) == (3, 5)


def test_find_shows_only_changes_of_visible_references(owner_client, stranger_client, stranger, abtv):
    other = services.reference_create(user=stranger, name="Stranger's")
    services.otu_create(user=stranger, reference=other, name="Hidden virus")
    assert [d["otu"]["name"] for d in owner_client.get("/api/history").json()["documents"]] == [abtv.name]
    assert [d["otu"]["name"] for d in stranger_client.get("/api/history").json()["documents"]] == ["Hidden virus"]


def test_find_hides_changes_of_references_pending_deletion(owner_client, reference, abtv):
    Reference.objects.filter(id=reference.id).update(deleted=True)
    assert owner_client.get("/api/history").json()["documents"] == []


@pytest.mark.parametrize("query, key", [("page=abc", "page"), ("per_page=0", "per_page"), ("verified=true", "verified")])
def test_find_bad_query_is_422_invalid_query(owner_client, abtv, query, key):
    response = owner_client.get(f"/api/history?{query}")
    assert response.status_code == 422
    body = response.json()
    assert (body["id"], body["message"]) == ("invalid_query", "Invalid query")
    assert key in body["errors"]


def test_find_runs_a_fixed_number_of_queries_whatever_the_page_size(owner_client, owner, reference, otu_factory):
    for n in range(6):
        otu_factory(f"Virus {n}", f"V{n}", isolates=1, sequences=1)
    build(reference, owner)
    otu_factory("Unbuilt virus", "UV", isolates=1)
    # the page (users and indexes joined) with its found count, in one statement
    assert query_count(owner_client, "/api/history?per_page=2") == 1
    assert query_count(owner_client, "/api/history?per_page=25") == 1


# Reference and OTU history ----------------------------------------------------------------------


def test_reference_history_filters_built_and_unbuilt(owner_client, owner, reference, abtv, otu_factory):
    index = build(reference, owner)
    services.otu_edit(user=owner, otu_id=abtv.id, abbreviation="")
    otu_factory("Tobacco mosaic virus", "TMV")
    url = f"/api/refs/{reference.id}/history"
    unbuilt = owner_client.get(f"{url}?unbuilt=true").json()
    assert {d["id"] for d in unbuilt["documents"]} == {f"{abtv.id}.1", f"{OTU.objects.get(name='Tobacco mosaic virus').id}.0"}
    assert (unbuilt["found_count"], unbuilt["total_count"]) == (2, 3)
    built = owner_client.get(f"{url}?unbuilt=false").json()["documents"]
    assert [(d["id"], d["index"]) for d in built] == [(f"{abtv.id}.0", {"id": index.id, "version": 0})]
    assert owner_client.get(url).json()["found_count"] == 3


def test_reference_history_is_only_that_references(owner_client, owner, reference, abtv):
    other = services.reference_create(user=owner, name="Other")
    services.otu_create(user=owner, reference=other, name="Elsewhere virus")
    assert [d["otu"]["id"] for d in owner_client.get(f"/api/refs/{reference.id}/history").json()["documents"]] == [abtv.id]


def test_reference_history_errors(owner_client, stranger_client, reference):
    assert owner_client.get(f"/api/refs/{reference.id}/history?unbuilt=maybe").status_code == 422
    assert stranger_client.get(f"/api/refs/{reference.id}/history").status_code == 404
    assert owner_client.get("/api/refs/missing1/history").status_code == 404


def test_reference_history_runs_a_fixed_number_of_queries(owner_client, reference, otu_factory, django_assert_num_queries):
    for n in range(5):
        otu_factory(f"Virus {n}", f"V{n}", isolates=1)
    url = f"/api/refs/{reference.id}/history?unbuilt=true"
    # the reference, the page with its found count, the total count
    for per_page in (1, 10):
        with django_assert_num_queries(3):
            assert owner_client.get(f"{url}&per_page={per_page}").status_code == 200


def test_otu_history_runs_a_fixed_number_of_queries(owner_client, owner, otu_factory, django_assert_num_queries):
    small = otu_factory("Small virus", "S")
    large = otu_factory("Large virus", "L", isolates=3, sequences=2)
    for otu in (small, large):
        with django_assert_num_queries(1):
            assert owner_client.get(f"/api/otus/{otu.id}/history").status_code == 200


def test_otu_history_lists_its_changes_newest_first(owner_client, owner, abtv):
    services.otu_edit(user=owner, otu_id=abtv.id, abbreviation="")
    services.isolate_add(user=owner, otu_id=abtv.id, source_type="isolate", source_name="A")
    body = owner_client.get(f"/api/otus/{abtv.id}/history").json()
    assert [d["id"] for d in body] == [f"{abtv.id}.2", f"{abtv.id}.1", f"{abtv.id}.0"]
    assert [d["method_name"] for d in body] == ["add_isolate", "edit", "create"]


def test_otu_history_of_a_removed_otu_remains(owner_client, owner, abtv):
    services.otu_remove(user=owner, otu_id=abtv.id)
    body = owner_client.get(f"/api/otus/{abtv.id}/history").json()
    assert [d["otu"]["version"] for d in body] == ["removed", 0]


def test_otu_history_errors(owner_client, stranger_client, abtv):
    assert owner_client.get("/api/otus/missing1/history").status_code == 404
    assert stranger_client.get(f"/api/otus/{abtv.id}/history").status_code == 404


# Revert -----------------------------------------------------------------------------------------


def test_revert_restores_the_otu_and_removes_the_change(owner_client, owner, abtv):
    before = otu_document_load(abtv.id)
    services.otu_edit(user=owner, otu_id=abtv.id, abbreviation="")
    response = owner_client.delete(f"/api/history/{abtv.id}.1")
    assert response.status_code == 204
    assert otu_document_load(abtv.id) == before
    assert list(Change.objects.filter(otu_id=abtv.id).values_list("id", flat=True)) == [f"{abtv.id}.0"]
    assert owner_client.get(f"/api/history/{abtv.id}.1").status_code == 404


def test_revert_reverts_every_later_change_too(owner_client, owner, full_otu):
    before = otu_document_load(full_otu.id)
    services.otu_edit(user=owner, otu_id=full_otu.id, name="Renamed", abbreviation="")
    isolate = Isolate.objects.filter(otu_id=full_otu.id).order_by("position")[1]
    services.isolate_set_default(user=owner, otu_id=full_otu.id, isolate_id=isolate.isolate_id)
    services.isolate_remove(user=owner, otu_id=full_otu.id, isolate_id=Isolate.objects.filter(otu_id=full_otu.id).order_by("position")[0].isolate_id)
    services.isolate_add(user=owner, otu_id=full_otu.id, source_type="strain", source_name="Z", default=True)
    assert owner_client.delete(f"/api/history/{full_otu.id}.7").status_code == 204
    assert otu_document_load(full_otu.id) == before
    assert OTU.objects.get(id=full_otu.id).version == 6
    assert not Change.objects.filter(otu_id=full_otu.id, otu_version__gte=7).exists()


def test_revert_a_create_removes_the_otu(owner_client, owner, abtv):
    services.isolate_add(user=owner, otu_id=abtv.id, source_type="isolate", source_name="A")
    assert owner_client.delete(f"/api/history/{abtv.id}.0").status_code == 204
    assert not OTU.objects.filter(id=abtv.id).exists()
    assert not Isolate.objects.filter(otu_id=abtv.id).exists()
    assert not Change.objects.filter(otu_id=abtv.id).exists()


def test_revert_a_remove_brings_the_otu_back_with_isolates_and_sequences(owner_client, owner, reference, full_otu):
    before = otu_document_load(full_otu.id)
    services.otu_remove(user=owner, otu_id=full_otu.id)
    assert owner_client.delete(f"/api/history/{full_otu.id}.removed").status_code == 204
    assert otu_document_load(full_otu.id) == before
    body = owner_client.get(f"/api/otus/{full_otu.id}").json()
    assert (body["verified"], body["version"], body["issues"]) == (True, 6, None)
    assert not Change.objects.filter(id=f"{full_otu.id}.removed").exists()
    # The restored OTU takes changes again from where it was.
    services.otu_edit(user=owner, otu_id=full_otu.id, abbreviation="")
    assert Change.objects.filter(id=f"{full_otu.id}.7").exists()


def test_revert_an_earlier_change_of_a_removed_otu_restores_that_state(owner_client, owner, abtv):
    services.otu_edit(user=owner, otu_id=abtv.id, name="Renamed")
    services.otu_remove(user=owner, otu_id=abtv.id)
    assert owner_client.delete(f"/api/history/{abtv.id}.1").status_code == 204
    restored = OTU.objects.get(id=abtv.id)
    assert (restored.name, restored.version) == ("Abaca bunchy top virus", 0)


def test_revert_a_built_change_is_409_not_unbuilt(owner_client, owner, reference, abtv):
    build(reference, owner)
    services.otu_edit(user=owner, otu_id=abtv.id, abbreviation="")
    response = owner_client.delete(f"/api/history/{abtv.id}.0")
    assert response.status_code == 409
    assert response.json() == {"id": "conflict", "message": "Not unbuilt"}
    assert Change.objects.filter(otu_id=abtv.id).count() == 2
    assert OTU.objects.get(id=abtv.id).abbreviation == ""
    # The unbuilt change after the build may still be reverted.
    assert owner_client.delete(f"/api/history/{abtv.id}.1").status_code == 204


def test_revert_is_409_when_a_later_change_is_built(owner_client, owner, reference, abtv):
    services.otu_edit(user=owner, otu_id=abtv.id, abbreviation="")
    Change.objects.filter(id=f"{abtv.id}.1").update(index=build(reference, owner, otu_ids=[]))
    assert owner_client.delete(f"/api/history/{abtv.id}.0").status_code == 409


def test_revert_needs_modify_otu(client_for, user_factory, owner, reference, abtv):
    member = user_factory()
    services.reference_user_add(
        user=owner, reference=reference, user_id=member.username, rights={"build": True, "modify": True, "remove": True}
    )
    response = client_for(member).delete(f"/api/history/{abtv.id}.0")
    assert response.status_code == 403
    assert response.json() == {"id": "insufficient_rights", "message": "Insufficient rights"}
    assert OTU.objects.filter(id=abtv.id).exists()


def test_revert_missing_or_invisible_change_is_404(owner_client, stranger_client, abtv):
    assert owner_client.delete("/api/history/nothere0.3").status_code == 404
    assert stranger_client.delete(f"/api/history/{abtv.id}.0").status_code == 404
    assert OTU.objects.filter(id=abtv.id).exists()


def test_revert_a_remove_whose_name_was_taken_meanwhile_is_409(owner_client, owner, reference, abtv):
    services.otu_remove(user=owner, otu_id=abtv.id)
    services.otu_create(user=owner, reference=reference, name="Abaca bunchy top virus")
    response = owner_client.delete(f"/api/history/{abtv.id}.removed")
    assert response.status_code == 409
    assert response.json()["message"] == "Name already exists"
    assert Change.objects.filter(id=f"{abtv.id}.removed").exists()


def test_revert_by_a_group_member_with_modify_otu(client_for, user_factory, owner, reference, abtv):
    from virtool_site.tests.factories import GroupFactory

    group = GroupFactory()
    member = user_factory()
    member.groups.add(group)
    services.reference_group_add(user=owner, reference=reference, group_id=group.name, rights={"modify_otu": True})
    assert client_for(member).delete(f"/api/history/{abtv.id}.0").status_code == 204


def test_anonymous_history_requests_are_401(api_client, abtv):
    assert api_client.get("/api/history").status_code == 401
    assert api_client.delete(f"/api/history/{abtv.id}.0").status_code == 401
