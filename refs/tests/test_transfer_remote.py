"""Remote references: POST /api/refs with remote_from, GET .../release, POST .../updates,
against a local stand-in for GitHub's releases API (the client code is the real one)."""

import contextlib
import copy
import gzip
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from history.diffs import document_patch
from history.models import Change
from refs import services
from refs.documents import otu_document, otus_with_children
from refs.models import OTU, Reference, ReferenceUser, Sequence
from refs.tests.transfer_factories import FakeGitHub, file_document, file_otu, gz_bytes
from virtool_site import bulk_copy
from virtool_site.models import Process

pytestmark = pytest.mark.django_db

SLUG = "virtool/ref-plant-viruses"


@pytest.fixture
def github(settings):
    fake = FakeGitHub()
    settings.GITHUB_API_URL = fake.url
    settings.GITHUB_TOKEN = ""
    settings.HTTP_TIMEOUT_SECONDS = 5
    yield fake
    fake.close()


@pytest.fixture
def release_otus():
    return [file_otu(f"Remote virus {c}", f"RV{c}", isolates=2, sequences=2) for c in "ABCDE"]


def install(client, django_capture_on_commit_callbacks, slug=SLUG):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/refs", {"name": "Remote", "data_type": "genome", "remote_from": slug},
                               format="json")
    return response


@pytest.fixture
def remote(github, release_otus, curator_client, django_capture_on_commit_callbacks):
    github.publish(SLUG, gz_bytes(file_document(release_otus)), release_id=1)
    response = install(curator_client, django_capture_on_commit_callbacks)
    assert response.status_code == 201, response.json()
    return Reference.objects.get(id=response.json()["id"])


def documents(reference) -> dict[str, dict]:
    """Joined documents by remote id (local OTUs by their name)."""
    return {d["remote"]["id"] if "remote" in d else d["name"]: d for d in
            (otu_document(o) for o in otus_with_children(OTU.objects.filter(reference=reference)))}


def test_post_refs_with_remote_from_installs_the_latest_release(
    github, release_otus, curator, curator_client, django_capture_on_commit_callbacks
):
    github.publish(SLUG, gz_bytes(file_document(release_otus)), release_id=1)
    response = install(curator_client, django_capture_on_commit_callbacks)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["remotes_from"] == {"slug": SLUG, "errors": []}
    assert body["release"]["id"] == 1 and body["release"]["filename"] == "reference.json.gz"
    assert body["release"]["download_url"].startswith(github.url)
    assert body["installed"] is None
    assert [u["id"] for u in body["updates"]] == [1]
    process = Process.objects.get(id=body["process"]["id"])
    assert process.type == "remote_reference"
    assert process.steps == ["download", "load_file", "validate", "write_otus", "write_history"]
    assert process.complete and process.error is None

    reference = curator_client.get(f"/api/refs/{body['id']}").json()
    assert reference["installed"]["id"] == 1 and reference["installed"]["ready"] is True
    assert reference["installed"]["user"] == {"id": "curator"}
    assert reference["updates"][0]["ready"] is True
    assert reference["release"]["newer"] is False

    installed = documents(body["id"])
    assert set(installed) == {o["_id"] for o in release_otus}
    for source in release_otus:
        document = installed[source["_id"]]
        assert document["_id"] != source["_id"]
        remote_sequences = [s["remote"]["id"] for i in document["isolates"] for s in i["sequences"]]
        assert remote_sequences == [s["_id"] for i in source["isolates"] for s in i["sequences"]]
        (change,) = Change.objects.filter(otu_id=document["_id"])
        assert change.method_name == "remote"
        assert change.description == f"Installed {source['name']} ({source['abbreviation']}) from {SLUG}"
        assert change.diff == document


def test_the_github_token_goes_to_the_api(github, release_otus, settings, curator_client,
                                          django_capture_on_commit_callbacks):
    settings.GITHUB_TOKEN = "secret-token"
    github.publish(SLUG, gz_bytes(file_document(release_otus)), release_id=1)
    install(curator_client, django_capture_on_commit_callbacks)
    path, headers = github.requests[0]
    assert path == f"/repos/{SLUG}/releases/latest"
    assert headers["Authorization"] == "Bearer secret-token"


