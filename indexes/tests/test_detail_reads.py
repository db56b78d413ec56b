"""The index detail is built in a fixed number of queries whatever the size of the index, from
the summary of its changes stored when the build was created (or, for a row without one, from
its changes: the same document); lists and lookups never load an index's manifest (an entry
per OTU of the reference)."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from history.models import Change
from indexes import selectors
from indexes.models import Index
from indexes.services import index_create
from indexes.tests.factories import otu_create, otu_edit
from virtool_site.api.renderers import JsonText, OrjsonRenderer
from virtool_site.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def detail_queries(index_id: str) -> tuple[dict, int]:
    with CaptureQueriesContext(connection) as queries:
        document = selectors.index_document(index_id=index_id)
    return document, len(queries)


def summary_forget(index_id: str) -> None:
    Index.objects.filter(id=index_id).update(
        changed_otus=None, change_count=None, modified_otu_count=None, contributor_counts=None
    )


def rendered(document: dict) -> bytes:
    return OrjsonRenderer().render(document)


def test_detail_queries_do_not_grow_with_the_index(user, reference):
    otu_create(reference, name="First virus")
    small, _ = index_create(user=user, reference_id=reference.id, runner="external")
    Index.objects.filter(id=small.id).update(ready=True)
    for n in range(8):
        otu_edit(otu_create(reference, name=f"Virus {n}"), abbreviation=f"V{n}")
    large, _ = index_create(user=user, reference_id=reference.id, runner="external")
    _, small_queries = detail_queries(small.id)
    index, large_queries = detail_queries(large.id)
    # the index with its stored summary; its files with its contributors' names
    assert small_queries == large_queries == 2
    assert (index["change_count"], index["modified_otu_count"]) == (16, 8)
    assert isinstance(index["otus"], JsonText)
    summary_forget(small.id)
    summary_forget(large.id)
    _, small_queries = detail_queries(small.id)
    index, large_queries = detail_queries(large.id)
    # and the changes, for a row without a summary
    assert small_queries == large_queries == 3
    assert (index["change_count"], index["modified_otu_count"]) == (16, 8)
    assert len(index["otus"]) == 8


def test_the_stored_summary_gives_the_document_the_changes_give(user, reference):
    curator = UserFactory(username="a-curator")
    first = otu_create(reference, name="zebra virus")
    otu_edit(first, abbreviation="ZV", user=curator)
    otu_edit(first, abbreviation="ZV2", user=curator)
    otu_create(reference, name="Alpha virus", user=curator)
    otu_create(reference, name="alpha virus 2")
    index, _ = index_create(user=user, reference_id=reference.id, runner="external")
    stored, _ = detail_queries(index.id)
    summary_forget(index.id)
    read, _ = detail_queries(index.id)
    assert rendered(stored) == rendered(read)
    assert read["contributors"] == [{"id": "a-curator", "count": 3}, {"id": user.username, "count": 2}]
    assert [otu["name"] for otu in read["otus"]] == ["Alpha virus", "alpha virus 2", "zebra virus"]


def test_contributors_show_their_names_as_they_are_now(user, reference):
    otu_create(reference, name="Some virus")
    index, _ = index_create(user=user, reference_id=reference.id, runner="external")
    user.username = "renamed"
    user.save(update_fields=["username"])
    document, _ = detail_queries(index.id)
    assert document["contributors"] == [{"id": "renamed", "count": 1}]
    user.delete()
    document, _ = detail_queries(index.id)
    assert document["contributors"] == []
    assert document["user"] is None


def test_changed_otus_carry_the_latest_name_the_manifest_version_and_every_change(user, reference):
    otu = otu_create(reference, name="Old name virus")
    otu_edit(otu, abbreviation="ONV")
    Change.objects.filter(otu_id=otu.id, otu_version=1).update(otu_name="New name virus")
    other = otu_create(reference, name="another virus")
    index, _ = index_create(user=user, reference_id=reference.id, runner="external")
    detailed = json.loads(rendered(detail_queries(index.id)[0]))
    assert detailed["otus"] == [
        {"id": other.id, "name": "another virus", "version": 0, "change_count": 1},
        {"id": otu.id, "name": "New name virus", "version": 1, "change_count": 2},
    ]
    assert (detailed["change_count"], detailed["modified_otu_count"]) == (3, 2)


def test_lookups_and_lists_leave_the_manifest_unloaded(user, reference, user_client):
    otu_create(reference, name="Some virus")
    index, _ = index_create(user=user, reference_id=reference.id, runner="external")
    looked_up = selectors.index_for_request(user=user, index_id=index.id)
    assert "manifest" in looked_up.get_deferred_fields()
    with CaptureQueriesContext(connection) as queries:
        [listed] = user_client.get(f"/api/refs/{reference.id}/indexes").json()["documents"]
    assert not any("manifest" in query["sql"] for query in queries.captured_queries)
    assert listed["change_count"] == 1
