import pytest

from virtool_site.tests.factories import GroupFactory

pytestmark = pytest.mark.django_db


def test_administrator_creates_a_user_with_permissions(admin_client):
    response = admin_client.post(
        "/api/users",
        {"handle": "bob", "password": "a long password", "permissions": {"create_ref": True}},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["id"] == "bob" and body["administrator"] is False
    assert body["permissions"]["create_ref"] is True and body["permissions"]["upload_file"] is False
    assert response["Location"] == "/api/users/bob"


def test_creating_an_existing_user_is_422(admin_client, user):
    response = admin_client.post("/api/users", {"handle": user.username, "password": "a long password"}, format="json")
    assert response.status_code == 422


@pytest.mark.parametrize("method, path", [("get", "/api/users"), ("post", "/api/users"), ("get", "/api/groups")])
def test_users_and_groups_are_for_administrators_only(user_client, method, path):
    response = getattr(user_client, method)(path, {}, format="json")
    assert response.status_code == 403
    assert response.json()["message"] == "Insufficient rights"


def test_administrator_lists_gets_and_edits_users(admin_client, user):
    listed = admin_client.get("/api/users").json()
    assert user.username in [u["id"] for u in listed["documents"]]
    assert admin_client.get(f"/api/users/{user.username}").json()["id"] == user.username
    response = admin_client.patch(f"/api/users/{user.username}", {"permissions": {"upload_file": True}}, format="json")
    assert response.status_code == 200
    assert response.json()["permissions"]["upload_file"] is True


def test_unknown_user_is_404(admin_client):
    assert admin_client.get("/api/users/nobody").status_code == 404


def test_administrator_cannot_remove_own_administrator_role(admin_client, admin_user):
    response = admin_client.patch(f"/api/users/{admin_user.username}", {"administrator": False}, format="json")
    assert response.status_code == 400


def test_group_permissions_are_granted_to_members(admin_client, user, client_for):
    assert admin_client.post("/api/groups", {"name": "curators"}, format="json").status_code == 201
    assert admin_client.patch("/api/groups/curators", {"permissions": {"create_ref": True}}, format="json").status_code == 200
    assert admin_client.patch(f"/api/users/{user.username}", {"groups": ["curators"]}, format="json").status_code == 200
    account = client_for(user).get("/api/account").json()
    assert account["permissions"]["create_ref"] is True
    assert [g["id"] for g in account["groups"]] == ["curators"]


def test_adding_a_user_to_an_unknown_group_is_422(admin_client, user):
    response = admin_client.patch(f"/api/users/{user.username}", {"groups": ["ghosts"]}, format="json")
    assert response.status_code == 422


def test_group_get_and_delete(admin_client):
    group = GroupFactory(name="lab")
    assert admin_client.get("/api/groups/lab").json()["permissions"]["create_ref"] is False
    assert admin_client.delete(f"/api/groups/{group.name}").status_code == 204
    assert admin_client.get("/api/groups/lab").status_code == 404


def test_account_shows_own_permissions(client_for, user_factory):
    user = user_factory(create_sample=True)
    body = client_for(user).get("/api/account").json()
    assert body["id"] == user.username and body["permissions"]["create_sample"] is True


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_creations_of_one_user_answer_201_and_the_specs_422_not_a_500(admin_user, monkeypatch):
    import threading

    from django.db import connection
    from rest_framework.test import APIClient

    from virtool_site.models import User

    # Both requests pass the "already exists" check before either inserts.
    barrier = threading.Barrier(2, timeout=10)
    set_password = User.set_password

    def set_password_together(self, raw):
        set_password(self, raw)
        if self.username == "twin":
            barrier.wait()

    monkeypatch.setattr(User, "set_password", set_password_together)
    statuses = []

    def create():
        client = APIClient(raise_request_exception=False)
        client.force_authenticate(admin_user)
        try:
            response = client.post("/api/users", {"handle": "twin", "password": "a long password"}, format="json")
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses) == [201, 422], statuses  # the loser of the race: 422 "User already exists"
