"""Site-wide reads: users, groups, processes, jobs, uploads (and which stored uploads are
live), health.

The API's GET answers are read in SQL into the plain dicts the API returns (virtool_site.reads),
spelled as the serializers of virtool_site.api.serializers (which document them) spell them.
"""

from django.db import connection

from virtool_site.errors import NotFound
from virtool_site.models import PERMISSIONS, Upload, User
from virtool_site.reads import api_time, flag, json_value, page_read, placeholders, row, rows
from virtool_site.storage import StorageUnavailable, storage_check

_FLAGS = ", ".join(f"{{alias}}.{name}" for name in PERMISSIONS)


# Users and groups ----------------------------------------------------------------------------


def users_list():
    """Users as models (writes answer with UserSerializer), their groups' flags prefetched."""
    return User.objects.order_by("username").prefetch_related("groups__virtool_permissions")


_USER_SQL = (
    "SELECT u.id, u.username, u.is_superuser, u.is_active, u.date_joined, " + _FLAGS.format(alias="u")
    + "{extra} FROM virtool_site_user u"
)


def _users_documents(found: list[tuple]) -> list[dict]:
    """UserSerializer's documents of user rows, with their groups (one query for all): a user's
    permissions are their own flags or'ed with their groups' (all for administrators)."""
    groups: dict[int, list] = {}
    if found:
        ids = [values[0] for values in found]
        for user_pk, name, *flags in rows(
            f"""SELECT ug.user_id, g.name, {_FLAGS.format(alias="p")} FROM virtool_site_user_groups ug
            INNER JOIN auth_group g ON g.id = ug.group_id
            LEFT JOIN virtool_site_grouppermissions p ON p.group_id = g.id
            WHERE ug.user_id IN ({placeholders(ids)}) ORDER BY g.name""",
            ids,
        ):
            groups.setdefault(user_pk, []).append((name, flags))
    documents = []
    for user_pk, username, superuser, active, joined, *own in found:
        memberships = groups.get(user_pk, ())
        if superuser:
            permissions = dict.fromkeys(PERMISSIONS, True)
        else:
            permissions = {name: flag(value) for name, value in zip(PERMISSIONS, own)}
            for _, flags in memberships:
                if flags[0] is not None:  # a group without its permissions row grants nothing
                    for name, value in zip(PERMISSIONS, flags):
                        permissions[name] = permissions[name] or flag(value)
        documents.append(
            {
                "id": username,
                "handle": username,
                "administrator": flag(superuser),
                "active": flag(active),
                "permissions": permissions,
                "groups": [{"id": name, "name": name} for name, _ in memberships],
                "created_at": api_time(joined),
            }
        )
    return documents


def users_page(*, request) -> dict:
    """GET /api/users: every user, by username."""

    def fetch(limit, offset):
        found = rows(
            _USER_SQL.format(extra=", COUNT(*) OVER ()") + " ORDER BY u.username LIMIT %s OFFSET %s", [limit, offset]
        )
        return _users_documents([values[:-1] for values in found]), (found[0][-1] if found else None)

    return page_read(request, fetch=fetch, count=lambda: row("SELECT COUNT(*) FROM virtool_site_user")[0])


def user_document(*, username: str) -> dict:
    """GET /api/users/{id}."""
    found = rows(_USER_SQL.format(extra="") + " WHERE u.username = %s", [username])
    if not found:
        raise NotFound()
    return _users_documents(found)[0]


def _groups_documents(found: list[tuple]) -> list[dict]:
    """GroupSerializer's documents of (pk, name, *flags) rows, with their members (one query)."""
    members: dict[int, list[str]] = {}
    if found:
        ids = [values[0] for values in found]
        for group_pk, username in rows(
            f"""SELECT ug.group_id, u.username FROM virtool_site_user_groups ug
            INNER JOIN virtool_site_user u ON u.id = ug.user_id
            WHERE ug.group_id IN ({placeholders(ids)}) ORDER BY u.username""",
            ids,
        ):
            members.setdefault(group_pk, []).append(username)
    return [
        {
            "id": name,
            "name": name,
            "permissions": {name: flag(value) or False for name, value in zip(PERMISSIONS, flags)},
            "users": members.get(group_pk, []),
        }
        for group_pk, name, *flags in found
    ]


_GROUP_SQL = (
    "SELECT g.id, g.name, " + _FLAGS.format(alias="p")
    + " FROM auth_group g LEFT JOIN virtool_site_grouppermissions p ON p.group_id = g.id"
)


def groups_list() -> list[dict]:
    """GET /api/groups: every group, by name."""
    return _groups_documents(rows(_GROUP_SQL + " ORDER BY g.name"))


def group_document(*, name: str) -> dict:
    """GET /api/groups/{id}."""
    found = rows(_GROUP_SQL + " WHERE g.name = %s", [name])
    if not found:
        raise NotFound()
    return _groups_documents(found)[0]


# Processes, jobs, uploads --------------------------------------------------------------------

_PROCESS_SQL = """SELECT p.id, p.type, p.step, p.steps, p.progress, p.complete, p.error, p.context, p.created_at
FROM virtool_site_process p"""


def _process_document(values: tuple) -> dict:
    process_id, process_type, step, steps, progress, complete, error, context, created_at = values
    return {
        "id": process_id,
        "type": process_type,
        "step": step,
        "step_count": len(json_value(steps)),
        "progress": float(progress),
        "complete": flag(complete),
        "error": json_value(error),
        "context": json_value(context),
        "created_at": api_time(created_at),
    }


