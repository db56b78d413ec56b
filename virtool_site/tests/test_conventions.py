import re

import pytest

from virtool_site.ids import random_id
from virtool_site.models import Upload

pytestmark = pytest.mark.django_db


def test_ids_are_eight_lowercase_alphanumeric_characters():
    ids = {random_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"[a-z0-9]{8}", i) for i in ids)


def make_uploads(user, count):
    Upload.objects.bulk_create(
        Upload(id=f"{random_id()}-f{n}.json.gz", name=f"f{n}.json.gz", type="reference", user=user) for n in range(count)
    )


def test_lists_use_the_virtool_page_envelope(user_client, user):
    make_uploads(user, 17)
    body = user_client.get("/api/uploads?page=2&per_page=5").json()
    assert set(body) == {"documents", "total_count", "found_count", "page_count", "per_page", "page"}
    assert (body["total_count"], body["found_count"], body["page_count"], body["per_page"], body["page"]) == (17, 17, 4, 5, 2)
    assert len(body["documents"]) == 5


def test_page_defaults_are_page_1_and_15_per_page(user_client, user):
    make_uploads(user, 3)
    body = user_client.get("/api/uploads").json()
    assert (body["page"], body["per_page"]) == (1, 15)


def test_total_count_ignores_the_filter_and_found_count_honours_it(user_client, user):
    make_uploads(user, 4)
    Upload.objects.create(id="abcdefgh-reads.fq", name="reads.fq", type="reads", user=user)
    body = user_client.get("/api/uploads?type=reads").json()
    assert body["found_count"] == 1


@pytest.mark.parametrize(
    "query, field",
    [("page=0", "page"), ("page=abc", "page"), ("per_page=0", "per_page"), ("per_page=101", "per_page"), ("per_page=x", "per_page")],
)
def test_bad_page_parameters_are_422_invalid_query(user_client, query, field):
    response = user_client.get(f"/api/uploads?{query}")
    assert response.status_code == 422
    body = response.json()
    assert body["id"] == "invalid_query" and body["message"] == "Invalid query"
    assert field in body["errors"]


def test_list_runs_a_fixed_number_of_queries_whatever_the_page_size(user_client, user, django_assert_num_queries):
    make_uploads(user, 40)
    # One query: the page, with the number of uploads counted alongside.
    with django_assert_num_queries(1):
        user_client.get("/api/uploads?per_page=5")
    with django_assert_num_queries(1):
        user_client.get("/api/uploads?per_page=40")


def test_unknown_api_path_is_404_with_error_body(user_client):
    response = user_client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"id": "not_found", "message": "Not found"}


def test_unknown_api_path_is_404_json_even_without_credentials(api_client):
    response = api_client.get("/api/nothing/here/either")
    assert response.status_code == 404
    assert response.json()["id"] == "not_found"


def test_wrong_method_is_405_with_error_body(user_client):
    response = user_client.put("/api/account", {}, format="json")
    assert response.status_code == 405
    assert response.json() == {"id": "method_not_allowed", "message": "Method not allowed"}


def test_invalid_body_is_422_with_field_errors(admin_client):
    response = admin_client.post("/api/users", {"handle": "", "password": "short"}, format="json")
    assert response.status_code == 422
    body = response.json()
    assert body["id"] == "invalid_input"
    assert {"handle", "password"} <= set(body["errors"])


def test_malformed_json_is_400_not_500(user_client):
    response = user_client.post("/api/account/keys", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["id"] == "bad_request"


def test_times_are_utc_iso_8601_with_z(user_client, user):
    make_uploads(user, 1)
    created_at = user_client.get("/api/uploads").json()["documents"][0]["created_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", created_at)


def test_responses_carry_a_request_id_and_echo_a_given_one(user_client):
    assert user_client.get("/api/account")["X-Request-ID"]
    assert user_client.get("/api/account", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"


def test_internal_errors_on_api_paths_are_json(rf):
    from virtool_site.api.handlers import handler500

    response = handler500(rf.get("/api/refs"))
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
