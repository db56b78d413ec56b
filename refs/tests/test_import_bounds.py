"""Bounds on the work one reference file can make an import do (issue 17): strings refused
while they are still being read, OTU counts and sizes, nesting, sequences, and a time limit;
each through validation, through the import service, and through the API with a real worker.
"""

import gzip
import json
import time
import tracemalloc
from pathlib import Path

import pytest

from history.models import Change
from refs import services
from refs.import_stream import Deadline, import_time_limit
from refs.imports import ImportTimedOut, ReferenceFileInvalid, reference_file_otus, reference_file_validate
from refs.models import OTU, Isolate, Reference, Sequence
from refs.tests.pathological import deep_file, huge_name_file, long_sequence_file, tiny_otus_file
from refs.tests.transfer_factories import file_otu, reference_file, upload_from, write_gz
from virtool_site.models import Process
from virtool_site.testing import wait_for

pytestmark = pytest.mark.django_db


def problems_of(path) -> list[dict]:
    with pytest.raises(ReferenceFileInvalid) as raised:
        reference_file_validate(path)
    return raised.value.problems


def validated_with_peak(path) -> tuple[list[dict], int]:
    """(problems, peak bytes allocated) of validating `path`.

    The peak is what shows a value refused while it is read: far below the value's size. Times
    are not asserted here; bench/pathological_import.py prints them."""
    tracemalloc.start()
    try:
        problems = problems_of(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return problems, peak


# Strings -----------------------------------------------------------------------------------


def test_a_huge_name_is_refused_while_it_is_read_with_the_otu_and_field(tmp_path):
    """64 MiB of name: refused after reading about the bound, not the whole string."""
    path = huge_name_file(tmp_path / "huge.json.gz", chars=64 * 1024 * 1024, level=9)
    assert path.stat().st_size < 200 * 1024
    (problem,), peak = validated_with_peak(path)
    assert problem == {
        "id": "field_too_long",
        "message": "A field is longer than the limit of 65536 characters: otus[0].name",
        "otus": [
            {
                "position": 0,
                "_id": "hugename",
                "name": None,
                "errors": {"name": ["Ensure this field has no more than 65536 characters."]},
            }
        ],
        "count": 1,
    }
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1024**2:.1f} MB"


@pytest.mark.parametrize(
    "field, where",
    [
        ("definition", "isolates[0].sequences[0].definition"),
        ("host", "isolates[0].sequences[0].host"),
        ("accession", "isolates[0].sequences[0].accession"),
    ],
)
def test_every_field_has_the_field_bound_and_the_report_names_its_path(tmp_path, settings, field, where):
    settings.REFERENCE_IMPORT_MAX_FIELD_CHARS = 100
    otu = file_otu("Long field virus", isolates=1, sequences=1)
    otu["isolates"][0]["sequences"][0][field] = "x" * 101
    (problem,) = problems_of(reference_file(tmp_path / "r.json.gz", [file_otu(), otu]))
    assert problem["id"] == "field_too_long"
    assert problem["message"] == f"A field is longer than the limit of 100 characters: otus[1].{where}"
    (item,) = problem["otus"]
    assert (item["position"], item["_id"], item["name"]) == (1, otu["_id"], "Long field virus")
    assert item["errors"] == {where: ["Ensure this field has no more than 100 characters."]}


def test_a_value_at_the_bound_passes_and_one_character_more_is_refused(tmp_path, settings):
    settings.REFERENCE_IMPORT_MAX_FIELD_CHARS = 300
    settings.REFERENCE_IMPORT_MAX_SEQUENCE_CHARS = 1000
    otu = file_otu(isolates=1, sequences=1, length=1000)
    otu["isolates"][0]["sequences"][0]["definition"] = "é" * 300  # 2 bytes each in UTF-8
    reference_file_validate(reference_file(tmp_path / "ok.json.gz", [otu]))

    otu["isolates"][0]["sequences"][0]["sequence"] += "A"
    (problem,) = problems_of(reference_file(tmp_path / "long.json.gz", [otu]))
    assert problem["id"] == "field_too_long"
    assert problem["message"].endswith("1000 characters: otus[0].isolates[0].sequences[0].sequence")


