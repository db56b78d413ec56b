"""History lists read what they show: never a change's diff (a whole OTU document for creations,
imports and removals), nor the manifest of the index a change is built into."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from history import selectors
from history.models import Change
from indexes.models import Index
from refs import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def changes(owner, reference, otu_factory):
    otu = otu_factory("Banana streak virus", "BSV", isolates=2, sequences=2)
    index = Index.objects.create(reference=reference, version=0, ready=True, user=owner, manifest={otu.id: 4})
    Change.objects.filter(reference_id=reference.id).update(index=index)
    services.otu_edit(user=owner, otu_id=otu.id, abbreviation="")
    return otu, index, Change.objects.get(otu_id=otu.id, method_name="edit")


def test_lists_read_no_diff_nor_manifest(owner_client, reference, changes):
    otu, index, _ = changes
    for url in (f"/api/refs/{reference.id}/history", "/api/history", f"/api/otus/{otu.id}/history",
                f"/api/indexes/{index.id}/history"):
        with CaptureQueriesContext(connection) as queries:
            response = owner_client.get(url)
        assert response.status_code == 200, url
        assert not any("diff" in q["sql"] or "manifest" in q["sql"] for q in queries.captured_queries), url


def test_the_change_detail_has_its_diff(owner, reference, changes):
    _, _, edit = changes
    change = selectors.change_detail(user=owner, change_id=edit.id)
    assert ["change", "abbreviation", ["BSV", ""]] in change["diff"]
    assert Change.objects.get(id=edit.id).diff == change["diff"]


def test_list_documents_are_unchanged_by_what_is_loaded(owner_client, reference, changes):
    otu, index, edit = changes
    body = owner_client.get(f"/api/refs/{reference.id}/history?per_page=2").json()
    assert [d["id"] for d in body["documents"]] == [edit.id, f"{otu.id}.{edit.otu_version - 1}"]
    assert body["documents"][0]["index"] == {"id": "unbuilt", "version": "unbuilt"}
    assert body["documents"][1]["index"] == {"id": index.id, "version": 0}
    assert body["documents"][1]["user"] == {"id": "owner"}
    assert "diff" not in body["documents"][0]
    assert body["found_count"] == body["total_count"] == edit.otu_version + 1


def test_newest_first_across_equal_times_by_version_then_id(owner_client, owner, reference, otu_factory):
    first, second = otu_factory("Virus A", "A"), otu_factory("Virus B", "B")
    same_time = Change.objects.get(id=f"{first.id}.0").created_at
    Change.objects.filter(reference_id=reference.id).update(created_at=same_time)
    services.otu_edit(user=owner, otu_id=first.id, abbreviation="A2")
    Change.objects.filter(id=f"{first.id}.1").update(created_at=same_time)
    ids = [d["id"] for d in owner_client.get(f"/api/refs/{reference.id}/history").json()["documents"]]
    expected = sorted(Change.objects.filter(reference_id=reference.id), key=lambda c: (c.otu_version, c.id), reverse=True)
    assert ids == [c.id for c in expected]
    assert ids == [d["id"] for d in owner_client.get("/api/history").json()["documents"]]
