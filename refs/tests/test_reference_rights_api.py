import pytest

from refs import services
from refs.models import ReferenceGroup, ReferenceUser
from virtool_site.tests.factories import GroupFactory

pytestmark = pytest.mark.django_db

RIGHT_FIELDS = ("build", "modify", "modify_otu", "modify_kind", "remove")


@pytest.fixture
def member(user_factory):
    return user_factory(username="member")


@pytest.fixture
def curators():
    return GroupFactory(name="curators")


# Users ----------------------------------------------------------------------------------------


def test_list_users_shows_each_entry_with_both_right_names(owner_client, owner, reference, member):
    services.reference_user_add(user=owner, reference=reference, user_id="member", rights={"modify_otu": True})
    body = owner_client.get(f"/api/refs/{reference.id}/users").json()
    assert [entry["id"] for entry in body] == ["owner", "member"]
    entry = body[1]
    assert set(entry) == {"id", "build", "modify", "modify_otu", "modify_kind", "remove", "created_at"}
    assert entry["modify_otu"] is entry["modify_kind"] is True
    assert entry["build"] is entry["modify"] is entry["remove"] is False


def test_list_users_of_an_invisible_reference_is_404(stranger_client, reference):
    assert stranger_client.get(f"/api/refs/{reference.id}/users").status_code == 404


def test_add_user_is_201_with_location(owner_client, reference, member):
    response = owner_client.post(
        f"/api/refs/{reference.id}/users", {"user_id": "member", "build": True, "modify_kind": True}, format="json"
    )
    assert response.status_code == 201
    assert response["Location"] == f"/api/refs/{reference.id}/users/member"
    body = response.json()
    assert {k: body[k] for k in ("id", *RIGHT_FIELDS)} == {
        "id": "member",
        "build": True,
        "modify": False,
        "modify_otu": True,
        "modify_kind": True,
        "remove": False,
    }
    assert ReferenceUser.objects.get(reference=reference, user=member).modify_otu is True


def test_added_user_sees_the_reference(client_for, owner_client, reference, member):
    assert client_for(member).get(f"/api/refs/{reference.id}").status_code == 404
    owner_client.post(f"/api/refs/{reference.id}/users", {"user_id": "member"}, format="json")
    assert client_for(member).get(f"/api/refs/{reference.id}").status_code == 200


