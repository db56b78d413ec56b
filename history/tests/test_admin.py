"""The history admin: read-only list, readable diffs, and revert through the API's service."""

import pytest

from history.admin import ChangeAdmin
from history.admin_diff import diff_rows
from history.models import Change
from indexes.models import Index
from refs import services
from refs.documents import otu_document_load
from refs.models import OTU, ReferenceUser, Sequence
from refs.tests.admin_helpers import curator, messages_of, web  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

HISTORY = "/admin/history/change/"


def change_url(change_id: str) -> str:
    return f"{HISTORY}{change_id}/change/"


def revert_url(change_id: str) -> str:
    return f"{HISTORY}{change_id}/revert/"


@pytest.fixture
def edited_otu(full_otu, owner):
    """Banana streak virus at version 8: created with isolates and sequences, then three edits."""
    services.otu_edit(user=owner, otu_id=full_otu.id, abbreviation="BSV2")
    sequence = Sequence.objects.filter(otu=full_otu).select_related("isolate").order_by("isolate__position", "position").first()
    services.sequence_edit(
        user=owner,
        otu_id=full_otu.id,
        isolate_id=sequence.isolate.isolate_id,
        sequence_id=sequence.id,
        sequence="ACGT" * 100,
    )
    services.otu_edit(user=owner, otu_id=full_otu.id, name="Banana streak virus X")
    return OTU.objects.get(id=full_otu.id)


# List ------------------------------------------------------------------------------------------


def test_history_list_shows_every_column(web, edited_otu, reference):
    response = web.get(HISTORY)
    assert response.status_code == 200
    changes = list(response.context["cl"].result_list)
    assert len(changes) == Change.objects.filter(otu_id=edited_otu.id).count()
    content = response.content.decode()
    for text in ("Plant Viruses", "Banana streak virus", "edit_sequence", "Changed abbreviation to BSV2", "owner", "unbuilt"):
        assert text in content
    assert f"/admin/refs/otu/{edited_otu.id}/change/" in content


def test_history_list_filters_and_search(web, edited_otu, abtv, reference):
    index = Index.objects.create(reference=reference, version=0, ready=True, manifest={})
    Change.objects.filter(otu_id=abtv.id).update(index=index)
    names = lambda response: {c.otu_name for c in response.context["cl"].result_list}  # noqa: E731
    assert names(web.get(HISTORY, {"built": "built"})) == {"Abaca bunchy top virus"}
    assert "Abaca bunchy top virus" not in names(web.get(HISTORY, {"built": "unbuilt"}))
    assert {c.method_name for c in web.get(HISTORY, {"method_name": "edit"}).context["cl"].result_list} == {"edit"}
    assert names(web.get(HISTORY, {"q": "abaca"})) == {"Abaca bunchy top virus"}
    other = services.reference_create(user=reference.user, name="Other")
    services.otu_create(user=reference.user, reference=other, name="Other virus")
    assert "Other virus" in names(web.get(HISTORY))
    assert "Other virus" not in names(web.get(HISTORY, {"reference": reference.id}))
    assert names(web.get(HISTORY, {"reference": other.id})) == {"Other virus"}
    assert len(web.get(HISTORY, {"otu_id": abtv.id}).context["cl"].result_list) == 1
    assert len(web.get(HISTORY, {"index__id__exact": index.id}).context["cl"].result_list) == 1
    page = web.get(HISTORY, {"built": "built"}).content.decode()
    assert f"/admin/indexes/index/{index.id}/change/" in page and "version 0" in page


def test_staff_see_only_the_history_of_their_references(client, user_factory, edited_otu, reference):
    outsider = user_factory(username="outsider", is_staff=True)
    client.force_login(outsider)
    assert list(client.get(HISTORY).context["cl"].result_list) == []
    change = Change.objects.filter(otu_id=edited_otu.id).first()
    assert client.get(change_url(change.id)).status_code == 302  # "does not exist" redirect
    ReferenceUser.objects.create(reference=reference, user=outsider, build=True)
    assert len(client.get(HISTORY).context["cl"].result_list) == Change.objects.count()


def test_history_is_read_only(web, edited_otu):
    change = Change.objects.filter(otu_id=edited_otu.id).first()
    assert web.get(f"{HISTORY}add/").status_code == 403
    assert web.post(f"{HISTORY}{change.id}/delete/", {"post": "yes"}).status_code == 403
    actions = [value for value, _ in web.get(HISTORY).context["action_form"].fields["action"].choices]
    assert "delete_selected" not in actions and "revert_selected" in actions


