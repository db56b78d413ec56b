"""Who may call what: every endpoint of the URLconf against every kind of caller.

One row per (route, method) of everything under /api/ and /brapi/v2/, with the status each
kind of caller gets on real objects of `owner` (a private reference, its OTU, indexes, a
private sample and its analyses, see `api_world`):

- anonymous: no credentials;
- nobody: signed in, no permission, no right on anything of the owner's;
- right: a user holding just the right the operation needs (a reference right given to them,
  or `owner`, who created everything and holds every global permission; for administrator-only
  operations `owner` too, who is then refused);
- administrator;
- job: a job runner (`Authorization: Basic job-{id}:{key}`), of the index build or of the
  running analysis named by the row.

`test_every_endpoint_has_a_row` fails when an endpoint is added to the URLconf without a row
here, or a row names an endpoint that is gone. The world is built once for the module; every
request runs in a savepoint that is rolled back, so each caller meets the same objects.
"""

from dataclasses import dataclass, field

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import override_settings
from rest_framework.test import APIClient

from indexes.models import Index
from refs import services as refs_services
from refs.models import Reference
from refs.tests.transfer_factories import FakeGitHub, gz_bytes
from virtool_site import services as site_services
from virtool_site.tests.api_world import MISSING_INDEX_FILE, REMOTE_SLUG, world_build
from virtool_site.testing import url_routes
from virtool_site.tests.factories import GroupFactory, UserFactory

CALLERS = ("anonymous", "nobody", "right", "administrator", "job")
PREFIXES = ("api/", "brapi/v2/")

# URLconf ------------------------------------------------------------------------------------


def _methods(callback) -> list[str]:
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if view_class is None:
        return ["GET"]
    return [
        method.upper()
        for method in view_class.http_method_names
        if method not in ("options", "head") and hasattr(view_class, method)
    ]


def urlconf_endpoints() -> set[tuple[str, str]]:
    return {
        ("/" + route, method)
        for route, callback in url_routes()
        if route.startswith(PREFIXES)
        for method in _methods(callback)
    }


# The table ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    url: str  # formatted with the world's ids
    expected: tuple[int, int, int, int, int]  # per CALLERS
    right: str = "owner"  # who plays the `right` caller
    job: str = "index_job"  # whose runner plays the `job` caller
    body: dict | None = None
    upload: str | None = None  # multipart with a file of this name
    notes: str = field(default="", compare=False)


