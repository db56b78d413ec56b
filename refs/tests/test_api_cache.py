"""Cached API answers (virtool_site.api.cache, keyed by refs.revisions).

A cached answer must be the uncached answer, byte for byte; every write a client can make
must show in the very next read; visibility is checked on every request, cached or not.
"""

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from history.models import Change
from indexes.models import Index
from refs import services
from refs.models import Reference
from refs.permissions import references_visible
from indexes.selectors import index_reference_revision_visible
from refs.revisions import (
    otu_reference_revision_visible,
    reference_revision_bump,
    reference_revision_visible,
    references_revisions_visible,
)
from refs.tests.factories import ReferenceFactory, ReferenceGroupFactory, ReferenceUserFactory
from virtool_site.tests.factories import GroupFactory

pytestmark = pytest.mark.django_db


def revision(reference) -> int:
    return Reference.all_objects.values_list("revision", flat=True).get(id=reference.id)


@pytest.fixture
def built_index(owner, owner_client, reference, full_otu, django_capture_on_commit_callbacks):
    """A ready index of `reference` (bowtie2-build, in process)."""
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(f"/api/refs/{reference.id}/indexes")
    assert response.status_code == 201, response.content
    index = Index.objects.get(id=response.json()["id"])
    assert index.ready
    return index


def cached_paths(reference, otu, index=None) -> list[str]:
    paths = [
        "/api/refs",
        f"/api/refs/{reference.id}",
        f"/api/refs/{reference.id}/otus",
        f"/api/refs/{reference.id}/otus?term=streak&page=1",
        f"/api/otus/{otu.id}",
        f"/api/refs/{reference.id}/history?per_page=5",
    ]
    if index is not None:
        paths.append(f"/api/indexes/{index.id}")
    return paths


# Same answers ---------------------------------------------------------------------------------


def test_a_cached_answer_is_the_uncached_answer_byte_for_byte(
    settings, owner_client, reference, full_otu, built_index
):
    paths = cached_paths(reference, full_otu, built_index)
    settings.API_CACHE_TIMEOUT = 0
    uncached = {path: owner_client.get(path) for path in paths}
    settings.API_CACHE_TIMEOUT = 300
    for path in paths:
        miss, hit = owner_client.get(path), owner_client.get(path)
        for response in (miss, hit):
            assert response.status_code == 200, path
            assert response.content == uncached[path].content, path
            assert response["Content-Type"] == uncached[path]["Content-Type"], path


def test_a_hit_costs_one_query_whatever_the_answer(api_cache, owner_client, reference, full_otu, built_index):
    # The force-authenticated client skips the API key's query; what is left is the key's.
    for path in cached_paths(reference, full_otu, built_index):
        owner_client.get(path)
        with CaptureQueriesContext(connection) as queries:
            assert owner_client.get(path).status_code == 200
        assert len(queries) == 1, (path, [q["sql"] for q in queries])


def test_answers_in_another_rendering_are_not_mixed_up(api_cache, owner_client, reference, full_otu):
    path = f"/api/otus/{full_otu.id}"
    plain = owner_client.get(path)
    indented = owner_client.get(path, HTTP_ACCEPT="application/json; indent=4")
    assert indented.content != plain.content
    assert indented.json() == plain.json()
    assert owner_client.get(path, HTTP_ACCEPT="application/json; indent=4").content == indented.content
    assert owner_client.get(path).content == plain.content


def test_the_browsable_api_is_answered_without_the_cache(api_cache, owner_client, full_otu):
    response = owner_client.get(f"/api/otus/{full_otu.id}?format=api")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert owner_client.get(f"/api/otus/{full_otu.id}")["Content-Type"] == "application/json"


# Writes show at once ----------------------------------------------------------------------


def _writes(owner, reference, otu):
    """Each write a client can make to the data of cached answers, through the services the
    API and the admin call."""
    isolate = otu.isolates.order_by("position").first()
    sequence = isolate.sequences.order_by("position").first()
    return {
        "edit OTU": lambda: services.otu_edit(user=owner, otu_id=otu.id, abbreviation="BSV2"),
        "add isolate": lambda: services.isolate_add(user=owner, otu_id=otu.id, source_type="isolate", source_name="New"),
        "rename isolate": lambda: services.isolate_edit(
            user=owner, otu_id=otu.id, isolate_id=isolate.isolate_id, source_name="Renamed"
        ),
        "edit sequence": lambda: services.sequence_edit(
            user=owner, otu_id=otu.id, isolate_id=isolate.isolate_id, sequence_id=sequence.id, definition="Edited"
        ),
        "remove sequence": lambda: services.sequence_remove(
            user=owner, otu_id=otu.id, isolate_id=isolate.isolate_id, sequence_id=sequence.id
        ),
        "create OTU": lambda: services.otu_create(user=owner, reference=reference, name="Cucumber mosaic virus"),
        "edit reference": lambda: services.reference_edit(user=owner, reference=reference, name="Renamed reference"),
    }


