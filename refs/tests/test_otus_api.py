import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from history.models import Change
from refs import services
from refs.models import OTU, Isolate, Reference, Sequence
from refs.tests.factories import IsolateFactory, OTUFactory, SequenceFactory

pytestmark = pytest.mark.django_db


def query_count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(queries)


# List -----------------------------------------------------------------------------------------


def test_list_otus_by_name_with_virtool_fields(owner_client, reference, otu_factory):
    otu_factory("Tobacco mosaic virus", "TMV")
    abtv = otu_factory()
    body = owner_client.get(f"/api/refs/{reference.id}/otus").json()
    assert [d["name"] for d in body["documents"]] == ["Abaca bunchy top virus", "Tobacco mosaic virus"]
    assert body["documents"][0] == {
        "id": abtv.id,
        "name": "Abaca bunchy top virus",
        "abbreviation": "ABTV",
        "verified": False,
        "version": 0,
        "reference": {"id": reference.id},
        "issues": {"empty_otu": True, "empty_isolate": [], "empty_sequence": [], "isolate_inconsistency": False},
    }
    assert (body["total_count"], body["found_count"]) == (2, 2)


def test_list_issues_match_the_otu_document(owner_client, reference, full_otu):
    otu = OTUFactory(reference=reference)
    first = IsolateFactory(otu=otu, default=True, position=0)
    SequenceFactory(isolate=first, position=0)
    SequenceFactory(isolate=first, sequence="  ", position=1)
    IsolateFactory(otu=otu, position=1)
    documents = owner_client.get(f"/api/refs/{reference.id}/otus").json()["documents"]
    assert len(documents) == 2
    for document in documents:
        assert document["issues"] == owner_client.get(f"/api/otus/{document['id']}").json()["issues"]


@pytest.mark.parametrize("term, names", [("tobacco", ["Tobacco mosaic virus"]), ("abtv", ["Abaca bunchy top virus"]), ("virus", ["Abaca bunchy top virus", "Tobacco mosaic virus"])])
def test_list_term_searches_name_and_abbreviation(owner_client, reference, otu_factory, term, names):
    otu_factory("Tobacco mosaic virus", "TMV")
    otu_factory()
    body = owner_client.get(f"/api/refs/{reference.id}/otus?term={term}").json()
    assert [d["name"] for d in body["documents"]] == names
    assert (body["found_count"], body["total_count"]) == (len(names), 2)


def test_list_filters_by_verification(owner_client, reference, otu_factory):
    otu_factory("Tobacco mosaic virus", "TMV", isolates=1, sequences=1)
    otu_factory()
    verified = owner_client.get(f"/api/refs/{reference.id}/otus?verified=true").json()["documents"]
    unverified = owner_client.get(f"/api/refs/{reference.id}/otus?verified=false").json()["documents"]
    assert [d["name"] for d in verified] == ["Tobacco mosaic virus"]
    assert [d["name"] for d in unverified] == ["Abaca bunchy top virus"]


@pytest.mark.parametrize("query, field", [("verified=maybe", "verified"), ("page=-1", "page"), ("per_page=x", "per_page")])
def test_list_bad_query_is_422(owner_client, reference, query, field):
    response = owner_client.get(f"/api/refs/{reference.id}/otus?{query}")
    assert response.status_code == 422
    body = response.json()
    assert body["id"] == "invalid_query"
    assert field in body["errors"]


def test_list_paginates(owner_client, reference):
    OTUFactory.create_batch(7, reference=reference)
    body = owner_client.get(f"/api/refs/{reference.id}/otus?per_page=3&page=3").json()
    assert (len(body["documents"]), body["page_count"], body["found_count"]) == (1, 3, 7)


def test_list_otus_of_invisible_reference_is_404(stranger_client, reference):
    assert stranger_client.get(f"/api/refs/{reference.id}/otus").status_code == 404


def test_list_runs_a_fixed_number_of_queries_whatever_the_page_size(owner_client, reference, django_assert_num_queries):
    for otu in OTUFactory.create_batch(20, reference=reference):
        SequenceFactory(isolate=IsolateFactory(otu=otu))
    # the reference, the page (with its found count), the total count, the page's isolates and sequences
    for per_page in (2, 20):
        with django_assert_num_queries(4):
            assert owner_client.get(f"/api/refs/{reference.id}/otus?per_page={per_page}&term=virus").status_code == 200
    # without a term nothing is filtered: the found count is the total count
    assert query_count(owner_client, f"/api/refs/{reference.id}/otus?per_page=20") == 3


