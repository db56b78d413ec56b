"""The references and OTU admin: every page and action, through the same services as the API."""

import gzip
import json

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from history.models import Change
from indexes.models import Index
from refs import services
from refs.admin import OTUAdmin
from refs.models import OTU, Isolate, Reference, ReferenceGroup, ReferenceUser, Sequence
from refs.tests.admin_helpers import (  # noqa: F401 (fixtures)
    change_fields,
    curator,
    messages_of,
    otu_form_data,
    sequence_form_data,
    web,
)
from virtool_site.models import Process

pytestmark = pytest.mark.django_db

OTUS = "/admin/refs/otu/"
REFERENCES = "/admin/refs/reference/"


def otu_url(otu) -> str:
    return f"{OTUS}{otu.pk}/change/"


def reference_url(reference) -> str:
    return f"{REFERENCES}{reference.pk}/change/"


@pytest.fixture
def staff_factory(user_factory):
    def make(username, **kwargs):
        return user_factory(username=username, is_staff=True, **kwargs)

    return make


@pytest.fixture
def other_reference(user_factory):
    """A private reference of someone else."""
    return services.reference_create(user=user_factory(username="someone"), name="Other viruses")


# References: list, search, filters, detail --------------------------------------------------


def test_reference_list_shows_otu_count_unbuilt_changes_and_latest_build(web, reference, full_otu, abtv):
    index = Index.objects.create(reference=reference, version=0, ready=True, manifest={})
    response = web.get(REFERENCES)
    assert response.status_code == 200
    row = response.context["cl"].result_list[0]
    assert row.otu_count == 2
    assert row.unbuilt_change_count == Change.objects.filter(reference_id=reference.id).count()
    assert row.latest_build_id == index.id
    content = response.content.decode()
    assert "Plant Viruses" in content and f"/admin/indexes/index/{index.id}/change/" in content


def test_reference_list_search_and_filters(web, reference, curator):
    services.reference_create(user=curator, name="Fungi", public=True)
    assert [r.name for r in web.get(REFERENCES, {"q": "fung"}).context["cl"].result_list] == ["Fungi"]
    assert [r.name for r in web.get(REFERENCES, {"public__exact": "0"}).context["cl"].result_list] == [
        "Plant Viruses"
    ]


def test_staff_see_only_references_they_hold_rights_on(client, staff_factory, reference, other_reference, abtv):
    staff = staff_factory("curious")
    # Public, or shared without any right, is not enough to be in someone's curation admin.
    Reference.objects.filter(id=other_reference.id).update(public=True)
    ReferenceUser.objects.create(reference=reference, user=staff)
    client.force_login(staff)
    assert list(client.get(REFERENCES).context["cl"].result_list) == []
    assert client.get(reference_url(reference)).status_code == 302  # "does not exist" redirect
    assert list(client.get(OTUS).context["cl"].result_list) == []
    assert client.get(otu_url(abtv)).status_code == 302


def test_rights_through_a_group_show_the_reference(client, staff_factory, reference):
    staff = staff_factory("grouped")
    group = Group.objects.create(name="curators")
    staff.groups.add(group)
    ReferenceGroup.objects.create(reference=reference, group=group, modify_otu=True)
    client.force_login(staff)
    assert [r.id for r in client.get(REFERENCES).context["cl"].result_list] == [reference.id]


def test_superusers_see_every_reference(client, admin_user, reference, other_reference):
    client.force_login(admin_user)
    ids = {r.id for r in client.get(REFERENCES).context["cl"].result_list}
    assert ids == {reference.id, other_reference.id}


def test_reference_detail_shows_rights_inlines(web, reference, user_factory):
    member = user_factory(username="member")
    services.reference_user_add(user=reference.user, reference=reference, user_id="member", rights={"build": True})
    response = web.get(reference_url(reference))
    assert response.status_code == 200
    content = response.content.decode()
    assert "user rights" in content.lower() and "group rights" in content.lower()
    assert member.username in content
    assert "Build index" in content and "Export (built)" in content and "?scope=unbuilt" in content