def processes_list(*, user, limit: int) -> list[dict]:
    """GET /api/processes: the newest `limit` processes (a user's own; all for administrators)."""
    where, params = ("", []) if user.is_superuser else (" WHERE p.user_id = %s", [user.pk])
    found = rows(_PROCESS_SQL + where + " ORDER BY p.created_at DESC LIMIT %s", [*params, limit])
    return [_process_document(values) for values in found]


def process_document(*, user, process_id: str) -> dict:
    """GET /api/processes/{id}: 404 for another user's process (administrators see all)."""
    where, params = ("", []) if user.is_superuser else (" AND p.user_id = %s", [user.pk])
    found = row(_PROCESS_SQL + " WHERE p.id = %s" + where, [process_id, *params])
    if found is None:
        raise NotFound()
    return _process_document(found)


_JOB_SQL = """SELECT j.id, j.workflow, j.state, j.progress, j.error, j.args, u.username, j.created_at, j.updated_at{extra}
FROM virtool_site_job j LEFT JOIN virtool_site_user u ON u.id = j.user_id"""


def _job_document(values: tuple) -> dict:
    job_id, workflow, state, progress, error, args, username, created_at, updated_at = values[:9]
    return {
        "id": job_id,
        "workflow": workflow,
        "state": state,
        "progress": float(progress),
        "error": json_value(error),
        "args": json_value(args),
        "user": None if username is None else {"id": username},
        "created_at": api_time(created_at),
        "updated_at": api_time(updated_at),
    }


def jobs_page(*, request) -> dict:
    """GET /api/jobs: the newest first (a user's own; all for administrators)."""
    user = request.user
    where, params = ("", []) if user.is_superuser else (" WHERE j.user_id = %s", [user.pk])

    def fetch(limit, offset):
        found = rows(
            _JOB_SQL.format(extra=", COUNT(*) OVER ()") + where + " ORDER BY j.created_at DESC LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
        return [_job_document(values) for values in found], (found[0][-1] if found else None)

    return page_read(request, fetch=fetch, count=lambda: row("SELECT COUNT(*) FROM virtool_site_job j" + where, params)[0])


def job_document(*, user, job_id: str) -> dict:
    """GET /api/jobs/{id}: a user's own job (any for administrators); a job runner its own."""
    where, params = " WHERE j.id = %s", [job_id]
    if getattr(user, "is_job", False):
        if user.job.id != job_id:
            raise NotFound()
    elif not user.is_superuser:
        where, params = where + " AND j.user_id = %s", [job_id, user.pk]
    found = row(_JOB_SQL.format(extra="") + where, params)
    if found is None:
        raise NotFound()
    return _job_document(found)


_UPLOAD_SQL = """SELECT p.id, p.name, p.type, p.size, u.username, p.ready, p.reserved, p.created_at{extra}
FROM virtool_site_upload p LEFT JOIN virtool_site_user u ON u.id = p.user_id"""


def _upload_document(values: tuple) -> dict:
    upload_id, name, upload_type, size, username, ready, reserved, created_at = values[:8]
    created_at = api_time(created_at)
    return {
        "id": upload_id,
        "name": name,
        "name_on_disk": upload_id,
        "type": upload_type,
        "size": size,
        "user": None if username is None else {"id": username},
        "ready": flag(ready),
        "reserved": flag(reserved),
        "created_at": created_at,
        "uploaded_at": created_at,
    }


def uploads_page(*, request, upload_type: str | None = None) -> dict:
    """GET /api/uploads: newest first, of one type when `upload_type` is given."""
    where, params = (" WHERE p.type = %s", [upload_type]) if upload_type else ("", [])

    def fetch(limit, offset):
        found = rows(
            _UPLOAD_SQL.format(extra=", COUNT(*) OVER ()") + where + " ORDER BY p.created_at DESC LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
        return [_upload_document(values) for values in found], (found[0][-1] if found else None)

    return page_read(request, fetch=fetch, count=lambda: row("SELECT COUNT(*) FROM virtool_site_upload p" + where, params)[0])


def upload_keys_live(keys: list[str]) -> set[str]:
    """The keys (`uploads/{id}`) of uploads that exist (storage sweep)."""
    ids = {key.split("/", 1)[1]: key for key in keys if "/" in key}
    existing = Upload.objects.filter(id__in=list(ids)).values_list("id", flat=True)
    return {ids[upload_id] for upload_id in existing}


def health_check() -> dict:
    """Reachability of the database, Redis (when configured) and the file store.

    Each part is "ok" or "error: <kind of error>" (Redis "unconfigured" when REDIS_URL is
    unset); any error makes the whole "unavailable". The store is the one every process writes
    to: DATA_DIR writable for local files, the bucket answering for S3, so a web host or a
    worker that cannot reach the bucket says so here rather than on its first upload.
    """
    from django.conf import settings

    report = {"database": "ok", "redis": "unconfigured", "storage": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:  # any failure to reach the database is a 503, not a 500
        report["database"] = f"error: {type(error).__name__}"
    if settings.REDIS_URL:
        import redis

        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping()
            report["redis"] = "ok"
        except Exception as error:
            report["redis"] = f"error: {type(error).__name__}"
    try:
        storage_check()
    except (StorageUnavailable, OSError) as error:
        report["storage"] = f"error: {type(error).__name__}"
    healthy = report["database"] == "ok" and report["redis"] in ("ok", "unconfigured") and report["storage"] == "ok"
    report["status"] = "ok" if healthy else "unavailable"
    return report