@pytest.mark.parametrize(
    "setup, status, message",
    [
        (lambda g: None, 400, "Release repository does not exist on GitHub"),
        (lambda g: g.status.__setitem__(SLUG, 502), 503, "Could not reach GitHub"),
        (lambda g: g.publish(SLUG, b"x", release_id=1, asset_name="notes.txt"), 400,
         "The latest release has no reference.json.gz asset"),
    ],
    ids=["no_repository", "github_error", "no_asset"],
)
def test_remote_from_errors(github, curator_client, setup, status, message):
    setup(github)
    response = curator_client.post("/api/refs", {"name": "Remote", "data_type": "genome", "remote_from": SLUG},
                                   format="json")
    assert response.status_code == status
    assert response.json()["message"] == message
    assert not Reference.objects.filter(name="Remote").exists()


def test_remote_from_when_github_is_unreachable_is_503(settings, curator_client):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.GITHUB_API_URL = f"http://127.0.0.1:{port}"
    response = curator_client.post("/api/refs", {"name": "Remote", "data_type": "genome", "remote_from": SLUG},
                                   format="json")
    assert response.status_code == 503
    assert response.json() == {"id": "service_unavailable", "message": "Could not reach GitHub"}


@pytest.mark.parametrize("slug", ["not-a-slug", "a/b/c", "../../etc", "owner/..", "ow ner/repo"])
def test_an_invalid_slug_is_422(github, curator_client, slug):
    response = curator_client.post("/api/refs", {"name": "Remote", "data_type": "genome", "remote_from": slug},
                                   format="json")
    assert response.status_code == 422
    assert "remote_from" in response.json()["errors"]
    assert github.requests == []


def test_a_release_whose_download_fails_fails_the_process(github, release_otus, curator_client,
                                                          django_capture_on_commit_callbacks):
    github.publish(SLUG, gz_bytes(file_document(release_otus)), release_id=1)
    github.assets.clear()
    body = install(curator_client, django_capture_on_commit_callbacks).json()
    process = Process.objects.get(id=body["process"]["id"])
    assert process.error["id"] == "transfer_error" and "download" in process.error["message"]
    assert not OTU.objects.filter(reference_id=body["id"]).exists()
    assert not Reference.all_objects.filter(id=body["id"]).exists()


def test_an_invalid_release_file_writes_nothing(github, curator_client, django_capture_on_commit_callbacks):
    otus = [file_otu("Twin virus"), file_otu("Twin virus")]
    github.publish(SLUG, gz_bytes(file_document(otus)), release_id=1)
    body = install(curator_client, django_capture_on_commit_callbacks).json()
    error = Process.objects.get(id=body["process"]["id"]).error
    assert [p["id"] for p in error["errors"]] == ["duplicate_names"]
    assert not OTU.objects.filter(reference_id=body["id"]).exists()
    # The reference made for the install went with the failure; nothing says it is installed.
    assert not Reference.all_objects.filter(id=body["id"]).exists()


# Checking for and installing updates -----------------------------------------------------------


def test_release_check_when_nothing_is_newer(github, remote, curator_client):
    response = curator_client.get(f"/api/refs/{remote.id}/release")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == 1 and body["newer"] is False and body["retrieved_at"].endswith("Z")
    # The stored ETag was sent and GitHub said "not modified".
    assert github.requests[-1][1].get("If-None-Match") == 'W/"1"'


def test_release_check_finds_a_newer_release(github, remote, release_otus, curator_client):
    github.publish(SLUG, gz_bytes(file_document(release_otus)), release_id=2, name="v2.0.0")
    body = curator_client.get(f"/api/refs/{remote.id}/release").json()
    assert body["id"] == 2 and body["name"] == "v2.0.0" and body["newer"] is True
    assert Reference.objects.get(id=remote.id).release["id"] == 2


def test_release_check_records_github_errors_and_keeps_the_stored_release(github, remote, curator_client):
    github.status[SLUG] = 500
    body = curator_client.get(f"/api/refs/{remote.id}/release").json()
    assert body["id"] == 1
    reference = curator_client.get(f"/api/refs/{remote.id}").json()
    assert reference["remotes_from"]["errors"] == ["GitHub answered 500"]


