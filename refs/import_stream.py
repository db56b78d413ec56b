"""A reference file's OTUs streamed out of its JSON one at a time, within bounds on the work.

A small upload must not be able to tie up a worker: a gzip file is bounded by its inflated size
(virtool_site.files.BoundedGzipReader), and here everything else a file could make an import
do is bounded too (settings `REFERENCE_IMPORT_*`):

- the length of every string: fields (names, abbreviations, definitions, hosts, ids, keys,
  ...) and, larger, sequences (`MAX_FIELD_CHARS`, `MAX_SEQUENCE_CHARS`);
- the number of OTUs, the size of one OTU (keys and values, characters), the nesting depth;
- the time the import may take (`TIME_LIMIT`, `import_time_limit`).

A file past a bound is refused while it is read, with the problem and where it is
(`ImportBoundExceeded.problem`, a problem of refs.imports' reports).

Long strings are bounded before they are held. ijson's C parser (yajl) keeps a token that has
not ended in a buffer and lexes it again from its start with every chunk it is fed (the cost
of a token grows with the square of its length over the chunk size), and hands a string over
only once it has ended. So the reader feeds the inflated text in chunks and counts the
characters fed since the parser last produced an event (`_chars_at_least`, never more than
there are): past the bound, the token is refused, the parser having held little more than the
bound. Strings that end are checked exactly, by their length. Chunks start small and double while
no event comes, up to a cap, so a long string is lexed again only a few times; each OTU is
handed on as soon as it ends (never a chunk's worth of OTUs at once), so a large chunk holds
no more than one OTU in memory.
"""

import time
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import ijson
from django.conf import settings
from ijson.common import ObjectBuilder

from virtool_site.processes import ProcessError

HEADER_KEYS = ("data_type", "organism", "name", "created_at")
MIN_CHUNK = 64 * 1024
MAX_CHUNK = 16 * 1024 * 1024
_CONTINUATION_BYTES = bytes(range(0x80, 0xC0))
_HIGH_SURROGATES = tuple(f"\\u{p}".encode() for p in ("d8", "d9", "da", "db", "D8", "D9", "DA", "DB"))
#: Escapes cut by a chunk's end, allowed for in `_chars_at_least`.
_CUT_ESCAPE_CHARS = 12
#: Characters of a string from the file repeated in a report.
SHOWN_CHARS = 200


@dataclass(frozen=True)
class ImportLimits:
    field_chars: int
    sequence_chars: int
    otus: int
    otu_items: int
    otu_chars: int
    sequences: int
    depth: int

    @classmethod
    def from_settings(cls) -> "ImportLimits":
        return cls(
            field_chars=settings.REFERENCE_IMPORT_MAX_FIELD_CHARS,
            sequence_chars=settings.REFERENCE_IMPORT_MAX_SEQUENCE_CHARS,
            otus=settings.REFERENCE_IMPORT_MAX_OTUS,
            otu_items=settings.REFERENCE_IMPORT_MAX_OTU_ITEMS,
            otu_chars=settings.REFERENCE_IMPORT_MAX_OTU_CHARS,
            sequences=settings.REFERENCE_IMPORT_MAX_SEQUENCES,
            depth=settings.REFERENCE_IMPORT_MAX_DEPTH,
        )


class ImportBoundExceeded(Exception):
    """The file asks for more work than a bound allows; `problem` says which and where."""

    def __init__(self, problem: dict):
        self.problem = problem
        super().__init__(problem["message"])


def shown(value):
    """A string from the file as a report repeats it: cut to SHOWN_CHARS characters."""
    if isinstance(value, str) and len(value) > SHOWN_CHARS:
        return value[:SHOWN_CHARS] + "…"
    return value


# Time --------------------------------------------------------------------------------------

_deadline: ContextVar[tuple[float, float] | None] = ContextVar("reference_import_deadline", default=None)