def test_escaped_characters_are_counted_as_characters_not_bytes(tmp_path, settings):
    """`\\u00e9` is 6 bytes of the file and one character: a long escaped value within the
    bound is not refused while it is read, one past it is."""
    settings.REFERENCE_IMPORT_MAX_FIELD_CHARS = 200_000
    otu = file_otu(isolates=1, sequences=1)
    otu["isolates"][0]["sequences"][0]["definition"] = "é\U0001f600" * 100_000  # a surrogate pair each
    path = write_gz(tmp_path / "ok.json.gz", json.dumps({"otus": [otu]}, ensure_ascii=True))
    assert reference_file_validate(path).otu_count == 1
    otu["isolates"][0]["sequences"][0]["definition"] += "é"
    path = write_gz(tmp_path / "long.json.gz", json.dumps({"otus": [otu]}, ensure_ascii=True))
    (problem,) = problems_of(path)
    assert problem["id"] == "field_too_long"


def test_a_long_sequence_has_its_own_larger_bound(tmp_path, settings):
    settings.REFERENCE_IMPORT_MAX_FIELD_CHARS = 1000
    settings.REFERENCE_IMPORT_MAX_SEQUENCE_CHARS = 5000
    assert reference_file_validate(long_sequence_file(tmp_path / "ok.json.gz", chars=5000)).sequence_count == 1
    (problem,), peak = validated_with_peak(long_sequence_file(tmp_path / "long.json.gz", chars=64 * 1024**2))
    assert problem["id"] == "field_too_long"
    assert problem["otus"][0]["errors"] == {
        "isolates[0].sequences[0].sequence": ["Ensure this field has no more than 5000 characters."]
    }
    assert peak < 16 * 1024 * 1024, peak


def test_a_long_top_level_field_and_a_long_key_are_refused(tmp_path, settings):
    settings.REFERENCE_IMPORT_MAX_FIELD_CHARS = 50
    (problem,) = problems_of(write_gz(tmp_path / "h.json.gz", {"name": "n" * 51, "otus": []}))
    assert problem == {
        "id": "field_too_long",
        "message": "A field is longer than the limit of 50 characters: name",
        "errors": {"name": ["Ensure this field has no more than 50 characters."]},
    }
    otu = file_otu()
    otu["k" * 51] = 1
    (problem,) = problems_of(reference_file(tmp_path / "k.json.gz", [otu]))
    assert problem["otus"][0]["errors"] == {"(a key)": ["Ensure this field has no more than 50 characters."]}


def test_a_huge_number_is_refused_as_a_long_field(tmp_path):
    with gzip.open(tmp_path / "n.json.gz", "wb") as handle:
        handle.write(b'{"otus": [{"_id": "a", "taxid": ')
        handle.write(b"1" * (8 * 1024 * 1024))
        handle.write(b"}]}")
    (problem,) = problems_of(tmp_path / "n.json.gz")
    assert problem["id"] == "field_too_long" and problem["message"].endswith("otus[0].taxid")


# Counts, sizes, nesting --------------------------------------------------------------------


def test_too_many_otus_are_refused_at_the_bound(tmp_path, settings):
    settings.REFERENCE_IMPORT_MAX_OTUS = 1000
    (problem,), peak = validated_with_peak(tiny_otus_file(tmp_path / "t.json.gz", count=200_000))
    assert problem == {"id": "too_many_otus", "message": "The file has more than the limit of 1000 OTUs"}
    assert peak < 16 * 1024 * 1024, peak


def test_an_otu_with_too_many_items_or_characters_is_refused_with_the_otu(tmp_path, settings):
    settings.REFERENCE_IMPORT_MAX_OTU_ITEMS = 500
    big = file_otu("Big virus", isolates=30, sequences=2)
    (problem,) = problems_of(reference_file(tmp_path / "items.json.gz", [file_otu(), big]))
    assert problem["id"] == "otu_too_large"
    assert problem["message"] == "An OTU is too large: otus[1] has more than the limit of 500 keys and values"
    assert problem["otus"] == [{"position": 1, "_id": big["_id"], "name": "Big virus"}]

    settings.REFERENCE_IMPORT_MAX_OTU_ITEMS = 100_000
    settings.REFERENCE_IMPORT_MAX_OTU_CHARS = 10_000
    big = file_otu(isolates=2, sequences=2, length=3000)
    (problem,) = problems_of(reference_file(tmp_path / "chars.json.gz", [big]))
    assert problem["id"] == "otu_too_large" and problem["message"].endswith("more than the limit of 10000 characters")


