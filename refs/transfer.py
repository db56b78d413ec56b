"""References in bulk: import, export, clone, remote install/update and deletion.

Request-time services (`reference_create_import/clone/remote`, `reference_delete`,
`reference_release_check`, `reference_update_remote`) validate, create the Reference and its
Process, and queue a Celery task on commit. The tasks (refs.tasks), the management commands
and the demo loader call the `*_run` / `reference_import_path` services, which do the work.

Reliability: all OTUs, isolates, sequences and Changes of one import, clone, install or
update are written in ONE transaction, behind a per-reference advisory lock (PostgreSQL),
which first checks whether an earlier delivery of the same task already committed. A worker
killed mid-task leaves nothing behind; the redelivered task (acks_late) restarts its process
from the first step and completes. Progress made inside that transaction is written through
a connection of its own, so clients see it at once.

Speed (PostgreSQL): rows are written in batches with COPY; the Change of each new OTU is
built by the database from the rows just written (`_OTU_DOCUMENT_SQL`, the same document as
refs.documents.otu_document), and a clone copies rows with INSERT ... SELECT, so sequences
never travel through Python twice. Elsewhere (SQLite) the same work is done with
bulk_create and history.services.change_build.
"""

import hashlib
import io
import json
import logging
import os
import queue
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.db import connection, connections, transaction
from django.utils import timezone

from history.models import Change
from history.selectors import otu_document_at_version
from history.services import change_build
from refs.documents import otu_documents_iter, otu_issues
from refs.imports import (
    ReferenceFileInvalid,
    otu_file_normalise,
    reference_file_check,
    reference_file_otus,
    reference_file_validate,
)
from refs.models import OTU, Isolate, Reference, Sequence
from refs.reference_files import reference_file_stream, reference_file_write
from refs.revisions import reference_revision_bump
from virtool_site.errors import BadRequest, Conflict, InvalidInput, NotFound, ServiceUnavailable
from virtool_site.ids import ID_ALPHABET, random_id
from virtool_site.models import Process, Upload, User
from virtool_site.services import (
    process_complete,
    process_create,
    process_fail,
    process_progress,
    process_restart,
    process_step,
)
from virtool_site.tasks_queue import task_enqueue

logger = logging.getLogger(__name__)

IMPORT_STEPS = ["load_file", "validate", "write_otus", "write_history"]
CLONE_STEPS = ["copy_otus", "write_history"]
REMOTE_STEPS = ["download", "load_file", "validate", "write_otus", "write_history"]
UPDATE_STEPS = ["download", "load_file", "validate", "remove_otus", "update_otus", "write_history"]
DELETE_STEPS = ["delete_indexes", "delete_otus"]

EXPORT_SCOPES = ("built", "unbuilt")


class TransferError(Exception):
    """A task cannot do its work (a message for the process error)."""


# Progress ----------------------------------------------------------------------------------


class Progress:
    """Where a transfer is: `step(name)` on entering a step, `fraction(0..1)` within it."""

    def step(self, name: str) -> None:
        pass

    def fraction(self, value: float) -> None:
        pass

    def close(self) -> None:
        pass


class ProgressGroup(Progress):
    def __init__(self, *members: Progress | None):
        self.members = [m for m in members if m is not None]

    def step(self, name):
        for member in self.members:
            member.step(name)

    def fraction(self, value):
        for member in self.members:
            member.fraction(value)

    def close(self):
        for member in self.members:
            member.close()


class ProcessProgress(Progress):
    """Moves a Process through its steps.

    Inside a transaction this task opened itself, updates go through a helper thread (a
    thread has its own database connection), so they are visible before the commit. When
    the caller already holds a transaction (tests, synchronous callers), or on SQLite (one
    writer at a time), they are written directly.
    """

    MIN_INTERVAL = 0.5

    def __init__(self, process_id: str):
        self.process_id = process_id
        self.side_channel = connection.vendor == "postgresql" and not connection.in_atomic_block
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._last = 0.0

    def _send(self, function, **kwargs):
        if self.side_channel and connection.in_atomic_block:
            if self._thread is None:
                self._queue = queue.Queue()
                self._thread = threading.Thread(target=self._serve, name=f"progress-{self.process_id}", daemon=True)
                self._thread.start()
            self._queue.put((function, kwargs))
        else:
            function(**kwargs)

    def _serve(self):
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                function, kwargs = item
                try:
                    function(**kwargs)
                except Exception:  # progress is advisory: it never breaks the work
                    logger.exception("process %s: progress update failed", self.process_id)
        finally:
            connections.close_all()

    def step(self, name):
        self._last = time.monotonic()
        self._send(process_step, process_id=self.process_id, step=name)

    def fraction(self, value):
        now = time.monotonic()
        if now - self._last < self.MIN_INTERVAL:
            return
        self._last = now
        self._send(process_progress, process_id=self.process_id, step_fraction=value)

    def close(self):
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=60)
            self._thread = None


@contextmanager
def process_run(process_id: str | None, *, extra: Progress | None = None):
    """Run a task's work under its Process: yields the Progress, or None when there is
    nothing to do (unknown process, or completed by an earlier delivery).

    A redelivered task restarts the process from its first step. Errors end the process
    with a report (validation problems) or their message, and are not re-raised; without a
    process they are raised as TransferError.
    """
    process = Process.objects.filter(id=process_id).first() if process_id else None
    if process_id and (process is None or (process.complete and process.error is None)):
        yield None
        return
    if process is not None and (
        process.complete or process.error or process.progress or process.step != process.steps[0]
    ):
        process_restart(process_id=process_id)
    progress = ProgressGroup(ProcessProgress(process_id) if process_id else None, extra)
    try:
        yield progress
    except ReferenceFileInvalid as error:
        progress.close()
        _fail(process_id, error.report)
    except TransferError as error:
        progress.close()
        _fail(process_id, {"id": "transfer_error", "message": str(error)})
    except Exception as error:
        logger.exception("process %s failed", process_id)
        progress.close()
        _fail(process_id, {"id": "unexpected_error", "type": type(error).__name__, "message": str(error)})
    else:
        progress.close()
        if process_id:
            process_complete(process_id=process_id)


def _fail(process_id, report: dict):
    if process_id:
        process_fail(process_id=process_id, error=report)
    else:
        raise TransferError(report.get("message", "Failed"))


# Locking and transactions ------------------------------------------------------------------


def _lock_key(reference_id: str) -> int:
    digest = hashlib.blake2b(f"refs.transfer:{reference_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def reference_lock(reference_id: str):
    """Serialises the bulk writers and the deletion of one reference (PostgreSQL).

    Taken before the writing transaction when possible (a session lock, released too if the
    worker dies), so that transaction's snapshot sees what an earlier holder committed.
    """
    if connection.vendor != "postgresql":
        yield
        return
    key = _lock_key(reference_id)
    if connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [key])
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        except Exception:  # a lost connection has released the lock with it
            logger.warning("could not release the transfer lock of %s", reference_id, exc_info=True)


