"""Reference revisions: one number per reference that every write to its data raises, first.

Writers call `reference_revision_bump` first thing in their transaction, before they lock
any OTU row: the bump takes the reference row's lock, so writers of one reference queue on it
in one order and never deadlock with one another (an index build also locks the reference
before its OTUs). The test suite holds every write path to that (refs.testing's revision
guard). `Reference.revision` counts the commits that changed the reference's data.
"""

from django.db import connections

from refs.models import Reference
from virtool_site.errors import NotFound


def _connection():
    return connections[Reference.objects.db]


def reference_revision_bump(*, reference_ids) -> set[str]:
    """Raise the revision of the reference(s) `reference_ids` (an id or ids); call inside the
    writing transaction, before locking the reference's OTUs. Returns the ids among them that
    are live (their row exists and their deletion has not started), read by the same UPDATE."""
    ids = [reference_ids] if isinstance(reference_ids, str) else sorted(set(reference_ids))
    if not ids:
        return set()
    connection = _connection()
    quote = connection.ops.quote_name
    table, revision, pk, deleted = quote(Reference._meta.db_table), quote("revision"), quote("id"), quote("deleted")
    placeholders = ", ".join(["%s"] * len(ids))
    sql = f"UPDATE {table} SET {revision} = {revision} + 1 WHERE {pk} IN ({placeholders}) RETURNING {pk}, {deleted}"
    if connection.vendor == "postgresql":
        # Marks the transaction as one that bumped: the test suite's guard trigger reads it.
        sql += ", set_config('virtool.revision_bumped', 'on', true)"
    with connection.cursor() as cursor:
        cursor.execute(sql, ids)
        return {found[0] for found in cursor.fetchall() if not found[1]}


def reference_revision_bump_live(*, reference_id: str) -> None:
    """Raise the reference's revision, then NotFound unless it is still live. A writer checks
    visibility before it waits for the reference's lock: a reference deleted (marked, or its
    row gone) meanwhile must not take the write (a gone row would fail a foreign key at
    commit, a 500); once the lock is held, no deletion can start."""
    if reference_id not in reference_revision_bump(reference_ids=reference_id):
        raise NotFound()


def references_revision_bump_all() -> None:
    """Raise every reference's revision, in id order: for writes that may touch the data of any
    reference (deleting a user or a group removes rights entries and authorship)."""
    reference_revision_bump(reference_ids=list(Reference.all_objects.values_list("id", flat=True)))
