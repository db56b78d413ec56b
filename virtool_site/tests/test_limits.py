"""Every limit of the API, crossed, answers with a clear error and changes nothing.

Covered elsewhere and not repeated here: upload sizes of /api/uploads
(virtool_site/tests/test_uploads.py), index files (indexes/tests/test_job_api.py) and analysis
files (analyses/tests/test_files.py); the job API's JSON results (analyses/tests/
test_analyses.py); BrAPI search bodies (brapi/tests/test_search.py); gzip bombs on import
(refs/tests/test_transfer_import.py, and on a real worker in test_transfer_worker.py); the
per-user write rate (virtool_site/tests/test_throttling.py).
"""

import pytest
from django.conf import settings as django_settings

from analyses.tests.factories import SampleFactory
from brapi import services as brapi_services
from brapi.tests.factories import ReferenceFactory as BrapiReferenceFactory
from brapi.tests.factories import index_for, otu_with_sequences, random_bases
from refs.models import Reference
from refs.tests.factories import OTUFactory, ReferenceFactory
from virtool_site.models import ApiKey

pytestmark = pytest.mark.django_db


# Request bodies ----------------------------------------------------------------------------


def test_a_json_body_past_data_upload_max_memory_size_is_413_and_writes_nothing(user_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = user_client.post("/api/account/keys", {"name": "k" * 2000}, format="json")
    assert response.status_code == 413
    assert response.json() == {"id": "payload_too_large", "message": "Payload too large"}
    assert not ApiKey.objects.exists()


def test_a_json_body_within_the_limit_is_accepted(user_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    assert user_client.post("/api/account/keys", {"name": "k" * 100}, format="json").status_code == 201


def test_a_large_patch_of_an_otu_is_413_and_the_otu_is_unchanged(client_for, user_factory, settings):
    user = user_factory()
    otu = OTUFactory(reference=ReferenceFactory(user=user), abbreviation="ABC")
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client_for(user).patch(f"/api/otus/{otu.id}", {"abbreviation": "X" * 5000}, format="json")
    assert response.status_code == 413
    assert response.json()["id"] == "payload_too_large"
    otu.refresh_from_db()
    assert otu.abbreviation == "ABC" and otu.version == 0


def test_a_form_body_past_the_limit_is_413_too(user_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = user_client.post(
        "/api/account/keys", "name=" + "k" * 2000, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 413
    assert response.json()["id"] == "payload_too_large"


def test_a_body_past_the_limit_for_a_reference_is_413_and_creates_nothing(client_for, user_factory, settings):
    client = client_for(user_factory(create_ref=True))
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = {"name": "Big", "data_type": "genome", "description": "d" * 5000}
    response = client.post("/api/refs", body, format="json")
    assert response.status_code == 413
    assert not Reference.all_objects.exists()


# Pagination caps -----------------------------------------------------------------------------


@pytest.fixture
def listed(user_factory):
    """A user and one object of each kind whose list endpoints are paged."""
    user = user_factory(is_superuser=True, is_staff=True)
    reference = ReferenceFactory(user=user)
    sample = SampleFactory(user=user)
    return {"user": user, "ref": reference.id, "sample": sample.id}


PAGED_LISTS = [
    "/api/refs",
    "/api/refs/{ref}/otus",
    "/api/refs/{ref}/history",
    "/api/refs/{ref}/indexes",
    "/api/history",
    "/api/indexes",
    "/api/jobs",
    "/api/uploads",
    "/api/users",
    "/api/samples",
    "/api/samples/{sample}/analyses",
]


@pytest.mark.parametrize("path", PAGED_LISTS)
def test_per_page_past_page_size_max_is_422_on_every_paged_list(client_for, listed, path):
    client = client_for(listed["user"])
    url = path.format(**listed)
    limit = django_settings.PAGE_SIZE_MAX
    assert client.get(f"{url}?per_page={limit}").status_code == 200
    response = client.get(f"{url}?per_page={limit + 1}")
    assert response.status_code == 422
    body = response.json()
    assert body["id"] == "invalid_query" and body["message"] == "Invalid query"
    assert f"less than or equal to {limit}" in body["errors"]["per_page"][0]


# BrAPI -------------------------------------------------------------------------------------


@pytest.fixture
def brapi_published(user_factory):
    """Three public references in one published reference set."""
    user = user_factory()
    reference = BrapiReferenceFactory(user=user, public=True)
    otus = [otu_with_sequences(reference, [random_bases(30)], other_isolate=False)[0] for _ in range(3)]
    brapi_services.referenceset_publish_index(index=index_for(reference, otus))
    return user


@pytest.mark.parametrize(
    "path", ["/brapi/v2/references", "/brapi/v2/referencesets", "/brapi/v2/commoncropnames"]
)
def test_brapi_page_size_past_the_maximum_is_capped_and_says_so(client_for, brapi_published, settings, path):
    """BrAPI caps pageSize at BRAPI_PAGE_SIZE_MAX and reports the size it used (the BrAPI
    module's choice; a client asking for everything pages through `totalPages`)."""
    settings.BRAPI_PAGE_SIZE_MAX = 2
    body = client_for(brapi_published).get(f"{path}?pageSize=500").json()
    assert body["metadata"]["pagination"]["pageSize"] == 2
    assert len(body["result"]["data"]) <= 2


def test_brapi_page_size_of_zero_is_a_400_with_a_json_string(api_client, brapi_published):
    response = api_client.get("/brapi/v2/references?pageSize=0")
    assert response.status_code == 400
    assert response.json() == "Invalid query parameter pageSize: must be 1 or more"


def test_brapi_searches_past_the_search_rate_are_429_with_a_json_string(client_for, brapi_published, settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "search": "2/minute"}
    client = client_for(brapi_published)
    statuses = [
        client.post("/brapi/v2/search/references", {"pageSize": 10}, format="json").status_code for _ in range(2)
    ]
    assert statuses == [200, 200]
    response = client.post("/brapi/v2/search/referencesets", {}, format="json")
    assert response.status_code == 429
    assert isinstance(response.json(), str) and "throttled" in response.json()
    assert int(response["Retry-After"]) > 0
    # Reads are not searches: they are not counted against the search rate.
    assert client.get("/brapi/v2/references").status_code == 200


def test_brapi_search_rate_is_per_client(client_for, user_factory, brapi_published, api_client, settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "search": "1/minute"}
    first, second = client_for(brapi_published), client_for(user_factory())
    assert first.post("/brapi/v2/search/references", {}, format="json").status_code == 200
    assert first.post("/brapi/v2/search/references", {}, format="json").status_code == 429
    assert second.post("/brapi/v2/search/references", {}, format="json").status_code == 200
    # Anonymous clients are counted by address.
    assert api_client.post("/brapi/v2/search/references", {}, format="json").status_code == 200
    assert api_client.post("/brapi/v2/search/references", {}, format="json").status_code == 429
