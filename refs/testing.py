"""The revision guard: the test suite's check that every write path raises the revision first.

Writers of a reference's data take the reference's row lock first, by raising its revision
(`refs.revisions.reference_revision_bump`), so that writers of one reference queue in one
order and never deadlock (row locks taken in different orders by two transactions would). A
write path that forgets it is a deadlock waiting for load. On PostgreSQL the test database gets
a trigger on each table of a reference's data; while a request made by a test client is being
answered, a write to one of them in a transaction that has not bumped a revision first fails
loudly.

Writes made by the tests themselves (factories, fixtures) are outside requests and unguarded.
"""

from django.db import connection

#: Tables of a reference's data, and the writes checked on each. Index files are not among
#: them: an unfinished index's are uploaded under the index's lock alone (indexes.services), and
#: a ready index's files change only with the index row, which is guarded.
GUARDED_TABLES = {
    "refs_reference": "UPDATE OR DELETE",
    "refs_otu": "INSERT OR UPDATE OR DELETE",
    "refs_isolate": "INSERT OR UPDATE OR DELETE",
    "refs_sequence": "INSERT OR UPDATE OR DELETE",
    "history_change": "INSERT OR UPDATE OR DELETE",
    "indexes_index": "INSERT OR UPDATE OR DELETE",
    "refs_referenceuser": "INSERT OR UPDATE OR DELETE",
    "refs_referencegroup": "INSERT OR UPDATE OR DELETE",
}

GUARD_FUNCTION = """
CREATE OR REPLACE FUNCTION virtool_revision_guard() RETURNS trigger AS $$
BEGIN
    IF current_setting('virtool.revision_guard', true) = 'on'
       AND coalesce(current_setting('virtool.revision_bumped', true), '') <> 'on' THEN
        RAISE EXCEPTION 'revision guard: % on % before reference_revision_bump in this transaction',
            TG_OP, TG_TABLE_NAME;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""


def revision_guard_install() -> bool:
    """Create the guard's triggers in the (test) database; False where it cannot (not PostgreSQL)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(GUARD_FUNCTION)
        for table, events in GUARDED_TABLES.items():
            cursor.execute(f'DROP TRIGGER IF EXISTS virtool_revision_guard ON "{table}"')
            cursor.execute(
                f'CREATE TRIGGER virtool_revision_guard AFTER {events} ON "{table}" '
                "FOR EACH ROW EXECUTE FUNCTION virtool_revision_guard()"
            )
    return True


def _guard_set(on: bool) -> None:
    # On the driver's own cursor: the guard's statements are not the request's queries (tests
    # count those).
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        if on:
            # Session-wide switch; the bump mark is transaction-local and starts unset.
            cursor.execute(
                "SELECT set_config('virtool.revision_guard', 'on', false), "
                "set_config('virtool.revision_bumped', '', true)"
            )
        else:
            cursor.execute("SELECT set_config('virtool.revision_guard', 'off', false)")


class RevisionGuardMiddleware:
    """Arms the guard around each request a test client makes (tests add it to MIDDLEWARE)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if connection.vendor != "postgresql":
            return self.get_response(request)
        try:
            _guard_set(True)
        except Exception:  # the database is down (fault tests): the view meets the same error
            return self.get_response(request)
        try:
            return self.get_response(request)
        finally:
            try:
                _guard_set(False)
            except Exception:  # a broken connection (fault tests) has no guard left to disarm
                pass