def test_reference_edit_goes_through_reference_edit(web, reference):
    data = _reference_form(reference, name="Plant Viruses 2", source_types="isolate, Strain, clone")
    response = web.post(reference_url(reference), data)
    assert response.status_code == 302, _errors(response)
    reference.refresh_from_db()
    assert reference.name == "Plant Viruses 2"
    # reference_edit cleans source types: lower-cased, without repeats.
    assert reference.source_types == ["isolate", "strain", "clone"]


def test_reference_edit_refusal_is_a_message_and_changes_nothing(web, reference):
    data = _reference_form(reference, name="Renamed", internal_control="nosuchid")
    response = web.post(reference_url(reference), data)
    assert response.status_code == 302
    assert messages_of(response) == ["Internal control does not exist"]
    reference.refresh_from_db()
    assert reference.name == "Plant Viruses"


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"description": "bell\x07 and delete\x7f"}, "description"),
        ({"name": "tab\x1bescape"}, "name"),
        ({"source_types": "isolate, " + "s" * 65}, "source_types"),
        ({"source_types": ", ".join(f"type{n}" for n in range(101))}, "source_types"),
    ],
)
def test_reference_edit_refuses_what_the_api_refuses_and_changes_nothing(web, reference, changes, field):
    before = Reference.objects.filter(pk=reference.pk).values().get()
    response = web.post(reference_url(reference), _reference_form(reference, **changes))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert Reference.objects.filter(pk=reference.pk).values().get() == before


def test_add_reference_refuses_control_characters_as_the_api_does(client, staff_factory):
    client.force_login(staff_factory("creator", create_ref=True))
    data = {"name": "New\x1b viruses", "description": "", "organism": "virus", "data_type": "genome"}
    response = client.post(f"{REFERENCES}add/", data)
    assert response.status_code == 200 and "name" in response.context["adminform"].form.errors
    assert not Reference.objects.filter(name__startswith="New").exists()


def test_reference_without_modify_right_is_read_only(client, staff_factory, reference):
    staff = staff_factory("builder")
    ReferenceUser.objects.create(reference=reference, user=staff, build=True)
    client.force_login(staff)
    assert client.get(reference_url(reference)).status_code == 200
    response = client.post(reference_url(reference), _reference_form(reference, name="Hijacked"))
    assert response.status_code == 403
    reference.refresh_from_db()
    assert reference.name == "Plant Viruses"


def test_rights_inline_adds_edits_and_removes_through_services(web, reference, user_factory):
    user_factory(username="helper")
    helper = type(reference.user).objects.get(username="helper")
    data = _reference_form(reference)
    data.update(
        {
            "user_rights-TOTAL_FORMS": "2",
            "user_rights-1-user": "helper",
            "user_rights-1-build": "on",
            "user_rights-1-modify_otu": "on",
        }
    )
    response = web.post(reference_url(reference), data)
    assert response.status_code == 302, _errors(response)
    entry = ReferenceUser.objects.get(reference=reference, user=helper)
    assert (entry.build, entry.modify, entry.modify_otu, entry.remove) == (True, False, True, False)

    data = _reference_form(reference)
    rows = list(ReferenceUser.objects.filter(reference=reference).order_by("created_at", "id"))
    helper_row = [i for i, row in enumerate(rows) if row.user_id == helper.pk][0]
    data[f"user_rights-{helper_row}-DELETE"] = "on"
    response = web.post(reference_url(reference), data)
    assert response.status_code == 302, _errors(response)
    assert not ReferenceUser.objects.filter(reference=reference, user=helper).exists()


def test_rights_inlines_do_not_list_every_user_and_group_to_a_curator(web, reference, user_factory):
    """GET /api/users and /api/groups are for administrators: a curator names a member instead."""
    user_factory(username="bystander")
    Group.objects.create(name="Secret lab")
    page = web.get(reference_url(reference)).content.decode()
    assert "bystander" not in page and "Secret lab" not in page
    data = _reference_form(reference)
    data.update({"user_rights-TOTAL_FORMS": "2", "user_rights-1-user": "nobody", "user_rights-1-build": "on"})
    response = web.post(reference_url(reference), data)
    assert response.status_code == 200
    assert not ReferenceUser.objects.filter(reference=reference, user__username="nobody").exists()

    # By name, then an existing entry (its member shown by name) edited.
    data["user_rights-1-user"] = "bystander"
    assert web.post(reference_url(reference), data).status_code == 302
    data = _reference_form(reference)
    rows = list(ReferenceUser.objects.filter(reference=reference).order_by("created_at", "id"))
    row = [i for i, entry in enumerate(rows) if entry.user.username == "bystander"][0]
    data[f"user_rights-{row}-modify"] = "on"
    response = web.post(reference_url(reference), data)
    assert response.status_code == 302, _errors(response)
    entry = ReferenceUser.objects.get(reference=reference, user__username="bystander")
    assert (entry.build, entry.modify) == (True, True)


