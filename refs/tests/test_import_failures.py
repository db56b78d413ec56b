"""A failed import leaves nothing but its process (issue 17).

What can be checked in the request (the upload exists, is a reference upload, starts as gzip
does) answers 400 at once and creates nothing. A file that passes those checks and fails in
the task (truncated, not JSON, not a reference file, invalid OTUs, the time limit, storage)
fails its process with the problems found, and the reference created for it is removed in
the same transaction: the client that was answered 201 gets 404 for it and finds the failure
at /api/processes/{id}. The same for a remote install and a clone. A worker killed mid-import
records no failure, so nothing is removed and the redelivered task completes
(test_transfer_worker, test_worker_recovery).
"""

import gzip
import json

import pytest

from history.models import Change
from refs import services
from refs.models import OTU, Reference, ReferenceUser
from refs.processes.common import reference_unfilled_remove
from refs.tests.factories import OTUFactory, ReferenceFactory
from refs.tests.transfer_factories import (
    FakeGitHub,
    file_document,
    file_otu,
    gz_bytes,
    reference_file,
    upload_from,
    write_gz,
)
from virtool_site.errors import BadRequest
from virtool_site.models import Process, Upload
from virtool_site.testing import wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def curator(user_factory):
    return user_factory(username="curator", create_ref=True, upload_file=True)


@pytest.fixture
def curator_client(client_for, curator):
    return client_for(curator)


def post_import(client, upload_id, capture, **extra):
    with capture(execute=True):
        return client.post(
            "/api/refs", {"name": "Imported", "data_type": "genome", "import_from": upload_id, **extra}, format="json"
        )


def assert_nothing_written() -> None:
    assert not Reference.all_objects.exists()
    assert not Process.objects.exists()
    assert not OTU.objects.exists()
    assert not Change.objects.exists()


def assert_failed_and_gone(client, body: dict) -> dict:
    """The reference answered with 201 is gone everywhere; its process keeps the failure."""
    reference_id, process_id = body["id"], body["process"]["id"]
    assert client.get(f"/api/refs/{reference_id}").status_code == 404
    assert reference_id not in [r["id"] for r in client.get("/api/refs").json()["documents"]]
    assert not Reference.all_objects.filter(id=reference_id).exists()
    assert not ReferenceUser.objects.filter(reference_id=reference_id).exists()
    assert not OTU.objects.filter(reference_id=reference_id).exists()
    assert not Change.objects.filter(reference_id=reference_id).exists()
    response = client.get(f"/api/processes/{process_id}")
    assert response.status_code == 200
    process = response.json()
    assert process["complete"] is True and process["error"] is not None, process
    assert process["context"]["ref_id"] == reference_id
    return process["error"]


# Refused in the request ---------------------------------------------------------------------


def _plain_json(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(file_document([file_otu()])))
    return path


def _empty(tmp_path):
    path = tmp_path / "r.json.gz"
    path.write_bytes(b"")
    return path


def _one_byte_of_gzip(tmp_path):
    path = tmp_path / "r.json.gz"
    path.write_bytes(b"\x1f")
    return path


def _zip(tmp_path):
    path = tmp_path / "r.zip"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    return path


@pytest.mark.parametrize("make", [_plain_json, _empty, _one_byte_of_gzip, _zip], ids=lambda f: f.__name__[1:])
def test_an_upload_that_is_not_gzip_is_400_at_once_and_creates_nothing(
    make, curator, curator_client, tmp_path, django_capture_on_commit_callbacks
):
    upload = upload_from(make(tmp_path), user=curator)
    response = post_import(curator_client, upload.id, django_capture_on_commit_callbacks)
    assert (response.status_code, response.json()) == (
        400, {"id": "bad_request", "message": "File is not gzip-compressed"}
    )
    assert_nothing_written()
    assert Upload.objects.get(id=upload.id).reserved is False


