"""API keys in the admin: created by api_key_create, the key shown once, the hash never."""

import pytest
from django.contrib.messages import get_messages

from virtool_site.models import ApiKey
from virtool_site.services import api_key_create

pytestmark = pytest.mark.django_db

KEYS = "/admin/virtool_site/apikey/"


@pytest.fixture
def web(client, admin_user):
    client.force_login(admin_user)
    return client


def test_creating_a_key_shows_it_once_and_it_works(web, user, api_client):
    response = web.post(f"{KEYS}add/", {"user": user.pk, "name": "pipeline"})
    assert response.status_code == 302
    api_key = ApiKey.objects.get(name="pipeline")
    assert api_key.user == user
    (shown,) = [str(m) for m in get_messages(response.wsgi_request) if "not be shown again" in str(m)]
    secret = shown.split("<code>")[1].split("</code>")[0]
    assert secret.startswith(api_key.prefix)
    # The key authenticates against the API, as keys made through the API do.
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api_client.get("/api/processes").status_code == 200
    # Shown once, on the page the admin shows next; never again, and the hash never.
    assert secret in web.get(KEYS).content.decode()
    for page in (web.get(KEYS), web.get(f"{KEYS}{api_key.pk}/change/")):
        content = page.content.decode()
        assert secret not in content and api_key.key_hash not in content and "key_hash" not in content


def test_the_add_form_asks_only_for_user_and_name(web):
    form = web.get(f"{KEYS}add/").context["adminform"].form
    assert list(form.fields) == ["user", "name"]


def test_editing_a_key_changes_only_its_name(web, user):
    api_key, _ = api_key_create(user=user, name="old")
    key_hash = api_key.key_hash
    response = web.post(f"{KEYS}{api_key.pk}/change/", {"name": "new", "key_hash": "0" * 64})
    assert response.status_code == 302
    api_key.refresh_from_db()
    assert api_key.name == "new" and api_key.key_hash == key_hash


def test_revoke_action_revokes_through_the_service(web, user, api_client):
    api_key, secret = api_key_create(user=user, name="k")
    response = web.post(KEYS, {"action": "revoke", "_selected_action": [api_key.pk], "index": "0"})
    assert response.status_code == 302
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api_client.get("/api/processes").status_code == 401


@pytest.fixture
def key_keeper(client, user_factory):
    """A staff user allowed to manage API keys (Django permissions), not an administrator."""
    from django.contrib.auth.models import Permission

    staff = user_factory(username="keykeeper", is_staff=True)
    for codename in ("add_apikey", "view_apikey", "change_apikey"):
        staff.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(staff)
    return staff


def test_staff_cannot_make_a_key_for_another_user(client, key_keeper, admin_user):
    response = client.post(f"{KEYS}add/", {"user": admin_user.pk, "name": "borrowed"})
    assert response.status_code == 200 and "user" in response.context["adminform"].form.errors
    assert not ApiKey.objects.filter(user=admin_user).exists()
    assert client.post(f"{KEYS}add/", {"user": key_keeper.pk, "name": "mine"}).status_code == 302
    assert ApiKey.objects.filter(user=key_keeper, name="mine").exists()


def test_staff_see_and_revoke_only_their_own_keys(client, key_keeper, admin_user):
    theirs, _ = api_key_create(user=admin_user, name="theirs")
    mine, _ = api_key_create(user=key_keeper, name="mine")
    listed = client.get(KEYS).content.decode()
    assert "mine" in listed and "theirs" not in listed
    assert client.get(f"{KEYS}{theirs.pk}/change/").status_code == 302
    client.post(KEYS, {"action": "revoke", "_selected_action": [theirs.pk, mine.pk], "index": "0"})
    theirs.refresh_from_db()
    mine.refresh_from_db()
    assert theirs.revoked_at is None and mine.revoked_at is not None