class ImportTimedOut(ProcessError):
    """The import ran past its time limit (the process's error says so)."""

    error_id = "import_timed_out"

    def __init__(self, seconds: float):
        super().__init__(f"The import took longer than the limit of {seconds:g} seconds")


@contextmanager
def import_time_limit(seconds: float | None = None):
    """Every pass over a reference file made inside shares one deadline, `seconds` (default
    REFERENCE_IMPORT_TIME_LIMIT) from now; an enclosing limit stays in force. Without one,
    each pass has the whole limit to itself."""
    if _deadline.get() is not None:
        yield
        return
    seconds = settings.REFERENCE_IMPORT_TIME_LIMIT if seconds is None else seconds
    token = _deadline.set((time.monotonic() + seconds, seconds))
    try:
        yield
    finally:
        _deadline.reset(token)


class Deadline:
    """The deadline one pass over a file works to; `check()` raises ImportTimedOut past it."""

    def __init__(self):
        found = _deadline.get()
        if found is None:
            seconds = settings.REFERENCE_IMPORT_TIME_LIMIT
            found = (time.monotonic() + seconds, seconds)
        self.at, self.seconds = found

    def check(self) -> None:
        if time.monotonic() >= self.at:
            raise ImportTimedOut(self.seconds)


class DeadlineReader:
    """A reader whose every read first checks the deadline."""

    def __init__(self, reader, deadline: Deadline):
        self.reader = reader
        self.deadline = deadline

    def read(self, size: int = -1) -> bytes:
        self.deadline.check()
        return self.reader.read(size)


# Streaming ---------------------------------------------------------------------------------

_BEFORE, _ROOT, _OTUS = 0, 1, 2


def _invalid_file(message: str) -> ImportBoundExceeded:
    return ImportBoundExceeded({"id": "invalid_file", "message": message})


