"""Importing reference files: POST /api/refs with import_from, the import_reference task,
validation of bad files (400 at once, or a failed process and no reference left), and the
guarantees of the bulk writer."""

import gzip
import json
import tracemalloc

import pytest

from history.models import Change
from refs import services, tasks
from refs.documents import otu_document, otus_with_children
from refs.imports import ReferenceFileInvalid, reference_file_validate
from refs.models import OTU, Isolate, Reference, Sequence
from refs.processes.writer import BulkWriter
from refs.tests.transfer_factories import (
    file_otu,
    gzip_bomb,
    reference_file,
    upload_from,
    write_gz,
)
from virtool_site import bulk_copy
from virtool_site.models import Process, Upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def creator(user_factory):
    return user_factory(username="curator", create_ref=True)


@pytest.fixture
def creator_client(client_for, creator):
    return client_for(creator)


def start_import(user, path, django_capture_on_commit_callbacks, **fields) -> Reference:
    upload = upload_from(path, user=user)
    with django_capture_on_commit_callbacks(execute=True):
        reference = services.reference_create_import(
            user=user, upload_id=upload.id, name=fields.get("name", "Imported"), description="",
            organism=fields.get("organism", ""), data_type="genome", public=False,
        )
    return reference


def process_of(reference) -> Process:
    return Process.objects.get(id=reference.process_id)


def assert_gone(reference) -> None:
    """A failed import leaves nothing but its process."""
    assert not Reference.all_objects.filter(id=reference.id).exists()
    assert not OTU.objects.filter(reference_id=reference.id).exists()
    assert not Change.objects.filter(reference_id=reference.id).exists()


def documents_of(reference) -> list[dict]:
    return [otu_document(o) for o in otus_with_children(OTU.objects.filter(reference=reference).order_by("name"))]


def file_form(document: dict) -> dict:
    """The content of an OTU without ids that an import gives anew."""
    return {
        "name": document["name"],
        "abbreviation": document["abbreviation"],
        "schema": document["schema"],
        "taxid": document["taxid"],
        "isolates": [
            {
                "id": i["id"], "source_type": i["source_type"], "source_name": i["source_name"], "default": i["default"],
                "sequences": [{k: s.get(k) for k in ("accession", "definition", "host", "segment", "sequence")}
                              for s in i["sequences"]],
            }
            for i in document["isolates"]
        ],
    }


# Through the API -----------------------------------------------------------------------------


def test_post_refs_with_import_from_answers_201_with_imported_from_and_process(
    creator, creator_client, tmp_path, django_capture_on_commit_callbacks
):
    upload = upload_from(reference_file(tmp_path / "r.json.gz", [file_otu() for _ in range(4)]), user=creator)
    with django_capture_on_commit_callbacks(execute=True):
        response = creator_client.post(
            "/api/refs",
            {"name": "Imported", "organism": "virus", "data_type": "genome", "import_from": upload.id},
            format="json",
        )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["imported_from"] == {"id": upload.id, "name": "reference.json.gz", "user": {"id": "curator"}}
    assert response["Location"] == f"/api/refs/{body['id']}"
    process = Process.objects.get(id=body["process"]["id"])
    assert process.type == "import_reference"
    assert process.steps == ["load_file", "validate", "write_otus", "write_history"]
    assert process.complete and process.error is None and process.progress == 1.0
    assert OTU.objects.filter(reference_id=body["id"]).count() == 4
    assert Upload.objects.get(id=upload.id).reserved is True