def test_deep_nesting_is_refused(tmp_path):
    (problem,), peak = validated_with_peak(deep_file(tmp_path / "d.json.gz", depth=10_000_000))
    assert problem["id"] == "too_deep"
    assert problem["message"] == "The file nests values deeper than the limit of 32 levels"
    assert problem["otus"] == [{"position": 0, "_id": "deep0001", "name": "Deep virus"}]
    assert peak < 16 * 1024 * 1024, peak


def test_too_many_sequences_are_refused(tmp_path, settings):
    settings.REFERENCE_IMPORT_MAX_SEQUENCES = 10
    otus = [file_otu(isolates=2, sequences=2) for _ in range(3)]
    (problem,) = problems_of(reference_file(tmp_path / "s.json.gz", otus))
    assert problem == {"id": "too_many_sequences", "message": "The file has more than the limit of 10 sequences"}


def test_a_huge_ignored_top_level_field_is_refused(tmp_path, settings):
    settings.REFERENCE_IMPORT_MAX_OTU_ITEMS = 1000
    (problem,) = problems_of(write_gz(tmp_path / "x.json.gz", {"extra": list(range(5000)), "otus": []}))
    assert problem == {
        "id": "invalid_file",
        "message": "Top-level field 'extra' has more than the limit of 1000 items",
    }


def test_invalid_otus_list_at_most_fifty_errors_each(tmp_path):
    otu = file_otu()
    otu["isolates"] = [1] * 200
    (problem,) = problems_of(reference_file(tmp_path / "e.json.gz", [otu]))
    (item,) = problem["otus"]
    assert len(item["errors"]) == 50 and item["error_count"] == 201  # and "Exactly one isolate must be the default"


def test_the_real_reference_is_within_every_default_bound(real_reference_path):
    summary = reference_file_validate(real_reference_path)
    assert (summary.otu_count, summary.isolate_count, summary.sequence_count) == (2084, 3648, 4783)


# Time --------------------------------------------------------------------------------------


class SlowReader:
    """A reader that takes `delay` seconds per read of a file's bytes."""

    def __init__(self, data: bytes, delay: float):
        self.data, self.delay, self.offset = data, delay, 0

    def read(self, size=-1):
        time.sleep(self.delay)
        piece = self.data[self.offset : self.offset + 4096]
        self.offset += len(piece)
        return piece


def test_the_passes_of_an_import_share_one_deadline():
    from refs.import_stream import otus_stream

    data = json.dumps({"otus": [file_otu() for _ in range(20)]}).encode()
    with import_time_limit(0.3):
        otus_stream(SlowReader(data, 0.02), header={}, on_otu=lambda otu: None)  # about 0.1 s
        with pytest.raises(ImportTimedOut) as raised:
            otus_stream(SlowReader(data, 0.1), header={}, on_otu=lambda otu: None)  # about 0.5 s
    assert raised.value.report == {
        "id": "import_timed_out",
        "message": "The import took longer than the limit of 0.3 seconds",
    }
    # Outside a limit, each pass has the setting's whole time.
    assert Deadline().seconds == 1800


def test_the_write_pass_checks_the_deadline(tmp_path, settings):
    settings.REFERENCE_IMPORT_TIME_LIMIT = 0
    path = reference_file(tmp_path / "r.json.gz", [file_otu() for _ in range(3)])
    with pytest.raises(ImportTimedOut):
        list(reference_file_otus(path))


# Through the import service ----------------------------------------------------------------


@pytest.fixture
def creator(user_factory):
    return user_factory(username="curator", create_ref=True, upload_file=True)


