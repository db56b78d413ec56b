import pytest
from django.urls import Resolver404, resolve

from brapi.tests.conftest import brava_validate

pytestmark = pytest.mark.django_db

EXPECTED_CALLS = {
    ("serverinfo", "GET"),
    ("commoncropnames", "GET"),
    ("referencesets", "GET"),
    ("referencesets/{referenceSetDbId}", "GET"),
    ("search/referencesets", "POST"),
    ("search/referencesets/{searchResultsDbId}", "GET"),
    ("references", "GET"),
    ("references/{referenceDbId}", "GET"),
    ("references/{referenceDbId}/bases", "GET"),
    ("search/references", "POST"),
    ("search/references/{searchResultsDbId}", "GET"),
}


def test_serverinfo_lists_every_call(anonymous_client):
    response = anonymous_client.get("/brapi/v2/serverinfo")
    assert response.status_code == 200
    body = response.json()
    brava_validate(body, "ServerInfo/getServerinfoResponse")
    calls = body["result"]["calls"]
    assert {(call["service"], method) for call in calls for method in call["methods"]} == EXPECTED_CALLS
    for call in calls:
        assert call["versions"] == ["2.1"]
        assert call["contentTypes"] == ["application/json"]
        assert call["dataTypes"] == ["application/json"]
    for key in ("contactEmail", "documentationURL", "location", "organizationName", "organizationURL", "serverDescription", "serverName"):
        assert key in body["result"]


def test_every_listed_call_is_routed(anonymous_client):
    calls = anonymous_client.get("/brapi/v2/serverinfo").json()["result"]["calls"]
    for call in calls:
        path = "/brapi/v2/" + call["service"].replace("{", "").replace("}", "")
        try:
            resolve(path)
        except Resolver404:
            pytest.fail(f"{call['service']} is listed but not routed")


def test_serverinfo_content_type_filter(anonymous_client):
    assert anonymous_client.get("/brapi/v2/serverinfo?contentType=text/csv").json()["result"]["calls"] == []
    assert len(anonymous_client.get("/brapi/v2/serverinfo?contentType=application/json").json()["result"]["calls"]) == 11
    response = anonymous_client.get("/brapi/v2/serverinfo?contentType=image/png")
    assert response.status_code == 400
    assert isinstance(response.json(), str)


def test_serverinfo_ignores_accept_header(anonymous_client):
    response = anonymous_client.get("/brapi/v2/serverinfo", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_brapi_is_not_in_the_virtool_openapi_schema(admin_client):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert not any(path.startswith("/brapi/") for path in schema["paths"])
