"""The index detail is built in a fixed number of queries whatever the size of the index, and
lists and lookups never load an index's manifest (an entry per OTU of the reference)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from history.models import Change
from indexes import selectors
from indexes.models import Index
from indexes.services import index_create
from indexes.tests.factories import otu_create, otu_edit

pytestmark = pytest.mark.django_db


def detail_queries(index_id: str) -> tuple[Index, int]:
    index = Index.objects.get(id=index_id)
    with CaptureQueriesContext(connection) as queries:
        selectors.index_detail(index)
    return index, len(queries)


def test_detail_queries_do_not_grow_with_the_index(user, reference):
    otu_create(reference, name="First virus")
    small, _ = index_create(user=user, reference_id=reference.id, runner="external")
    Index.objects.filter(id=small.id).update(ready=True)
    for n in range(8):
        otu_edit(otu_create(reference, name=f"Virus {n}"), abbreviation=f"V{n}")
    large, _ = index_create(user=user, reference_id=reference.id, runner="external")
    _, small_queries = detail_queries(small.id)
    index, large_queries = detail_queries(large.id)
    # the changes, the contributors, the files
    assert small_queries == large_queries == 3
    assert (index.change_count, index.modified_otu_count) == (16, 8)
    assert len(index.changed_otus) == 8


def test_changed_otus_carry_the_latest_name_the_manifest_version_and_every_change(user, reference):
    otu = otu_create(reference, name="Old name virus")
    otu_edit(otu, abbreviation="ONV")
    Change.objects.filter(otu_id=otu.id, otu_version=1).update(otu_name="New name virus")
    other = otu_create(reference, name="another virus")
    index, _ = index_create(user=user, reference_id=reference.id, runner="external")
    detailed, _ = detail_queries(index.id)
    assert detailed.changed_otus == [
        {"id": other.id, "name": "another virus", "version": 0, "change_count": 1},
        {"id": otu.id, "name": "New name virus", "version": 1, "change_count": 2},
    ]
    assert (detailed.change_count, detailed.modified_otu_count) == (3, 2)


def test_lookups_and_lists_leave_the_manifest_unloaded(user, reference):
    otu_create(reference, name="Some virus")
    index, _ = index_create(user=user, reference_id=reference.id, runner="external")
    looked_up = selectors.index_for_request(user=user, index_id=index.id)
    assert "manifest" in looked_up.get_deferred_fields()
    [listed] = selectors.index_list_queryset(Index.objects.filter(id=index.id))
    assert "manifest" in listed.get_deferred_fields()
    assert listed.change_count == 1
