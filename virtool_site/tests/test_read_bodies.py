"""The API's read answers, byte for byte: status, content type and body of every list and
detail GET of /api and /brapi/v2 on a deterministic world (read_world), compared with the
answers pinned in `read_bodies.json`.

The read paths are built for speed (plain-dict selectors, orjson rendering); this is what holds
them to the answers the serializers gave. `test_every_get_endpoint_is_pinned` fails when a GET
endpoint has no pinned answer and is not listed in UNPINNED with the reason.

When an answer changes on purpose, pin it again (only the tests that run are rewritten):

    READ_BODIES_UPDATE=1 .venv/bin/python -m pytest virtool_site/tests/test_read_bodies.py -k brapi

and say why in the commit. Needs PostgreSQL (the world's searches and bases use it).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from django.db import transaction
from django.test import override_settings
from django.urls import resolve
from rest_framework.test import APIClient

from virtool_site.testing import url_routes
from virtool_site.tests.read_world import Determinism, world_build
from virtool_site.tests.test_permission_matrix import PREFIXES, _methods

FIXTURE = Path(__file__).with_name("read_bodies.json")
UPDATE = os.environ.get("READ_BODIES_UPDATE") == "1"

#: GET endpoints whose answers are not pinned here, and why.
UNPINNED = {
    "/api/docs/": "Swagger UI's HTML page",
    "/api/schema/": "the OpenAPI document (test_health_schema checks it)",
    "/api/health": "the live state of the services",
    "/api/refs/{ref_id}/export": "a gzip download, streamed",
    "/api/refs/{ref_id}/release": "asks GitHub on every call",
    "/api/indexes/{index_id}/files/{name}": "a file download",
    "/api/uploads/{upload_id}": "a file download",
    "/api/analyses/{analysis_id}/files/{file_id}": "a file download",
    "/api/analyses/document/{analysis_id}.{extension}": "a CSV or Excel download (analyses/tests/test_export.py)",
}

#: (caller, URL): callers are the world's users, its job runners, or `anonymous`.
REQUESTS = [
    # Site-wide
    ("owner", "/api/account"),
    ("nobody", "/api/account"),
    ("owner", "/api/account/keys"),
    ("administrator", "/api/users"),
    ("administrator", "/api/users?per_page=2&page=2"),
    ("administrator", "/api/users/{user_id}"),
    ("administrator", "/api/groups"),
    ("administrator", "/api/groups/{group_id}"),
    ("administrator", "/api/processes"),
    ("owner", "/api/processes"),
    ("administrator", "/api/processes/{process_id}"),
    ("administrator", "/api/processes/{failed_process_id}"),
    ("administrator", "/api/jobs"),
    ("owner", "/api/jobs?per_page=2"),
    ("administrator", "/api/jobs/{index_job_id}"),
    ("analysis_job", "/api/jobs/{analysis_job_id}"),
    ("administrator", "/api/uploads"),
    ("administrator", "/api/uploads?type=reads"),
    # References
    ("administrator", "/api/refs"),
    ("owner", "/api/refs"),
    ("nobody", "/api/refs"),
    ("curator", "/api/refs?find=banana"),
    ("administrator", "/api/refs?per_page=2&page=2"),
    ("administrator", "/api/refs?per_page=100"),
    ("administrator", "/api/refs?find=viruses&per_page=2&page=2"),
    ("administrator", "/api/refs/{ref_id}"),
    ("curator", "/api/refs/{ref_id}"),
    ("nobody", "/api/refs/{ref_id}"),
    ("nobody", "/api/refs/{public_ref_id}"),
    ("administrator", "/api/refs/{imported_ref_id}"),
    ("administrator", "/api/refs/{cloned_ref_id}"),
    ("administrator", "/api/refs/{remote_ref_id}"),
    ("administrator", "/api/refs/{deleted_ref_id}"),
    ("administrator", "/api/refs/{ref_id}/users"),
    ("administrator", "/api/refs/{ref_id}/groups"),
    ("administrator", "/api/refs/{remote_ref_id}/updates"),
    ("administrator", "/api/refs/{ref_id}/updates"),
    # OTUs, isolates, sequences
    ("administrator", "/api/refs/{ref_id}/otus"),
    ("curator", "/api/refs/{ref_id}/otus"),
    ("nobody", "/api/refs/{ref_id}/otus"),
    ("nobody", "/api/refs/{public_ref_id}/otus"),
    ("administrator", "/api/refs/{ref_id}/otus?per_page=2&page=2"),
    ("administrator", "/api/refs/{ref_id}/otus?per_page=100"),
    ("administrator", "/api/refs/{ref_id}/otus?term=virus&per_page=2"),
    ("administrator", "/api/refs/{ref_id}/otus?term=bsv"),
    ("administrator", "/api/refs/{ref_id}/otus?verified=false"),
    ("administrator", "/api/refs/{ref_id}/otus?verified=true&per_page=1&page=2"),
    ("administrator", "/api/refs/{ref_id}/otus?per_page=0"),
    ("administrator", "/api/otus/{otu_id}"),
    ("curator", "/api/otus/{cmv_id}"),
    ("administrator", "/api/otus/{empty_otu_id}"),
    ("administrator", "/api/otus/{broken_otu_id}"),
    ("nobody", "/api/otus/{public_otu_id}"),
    ("nobody", "/api/otus/{otu_id}"),
    ("administrator", "/api/otus/{removed_otu_id}"),
    ("administrator", "/api/otus/{otu_id}/isolates"),
    ("administrator", "/api/otus/{empty_otu_id}/isolates"),
    ("administrator", "/api/otus/{otu_id}/isolates/{isolate_id}"),
    ("administrator", "/api/otus/{broken_otu_id}/isolates/{bare_isolate_id}"),
    ("administrator", "/api/otus/{otu_id}/isolates/{isolate_id}/sequences"),
    ("administrator", "/api/otus/{cmv_id}/isolates/{cmv_isolate_id}/sequences"),
    ("administrator", "/api/otus/{otu_id}/isolates/{isolate_id}/sequences/{sequence_id}"),
    ("administrator", "/api/otus/{cmv_id}/isolates/{cmv_isolate_id}/sequences/{cmv_sequence_id}"),
    ("nobody", "/api/otus/{otu_id}/isolates/{isolate_id}/sequences/{sequence_id}"),
    ("administrator", "/api/otus/{otu_id}/0"),
    ("administrator", "/api/otus/{otu_id}/5"),
    ("administrator", "/api/otus/{otu_id}/999"),
    ("administrator", "/api/otus/{removed_otu_id}/1"),
    ("nobody", "/api/otus/{otu_id}/0"),
    # History
    ("administrator", "/api/history"),
    ("nobody", "/api/history"),
    ("administrator", "/api/history?per_page=5&page=3"),
    ("administrator", "/api/history?per_page=100"),
    ("administrator", "/api/history?unknown=1"),
    *(("administrator", f"/api/history/{{{kind}_change_id}}") for kind in (
        "create", "edit", "add_isolate", "edit_isolate", "set_as_default", "create_sequence", "edit_sequence",
        "remove_sequence", "remove_isolate", "remove",
    )),
    ("nobody", "/api/history/{edit_change_id}"),
    ("administrator", "/api/refs/{ref_id}/history"),
    ("administrator", "/api/refs/{ref_id}/history?per_page=4&page=2"),
    ("administrator", "/api/refs/{ref_id}/history?per_page=100"),
    ("administrator", "/api/refs/{ref_id}/history?unbuilt=true"),
    ("administrator", "/api/refs/{ref_id}/history?unbuilt=false&per_page=3&page=2"),
    ("nobody", "/api/refs/{public_ref_id}/history"),
    ("administrator", "/api/otus/{otu_id}/history"),
    ("administrator", "/api/otus/{removed_otu_id}/history"),
    # Indexes
    ("administrator", "/api/indexes"),
    ("nobody", "/api/indexes"),
    ("administrator", "/api/indexes?ready=true"),
    ("administrator", "/api/indexes?ready=false"),
    ("administrator", "/api/indexes?per_page=1&page=2"),
    ("administrator", "/api/indexes/{index_id}"),
    ("administrator", "/api/indexes/{build_id}"),
    ("index_job", "/api/indexes/{build_id}"),
    ("nobody", "/api/indexes/{public_index_id}"),
    ("administrator", "/api/indexes/{index_id}/history"),
    ("administrator", "/api/indexes/{build_id}/history?per_page=2&page=2"),
    ("administrator", "/api/refs/{ref_id}/indexes"),
    ("administrator", "/api/refs/{ref_id}/indexes?per_page=1"),
    ("nobody", "/api/refs/{public_ref_id}/indexes"),
    # Samples and analyses
    ("administrator", "/api/samples"),
    ("curator", "/api/samples"),
    ("nobody", "/api/samples"),
    ("administrator", "/api/samples?find=musa"),
    ("administrator", "/api/samples?per_page=1&page=2"),
    ("administrator", "/api/samples/{sample_id}"),
    ("nobody", "/api/samples/{sample_id}"),
    ("administrator", "/api/samples/{public_sample_id}"),
    ("administrator", "/api/samples/{sample_id}/analyses"),
    ("administrator", "/api/samples/{sample_id}/analyses?per_page=1&page=2"),
    ("administrator", "/api/analyses/{analysis_id}"),
    ("administrator", "/api/analyses/{nuvs_id}"),
    ("administrator", "/api/analyses/{running_id}"),
    ("analysis_job", "/api/analyses/{running_id}"),
    # BrAPI
    ("anonymous", "/brapi/v2/serverinfo"),
    ("anonymous", "/brapi/v2/serverinfo?contentType=text/csv"),
    ("anonymous", "/brapi/v2/commoncropnames"),
    ("anonymous", "/brapi/v2/referencesets"),
    ("owner", "/brapi/v2/referencesets"),
    ("administrator", "/brapi/v2/referencesets?pageSize=1&page=1"),
    ("administrator", "/brapi/v2/referencesets?commonCropName=banana"),
    ("administrator", "/brapi/v2/referencesets/{reference_set_id}"),
    ("anonymous", "/brapi/v2/referencesets/{reference_set_id}"),
    ("anonymous", "/brapi/v2/referencesets/{assembly_id}"),
    ("anonymous", "/brapi/v2/references"),
    ("administrator", "/brapi/v2/references"),
    ("administrator", "/brapi/v2/references?pageSize=2&page=1"),
    ("administrator", "/brapi/v2/references?referenceSetDbId={assembly_id}"),
    ("administrator", "/brapi/v2/references?accession=NC_003604.2"),
    ("administrator", "/brapi/v2/references?minLength=100&maxLength=140"),
    ("administrator", "/brapi/v2/references/{brapi_reference_id}"),
    ("anonymous", "/brapi/v2/references/{chromosome_id}"),
    ("anonymous", "/brapi/v2/references/{brapi_reference_id}"),
    ("anonymous", "/brapi/v2/references/{chromosome_id}/bases?start=10&end=40"),
    ("administrator", "/brapi/v2/references/{brapi_reference_id}/bases"),
    ("owner", "/brapi/v2/search/references/{search_id}"),
    ("owner", "/brapi/v2/search/references/{search_id}?page=1&pageSize=2"),
    ("owner", "/brapi/v2/search/referencesets/{set_search_id}"),
    ("nobody", "/brapi/v2/search/references/{search_id}"),
]


def _name(caller: str, url: str) -> str:
    return f"{caller} GET {url}"


@pytest.fixture(scope="module")
def read_world(django_db_setup, django_db_blocker, tmp_path_factory):
    """The world, built once under a fixed clock that stays for the module's requests."""
    data = tmp_path_factory.mktemp("read-bodies-data")
    with override_settings(DATA_DIR=data), Determinism() as clock:
        with django_db_blocker.unblock(), transaction.atomic():
            world = world_build(clock)
            world.data_dir = data
            clock.step("requests")
            yield world
            transaction.set_rollback(True)