@contextmanager
def _atomic(*, repeatable_read: bool = False):
    """One transaction; REPEATABLE READ makes all its reads see one snapshot (clone)."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if repeatable_read and outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def _postgres() -> bool:
    """Whether the bulk paths may use PostgreSQL's COPY and SQL-built history (tests switch
    it off to run the portable bulk_create paths on PostgreSQL too)."""
    return connection.vendor == "postgresql"


# Ids ---------------------------------------------------------------------------------------


class IdPool:
    """Virtool ids (8 of [a-z0-9]) drawn in bulk from os.urandom: unbiased (bytes of 252 and
    up, 252 = 7 x 36, are dropped) and far faster than a `secrets.choice` per character."""

    def __init__(self):
        self._ids: list[str] = []

    def _refill(self, count: int):
        text = "".join(ID_ALPHABET[b % 36] for b in os.urandom(count * 9 + 64) if b < 252)
        self._ids.extend(text[i : i + 8] for i in range(0, len(text) - 7, 8))

    def take(self, count: int) -> list[str]:
        while len(self._ids) < count:
            self._refill(max(count - len(self._ids), 256))
        taken, self._ids = self._ids[:count], self._ids[count:]
        return taken

    def __call__(self, *_) -> str:
        if not self._ids:
            self._refill(256)
        return self._ids.pop()


new_id = IdPool()


# Documents and rows ------------------------------------------------------------------------


def otu_label(document: dict) -> str:
    """"Abaca bunchy top virus (ABTV)": how Virtool's change descriptions name an OTU."""
    abbreviation = document.get("abbreviation")
    return f"{document['name']} ({abbreviation})" if abbreviation else document["name"]


@dataclass
class OTURows:
    """An OTU's unsaved rows as {attname: value} dicts; a sequence row's `_isolate` is its
    isolate row, whose id is known only when written."""

    otu: dict
    isolates: list[dict]
    sequences: list[dict]


def otu_build(
    source: dict,
    *,
    otu_id: str,
    reference_id: str,
    version: int = 0,
    imported: bool = False,
    remote: bool = False,
    last_indexed_version: int | None = None,
    sequence_id: Callable[[dict], str] | None = None,
    created_at=None,
) -> tuple[dict, OTURows]:
    """The joined document and unsaved rows of an OTU made from `source`.

    `source` is in reference-file form (a normalised file OTU, or a joined document). The
    document is exactly what refs.documents.otu_document reads back, so history diffs taken
    against it hold. `remote` keeps the source's ids as remote ids.
    """
    sequence_id = sequence_id or new_id
    otu_row = {
        "id": otu_id,
        "reference_id": reference_id,
        "name": source["name"],
        "abbreviation": source.get("abbreviation") or "",
        "schema": source.get("schema") or [],
        "taxid": source.get("taxid"),
        "version": version,
        "last_indexed_version": last_indexed_version,
        "verified": False,
        "imported": imported,
        "remote_id": source["_id"] if remote else None,
        "created_at": created_at or timezone.now(),
    }
    isolate_rows, sequence_rows, isolate_documents = [], [], []
    for position, source_isolate in enumerate(source["isolates"]):
        isolate_row = {
            "id": None,
            "otu_id": otu_id,
            "isolate_id": source_isolate["id"],
            "position": position,
            "source_type": source_isolate["source_type"],
            "source_name": source_isolate["source_name"],
            "default": source_isolate["default"],
        }
        isolate_rows.append(isolate_row)
        sequence_documents = []
        for sequence_position, source_sequence in enumerate(source_isolate["sequences"]):
            document = {
                "_id": sequence_id(source_sequence),
                "accession": source_sequence["accession"],
                "definition": source_sequence["definition"],
                "host": source_sequence["host"],
                "segment": source_sequence.get("segment"),
                "sequence": source_sequence["sequence"],
            }
            sequence_rows.append(
                {
                    "id": document["_id"],
                    "otu_id": otu_id,
                    "isolate_id": None,
                    "_isolate": isolate_row,
                    "position": sequence_position,
                    "accession": document["accession"],
                    "definition": document["definition"],
                    "host": document["host"],
                    "segment": document["segment"],
                    "sequence": document["sequence"],
                    "remote_id": source_sequence["_id"] if remote else None,
                }
            )
            if remote:
                document["remote"] = {"id": source_sequence["_id"]}
            sequence_documents.append(document)
        isolate_documents.append(
            {
                "id": isolate_row["isolate_id"],
                "source_type": isolate_row["source_type"],
                "source_name": isolate_row["source_name"],
                "default": isolate_row["default"],
                "sequences": sequence_documents,
            }
        )
    document = {
        "_id": otu_id,
        "name": otu_row["name"],
        "abbreviation": otu_row["abbreviation"],
        "schema": otu_row["schema"],
        "taxid": otu_row["taxid"],
        "version": version,
        "verified": False,
        "imported": imported,
        "last_indexed_version": last_indexed_version,
        "reference": {"id": reference_id},
        "isolates": isolate_documents,
    }
    if remote:
        document["remote"] = {"id": source["_id"]}
    otu_row["verified"] = document["verified"] = otu_issues(document) is None
    return document, OTURows(otu_row, isolate_rows, sequence_rows)


# SQL history (PostgreSQL) ------------------------------------------------------------------

_REMOTE_SQL = "CASE WHEN {alias}.remote_id IS NULL THEN '{{}}'::jsonb ELSE jsonb_build_object('remote', jsonb_build_object('id', {alias}.remote_id)) END"

#: refs.documents.otu_document, built by the database from the OTU `o` and its rows.
_OTU_DOCUMENT_SQL = f"""
(jsonb_build_object(
    '_id', o.id, 'name', o.name, 'abbreviation', o.abbreviation, 'schema', o.schema, 'taxid', o.taxid,
    'version', o.version, 'verified', o.verified, 'imported', o.imported,
    'last_indexed_version', o.last_indexed_version, 'reference', jsonb_build_object('id', o.reference_id),
    'isolates', COALESCE((
        SELECT jsonb_agg(jsonb_build_object(
            'id', i.isolate_id, 'source_type', i.source_type, 'source_name', i.source_name, 'default', i."default",
            'sequences', COALESCE((
                SELECT jsonb_agg(jsonb_build_object(
                    '_id', s.id, 'accession', s.accession, 'definition', s.definition, 'host', s.host,
                    'segment', s.segment, 'sequence', s.sequence) || {_REMOTE_SQL.format(alias="s")}
                    ORDER BY s.position)
                FROM refs_sequence s WHERE s.isolate_id = i.id), '[]'::jsonb)
        ) ORDER BY i.position)
        FROM refs_isolate i WHERE i.otu_id = o.id), '[]'::jsonb)
) || {_REMOTE_SQL.format(alias="o")})"""