# Create ---------------------------------------------------------------------------------------


def test_create_is_201_with_location_and_the_joined_otu(owner_client, reference):
    schema = [{"name": "DNA-R", "molecule": "ssDNA", "required": True}]
    response = owner_client.post(
        f"/api/refs/{reference.id}/otus",
        {"name": "Abaca bunchy top virus", "abbreviation": "ABTV", "schema": schema},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert response["Location"] == f"/api/otus/{body['id']}"
    assert body["name"] == "Abaca bunchy top virus"
    assert body["abbreviation"] == "ABTV"
    assert body["schema"] == schema
    assert (body["version"], body["verified"], body["isolates"]) == (0, False, [])
    assert body["issues"] == {"empty_otu": True, "empty_isolate": [], "empty_sequence": [], "isolate_inconsistency": False}
    assert body["reference"] == {"id": reference.id}
    assert body["most_recent_change"]["description"] == "Created Abaca bunchy top virus (ABTV)"
    change = Change.objects.get(id=f"{body['id']}.0")
    assert (change.method_name, change.description) == ("create", "Created Abaca bunchy top virus (ABTV)")
    assert change.diff["_id"] == body["id"]


def test_create_without_abbreviation_describes_only_the_name(owner_client, reference):
    body = owner_client.post(f"/api/refs/{reference.id}/otus", {"name": "Tobacco mosaic virus"}, format="json").json()
    assert Change.objects.get(id=f"{body['id']}.0").description == "Created Tobacco mosaic virus"
    assert body["abbreviation"] == ""


@pytest.mark.parametrize(
    "body, message",
    [
        ({"name": "abaca BUNCHY top virus", "abbreviation": "NEW"}, "Name already exists"),
        ({"name": "Something else", "abbreviation": "ABTV"}, "Abbreviation already exists"),
        ({"name": "Abaca bunchy top virus", "abbreviation": "ABTV"}, "Name and abbreviation already exist"),
    ],
)
def test_create_duplicate_name_or_abbreviation_is_400(owner_client, reference, abtv, body, message):
    response = owner_client.post(f"/api/refs/{reference.id}/otus", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"id": "bad_request", "message": message}
    assert OTU.objects.filter(reference=reference).count() == 1


def test_create_allows_the_same_name_in_another_reference(owner_client, owner, abtv):
    other = services.reference_create(user=owner, name="Other")
    body = {"name": "Abaca bunchy top virus", "abbreviation": "ABTV"}
    assert owner_client.post(f"/api/refs/{other.id}/otus", body, format="json").status_code == 201


def test_create_allows_many_otus_without_abbreviation(owner_client, reference):
    for name in ("A virus", "B virus"):
        assert owner_client.post(f"/api/refs/{reference.id}/otus", {"name": name}, format="json").status_code == 201


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "X", "schema": [{"molecule": "ssDNA"}]}, "schema"),
        ({"name": "X", "schema": [{"name": "A", "molecule": "protein"}]}, "schema"),
        ({"name": "X", "schema": [{"name": "A"}, {"name": "A"}]}, "schema"),
    ],
)
def test_create_invalid_body_is_422(owner_client, reference, body, field):
    response = owner_client.post(f"/api/refs/{reference.id}/otus", body, format="json")
    assert response.status_code == 422
    assert field in response.json()["errors"]


def test_create_needs_modify_otu(client_for, user_factory, owner, reference):
    member = user_factory()
    services.reference_user_add(
        user=owner, reference=reference, user_id=member.username, rights={"build": True, "modify": True, "remove": True}
    )
    response = client_for(member).post(f"/api/refs/{reference.id}/otus", {"name": "X"}, format="json")
    assert response.status_code == 403
    assert response.json()["message"] == "Insufficient rights"


def test_create_in_public_reference_without_rights_is_403(stranger_client, reference):
    Reference.objects.filter(id=reference.id).update(public=True)
    assert stranger_client.post(f"/api/refs/{reference.id}/otus", {"name": "X"}, format="json").status_code == 403