def test_release_check_of_a_local_reference_is_400(curator, curator_client):
    reference = services.reference_create(user=curator, name="Local")
    response = curator_client.get(f"/api/refs/{reference.id}/release")
    assert response.status_code == 400
    assert response.json()["message"] == "Not a remote reference"
    response = curator_client.post(f"/api/refs/{reference.id}/updates")
    assert response.status_code == 400


def test_release_check_of_an_invisible_reference_is_404(remote, user_factory, client_for):
    stranger = client_for(user_factory(username="stranger"))
    assert stranger.get(f"/api/refs/{remote.id}/release").status_code == 404
    assert stranger.post(f"/api/refs/{remote.id}/updates").status_code == 404


def test_an_update_applies_changes_creations_and_removals(
    github, remote, release_otus, curator, curator_client, django_capture_on_commit_callbacks
):
    before = documents(remote)
    newer = copy.deepcopy(release_otus)
    a, b, c, d, e = newer
    a["name"] = "Remote virus A renamed"
    a["isolates"][0]["sequences"][1]["sequence"] = "ACGT" * 20
    b["isolates"][1]["sequences"].append({**b["isolates"][1]["sequences"][0], "_id": "newseq01", "accession": "NEW1"})
    newer.remove(e)
    f = file_otu("Remote virus F", "RVF")
    newer.append(f)
    github.publish(SLUG, gz_bytes(file_document(newer)), release_id=2, name="v2.0.0")
    assert curator_client.get(f"/api/refs/{remote.id}/release").json()["newer"] is True

    with django_capture_on_commit_callbacks(execute=True):
        response = curator_client.post(f"/api/refs/{remote.id}/updates")
    assert response.status_code == 201, response.json()
    update = response.json()
    assert update["id"] == 2 and update["ready"] is False and update["user"] == {"id": "curator"}
    assert response["Content-Location"] == f"/api/processes/{update['process']['id']}"
    process = Process.objects.get(id=update["process"]["id"])
    assert process.type == "update_remote_reference" and process.complete and process.error is None

    after = documents(remote)
    assert set(after) == {a["_id"], b["_id"], c["_id"], d["_id"], f["_id"]}
    for source, old in ((a, before[a["_id"]]), (b, before[b["_id"]])):
        new = after[source["_id"]]
        assert new["_id"] == old["_id"] and new["version"] == 1
        (change,) = Change.objects.filter(otu_id=new["_id"], otu_version=1)
        assert change.method_name == "update"
        assert change.description.startswith("Updated ") and change.description.endswith(f"from {SLUG} v2.0.0")
        assert document_patch(old, change.diff) == new
    # Matched sequences keep their ids; the new one gets a new id.
    old_ids = {s["remote"]["id"]: s["_id"] for i in before[a["_id"]]["isolates"] for s in i["sequences"]}
    new_ids = {s["remote"]["id"]: s["_id"] for i in after[a["_id"]]["isolates"] for s in i["sequences"]}
    assert new_ids == old_ids
    assert after[a["_id"]]["name"] == "Remote virus A renamed"
    added = [s for s in after[b["_id"]]["isolates"][1]["sequences"] if s["remote"]["id"] == "newseq01"]
    assert len(added) == 1 and added[0]["_id"] != "newseq01"
    # Unchanged OTUs are left alone.
    for source in (c, d):
        assert after[source["_id"]] == before[source["_id"]]
        assert Change.objects.filter(otu_id=after[source["_id"]]["_id"]).count() == 1
    # New and removed OTUs.
    (created,) = Change.objects.filter(otu_id=after[f["_id"]]["_id"])
    assert created.method_name == "remote" and created.diff == after[f["_id"]]
    removed = before[e["_id"]]
    (removal,) = Change.objects.filter(otu_id=removed["_id"], method_name="remove")
    assert removal.id == f"{removed['_id']}.removed" and removal.diff == removed
    assert not OTU.objects.filter(id=removed["_id"]).exists()
    assert not Sequence.objects.filter(otu_id=removed["_id"]).exists()

    reference = curator_client.get(f"/api/refs/{remote.id}").json()
    assert reference["installed"]["id"] == 2 and reference["installed"]["ready"] is True
    assert [(u["id"], u["ready"]) for u in reference["updates"]] == [(1, True), (2, True)]
    assert reference["release"]["newer"] is False
    assert curator_client.get(f"/api/refs/{remote.id}/updates").json()[-1]["id"] == 2

    again = curator_client.post(f"/api/refs/{remote.id}/updates")
    assert again.status_code == 409
    assert again.json()["message"] == "Latest release is already installed"