def test_post_refs_with_unknown_upload_is_400_file_not_found(creator_client):
    response = creator_client.post(
        "/api/refs", {"name": "Imported", "data_type": "genome", "import_from": "nothere-reference.json.gz"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"id": "bad_request", "message": "File not found"}
    assert not Reference.objects.filter(name="Imported").exists()


def test_import_of_an_upload_of_another_type_is_400(creator, creator_client, tmp_path):
    upload = upload_from(reference_file(tmp_path / "r.json.gz"), user=creator, upload_type="reads")
    response = creator_client.post(
        "/api/refs", {"name": "Imported", "data_type": "genome", "import_from": upload.id}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["message"] == "File is not a reference file"


def test_import_needs_the_create_ref_permission(user_client, user, tmp_path):
    upload = upload_from(reference_file(tmp_path / "r.json.gz"), user=user)
    response = user_client.post(
        "/api/refs", {"name": "Imported", "data_type": "genome", "import_from": upload.id}, format="json"
    )
    assert response.status_code == 403
    assert not Upload.objects.get(id=upload.id).reserved


def test_process_of_an_import_is_readable_through_the_processes_api(
    creator, creator_client, tmp_path, django_capture_on_commit_callbacks
):
    reference = start_import(creator, reference_file(tmp_path / "r.json.gz"), django_capture_on_commit_callbacks)
    body = creator_client.get(f"/api/processes/{reference.process_id}").json()
    assert body["type"] == "import_reference"
    assert body["complete"] is True and body["error"] is None and body["step_count"] == 4


# What an import writes --------------------------------------------------------------------


def test_import_writes_every_otu_with_new_ids_and_one_import_change_each(
    creator, tmp_path, django_capture_on_commit_callbacks
):
    otus = [file_otu(isolates=2, sequences=3) for _ in range(5)]
    otus[0]["abbreviation"] = ""
    reference = start_import(creator, reference_file(tmp_path / "r.json.gz", otus), django_capture_on_commit_callbacks)

    imported = {o.name: o for o in OTU.objects.filter(reference=reference)}
    assert set(imported) == {o["name"] for o in otus}
    assert Isolate.objects.filter(otu__reference=reference).count() == 10
    assert Sequence.objects.filter(otu__reference=reference).count() == 30
    file_ids = {o["_id"] for o in otus} | {s["_id"] for o in otus for i in o["isolates"] for s in i["sequences"]}
    assert not file_ids & set(imported)
    assert not file_ids & set(Sequence.objects.filter(otu__reference=reference).values_list("id", flat=True))
    for source in otus:
        otu = imported[source["name"]]
        assert otu.version == 0 and otu.imported and otu.remote_id is None and otu.last_indexed_version is None
        document = otu_document(otus_with_children(OTU.objects.filter(id=otu.id)).get())
        assert file_form(document) == file_form(source)
        changes = list(Change.objects.filter(otu_id=otu.id))
        assert len(changes) == 1
        change = changes[0]
        assert change.id == f"{otu.id}.0"
        assert change.method_name == "import"
        label = f"{source['name']} ({source['abbreviation']})" if source["abbreviation"] else source["name"]
        assert change.description == f"Imported {label}"
        assert change.user == creator and change.index is None and change.reference_id == reference.id
        assert change.diff == document


def test_import_computes_verification(creator, tmp_path, django_capture_on_commit_callbacks):
    complete = file_otu("Complete virus", isolates=2, sequences=2)
    empty_isolate = file_otu("Empty isolate virus", isolates=2, sequences=1)
    empty_isolate["isolates"][1]["sequences"] = []
    no_isolates = file_otu("No isolate virus", isolates=0)
    reference = start_import(
        creator, reference_file(tmp_path / "r.json.gz", [complete, empty_isolate, no_isolates]),
        django_capture_on_commit_callbacks,
    )
    verified = dict(OTU.objects.filter(reference=reference).values_list("name", "verified"))
    assert verified == {"Complete virus": True, "Empty isolate virus": False, "No isolate virus": False}


def test_import_takes_data_type_and_organism_from_the_file(creator, tmp_path, django_capture_on_commit_callbacks):
    path = reference_file(tmp_path / "r.json.gz", [file_otu()], organism="plant virus", data_type="genome")
    reference = start_import(creator, path, django_capture_on_commit_callbacks, organism="")
    reference = Reference.objects.get(id=reference.id)
    assert (reference.organism, reference.data_type) == ("plant virus", "genome")


def test_import_keeps_real_file_quirks(creator, tmp_path, django_capture_on_commit_callbacks):
    """Null hosts, absent segments and taxids, odd source types (as in the real file)."""
    otu = file_otu(isolates=1, sequences=1)
    del otu["taxid"]
    otu["isolates"][0]["source_type"] = "islaote"
    sequence = otu["isolates"][0]["sequences"][0]
    sequence["host"] = None
    del sequence["segment"]
    reference = start_import(creator, reference_file(tmp_path / "r.json.gz", [otu]), django_capture_on_commit_callbacks)
    (document,) = documents_of(reference)
    assert document["taxid"] is None
    assert document["isolates"][0]["source_type"] == "islaote"
    assert document["isolates"][0]["sequences"][0]["host"] == ""
    assert document["isolates"][0]["sequences"][0]["segment"] is None


@pytest.mark.parametrize("portable", [False, True], ids=["copy", "bulk_create"])
def test_both_write_paths_give_the_same_documents_and_changes(
    creator, tmp_path, django_capture_on_commit_callbacks, monkeypatch, portable
):
    """COPY with SQL-built history (PostgreSQL) and bulk_create with change_build (SQLite)."""
    if portable:
        monkeypatch.setattr(bulk_copy, "copy_available", lambda: False)
    monkeypatch.setattr(BulkWriter, "BATCH_OTUS", 3)
    otus = [file_otu(isolates=i % 3, sequences=1 + i % 2) for i in range(8)]
    reference = start_import(creator, reference_file(tmp_path / "r.json.gz", otus), django_capture_on_commit_callbacks)
    documents = documents_of(reference)
    assert sorted(file_form(d)["name"] for d in documents) == sorted(o["name"] for o in otus)
    changes = {c.otu_id: c for c in Change.objects.filter(reference_id=reference.id)}
    assert len(changes) == 8
    for document in documents:
        assert changes[document["_id"]].diff == document
        assert changes[document["_id"]].otu_name == document["name"]


# Bad files: every problem reported, nothing written -------------------------------------------


def _dupe_names(tmp_path):
    otus = [file_otu("Alpha virus", "AV1"), file_otu("alpha virus", "AV2"), file_otu("Beta virus")]
    return reference_file(tmp_path / "r.json.gz", otus), "duplicate_names", ["Alpha virus"]


def _dupe_abbreviations(tmp_path):
    otus = [file_otu(abbreviation="XV"), file_otu(abbreviation="XV"), file_otu(abbreviation="")]
    return reference_file(tmp_path / "r.json.gz", otus), "duplicate_abbreviations", ["XV"]


def _dupe_ids(tmp_path):
    otus = [file_otu(otu_id="sameid01"), file_otu(otu_id="sameid01")]
    return reference_file(tmp_path / "r.json.gz", otus), "duplicate_ids", ["sameid01"]


def _dupe_isolate_ids(tmp_path):
    otu = file_otu("Gamma virus", isolates=3)
    otu["isolates"][2]["id"] = otu["isolates"][1]["id"]
    expected = [{"_id": otu["_id"], "name": "Gamma virus", "isolate_ids": [otu["isolates"][1]["id"]]}]
    return reference_file(tmp_path / "r.json.gz", [otu, file_otu()]), "duplicate_isolate_ids", expected


def _dupe_sequence_ids(tmp_path):
    first, second = file_otu(), file_otu()
    second["isolates"][0]["sequences"][0]["_id"] = first["isolates"][1]["sequences"][1]["_id"]
    expected = [first["isolates"][1]["sequences"][1]["_id"]]
    return reference_file(tmp_path / "r.json.gz", [first, second]), "duplicate_sequence_ids", expected


def _truncated_gzip(tmp_path):
    data = gzip.compress(json.dumps({"otus": [file_otu() for _ in range(20)]}).encode())
    path = tmp_path / "r.json.gz"
    path.write_bytes(data[: len(data) // 2])
    return path, "not_gzipped", None


def _json_error(tmp_path):
    text = json.dumps({"otus": [file_otu(), file_otu()]})
    return write_gz(tmp_path / "r.json.gz", text[:-40]), "json_error", None


def _not_json(tmp_path):
    return write_gz(tmp_path / "r.json.gz", "this is not JSON"), "json_error", None


def _no_otus(tmp_path):
    return write_gz(tmp_path / "r.json.gz", {"name": "x", "data_type": "genome"}), "invalid_file", None


def _otus_not_a_list(tmp_path):
    return write_gz(tmp_path / "r.json.gz", {"otus": {"a": 1}}), "invalid_file", None


def _root_not_an_object(tmp_path):
    return write_gz(tmp_path / "r.json.gz", [file_otu()]), "invalid_file", None


def _shadowing_key(tmp_path):
    return write_gz(tmp_path / "r.json.gz", {"otus": [], "otus.item": {"name": "x"}}), "invalid_file", None


CASES = {
    "duplicate_names": _dupe_names,
    "duplicate_abbreviations": _dupe_abbreviations,
    "duplicate_ids": _dupe_ids,
    "duplicate_isolate_ids": _dupe_isolate_ids,
    "duplicate_sequence_ids": _dupe_sequence_ids,
    "truncated_gzip": _truncated_gzip,
    "json_error": _json_error,
    "not_json": _not_json,
    "no_otus": _no_otus,
    "otus_not_a_list": _otus_not_a_list,
    "root_not_an_object": _root_not_an_object,
    "shadowing_key": _shadowing_key,
}


@pytest.mark.parametrize("case", CASES)
def test_a_bad_file_fails_the_process_with_its_problem_and_leaves_nothing_else(
    case, creator, tmp_path, django_capture_on_commit_callbacks
):
    path, problem_id, offending = CASES[case](tmp_path)
    reference = start_import(creator, path, django_capture_on_commit_callbacks)
    process = process_of(reference)
    assert process.complete and process.error is not None
    assert process.error["id"] == "invalid_reference_file"
    problems = {p["id"]: p for p in process.error["errors"]}
    assert problem_id in problems, process.error
    if offending is not None:
        key = "otus" if problem_id == "duplicate_isolate_ids" else "duplicates"
        assert problems[problem_id][key] == offending
        assert problems[problem_id]["count"] == len(offending)
    assert_gone(reference)
    assert Upload.objects.get(id=process.context["upload_id"]).reserved is False


def test_per_otu_field_errors_name_the_otu_and_the_fields(creator, tmp_path, django_capture_on_commit_callbacks):
    good = file_otu("Good virus")
    bad = file_otu("Bad virus", isolates=2, sequences=1)
    del bad["isolates"][0]["sequences"][0]["accession"]
    bad["isolates"][1]["default"] = "yes"
    bad["taxid"] = "12"
    nameless = file_otu()
    del nameless["name"]
    two_defaults = file_otu("Twin virus", isolates=2)
    two_defaults["isolates"][1]["default"] = True
    reference = start_import(
        creator, reference_file(tmp_path / "r.json.gz", [good, bad, nameless, two_defaults]),
        django_capture_on_commit_callbacks,
    )
    (problem,) = process_of(reference).error["errors"]
    assert problem["id"] == "invalid_otus" and problem["count"] == 3
    by_position = {item["position"]: item for item in problem["otus"]}
    assert set(by_position) == {1, 2, 3}
    assert by_position[1]["_id"] == bad["_id"] and by_position[1]["name"] == "Bad virus"
    assert by_position[1]["errors"] == {
        "taxid": ["Must be an integer or null."],
        "isolates[0].sequences[0].accession": ["This field is required."],
        "isolates[1].default": ["Must be a boolean."],
    }
    assert by_position[2]["errors"] == {"name": ["This field is required."]}
    assert by_position[3]["errors"] == {"isolates": ["Exactly one isolate must be the default (2 are)."]}
    assert_gone(reference)


def test_validation_reports_every_problem_at_once(tmp_path):
    otus = [file_otu("Same virus", "SV"), file_otu("Same virus", "SV"), file_otu(otu_id="x" * 70)]
    with pytest.raises(ReferenceFileInvalid) as raised:
        reference_file_validate(reference_file(tmp_path / "r.json.gz", otus))
    assert [p["id"] for p in raised.value.problems] == ["duplicate_names", "duplicate_abbreviations", "invalid_otus"]


def test_a_valid_file_is_summarised(tmp_path):
    summary = reference_file_validate(
        reference_file(tmp_path / "r.json.gz", [file_otu(isolates=2, sequences=3) for _ in range(4)], name="Mine")
    )
    assert (summary.otu_count, summary.isolate_count, summary.sequence_count) == (4, 8, 24)
    assert summary.header["name"] == "Mine"
    assert summary.decompressed_bytes > 0


def test_offending_items_are_capped_with_a_count(tmp_path):
    otus = [file_otu(abbreviation="", otu_id=f"id{n:06d}") for n in range(150)] * 2
    with pytest.raises(ReferenceFileInvalid) as raised:
        reference_file_validate(write_gz(tmp_path / "r.json.gz", {"otus": otus}))
    problem = next(p for p in raised.value.problems if p["id"] == "duplicate_ids")
    assert problem["count"] == 150 and len(problem["duplicates"]) == 100


# Gzip bombs ------------------------------------------------------------------------------------


def test_a_gzip_bomb_is_refused_with_a_clear_error_and_writes_nothing(
    creator, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.GZIP_MAX_DECOMPRESSED_BYTES = 4 * 1024 * 1024
    path = gzip_bomb(tmp_path / "bomb.json.gz", decompressed_bytes=40 * 1024 * 1024)
    assert path.stat().st_size < 100 * 1024
    reference = start_import(creator, path, django_capture_on_commit_callbacks)
    error = process_of(reference).error
    assert error["errors"] == [
        {"id": "file_too_large", "message": "Decompressed content exceeds the limit of 4194304 bytes"}
    ]
    assert_gone(reference)


def test_refusing_a_gzip_bomb_keeps_memory_flat(tmp_path, settings):
    """The bomb inflates to 8x the limit; it is refused having held ~1 MB at a time."""
    settings.GZIP_MAX_DECOMPRESSED_BYTES = 32 * 1024 * 1024
    path = gzip_bomb(tmp_path / "bomb.json.gz", decompressed_bytes=256 * 1024 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(ReferenceFileInvalid) as raised:
            reference_file_validate(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert raised.value.problems[0]["id"] == "file_too_large"
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1024**2:.1f} MB"


# Reliability ---------------------------------------------------------------------------------


def test_a_failure_while_writing_rolls_back_every_otu_and_records_the_error(
    creator, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(BulkWriter, "BATCH_OTUS", 2)
    flushes = []
    original = BulkWriter.flush

    def failing_flush(self):
        flushes.append(1)
        if len(flushes) == 3:
            raise RuntimeError("disk on fire")
        return original(self)

    monkeypatch.setattr(BulkWriter, "flush", failing_flush)
    path = reference_file(tmp_path / "r.json.gz", [file_otu() for _ in range(7)])
    reference = start_import(creator, path, django_capture_on_commit_callbacks)
    process = process_of(reference)
    assert process.complete
    assert process.error == {"id": "unexpected_error", "type": "RuntimeError", "message": "disk on fire"}
    assert len(flushes) == 3
    assert not Isolate.objects.filter(otu__reference_id=reference.id).exists()
    assert_gone(reference)

    # The failed task delivered again (its worker died before acknowledging it): the failure
    # stands, and nothing is written for the reference that is gone.
    monkeypatch.setattr(BulkWriter, "flush", original)
    tasks.import_reference(reference.id, process.id, process.context["upload_id"], creator.pk)
    assert Process.objects.get(id=process.id).error == process.error
    assert_gone(reference)


def test_a_redelivered_import_after_its_commit_writes_nothing_twice(
    creator, tmp_path, django_capture_on_commit_callbacks
):
    path = reference_file(tmp_path / "r.json.gz", [file_otu() for _ in range(3)])
    reference = start_import(creator, path, django_capture_on_commit_callbacks)
    process = process_of(reference)
    # The worker died after the commit but before marking the process complete.
    Process.objects.filter(id=process.id).update(complete=False, step="write_history", progress=0.9)
    tasks.import_reference(reference.id, process.id, process.context["upload_id"], creator.pk)
    process.refresh_from_db()
    assert process.complete and process.error is None
    assert OTU.objects.filter(reference=reference).count() == 3
    assert Change.objects.filter(reference_id=reference.id).count() == 3
    # And a completed process is left alone.
    tasks.import_reference(reference.id, process.id, process.context["upload_id"], creator.pk)
    assert OTU.objects.filter(reference=reference).count() == 3


def test_an_import_into_a_reference_deleted_meanwhile_writes_nothing(
    creator, tmp_path, django_capture_on_commit_callbacks
):
    upload = upload_from(reference_file(tmp_path / "r.json.gz"), user=creator)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        reference = services.reference_create_import(
            user=creator, upload_id=upload.id, name="Imported", description="", organism="", data_type="genome",
            public=False,
        )
    Reference.objects.filter(id=reference.id).update(deleted=True)
    for callback in callbacks:
        callback()
    assert not OTU.objects.filter(reference_id=reference.id).exists()


def test_an_upload_removed_before_the_task_runs_fails_the_process(
    creator, tmp_path, django_capture_on_commit_callbacks
):
    upload = upload_from(reference_file(tmp_path / "r.json.gz"), user=creator)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        reference = services.reference_create_import(
            user=creator, upload_id=upload.id, name="Imported", description="", organism="", data_type="genome",
            public=False,
        )
    Upload.objects.filter(id=upload.id).delete()
    for callback in callbacks:
        callback()
    assert process_of(reference).error == {"id": "transfer_error", "message": "File not found"}
    assert_gone(reference)