#: Session, user, reference filter choices, method filter values, page and total counts, the
#: nav sidebar's permission checks (4), and the changes with their users, indexes, references.
HISTORY_LIST_QUERIES = 11


@pytest.mark.parametrize("page_size", [4, 16])
def test_history_list_runs_a_fixed_number_of_queries(
    web, otu_factory, monkeypatch, django_assert_num_queries, page_size
):
    for n in range(4):
        otu_factory(f"Virus {n}", f"V{n}", isolates=1, sequences=2)
    assert Change.objects.count() >= 16
    monkeypatch.setattr(ChangeAdmin, "list_per_page", page_size)
    with django_assert_num_queries(HISTORY_LIST_QUERIES):
        response = web.get(HISTORY)
    assert len(response.context["cl"].result_list) == page_size


# Diff page -------------------------------------------------------------------------------------


def test_diff_page_shows_paths_with_old_and_new_values(web, edited_otu):
    change = Change.objects.get(otu_id=edited_otu.id, method_name="edit", description="Changed abbreviation to BSV2")
    response = web.get(change_url(change.id))
    assert response.status_code == 200
    content = response.content.decode()
    assert 'class="diff-change"' in content
    assert ">abbreviation<" in content and ">BSV<" in content and ">BSV2<" in content
    assert ">version<" in content
    assert "Revert this change and all later ones" in content
    # The later changes a revert would delete are listed.
    assert content.count("/revert/") == 1
    assert "Changed name to Banana streak virus X" in content


def test_diff_page_truncates_long_sequences_with_their_length(web, edited_otu):
    change = Change.objects.get(otu_id=edited_otu.id, method_name="edit_sequence")
    content = web.get(change_url(change.id)).content.decode()
    assert "isolates.0.sequences.0.sequence" in content
    assert "first difference at position 2; length 14 → 400" in content
    assert "ACGT" * 30 not in content


def test_create_page_renders_the_whole_document_as_added(web, full_otu):
    change = Change.objects.get(otu_id=full_otu.id, method_name="create")
    content = web.get(change_url(change.id)).content.decode()
    assert "Created document" in content and 'class="diff-add"' in content and ">name<" in content


def test_removed_otu_change_pages_still_render(web, full_otu, owner):
    services.otu_remove(user=owner, otu_id=full_otu.id)
    content = web.get(change_url(f"{full_otu.id}.removed")).content.decode()
    assert "Removed document" in content and 'class="diff-remove"' in content
    assert "isolates.1.sequences.1.accession" in content
    assert "Banana streak virus (removed)" in web.get(HISTORY).content.decode()


def test_diff_rows_for_list_nodes_and_added_parts():
    diff = [
        ["change", ["isolates", 0, "sequences", 1, "sequence"], ["A" * 200, "A" * 150 + "C" * 50]],
        ["add", ["isolates", 0, "sequences"], [[2, {"_id": "s1", "accession": "NC_1"}]]],
        ["remove", "isolates", [[1, {"id": "i2", "sequences": []}]]],
        ["add", "", [["remote", {"id": "r"}]]],
    ]
    rows = diff_rows("edit", diff)
    assert [(r.kind, r.path) for r in rows] == [
        ("change", "isolates.0.sequences.1.sequence"),
        ("add", "isolates.0.sequences.2._id"),
        ("add", "isolates.0.sequences.2.accession"),
        ("remove", "isolates.1.id"),
        ("remove", "isolates.1.sequences"),
        ("add", "remote.id"),
    ]
    assert rows[0].note == "first difference at position 151; length 200 → 200"
    assert rows[0].new.startswith("…" + "A" * 20 + "C")
    assert rows[2].new == "NC_1" and rows[3].old == "i2" and rows[4].old == "[]"


# Revert ---------------------------------------------------------------------------------------


def test_revert_from_the_admin_restores_the_otu(web, edited_otu, owner):
    abbreviation_change = Change.objects.get(otu_id=edited_otu.id, description="Changed abbreviation to BSV2")
    before = otu_document_load(edited_otu.id)
    services.otu_edit(user=owner, otu_id=edited_otu.id, abbreviation="TMP")  # something to undo
    services.otu_edit(user=owner, otu_id=edited_otu.id, abbreviation="BSV2")
    # Back to the state before the abbreviation change: version, name, sequence and abbreviation.
    expected_version = abbreviation_change.otu_version - 1

    response = web.post(revert_url(abbreviation_change.id))
    assert response.status_code == 302 and response["Location"] == f"/admin/refs/otu/{edited_otu.id}/change/"
    assert "is back at version" in messages_of(response)[-1]
    restored = otu_document_load(edited_otu.id)
    assert restored["version"] == expected_version
    assert restored["abbreviation"] == "BSV" and restored["name"] == "Banana streak virus"
    assert restored["isolates"][0]["sequences"][0]["sequence"] == "ATGCGTACGTTAGC"
    assert restored["isolates"] == [
        {**isolate, "sequences": [{**s, "sequence": "ATGCGTACGTTAGC"} for s in isolate["sequences"]]}
        for isolate in before["isolates"]
    ]
    assert not Change.objects.filter(otu_id=edited_otu.id, otu_version__gte=abbreviation_change.otu_version).exists()