def test_add_reference_needs_create_ref_and_uses_reference_create(client, staff_factory):
    staff = staff_factory("creator", create_ref=True)
    client.force_login(staff)
    response = client.post(
        f"{REFERENCES}add/",
        {"name": "New viruses", "description": "", "organism": "virus", "data_type": "genome"},
    )
    assert response.status_code == 302, _errors(response)
    reference = Reference.objects.get(name="New viruses")
    entry = ReferenceUser.objects.get(reference=reference, user=staff)
    assert entry.build and entry.modify and entry.modify_otu and entry.remove

    staff.create_ref = False
    staff.save()
    assert client.get(f"{REFERENCES}add/").status_code == 403


# Reference actions ------------------------------------------------------------------------


def _action(web, action, *references, **extra):
    return web.post(
        REFERENCES, {"action": action, "_selected_action": [r.pk for r in references], "index": "0", **extra}
    )


def test_build_index_action_starts_the_api_build_and_links_to_it(web, reference, full_otu, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _action(web, "build_index", reference)
    assert response.status_code == 302
    index = Index.objects.get(reference=reference)
    assert index.version == 0 and not index.ready and index.job is not None
    assert len(callbacks) == 1  # the build task, queued on commit as the API queues it
    assert Change.objects.filter(reference_id=reference.id, index__isnull=True).count() == 0
    (message,) = messages_of(response)
    assert f"/admin/indexes/index/{index.id}/change/" in message and f"/admin/virtool_site/job/{index.job_id}/" in message


def test_build_index_refusals_are_the_api_messages(web, reference, abtv, client, staff_factory):
    response = _action(web, "build_index", reference)
    assert messages_of(response) == ["Plant Viruses: There are unverified OTUs"]
    assert not Index.objects.exists()

    staff = staff_factory("modifier")
    ReferenceUser.objects.create(reference=reference, user=staff, modify=True)
    client.force_login(staff)
    response = _action(client, "build_index", reference)
    assert messages_of(response)[-1] == "Plant Viruses: Insufficient rights"


def test_build_button_on_the_reference_page(web, reference, full_otu):
    response = web.post(f"{REFERENCES}{reference.pk}/build/")
    assert response.status_code == 302 and response["Location"] == reference_url(reference)
    assert Index.objects.filter(reference=reference).count() == 1
    assert web.get(f"{REFERENCES}{reference.pk}/build/").status_code == 405


def _reference_file(response) -> dict:
    body = b"".join(response.streaming_content)
    return json.loads(gzip.decompress(body))


def test_export_action_streams_the_reference_file(web, reference, full_otu, abtv):
    response = _action(web, "export_unbuilt", reference)
    assert response.status_code == 200 and response["Content-Type"] == "application/gzip"
    document = _reference_file(response)
    assert sorted(o["name"] for o in document["otus"]) == ["Abaca bunchy top virus", "Banana streak virus"]
    # Never built: nothing to export as built.
    assert _reference_file(_action(web, "export_built", reference))["otus"] == []


def test_export_needs_exactly_one_reference(web, reference, curator):
    second = services.reference_create(user=curator, name="Second")
    response = _action(web, "export_built", reference, second)
    assert response.status_code == 302
    assert messages_of(response) == ["Select exactly one reference to export."]


def test_export_link_on_the_reference_page(web, reference, full_otu):
    response = web.get(f"{REFERENCES}{reference.pk}/export/", {"scope": "unbuilt"})
    assert [o["name"] for o in _reference_file(response)["otus"]] == ["Banana streak virus"]


def test_clone_action_starts_the_clone_process(web, reference, full_otu, curator, django_capture_on_commit_callbacks):
    curator.create_ref = True
    curator.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = _action(web, "clone_reference", reference)
    clone = Reference.objects.get(name="Clone of Plant Viruses")
    assert clone.cloned_from == {"id": reference.id, "name": reference.name}
    process = Process.objects.get(id=clone.process_id)
    assert process.type == "clone_reference" and process.complete and process.error is None
    assert OTU.objects.filter(reference=clone, name="Banana streak virus").exists()
    (message,) = messages_of(response)
    assert f"/admin/virtool_site/process/{process.id}/change/" in message


def test_cloning_a_reference_with_a_long_name_gives_the_clone_a_name_that_fits(
    web, reference, full_otu, curator, django_capture_on_commit_callbacks
):
    curator.create_ref = True
    curator.save()
    Reference.objects.filter(pk=reference.pk).update(name="ñ" * 255)
    with django_capture_on_commit_callbacks(execute=True):
        response = web.post(reference_url(reference).replace("/change/", "/clone/"))
    assert response.status_code == 302
    clone = Reference.objects.exclude(pk=reference.pk).get()
    assert clone.name == ("Clone of " + "ñ" * 255)[:255]
    assert clone.cloned_from == {"id": reference.id, "name": "ñ" * 255}


def test_clone_needs_the_create_ref_permission(web, reference):
    response = _action(web, "clone_reference", reference)
    assert messages_of(response) == ["Plant Viruses: Insufficient rights"]
    assert Reference.objects.count() == 1


def test_delete_action_confirms_then_starts_the_deletion_process(web, reference, full_otu, django_capture_on_commit_callbacks):
    confirmation = _action(web, "delete_selected", reference)
    assert confirmation.status_code == 200
    assert b"OTUs (deleted by a process)" in confirmation.content
    with django_capture_on_commit_callbacks(execute=True):
        response = _action(web, "delete_selected", reference, post="yes")
    assert response.status_code == 302
    assert not Reference.objects.filter(id=reference.id).exists()
    deleted = Reference.all_objects.filter(id=reference.id).first()
    process = Process.objects.get(type="delete_reference")
    assert deleted is None or deleted.process_id == process.id
    assert not OTU.objects.filter(reference_id=reference.id).exists()
    assert any(f"/admin/virtool_site/process/{process.id}/change/" in m for m in messages_of(response))


def test_delete_without_the_remove_right_is_refused_and_deletes_nothing(client, staff_factory, reference):
    staff = staff_factory("editor")
    ReferenceUser.objects.create(reference=reference, user=staff, modify=True)
    client.force_login(staff)
    page = _action(client, "delete_selected", reference)
    assert b"needs the remove right" in page.content
    assert _action(client, "delete_selected", reference, post="yes").status_code == 403
    assert client.post(f"{REFERENCES}{reference.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Reference.objects.filter(id=reference.id).exists()
    assert not Process.objects.exists()


def test_delete_from_the_reference_page(web, reference):
    response = web.post(f"{REFERENCES}{reference.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Reference.objects.filter(id=reference.id).exists()
    assert Process.objects.filter(type="delete_reference").exists()


# OTU list ------------------------------------------------------------------------------------


def test_otu_list_shows_issues_and_filters(web, reference, full_otu, abtv, otu_factory):
    otu_factory("Cucumber mosaic virus", "CMV", isolates=1, sequences=0)
    response = web.get(OTUS)
    rows = {otu.name: otu for otu in response.context["cl"].result_list}
    assert set(rows) == {"Abaca bunchy top virus", "Banana streak virus", "Cucumber mosaic virus"}
    content = response.content.decode()
    assert "no isolates" in content and "1 isolate(s) without sequences" in content
    assert [o.name for o in web.get(OTUS, {"q": "bsv"}).context["cl"].result_list] == ["Banana streak virus"]
    assert [o.name for o in web.get(OTUS, {"q": "cucumber"}).context["cl"].result_list] == ["Cucumber mosaic virus"]
    assert [o.name for o in web.get(OTUS, {"verified__exact": "1"}).context["cl"].result_list] == [
        "Banana streak virus"
    ]
    assert len(web.get(OTUS, {"reference": reference.id}).context["cl"].result_list) == 3
    assert len(web.get(OTUS, {"reference": "nothing"}).context["cl"].result_list) == 0


#: Session, user, reference filter choices, page and total counts, the nav sidebar's permission checks
#: (4), OTUs, isolates, sequences.
OTU_LIST_QUERIES = 12


@pytest.mark.parametrize("page_size", [3, 12])
def test_otu_list_runs_a_fixed_number_of_queries(
    web, reference, otu_factory, monkeypatch, django_assert_num_queries, page_size
):
    for n in range(12):
        otu_factory(f"Virus {n:02d}", f"V{n}", isolates=2, sequences=2)
    monkeypatch.setattr(OTUAdmin, "list_per_page", page_size)
    with django_assert_num_queries(OTU_LIST_QUERIES):
        response = web.get(OTUS)
    assert len(response.context["cl"].result_list) == page_size
    assert "isolates have different sequence counts" not in response.content.decode()


# OTU editor -------------------------------------------------------------------------------------


def test_otu_page_shows_isolates_sequences_schema_and_history(web, full_otu):
    response = web.get(otu_url(full_otu))
    assert response.status_code == 200
    content = response.content.decode()
    for isolate in Isolate.objects.filter(otu=full_otu):
        assert isolate.isolate_id in content
    for sequence in Sequence.objects.filter(otu=full_otu):
        assert sequence.accession in content
    assert "Save OTU" in content and "Set as default" in content and "Add an isolate" in content
    assert "Created Banana streak virus (BSV)" in content


def test_abbreviation_edit_in_the_admin_writes_the_change_the_api_writes(
    web, curator, client_for, reference, otu_factory
):
    mirror_reference = services.reference_create(user=curator, name="Mirror")
    in_admin = otu_factory(isolates=1, sequences=1)
    in_api = otu_factory(isolates=1, sequences=1, ref=mirror_reference)

    response = web.post(otu_url(in_admin), otu_form_data(in_admin, abbreviation="BTV"))
    assert response.status_code == 302
    api_response = client_for(curator).patch(f"/api/otus/{in_api.id}", {"abbreviation": "BTV"}, format="json")
    assert api_response.status_code == 200

    admin_changes = Change.objects.filter(otu_id=in_admin.id, method_name="edit")
    api_changes = Change.objects.filter(otu_id=in_api.id, method_name="edit")
    assert admin_changes.count() == 1 and api_changes.count() == 1
    assert change_fields(admin_changes.get()) == change_fields(api_changes.get())
    assert admin_changes.get().description == "Changed abbreviation to BTV"
    assert admin_changes.get().user == curator


@pytest.mark.parametrize(
    "admin_edit,api_edit",
    [
        (
            lambda otu: otu_form_data(otu, name="Abaca bunchy top virus 2", abbreviation=""),
            lambda otu: ("patch", f"/api/otus/{otu.id}", {"name": "Abaca bunchy top virus 2", "abbreviation": ""}),
        ),
        (
            lambda otu: otu_form_data(otu, schema=[{"name": "DNA-R", "molecule": "ssDNA", "required": True}]),
            lambda otu: (
                "patch",
                f"/api/otus/{otu.id}",
                {"schema": [{"name": "DNA-R", "molecule": "ssDNA", "required": True}]},
            ),
        ),
        (
            lambda otu: sequence_form_data(_first_sequence(otu), sequence="acgt\r\nACGT", host="Banana"),
            lambda otu: (
                "patch",
                _sequence_api_url(_first_sequence(otu)),
                {"sequence": "acgt\r\nACGT", "host": "Banana"},
            ),
        ),
        (
            lambda otu: {"action": "set_default", "isolate_id": _second_isolate(otu).isolate_id},
            lambda otu: ("put", f"/api/otus/{otu.id}/isolates/{_second_isolate(otu).isolate_id}/default", None),
        ),
        (
            lambda otu: {
                "action": "edit_isolate",
                "isolate_id": _second_isolate(otu).isolate_id,
                f"isolate-{_second_isolate(otu).isolate_id}-source_type": "strain",
                f"isolate-{_second_isolate(otu).isolate_id}-source_name": "I1",
            },
            lambda otu: (
                "patch",
                f"/api/otus/{otu.id}/isolates/{_second_isolate(otu).isolate_id}",
                {"source_type": "strain"},
            ),
        ),
    ],
    ids=["name-and-abbreviation", "schema", "sequence", "default-isolate", "isolate"],
)
def test_admin_edits_record_the_same_change_as_the_api(web, curator, client_for, otu_factory, admin_edit, api_edit):
    mirror_reference = services.reference_create(user=curator, name="Mirror")
    in_admin = otu_factory(isolates=2, sequences=1)
    in_api = otu_factory(isolates=2, sequences=1, ref=mirror_reference)

    response = web.post(otu_url(in_admin), admin_edit(in_admin))
    assert response.status_code == 302, messages_of(response)
    method, url, body = api_edit(in_api)
    assert getattr(client_for(curator), method)(url, body, format="json").status_code == 200

    admin_change = Change.objects.filter(otu_id=in_admin.id).order_by("-otu_version").first()
    api_change = Change.objects.filter(otu_id=in_api.id).order_by("-otu_version").first()
    assert admin_change.otu_version == api_change.otu_version == in_admin.version + 1
    assert change_fields(admin_change) == change_fields(api_change)


def _first_sequence(otu):
    return Sequence.objects.filter(otu=otu).select_related("isolate").order_by("isolate__position", "position").first()


def _second_isolate(otu):
    return Isolate.objects.filter(otu=otu).order_by("position")[1]


def _sequence_api_url(sequence):
    return f"/api/otus/{sequence.otu_id}/isolates/{sequence.isolate.isolate_id}/sequences/{sequence.id}"


def test_unchanged_submit_records_nothing(web, full_otu):
    before = Change.objects.filter(otu_id=full_otu.id).count()
    response = web.post(otu_url(full_otu), otu_form_data(full_otu))
    assert messages_of(response) == ["Nothing changed."]
    sequence = _first_sequence(full_otu)
    response = web.post(otu_url(full_otu), sequence_form_data(sequence))
    assert messages_of(response)[-1] == "Nothing changed."
    assert Change.objects.filter(otu_id=full_otu.id).count() == before


def test_a_taken_name_is_refused_with_the_api_message(web, full_otu, abtv):
    response = web.post(otu_url(full_otu), otu_form_data(full_otu, name="abaca bunchy top virus"))
    assert response.status_code == 200
    assert "Name already exists" in messages_of(response)
    assert "Name already exists" in response.content.decode()
    full_otu.refresh_from_db()
    assert full_otu.name == "Banana streak virus"


def test_invalid_input_shows_form_errors_and_changes_nothing(web, full_otu):
    version = full_otu.version
    sequence = _first_sequence(full_otu)
    response = web.post(otu_url(full_otu), sequence_form_data(sequence, sequence="ATGX!"))
    assert response.status_code == 200
    assert "Sequence may only contain IUPAC nucleotide codes" in response.content.decode()
    response = web.post(otu_url(full_otu), sequence_form_data(sequence, segment="RNA9"))
    assert response.status_code == 200  # not a choice of the schema
    duplicate = [{"name": "A", "molecule": "", "required": True}, {"name": "A", "molecule": "", "required": True}]
    response = web.post(otu_url(full_otu), otu_form_data(full_otu, schema=duplicate))
    assert "Segment names must be unique" in response.content.decode()
    full_otu.refresh_from_db()
    assert full_otu.version == version


def test_isolate_and_sequence_lifecycle_through_the_editor(web, abtv, curator):
    url = otu_url(abtv)
    response = web.post(url, {"action": "add_isolate", "new-isolate-source_type": "Isolate", "new-isolate-source_name": "A1"})
    assert response.status_code == 302, messages_of(response)
    isolate = Isolate.objects.get(otu=abtv)
    assert (isolate.source_type, isolate.default) == ("isolate", True)

    prefix = f"new-sequence-{isolate.isolate_id}"
    response = web.post(
        url,
        {
            "action": "add_sequence",
            "isolate_id": isolate.isolate_id,
            f"{prefix}-accession": "NC_003814",
            f"{prefix}-definition": "Abaca bunchy top virus DNA-R",
            f"{prefix}-host": "Abaca",
            f"{prefix}-segment": "",
            f"{prefix}-sequence": "ATGC ATGC",
        },
    )
    assert response.status_code == 302, messages_of(response)
    sequence = Sequence.objects.get(otu=abtv)
    assert sequence.sequence == "ATGCATGC"

    web.post(url, {"action": "remove_sequence", "isolate_id": isolate.isolate_id, "sequence_id": sequence.id})
    web.post(url, {"action": "remove_isolate", "isolate_id": isolate.isolate_id})
    methods = list(Change.objects.filter(otu_id=abtv.id).order_by("otu_version").values_list("method_name", "description"))
    assert methods == [
        ("create", "Created Abaca bunchy top virus (ABTV)"),
        ("add_isolate", "Added Isolate A1 and set as default"),
        ("create_sequence", "Created new sequence NC_003814 in Isolate A1"),
        ("remove_sequence", "Removed sequence NC_003814 from Isolate A1"),
        ("remove_isolate", "Removed Isolate A1"),
    ]
    assert set(Change.objects.filter(otu_id=abtv.id).values_list("user", flat=True)) == {curator.pk}


def test_restricted_source_type_is_refused(web, abtv, reference):
    services.reference_edit(user=reference.user, reference=reference, restrict_source_types=True, source_types=["strain"])
    response = web.post(
        otu_url(abtv), {"action": "add_isolate", "new-isolate-source_type": "isolate", "new-isolate-source_name": "A1"}
    )
    assert "Source type is not allowed" in messages_of(response)
    assert not Isolate.objects.filter(otu=abtv).exists()


def test_without_modify_otu_the_editor_is_read_only_and_refuses(client, staff_factory, reference, full_otu):
    staff = staff_factory("reader")
    ReferenceUser.objects.create(reference=reference, user=staff, build=True)
    client.force_login(staff)
    page = client.get(otu_url(full_otu)).content.decode()
    assert "Save OTU" not in page and "modify_otu" in page
    response = client.post(otu_url(full_otu), otu_form_data(full_otu, abbreviation="NOPE"))
    assert messages_of(response) == ["Insufficient rights"]
    full_otu.refresh_from_db()
    assert full_otu.abbreviation == "BSV"
    response = client.post(f"{OTUS}{full_otu.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert OTU.objects.filter(id=full_otu.id).exists()


def test_add_otu_uses_otu_create(web, reference, curator):
    page = web.get(f"{OTUS}add/", {"reference": reference.id})
    assert page.status_code == 200 and "Create OTU" in page.content.decode()
    data = otu_form_data(OTU(name="", abbreviation="", schema=[]), name="Tobacco mosaic virus", abbreviation="TMV")
    data.pop("action")
    data["otu-reference"] = reference.id
    response = web.post(f"{OTUS}add/", data)
    otu = OTU.objects.get(name="Tobacco mosaic virus")
    assert response.status_code == 302 and response["Location"] == otu_url(otu)
    change = Change.objects.get(otu_id=otu.id)
    assert (change.method_name, change.description, change.user) == ("create", "Created Tobacco mosaic virus (TMV)", curator)
    again = web.post(f"{OTUS}add/", data)
    assert again.status_code == 200 and "Name and abbreviation already exist" in again.content.decode()


def test_remove_otu_from_its_page_goes_through_otu_remove(web, full_otu, curator):
    confirmation = web.get(f"{OTUS}{full_otu.pk}/delete/")
    assert confirmation.status_code == 200 and b"Sequences: 4" in confirmation.content
    response = web.post(f"{OTUS}{full_otu.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not OTU.objects.filter(id=full_otu.id).exists()
    removal = Change.objects.get(id=f"{full_otu.id}.removed")
    assert removal.method_name == "remove" and removal.user == curator


def test_bulk_remove_is_all_or_nothing(client, staff_factory, reference, full_otu, abtv):
    staff = staff_factory("partial")
    ReferenceUser.objects.create(reference=reference, user=staff, modify_otu=True)
    second = services.reference_create(user=reference.user, name="Read only")
    ReferenceUser.objects.create(reference=second, user=staff, build=True)
    locked = services.otu_create(user=reference.user, reference=second, name="Locked virus")
    client.force_login(staff)
    selected = [full_otu.pk, abtv.pk, locked.pk]
    page = client.post(OTUS, {"action": "delete_selected", "_selected_action": selected})
    assert "Locked virus" in page.content.decode() and "needs the modify_otu right" in page.content.decode()
    assert client.post(OTUS, {"action": "delete_selected", "_selected_action": selected, "post": "yes"}).status_code == 403
    assert OTU.objects.filter(id__in=selected).count() == 3

    response = client.post(OTUS, {"action": "delete_selected", "_selected_action": selected[:2], "post": "yes"})
    assert response.status_code == 302
    assert not OTU.objects.filter(id__in=selected[:2]).exists()
    assert Change.objects.filter(method_name="remove", user=staff).count() == 2


# Helpers ------------------------------------------------------------------------------------------


def _reference_form(reference, **changes) -> dict:
    reference.refresh_from_db()
    users = list(ReferenceUser.objects.filter(reference=reference).order_by("created_at", "id"))
    groups = list(ReferenceGroup.objects.filter(reference=reference).order_by("created_at", "id"))
    data = {
        "name": reference.name,
        "description": reference.description,
        "organism": reference.organism,
        "internal_control": reference.internal_control or "",
        "source_types": ", ".join(reference.source_types or []),
        "user_rights-TOTAL_FORMS": str(len(users)),
        "user_rights-INITIAL_FORMS": str(len(users)),
        "user_rights-MIN_NUM_FORMS": "0",
        "user_rights-MAX_NUM_FORMS": "1000",
        "group_rights-TOTAL_FORMS": str(len(groups)),
        "group_rights-INITIAL_FORMS": str(len(groups)),
        "group_rights-MIN_NUM_FORMS": "0",
        "group_rights-MAX_NUM_FORMS": "1000",
    }
    if reference.public:
        data["public"] = "on"
    if reference.restrict_source_types:
        data["restrict_source_types"] = "on"
    for position, entry in enumerate(users):
        data[f"user_rights-{position}-id"] = str(entry.pk)
        data[f"user_rights-{position}-reference"] = reference.pk
        for right in ("build", "modify", "modify_otu", "remove"):
            if getattr(entry, right):
                data[f"user_rights-{position}-{right}"] = "on"
    for position, entry in enumerate(groups):
        data[f"group_rights-{position}-id"] = str(entry.pk)
        data[f"group_rights-{position}-reference"] = reference.pk
        for right in ("build", "modify", "modify_otu", "remove"):
            if getattr(entry, right):
                data[f"group_rights-{position}-{right}"] = "on"
    data.update(changes)
    return data


def _errors(response):
    context = getattr(response, "context", None)
    if not context:
        return messages_of(response)
    errors = []
    if context.get("adminform"):
        errors.append(context["adminform"].form.errors)
    for formset in context.get("inline_admin_formsets", []):
        errors.append(formset.formset.errors)
        errors.append(formset.formset.non_form_errors())
    return errors


def test_the_editor_runs_the_same_queries_however_many_isolates(web, otu_factory):
    small = otu_factory("Small virus", "SV", isolates=1, sequences=1)
    large = otu_factory("Large virus", "LV", isolates=5, sequences=3)
    counts = []
    for otu in (small, large):
        with CaptureQueriesContext(connection) as queries:
            assert web.get(otu_url(otu)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_the_editor_leads_back_to_the_otu_list_through_its_breadcrumbs(client, staff_factory, reference, full_otu):
    staff = staff_factory("reader")
    ReferenceUser.objects.create(reference=reference, user=staff, build=True)
    client.force_login(staff)
    editor = client.get(otu_url(full_otu)).content.decode()
    crumbs = editor[editor.index('<div class="breadcrumbs">'):]
    crumbs = crumbs[: crumbs.index("</div>")]
    assert f'href="{OTUS}"' in crumbs and crumbs.rstrip().endswith(full_otu.name)