_LABEL_SQL = "o.name || CASE WHEN o.abbreviation <> '' THEN ' (' || o.abbreviation || ')' ELSE '' END"


@dataclass
class CreationHistory:
    """How the Change of each new OTU is described: `method_name` and a description made of
    `verb`, the OTU's label and, when given, " from {origin}" (Python and SQL agree)."""

    method_name: str
    verb: str
    origin: str | None = None
    user: object = None
    created_at: object = None

    def description(self, document: dict) -> str:
        text = f"{self.verb} {otu_label(document)}"
        return f"{text} from {self.origin}" if self.origin else text

    def change(self, document: dict) -> Change:
        return change_build(
            method_name=self.method_name, description=self.description(document), old=None, new=document,
            user=self.user, created_at=self.created_at,
        )

    def insert(self, cursor, otu_ids: list[str], progress: Callable[[float], None] | None = None, chunk: int = 250):
        """INSERT the Changes of these (just written) OTUs, documents built in SQL."""
        quote = connection.ops.quote_name
        description = f"%(verb)s || ' ' || {_LABEL_SQL}" + (" || ' from ' || %(origin)s" if self.origin else "")
        expressions = {
            "id": "o.id || '.' || o.version",
            "method_name": "%(method)s",
            "description": description,
            "otu_id": "o.id",
            "otu_name": "o.name",
            "otu_version": "o.version",
            "reference_id": "o.reference_id",
            "user_id": "%(user)s",
            "index_id": "NULL",
            "diff": _OTU_DOCUMENT_SQL,
            "created_at": "%(now)s",
        }
        columns = [f.column for f in Change._meta.concrete_fields]
        missing = set(columns) - set(expressions)
        if missing:
            raise TransferError(f"Cannot write history: unknown Change columns {sorted(missing)}")
        sql = (
            f"INSERT INTO {quote(Change._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "
            f"SELECT {', '.join(expressions[c] for c in columns)} FROM {quote(OTU._meta.db_table)} o "
            f"WHERE o.id = ANY(%(ids)s)"
        )
        params = {
            "verb": self.verb, "origin": self.origin, "method": self.method_name,
            "user": getattr(self.user, "pk", None), "now": self.created_at or timezone.now(),
        }
        switched = _history_compression(cursor)
        for start in range(0, len(otu_ids), chunk):
            cursor.execute(sql, {**params, "ids": otu_ids[start : start + chunk]})
            if progress:
                progress(min(start + chunk, len(otu_ids)) / len(otu_ids))
        _history_compression_reset(cursor, switched)


# History compression -----------------------------------------------------------------------


def _history_compression(cursor) -> bool:
    """Compress the history documents of this transaction with lz4 when the server has it.

    Each new OTU's Change holds its whole document, so an import stores every sequence twice;
    history is written in bulk and read rarely, and lz4 compresses it several times faster than
    the default pglz (sequences keep the server's default). Returns whether it was switched.
    """
    cursor.execute(
        "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
    )
    if cursor.fetchone() is None:
        return False
    cursor.execute("SET LOCAL default_toast_compression = 'lz4'")
    return True


def _history_compression_reset(cursor, switched: bool) -> None:
    if switched:
        cursor.execute("SET LOCAL default_toast_compression TO DEFAULT")


# Bulk writing ------------------------------------------------------------------------------

_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_columns(model) -> list[tuple]:
    """(column, attname, is_json, default) of a model's rows, for COPY."""
    return [
        (f.column, f.attname, f.get_internal_type() == "JSONField", f.get_default() if f.has_default() else None)
        for f in model._meta.concrete_fields
    ]


def _copy_value(value, is_json: bool) -> str:
    if value is None:
        return "\\N"
    if is_json:
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    elif value is True:
        return "t"
    elif value is False:
        return "f"
    elif isinstance(value, int):
        return str(value)
    elif hasattr(value, "isoformat"):
        return value.isoformat()
    elif not isinstance(value, str):
        value = str(value)
    if _COPY_SPECIAL.search(value):
        value = value.translate(_COPY_ESCAPES)
    return value


def _copy_lines(columns, rows) -> str:
    """COPY text of rows given as attname dicts or model instances."""
    lines = []
    for row in rows:
        get = row.get if isinstance(row, dict) else (lambda name, default, obj=row: getattr(obj, name, default))
        lines.append(
            "\t".join(_copy_value(get(attname, default), is_json) for _, attname, is_json, default in columns)
        )
    return "\n".join(lines) + "\n" if lines else ""


def _copy_sql(model) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column) for column, *_ in _copy_columns(model))
    return f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"


class _Segment(io.RawIOBase):
    """A window of a spool file, readable by COPY."""

    def __init__(self, handle, start: int, end: int):
        self.handle, self.position, self.end = handle, start, end

    def readable(self):
        return True

    def read(self, size=-1):
        remaining = self.end - self.position
        if remaining <= 0:
            return b""
        size = remaining if size is None or size < 0 else min(size, remaining)
        self.handle.seek(self.position)
        data = self.handle.read(size)
        self.position += len(data)
        return data

    def readline(self, size=-1):
        return self.read(size)