def test_add_unknown_user_is_400(owner_client, reference):
    response = owner_client.post(f"/api/refs/{reference.id}/users", {"user_id": "nobody"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"id": "bad_request", "message": "User does not exist"}


def test_add_user_twice_is_400(owner_client, reference, member):
    owner_client.post(f"/api/refs/{reference.id}/users", {"user_id": "member"}, format="json")
    response = owner_client.post(f"/api/refs/{reference.id}/users", {"user_id": "member"}, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == "User already exists"


@pytest.mark.parametrize(
    "body", [{}, {"user_id": "member", "build": "often"}, {"user_id": "member", "modify_otu": True, "modify_kind": False}]
)
def test_add_user_invalid_body_is_422(owner_client, reference, member, body):
    assert owner_client.post(f"/api/refs/{reference.id}/users", body, format="json").status_code == 422


def test_edit_user_rights(owner_client, owner, reference, member):
    services.reference_user_add(user=owner, reference=reference, user_id="member", rights={})
    response = owner_client.patch(
        f"/api/refs/{reference.id}/users/member", {"modify": True, "modify_otu": True}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["modify"], body["modify_otu"], body["modify_kind"], body["build"]) == (True, True, True, False)
    response = owner_client.patch(f"/api/refs/{reference.id}/users/member", {"modify_kind": False}, format="json")
    assert response.json()["modify_otu"] is False


def test_edit_user_who_is_not_a_member_is_404(owner_client, reference, member):
    assert owner_client.patch(f"/api/refs/{reference.id}/users/member", {"build": True}, format="json").status_code == 404


def test_remove_user_is_204(owner_client, owner, reference, member):
    services.reference_user_add(user=owner, reference=reference, user_id="member", rights={})
    assert owner_client.delete(f"/api/refs/{reference.id}/users/member").status_code == 204
    assert not ReferenceUser.objects.filter(reference=reference, user=member).exists()
    assert owner_client.delete(f"/api/refs/{reference.id}/users/member").status_code == 404


# Groups ---------------------------------------------------------------------------------------


def test_add_group_is_201_and_members_get_its_rights(client_for, owner_client, reference, member, curators):
    member.groups.add(curators)
    response = owner_client.post(
        f"/api/refs/{reference.id}/groups", {"group_id": "curators", "modify_otu": True}, format="json"
    )
    assert response.status_code == 201
    assert response["Location"] == f"/api/refs/{reference.id}/groups/curators"
    assert response.json()["id"] == "curators"
    created = client_for(member).post(f"/api/refs/{reference.id}/otus", {"name": "Tobacco mosaic virus"}, format="json")
    assert created.status_code == 201


def test_list_groups(owner_client, owner, reference, curators):
    services.reference_group_add(user=owner, reference=reference, group_id="curators", rights={"build": True})
    body = owner_client.get(f"/api/refs/{reference.id}/groups").json()
    assert len(body) == 1
    assert (body[0]["id"], body[0]["build"], body[0]["modify_kind"]) == ("curators", True, False)


def test_add_unknown_group_is_400(owner_client, reference):
    response = owner_client.post(f"/api/refs/{reference.id}/groups", {"group_id": "nobody"}, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == "Group does not exist"


def test_add_group_twice_is_400(owner_client, owner, reference, curators):
    services.reference_group_add(user=owner, reference=reference, group_id="curators", rights={})
    response = owner_client.post(f"/api/refs/{reference.id}/groups", {"group_id": "curators"}, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == "Group already exists"


def test_edit_and_remove_group(owner_client, owner, reference, curators):
    services.reference_group_add(user=owner, reference=reference, group_id="curators", rights={})
    body = owner_client.patch(f"/api/refs/{reference.id}/groups/curators", {"remove": True}, format="json").json()
    assert body["remove"] is True
    assert owner_client.delete(f"/api/refs/{reference.id}/groups/curators").status_code == 204
    assert not ReferenceGroup.objects.filter(reference=reference).exists()
    assert owner_client.delete(f"/api/refs/{reference.id}/groups/curators").status_code == 404
    assert owner_client.patch(f"/api/refs/{reference.id}/groups/curators", {}, format="json").status_code == 404


# Rights on the rights endpoints -----------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("post", "users", {"user_id": "newbie"}),
        ("patch", "users/owner", {"build": False}),
        ("delete", "users/owner", None),
        ("post", "groups", {"group_id": "editors"}),
        ("patch", "groups/curators", {"build": True}),
        ("delete", "groups/curators", None),
    ],
)
def test_changing_rights_needs_the_modify_right(
    client_for, user_factory, owner, reference, member, curators, method, path, body
):
    user_factory(username="newbie")
    GroupFactory(name="editors")
    services.reference_group_add(user=owner, reference=reference, group_id="curators", rights={})
    services.reference_user_add(
        user=owner, reference=reference, user_id="member", rights={"build": True, "modify_otu": True, "remove": True}
    )
    response = getattr(client_for(member), method)(f"/api/refs/{reference.id}/{path}", body, format="json")
    assert response.status_code == 403
    assert response.json()["message"] == "Insufficient rights"
    services.reference_user_edit(user=owner, reference=reference, user_id="member", rights={"modify": True})
    response = getattr(client_for(member), method)(f"/api/refs/{reference.id}/{path}", body, format="json")
    assert response.status_code in (200, 201, 204)


def test_listing_rights_needs_only_visibility(client_for, owner, reference, member):
    services.reference_user_add(user=owner, reference=reference, user_id="member", rights={})
    assert client_for(member).get(f"/api/refs/{reference.id}/users").status_code == 200
    assert client_for(member).get(f"/api/refs/{reference.id}/groups").status_code == 200