def test_an_update_keeps_local_otus_and_refuses_names_they_use(
    github, remote, release_otus, curator, curator_client, django_capture_on_commit_callbacks
):
    local = services.otu_create(user=curator, reference=remote, name="Local virus", abbreviation="LV")
    newer = copy.deepcopy(release_otus)
    newer[0]["name"] = "local virus"
    newer[1]["name"] = "Changed virus"
    github.publish(SLUG, gz_bytes(file_document(newer)), release_id=2)
    curator_client.get(f"/api/refs/{remote.id}/release")
    before = documents(remote)
    with django_capture_on_commit_callbacks(execute=True):
        update = curator_client.post(f"/api/refs/{remote.id}/updates").json()
    error = Process.objects.get(id=update["process"]["id"]).error
    assert [p["id"] for p in error["errors"]] == ["conflicting_names"]
    assert error["errors"][0]["duplicates"] == ["local virus"]
    # Nothing changed, not even the OTU whose update was fine.
    assert documents(remote) == before
    assert OTU.objects.filter(id=local.id).exists()
    assert Reference.objects.get(id=remote.id).installed["id"] == 1


def test_an_update_needs_the_modify_right(github, remote, release_otus, user_factory, client_for):
    github.publish(SLUG, gz_bytes(file_document(release_otus)), release_id=2)
    reader = user_factory(username="reader")
    ReferenceUser.objects.create(reference=remote, user=reader, build=True)
    client = client_for(reader)
    assert client.get(f"/api/refs/{remote.id}/release").json()["newer"] is True
    response = client.post(f"/api/refs/{remote.id}/updates")
    assert response.status_code == 403
    assert Reference.objects.get(id=remote.id).installed["id"] == 1


def test_an_update_while_a_process_runs_is_409(github, remote, release_otus, curator_client):
    github.publish(SLUG, gz_bytes(file_document(release_otus)), release_id=2)
    curator_client.get(f"/api/refs/{remote.id}/release")
    Process.objects.filter(id=remote.process_id).update(complete=False)
    response = curator_client.post(f"/api/refs/{remote.id}/updates")
    assert response.status_code == 409
    assert response.json()["message"] == "A process is already running on this reference"


def test_an_update_may_give_a_dropped_otus_name_to_a_new_one(
    github, remote, release_otus, curator_client, django_capture_on_commit_callbacks
):
    """Upstream re-created an OTU under a new id: the old one goes, the new one takes its name."""
    newer = copy.deepcopy(release_otus)
    dropped = newer.pop(0)
    recreated = file_otu(dropped["name"], dropped["abbreviation"])
    newer.append(recreated)
    old_local_id = documents(remote)[dropped["_id"]]["_id"]
    Reference.objects.filter(id=remote.id).update(internal_control=old_local_id)
    github.publish(SLUG, gz_bytes(file_document(newer)), release_id=2)
    curator_client.get(f"/api/refs/{remote.id}/release")
    with django_capture_on_commit_callbacks(execute=True):
        update = curator_client.post(f"/api/refs/{remote.id}/updates").json()
    process = Process.objects.get(id=update["process"]["id"])
    assert process.error is None, process.error
    assert process.steps == ["download", "load_file", "validate", "remove_otus", "update_otus", "write_history"]
    after = documents(remote)
    assert dropped["_id"] not in after and after[recreated["_id"]]["name"] == dropped["name"]
    assert not OTU.objects.filter(id=old_local_id).exists()
    assert Reference.objects.get(id=remote.id).internal_control is None