class BulkWriter:
    """New rows of OTUs, isolates and sequences and their Changes, written in batches.

    `add` buffers and flushes past a size; `write_history` writes the Changes last. With a
    `creation` history on PostgreSQL the database builds each new OTU's Change from its rows;
    Changes given to `add` (updates, removals) are spooled to a temporary file as COPY text.
    Elsewhere: bulk_create. Use inside one transaction.
    """

    #: COPY statements issued by every writer of this process (for the benchmark).
    copy_statements = 0

    BATCH_BYTES = 8 * 1024 * 1024
    BATCH_OTUS = 500

    def __init__(self, *, creation: CreationHistory | None = None):
        self.postgres = _postgres()
        self.creation = creation
        self.sql_history = self.postgres and creation is not None
        self.otus: list[dict] = []
        self.isolates: list[dict] = []
        self.sequences: list[dict] = []
        self.pending_changes: list[Change] = []
        self.pending_bytes = 0
        self.created_ids: list[str] = []
        self.changes: list[Change] = []
        self.spool = None
        self.segments: list[tuple[int, int]] = []
        self.change_count = 0
        self.counts = {"otus": 0, "isolates": 0, "sequences": 0}

    def add_created(self, document: dict, rows: OTURows):
        """A new OTU whose Change is the creation history's."""
        change = None if self.sql_history else self.creation.change(document)
        self.add(rows, change)

    def add(self, rows: OTURows, change: Change | None, *, new_otu: bool = True):
        if new_otu:
            self.otus.append(rows.otu)
        self.isolates.extend(rows.isolates)
        self.sequences.extend(rows.sequences)
        if change is not None:
            self.pending_changes.append(change)
        self.pending_bytes += sum(len(s["sequence"]) for s in rows.sequences) + 512 * (len(rows.isolates) + 1)
        if self.pending_bytes >= self.BATCH_BYTES or len(self.otus) >= self.BATCH_OTUS:
            self.flush()

    def add_change(self, change: Change):
        self.pending_changes.append(change)

    def flush(self):
        if self.postgres:
            self._flush_copy()
        else:
            self._flush_orm()
        if self.sql_history:
            self.created_ids.extend(row["id"] for row in self.otus)
        self.counts["otus"] += len(self.otus)
        self.counts["isolates"] += len(self.isolates)
        self.counts["sequences"] += len(self.sequences)
        self.change_count += len(self.pending_changes)
        self.otus, self.isolates, self.sequences, self.pending_changes = [], [], [], []
        self.pending_bytes = 0

    def _copy(self, cursor, model, rows):
        if rows:
            cursor.copy_expert(_copy_sql(model), io.StringIO(_copy_lines(_copy_columns(model), rows)))
            BulkWriter.copy_statements += 1

    def _flush_copy(self):
        with connection.cursor() as cursor:
            if self.isolates:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [Isolate._meta.db_table, len(self.isolates)],
                )
                for row, (pk,) in zip(self.isolates, cursor.fetchall()):
                    row["id"] = pk
            for row in self.sequences:
                row["isolate_id"] = row["_isolate"]["id"]
            self._copy(cursor, OTU, self.otus)
            self._copy(cursor, Isolate, self.isolates)
            self._copy(cursor, Sequence, self.sequences)
        if self.pending_changes:
            if self.spool is None:
                self.spool = tempfile.TemporaryFile()
            start = self.spool.seek(0, io.SEEK_END)
            self.spool.write(_copy_lines(_copy_columns(Change), self.pending_changes).encode())
            self.segments.append((start, self.spool.tell()))

    def _flush_orm(self):
        OTU.objects.bulk_create([OTU(**row) for row in self.otus], batch_size=200)
        isolates = [Isolate(**{k: v for k, v in row.items() if k != "id"}) for row in self.isolates]
        Isolate.objects.bulk_create(isolates, batch_size=200)
        for row, isolate in zip(self.isolates, isolates):
            row["id"] = isolate.pk
        sequences = [
            Sequence(**{k: v for k, v in row.items() if k not in ("_isolate", "isolate_id")},
                     isolate_id=row["_isolate"]["id"])
            for row in self.sequences
        ]
        Sequence.objects.bulk_create(sequences, batch_size=100)
        self.changes.extend(self.pending_changes)

    def write_history(self, progress: Callable[[float], None] | None = None):
        self.flush()
        if self.sql_history and self.created_ids:
            with connection.cursor() as cursor:
                self.creation.insert(cursor, self.created_ids, progress)
            self.change_count += len(self.created_ids)
        if self.postgres:
            if self.segments:
                with connection.cursor() as cursor:
                    switched = _history_compression(cursor)
                    for number, (start, end) in enumerate(self.segments):
                        cursor.copy_expert(_copy_sql(Change), _Segment(self.spool, start, end), size=1024 * 1024)
                        BulkWriter.copy_statements += 1
                        if progress:
                            progress((number + 1) / len(self.segments))
                    _history_compression_reset(cursor, switched)
        else:
            for start in range(0, len(self.changes), 100):
                Change.objects.bulk_create(self.changes[start : start + 100])
                if progress:
                    progress(min(start + 100, len(self.changes)) / len(self.changes))
        self.close()

    def close(self):
        if self.spool is not None:
            self.spool.close()
            self.spool = None
        self.segments, self.changes = [], []


# Import (upload, path, remote release) -----------------------------------------------------


def _user(user_id) -> User | None:
    return User.objects.filter(pk=user_id).first() if user_id is not None else None


def _already_written(reference_id: str) -> bool:
    return OTU.objects.filter(reference_id=reference_id).exists()


def reference_file_import(
    *,
    reference_id: str,
    path,
    user,
    progress: Progress,
    method: str = "import",
    on_written: Callable[[Reference], None] | None = None,
) -> dict | None:
    """Validate a reference file, then write all its OTUs and their Changes in one transaction.

    Returns counts, or None when the reference is gone. Raises ReferenceFileInvalid, having
    written nothing. A reference that already has OTUs was written by an earlier delivery of
    the same task and is left as it is.
    """
    remote = method == "remote"
    progress.step("load_file")
    decompressed = reference_file_check(path, progress=progress.fraction)
    progress.step("validate")
    summary = reference_file_validate(path, progress=progress.fraction, checked=True)
    summary.decompressed_bytes = decompressed
    created_at = timezone.now()
    with reference_lock(reference_id), _atomic():
        reference = Reference.all_objects.filter(id=reference_id).first()
        if reference is None or reference.deleted:
            return None
        reference_revision_bump(reference_ids=reference_id)
        if _already_written(reference_id):
            return {"otus": OTU.objects.filter(reference_id=reference_id).count(), "skipped": True}
        creation = CreationHistory(
            method_name=method,
            verb="Installed" if remote else "Imported",
            origin=(reference.remotes_from or {}).get("slug") if remote else None,
            user=user,
            created_at=created_at,
        )
        progress.step("write_otus")
        writer = BulkWriter(creation=creation)
        try:
            for position, raw in enumerate(reference_file_otus(path)):
                document, rows = otu_build(
                    otu_file_normalise(raw), otu_id=new_id(), reference_id=reference_id, imported=True,
                    remote=remote, created_at=created_at,
                )
                writer.add_created(document, rows)
                if position % 50 == 0:
                    progress.fraction(position / max(summary.otu_count, 1))
            writer.flush()
            progress.step("write_history")
            writer.write_history(progress.fraction)
        finally:
            writer.close()
        fields = {}
        if isinstance(summary.header.get("data_type"), str) and summary.header["data_type"]:
            fields["data_type"] = summary.header["data_type"][:32]
        if isinstance(summary.header.get("organism"), str) and summary.header["organism"] and not reference.organism:
            fields["organism"] = summary.header["organism"][:255]
        if fields:
            Reference.all_objects.filter(id=reference_id).update(**fields)
        if on_written:
            on_written(reference)
    return {**writer.counts, "changes": writer.change_count}


def reference_import_run(*, reference_id: str, process_id: str | None, upload_id: str, user_id=None) -> None:
    """The import_reference task: import an uploaded file into its new, empty reference."""
    from virtool_site.services import upload_path

    with process_run(process_id) as progress:
        if progress is None:
            return
        upload = Upload.objects.filter(id=upload_id).first()
        path = upload_path(upload) if upload else None
        if path is None or not path.exists():
            raise TransferError("File not found")
        reference_file_import(reference_id=reference_id, path=path, user=_user(user_id), progress=progress)