def test_revert_matches_the_api_revert(web, client_for, owner, otu_factory):
    in_admin = otu_factory("Virus A", "VA", isolates=1, sequences=1)
    in_api = otu_factory("Virus B", "VB", isolates=1, sequences=1)
    for otu, abbreviation in ((in_admin, "NA"), (in_api, "NB")):
        services.otu_edit(user=owner, otu_id=otu.id, abbreviation=abbreviation)
    web.post(revert_url(f"{in_admin.id}.{in_admin.version + 1}"))
    assert client_for(owner).delete(f"/api/history/{in_api.id}.{in_api.version + 1}").status_code == 204
    admin_document, api_document = otu_document_load(in_admin.id), otu_document_load(in_api.id)
    assert (admin_document["abbreviation"], admin_document["version"]) == ("VA", in_admin.version)
    assert (api_document["abbreviation"], api_document["version"]) == ("VB", in_api.version)


def test_reverting_a_create_removes_the_otu(web, abtv):
    response = web.post(revert_url(f"{abtv.id}.0"))
    assert response.status_code == 302 and response["Location"] == f"{HISTORY}?otu_id={abtv.id}"
    assert not OTU.objects.filter(id=abtv.id).exists()
    assert "no longer exists" in messages_of(response)[-1]


def test_reverting_a_removal_brings_the_otu_back(web, full_otu, owner):
    document = otu_document_load(full_otu.id)
    services.otu_remove(user=owner, otu_id=full_otu.id)
    web.post(revert_url(f"{full_otu.id}.removed"))
    assert otu_document_load(full_otu.id) == document


def test_revert_refusal_not_unbuilt_is_an_admin_message(web, edited_otu, reference):
    index = Index.objects.create(reference=reference, version=0, ready=True, manifest={})
    last = Change.objects.filter(otu_id=edited_otu.id).order_by("-otu_version").first()
    Change.objects.filter(id=last.id).update(index=index)
    first_edit = Change.objects.get(otu_id=edited_otu.id, description="Changed abbreviation to BSV2")
    page = web.get(change_url(first_edit.id)).content.decode()
    assert "will be refused" in page
    response = web.post(revert_url(first_edit.id))
    assert response.status_code == 302 and response["Location"] == change_url(first_edit.id)
    assert messages_of(response) == [f"{first_edit.id}: Not unbuilt"]
    assert OTU.objects.get(id=edited_otu.id).version == edited_otu.version


def test_revert_without_modify_otu_is_refused(client, user_factory, edited_otu, reference):
    staff = user_factory(username="viewer", is_staff=True)
    ReferenceUser.objects.create(reference=reference, user=staff, build=True)
    client.force_login(staff)
    change = Change.objects.filter(otu_id=edited_otu.id).order_by("-otu_version").first()
    response = client.post(revert_url(change.id))
    assert messages_of(response) == [f"{change.id}: Insufficient rights"]
    assert Change.objects.filter(id=change.id).exists()
    assert client.get(revert_url(change.id)).status_code == 405


def test_revert_action_reverts_each_otus_earliest_selected_change(web, edited_otu, abtv, owner):
    services.otu_edit(user=owner, otu_id=abtv.id, abbreviation="AB")
    first = Change.objects.get(otu_id=edited_otu.id, description="Changed abbreviation to BSV2")
    later = Change.objects.get(otu_id=edited_otu.id, description="Changed name to Banana streak virus X")
    abtv_edit = Change.objects.get(otu_id=abtv.id, method_name="edit")
    response = web.post(
        HISTORY, {"action": "revert_selected", "_selected_action": [later.id, first.id, abtv_edit.id], "index": "0"}
    )
    assert response.status_code == 302
    assert len(messages_of(response)) == 2
    assert OTU.objects.get(id=edited_otu.id).abbreviation == "BSV"
    assert OTU.objects.get(id=abtv.id).abbreviation == "ABTV"
