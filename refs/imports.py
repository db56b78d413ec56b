"""Reading and validating Virtool reference files (`reference.json.gz`), streamed.

A file is read three times, each with flat memory: `reference_file_check` only inflates it
(refusing gzip bombs before any JSON is parsed), `reference_file_validate` parses it OTU by
OTU and collects every problem, and the writer (refs.processes) parses it once more to write.
Nothing is written unless validation found no problem at all.

Problems are reported as `{"id", "message", ...offending items}`:
`not_gzipped`, `file_too_large`, `json_error`, `invalid_file` (top-level fields),
`duplicate_ids`, `duplicate_names`, `duplicate_abbreviations`, `duplicate_isolate_ids`,
`duplicate_sequence_ids`, `conflicting_names`, `conflicting_abbreviations` (remote updates:
taken by local OTUs) and `invalid_otus` (per-OTU field errors, by position); and, refused as
soon as they are met, the bounds on the work one file can cause (refs.import_stream):
`field_too_long`, `too_many_otus`, `otu_too_large`, `too_many_sequences`, `too_deep`. Every
pass has a deadline: past it, ImportTimedOut (its process fails with `import_timed_out`).
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import ijson

from refs.import_stream import (
    HEADER_KEYS,
    Deadline,
    DeadlineReader,
    ImportBoundExceeded,
    ImportLimits,
    ImportTimedOut,
    import_time_limit,
    otus_stream,
    shown,
)
from virtool_site.files import BoundedGzipReader, GzipTooLarge, NotGzipped

__all__ = [
    "FileSummary",
    "ImportTimedOut",
    "ReferenceFileInvalid",
    "import_time_limit",
    "otu_file_errors",
    "otu_file_normalise",
    "reference_file_check",
    "reference_file_otus",
    "reference_file_validate",
]

#: Offending items listed per problem; the `count` beside them says how many there were.
MAX_REPORTED = 100
#: Field errors listed per invalid OTU; `error_count` beside them says how many there were.
MAX_ERRORS_PER_OTU = 50
READ_SIZE = 1024 * 1024
#: Chunks the write pass feeds the parser (a validated file: its strings are within bounds).
WRITE_READ_SIZE = 256 * 1024

# Column widths of the rows the file becomes (refs.models).
MAX_NAME = 255
MAX_SOURCE_TYPE = 64
MAX_ISOLATE_ID = 8
MAX_REMOTE_ID = 64


class ReferenceFileInvalid(Exception):
    """The file cannot be imported; `report` is the process error, `problems` its items."""

    def __init__(self, problems: list[dict]):
        self.problems = problems
        self.report = {
            "id": "invalid_reference_file",
            "message": "The reference file is invalid: " + "; ".join(p["message"] for p in problems),
            "errors": problems,
        }
        super().__init__(self.report["message"])


@dataclass
class FileSummary:
    header: dict = field(default_factory=dict)
    otu_count: int = 0
    isolate_count: int = 0
    sequence_count: int = 0
    decompressed_bytes: int = 0
    #: The file's OTU ids (remote updates tell removed OTUs by them before writing).
    otu_ids: set[str] = field(default_factory=set)


# Reading -----------------------------------------------------------------------------------


def _fatal(problem_id: str, message: str) -> ReferenceFileInvalid:
    return ReferenceFileInvalid([{"id": problem_id, "message": message}])


def _open(path) -> BoundedGzipReader:
    try:
        return BoundedGzipReader(path)
    except NotGzipped as error:
        raise _fatal("not_gzipped", str(error)) from error
    except FileNotFoundError as error:
        raise _fatal("file_not_found", "File not found") from error


@contextmanager
def _read_errors_translated():
    """Turn gzip and JSON failures, and bounds passed, into problem reports."""
    try:
        yield
    except ImportBoundExceeded as error:
        raise ReferenceFileInvalid([error.problem]) from error
    except GzipTooLarge as error:
        raise _fatal("file_too_large", str(error)) from error
    except NotGzipped as error:
        raise _fatal("not_gzipped", str(error)) from error
    except (ijson.JSONError, UnicodeDecodeError, ValueError) as error:
        detail = " ".join(str(error).split())[:300]
        raise _fatal("json_error", f"File is not valid JSON: {detail}") from error


class _Position:
    """How far through the compressed file a reader is, for progress."""

    def __init__(self, reader: BoundedGzipReader, path):
        self.reader = reader
        self.size = max(Path(path).stat().st_size, 1)

    def fraction(self) -> float:
        raw = getattr(self.reader, "_raw", None)
        try:
            return min(raw.tell() / self.size, 1.0) if raw else 0.0
        except (OSError, ValueError):
            return 0.0


def reference_file_check(path, *, progress: Callable[[float], None] | None = None) -> int:
    """Inflate the whole file without parsing it; its decompressed size.

    A gzip bomb is refused here, after reading at most the limit, in small pieces.
    """
    deadline = Deadline()
    with _read_errors_translated(), _open(path) as reader:
        position = _Position(reader, path)
        while True:
            deadline.check()
            data = reader.read(READ_SIZE)
            if not data:
                break
            if progress:
                progress(position.fraction())
        return reader.decompressed


def _otus_structured(
    path, *, header: dict, limits: ImportLimits, on_otu: Callable[[object], None], progress=None
) -> None:
    """Hand every OTU of any file to `on_otu` as soon as it is read, checking the file's
    structure and bounds on the way (validation pass); `progress` gets the fraction read."""
    with _read_errors_translated(), _open(path) as reader:
        position = _Position(reader, path)
        otus_stream(
            reader, header=header, limits=limits, on_otu=on_otu,
            on_chunk=(lambda: progress(position.fraction())) if progress else None,
        )


def reference_file_otus(path, *, position: list | None = None) -> Iterator[object]:
    """The OTUs of a VALIDATED file, one at a time, built by ijson's C parser (write pass).

    Validation refused top-level keys that could shadow the `otus.item` prefix.
    """
    with _read_errors_translated(), _open(path) as reader:
        if position is not None:
            position.append(_Position(reader, path))
        yield from ijson.items(
            DeadlineReader(reader, Deadline()), "otus.item", use_float=True, buf_size=WRITE_READ_SIZE
        )


# Validation --------------------------------------------------------------------------------


def _string(value, *, required: bool = True, max_length: int | None = None, nullable: bool = False) -> str | None:
    """An error message for a string field, or None when it is fine."""
    if value is None:
        return "This field may not be null." if not nullable else None
    if not isinstance(value, str):
        return "Must be a string."
    if required and not value.strip():
        return "This field may not be blank."
    if max_length is not None and len(value) > max_length:
        return f"Ensure this field has no more than {max_length} characters."
    if "\x00" in value:
        return "Null characters are not allowed."
    return None


def _kept(value, max_length: int):
    """A string value short enough to be remembered for the duplicate checks, else None."""
    return value if isinstance(value, str) and len(value) <= max_length else None


def _check(errors: dict, path: str, message: str | None):
    if message:
        errors.setdefault(path, []).append(message)


def _field(errors: dict, document: dict, key: str, path: str, *, optional: bool = False, **rules):
    """Check `document[key]` as a string field; a missing required key is reported as such."""
    if key not in document:
        if not optional:
            _check(errors, f"{path}{key}", "This field is required.")
        return
    _check(errors, f"{path}{key}", _string(document[key], **rules))


def otu_file_errors(otu) -> dict[str, list[str]]:
    """Field errors of one OTU of a reference file, keyed by path (`isolates[0].id`)."""
    errors: dict[str, list[str]] = {}
    if not isinstance(otu, dict):
        return {"": ["Must be an object."]}
    _field(errors, otu, "_id", "", max_length=MAX_REMOTE_ID)
    _field(errors, otu, "name", "", max_length=MAX_NAME)
    _field(errors, otu, "abbreviation", "", optional=True, required=False, max_length=MAX_NAME, nullable=True)
    taxid = otu.get("taxid")
    if taxid is not None and (isinstance(taxid, bool) or not isinstance(taxid, int) or not -(2**31) <= taxid < 2**31):
        _check(errors, "taxid", "Must be an integer or null.")
    schema = otu.get("schema")
    if schema is not None:
        if not isinstance(schema, list):
            _check(errors, "schema", "Must be a list.")
        else:
            for index, item in enumerate(schema):
                path = f"schema[{index}]"
                if not isinstance(item, dict):
                    _check(errors, path, "Must be an object.")
                    continue
                _field(errors, item, "name", f"{path}.", max_length=MAX_NAME)
                _field(errors, item, "molecule", f"{path}.", optional=True, required=False, max_length=MAX_NAME, nullable=True)
                if not isinstance(item.get("required", False), bool):
                    _check(errors, f"{path}.required", "Must be a boolean.")
    if "isolates" not in otu:
        _check(errors, "isolates", "This field is required.")
        return errors
    isolates = otu["isolates"]
    if not isinstance(isolates, list):
        _check(errors, "isolates", "Must be a list.")
        return errors
    defaults = 0
    for index, isolate in enumerate(isolates):
        path = f"isolates[{index}]"
        if not isinstance(isolate, dict):
            _check(errors, path, "Must be an object.")
            continue
        _field(errors, isolate, "id", f"{path}.", max_length=MAX_ISOLATE_ID)
        _field(errors, isolate, "source_type", f"{path}.", optional=True, required=False, max_length=MAX_SOURCE_TYPE, nullable=True)
        _field(errors, isolate, "source_name", f"{path}.", optional=True, required=False, max_length=MAX_NAME, nullable=True)
        default = isolate.get("default")
        if not isinstance(default, bool):
            _check(errors, f"{path}.default", "Must be a boolean.")
        elif default:
            defaults += 1
        sequences = isolate.get("sequences")
        if not isinstance(sequences, list):
            _check(errors, f"{path}.sequences", "Must be a list.")
            continue
        for position, sequence in enumerate(sequences):
            spath = f"{path}.sequences[{position}]"
            if not isinstance(sequence, dict):
                _check(errors, spath, "Must be an object.")
                continue
            _field(errors, sequence, "_id", f"{spath}.", max_length=MAX_REMOTE_ID)
            _field(errors, sequence, "accession", f"{spath}.", max_length=MAX_NAME)
            _field(errors, sequence, "definition", f"{spath}.", optional=True, required=False, nullable=True)
            _field(errors, sequence, "host", f"{spath}.", optional=True, required=False, max_length=MAX_NAME, nullable=True)
            _field(errors, sequence, "segment", f"{spath}.", optional=True, required=False, max_length=MAX_NAME, nullable=True)
            _field(errors, sequence, "sequence", f"{spath}.", required=False)
    if isolates and defaults != 1:
        _check(errors, "isolates", f"Exactly one isolate must be the default ({defaults} are).")
    return errors


class _Listing:
    """Offending items of one problem, the first MAX_REPORTED kept."""

    def __init__(self):
        self.items: list = []
        self.count = 0

    def add(self, item):
        self.count += 1
        if len(self.items) < MAX_REPORTED:
            self.items.append(item)

    def problem(self, problem_id: str, message: str, key: str = "duplicates") -> dict | None:
        if not self.count:
            return None
        return {"id": problem_id, "message": message, key: self.items, "count": self.count}


class _FileChecks:
    """The checks of a whole file, fed one OTU at a time: what must be unique, what the
    remote update's target reference already uses, and each OTU's own fields."""

    def __init__(self, summary: FileSummary, limits: ImportLimits, taken_names, taken_abbreviations):
        self.summary = summary
        self.limits = limits
        self.taken_names = taken_names
        self.taken_abbreviations = taken_abbreviations
        # Values too long for their column are invalid and not remembered: what is kept for
        # the duplicate checks stays small whatever the file holds.
        self.ids: set[str] = set()
        self.names: dict[str, str] = {}
        self.abbreviations: set[str] = set()
        self.sequence_ids: set[str] = set()
        self.reported = {"names": set(), "abbreviations": set(), "ids": set(), "sequence_ids": set()}
        self.duplicate_ids, self.duplicate_names, self.duplicate_abbreviations = _Listing(), _Listing(), _Listing()
        self.duplicate_isolate_ids, self.duplicate_sequence_ids = _Listing(), _Listing()
        self.conflicting_names, self.conflicting_abbreviations = _Listing(), _Listing()
        self.invalid_otus = _Listing()

    def otu(self, otu) -> None:
        position = self.summary.otu_count
        self.summary.otu_count += 1
        errors = otu_file_errors(otu)
        if errors:
            item = {"position": position, "errors": dict(list(errors.items())[:MAX_ERRORS_PER_OTU])}
            if len(errors) > MAX_ERRORS_PER_OTU:
                item["error_count"] = len(errors)
            if isinstance(otu, dict):
                item.update({"_id": shown(otu.get("_id")), "name": shown(otu.get("name"))})
            self.invalid_otus.add(item)
        if not isinstance(otu, dict):
            return
        otu_id = _kept(otu.get("_id"), MAX_REMOTE_ID)
        name = _kept(otu.get("name"), MAX_NAME)
        abbreviation = _kept(otu.get("abbreviation"), MAX_NAME)
        if otu_id is not None:
            if otu_id in self.ids and otu_id not in self.reported["ids"]:
                self.reported["ids"].add(otu_id)
                self.duplicate_ids.add(otu_id)
            self.ids.add(otu_id)
        if name:
            lowered = name.lower()
            if lowered in self.names and lowered not in self.reported["names"]:
                self.reported["names"].add(lowered)
                self.duplicate_names.add(self.names[lowered])
            self.names.setdefault(lowered, name)
            if self.taken_names and lowered in self.taken_names:
                self.conflicting_names.add(name)
        if abbreviation:
            if abbreviation in self.abbreviations and abbreviation not in self.reported["abbreviations"]:
                self.reported["abbreviations"].add(abbreviation)
                self.duplicate_abbreviations.add(abbreviation)
            self.abbreviations.add(abbreviation)
            if self.taken_abbreviations and abbreviation in self.taken_abbreviations:
                self.conflicting_abbreviations.add(abbreviation)
        isolates = otu.get("isolates") if isinstance(otu.get("isolates"), list) else []
        isolate_ids: set[str] = set()
        repeated: list[str] = []
        for isolate in isolates:
            if not isinstance(isolate, dict):
                continue
            self.summary.isolate_count += 1
            isolate_id = _kept(isolate.get("id"), MAX_ISOLATE_ID)
            if isolate_id is not None:
                if isolate_id in isolate_ids and isolate_id not in repeated and len(repeated) < MAX_REPORTED:
                    repeated.append(isolate_id)
                isolate_ids.add(isolate_id)
            sequences = isolate.get("sequences")
            for sequence in sequences if isinstance(sequences, list) else []:
                if isinstance(sequence, dict):
                    self._sequence(sequence)
        if repeated:
            self.duplicate_isolate_ids.add({"_id": otu_id, "name": name, "isolate_ids": repeated})

    def _sequence(self, sequence: dict) -> None:
        self.summary.sequence_count += 1
        if self.summary.sequence_count > self.limits.sequences:
            raise ImportBoundExceeded(
                {
                    "id": "too_many_sequences",
                    "message": f"The file has more than the limit of {self.limits.sequences} sequences",
                }
            )
        sequence_id = _kept(sequence.get("_id"), MAX_REMOTE_ID)
        if sequence_id is not None:
            if sequence_id in self.sequence_ids and sequence_id not in self.reported["sequence_ids"]:
                self.reported["sequence_ids"].add(sequence_id)
                self.duplicate_sequence_ids.add(sequence_id)
            self.sequence_ids.add(sequence_id)

    def problems(self) -> list[dict]:
        problems = [
            self.duplicate_ids.problem("duplicate_ids", "Duplicate OTU ids found"),
            self.duplicate_names.problem("duplicate_names", "Duplicate OTU names found"),
            self.duplicate_abbreviations.problem("duplicate_abbreviations", "Duplicate OTU abbreviations found"),
            self.duplicate_isolate_ids.problem(
                "duplicate_isolate_ids", "Duplicate isolate ids found in some OTUs", "otus"
            ),
            self.duplicate_sequence_ids.problem("duplicate_sequence_ids", "Duplicate sequence ids found"),
            self.conflicting_names.problem(
                "conflicting_names", "OTU names already used by other OTUs of the reference"
            ),
            self.conflicting_abbreviations.problem(
                "conflicting_abbreviations", "OTU abbreviations already used by other OTUs of the reference"
            ),
            self.invalid_otus.problem("invalid_otus", "Some OTUs are invalid", "otus"),
        ]
        header = self.summary.header
        # What the reference takes from the header must be storable: a NUL character would
        # fail the write after every OTU was written, as an unexpected error.
        header_errors = {
            key: ["Must be a string or null."] if not isinstance(header[key], str) else ["Null characters are not allowed."]
            for key in HEADER_KEYS
            if header.get(key) is not None and (not isinstance(header[key], str) or "\x00" in header[key])
        }
        if header_errors:
            problems.insert(0, {"id": "invalid_file", "message": "Invalid top-level fields", "errors": header_errors})
        return [p for p in problems if p]


def reference_file_validate(
    path,
    *,
    progress: Callable[[float], None] | None = None,
    taken_names: set[str] | None = None,
    taken_abbreviations: set[str] | None = None,
    checked: bool = False,
) -> FileSummary:
    """Find every problem of a file before anything is written; raise ReferenceFileInvalid.

    `taken_names` (lower-cased) and `taken_abbreviations` are those of OTUs that will stay
    in the target reference (remote updates), which the file may not reuse. `checked`: the
    caller ran `reference_file_check` already. A bound passed (refs.import_stream) is
    reported at once, alone: the rest of the file is not read.
    """
    summary = FileSummary()
    if not checked:
        summary.decompressed_bytes = reference_file_check(path)
    checks = _FileChecks(summary, ImportLimits.from_settings(), taken_names, taken_abbreviations)
    _otus_structured(path, header=summary.header, limits=checks.limits, on_otu=checks.otu, progress=progress)
    if progress:
        progress(1.0)
    problems = checks.problems()
    if problems:
        raise ReferenceFileInvalid(problems)
    summary.otu_ids = checks.ids
    return summary


# Normalised content ------------------------------------------------------------------------


def otu_file_normalise(otu: dict) -> dict:
    """A validated file OTU with its optional fields filled in, ready to become rows."""
    return {
        "_id": otu["_id"],
        "name": otu["name"],
        "abbreviation": otu.get("abbreviation") or "",
        "schema": [
            {"name": item["name"], "molecule": item.get("molecule"), "required": bool(item.get("required", False))}
            for item in otu.get("schema") or []
        ],
        "taxid": otu.get("taxid"),
        "isolates": [
            {
                "id": isolate["id"],
                "source_type": "unknown" if isolate.get("source_type") is None else isolate["source_type"],
                "source_name": isolate.get("source_name") or "",
                "default": isolate["default"],
                "sequences": [
                    {
                        "_id": sequence["_id"],
                        "accession": sequence["accession"],
                        "definition": sequence.get("definition") or "",
                        "host": sequence.get("host") or "",
                        "segment": sequence.get("segment"),
                        "sequence": sequence.get("sequence") or "",
                    }
                    for sequence in isolate["sequences"]
                ],
            }
            for isolate in otu["isolates"]
        ],
    }
