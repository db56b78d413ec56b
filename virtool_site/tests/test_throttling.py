import pytest

pytestmark = pytest.mark.django_db


def test_writes_past_the_rate_are_429_with_retry_after(user_client, settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "write": "3/minute"}
    statuses = [user_client.post("/api/account/keys", {"name": f"k{n}"}, format="json").status_code for n in range(4)]
    assert statuses == [201, 201, 201, 429]
    response = user_client.post("/api/account/keys", {"name": "again"}, format="json")
    assert response.json() == {"id": "too_many_requests", "message": "Too many requests"}
    assert int(response["Retry-After"]) > 0


def test_reads_are_not_limited_by_the_write_rate(user_client, settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "write": "1/minute"}
    assert all(user_client.get("/api/account").status_code == 200 for _ in range(5))


def test_each_user_has_their_own_allowance(client_for, user_factory, settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "write": "1/minute"}
    first, second = client_for(user_factory()), client_for(user_factory())
    assert first.post("/api/account/keys", {}, format="json").status_code == 201
    assert first.post("/api/account/keys", {}, format="json").status_code == 429
    assert second.post("/api/account/keys", {}, format="json").status_code == 201