def test_an_upload_whose_file_is_gone_from_storage_is_400_file_not_found(
    curator, curator_client, tmp_path, django_capture_on_commit_callbacks
):
    from virtool_site.storage import stored_delete

    upload = upload_from(reference_file(tmp_path / "r.json.gz"), user=curator)
    stored_delete(f"uploads/{upload.id}")
    response = post_import(curator_client, upload.id, django_capture_on_commit_callbacks)
    assert (response.status_code, response.json()) == (400, {"id": "bad_request", "message": "File not found"})
    assert_nothing_written()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda u: Upload.objects.filter(id=u.id).update(type="reads"), "File is not a reference file"),
        (lambda u: Upload.objects.filter(id=u.id).update(ready=False), "File not found"),
        (lambda u: Upload.objects.filter(id=u.id).delete(), "File not found"),
    ],
    ids=["other_type", "not_ready", "no_upload"],
)
def test_an_upload_that_cannot_be_imported_is_400_and_creates_nothing(
    change, message, curator, curator_client, tmp_path, django_capture_on_commit_callbacks
):
    upload = upload_from(_plain_json(tmp_path), user=curator)  # the cheaper checks come first
    change(upload)
    response = post_import(curator_client, upload.id, django_capture_on_commit_callbacks)
    assert (response.status_code, response.json()) == (400, {"id": "bad_request", "message": message})
    assert_nothing_written()


def test_the_service_refuses_a_file_that_is_not_gzip_before_writing(curator, tmp_path):
    upload = upload_from(_plain_json(tmp_path), user=curator)
    with pytest.raises(BadRequest, match="File is not gzip-compressed"):
        services.reference_create_import(
            user=curator, upload_id=upload.id, name="Imported", description="", organism="", data_type="genome",
            public=False,
        )
    assert_nothing_written()


def test_an_import_while_the_store_is_unreachable_is_503_and_creates_nothing(
    curator, curator_client, tmp_path, s3_storage, django_capture_on_commit_callbacks
):
    upload = upload_from(reference_file(tmp_path / "r.json.gz"), user=curator)
    s3_storage.server.stop()
    try:
        response = post_import(curator_client, upload.id, django_capture_on_commit_callbacks)
    finally:
        s3_storage.server.start()
    assert (response.status_code, response.json()) == (
        503, {"id": "service_unavailable", "message": "Storage unavailable"}
    )
    assert_nothing_written()
    assert Upload.objects.get(id=upload.id).reserved is False


def test_the_schema_documents_the_400_messages(admin_client):
    schema = admin_client.get("/api/schema/", {"format": "json"}).json()
    responses = schema["paths"]["/api/refs"]["post"]["responses"]
    for message in ("File not found", "File is not a reference file", "File is not gzip-compressed"):
        assert message in responses["400"]["description"]
    assert "Storage unavailable" in responses["503"]["description"]


# Failed in the task -------------------------------------------------------------------------