@pytest.mark.parametrize("portable", [False, True], ids=["copy", "bulk_create"])
def test_an_update_may_swap_two_otus_names_and_abbreviations(
    github, remote, release_otus, curator_client, django_capture_on_commit_callbacks, monkeypatch, portable
):
    """Names and abbreviations are unique per reference, row by row: a swap still applies."""
    if portable:
        monkeypatch.setattr(bulk_copy, "copy_available", lambda: False)
    before = documents(remote)
    newer = copy.deepcopy(release_otus)
    a, b = newer[0], newer[1]
    (a["name"], a["abbreviation"]), (b["name"], b["abbreviation"]) = (b["name"], b["abbreviation"]), (a["name"], a["abbreviation"])
    github.publish(SLUG, gz_bytes(file_document(newer)), release_id=2, name="v2.0.0")
    curator_client.get(f"/api/refs/{remote.id}/release")
    with django_capture_on_commit_callbacks(execute=True):
        update = curator_client.post(f"/api/refs/{remote.id}/updates").json()
    process = Process.objects.get(id=update["process"]["id"])
    assert process.complete and process.error is None, process.error

    after = documents(remote)
    for source in (a, b):
        old, new = before[source["_id"]], after[source["_id"]]
        assert (new["_id"], new["name"], new["abbreviation"], new["version"]) == (
            old["_id"], source["name"], source["abbreviation"], 1
        )
        (change,) = Change.objects.filter(otu_id=new["_id"], otu_version=1)
        assert change.method_name == "update"
        assert change.description == f"Updated {source['name']} ({source['abbreviation']}) from {SLUG} v2.0.0"
        assert document_patch(old, change.diff) == new
    for source in newer[2:]:
        assert after[source["_id"]] == before[source["_id"]]
    assert Reference.objects.get(id=remote.id).installed["id"] == 2


def test_an_update_may_give_a_renamed_otus_name_to_a_new_one_listed_first(
    github, remote, release_otus, curator_client, django_capture_on_commit_callbacks
):
    """The new OTU comes first in the file, before the OTU whose old name it takes is renamed."""
    newer = copy.deepcopy(release_otus)
    renamed = newer[0]
    newcomer = file_otu(renamed["name"], renamed["abbreviation"])
    renamed["name"], renamed["abbreviation"] = "Remote virus A (old)", "RVAO"
    newer.insert(0, newcomer)
    github.publish(SLUG, gz_bytes(file_document(newer)), release_id=2)
    curator_client.get(f"/api/refs/{remote.id}/release")
    with django_capture_on_commit_callbacks(execute=True):
        update = curator_client.post(f"/api/refs/{remote.id}/updates").json()
    process = Process.objects.get(id=update["process"]["id"])
    assert process.error is None, process.error
    after = documents(remote)
    assert (after[renamed["_id"]]["name"], after[renamed["_id"]]["abbreviation"]) == ("Remote virus A (old)", "RVAO")
    assert (after[newcomer["_id"]]["name"], after[newcomer["_id"]]["abbreviation"]) == (
        newcomer["name"], newcomer["abbreviation"]
    )
    (created,) = Change.objects.filter(otu_id=after[newcomer["_id"]]["_id"])
    assert created.method_name == "remote" and created.diff == after[newcomer["_id"]]


# What GitHub (or whatever answers for it) may send -------------------------------------------