def reference_import_path(
    *,
    user,
    path,
    name: str,
    description: str = "",
    organism: str = "",
    data_type: str = "genome",
    public: bool = False,
    progress: Progress | None = None,
) -> Reference:
    """Create a reference from a local file and import it synchronously (commands, demo).

    The same process and writer as the API path; raises TransferError when it fails (the
    reference stays, empty, with its failed process, as after a failed API import).
    """
    path = Path(path)
    if not path.is_file():
        raise TransferError(f"File not found: {path}")
    with transaction.atomic():
        reference_id = random_id()
        process = process_create(
            process_type="import_reference", steps=IMPORT_STEPS, user=user,
            context=_context(user, reference_id, path=path.name),
        )
        reference = _reference_new(
            user=user, name=name, description=description, organism=organism, data_type=data_type,
            public=public, id=reference_id, process=process,
            imported_from={"id": path.name, "name": path.name, "user": {"id": user.username}},
        )
    with process_run(process.id, extra=progress) as run:
        if run is not None:
            reference_file_import(reference_id=reference.id, path=path, user=user, progress=run)
    process.refresh_from_db()
    if process.error:
        raise TransferError(process.error.get("message", "Import failed"))
    return Reference.all_objects.get(id=reference.id)


# Clone -------------------------------------------------------------------------------------


def reference_clone_copy(*, reference_id: str, source_id: str, user, progress: Progress) -> dict | None:
    """Copy every OTU of the source (new ids) with a clone Change each, in one transaction
    whose reads all see one snapshot of the source."""
    created_at = timezone.now()
    with reference_lock(reference_id), _atomic(repeatable_read=True):
        reference = Reference.all_objects.filter(id=reference_id).first()
        if reference is None or reference.deleted:
            return None
        reference_revision_bump(reference_ids=reference_id)
        if _already_written(reference_id):
            return {"skipped": True}
        source = Reference.all_objects.filter(id=source_id, deleted=False).first()
        if source is None:
            raise TransferError("Source reference does not exist")
        creation = CreationHistory(
            method_name="clone", verb="Cloned", origin=source.name, user=user, created_at=created_at
        )
        progress.step("copy_otus")
        if _postgres():
            return _clone_in_database(source=source, reference_id=reference_id, creation=creation, progress=progress)
        queryset = OTU.objects.filter(reference_id=source_id)
        total = max(queryset.count(), 1)
        writer = BulkWriter(creation=creation)
        try:
            for position, source_document in enumerate(otu_documents_iter(queryset)):
                document, rows = otu_build(
                    source_document, otu_id=new_id(), reference_id=reference_id,
                    imported=source_document.get("imported", False), created_at=created_at,
                )
                writer.add_created(document, rows)
                if position % 50 == 0:
                    progress.fraction(position / total)
            writer.flush()
            progress.step("write_history")
            writer.write_history(progress.fraction)
        finally:
            writer.close()
    return {**writer.counts, "changes": writer.change_count}


def _select_list(model, alias: str, overrides: dict[str, str]) -> tuple[str, str]:
    """Column list and SELECT list copying `model` rows from `alias`, some columns replaced
    by expressions; columns added to the model later are copied as they are."""
    quote = connection.ops.quote_name
    columns = [f.column for f in model._meta.concrete_fields]
    select = [overrides.get(column, f"{alias}.{quote(column)}") for column in columns]
    return ", ".join(quote(c) for c in columns), ", ".join(select)


def _clone_in_database(*, source: Reference, reference_id: str, creation: CreationHistory, progress: Progress) -> dict:
    """Clone on PostgreSQL without moving sequences through Python: rows are copied by
    INSERT ... SELECT through temporary id maps (TOASTed sequences are copied as stored) and
    the Changes are built by the database from the new rows."""
    suffix = random_id()
    otu_map, isolate_map, sequence_map = (f"clone_{kind}_{suffix}" for kind in ("otu", "isolate", "sequence"))
    otu_table, isolate_table, sequence_table = (
        connection.ops.quote_name(m._meta.db_table) for m in (OTU, Isolate, Sequence)
    )
    params = {"ref": reference_id, "now": creation.created_at}
    with connection.cursor() as cursor:
        for table in (otu_map, sequence_map):
            cursor.execute(f"CREATE TEMPORARY TABLE {table} (old_id varchar(8) PRIMARY KEY, new_id varchar(8) NOT NULL)")
        cursor.execute(f"CREATE TEMPORARY TABLE {isolate_map} (old_id bigint PRIMARY KEY, new_id bigint NOT NULL)")
        otu_ids = list(OTU.objects.filter(reference_id=source.id).values_list("id", flat=True))
        sequence_ids = list(Sequence.objects.filter(otu__reference_id=source.id).values_list("id", flat=True))
        ids = iter(new_id.take(len(otu_ids) + len(sequence_ids)))
        new_otu_ids = []
        for table, old_ids in ((otu_map, otu_ids), (sequence_map, sequence_ids)):
            pairs = [(old, next(ids)) for old in old_ids]
            if table == otu_map:
                new_otu_ids = [new for _, new in pairs]
            cursor.copy_expert(
                f"COPY {table} (old_id, new_id) FROM STDIN", io.StringIO("".join(f"{o}\t{n}\n" for o, n in pairs))
            )
            BulkWriter.copy_statements += 1
        cursor.execute(
            f"INSERT INTO {isolate_map} (old_id, new_id) "
            f"SELECT i.id, nextval(pg_get_serial_sequence(%s, 'id')) FROM {isolate_table} i "
            f"JOIN {otu_map} m ON m.old_id = i.otu_id",
            [Isolate._meta.db_table],
        )
        isolate_count = cursor.rowcount
        columns, select = _select_list(
            OTU, "o",
            {"id": "m.new_id", "reference_id": "%(ref)s", "version": "0", "last_indexed_version": "NULL",
             "remote_id": "NULL", "created_at": "%(now)s"},
        )
        cursor.execute(
            f"INSERT INTO {otu_table} ({columns}) SELECT {select} FROM {otu_table} o "
            f"JOIN {otu_map} m ON m.old_id = o.id",
            params,
        )
        progress.fraction(0.2)
        columns, select = _select_list(Isolate, "i", {"id": "im.new_id", "otu_id": "om.new_id"})
        cursor.execute(
            f"INSERT INTO {isolate_table} ({columns}) SELECT {select} FROM {isolate_table} i "
            f"JOIN {isolate_map} im ON im.old_id = i.id JOIN {otu_map} om ON om.old_id = i.otu_id",
        )
        progress.fraction(0.3)
        columns, select = _select_list(
            Sequence, "s", {"id": "sm.new_id", "otu_id": "om.new_id", "isolate_id": "im.new_id", "remote_id": "NULL"}
        )
        cursor.execute(
            f"INSERT INTO {sequence_table} ({columns}) SELECT {select} FROM {sequence_table} s "
            f"JOIN {sequence_map} sm ON sm.old_id = s.id JOIN {otu_map} om ON om.old_id = s.otu_id "
            f"JOIN {isolate_map} im ON im.old_id = s.isolate_id",
        )
        for table in (otu_map, isolate_map, sequence_map):
            cursor.execute(f"DROP TABLE {table}")
        progress.step("write_history")
        creation.insert(cursor, new_otu_ids, progress.fraction)
    return {"otus": len(otu_ids), "isolates": isolate_count, "sequences": len(sequence_ids), "changes": len(otu_ids)}