def _truncated(tmp_path):
    data = gzip.compress(json.dumps(file_document([file_otu() for _ in range(20)])).encode())
    path = tmp_path / "r.json.gz"
    path.write_bytes(data[: len(data) // 2])
    return path, "not_gzipped"


def _corrupt(tmp_path):
    data = bytearray(gzip.compress(json.dumps(file_document([file_otu() for _ in range(5)])).encode()))
    data[20:40] = b"\xff" * 20
    path = tmp_path / "r.json.gz"
    path.write_bytes(bytes(data))
    return path, "not_gzipped"


def _invalid_json(tmp_path):
    return write_gz(tmp_path / "r.json.gz", json.dumps(file_document([file_otu()]))[:-30]), "json_error"


def _not_json(tmp_path):
    return write_gz(tmp_path / "r.json.gz", "name,otus\nx,y\n"), "json_error"


def _no_otus(tmp_path):
    return write_gz(tmp_path / "r.json.gz", {"name": "x", "data_type": "genome"}), "invalid_file"


def _a_list(tmp_path):
    return write_gz(tmp_path / "r.json.gz", [file_otu()]), "invalid_file"


def _duplicate_names(tmp_path):
    return reference_file(tmp_path / "r.json.gz", [file_otu("Twin virus"), file_otu("Twin virus")]), "duplicate_names"


def _invalid_otus(tmp_path):
    bad = file_otu("Bad virus")
    del bad["isolates"][0]["sequences"][0]["accession"]
    return reference_file(tmp_path / "r.json.gz", [file_otu(), bad]), "invalid_otus"


TASK_FAILURES = [_truncated, _corrupt, _invalid_json, _not_json, _no_otus, _a_list, _duplicate_names, _invalid_otus]


@pytest.mark.parametrize("make", TASK_FAILURES, ids=lambda f: f.__name__[1:])
def test_a_file_that_fails_in_the_task_leaves_only_its_failed_process(
    make, curator, curator_client, tmp_path, django_capture_on_commit_callbacks
):
    path, problem_id = make(tmp_path)
    upload = upload_from(path, user=curator)
    response = post_import(curator_client, upload.id, django_capture_on_commit_callbacks)
    assert response.status_code == 201, response.json()
    error = assert_failed_and_gone(curator_client, response.json())
    assert error["id"] == "invalid_reference_file"
    problems = {p["id"]: p for p in error["errors"]}
    assert problem_id in problems, error
    if problem_id == "duplicate_names":
        assert problems[problem_id]["duplicates"] == ["Twin virus"]
    if problem_id == "invalid_otus":
        (item,) = problems[problem_id]["otus"]
        assert item["position"] == 1 and item["name"] == "Bad virus"
        assert item["errors"] == {"isolates[0].sequences[0].accession": ["This field is required."]}
    # The upload is free again, and a good file still imports.
    assert Upload.objects.get(id=upload.id).reserved is False
    good = upload_from(reference_file(tmp_path / "good.json.gz", [file_otu() for _ in range(3)]), user=curator)
    response = post_import(curator_client, good.id, django_capture_on_commit_callbacks)
    assert response.status_code == 201
    assert curator_client.get(f"/api/refs/{response.json()['id']}").status_code == 200
    assert OTU.objects.filter(reference_id=response.json()["id"]).count() == 3
    assert Process.objects.get(id=response.json()["process"]["id"]).error is None


def test_an_import_past_its_time_limit_leaves_only_its_failed_process(
    curator, curator_client, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.REFERENCE_IMPORT_TIME_LIMIT = 0
    upload = upload_from(reference_file(tmp_path / "r.json.gz"), user=curator)
    response = post_import(curator_client, upload.id, django_capture_on_commit_callbacks)
    assert response.status_code == 201
    error = assert_failed_and_gone(curator_client, response.json())
    assert error["id"] == "import_timed_out", error


def test_an_import_whose_store_fails_in_the_task_leaves_only_its_failed_process(
    curator, curator_client, tmp_path, s3_storage, django_capture_on_commit_callbacks
):
    upload = upload_from(reference_file(tmp_path / "r.json.gz"), user=curator)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = curator_client.post(
            "/api/refs", {"name": "Imported", "data_type": "genome", "import_from": upload.id}, format="json"
        )
    assert response.status_code == 201
    s3_storage.server.stop()
    try:
        for callback in callbacks:
            callback()
    finally:
        s3_storage.server.start()
    error = assert_failed_and_gone(curator_client, response.json())
    assert error == {"id": "transfer_error", "message": "Storage unavailable"}


def test_a_failed_import_delivered_again_keeps_its_failure_and_writes_nothing(
    curator, curator_client, tmp_path, django_capture_on_commit_callbacks
):
    from refs import tasks

    upload = upload_from(_invalid_json(tmp_path)[0], user=curator)
    body = post_import(curator_client, upload.id, django_capture_on_commit_callbacks).json()
    error = Process.objects.get(id=body["process"]["id"]).error
    # Its worker died after recording the failure, before acknowledging the task.
    tasks.import_reference(body["id"], body["process"]["id"], upload.id, curator.pk)
    assert Process.objects.get(id=body["process"]["id"]).error == error
    assert_failed_and_gone(curator_client, body)


def test_a_failed_command_import_leaves_only_its_failed_process(curator, tmp_path):
    from refs.processes.common import TransferError

    path, _ = _duplicate_names(tmp_path)
    with pytest.raises(TransferError, match="Duplicate OTU names found"):
        services.reference_import_path(user=curator, path=path, name="From disk")
    assert not Reference.all_objects.exists()
    (process,) = Process.objects.all()
    assert process.error["errors"][0]["id"] == "duplicate_names"


# What a failure removes ----------------------------------------------------------------------


def test_a_failure_keeps_a_reference_that_holds_otus(curator):
    """OTUs were committed by an earlier delivery of the task, or added by a curator since."""
    reference = ReferenceFactory(user=curator)
    OTUFactory(reference=reference)
    assert reference_unfilled_remove(reference_id=reference.id) is False
    assert Reference.objects.filter(id=reference.id).exists()


def test_a_failure_leaves_a_reference_being_deleted_to_its_deletion(curator):
    reference = ReferenceFactory(user=curator)
    Reference.all_objects.filter(id=reference.id).update(deleted=True)
    assert reference_unfilled_remove(reference_id=reference.id) is False
    assert Reference.all_objects.filter(id=reference.id).exists()


def test_a_failure_keeps_the_upload_reserved_by_another_import(
    curator, curator_client, tmp_path, django_capture_on_commit_callbacks
):
    upload = upload_from(reference_file(tmp_path / "r.json.gz"), user=curator)
    good = post_import(curator_client, upload.id, django_capture_on_commit_callbacks).json()
    other = ReferenceFactory(user=curator, imported_from={"id": upload.id, "name": "r", "user": {"id": "curator"}})
    assert reference_unfilled_remove(reference_id=other.id) is True
    assert Upload.objects.get(id=upload.id).reserved is True
    assert Reference.objects.filter(id=good["id"]).exists()


# Remote installs and clones --------------------------------------------------------------------

SLUG = "virtool/ref-plant-viruses"


@pytest.fixture
def github(settings):
    fake = FakeGitHub()
    settings.GITHUB_API_URL, settings.GITHUB_TOKEN, settings.HTTP_TIMEOUT_SECONDS = fake.url, "", 5
    yield fake
    fake.close()


def install(client, capture):
    with capture(execute=True):
        return client.post("/api/refs", {"name": "Remote", "data_type": "genome", "remote_from": SLUG}, format="json")


def test_a_remote_install_whose_download_fails_leaves_only_its_failed_process(
    github, curator_client, django_capture_on_commit_callbacks
):
    github.publish(SLUG, gz_bytes(file_document([file_otu()])), release_id=1)
    github.assets.clear()
    response = install(curator_client, django_capture_on_commit_callbacks)
    assert response.status_code == 201
    error = assert_failed_and_gone(curator_client, response.json())
    assert error["id"] == "transfer_error" and "download" in error["message"]


def test_a_remote_install_of_an_invalid_release_leaves_only_its_failed_process(
    github, curator_client, django_capture_on_commit_callbacks
):
    github.publish(SLUG, b"not gzip at all", release_id=1)
    response = install(curator_client, django_capture_on_commit_callbacks)
    assert response.status_code == 201
    error = assert_failed_and_gone(curator_client, response.json())
    assert [p["id"] for p in error["errors"]] == ["not_gzipped"]


def test_a_clone_whose_source_went_leaves_only_its_failed_process(
    curator, curator_client, django_capture_on_commit_callbacks
):
    source = ReferenceFactory(user=curator)
    OTUFactory(reference=source)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = curator_client.post("/api/refs", {"name": "Copy", "clone_from": source.id}, format="json")
    assert response.status_code == 201
    Reference.objects.filter(id=source.id).update(deleted=True)
    for callback in callbacks:
        callback()
    error = assert_failed_and_gone(curator_client, response.json())
    assert error == {"id": "transfer_error", "message": "Source reference does not exist"}


# Through a real worker -------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.worker
def test_through_a_worker_bad_files_are_400_or_leave_only_their_failed_process(
    celery_worker, curator_client, tmp_path
):
    def upload(path) -> str:
        with open(path, "rb") as handle:
            response = curator_client.post(
                "/api/uploads?name=reference.json.gz&type=reference", {"file": handle}, format="multipart"
            )
        assert response.status_code == 201, response.content
        return response.json()["id"]

    def start(upload_id):
        return curator_client.post(
            "/api/refs", {"name": "Imported", "data_type": "genome", "import_from": upload_id}, format="json"
        )

    def finished(body) -> dict:
        return wait_for(
            lambda: (p := curator_client.get(f"/api/processes/{body['process']['id']}").json())["complete"] and p,
            timeout=120, interval=0.05, message="the import", log=celery_worker.log,
        )

    response = start(upload(_plain_json(tmp_path)))
    assert (response.status_code, response.json()["message"]) == (400, "File is not gzip-compressed")
    assert not Reference.all_objects.exists() and not Process.objects.exists()

    failures = {}
    for make in (_truncated, _invalid_json, _no_otus, _invalid_otus):
        path, problem_id = make(tmp_path)
        response = start(upload(path))
        assert response.status_code == 201, response.json()
        failures[problem_id] = response.json()
    good = start(upload(reference_file(tmp_path / "good.json.gz", [file_otu() for _ in range(4)])))
    assert good.status_code == 201

    for problem_id, body in failures.items():
        finished(body)
        error = assert_failed_and_gone(curator_client, body)
        assert problem_id in [p["id"] for p in error["errors"]], error
    process = finished(good.json())
    assert process["error"] is None
    assert [r["id"] for r in curator_client.get("/api/refs").json()["documents"]] == [good.json()["id"]]
    assert OTU.objects.filter(reference_id=good.json()["id"]).count() == 4


# The task never published ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["import", "clone"])
def test_a_fill_task_that_cannot_be_published_after_the_commit_leaves_only_its_failed_process(
    kind, curator, curator_client, tmp_path, django_capture_on_commit_callbacks
):
    """The broker answers the check and is gone when the transaction commits: the process
    fails with "Task queue unavailable" and the reference made for it goes, as after any
    failure of the task itself."""
    from virtool_site.celery import app as celery_app
    from virtool_site.tests.test_faults import PrivateRedis, _celery_pools_reset

    source = ReferenceFactory(user=curator)
    OTUFactory(reference=source)
    upload = upload_from(reference_file(tmp_path / "r.json.gz"), user=curator)
    body = {"import_from": upload.id} if kind == "import" else {"clone_from": source.id}
    redis_server = PrivateRedis(tmp_path)
    conf = celery_app.conf
    previous = conf.task_always_eager, conf.broker_url
    conf.task_always_eager, conf.broker_url = False, redis_server.url
    _celery_pools_reset()
    try:
        with django_capture_on_commit_callbacks() as callbacks:
            response = curator_client.post(
                "/api/refs", {"name": "Filled", "data_type": "genome", **body}, format="json"
            )
        assert response.status_code == 201, response.json()
        redis_server.kill()
        for callback in callbacks:
            callback()
    finally:
        conf.task_always_eager, conf.broker_url = previous
        _celery_pools_reset()
        redis_server.kill()
    error = assert_failed_and_gone(curator_client, response.json())
    assert error == {"id": "task_queue_unavailable", "message": "Task queue unavailable"}
    if kind == "import":
        assert Upload.objects.get(id=upload.id).reserved is False


def test_a_header_field_with_a_null_character_is_an_invalid_file_and_leaves_only_its_failed_process(
    curator, curator_client, tmp_path, django_capture_on_commit_callbacks
):
    path = reference_file(tmp_path / "r.json.gz", [file_otu()], organism="vir\x00us", data_type="gen\x00ome")
    upload = upload_from(path, user=curator)
    response = post_import(curator_client, upload.id, django_capture_on_commit_callbacks)
    assert response.status_code == 201
    error = assert_failed_and_gone(curator_client, response.json())
    assert error["id"] == "invalid_reference_file", error
    assert error["errors"] == [
        {
            "id": "invalid_file",
            "message": "Invalid top-level fields",
            "errors": {"data_type": ["Null characters are not allowed."], "organism": ["Null characters are not allowed."]},
        }
    ]
