"""The read paths the load benchmark drives: visibility, the OTU list and the OTU document.

They are written for cost (one SQL subquery for visibility, one query for a page's issues, one
for an OTU's isolates and sequences); these tests hold them to what the plain versions return.
"""

import pytest
from rest_framework.test import APIClient
from django.db import connection
from django.test.utils import CaptureQueriesContext

from history.models import Change
from refs import selectors, services
from refs.documents import otu_document_load
from refs.permissions import references_visible
from refs.tests.factories import IsolateFactory, OTUFactory, ReferenceUserFactory, SequenceFactory

pytestmark = pytest.mark.django_db


# Visibility -----------------------------------------------------------------------------------



def visible_names(user) -> set[str]:
    return set(references_visible(user).values_list("name", flat=True))


def test_a_user_sees_public_own_and_shared_references(visibility_world):
    viewer, _, _, _ = visibility_world
    assert visible_names(viewer) == {"own", "public", "by_user", "by_group"}


def test_administrators_see_every_live_reference_and_anonymous_users_public_ones(visibility_world, admin_user):
    from django.contrib.auth.models import AnonymousUser

    assert visible_names(admin_user) == {"own", "public", "by_user", "by_group", "other_group", "private"}
    assert visible_names(AnonymousUser()) == {"public"}


def test_leaving_a_group_or_losing_an_entry_hides_at_once(visibility_world):
    viewer, other, group, refs = visibility_world
    viewer.groups.remove(group)
    refs["by_user"].user_rights.filter(user=viewer).delete()
    assert visible_names(viewer) == {"own", "public"}


def test_a_shared_reference_is_listed_once(visibility_world):
    viewer, _, _, refs = visibility_world
    # shared both with the user and with their group
    ReferenceUserFactory(reference=refs["by_group"], user=viewer)
    names = list(references_visible(viewer).values_list("name", flat=True))
    assert sorted(names) == sorted(set(names))


def test_visibility_as_a_subquery_filters_other_tables(visibility_world):
    viewer, other, _, refs = visibility_world
    for name, reference in refs.items():
        Change.objects.create(id=f"x{name[:6]}.0", method_name="create", otu_id="x", otu_name=name, otu_version=0, reference_id=reference.id)
    seen = Change.objects.filter(reference_id__in=references_visible(viewer).values("id"))
    assert set(seen.values_list("otu_name", flat=True)) == {"own", "public", "by_user", "by_group"}


def test_the_api_lists_what_visibility_gives(visibility_world, client_for):
    viewer, _, _, _ = visibility_world
    body = client_for(viewer).get("/api/refs").json()
    assert {d["name"] for d in body["documents"]} == {"own", "public", "by_user", "by_group"}
    assert body["total_count"] == body["found_count"] == 4


# OTU list --------------------------------------------------------------------------------------


def test_list_issues_of_many_otus_match_their_documents(owner_client, reference):
    """Isolates and sequences created out of their order, across several OTUs of one page."""
    inconsistent, empty_isolate, fine = (OTUFactory(reference=reference, name=f"Virus {n}") for n in range(3))
    second = IsolateFactory(otu=inconsistent, position=1)
    first = IsolateFactory(otu=inconsistent, position=0, default=True)
    SequenceFactory(isolate=second, position=1, sequence="\n\t ")
    SequenceFactory(isolate=second, position=0)
    SequenceFactory(isolate=first, position=0, sequence="")
    IsolateFactory(otu=empty_isolate, position=1)
    SequenceFactory(isolate=IsolateFactory(otu=empty_isolate, position=0, default=True))
    SequenceFactory(isolate=IsolateFactory(otu=fine, position=0, default=True))
    OTUFactory(reference=reference, name="Virus 3")  # no isolates
    documents = owner_client.get(f"/api/refs/{reference.id}/otus").json()["documents"]
    assert len(documents) == 4
    for document in documents:
        detail = owner_client.get(f"/api/otus/{document['id']}").json()
        assert document["issues"] == detail["issues"]
    issues = {d["name"]: d["issues"] for d in documents}
    assert issues["Virus 2"] is None
    assert issues["Virus 3"]["empty_otu"] is True
    assert issues["Virus 1"]["empty_isolate"] == [empty_isolate.isolates.get(position=1).isolate_id]
    assert len(issues["Virus 0"]["empty_sequence"]) == 2
    assert issues["Virus 0"]["isolate_inconsistency"] is True


def test_list_issues_follow_verification_kept_by_the_services(owner, owner_client, reference, otu_factory):
    """Verified OTUs have no issues, so a page of them reads no isolates at all."""
    verified = otu_factory("Banana streak virus", "BSV", isolates=2, sequences=2)
    unverified = otu_factory("Abaca bunchy top virus", "ABTV", isolates=1)
    assert (verified.verified, unverified.verified) == (True, False)
    url = f"/api/refs/{reference.id}/otus"
    for document in owner_client.get(url).json()["documents"]:
        assert document["issues"] == owner_client.get(f"/api/otus/{document['id']}").json()["issues"]
    # the reference, the total count, the page, and the unverified OTUs' isolates
    with CaptureQueriesContext(connection) as queries:
        owner_client.get(f"{url}?term=abaca")
    with CaptureQueriesContext(connection) as verified_only:
        body = owner_client.get(f"{url}?term=banana").json()
    assert body["documents"][0]["issues"] is None
    assert len(verified_only) == len(queries) - 1
    # an edit that breaks verification shows at once
    isolate_id = selectors.isolates_list(user=owner, otu_id=verified.id)[1]["id"]
    for sequence in selectors.sequences_list(user=owner, otu_id=verified.id, isolate_id=isolate_id):
        services.sequence_remove(user=owner, otu_id=verified.id, isolate_id=isolate_id, sequence_id=sequence["id"])
    [document] = owner_client.get(f"{url}?term=banana").json()["documents"]
    assert document["verified"] is False
    assert document["issues"] == owner_client.get(f"/api/otus/{verified.id}").json()["issues"]
    assert document["issues"]["empty_isolate"] == [isolate_id]


