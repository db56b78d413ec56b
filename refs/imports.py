"""Reading and validating Virtool reference files (`reference.json.gz`), streamed.

A file is read three times, each with flat memory: `reference_file_check` only inflates it
(refusing gzip bombs before any JSON is parsed), `reference_file_validate` parses it OTU by
OTU and collects every problem, and the writer (refs.transfer) parses it once more to write.
Nothing is written unless validation found no problem at all.

Problems are reported as `{"id", "message", ...offending items}`:
`not_gzipped`, `file_too_large`, `json_error`, `invalid_file` (top-level fields),
`duplicate_ids`, `duplicate_names`, `duplicate_abbreviations`, `duplicate_isolate_ids`,
`duplicate_sequence_ids`, `conflicting_names`, `conflicting_abbreviations` (remote updates:
taken by local OTUs) and `invalid_otus` (per-OTU field errors, by position).
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import ijson
from ijson.common import ObjectBuilder

from virtool_site.files import BoundedGzipReader, GzipTooLarge, NotGzipped

#: Offending items listed per problem; the `count` beside them says how many there were.
MAX_REPORTED = 100
READ_SIZE = 1024 * 1024
HEADER_KEYS = ("data_type", "organism", "name", "created_at")

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


def _read_errors_translated(read: Callable[[], Iterator]):
    """Run a reading generator, turning gzip and JSON failures into problem reports."""
    try:
        yield from read()
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

    def read():
        with _open(path) as reader:
            position = _Position(reader, path)
            while True:
                data = reader.read(READ_SIZE)
                if not data:
                    break
                if progress:
                    progress(position.fraction())
            yield reader.decompressed

    return next(_read_errors_translated(read))


def _otus_parse(reader, header: dict) -> Iterator[object]:
    """The items of the top-level `otus` list, one at a time; top-level scalars go in `header`.

    Works on raw parser events with an explicit depth so a key spelled like a path can't fool
    it; a missing or non-list `otus` is reported as `invalid_file`.
    """
    depth = 0  # 0: outside the root, 1: in the root object, 2: in the otus list
    key = None
    builder = None
    nesting = 0
    skipping = 0
    otus_seen = False
    root_seen = False
    for event, value in ijson.basic_parse(reader, use_float=True):
        if builder is not None:
            builder.event(event, value)
            if event in ("start_map", "start_array"):
                nesting += 1
            elif event in ("end_map", "end_array"):
                nesting -= 1
                if nesting == 0:
                    yield builder.value
                    builder = None
            continue
        if skipping:
            if event in ("start_map", "start_array"):
                skipping += 1
            elif event in ("end_map", "end_array"):
                skipping -= 1
            continue
        if depth == 0:
            if event != "start_map" or root_seen:
                raise _fatal("invalid_file", "The file must hold one JSON object with an `otus` list")
            root_seen = True
            depth = 1
        elif depth == 1:
            if event == "map_key":
                key = value
                if key.startswith("otus."):
                    raise _fatal("invalid_file", f"Unexpected top-level key {key[:100]!r}")
            elif event == "end_map":
                depth = 0
            elif key == "otus":
                if event != "start_array":
                    raise _fatal("invalid_file", "`otus` must be a list")
                otus_seen = True
                depth = 2
            elif event in ("start_map", "start_array"):
                skipping = 1
            elif key in HEADER_KEYS:
                header[key] = value
        else:
            if event == "end_array":
                depth = 1
            elif event in ("start_map", "start_array"):
                builder = ObjectBuilder()
                builder.event(event, value)
                nesting = 1
            else:
                yield value
    if not otus_seen:
        raise _fatal("invalid_file", "The file has no `otus` list")


def _otus_structured(path, *, header: dict, position: list | None = None) -> Iterator[object]:
    """The OTUs of any file, checking its structure on the way (validation pass)."""

    def read():
        with _open(path) as reader:
            if position is not None:
                position.append(_Position(reader, path))
            yield from _otus_parse(reader, header)

    return _read_errors_translated(read)


def reference_file_otus(path, *, position: list | None = None) -> Iterator[object]:
    """The OTUs of a VALIDATED file, one at a time, built by ijson's C parser (write pass).

    Validation refused top-level keys that could shadow the `otus.item` prefix.
    """

    def read():
        with _open(path) as reader:
            if position is not None:
                position.append(_Position(reader, path))
            yield from ijson.items(reader, "otus.item", use_float=True)

    return _read_errors_translated(read)


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
    caller ran `reference_file_check` already.
    """
    summary = FileSummary()
    if not checked:
        summary.decompressed_bytes = reference_file_check(path)
    ids: set[str] = set()
    names: dict[str, str] = {}
    abbreviations: set[str] = set()
    sequence_ids: set[str] = set()
    duplicate_ids, duplicate_names, duplicate_abbreviations = _Listing(), _Listing(), _Listing()
    duplicate_isolate_ids, duplicate_sequence_ids = _Listing(), _Listing()
    conflicting_names, conflicting_abbreviations = _Listing(), _Listing()
    invalid_otus = _Listing()
    reported = {"names": set(), "abbreviations": set(), "ids": set(), "sequence_ids": set()}

    position_holder: list = []
    for position, otu in enumerate(_otus_structured(path, header=summary.header, position=position_holder)):
        summary.otu_count += 1
        if progress and position % 100 == 0 and position_holder:
            progress(position_holder[0].fraction())
        errors = otu_file_errors(otu)
        if errors:
            item = {"position": position, "errors": errors}
            if isinstance(otu, dict):
                item.update({"_id": otu.get("_id"), "name": otu.get("name")})
            invalid_otus.add(item)
        if not isinstance(otu, dict):
            continue
        otu_id, name, abbreviation = otu.get("_id"), otu.get("name"), otu.get("abbreviation")
        if isinstance(otu_id, str):
            if otu_id in ids and otu_id not in reported["ids"]:
                reported["ids"].add(otu_id)
                duplicate_ids.add(otu_id)
            ids.add(otu_id)
        if isinstance(name, str) and name:
            lowered = name.lower()
            if lowered in names and lowered not in reported["names"]:
                reported["names"].add(lowered)
                duplicate_names.add(names[lowered])
            names.setdefault(lowered, name)
            if taken_names and lowered in taken_names:
                conflicting_names.add(name)
        if isinstance(abbreviation, str) and abbreviation:
            if abbreviation in abbreviations and abbreviation not in reported["abbreviations"]:
                reported["abbreviations"].add(abbreviation)
                duplicate_abbreviations.add(abbreviation)
            abbreviations.add(abbreviation)
            if taken_abbreviations and abbreviation in taken_abbreviations:
                conflicting_abbreviations.add(abbreviation)
        isolates = otu.get("isolates") if isinstance(otu.get("isolates"), list) else []
        isolate_ids: set[str] = set()
        repeated: list[str] = []
        for isolate in isolates:
            if not isinstance(isolate, dict):
                continue
            summary.isolate_count += 1
            isolate_id = isolate.get("id")
            if isinstance(isolate_id, str):
                if isolate_id in isolate_ids and isolate_id not in repeated:
                    repeated.append(isolate_id)
                isolate_ids.add(isolate_id)
            for sequence in isolate.get("sequences") if isinstance(isolate.get("sequences"), list) else []:
                if not isinstance(sequence, dict):
                    continue
                summary.sequence_count += 1
                sequence_id = sequence.get("_id")
                if isinstance(sequence_id, str):
                    if sequence_id in sequence_ids and sequence_id not in reported["sequence_ids"]:
                        reported["sequence_ids"].add(sequence_id)
                        duplicate_sequence_ids.add(sequence_id)
                    sequence_ids.add(sequence_id)
        if repeated:
            duplicate_isolate_ids.add({"_id": otu_id, "name": name, "isolate_ids": repeated})
    if progress:
        progress(1.0)

    problems = [
        duplicate_ids.problem("duplicate_ids", "Duplicate OTU ids found"),
        duplicate_names.problem("duplicate_names", "Duplicate OTU names found"),
        duplicate_abbreviations.problem("duplicate_abbreviations", "Duplicate OTU abbreviations found"),
        duplicate_isolate_ids.problem("duplicate_isolate_ids", "Duplicate isolate ids found in some OTUs", "otus"),
        duplicate_sequence_ids.problem("duplicate_sequence_ids", "Duplicate sequence ids found"),
        conflicting_names.problem("conflicting_names", "OTU names already used by other OTUs of the reference"),
        conflicting_abbreviations.problem(
            "conflicting_abbreviations", "OTU abbreviations already used by other OTUs of the reference"
        ),
        invalid_otus.problem("invalid_otus", "Some OTUs are invalid", "otus"),
    ]
    header_errors = {
        key: ["Must be a string or null."]
        for key in HEADER_KEYS
        if summary.header.get(key) is not None and not isinstance(summary.header[key], str)
    }
    if header_errors:
        problems.insert(0, {"id": "invalid_file", "message": "Invalid top-level fields", "errors": header_errors})
    problems = [p for p in problems if p]
    if problems:
        raise ReferenceFileInvalid(problems)
    summary.otu_ids = ids
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
