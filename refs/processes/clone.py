"""Clone: every OTU of a reference copied (new ids) into a new one, with a clone Change each.

All reads see one snapshot of the source (REPEATABLE READ), and everything is written in one
transaction. On PostgreSQL rows are copied by INSERT ... SELECT and the Changes built by the
database, so sequences never travel through Python; elsewhere the OTU documents are read and
written again with refs.processes.writer.
"""

from contextlib import contextmanager

from django.db import connection, transaction
from django.utils import timezone

from refs.documents import otu_documents_iter
from refs.models import OTU, Isolate, Reference, Sequence
from refs.processes.common import (
    TransferError,
    process_user,
    reference_fill_run,
    reference_lock,
    reference_written,
)
from refs.processes.history_sql import CreationHistory
from refs.processes.rows import new_id, otu_build
from refs.processes.writer import BulkWriter
from refs.revisions import reference_revision_bump
from virtool_site import bulk_copy
from virtool_site.ids import random_id
from virtool_site.processes import Progress


@contextmanager
def _snapshot_atomic():
    """One transaction whose reads all see one snapshot (REPEATABLE READ on PostgreSQL)."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def reference_clone_copy(*, reference_id: str, source_id: str, user, progress: Progress) -> dict | None:
    """Copy every OTU of the source (new ids) with a clone Change each, in one transaction
    whose reads all see one snapshot of the source."""
    created_at = timezone.now()
    with reference_lock(reference_id), _snapshot_atomic():
        reference = Reference.all_objects.filter(id=reference_id).first()
        if reference is None or reference.deleted:
            return None
        reference_revision_bump(reference_ids=reference_id)
        if reference_written(reference_id):
            return {"skipped": True}
        source = Reference.all_objects.filter(id=source_id, deleted=False).first()
        if source is None:
            raise TransferError("Source reference does not exist")
        creation = CreationHistory(
            method_name="clone", verb="Cloned", origin=source.name, user=user, created_at=created_at
        )
        progress.step("copy_otus")
        if bulk_copy.copy_available():
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
            bulk_copy.copy_tuples(cursor, table, ["old_id", "new_id"], pairs)
        cursor.execute(
            f"INSERT INTO {isolate_map} (old_id, new_id) "
            f"SELECT i.id, nextval(pg_get_serial_sequence(%s, 'id')) FROM {isolate_table} i "
            f"JOIN {otu_map} m ON m.old_id = i.otu_id",
            [Isolate._meta.db_table],
        )
        isolate_count = cursor.rowcount
        columns, select = bulk_copy.insert_select_lists(
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
        columns, select = bulk_copy.insert_select_lists(Isolate, "i", {"id": "im.new_id", "otu_id": "om.new_id"})
        cursor.execute(
            f"INSERT INTO {isolate_table} ({columns}) SELECT {select} FROM {isolate_table} i "
            f"JOIN {isolate_map} im ON im.old_id = i.id JOIN {otu_map} om ON om.old_id = i.otu_id",
        )
        progress.fraction(0.3)
        columns, select = bulk_copy.insert_select_lists(
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
    """The clone_reference task (the new reference goes if the clone fails:
    refs.processes.common.reference_fill_run)."""
    with reference_fill_run(process_id, reference_id=reference_id, extra=extra) as progress:
        if progress is None:
            return
        reference_clone_copy(reference_id=reference_id, source_id=source_id, user=process_user(user_id), progress=progress)