WRITES = ["edit OTU", "add isolate", "rename isolate", "edit sequence", "remove sequence", "create OTU", "edit reference"]


@pytest.mark.parametrize("write", WRITES)
def test_every_write_shows_in_the_next_cached_read(api_cache, settings, owner, owner_client, reference, full_otu, write):
    paths = cached_paths(reference, full_otu)
    for path in paths:
        owner_client.get(path)
    before = revision(reference)
    _writes(owner, reference, full_otu)[write]()
    assert revision(reference) > before
    cached_after = {path: owner_client.get(path).content for path in paths}
    settings.API_CACHE_TIMEOUT = 0
    for path in paths:
        assert cached_after[path] == owner_client.get(path).content, (write, path)


def test_a_revert_through_the_api_shows_in_the_next_cached_read(api_cache, owner_client, reference, full_otu, owner):
    services.otu_edit(user=owner, otu_id=full_otu.id, abbreviation="REVERTED")
    path = f"/api/otus/{full_otu.id}"
    assert owner_client.get(path).json()["abbreviation"] == "REVERTED"
    change = Change.objects.filter(otu_id=full_otu.id).order_by("-otu_version").first()
    assert owner_client.delete(f"/api/history/{change.id}").status_code == 204
    assert owner_client.get(path).json()["abbreviation"] == "BSV"


def test_a_build_shows_in_the_next_cached_read(api_cache, owner_client, reference, full_otu, django_capture_on_commit_callbacks):
    history_path = f"/api/refs/{reference.id}/history"
    unbuilt = {"id": "unbuilt", "version": "unbuilt"}
    assert all(change["index"] == unbuilt for change in owner_client.get(history_path).json()["documents"])
    assert owner_client.get("/api/refs").json()["documents"][0]["latest_build"] is None
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.post(f"/api/refs/{reference.id}/indexes").status_code == 201
    assert all(change["index"]["version"] == 0 for change in owner_client.get(history_path).json()["documents"])
    assert owner_client.get("/api/refs").json()["documents"][0]["latest_build"] is not None


def test_rights_given_through_the_api_show_in_the_next_cached_read(api_cache, owner_client, reference, user_factory):
    user_factory(username="curator")
    path = f"/api/refs/{reference.id}"
    assert [u["id"] for u in owner_client.get(path).json()["users"]] == ["owner"]
    response = owner_client.post(f"{path}/users", {"user_id": "curator", "modify_otu": True}, format="json")
    assert response.status_code == 201, response.content
    assert [u["id"] for u in owner_client.get(path).json()["users"]] == ["owner", "curator"]


def test_renaming_a_user_or_group_shows_in_the_next_cached_read(api_cache, owner, owner_client, reference, full_otu):
    group = GroupFactory(name="curators")
    ReferenceGroupFactory(reference=reference, group=group)
    history_path = f"/api/refs/{reference.id}/history"
    assert owner_client.get(history_path).json()["documents"][0]["user"]["id"] == "owner"
    assert owner_client.get(f"/api/refs/{reference.id}").json()["groups"][0]["id"] == "curators"
    owner.username = "renamed"
    owner.save()
    assert owner_client.get(history_path).json()["documents"][0]["user"]["id"] == "renamed"
    group.name = "editors"
    group.save()
    assert owner_client.get(f"/api/refs/{reference.id}").json()["groups"][0]["id"] == "editors"


def test_deleting_a_group_through_the_api_shows_in_the_next_cached_read(api_cache, admin_client, owner_client, reference):
    ReferenceGroupFactory(reference=reference, group=GroupFactory(name="curators"))
    path = f"/api/refs/{reference.id}"
    assert [g["id"] for g in owner_client.get(path).json()["groups"]] == ["curators"]
    assert admin_client.delete("/api/groups/curators").status_code == 204
    assert owner_client.get(path).json()["groups"] == []


def test_deleting_a_user_shows_in_the_next_cached_read(api_cache, owner_client, reference, user_factory):
    curator = user_factory(username="curator")
    ReferenceUserFactory(reference=reference, user=curator)
    path = f"/api/refs/{reference.id}"
    assert [u["id"] for u in owner_client.get(path).json()["users"]] == ["owner", "curator"]
    curator.delete()
    assert [u["id"] for u in owner_client.get(path).json()["users"]] == ["owner"]


def test_saving_a_user_without_renaming_keeps_the_revisions(owner, reference):
    before = revision(reference)
    owner.first_name = "Ada"
    owner.save()
    owner.save(update_fields=["last_login"])
    assert revision(reference) == before