def reference_clone_run(
    *, reference_id: str, process_id: str | None, source_id: str, user_id=None, extra: Progress | None = None
) -> None:
    """The clone_reference task."""
    with process_run(process_id, extra=extra) as progress:
        if progress is None:
            return
        reference_clone_copy(reference_id=reference_id, source_id=source_id, user=_user(user_id), progress=progress)


# Remote install and update -----------------------------------------------------------------


@contextmanager
def _downloaded(release: dict) -> Iterator[Path]:
    from refs.remotes import RemoteError, release_download
    from virtool_site.files import data_path

    directory = data_path("tmp")
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory) as temporary:
        path = Path(temporary) / "reference.json.gz"
        try:
            release_download(release, path)
        except RemoteError as error:
            raise TransferError(str(error)) from error
        yield path


def _release_installed(reference_id: str, release: dict, user) -> None:
    """Record the release as installed (inside the writing transaction)."""
    from refs.remotes import update_document

    reference = Reference.all_objects.select_for_update().get(id=reference_id)
    installed = update_document(release, user=user, ready=True)
    updates = [dict(u, ready=True) if u.get("id") == release.get("id") else u for u in reference.updates or []]
    if not any(u.get("id") == release.get("id") for u in updates):
        updates.append(installed)
    stored = dict(reference.release or release)
    if stored.get("id") == release.get("id"):
        stored["newer"] = False
    Reference.all_objects.filter(id=reference_id).update(installed=installed, updates=updates, release=stored)


def reference_remote_run(*, reference_id: str, process_id: str | None, user_id=None) -> None:
    """The remote_reference task: download the release named in the process and import it."""
    with process_run(process_id) as progress:
        if progress is None:
            return
        release = Process.objects.get(id=process_id).context.get("release") or {}
        user = _user(user_id)
        progress.step("download")
        with _downloaded(release) as path:
            reference_file_import(
                reference_id=reference_id, path=path, user=user, progress=progress, method="remote",
                on_written=lambda reference: _release_installed(reference_id, release, user),
            )


def reference_remote_update(*, reference_id: str, path, release: dict, user, progress: Progress) -> dict | None:
    """Apply a newer release: OTUs matched by remote id are updated (one `update` Change each
    when they differ), new ones created (`remote`), missing ones removed (`remove`)."""
    progress.step("load_file")
    reference_file_check(path, progress=progress.fraction)
    progress.step("validate")
    local = OTU.objects.filter(reference_id=reference_id, remote_id__isnull=True)
    summary = reference_file_validate(
        path,
        progress=progress.fraction,
        taken_names={name.lower() for name in local.values_list("name", flat=True)},
        taken_abbreviations={a for a in local.values_list("abbreviation", flat=True) if a},
        checked=True,
    )
    created_at = timezone.now()
    counts = {"created": 0, "updated": 0, "removed": 0, "unchanged": 0}
    with reference_lock(reference_id), _atomic():
        reference = Reference.all_objects.filter(id=reference_id).first()
        if reference is None or reference.deleted:
            return None
        reference_revision_bump(reference_ids=reference_id)
        if (reference.installed or {}).get("id") == release.get("id"):
            return {"skipped": True}
        origin = f"{(reference.remotes_from or {}).get('slug', 'remote')} {release.get('name') or ''}".strip()
        update = _RemoteUpdate(reference_id=reference_id, user=user, origin=origin, created_at=created_at, counts=counts)
        try:
            # Removals first: a new OTU may take the name of one the release dropped.
            progress.step("remove_otus")
            update.remove_missing(summary.otu_ids)
            progress.step("update_otus")
            batch: list[dict] = []
            for position, raw in enumerate(reference_file_otus(path)):
                batch.append(otu_file_normalise(raw))
                if len(batch) >= 200:
                    update.apply(batch)
                    batch = []
                    progress.fraction(position / max(summary.otu_count, 1))
            update.apply(batch)
            progress.step("write_history")
            update.writer.write_history(progress.fraction)
        finally:
            update.writer.close()
        _release_installed(reference_id, release, user)
    return counts


@dataclass
class _RemoteUpdate:
    reference_id: str
    user: object
    origin: str
    created_at: object
    counts: dict

    def __post_init__(self):
        self.writer = BulkWriter()
        self.existing = dict(
            OTU.objects.filter(reference_id=self.reference_id, remote_id__isnull=False).values_list("remote_id", "id")
        )

    def apply(self, batch: list[dict]):
        if not batch:
            return
        local_ids = [self.existing[s["_id"]] for s in batch if s["_id"] in self.existing]
        old_documents = {d["remote"]["id"]: d for d in otu_documents_iter(OTU.objects.filter(id__in=local_ids))}
        replaced, writes = [], []
        for source in batch:
            old = old_documents.get(source["_id"])
            if old is None:
                document, rows = otu_build(
                    source, otu_id=new_id(), reference_id=self.reference_id, imported=True, remote=True,
                    created_at=self.created_at,
                )
                change = change_build(
                    method_name="remote", description=f"Installed {otu_label(document)} from {self.origin}",
                    old=None, new=document, user=self.user, created_at=self.created_at,
                )
                writes.append((rows, change, True))
                self.counts["created"] += 1
                continue
            known = {s["remote"]["id"]: s["_id"] for i in old["isolates"] for s in i["sequences"] if s.get("remote")}
            document, rows = otu_build(
                source,
                otu_id=old["_id"],
                reference_id=self.reference_id,
                version=old["version"],
                imported=old["imported"],
                remote=True,
                last_indexed_version=old["last_indexed_version"],
                sequence_id=lambda s, known=known: known.get(s["_id"]) or new_id(),
            )
            if document == old:
                self.counts["unchanged"] += 1
                continue
            document["version"] = rows.otu["version"] = old["version"] + 1
            change = change_build(
                method_name="update", description=f"Updated {otu_label(document)} from {self.origin}",
                old=old, new=document, user=self.user, created_at=self.created_at,
            )
            replaced.append(OTU(**{k: v for k, v in rows.otu.items() if k != "created_at"}))
            writes.append((rows, change, False))
            self.counts["updated"] += 1
        if replaced:
            # Their isolates and sequences are written anew (sequence ids are kept); the OTU
            # rows are updated in place, so nothing that refers to them is touched.
            ids = [otu.id for otu in replaced]
            Sequence.objects.filter(otu_id__in=ids).delete()
            Isolate.objects.filter(otu_id__in=ids).delete()
            OTU.objects.bulk_update(
                replaced, ["name", "abbreviation", "schema", "taxid", "version", "verified", "remote_id"], batch_size=200
            )
        for rows, change, new_otu in writes:
            self.writer.add(rows, change, new_otu=new_otu)
        self.writer.flush()

    def remove_missing(self, remote_ids: set[str]):
        """Remove the remote OTUs that the release no longer has."""
        removed = [otu_id for remote_id, otu_id in self.existing.items() if remote_id not in remote_ids]
        for remote_id in [r for r in self.existing if r not in remote_ids]:
            del self.existing[remote_id]
        Reference.all_objects.filter(id=self.reference_id, internal_control__in=removed).update(internal_control=None)
        for start in range(0, len(removed), 500):
            chunk = removed[start : start + 500]
            for document in otu_documents_iter(OTU.objects.filter(id__in=chunk)):
                self.writer.add_change(
                    change_build(
                        method_name="remove", description=f"Removed {otu_label(document)}: not in {self.origin}",
                        old=document, new=None, user=self.user, created_at=self.created_at,
                    )
                )
            Sequence.objects.filter(otu_id__in=chunk).delete()
            Isolate.objects.filter(otu_id__in=chunk).delete()
            OTU.objects.filter(id__in=chunk).delete()
            self.counts["removed"] += len(chunk)


