import re

import pytest

from analyses.models import Analysis, AnalysisFile, Sample
from analyses.tests.factories import AnalysisFactory, SampleFactory
from virtool_site.models import Job
from virtool_site.tests.factories import GroupFactory

pytestmark = pytest.mark.django_db


def test_create_sample_answers_201_with_location_and_the_document(owner_client, owner):
    response = owner_client.post(
        "/api/samples",
        {"name": "Grapevine 7", "host": "Vitis vinifera", "isolate": "Field 3", "locale": "Okanagan",
         "notes": "leafroll symptoms", "library_type": "srna"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert response["Location"] == f"/api/samples/{body['id']}"
    assert re.fullmatch(r"[a-z0-9]{8}", body["id"])
    assert body["user"] == {"id": "owner"}
    assert {k: body[k] for k in ("name", "host", "isolate", "locale", "notes", "library_type")} == {
        "name": "Grapevine 7", "host": "Vitis vinifera", "isolate": "Field 3", "locale": "Okanagan",
        "notes": "leafroll symptoms", "library_type": "srna",
    }
    # Virtool's default sample rights: everyone reads, group reads, nobody else writes.
    assert (body["group"], body["group_read"], body["group_write"], body["all_read"], body["all_write"]) == (
        None, True, False, True, False,
    )
    assert body["created_at"].endswith("Z")


def test_create_sample_with_a_group_and_rights(owner_client):
    GroupFactory(name="lab")
    body = owner_client.post(
        "/api/samples",
        {"name": "S", "group": "lab", "group_write": True, "all_read": False},
        format="json",
    ).json()
    assert (body["group"], body["group_write"], body["all_read"]) == ("lab", True, False)


def test_create_sample_needs_the_create_sample_permission(client_for, user_factory):
    response = client_for(user_factory()).post("/api/samples", {"name": "S"}, format="json")
    assert response.status_code == 403
    assert response.json() == {"id": "insufficient_rights", "message": "Insufficient rights"}


def test_create_sample_permission_can_come_from_a_group(client_for, user_factory):
    member = user_factory()
    member.groups.add(GroupFactory(flags={"create_sample": True}))
    assert client_for(member).post("/api/samples", {"name": "S"}, format="json").status_code == 201


def test_create_sample_with_a_name_in_use_is_400(owner_client, sample):
    response = owner_client.post("/api/samples", {"name": sample.name}, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == "Sample name is already in use"


def test_create_sample_with_an_unknown_group_is_400(owner_client):
    response = owner_client.post("/api/samples", {"name": "S", "group": "nobody"}, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == "Group does not exist"


@pytest.mark.parametrize(
    "body, field",
    [({}, "name"), ({"name": ""}, "name"), ({"name": "S", "library_type": "dna"}, "library_type"),
     ({"name": "S", "all_read": "perhaps"}, "all_read"), ({"name": "x" * 256}, "name")],
)
def test_create_sample_with_invalid_input_is_422(owner_client, body, field):
    response = owner_client.post("/api/samples", body, format="json")
    assert response.status_code == 422
    assert field in response.json()["errors"]


def test_anonymous_clients_are_401(api_client, sample):
    assert api_client.get("/api/samples").status_code == 401
    assert api_client.get(f"/api/samples/{sample.id}").status_code == 401


def test_get_missing_sample_is_404(owner_client):
    response = owner_client.get("/api/samples/notthere")
    assert response.status_code == 404
    assert response.json() == {"id": "not_found", "message": "Not found"}


def test_update_sample_fields(owner_client, sample):
    response = owner_client.patch(f"/api/samples/{sample.id}", {"name": "Renamed", "notes": "n"}, format="json")
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["notes"]) == ("Renamed", "n")
    sample.refresh_from_db()
    assert sample.name == "Renamed"


def test_update_sample_rights_by_owner(owner_client, sample):
    GroupFactory(name="lab")
    body = owner_client.patch(
        f"/api/samples/{sample.id}", {"group": "lab", "group_read": True, "all_write": True}, format="json"
    ).json()
    assert (body["group"], body["group_read"], body["all_write"]) == ("lab", True, True)
    body = owner_client.patch(f"/api/samples/{sample.id}", {"group": None}, format="json").json()
    assert body["group"] is None


def test_update_sample_rights_by_a_writer_who_is_not_the_owner_is_403(client_for, user_factory, owner):
    sample = SampleFactory(user=owner, all_write=True)
    writer = client_for(user_factory())
    assert writer.patch(f"/api/samples/{sample.id}", {"notes": "ok"}, format="json").status_code == 200
    response = writer.patch(f"/api/samples/{sample.id}", {"all_read": False}, format="json")
    assert response.status_code == 403
    sample.refresh_from_db()
    assert sample.all_read is False and sample.notes == "ok"


def test_update_sample_to_a_name_in_use_is_400(owner_client, owner, sample):
    other = SampleFactory(user=owner)
    response = owner_client.patch(f"/api/samples/{other.id}", {"name": sample.name}, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == "Sample name is already in use"


def test_update_sample_with_unknown_group_is_400_and_invalid_input_422(owner_client, sample):
    assert owner_client.patch(f"/api/samples/{sample.id}", {"group": "none"}, format="json").status_code == 400
    assert owner_client.patch(f"/api/samples/{sample.id}", {"name": ""}, format="json").status_code == 422


def test_update_missing_sample_is_404(owner_client):
    assert owner_client.patch("/api/samples/notthere", {"notes": ""}, format="json").status_code == 404


def test_delete_sample_removes_its_analyses_their_files_and_stops_their_jobs(owner_client, sample, data_dir):
    job = Job.objects.create(workflow="nuvs", state="running")
    running = AnalysisFactory(sample=sample, job=job)
    done = AnalysisFactory(sample=sample, ready=True)
    AnalysisFile.objects.create(analysis=done, name="a.json", name_on_disk="1-a.json")
    folder = data_dir / "analyses" / done.id
    folder.mkdir(parents=True)
    (folder / "1-a.json").write_text("{}")

    response = owner_client.delete(f"/api/samples/{sample.id}")
    assert response.status_code == 204
    assert not Sample.objects.filter(id=sample.id).exists()
    assert not Analysis.objects.filter(id__in=[running.id, done.id]).exists()
    job.refresh_from_db()
    assert job.state == "cancelled"


def test_delete_sample_removes_analysis_folders_on_commit(owner_client, sample, data_dir, django_capture_on_commit_callbacks):
    done = AnalysisFactory(sample=sample, ready=True)
    folder = data_dir / "analyses" / done.id
    folder.mkdir(parents=True)
    (folder / "1-a.json").write_text("{}")
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.delete(f"/api/samples/{sample.id}").status_code == 204
    assert not folder.exists()


def test_delete_missing_sample_is_404(owner_client):
    assert owner_client.delete("/api/samples/notthere").status_code == 404


# Lists -------------------------------------------------------------------------------------


def test_list_samples_in_the_page_envelope_newest_first(owner_client, owner):
    names = [SampleFactory(user=owner, name=f"S{n}").name for n in range(3)]
    body = owner_client.get("/api/samples").json()
    assert set(body) == {"documents", "total_count", "found_count", "page_count", "per_page", "page"}
    assert [d["name"] for d in body["documents"]] == list(reversed(names))


def test_list_samples_find_matches_name_host_isolate_and_owner(client_for, user_factory, owner):
    SampleFactory(user=owner, name="Grape leaf", host="Vitis", isolate="", all_read=True)
    SampleFactory(user=owner, name="Cherry", host="Prunus avium", isolate="GL-2", all_read=True)
    SampleFactory(user=user_factory(username="glenn"), name="Peach", host="Prunus", all_read=True)
    SampleFactory(user=owner, name="Hidden grape", all_read=False)
    client = client_for(user_factory())
    body = client.get("/api/samples?find=gl").json()
    assert sorted(d["name"] for d in body["documents"]) == ["Cherry", "Peach"]
    assert (body["found_count"], body["total_count"]) == (2, 3)
    body = client.get("/api/samples?find=grape").json()
    assert [d["name"] for d in body["documents"]] == ["Grape leaf"]


def test_list_samples_bad_paging_is_422(owner_client):
    response = owner_client.get("/api/samples?per_page=0")
    assert response.status_code == 422
    assert response.json()["message"] == "Invalid query"


def test_list_samples_runs_a_fixed_number_of_queries(client_for, user_factory, django_assert_num_queries):
    viewer = user_factory()
    group = GroupFactory()
    viewer.groups.add(group)
    for n in range(30):
        SampleFactory(user=user_factory(), group=group if n % 2 else None, group_read=True, all_read=not n % 2)
    client = client_for(viewer)
    # the page with its found count (with no `find`, the found count is the total count)
    with django_assert_num_queries(1):
        assert len(client.get("/api/samples?per_page=5").json()["documents"]) == 5
    with django_assert_num_queries(1):
        assert len(client.get("/api/samples?per_page=30").json()["documents"]) == 30


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["owner", "member", "stranger", "administrator", "anonymous"])
def test_the_sql_form_of_sample_rights_reads_what_samples_readable_reads(user_factory, who):
    """The sample reads written in SQL filter with `samples_readable_sql`: the same rule."""
    from django.contrib.auth.models import AnonymousUser

    from analyses.permissions import samples_readable, samples_readable_sql
    from virtool_site.reads import rows

    owner, member, stranger = user_factory(), user_factory(), user_factory()
    group, other_group = GroupFactory(), GroupFactory()
    member.groups.add(group)
    for n, (sample_group, flags) in enumerate([
        (None, {}), (group, {"group_read": True}), (group, {"group_write": True}), (other_group, {"group_read": True}),
        (None, {"all_read": True}), (None, {"all_write": True}), (group, {}),
    ]):
        defaults = {"group_read": False, "group_write": False, "all_read": False, "all_write": False}
        SampleFactory(user=owner, group=sample_group, name=f"Sample {n}", **{**defaults, **flags})
    user = {
        "owner": owner, "member": member, "stranger": stranger,
        "administrator": user_factory(is_superuser=True), "anonymous": AnonymousUser(),
    }[who]
    condition, params = samples_readable_sql(user, "sm")
    found = {sample_id for (sample_id,) in rows(f"SELECT sm.id FROM analyses_sample sm WHERE {condition}", params)}
    assert found == set(samples_readable(user).values_list("id", flat=True))