class _OtuStream:
    """ijson's event target: builds OTUs (handed to `on_otu` as each ends), keeps the
    top-level scalars in `header`, and raises ImportBoundExceeded at the first bound a file
    passes.

    Works on raw events with an explicit state so that a key spelled like a path can't fool
    it; a missing or non-list `otus` is `invalid_file`.
    """

    def __init__(self, header: dict, limits: ImportLimits, on_otu):
        self.header = header
        self.limits = limits
        self.on_otu = on_otu
        self.events = 0
        self.depth = 0
        self.mode = _BEFORE
        self.root_seen = False
        self.otus_seen = False
        self.key = None  # the current top-level key
        self.last_key = None  # the last key anywhere
        self.after_key = False  # whether the last event was a key (a value of it comes next)
        self.skipping = 0
        self.skipped_items = 0
        self.builder: ObjectBuilder | None = None
        self.nesting = 0
        self.otu_items = 0
        self.otu_chars = 0
        self.otu_count = 0

    # Events -----------------------------------------------------------------------------

    def send(self, item) -> None:
        event, value = item
        self.events += 1
        if event == "string" or event == "map_key":
            limit = self._limit(is_key=event == "map_key")
            if len(value) > limit:
                raise self._too_long(limit)
        elif event == "start_map" or event == "start_array":
            self.depth += 1
            if self.depth > self.limits.depth:
                raise self._bound(
                    "too_deep", f"The file nests values deeper than the limit of {self.limits.depth} levels"
                )
        elif event == "end_map" or event == "end_array":
            self.depth -= 1
        try:
            self._dispatch(event, value)
        finally:
            self.after_key = event == "map_key"
            if self.after_key:
                self.last_key = value

    def _dispatch(self, event: str, value) -> None:
        if self.builder is not None:
            self._otu_event(event, value)
        elif self.skipping:
            self._skip_event(event)
        elif self.mode == _OTUS:
            if event == "end_array":
                self.mode = _ROOT
            elif event == "start_map" or event == "start_array":
                self._otu_start()
                self.builder = ObjectBuilder()
                self.nesting = 0
                self._otu_event(event, value)
            else:
                self._otu_start()
                self.on_otu(value)
        elif self.mode == _ROOT:
            self._root_event(event, value)
        else:
            if event != "start_map" or self.root_seen:
                raise _invalid_file("The file must hold one JSON object with an `otus` list")
            self.root_seen = True
            self.mode = _ROOT

    def _root_event(self, event: str, value) -> None:
        if event == "map_key":
            self.key = value
            if value.startswith("otus."):
                raise _invalid_file(f"Unexpected top-level key {shown(value)!r}")
        elif event == "end_map":
            self.mode = _BEFORE
        elif self.key == "otus":
            if event != "start_array":
                raise _invalid_file("`otus` must be a list")
            self.otus_seen = True
            self.mode = _OTUS
        elif event == "start_map" or event == "start_array":
            self.skipping = 1
            self.skipped_items = 0
        elif self.key in HEADER_KEYS:
            self.header[self.key] = value

    def _skip_event(self, event: str) -> None:
        self.skipped_items += 1
        if self.skipped_items > self.limits.otu_items:
            raise _invalid_file(
                f"Top-level field {shown(self.key)!r} has more than the limit of {self.limits.otu_items} items"
            )
        if event == "start_map" or event == "start_array":
            self.skipping += 1
        elif event == "end_map" or event == "end_array":
            self.skipping -= 1

    def _otu_start(self) -> None:
        self.otu_count += 1
        self.otu_items = 0
        self.otu_chars = 0
        if self.otu_count > self.limits.otus:
            raise self._bound("too_many_otus", f"The file has more than the limit of {self.limits.otus} OTUs")

    def _otu_event(self, event: str, value) -> None:
        self.otu_items += 1
        if self.otu_items > self.limits.otu_items:
            raise self._otu_too_large(f"more than the limit of {self.limits.otu_items} keys and values")
        if event == "string" or event == "map_key":
            self.otu_chars += len(value)
            if self.otu_chars > self.limits.otu_chars:
                raise self._otu_too_large(f"more than the limit of {self.limits.otu_chars} characters")
        self.builder.event(event, value)
        if event == "start_map" or event == "start_array":
            self.nesting += 1
        elif event == "end_map" or event == "end_array":
            self.nesting -= 1
            if self.nesting == 0:
                otu, self.builder = self.builder.value, None
                self.on_otu(otu)

    # The chunk loop's side ---------------------------------------------------------------

    def open_token_check(self, quiet_chars: int) -> None:
        """Refuse the token being read when the characters fed since the last event are
        more than its bound."""
        limit = self._limit(is_key=False)
        if quiet_chars > limit:
            raise self._too_long(limit)

    def finish(self) -> None:
        if not self.otus_seen:
            raise _invalid_file("The file has no `otus` list")

    # Where a problem is -------------------------------------------------------------------

    def _limit(self, *, is_key: bool) -> int:
        if not is_key and self.after_key and self.last_key == "sequence":
            return self.limits.sequence_chars
        return self.limits.field_chars

    def _otu_identity(self) -> dict:
        """The OTU being read, as reports name OTUs: position, and its id and name if read."""
        position = self.otu_count - 1 if self.builder is not None else self.otu_count
        otu = self.builder.value if self.builder is not None else None
        identity = {"position": position, "_id": None, "name": None}
        if isinstance(otu, dict):
            identity.update({"_id": shown(otu.get("_id")), "name": shown(otu.get("name"))})
        return identity

    def _path(self) -> str:
        """Where the token being read is: inside the OTU being built (`isolates[0].name`), or
        at the top level (`name`)."""
        if self.builder is None:
            if self.mode == _OTUS:
                return ""
            if self.mode == _ROOT and not self.skipping:
                return str(shown(self.key)) if self.after_key else "(a key)"
            return f"{shown(self.key)}…" if self.key is not None else "(the root)"
        # The builder's open containers, outermost first: each is the last child of the one
        # before it.
        containers = self.builder.containers
        path = ""
        for node, child in zip(containers, [*containers[1:], None]):
            if isinstance(node, list):
                step = len(node) - 1 if child is not None else len(node)
                path = f"{path}[{step}]"
                continue
            if child is not None:
                key = next(k for k, v in reversed(node.items()) if v is child)
            else:
                key = self.builder.key if self.after_key else "(a key)"
            path = f"{path}.{shown(key)}" if path else str(shown(key))
        return path

    def _too_long(self, limit: int) -> ImportBoundExceeded:
        path = self._path()
        rule = f"Ensure this field has no more than {limit} characters."
        if self.builder is not None or self.mode == _OTUS:
            otu = self._otu_identity()
            where = f"otus[{otu['position']}]" + (f".{path}" if path and not path.startswith("[") else path)
            return ImportBoundExceeded(
                {
                    "id": "field_too_long",
                    "message": f"A field is longer than the limit of {limit} characters: {where}",
                    "otus": [{**otu, "errors": {path: [rule]}}],
                    "count": 1,
                }
            )
        return ImportBoundExceeded(
            {
                "id": "field_too_long",
                "message": f"A field is longer than the limit of {limit} characters: {path}",
                "errors": {path: [rule]},
            }
        )

    def _otu_too_large(self, detail: str) -> ImportBoundExceeded:
        otu = self._otu_identity()
        return ImportBoundExceeded(
            {
                "id": "otu_too_large",
                "message": f"An OTU is too large: otus[{otu['position']}] has {detail}",
                "otus": [otu],
                "count": 1,
            }
        )

    def _bound(self, problem_id: str, message: str) -> ImportBoundExceeded:
        problem = {"id": problem_id, "message": message}
        if self.builder is not None:
            problem.update({"otus": [self._otu_identity()], "count": 1})
        return ImportBoundExceeded(problem)


