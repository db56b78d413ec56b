import base64

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from virtool_site.services import api_key_create, api_key_revoke, job_create

pytestmark = pytest.mark.django_db


def basic(username: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()


def test_request_without_credentials_is_401_with_virtool_error_body(api_client):
    response = api_client.get("/api/account")
    assert response.status_code == 401
    assert response.json() == {"id": "unauthorized", "message": "Requires authorization"}
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_bearer_api_key_authenticates_its_user(api_client, user):
    _, secret = api_key_create(user=user, name="cli")
    response = api_client.get("/api/account", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
    assert response.json()["id"] == user.username


def test_basic_username_and_key_authenticates_like_virtool_clients(api_client, user):
    _, secret = api_key_create(user=user)
    response = api_client.get("/api/account", HTTP_AUTHORIZATION=basic(user.username, secret))
    assert response.status_code == 200
    assert response.json()["handle"] == user.username


def test_basic_with_another_users_name_is_refused(api_client, user, user_factory):
    other = user_factory()
    _, secret = api_key_create(user=user)
    response = api_client.get("/api/account", HTTP_AUTHORIZATION=basic(other.username, secret))
    assert response.status_code == 401
    assert response.json()["id"] == "unauthorized"


@pytest.mark.parametrize("header", ["Bearer not-a-key", "Basic !!!notbase64", "Basic " + base64.b64encode(b"nocolon").decode()])
def test_unknown_or_malformed_credentials_are_401(api_client, header):
    response = api_client.get("/api/account", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["id"] == "unauthorized"


def test_revoked_key_is_refused(api_client, user):
    api_key, secret = api_key_create(user=user)
    api_key_revoke(user=user, key_id=api_key.id)
    response = api_client.get("/api/account", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 401


def test_key_of_deactivated_user_is_refused(api_client, user):
    _, secret = api_key_create(user=user)
    user.is_active = False
    user.save()
    assert api_client.get("/api/account", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401


def test_keys_are_stored_hashed(user):
    api_key, secret = api_key_create(user=user)
    api_key.refresh_from_db()
    assert secret not in (api_key.key_hash, api_key.prefix) and len(api_key.key_hash) == 64


def test_job_key_authenticates_as_job_but_not_as_a_user(api_client, user):
    job, key = job_create(workflow="build_index", user=user)
    header = basic(f"job-{job.id}", key)
    assert api_client.get(f"/api/jobs/{job.id}", HTTP_AUTHORIZATION=header).status_code == 200
    # A job runner has no user rights: user endpoints refuse it.
    response = api_client.get("/api/account", HTTP_AUTHORIZATION=header)
    assert response.status_code == 403
    assert response.json() == {"id": "insufficient_rights", "message": "Insufficient rights"}


def test_job_key_with_wrong_secret_is_401(api_client, user):
    job, _ = job_create(workflow="build_index", user=user)
    response = api_client.get(f"/api/jobs/{job.id}", HTTP_AUTHORIZATION=basic(f"job-{job.id}", "wrong"))
    assert response.status_code == 401


def test_account_keys_create_list_and_remove(user_client, user):
    created = user_client.post("/api/account/keys", {"name": "laptop"}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "laptop" and body["key"]
    assert created["Location"] == f"/api/account/keys/{body['id']}"

    listed = user_client.get("/api/account/keys").json()
    assert [k["id"] for k in listed] == [body["id"]]
    assert "key" not in listed[0], "the key is shown once, at creation"

    # The key works until it is removed.
    client = APIClient()
    assert client.get("/api/account", HTTP_AUTHORIZATION=f"Bearer {body['key']}").status_code == 200
    assert user_client.delete(f"/api/account/keys/{body['id']}").status_code == 204
    assert client.get("/api/account", HTTP_AUTHORIZATION=f"Bearer {body['key']}").status_code == 401
    assert user_client.delete(f"/api/account/keys/{body['id']}").status_code == 404


def test_create_api_key_command_prints_the_key_alone_on_its_last_line(user, capsys):
    call_command("create_api_key", user.username, "--name", "ci")
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    response = APIClient().get("/api/account", HTTP_AUTHORIZATION=f"Bearer {last_line}")
    assert response.status_code == 200


def test_create_api_key_command_refuses_an_unknown_user_or_a_too_long_name_and_creates_nothing(user):
    from django.core.management import CommandError

    from virtool_site.models import ApiKey

    with pytest.raises(CommandError, match="No user named ghost"):
        call_command("create_api_key", "ghost")
    with pytest.raises(CommandError, match="255 characters"):
        call_command("create_api_key", user.username, "--name", "x" * 256)
    assert not ApiKey.objects.exists()


def test_session_authentication_serves_the_browsable_api(client, user):
    client.force_login(user)
    response = client.get("/api/account", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"<html" in response.content.lower()


@pytest.mark.parametrize("header", ["Basic é", "Basic \xff\xfe", "Basic dXNlcjprZXk=é"])
def test_basic_credentials_that_are_not_ascii_base64_are_401(api_client, header):
    response = api_client.get("/api/account", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["id"] == "unauthorized"


@pytest.mark.parametrize("username", ["job-\x00", "job-ab\x00cd", "job-" + "a" * 5000])
def test_job_credentials_naming_an_impossible_job_id_are_401(api_client, user, username):
    job_create(workflow="build_index", user=user)
    response = api_client.get("/api/jobs/abc", HTTP_AUTHORIZATION=basic(username, "key"))
    assert response.status_code == 401
    assert response.json()["id"] == "unauthorized"


def test_job_key_is_refused_once_the_user_who_started_the_job_is_deactivated(api_client, user):
    job, key = job_create(workflow="build_index", user=user)
    header = basic(f"job-{job.id}", key)
    assert api_client.get(f"/api/jobs/{job.id}", HTTP_AUTHORIZATION=header).status_code == 200
    user.is_active = False
    user.save()
    assert api_client.get(f"/api/jobs/{job.id}", HTTP_AUTHORIZATION=header).status_code == 401


def test_job_key_is_refused_once_the_job_is_cancelled(api_client, user):
    from virtool_site.services import job_cancel

    job, key = job_create(workflow="build_index", user=user)
    job_cancel(job_id=job.id)
    response = api_client.get(f"/api/jobs/{job.id}", HTTP_AUTHORIZATION=basic(f"job-{job.id}", key))
    assert response.status_code == 401