@pytest.fixture(autouse=True)
def data_dir(settings, read_world):
    settings.DATA_DIR = read_world.data_dir
    return read_world.data_dir


def _get(world, caller: str, url: str, **headers):
    client = APIClient()
    if caller in world.users:
        client.force_authenticate(user=world.users[caller])
    elif caller != "anonymous":
        client.credentials(HTTP_AUTHORIZATION=world.keys[caller])
    return client.get(url.format(**world.ids), **headers)


def _answer(response) -> dict:
    return {
        "status": response.status_code,
        "content_type": response.get("Content-Type"),
        "body": response.content.decode("utf-8"),
    }


def _pinned() -> dict:
    return json.loads(FIXTURE.read_text()) if FIXTURE.exists() else {}


def _pin(name: str, answer: dict) -> None:
    pinned = _pinned()
    pinned[name] = answer
    FIXTURE.write_text(json.dumps(pinned, indent=1, sort_keys=True) + "\n")


@pytest.mark.django_db
@pytest.mark.parametrize("caller,url", REQUESTS, ids=[_name(caller, url) for caller, url in REQUESTS])
def test_read_answer_is_the_pinned_answer(caller, url, read_world, needs_postgresql):
    with transaction.atomic():
        response = _get(read_world, caller, url)
        transaction.set_rollback(True)
    name = _name(caller, url)
    answer = _answer(response)
    if UPDATE:
        _pin(name, answer)
        return
    pinned = _pinned().get(name)
    assert pinned is not None, f"no pinned answer for {name} (READ_BODIES_UPDATE=1 pins it)"
    assert answer["status"] == pinned["status"]
    assert answer["content_type"] == pinned["content_type"]
    assert answer["body"] == pinned["body"]


