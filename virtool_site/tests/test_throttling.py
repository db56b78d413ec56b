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


@pytest.mark.parametrize(
    "path",
    ["/api/refs?find=plant", "/api/samples?find=banana", "/api/refs/{ref}/otus?term=mosaic"],
    ids=["reference find", "sample find", "OTU term"],
)
def test_text_searches_past_the_search_rate_are_429(user, user_client, settings, path):
    from refs.tests.factories import ReferenceFactory

    reference = ReferenceFactory(user=user)
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "search": "2/minute"}
    statuses = [user_client.get(path.format(ref=reference.id)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    response = user_client.get(path.format(ref=reference.id))
    assert response.json() == {"id": "too_many_requests", "message": "Too many requests"}
    assert int(response["Retry-After"]) > 0


def test_paging_through_a_list_is_not_a_search(user, user_client, settings):
    from refs.tests.factories import ReferenceFactory

    reference = ReferenceFactory(user=user)
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "search": "1/minute"}
    for path in (f"/api/refs/{reference.id}/otus?page=1", f"/api/refs/{reference.id}/otus?term=", "/api/refs", "/api/samples"):
        assert all(user_client.get(path).status_code == 200 for _ in range(3)), path


def _brapi_search(client, **headers):
    return client.post("/brapi/v2/search/references", b"{}", content_type="application/json", **headers).status_code


def test_an_anonymous_client_cannot_escape_the_search_rate_by_forging_x_forwarded_for(api_client, settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "search": "2/minute"}
    statuses = [_brapi_search(api_client, HTTP_X_FORWARDED_FOR=f"10.0.0.{n}") for n in range(3)]
    assert statuses[:2] == [200, 200]
    assert statuses[2] == 429


def test_behind_one_proxy_the_address_it_saw_is_limited_not_what_the_client_wrote(api_client, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "search": "1/minute"}
    # nginx appends the address it saw to what the client sent ($proxy_add_x_forwarded_for).
    assert _brapi_search(api_client, HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.5") == 200
    assert _brapi_search(api_client, HTTP_X_FORWARDED_FOR="2.2.2.2, 203.0.113.5") == 429
    assert _brapi_search(api_client, HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.6") == 200


def test_a_brapi_search_does_not_use_up_the_write_rate(user_client, settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "write": "2/minute", "search": "100/minute"}
    assert [_brapi_search(user_client) for _ in range(3)] == [200, 200, 200]
    assert user_client.post("/api/account/keys", {"name": "k"}, format="json").status_code == 201