@contextlib.contextmanager
def asset_server(respond):
    """A second HTTP server for release assets; `respond(handler)` answers each GET."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            respond(self)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def process_error(body) -> dict | None:
    return Process.objects.get(id=body["process"]["id"]).error


@pytest.mark.parametrize(
    "assets",
    [5, "reference.json.gz", {"name": "reference.json.gz"},
     [{"name": "reference.json.gz", "size": 10, "browser_download_url": 5}]],
    ids=["number", "string", "object", "url_not_a_string"],
)
def test_a_release_with_malformed_assets_is_400_no_asset_not_500(github, curator_client, assets):
    github.publish(SLUG, b"x", release_id=1)
    github.releases[SLUG]["assets"] = assets
    response = curator_client.post("/api/refs", {"name": "Remote", "data_type": "genome", "remote_from": SLUG},
                                   format="json")
    assert response.status_code == 400
    assert response.json()["message"] == "The latest release has no reference.json.gz asset"
    assert not Reference.objects.filter(name="Remote").exists()


def test_a_release_check_with_malformed_assets_keeps_the_stored_release(github, remote, curator_client):
    github.publish(SLUG, b"x", release_id=2)
    github.releases[SLUG]["assets"] = 5
    response = curator_client.get(f"/api/refs/{remote.id}/release")
    assert response.status_code == 200
    assert response.json()["id"] == 1
    assert Reference.objects.get(id=remote.id).remotes_from["errors"] == [
        "The latest release has no reference.json.gz asset"
    ]


def test_a_download_larger_than_announced_fails_the_install_and_writes_nothing(
    github, release_otus, curator_client, django_capture_on_commit_callbacks
):
    github.publish(SLUG, gz_bytes(file_document(release_otus)), release_id=1)
    github.releases[SLUG]["assets"][0]["size"] = 10
    body = install(curator_client, django_capture_on_commit_callbacks).json()
    assert process_error(body) == {"id": "transfer_error",
                                   "message": "The release file is larger than announced (10 bytes)"}
    assert not Reference.all_objects.filter(id=body["id"]).exists()


def test_a_download_larger_than_the_upload_limit_fails_the_install(
    github, release_otus, curator_client, settings, django_capture_on_commit_callbacks
):
    github.publish(SLUG, gz_bytes(file_document(release_otus)), release_id=1)
    settings.UPLOAD_MAX_BYTES = 100
    body = install(curator_client, django_capture_on_commit_callbacks).json()
    assert process_error(body)["message"] == "The release file is larger than the limit of 100 bytes"
    assert not Reference.all_objects.filter(id=body["id"]).exists()


@pytest.mark.parametrize("content, error", [
    (b"not gzip at all", "not_gzipped"),
    (gzip.compress(b'{"otus": [' + b" " * 3_000_000 + b"]}"), "file_too_large"),
], ids=["not_gzip", "gzip_bomb"])
def test_a_release_file_that_is_not_gzip_or_a_bomb_fails_the_install(
    github, curator_client, settings, django_capture_on_commit_callbacks, content, error
):
    settings.GZIP_MAX_DECOMPRESSED_BYTES = 1_000_000
    github.publish(SLUG, content, release_id=1)
    body = install(curator_client, django_capture_on_commit_callbacks).json()
    assert [e["id"] for e in process_error(body)["errors"]] == [error]
    assert not Reference.all_objects.filter(id=body["id"]).exists()


def test_a_redirected_asset_url_is_followed_and_a_truncated_download_fails_the_install(
    github, release_otus, curator_client, django_capture_on_commit_callbacks
):
    content = gz_bytes(file_document(release_otus))

    def respond(handler):
        if handler.path == "/asset":
            handler.send_response(302)
            handler.send_header("Location", "/storage/asset")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        handler.wfile.write(content[: len(content) // 2])

    with asset_server(respond) as url:
        github.publish(SLUG, content, release_id=1)
        github.releases[SLUG]["assets"][0]["browser_download_url"] = f"{url}/asset"
        body = install(curator_client, django_capture_on_commit_callbacks).json()
    assert process_error(body) == {"id": "transfer_error", "message": "Could not download the release"}
    assert not Reference.all_objects.filter(id=body["id"]).exists()


def test_a_redirected_asset_url_installs_the_release(
    github, release_otus, curator_client, django_capture_on_commit_callbacks
):
    content = gz_bytes(file_document(release_otus))
    seen = []

    def respond(handler):
        seen.append((handler.path, handler.headers.get("Accept-Encoding")))
        if handler.path == "/asset":
            handler.send_response(302)
            handler.send_header("Location", "/storage/asset")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        handler.wfile.write(content)

    with asset_server(respond) as url:
        github.publish(SLUG, content, release_id=1)
        github.releases[SLUG]["assets"][0]["browser_download_url"] = f"{url}/asset"
        body = install(curator_client, django_capture_on_commit_callbacks).json()
    assert process_error(body) is None
    assert OTU.objects.filter(reference_id=body["id"]).count() == len(release_otus)
    assert [path for path, _ in seen] == ["/asset", "/storage/asset"]
    assert all(encoding == "identity" for _, encoding in seen)


def test_a_release_check_with_a_published_at_that_is_not_a_string_is_200_not_500(
    github, remote, release_otus, curator_client
):
    github.publish(SLUG, gz_bytes(file_document(release_otus)), release_id=2)
    github.releases[SLUG]["published_at"] = 20240102
    response = curator_client.get(f"/api/refs/{remote.id}/release")
    assert response.status_code == 200
    assert response.json()["id"] == 2 and response.json()["newer"] is True