def import_through_service(user, path, django_capture_on_commit_callbacks) -> Reference:
    upload = upload_from(path, user=user)
    with django_capture_on_commit_callbacks(execute=True):
        return services.reference_create_import(
            user=user, upload_id=upload.id, name="Pathological", description="", organism="", data_type="genome",
            public=False,
        )


def nothing_written(reference_id: str) -> bool:
    return not (
        OTU.objects.filter(reference_id=reference_id).exists()
        or Isolate.objects.filter(otu__reference_id=reference_id).exists()
        or Sequence.objects.filter(otu__reference_id=reference_id).exists()
        or Change.objects.filter(reference_id=reference_id).exists()
    )


def test_the_import_service_fails_a_huge_name_fast_and_writes_nothing(
    creator, tmp_path, django_capture_on_commit_callbacks
):
    path = huge_name_file(tmp_path / "huge.json.gz", chars=256 * 1024 * 1024, level=9)
    started = time.monotonic()
    reference = import_through_service(creator, path, django_capture_on_commit_callbacks)
    elapsed = time.monotonic() - started
    process = Process.objects.get(id=reference.process_id)
    assert process.complete
    assert process.error["id"] == "invalid_reference_file"
    assert process.error["message"] == (
        "The reference file is invalid: A field is longer than the limit of 65536 characters: otus[0].name"
    )
    assert [p["id"] for p in process.error["errors"]] == ["field_too_long"]
    assert nothing_written(reference.id)
    # The whole file is inflated once (gzip bombs are refused before parsing), then refused
    # within its first MB of parsing.
    print(f"import service: refused 256 MiB of name in {elapsed:.1f} s")


def test_the_import_service_fails_past_its_time_limit_with_a_clear_process_error(
    creator, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.REFERENCE_IMPORT_TIME_LIMIT = 0
    reference = import_through_service(
        creator, reference_file(tmp_path / "r.json.gz", [file_otu() for _ in range(5)]),
        django_capture_on_commit_callbacks,
    )
    process = Process.objects.get(id=reference.process_id)
    assert process.complete
    assert process.error == {"id": "import_timed_out", "message": "The import took longer than the limit of 0 seconds"}
    assert nothing_written(reference.id)


# Through the API, with a real worker -------------------------------------------------------


@pytest.mark.slow
@pytest.mark.worker
def test_through_the_api_a_real_worker_refuses_a_huge_name_fast_with_bounded_memory(
    celery_worker_factory, client_for, creator, tmp_path
):
    worker = celery_worker_factory()
    path = huge_name_file(tmp_path / "huge.json.gz", chars=256 * 1024 * 1024, level=9)
    client = client_for(creator)
    with open(path, "rb") as handle:
        response = client.post("/api/uploads?name=huge.json.gz&type=reference", {"file": handle}, format="multipart")
    assert response.status_code == 201, response.content
    started = time.monotonic()
    response = client.post(
        "/api/refs", {"name": "Huge", "data_type": "genome", "import_from": response.json()["id"]}, format="json"
    )
    assert response.status_code == 201, response.content
    reference_id, process_id = response.json()["id"], response.json()["process"]["id"]

    process = wait_for(
        lambda: (p := Process.objects.get(id=process_id)).complete and p,
        timeout=120, interval=0.1, message="the import to fail", log=worker.log,
    )
    elapsed = time.monotonic() - started
    assert process.error["id"] == "invalid_reference_file"
    (problem,) = process.error["errors"]
    assert problem["id"] == "field_too_long"
    assert problem["otus"][0]["errors"] == {"name": ["Ensure this field has no more than 65536 characters."]}
    assert nothing_written(reference_id)
    assert client.get(f"/api/processes/{process_id}").json()["error"]["errors"][0]["id"] == "field_too_long"
    status = Path(f"/proc/{worker.process.pid}/status").read_text()
    peak_kb = int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1])
    print(f"worker: refused 256 MiB of name in {elapsed:.1f} s, peak RSS {peak_kb / 1024:.0f} MB")
    assert peak_kb < 300 * 1024, f"worker peak RSS {peak_kb / 1024:.0f} MB"