def test_create_in_invisible_reference_is_404(stranger_client, reference):
    assert stranger_client.post(f"/api/refs/{reference.id}/otus", {"name": "X"}, format="json").status_code == 404


# Get ------------------------------------------------------------------------------------------


def test_get_shows_isolates_sequences_and_no_issues_when_verified(owner_client, full_otu):
    body = owner_client.get(f"/api/otus/{full_otu.id}").json()
    assert body["verified"] is True
    assert body["issues"] is None
    assert [i["default"] for i in body["isolates"]] == [True, False]
    assert [len(i["sequences"]) for i in body["isolates"]] == [2, 2]
    assert set(body["isolates"][0]["sequences"][0]) == {"id", "accession", "definition", "host", "segment", "sequence"}
    assert body["most_recent_change"]["method_name"] == "create_sequence"
    assert body["most_recent_change"]["user"] == {"id": "owner"}


def test_get_reports_every_verification_issue(owner_client, reference):
    otu = OTUFactory(reference=reference)
    first = IsolateFactory(otu=otu, default=True)
    SequenceFactory(isolate=first)
    empty_sequence = SequenceFactory(isolate=first, sequence="")
    empty = IsolateFactory(otu=otu)
    issues = owner_client.get(f"/api/otus/{otu.id}").json()["issues"]
    assert issues == {
        "empty_otu": False,
        "empty_isolate": [empty.isolate_id],
        "empty_sequence": [empty_sequence.id],
        "isolate_inconsistency": True,
    }


def test_get_missing_or_invisible_otu_is_404(owner_client, stranger_client, abtv):
    assert owner_client.get("/api/otus/missing1").status_code == 404
    assert stranger_client.get(f"/api/otus/{abtv.id}").status_code == 404


def test_get_otu_of_reference_pending_deletion_is_404(owner_client, reference, abtv):
    Reference.objects.filter(id=reference.id).update(deleted=True)
    assert owner_client.get(f"/api/otus/{abtv.id}").status_code == 404


# Edit -----------------------------------------------------------------------------------------


def test_edit_removing_the_abbreviation_matches_the_spec_example(owner_client, abtv):
    response = owner_client.patch(f"/api/otus/{abtv.id}", {"abbreviation": ""}, format="json")
    assert response.status_code == 200
    assert (response.json()["abbreviation"], response.json()["version"]) == ("", 1)
    change = Change.objects.get(id=f"{abtv.id}.1")
    assert change.description == "Removed abbreviation ABTV"
    assert change.diff == [["change", "abbreviation", ["ABTV", ""]], ["change", "version", [0, 1]]]


@pytest.mark.parametrize(
    "body, description",
    [
        ({"name": "Foo"}, "Changed name to Foo"),
        ({"abbreviation": "AB"}, "Changed abbreviation to AB"),
        ({"name": "Foo", "abbreviation": ""}, "Changed name to Foo and removed abbreviation ABTV"),
        ({"name": "Foo", "abbreviation": "F"}, "Changed name to Foo and changed abbreviation to F"),
        ({"schema": [{"name": "DNA-R"}]}, "Modified schema"),
        ({"name": "Foo", "schema": [{"name": "DNA-R"}]}, "Changed name to Foo and modified schema"),
        (
            {"name": "Foo", "abbreviation": "", "schema": [{"name": "DNA-R"}]},
            "Changed name to Foo and removed abbreviation ABTV and modified schema",
        ),
        ({"abbreviation": "", "schema": [{"name": "S"}]}, "Removed abbreviation ABTV and modified schema"),
    ],
)
def test_edit_describes_the_change_in_virtool_wording(owner_client, abtv, body, description):
    assert owner_client.patch(f"/api/otus/{abtv.id}", body, format="json").status_code == 200
    assert Change.objects.get(id=f"{abtv.id}.1").description == description


def test_edit_adding_an_abbreviation(owner_client, otu_factory):
    otu = otu_factory("Tobacco mosaic virus", "")
    owner_client.patch(f"/api/otus/{otu.id}", {"abbreviation": "TMV"}, format="json")
    assert Change.objects.get(id=f"{otu.id}.1").description == "Added abbreviation TMV"


