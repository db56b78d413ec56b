"""API key lookup: one query per request, and every change to a key or its user seen at once."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from virtool_site import services
from virtool_site.models import ApiKey
from virtool_site.services import API_KEY_LAST_USED_RESOLUTION, api_key_authenticate, api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_a_recently_used_key_authenticates_in_one_query(user, django_assert_num_queries):
    api_key, secret = api_key_create(user=user)
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=timezone.now())
    with django_assert_num_queries(1):
        assert api_key_authenticate(secret=secret) == user


def test_the_user_is_loaded_whole(user):
    user.create_ref = True
    user.save()
    _, secret = api_key_create(user=user)
    found = api_key_authenticate(secret=secret)
    assert found.get_deferred_fields() == set()
    assert (found.username, found.create_ref, found.is_superuser, found.is_active) == (user.username, True, False, True)


@pytest.mark.parametrize("last_used", [None, timedelta(minutes=5)])
def test_last_used_at_is_written_when_older_than_the_resolution(user, last_used):
    api_key, secret = api_key_create(user=user)
    before = timezone.now() - last_used if last_used else None
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=before)
    api_key_authenticate(secret=secret)
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None and api_key.last_used_at > timezone.now() - timedelta(seconds=30)


def test_last_used_at_is_not_written_again_within_the_resolution(user, django_assert_num_queries):
    api_key, secret = api_key_create(user=user)
    recent = timezone.now() - API_KEY_LAST_USED_RESOLUTION / 2
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=recent)
    with django_assert_num_queries(1):
        api_key_authenticate(secret=secret)
    api_key.refresh_from_db()
    assert api_key.last_used_at == recent


def test_a_key_revoked_after_use_is_refused_on_the_next_request(user):
    api_key, secret = api_key_create(user=user)
    client = bearer(secret)
    assert client.get("/api/account").status_code == 200
    api_key_revoke(user=user, key_id=api_key.id)
    assert client.get("/api/account").status_code == 401


def test_a_user_deactivated_after_use_is_refused_on_the_next_request(user):
    _, secret = api_key_create(user=user)
    client = bearer(secret)
    assert client.get("/api/account").status_code == 200
    services.user_update(user=user, data={"active": False})
    assert client.get("/api/account").status_code == 401
    services.user_update(user=user, data={"active": True})
    assert client.get("/api/account").status_code == 200


def test_rights_changed_after_use_apply_on_the_next_request(user):
    _, secret = api_key_create(user=user)
    client = bearer(secret)
    assert client.get("/api/users").status_code == 403
    services.user_update(user=user, data={"administrator": True})
    assert client.get("/api/users").status_code == 200
    services.user_update(user=user, data={"administrator": False})
    assert client.get("/api/users").status_code == 403


def test_another_users_key_or_an_unknown_key_is_refused(user, user_factory):
    _, secret = api_key_create(user=user)
    assert api_key_authenticate(secret=secret, username=user_factory().username) is None
    assert api_key_authenticate(secret=secret + "x") is None
    assert api_key_authenticate(secret="") is None