def _chars_at_least(data: bytes) -> int:
    """How many characters a piece of a JSON string holds at least, counted at C speed.

    Each byte is a character but for the extra bytes of: UTF-8 sequences (continuation
    bytes), escapes (a backslash each), `\\uXXXX` (4 more), and surrogate pairs, two escapes
    making one character (1 more, counted at each high surrogate). Anything counted that is
    not an escape (`\\\\u`) only makes the count smaller.
    """
    if data.isascii() and b"\\" not in data:
        return len(data)
    extra = len(data) - len(data.translate(None, _CONTINUATION_BYTES))
    extra += data.count(b"\\") + 4 * data.count(b"\\u") + sum(data.count(h) for h in _HIGH_SURROGATES)
    return max(len(data) - extra - _CUT_ESCAPE_CHARS, 0)


def otus_stream(
    reader,
    *,
    header: dict,
    on_otu: Callable[[object], None],
    limits: ImportLimits | None = None,
    deadline: Deadline | None = None,
    on_chunk: Callable[[], None] | None = None,
) -> None:
    """Hand each item of the file's top-level `otus` list to `on_otu` as soon as it is read
    (top-level scalars go in `header`); `on_chunk` after each chunk. Raises
    ImportBoundExceeded, ImportTimedOut, ijson's errors, and whatever `on_otu` raises."""
    target = _OtuStream(header, limits or ImportLimits.from_settings(), on_otu)
    deadline = deadline or Deadline()
    parser = ijson.basic_parse_coro(target, use_float=True)
    size, quiet = MIN_CHUNK, 0
    while True:
        deadline.check()
        data = reader.read(size)
        if not data:
            break
        before = target.events
        parser.send(data)
        if on_chunk:
            on_chunk()
        if target.events == before:
            quiet += _chars_at_least(data)
            target.open_token_check(quiet)
            size = min(size * 2, MAX_CHUNK)
        else:
            quiet, size = 0, MIN_CHUNK
    parser.close()
    target.finish()