def test_list_items_read_only_what_they_show(owner, reference, django_assert_num_queries):
    from refs.api.serializers import OTUListItemSerializer

    OTUFactory(reference=reference, verified=True, schema=[{"name": "RNA1", "molecule": "ssRNA", "required": True}])
    client = APIClient()
    client.force_authenticate(owner)
    # the reference's visibility, the page: a verified OTU's isolates are not read
    with django_assert_num_queries(2):
        [document] = client.get(f"/api/refs/{reference.id}/otus").json()["documents"]
    assert list(document) == list(OTUListItemSerializer().fields)


# OTU document ----------------------------------------------------------------------------------


def test_otu_detail_is_the_joined_document(owner, otu_factory):
    otu = otu_factory("Banana streak virus", "BSV", isolates=3, sequences=2)
    services.isolate_add(user=owner, otu_id=otu.id, source_type="strain", source_name="empty")
    # reorder: the last isolate becomes the default, positions stay as they are
    isolates = selectors.isolates_list(user=owner, otu_id=otu.id)
    services.isolate_set_default(user=owner, otu_id=otu.id, isolate_id=isolates[-1]["id"])
    expected = selectors.otu_api_document(otu_document_load(otu.id))
    detail = selectors.otu_detail(user=owner, otu_id=otu.id)
    assert detail.pop("most_recent_change")["method_name"] == "set_as_default"
    expected.pop("most_recent_change")
    assert detail == expected
    assert [len(i["sequences"]) for i in detail["isolates"]] == [2, 2, 2, 0]
    assert selectors.isolates_list(user=owner, otu_id=otu.id) == detail["isolates"]


@pytest.mark.parametrize("isolates, sequences", [(1, 1), (4, 3)])
def test_otu_detail_runs_two_queries_whatever_its_size(owner, otu_factory, isolates, sequences):
    otu = otu_factory(f"Virus {isolates}", f"V{isolates}", isolates=isolates, sequences=sequences)
    with CaptureQueriesContext(connection) as queries:
        selectors.otu_detail(user=owner, otu_id=otu.id)
    # the OTU (with visibility and its most recent change), its isolates and sequences
    assert len(queries) == 2


def test_otu_detail_and_isolates_of_an_invisible_otu_are_404(stranger, otu_factory):
    from virtool_site.errors import NotFound

    otu = otu_factory(isolates=1, sequences=1)
    with pytest.raises(NotFound):
        selectors.otu_detail(user=stranger, otu_id=otu.id)
    with pytest.raises(NotFound):
        selectors.isolates_list(user=stranger, otu_id=otu.id)


def test_the_joined_read_of_isolates_is_the_prefetched_document_including_remote_ids(admin_user):
    """Isolates and sequences are read with one joined query (`isolate_documents_read`); what it
    builds must stay the document built from models (`otus_with_children`), remote ids included."""
    from refs.documents import isolate_documents_read, otu_document, otus_with_children
    from refs.models import OTU, Sequence

    reference = services.reference_create(user=admin_user, name="Remote")
    otu = services.otu_create(user=admin_user, reference=reference, name="Remote virus")
    isolate = services.isolate_add(user=admin_user, otu_id=otu.id, source_type="isolate", source_name="A")
    services.sequence_create(
        user=admin_user, otu_id=otu.id, isolate_id=isolate.isolate_id, accession="NC_1", definition="d", host="h", sequence="ACGT"
    )
    services.isolate_add(user=admin_user, otu_id=otu.id, source_type="isolate", source_name="B")
    OTU.objects.filter(id=otu.id).update(remote_id="remote-otu")
    Sequence.objects.filter(otu_id=otu.id).update(remote_id="remote-seq")

    document = otu_document(otus_with_children(OTU.objects.filter(id=otu.id)).get())
    assert document["isolates"][0]["sequences"][0]["remote"] == {"id": "remote-seq"}
    assert isolate_documents_read([otu.id])[otu.id] == document["isolates"]
    assert otu_document_load(otu.id) == document


@pytest.mark.parametrize("who", ["viewer", "other", "admin", "anonymous"])
def test_the_sql_form_of_visibility_sees_what_references_visible_sees(visibility_world, admin_user, who):
    """The reads written in SQL filter with `references_visible_sql`: the same rule."""
    from django.contrib.auth.models import AnonymousUser

    from refs.permissions import references_visible_sql
    from virtool_site.reads import rows

    viewer, other, _, _ = visibility_world
    user = {"viewer": viewer, "other": other, "admin": admin_user, "anonymous": AnonymousUser()}[who]
    condition, params = references_visible_sql(user, "r")
    found = {reference_id for (reference_id,) in rows(f"SELECT r.id FROM refs_reference r WHERE {condition}", params)}
    assert found == set(references_visible(user).values_list("id", flat=True))