def _rows() -> dict[tuple[str, str], Row]:
    rows: dict[tuple[str, str], Row] = {}

    def row(method, route, url, expected, **kwargs):
        rows[(route, method)] = Row(url=url, expected=expected, **kwargs)

    # Documentation and health: open to everybody.
    row("GET", "/api/schema/", "/api/schema/", (200, 200, 200, 200, 200))
    row("GET", "/api/docs/", "/api/docs/", (200, 200, 200, 200, 200))
    row("GET", "/api/health", "/api/health", (200, 200, 200, 200, 200))

    # Account: every signed-in user, for themselves; keys are their own (404 otherwise).
    row("GET", "/api/account", "/api/account", (401, 200, 200, 200, 403))
    row("GET", "/api/account/keys", "/api/account/keys", (401, 200, 200, 200, 403))
    row("POST", "/api/account/keys", "/api/account/keys", (401, 201, 201, 201, 403), body={"name": "k"})
    row("DELETE", "/api/account/keys/{key_id}", "/api/account/keys/{key_id}", (401, 404, 204, 404, 403))

    # Users and groups: administrators only.
    admin_only = lambda ok: (401, 403, 403, ok, 403)  # noqa: E731
    row("GET", "/api/users", "/api/users", admin_only(200))
    row("POST", "/api/users", "/api/users", admin_only(201), body={"handle": "newcomer", "password": "long enough"})
    row("GET", "/api/users/{user_id}", "/api/users/owner", admin_only(200))
    row("PATCH", "/api/users/{user_id}", "/api/users/owner", admin_only(200), body={"active": True})
    row("GET", "/api/groups", "/api/groups", admin_only(200))
    row("POST", "/api/groups", "/api/groups", admin_only(201), body={"name": "newgroup"})
    row("GET", "/api/groups/{group_id}", "/api/groups/curators", admin_only(200))
    row(
        "PATCH", "/api/groups/{group_id}", "/api/groups/curators", admin_only(200),
        body={"permissions": {"upload_file": True}},
    )
    row("DELETE", "/api/groups/{group_id}", "/api/groups/curators", admin_only(204))

    # Processes and jobs: a user's own; administrators all; a runner its own job.
    row("GET", "/api/processes", "/api/processes", (401, 200, 200, 200, 403))
    row("GET", "/api/processes/{process_id}", "/api/processes/{process_id}", (401, 404, 200, 200, 403))
    row("GET", "/api/jobs", "/api/jobs", (401, 200, 200, 200, 403))
    row("GET", "/api/jobs/{job_id}", "/api/jobs/{index_job_id}", (401, 404, 200, 200, 200))
    row("PUT", "/api/jobs/{job_id}/cancel", "/api/jobs/{index_job_id}/cancel", (401, 403, 200, 200, 403),
        notes="the cancel_job permission")

    # Uploads: files are shared by all users; writing needs upload_file, removing remove_file.
    row("GET", "/api/uploads", "/api/uploads", (401, 200, 200, 200, 403))
    row("POST", "/api/uploads", "/api/uploads?name=new.json.gz", (401, 403, 201, 201, 403), upload="new.json.gz")
    row("GET", "/api/uploads/{upload_id}", "/api/uploads/{upload_id}", (401, 200, 200, 200, 403))
    row("DELETE", "/api/uploads/{upload_id}", "/api/uploads/{upload_id}", (401, 403, 204, 204, 403))

    # References: a private reference is 404 to whoever may not see it; writes need a right.
    row("GET", "/api/refs", "/api/refs", (401, 200, 200, 200, 403))
    row("POST", "/api/refs", "/api/refs", (401, 403, 201, 201, 403), body={"name": "New viruses"},
        notes="the create_ref permission")
    ref = "/api/refs/{ref_id}"
    row("GET", "/api/refs/{ref_id}", ref, (401, 404, 200, 200, 403))
    row("PATCH", "/api/refs/{ref_id}", ref, (401, 404, 200, 200, 403), right="modify", body={"description": "d"})
    row("DELETE", "/api/refs/{ref_id}", ref, (401, 404, 202, 202, 403), right="remove")
    row("GET", "/api/refs/{ref_id}/users", ref + "/users", (401, 404, 200, 200, 403))
    row("POST", "/api/refs/{ref_id}/users", ref + "/users", (401, 404, 201, 201, 403), right="modify",
        body={"user_id": "nobody", "build": True})
    row("PATCH", "/api/refs/{ref_id}/users/{user_id}", ref + "/users/builder", (401, 404, 200, 200, 403),
        right="modify", body={"modify": True})
    row("DELETE", "/api/refs/{ref_id}/users/{user_id}", ref + "/users/builder", (401, 404, 204, 204, 403),
        right="modify")
    row("GET", "/api/refs/{ref_id}/groups", ref + "/groups", (401, 404, 200, 200, 403))
    row("POST", "/api/refs/{ref_id}/groups", ref + "/groups", (401, 404, 201, 201, 403), right="modify",
        body={"group_id": "outsiders"})
    row("PATCH", "/api/refs/{ref_id}/groups/{group_id}", ref + "/groups/curators", (401, 404, 200, 200, 403),
        right="modify", body={"remove": True})
    row("DELETE", "/api/refs/{ref_id}/groups/{group_id}", ref + "/groups/curators", (401, 404, 204, 204, 403),
        right="modify")
    row("GET", "/api/refs/{ref_id}/otus", ref + "/otus", (401, 404, 200, 200, 403))
    row("POST", "/api/refs/{ref_id}/otus", ref + "/otus", (401, 404, 201, 201, 403), right="modify_otu",
        body={"name": "Newly found virus"})
    row("GET", "/api/refs/{ref_id}/export", ref + "/export", (401, 404, 200, 200, 403))
    remote = "/api/refs/{remote_ref_id}"
    row("GET", "/api/refs/{ref_id}/release", remote + "/release", (401, 404, 200, 200, 403))
    row("GET", "/api/refs/{ref_id}/updates", remote + "/updates", (401, 404, 200, 200, 403))
    row("POST", "/api/refs/{ref_id}/updates", remote + "/updates", (401, 404, 201, 201, 403))
    row("GET", "/api/refs/{ref_id}/history", ref + "/history", (401, 404, 200, 200, 403))
    row("GET", "/api/refs/{ref_id}/indexes", ref + "/indexes", (401, 404, 200, 200, 403))
    row("POST", "/api/refs/{ref_id}/indexes", ref + "/indexes", (401, 404, 409, 409, 403), right="build",
        notes="past the rights check: 409, a build of the reference is still unfinished")

    # OTUs, isolates and sequences: reads need visibility, writes modify_otu.
    otu = "/api/otus/{otu_id}"
    isolate = otu + "/isolates/{isolate_id}"
    sequence = isolate + "/sequences/{sequence_id}"
    read = (401, 404, 200, 200, 403)
    # An index build's runner reads the OTUs of its index's manifest (at their manifest
    # versions), and nothing else of the reference.
    row("GET", "/api/otus/{otu_id}", otu, (401, 404, 200, 200, 200), notes="job: an OTU of its manifest")
    row("GET", "/api/otus/{otu_id}/{version}", otu + "/{manifest_version}", (401, 404, 200, 200, 200),
        notes="job: its manifest's version of the OTU")
    row("PATCH", "/api/otus/{otu_id}", otu, (401, 404, 200, 200, 403), right="modify_otu", body={"abbreviation": "X"})
    row("DELETE", "/api/otus/{otu_id}", otu, (401, 404, 204, 204, 403), right="modify_otu")
    row("GET", "/api/otus/{otu_id}/history", otu + "/history", read)
    row("GET", "/api/otus/{otu_id}/isolates", otu + "/isolates", read)
    row("POST", "/api/otus/{otu_id}/isolates", otu + "/isolates", (401, 404, 201, 201, 403), right="modify_otu",
        body={"source_type": "isolate", "source_name": "C3"})
    row("GET", "/api/otus/{otu_id}/isolates/{isolate_id}", isolate, read)
    row("PATCH", "/api/otus/{otu_id}/isolates/{isolate_id}", isolate, (401, 404, 200, 200, 403), right="modify_otu",
        body={"source_name": "A9"})
    row("DELETE", "/api/otus/{otu_id}/isolates/{isolate_id}", isolate, (401, 404, 204, 204, 403), right="modify_otu")
    row("PUT", "/api/otus/{otu_id}/isolates/{isolate_id}/default", otu + "/isolates/{other_isolate_id}/default",
        (401, 404, 200, 200, 403), right="modify_otu")
    row("GET", "/api/otus/{otu_id}/isolates/{isolate_id}/sequences", isolate + "/sequences", read)
    row("POST", "/api/otus/{otu_id}/isolates/{isolate_id}/sequences", isolate + "/sequences",
        (401, 404, 201, 201, 403), right="modify_otu", body={"accession": "NC_9", "definition": "d", "sequence": "ACGT"})
    row("GET", "/api/otus/{otu_id}/isolates/{isolate_id}/sequences/{sequence_id}", sequence, read)
    row("PATCH", "/api/otus/{otu_id}/isolates/{isolate_id}/sequences/{sequence_id}", sequence,
        (401, 404, 200, 200, 403), right="modify_otu", body={"host": "Plantain"})
    row("DELETE", "/api/otus/{otu_id}/isolates/{isolate_id}/sequences/{sequence_id}", sequence,
        (401, 404, 204, 204, 403), right="modify_otu")

    # History: only changes of visible references; revert needs modify_otu.
    row("GET", "/api/history", "/api/history", (401, 200, 200, 200, 403))
    row("GET", "/api/history/{change_id}", "/api/history/{change_id}", read)
    row("DELETE", "/api/history/{change_id}", "/api/history/{change_id}", (401, 404, 204, 204, 403),
        right="modify_otu")

    # Indexes: reads need visibility of the reference, or being the index's own runner; the
    # Job API (upload, finalize) is for the runner and administrators.
    row("GET", "/api/indexes", "/api/indexes", (401, 200, 200, 200, 403))
    row("GET", "/api/indexes/{index_id}", "/api/indexes/{build_id}", (401, 404, 200, 200, 200))
    row("PATCH", "/api/indexes/{index_id}", "/api/indexes/{build_id}", (401, 403, 403, 409, 409),
        notes="Job API finalize; past the rights check: 409, a file is missing")
    row("POST", "/api/indexes/{index_id}/files", f"/api/indexes/{{build_id}}/files?name={MISSING_INDEX_FILE}",
        (401, 403, 403, 201, 201), upload=MISSING_INDEX_FILE, notes="Job API upload")
    row("GET", "/api/indexes/{index_id}/files/{name}", "/api/indexes/{index_id}/files/reference.fa.gz",
        (401, 404, 200, 200, 403), notes="another index than the runner's: 403")
    row("GET", "/api/indexes/{index_id}/history", "/api/indexes/{index_id}/history", read)

    # Samples and analyses: an existing sample the caller may not read or write is 403.
    sample = "/api/samples/{sample_id}"
    row("GET", "/api/samples", "/api/samples", (401, 200, 200, 200, 403))
    row("POST", "/api/samples", "/api/samples", (401, 403, 201, 201, 403), body={"name": "New sample"},
        notes="the create_sample permission")
    row("GET", "/api/samples/{sample_id}", sample, (401, 403, 200, 200, 403))
    row("PATCH", "/api/samples/{sample_id}", sample, (401, 403, 200, 200, 403), body={"notes": "n"})
    row("DELETE", "/api/samples/{sample_id}", sample, (401, 403, 204, 204, 403))
    row("GET", "/api/samples/{sample_id}/analyses", sample + "/analyses", (401, 403, 200, 200, 403))
    row("POST", "/api/samples/{sample_id}/analyses", sample + "/analyses", (401, 403, 201, 201, 403),
        body={"ref_id": "{ref_id}", "workflow": "nuvs"})
    row("GET", "/api/analyses/{analysis_id}", "/api/analyses/{running_id}", (401, 403, 200, 200, 200),
        job="analysis_job")
    row("PATCH", "/api/analyses/{analysis_id}", "/api/analyses/{running_id}", (401, 403, 403, 200, 200),
        job="analysis_job", body={"results": {"read_count": 10, "subtracted_count": 0, "hits": []}},
        notes="Job API finalize")
    row("DELETE", "/api/analyses/{analysis_id}", "/api/analyses/{analysis_id}", (401, 403, 204, 204, 403),
        job="analysis_job")
    row("POST", "/api/analyses/{analysis_id}/files", "/api/analyses/{running_id}/files?name=out.fa",
        (401, 403, 201, 201, 201), job="analysis_job", upload="out.fa")
    row("GET", "/api/analyses/{analysis_id}/files/{file_id}", "/api/analyses/{analysis_id}/files/{file_id}",
        (401, 403, 200, 200, 403), job="analysis_job", notes="another analysis than the runner's: 403")
    row("GET", "/api/analyses/document/{analysis_id}.{extension}", "/api/analyses/document/{analysis_id}.csv",
        (401, 403, 200, 200, 403), job="analysis_job")
    row("PUT", "/api/analyses/{analysis_id}/{sequence_index}/blast", "/api/analyses/{nuvs_id}/0/blast",
        (401, 403, 200, 200, 403), job="analysis_job")

    # BrAPI: public data to everybody, private data to who sees the reference; searches are
    # their maker's. Only Bearer keys (or sessions) are credentials there: a job key is 401.
    brapi = "/brapi/v2/"
    private = (404, 404, 200, 200, 401)
    everyone = (200, 200, 200, 200, 401)
    row("GET", brapi + "serverinfo", brapi + "serverinfo", everyone)
    row("GET", brapi + "commoncropnames", brapi + "commoncropnames", everyone)
    row("GET", brapi + "referencesets", brapi + "referencesets", everyone)
    row("GET", brapi + "referencesets/{reference_set_id}", brapi + "referencesets/{reference_set_id}", private)
    row("GET", brapi + "references", brapi + "references", everyone)
    row("GET", brapi + "references/{reference_id}", brapi + "references/{brapi_reference_id}", private)
    row("GET", brapi + "references/{reference_id}/bases", brapi + "references/{brapi_reference_id}/bases", private)
    row("POST", brapi + "search/references", brapi + "search/references", everyone, body={})
    row("GET", brapi + "search/references/{search_id}", brapi + "search/references/{search_id}",
        (404, 404, 200, 404, 401))
    row("POST", brapi + "search/referencesets", brapi + "search/referencesets", everyone, body={})
    row("GET", brapi + "search/referencesets/{search_id}", brapi + "search/referencesets/{set_search_id}",
        (404, 404, 200, 404, 401))
    return rows