def reference_update_run(*, reference_id: str, process_id: str | None, user_id=None) -> None:
    """The update_remote_reference task."""
    with process_run(process_id) as progress:
        if progress is None:
            return
        release = Process.objects.get(id=process_id).context.get("release") or {}
        progress.step("download")
        with _downloaded(release) as path:
            reference_remote_update(
                reference_id=reference_id, path=path, release=release, user=_user(user_id), progress=progress
            )


# Deletion ----------------------------------------------------------------------------------


def reference_delete_run(*, reference_id: str, process_id: str | None, extra: Progress | None = None) -> None:
    """The delete_reference task: indexes and their files, then OTUs, isolates, sequences and
    history, then the Reference row. Each step is idempotent: a re-run finishes the job."""
    from indexes.models import Index
    from virtool_site.files import data_path

    with process_run(process_id, extra=extra) as progress:
        if progress is None:
            return
        reference = Reference.all_objects.filter(id=reference_id).first()
        if reference is not None and not reference.deleted:
            raise TransferError("Reference is not marked for deletion")
        progress.step("delete_indexes")
        with reference_lock(reference_id):
            with transaction.atomic():
                reference_revision_bump(reference_ids=reference_id)
                Index.objects.filter(reference_id=reference_id).delete()
            shutil.rmtree(data_path("references", reference_id), ignore_errors=True)
            progress.step("delete_otus")
            with transaction.atomic():
                reference_revision_bump(reference_ids=reference_id)
                Change.objects.filter(reference_id=reference_id).delete()
                Sequence.objects.filter(otu__reference_id=reference_id).delete()
                Isolate.objects.filter(otu__reference_id=reference_id).delete()
                OTU.objects.filter(reference_id=reference_id).delete()
                Reference.all_objects.filter(id=reference_id).delete()


# Export ------------------------------------------------------------------------------------


def _built_documents(reference: Reference) -> Iterator[dict]:
    """Each OTU as it was at its last build (never-built OTUs are left out); OTUs removed
    since the latest ready index come from their removal Change."""
    from indexes.models import Index

    queryset = OTU.objects.filter(reference_id=reference.id, last_indexed_version__isnull=False)
    for document in otu_documents_iter(queryset):
        version = document["last_indexed_version"]
        if document["version"] != version:
            document = otu_document_at_version(otu_id=document["_id"], version=version, current=document)
        if document is not None:
            yield document
    latest = Index.objects.filter(reference_id=reference.id, ready=True).order_by("-version").first()
    if latest is not None and isinstance(latest.manifest, dict) and latest.manifest:
        present = set(OTU.objects.filter(reference_id=reference.id).values_list("id", flat=True))
        for otu_id, version in latest.manifest.items():
            if otu_id in present:
                continue
            try:
                version = int(version)
            except (TypeError, ValueError):
                continue
            document = otu_document_at_version(otu_id=otu_id, version=version, current=None)
            if document is not None:
                yield document


def reference_export_documents(*, reference: Reference, scope: str) -> Iterator[dict]:
    if scope not in EXPORT_SCOPES:
        raise InvalidInput("Invalid query", errors={"scope": [f"Must be one of {', '.join(EXPORT_SCOPES)}."]})
    if scope == "built":
        return _built_documents(reference)
    return otu_documents_iter(OTU.objects.filter(reference_id=reference.id))


def _export_header(reference: Reference) -> dict:
    return {
        "name": reference.name,
        "organism": reference.organism,
        "data_type": reference.data_type,
        "created_at": timezone.now(),
    }


def reference_export_stream(*, reference: Reference, scope: str) -> Iterable[bytes]:
    """The gzipped reference file, streamed (export endpoint)."""
    documents = reference_export_documents(reference=reference, scope=scope)
    return reference_file_stream(otu_documents=documents, **_export_header(reference))


def reference_export_write(
    *, reference: Reference, scope: str, path, on_otu: Callable[[], None] | None = None
) -> int:
    """Write the reference file to `path` (via a temporary file renamed at the end)."""
    path = Path(path)
    documents = reference_export_documents(reference=reference, scope=scope)
    if on_otu:
        documents = _tap(documents, on_otu)
    temporary = path.with_name(f".{path.name}.{random_id()}.part")
    try:
        with open(temporary, "wb") as handle:
            size = reference_file_write(handle, otu_documents=documents, **_export_header(reference))
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
    return size


def _tap(documents, callback):
    for document in documents:
        callback()
        yield document


# Request-time services ---------------------------------------------------------------------


def _reference_new(*, user, name, description, organism, data_type, public, **fields) -> Reference:
    from refs.services import reference_create

    return reference_create(
        user=user,
        name=name,
        description=description or "",
        organism=organism or "",
        data_type=data_type or "genome",
        public=bool(public),
        **fields,
    )


def _queue(task, *args):
    # 503 now when the broker is down (the transaction rolls back); published on commit.
    # Every task here takes (reference_id, process_id, ...): a late publish failure fails it.
    task_enqueue(task, *args, process_id=args[1])


def _context(user, reference_id: str, **extra) -> dict:
    return {"ref_id": reference_id, "user_id": user.username if user else None, **extra}


