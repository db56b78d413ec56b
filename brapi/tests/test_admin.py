import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from brapi.models import Reference, ReferenceChunk, ReferenceSet

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_browser(client, admin_user):
    client.force_login(admin_user)
    return client


def _bases_selected(queries) -> bool:
    """Whether any query read the whole bases column (a preview reads a substring)."""
    return any('"brapi_referencechunk"."bases"' in q["sql"] and "SUBSTR" not in q["sql"] for q in queries)


def test_changelists(admin_browser, published, assembly):
    with CaptureQueriesContext(connection) as context:
        assert admin_browser.get("/admin/brapi/referenceset/").status_code == 200
        assert admin_browser.get("/admin/brapi/reference/").status_code == 200
    assert not _bases_selected(context.captured_queries)


def test_reference_change_page_shows_a_preview_only(admin_browser, assembly):
    reference = assembly["set"].references.get(name="NC_000001.1")
    with CaptureQueriesContext(connection) as context:
        response = admin_browser.get(f"/admin/brapi/reference/{reference.id}/change/")
    assert response.status_code == 200
    expected = assembly["sequences"]["NC_000001.1"]
    assert expected[:120] in response.content.decode()
    assert expected[:121] not in response.content.decode()
    assert not _bases_selected(context.captured_queries)


def test_referenceset_change_page(admin_browser, assembly):
    response = admin_browser.get(f"/admin/brapi/referenceset/{assembly['set'].id}/change/")
    assert response.status_code == 200
    assert "3 references" in response.content.decode()


def test_delete_confirmation_and_delete_do_not_load_bases(admin_browser, assembly):
    reference_set = assembly["set"]
    url = f"/admin/brapi/referenceset/{reference_set.id}/delete/"
    with CaptureQueriesContext(connection) as context:
        response = admin_browser.get(url)
        assert response.status_code == 200
        assert admin_browser.post(url, {"post": "yes"}).status_code == 302
    assert not _bases_selected(context.captured_queries)
    assert not ReferenceSet.objects.exists()
    assert not ReferenceChunk.objects.exists()


def test_bulk_delete_references(admin_browser, assembly):
    ids = list(assembly["set"].references.values_list("id", flat=True)[:2])
    data = {"action": "delete_selected", "_selected_action": ids}
    with CaptureQueriesContext(connection) as context:
        assert admin_browser.post("/admin/brapi/reference/", data).status_code == 200  # confirmation
        data["post"] = "yes"
        assert admin_browser.post("/admin/brapi/reference/", data).status_code == 302
    assert not _bases_selected(context.captured_queries)
    assert Reference.objects.count() == 1


def test_republish_action(admin_browser, published):
    data = {"action": "republish", "_selected_action": [published["set"].id]}
    assert admin_browser.post("/admin/brapi/referenceset/", data).status_code == 302
    assert ReferenceSet.objects.get().references.count() == 3


def test_bulk_delete_of_reference_sets_is_all_or_nothing(admin_browser, published, public_published, monkeypatch):
    """A failure deleting the second set leaves the first one in place too."""
    from brapi import services

    delete = services.referenceset_delete
    calls = []

    def delete_then_fail(*, reference_set):
        calls.append(reference_set.id)
        if len(calls) == 2:
            raise RuntimeError("disk gone")
        delete(reference_set=reference_set)

    monkeypatch.setattr(services, "referenceset_delete", delete_then_fail)
    ids = [published["set"].id, public_published["set"].id]
    data = {"action": "delete_selected", "_selected_action": ids, "post": "yes"}
    with pytest.raises(RuntimeError):
        admin_browser.post("/admin/brapi/referenceset/", data)
    assert len(calls) == 2
    assert ReferenceSet.objects.filter(id__in=ids).count() == 2
    assert Reference.objects.filter(reference_set_id__in=ids).count() == 4