def test_edit_schema_is_stored_with_defaults(owner_client, abtv):
    body = owner_client.patch(f"/api/otus/{abtv.id}", {"schema": [{"name": "DNA-R"}]}, format="json").json()
    assert body["schema"] == [{"name": "DNA-R", "molecule": None, "required": True}]


def test_edit_without_changes_records_nothing(owner_client, abtv):
    response = owner_client.patch(
        f"/api/otus/{abtv.id}", {"name": "Abaca bunchy top virus", "abbreviation": "ABTV", "schema": []}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["version"] == 0
    assert Change.objects.filter(otu_id=abtv.id).count() == 1


def test_edit_may_change_the_case_of_its_own_name(owner_client, abtv):
    response = owner_client.patch(f"/api/otus/{abtv.id}", {"name": "Abaca Bunchy Top Virus"}, format="json")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "body, message",
    [
        ({"name": "tobacco mosaic virus"}, "Name already exists"),
        ({"abbreviation": "TMV"}, "Abbreviation already exists"),
        ({"name": "Tobacco mosaic virus", "abbreviation": "TMV"}, "Name and abbreviation already exist"),
    ],
)
def test_edit_to_a_taken_name_or_abbreviation_is_400(owner_client, otu_factory, abtv, body, message):
    otu_factory("Tobacco mosaic virus", "TMV")
    response = owner_client.patch(f"/api/otus/{abtv.id}", body, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == message
    assert OTU.objects.get(id=abtv.id).version == 0


@pytest.mark.parametrize("body", [{"name": ""}, {"schema": "DNA-R"}, {"abbreviation": None}])
def test_edit_invalid_body_is_422(owner_client, abtv, body):
    assert owner_client.patch(f"/api/otus/{abtv.id}", body, format="json").status_code == 422


def test_edit_needs_modify_otu_and_visibility(client_for, stranger_client, user_factory, owner, reference, abtv):
    assert stranger_client.patch(f"/api/otus/{abtv.id}", {"name": "X"}, format="json").status_code == 404
    member = user_factory()
    services.reference_user_add(user=owner, reference=reference, user_id=member.username, rights={"modify": True})
    response = client_for(member).patch(f"/api/otus/{abtv.id}", {"name": ""}, format="json")
    assert response.status_code == 403


# Remove ---------------------------------------------------------------------------------------


def test_remove_is_204_and_records_the_whole_document(owner_client, full_otu):
    before = owner_client.get(f"/api/otus/{full_otu.id}").json()
    assert owner_client.delete(f"/api/otus/{full_otu.id}").status_code == 204
    assert not OTU.objects.filter(id=full_otu.id).exists()
    assert not Isolate.objects.filter(otu_id=full_otu.id).exists()
    assert not Sequence.objects.filter(otu_id=full_otu.id).exists()
    change = Change.objects.get(id=f"{full_otu.id}.removed")
    assert (change.method_name, change.description) == ("remove", "Removed Banana streak virus (BSV)")
    assert change.otu_version == before["version"] + 1
    assert change.diff["version"] == before["version"]
    assert len(change.diff["isolates"]) == 2
    assert owner_client.get(f"/api/otus/{full_otu.id}").status_code == 404


def test_remove_without_abbreviation(owner_client, otu_factory):
    otu = otu_factory("Tobacco mosaic virus", "")
    owner_client.delete(f"/api/otus/{otu.id}")
    assert Change.objects.get(id=f"{otu.id}.removed").description == "Removed Tobacco mosaic virus"


def test_remove_missing_otu_is_404_and_without_rights_403(client_for, owner_client, user_factory, owner, reference, abtv):
    assert owner_client.delete("/api/otus/missing1").status_code == 404
    member = user_factory()
    services.reference_user_add(user=owner, reference=reference, user_id=member.username, rights={"modify": True})
    assert client_for(member).delete(f"/api/otus/{abtv.id}").status_code == 403
    assert OTU.objects.filter(id=abtv.id).exists()


def test_removed_name_may_be_used_again(owner_client, reference, abtv):
    owner_client.delete(f"/api/otus/{abtv.id}")
    body = {"name": "Abaca bunchy top virus", "abbreviation": "ABTV"}
    assert owner_client.post(f"/api/refs/{reference.id}/otus", body, format="json").status_code == 201