ROWS = _rows()


# The world ----------------------------------------------------------------------------------

#: Users holding exactly one right on the private reference (the `right` caller of rows that
#: need it).
RIGHT_HOLDERS = {"build": "builder", "modify": "manager", "modify_otu": "editor", "remove": "remover"}


@pytest.fixture(scope="module")
def matrix_world(django_db_setup, django_db_blocker, tmp_path_factory):
    """The world, built once and rolled back after the module."""
    github = FakeGitHub()
    github.publish(REMOTE_SLUG, gz_bytes({"data_type": "genome", "organism": "virus", "otus": []}), release_id=1)
    data = tmp_path_factory.mktemp("matrix-data")
    overrides = override_settings(DATA_DIR=data, GITHUB_API_URL=github.url, GITHUB_TOKEN="", HTTP_TIMEOUT_SECONDS=5)
    try:
        with django_db_blocker.unblock(), overrides, transaction.atomic():
            world = world_build(remote=True)
            owner = world.users["owner"]
            reference = Reference.objects.get(id=world.ids["ref_id"])
            for right, username in RIGHT_HOLDERS.items():
                holder = UserFactory(username=username)
                refs_services.reference_user_add(user=owner, reference=reference, user_id=username, rights={right: True})
                _, secret = site_services.api_key_create(user=holder, name="matrix")
                world.keys[username] = f"Bearer {secret}"
            GroupFactory(name="outsiders")
            world.ids["manifest_version"] = Index.objects.get(id=world.ids["build_id"]).manifest[world.ids["otu_id"]]
            world.data_dir = data
            yield world
            transaction.set_rollback(True)
    finally:
        github.close()