def test_a_rolled_back_write_keeps_the_revision(owner, reference):
    before = revision(reference)
    with pytest.raises(RuntimeError), transaction.atomic():
        reference_revision_bump(reference_ids=reference.id)
        raise RuntimeError
    assert revision(reference) == before


def test_an_unreachable_cache_is_answered_without(api_cache, settings, monkeypatch, caplog, owner_client, full_otu):
    from virtool_site.api import throttling
    from virtool_site.testing import free_port

    monkeypatch.setattr(throttling, "_last_warnings", {})
    settings.API_CACHE_TIMEOUT = 0
    expected = owner_client.get(f"/api/otus/{full_otu.id}").content
    settings.API_CACHE_TIMEOUT = 300
    settings.CACHES = {
        **settings.CACHES,
        "api": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        },
    }
    for _ in range(2):
        response = owner_client.get(f"/api/otus/{full_otu.id}")
        assert response.status_code == 200
        assert response.content == expected
    assert "API answers built without the cache, cache unavailable: ConnectionError" in caplog.text


# Visibility on every request --------------------------------------------------------------


def test_a_cached_answer_is_never_given_to_a_user_who_may_not_see_it(
    api_cache, owner_client, stranger_client, reference, full_otu, built_index
):
    for path in cached_paths(reference, full_otu, built_index)[1:]:
        assert owner_client.get(path).status_code == 200
        assert stranger_client.get(path).status_code == 404, path
    assert stranger_client.get("/api/refs").json()["documents"] == []


def test_users_who_see_different_references_get_their_own_lists(api_cache, owner_client, stranger, stranger_client, reference):
    ReferenceFactory(user=stranger, name="Stranger's own")
    assert [r["name"] for r in owner_client.get("/api/refs").json()["documents"]] == ["Plant Viruses"]
    assert [r["name"] for r in stranger_client.get("/api/refs").json()["documents"]] == ["Stranger's own"]


def test_a_reference_made_private_is_no_longer_answered_from_the_cache(api_cache, client_for, owner, user_factory, reference, full_otu):
    reader = client_for(user_factory(username="reader"))
    services.reference_edit(user=owner, reference=reference, public=True)
    assert reader.get(f"/api/otus/{full_otu.id}").status_code == 200
    services.reference_edit(user=owner, reference=reference, public=False)
    assert reader.get(f"/api/otus/{full_otu.id}").status_code == 404


def test_an_unfinished_index_is_answered_without_the_cache(api_cache, owner_client, reference, full_otu):
    index = Index.objects.create(reference=reference, version=0, user=reference.user, manifest={}, ready=False)
    assert owner_client.get(f"/api/indexes/{index.id}").status_code == 200
    assert index_reference_revision_visible(
        user=reference.user, index_id=index.id
    ) == (reference.id, revision(reference), False)


# The key queries agree with refs.permissions --------------------------------------------


@pytest.mark.parametrize("who", ["viewer", "other", "admin"])
def test_the_key_queries_see_what_references_visible_sees(visibility_world, admin_user, who):
    viewer, other, _, refs = visibility_world
    user = {"viewer": viewer, "other": other, "admin": admin_user}[who]
    expected = set(references_visible(user).values_list("id", flat=True))
    assert {reference_id for reference_id, _ in references_revisions_visible(user=user)} == expected
    for reference in refs.values():
        assert (reference_revision_visible(user=user, reference_id=reference.id) is not None) == (reference.id in expected)


def test_the_otu_key_query_follows_its_reference(visibility_world, owner):
    viewer, other, _, refs = visibility_world
    otu = services.otu_create(user=other, reference=refs["by_group"], name="Shared virus")
    assert otu_reference_revision_visible(user=viewer, otu_id=otu.id) == (refs["by_group"].id, revision(refs["by_group"]))
    assert otu_reference_revision_visible(user=owner, otu_id=otu.id) is None
    assert otu_reference_revision_visible(user=viewer, otu_id="missing") is None


# The guard that holds every write path to bumping ---------------------------------------------


def test_the_revision_guard_refuses_a_write_that_did_not_bump_first(reference, full_otu):
    from conftest import service_missing
    from refs.testing import _guard_set

    if connection.vendor != "postgresql":
        service_missing("the revision guard is a PostgreSQL trigger (set DATABASE_URL)")

    _guard_set(True)
    try:
        with pytest.raises(DatabaseError, match="revision guard"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('virtool.revision_bumped', '', true)")
            Reference.objects.filter(id=reference.id).update(name="Unbumped")
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('virtool.revision_bumped', '', true)")
            reference_revision_bump(reference_ids=reference.id)
            Reference.objects.filter(id=reference.id).update(name="Bumped")
    finally:
        _guard_set(False)
    assert Reference.objects.get(id=reference.id).name == "Bumped"