@pytest.mark.django_db
@pytest.mark.parametrize("caller,url", REQUESTS, ids=[_name(caller, url) for caller, url in REQUESTS])
def test_read_asked_for_as_html_answers_the_same_status_and_never_500(caller, url, read_world, needs_postgresql):
    """A browser (Accept: text/html) gets the browsable page of the same answer, or 406 where
    only JSON is served (BrAPI): the page's forms never turn a read into a 500."""
    with transaction.atomic():
        response = _get(read_world, caller, url, HTTP_ACCEPT="text/html")
        transaction.set_rollback(True)
    pinned = _pinned()[_name(caller, url)]
    assert response.status_code in (pinned["status"], 406), response.content[:500]
    if response.status_code != 406:
        assert response["Content-Type"].startswith(("text/html", pinned["content_type"].split(";")[0]))


def test_every_pinned_answer_has_a_request():
    """An answer pinned for a request that is no longer made is stale."""
    assert sorted(set(_pinned()) - {_name(caller, url) for caller, url in REQUESTS}) == []


def _get_endpoints() -> dict:
    """{route: view callback} of every GET endpoint under /api and /brapi/v2."""
    return {
        "/" + route: callback
        for route, callback in url_routes()
        if route.startswith(PREFIXES) and "GET" in _methods(callback)
    }


def test_every_get_endpoint_is_pinned():
    endpoints = _get_endpoints()
    requested = {resolve(url.split("?")[0].replace("{", "").replace("}", "")).func for _, url in REQUESTS}
    missing = [route for route, callback in endpoints.items() if callback not in requested and route not in UNPINNED]
    assert missing == [], "GET endpoints without a pinned answer (pin one, or say why not in UNPINNED)"
    assert sorted(set(UNPINNED) - set(endpoints)) == [], "UNPINNED names endpoints that are gone"