def reference_create_import(
    *, user, upload_id: str, name: str, description: str = "", organism: str = "", data_type: str = "genome",
    public: bool = False,
) -> Reference:
    """A new reference, filled from an uploaded reference file by the import_reference task."""
    from refs import tasks

    with transaction.atomic():
        upload = Upload.objects.select_for_update().filter(id=upload_id or "").first()
        if upload is None or not upload.ready:
            raise BadRequest("File not found")
        if upload.type != "reference":
            raise BadRequest("File is not a reference file")
        upload.reserved = True
        upload.save(update_fields=["reserved"])
        reference_id = random_id()
        process = process_create(
            process_type="import_reference", steps=IMPORT_STEPS, user=user,
            context=_context(user, reference_id, upload_id=upload.id),
        )
        reference = _reference_new(
            user=user, name=name, description=description, organism=organism, data_type=data_type, public=public,
            id=reference_id, process=process,
            imported_from={"id": upload.id, "name": upload.name, "user": {"id": user.username}},
        )
        _queue(tasks.import_reference, reference.id, process.id, upload.id, user.pk)
    return reference


def reference_create_clone(
    *, user, source_id: str, name: str, description: str = "", organism: str = "", data_type: str = "genome",
    public: bool = False,
) -> Reference:
    """A new reference with a copy of every OTU of a reference the user can see."""
    from refs import tasks
    from refs.permissions import references_visible

    source = references_visible(user).filter(id=source_id or "").first()
    if source is None:
        raise BadRequest("Source reference does not exist")
    with transaction.atomic():
        reference_id = random_id()
        process = process_create(
            process_type="clone_reference", steps=CLONE_STEPS, user=user,
            context=_context(user, reference_id, source_id=source.id),
        )
        reference = _reference_new(
            user=user,
            name=name or f"Clone of {source.name}",
            description=description,
            organism=organism or source.organism,
            # The copied OTUs are of the source's kind, whatever the request says.
            data_type=source.data_type,
            public=public,
            id=reference_id,
            process=process,
            cloned_from={"id": source.id, "name": source.name},
            restrict_source_types=source.restrict_source_types,
            source_types=list(source.source_types or []),
        )
        _queue(tasks.clone_reference, reference.id, process.id, source.id, user.pk)
    return reference


def reference_create_remote(
    *, user, slug: str, name: str, description: str = "", organism: str = "", data_type: str = "genome",
    public: bool = False,
) -> Reference:
    """A new reference installed from the latest release of a GitHub repository."""
    from refs import tasks
    from refs.remotes import (
        RemoteError,
        RemoteUnavailable,
        release_latest,
        release_retrieved,
        slug_valid,
        update_document,
    )

    if not slug_valid(slug):
        raise InvalidInput(
            "Invalid input",
            errors={"remote_from": ["Must be a GitHub repository such as virtool/ref-plant-viruses."]},
        )
    try:
        release = release_latest(slug)
    except RemoteUnavailable as error:
        raise ServiceUnavailable("Could not reach GitHub") from error
    except RemoteError as error:
        raise BadRequest(str(error)) from error
    with transaction.atomic():
        reference_id = random_id()
        process = process_create(
            process_type="remote_reference", steps=REMOTE_STEPS, user=user,
            context=_context(user, reference_id, slug=slug, release=release),
        )
        reference = _reference_new(
            user=user,
            name=name or slug,
            description=description,
            organism=organism,
            data_type=data_type,
            public=public,
            id=reference_id,
            process=process,
            remotes_from={"slug": slug, "errors": []},
            release=release_retrieved(release, installed=None),
            installed=None,
            updates=[update_document(release, user=user)],
        )
        _queue(tasks.remote_reference, reference.id, process.id, user.pk)
    return reference


def reference_delete(*, user, reference: Reference, queue: bool = True) -> Process:
    """Hide the reference at once and queue the deletion of everything in it (`queue=False`:
    the caller runs `reference_delete_run` itself).

    Rights are the caller's business (the `remove` right).
    """
    from refs import tasks

    with transaction.atomic():
        process = process_create(
            process_type="delete_reference", steps=DELETE_STEPS, user=user, context=_context(user, reference.id)
        )
        reference_revision_bump(reference_ids=reference.id)
        if not Reference.objects.filter(id=reference.id).update(deleted=True, process=process):
            raise NotFound()
        if queue:
            _queue(tasks.delete_reference, reference.id, process.id)
    reference.deleted = True
    return process


def _process_running(reference: Reference) -> bool:
    if reference.process_id is None:
        return False
    return Process.objects.filter(id=reference.process_id, complete=False).exists()


def reference_release_check(*, reference: Reference) -> dict:
    """Ask GitHub for the latest release; store it with `newer` and return it.

    When GitHub cannot be reached, the error is kept in `remotes_from.errors` and the stored
    release is returned.
    """
    from refs.remotes import RemoteError, release_latest, release_retrieved

    if not reference.remotes_from:
        raise BadRequest("Not a remote reference")
    stored = reference.release or {}
    remotes_from = dict(reference.remotes_from)
    try:
        release = release_latest(remotes_from.get("slug", ""), etag=stored.get("etag"))
        remotes_from["errors"] = []
    except RemoteError as error:
        release = None
        remotes_from["errors"] = [str(error)]
    if release is None:
        release = {k: v for k, v in stored.items() if k not in ("newer", "retrieved_at")}
    release = release_retrieved(release, installed=reference.installed) if release else None
    with transaction.atomic():
        reference_revision_bump(reference_ids=reference.id)
        Reference.all_objects.filter(id=reference.id).update(release=release, remotes_from=remotes_from)
    reference.release, reference.remotes_from = release, remotes_from
    return release or {}


def reference_update_remote(*, user, reference: Reference) -> tuple[dict, Process]:
    """Queue the installation of the stored newer release: the new `updates` entry and the
    process. The caller checks the `modify` right."""
    from refs import tasks
    from refs.remotes import update_document

    if not reference.remotes_from:
        raise BadRequest("Not a remote reference")
    with transaction.atomic():
        reference_revision_bump(reference_ids=reference.id)  # also locks the row
        reference = Reference.objects.filter(id=reference.id).first()
        if reference is None:
            raise NotFound()
        release = reference.release
        if not release or not release.get("download_url"):
            raise BadRequest("Target release does not exist")
        if _process_running(reference):
            raise Conflict("A process is already running on this reference")
        if (reference.installed or {}).get("id") == release.get("id"):
            raise Conflict("Latest release is already installed")
        release = {k: v for k, v in release.items() if k not in ("newer", "retrieved_at")}
        process = process_create(
            process_type="update_remote_reference", steps=UPDATE_STEPS, user=user,
            context=_context(user, reference.id, release=release),
        )
        update = update_document(release, user=user)
        updates = [u for u in reference.updates or [] if u.get("id") != release.get("id")] + [update]
        Reference.objects.filter(id=reference.id).update(updates=updates, process=process)
        _queue(tasks.update_remote_reference, reference.id, process.id, user.pk)
    return update, process
