"""OTUs, isolates, sequences and their Changes written in batches, inside one transaction.

On PostgreSQL rows go by COPY (virtool_site.bulk_copy) and the Change of each new OTU is built
by the database from its rows (refs.processes.history_sql); elsewhere (the embedded SQLite)
the same rows are written with bulk_create.
"""

from collections.abc import Callable

from django.db import connection

from history.models import Change
from refs.models import OTU, Isolate, Sequence
from refs.processes.history_sql import CreationHistory
from refs.processes.rows import OTURows
from virtool_site import bulk_copy


class BulkWriter:
    """New rows of OTUs, isolates and sequences and their Changes, written in batches.

    `add` buffers and flushes past a size; `write_history` writes the Changes last. With a
    `creation` history on PostgreSQL the database builds each new OTU's Change from its rows;
    Changes given to `add` (updates, removals) are spooled to a temporary file as COPY text.
    Elsewhere: bulk_create. Use inside one transaction.
    """

    BATCH_BYTES = 8 * 1024 * 1024
    BATCH_OTUS = 500

    def __init__(self, *, creation: CreationHistory | None = None):
        self.postgres = bulk_copy.copy_available()
        self.creation = creation
        self.sql_history = self.postgres and creation is not None
        self.otus: list[dict] = []
        self.isolates: list[dict] = []
        self.sequences: list[dict] = []
        self.pending_changes: list[Change] = []
        self.pending_bytes = 0
        self.created_ids: list[str] = []
        self.changes: list[Change] = []
        self.spool = bulk_copy.CopySpool(Change)
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

    def _flush_copy(self):
        with connection.cursor() as cursor:
            if self.isolates:
                for row, pk in zip(self.isolates, bulk_copy.serial_ids(cursor, Isolate, len(self.isolates))):
                    row["id"] = pk
            for row in self.sequences:
                row["isolate_id"] = row["_isolate"]["id"]
            bulk_copy.copy_rows(cursor, OTU, self.otus)
            bulk_copy.copy_rows(cursor, Isolate, self.isolates)
            bulk_copy.copy_rows(cursor, Sequence, self.sequences)
        self.spool.add(self.pending_changes)

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
            if self.spool.segments:
                with connection.cursor() as cursor, bulk_copy.lz4_toast_compression(cursor):
                    self.spool.copy(cursor, progress)
        else:
            for start in range(0, len(self.changes), 100):
                Change.objects.bulk_create(self.changes[start : start + 100])
                if progress:
                    progress(min(start + 100, len(self.changes)) / len(self.changes))
        self.close()

    def close(self):
        self.spool.close()
        self.changes = []
