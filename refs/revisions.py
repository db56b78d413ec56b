"""Reference revisions: one number per reference that every write to its data raises.

A reference's API answers (its OTU pages, OTU documents, history, ready indexes, its line in
the reference list) are functions of its rows. `Reference.revision` is raised in the same
transaction as any write to them, so an answer cached under (reference, revision) can never
outlive the data it was built from: the new number becomes visible in the very commit that
makes the new data visible (virtool_site.api.cache).

Writers call `reference_revision_bump` first thing in their transaction, before they lock
any OTU row: the bump takes the reference row's lock, so writers of one reference queue on it
in one order and never deadlock with one another (an index build also locks the reference
before its OTUs). The test suite holds every write path to that (conftest's revision guard).

Reads here are written in SQL, not built with the ORM: they run on every cached read, where
building and compiling a queryset would cost more than the cache saves.
"""

from django.db import connections

from refs.models import OTU, Reference
from refs.permissions import references_visible_sql


def _connection():
    return connections[Reference.objects.db]


def reference_revision_bump(*, reference_ids) -> None:
    """Raise the revision of the reference(s) `reference_ids` (an id or ids); call inside the
    writing transaction, before locking the reference's OTUs."""
    ids = [reference_ids] if isinstance(reference_ids, str) else sorted(set(reference_ids))
    if not ids:
        return
    connection = _connection()
    quote = connection.ops.quote_name
    table, revision, pk = quote(Reference._meta.db_table), quote("revision"), quote("id")
    placeholders = ", ".join(["%s"] * len(ids))
    sql = f"UPDATE {table} SET {revision} = {revision} + 1 WHERE {pk} IN ({placeholders})"
    if connection.vendor == "postgresql":
        # Marks the transaction as one that bumped: the test suite's guard trigger reads it.
        sql += " RETURNING set_config('virtool.revision_bumped', 'on', true)"
    with connection.cursor() as cursor:
        cursor.execute(sql, ids)


def references_revision_bump_all() -> None:
    """Raise every reference's revision: for writes every cached answer may show (a renamed user)."""
    reference_revision_bump(reference_ids=list(Reference.all_objects.values_list("id", flat=True)))


def revision_visible(*, user, model, object_id: str, columns: tuple[str, ...] = ()) -> tuple | None:
    """(reference id, revision, *`columns` of the object) for the object `object_id` of `model`
    (Reference itself, or a model with a `reference` foreign key) when `user` may see it; None
    when it does not exist or they may not."""
    quote = _connection().ops.quote_name
    condition, params = references_visible_sql(user, "r")
    references = quote(Reference._meta.db_table)
    selected = ", ".join([f"r.{quote('id')}", f"r.{quote('revision')}", *(f"o.{quote(c)}" for c in columns)])
    if model is Reference:
        source = f"{references} r"
        key = f"r.{quote('id')}"
    else:
        source = f"{quote(model._meta.db_table)} o INNER JOIN {references} r ON r.{quote('id')} = o.{quote('reference_id')}"
        key = f"o.{quote('id')}"
    with _connection().cursor() as cursor:
        cursor.execute(f"SELECT {selected} FROM {source} WHERE {key} = %s AND {condition}", [object_id, *params])
        return cursor.fetchone()


def reference_revision_visible(*, user, reference_id: str) -> int | None:
    """The reference's revision, or None when it does not exist or `user` may not see it."""
    found = revision_visible(user=user, model=Reference, object_id=reference_id)
    return found[1] if found else None


def otu_reference_revision_visible(*, user, otu_id: str) -> tuple[str, int] | None:
    """(reference id, revision) of the OTU's reference, or None when `user` may not see the OTU."""
    return revision_visible(user=user, model=OTU, object_id=otu_id)


def references_revisions_visible(*, user) -> list[tuple[str, int]]:
    """(id, revision) of every reference `user` may see, by id."""
    quote = _connection().ops.quote_name
    condition, params = references_visible_sql(user, "r")
    with _connection().cursor() as cursor:
        cursor.execute(
            f"SELECT r.{quote('id')}, r.{quote('revision')} FROM {quote(Reference._meta.db_table)} r "
            f"WHERE {condition} ORDER BY r.{quote('id')}",
            params,
        )
        return cursor.fetchall()