@pytest.fixture(autouse=True)
def data_dir(settings, matrix_world):
    """The world's files are where it wrote them (instead of a fresh directory per test)."""
    settings.DATA_DIR = matrix_world.data_dir
    return matrix_world.data_dir


def _authorization(world, caller: str, row: Row) -> str | None:
    if caller == "anonymous":
        return None
    if caller == "right":
        return world.keys[RIGHT_HOLDERS.get(row.right, row.right)]
    if caller == "job":
        return world.keys[row.job]
    return world.keys[caller]


def _call(world, caller: str, method: str, row: Row):
    client = APIClient()
    authorization = _authorization(world, caller, row)
    if authorization:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    url = row.url.format(**world.ids)
    send = getattr(client, method.lower())
    if row.upload:
        return send(url, {"file": SimpleUploadedFile(row.upload, b">seq\nACGT\n")}, format="multipart")
    if row.body is not None:
        body = {key: value.format(**world.ids) if isinstance(value, str) else value for key, value in row.body.items()}
        return send(url, body, format="json")
    return send(url)


# Tests --------------------------------------------------------------------------------------


def test_every_endpoint_has_a_row():
    """Adding an endpoint without saying who may call it fails here."""
    endpoints = urlconf_endpoints()
    assert sorted(endpoints - set(ROWS)) == [], "endpoints without a row"
    assert sorted(set(ROWS) - endpoints) == [], "rows without an endpoint"


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", sorted(ROWS), ids=[f"{method} {route}" for route, method in sorted(ROWS)])
def test_permission_matrix(endpoint, matrix_world):
    route, method = endpoint
    row = ROWS[endpoint]
    statuses, bodies = {}, {}
    for caller in CALLERS:
        with transaction.atomic():
            response = _call(matrix_world, caller, method, row)
            transaction.set_rollback(True)
        statuses[caller] = response.status_code
        bodies[caller] = response
    assert statuses == dict(zip(CALLERS, row.expected)), {
        caller: getattr(bodies[caller], "data", None) for caller in CALLERS if statuses[caller] >= 400
    }
    if route.startswith("/api/"):
        for caller, response in bodies.items():
            _error_body_check(response)


_MESSAGES = {401: None, 403: "Insufficient rights", 404: "Not found"}


def _error_body_check(response) -> None:
    """Refusals carry Virtool's error body with the spec's message."""
    if response.status_code not in _MESSAGES:
        return
    body = response.json()
    assert set(body) >= {"id", "message"}, body
    expected = _MESSAGES[response.status_code]
    if expected is not None:
        assert body["message"] == expected, body
    else:
        assert body["id"] == "unauthorized", body
