"""Site-wide services: permissions, API keys, jobs, processes."""

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta

from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from virtool_site.errors import InvalidInput, NotFound
from virtool_site.models import PERMISSIONS, ApiKey, GroupPermissions, Job, Process, User

logger = logging.getLogger(__name__)

API_KEY_LAST_USED_RESOLUTION = timedelta(minutes=1)


def secret_hash(secret: str) -> str:
    """API keys and job keys are 256-bit random secrets, so one SHA-256 round suffices."""
    return hashlib.sha256(secret.encode()).hexdigest()


# Permissions -------------------------------------------------------------------------------


def user_permissions(user) -> dict[str, bool]:
    """A user's global permissions: their own flags or'ed with those of their groups."""
    if getattr(user, "is_superuser", False):
        return {name: True for name in PERMISSIONS}
    if not getattr(user, "is_authenticated", False) or getattr(user, "is_job", False):
        return {name: False for name in PERMISSIONS}
    permissions = user.permission_dict()
    for group_permissions in GroupPermissions.objects.filter(group__user=user):
        for name, value in group_permissions.permission_dict().items():
            permissions[name] = permissions[name] or value
    return permissions


def user_has_permission(user, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission}")
    return user_permissions(user)[permission]


# API keys ----------------------------------------------------------------------------------


def api_key_create(*, user: User, name: str = "") -> tuple[ApiKey, str]:
    """Create a key; the returned secret is never stored and cannot be shown again."""
    secret = secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        user=user, name=name or "API key", prefix=secret[:8], key_hash=secret_hash(secret)
    )
    return api_key, secret


def _api_key_user_sql(connection) -> str:
    """One statement: the active user of an unrevoked key, and whether the key's `last_used_at`
    is older than the resolution (so it is written at most once a minute).

    Every API request runs it, so it is written out rather than built with the ORM: building and
    compiling the equivalent queryset cost several times the query itself. A raw queryset still
    applies each backend's converters, so it reads the same on PostgreSQL and SQLite.
    """
    quote = connection.ops.quote_name
    key_table, user_table = quote(ApiKey._meta.db_table), quote(User._meta.db_table)
    return (
        f"SELECT u.*, k.{quote('id')} AS api_key_id, "
        f"(k.{quote('last_used_at')} IS NULL OR k.{quote('last_used_at')} < %s) AS api_key_stale "
        f"FROM {key_table} k INNER JOIN {user_table} u ON u.{quote('id')} = k.{quote('user_id')} "
        f"WHERE k.{quote('key_hash')} = %s AND k.{quote('revoked_at')} IS NULL AND u.{quote('is_active')}"
    )


def api_key_authenticate(*, secret: str, username: str | None = None) -> User | None:
    """The active user a key belongs to, or None for an unknown, revoked or mismatched key.

    Read from the database on every request (no cache), so revoking a key or deactivating its
    user takes effect on the very next request.
    """
    if not secret:
        return None
    now = timezone.now()
    rows = User.objects.raw(
        _api_key_user_sql(connections[User.objects.db]), [now - API_KEY_LAST_USED_RESOLUTION, secret_hash(secret)]
    )
    user = next(iter(rows), None)
    if user is None:
        return None
    if username is not None and user.username != username:
        return None
    if user.api_key_stale:
        ApiKey.objects.filter(pk=user.api_key_id).update(last_used_at=now)
    return user


def api_key_revoke(*, user: User, key_id: str) -> None:
    updated = ApiKey.objects.filter(id=key_id, user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if not updated:
        raise NotFound()


# Jobs --------------------------------------------------------------------------------------


def job_create(*, workflow: str, user: User | None, args: dict | None = None) -> tuple[Job, str]:
    """Create a job and its key; the key is given to the runner and never stored."""
    key = secrets.token_urlsafe(32)
    job = Job.objects.create(workflow=workflow, user=user, args=args or {}, key_hash=secret_hash(key))
    return job, key


def job_authenticate(*, job_id: str, key: str) -> Job | None:
    """The unfinished job the key belongs to; None once it ended or the user who started it
    was deactivated (as that user's API keys are). PostgreSQL refuses NUL in a query, and no
    job id holds one."""
    if "\x00" in job_id:
        return None
    job = Job.objects.filter(id=job_id).select_related("user").first()
    if job is None or not job.key_hash or job.finished:
        return None
    if job.user is not None and not job.user.is_active:
        return None
    if not hmac.compare_digest(job.key_hash, secret_hash(key)):
        return None
    return job


def job_update(*, job_id: str, state: str | None = None, progress: float | None = None, error=None) -> None:
    fields = {"updated_at": timezone.now()}
    if state is not None:
        fields["state"] = state
    if progress is not None:
        fields["progress"] = max(0.0, min(1.0, progress))
    if error is not None:
        fields["error"] = error
    Job.objects.filter(id=job_id).update(**fields)


# Processes ---------------------------------------------------------------------------------
# Progress is written outside the task's own transaction, so clients see it while work runs.


def process_create(*, process_type: str, steps: list[str], user: User | None = None, context: dict | None = None) -> Process:
    if not steps:
        raise ValueError("a process needs at least one step")
    return Process.objects.create(type=process_type, steps=steps, step=steps[0], user=user, context=context or {})


def process_step(*, process_id: str, step: str, progress: float | None = None) -> None:
    """Enter `step`; progress defaults to the share of steps already finished."""
    process = Process.objects.filter(id=process_id).first()
    if process is None:
        return
    if step not in process.steps:
        raise ValueError(f"{step} is not a step of {process.type}")
    if progress is None:
        progress = process.steps.index(step) / len(process.steps)
    Process.objects.filter(id=process_id).update(step=step, progress=progress, updated_at=timezone.now())


def process_progress(*, process_id: str, step_fraction: float) -> None:
    """Report progress within the current step (0 to 1) as overall progress."""
    process = Process.objects.filter(id=process_id).first()
    if process is None:
        return
    index = process.steps.index(process.step)
    fraction = max(0.0, min(1.0, step_fraction))
    progress = (index + fraction) / len(process.steps)
    Process.objects.filter(id=process_id).update(progress=progress, updated_at=timezone.now())


def process_complete(*, process_id: str) -> None:
    Process.objects.filter(id=process_id).update(progress=1.0, complete=True, error=None, updated_at=timezone.now())


def process_fail(*, process_id: str, error) -> None:
    """Record an error (a message or a structured report) and end the process."""
    if isinstance(error, BaseException):
        error = {"type": type(error).__name__, "message": str(error)}
    elif isinstance(error, str):
        error = {"message": error}
    Process.objects.filter(id=process_id).update(error=error, complete=True, updated_at=timezone.now())


def process_restart(*, process_id: str) -> None:
    """A redelivered task starts again from its first step; earlier errors are cleared."""
    process = Process.objects.filter(id=process_id).first()
    if process is None:
        return
    Process.objects.filter(id=process_id).update(
        complete=False, error=None, progress=0.0, step=process.steps[0], updated_at=timezone.now()
    )


# Users -------------------------------------------------------------------------------------


@transaction.atomic
def user_create(*, username: str, password: str, administrator: bool = False, permissions: dict | None = None) -> User:
    if User.objects.filter(username__iexact=username).exists():
        raise InvalidInput("User already exists", errors={"handle": ["User already exists"]})
    user = User(username=username, is_superuser=administrator, is_staff=administrator)
    for name, value in (permissions or {}).items():
        if name in PERMISSIONS:
            setattr(user, name, bool(value))
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # a concurrent request created it since the check above
        raise InvalidInput("User already exists", errors={"handle": ["User already exists"]}) from None
    return user


@transaction.atomic
def user_update(*, user: User, data: dict) -> User:
    from django.contrib.auth.models import Group

    if "password" in data:
        user.set_password(data["password"])
    if "administrator" in data:
        user.is_superuser = data["administrator"]
        user.is_staff = data["administrator"] or user.is_staff
    if "active" in data:
        user.is_active = data["active"]
    for name, value in (data.get("permissions") or {}).items():
        if name in PERMISSIONS:
            setattr(user, name, bool(value))
    user.save()
    if "groups" in data:
        groups = list(Group.objects.filter(name__in=data["groups"]))
        missing = set(data["groups"]) - {g.name for g in groups}
        if missing:
            raise InvalidInput(errors={"groups": [f"Group does not exist: {name}" for name in sorted(missing)]})
        user.groups.set(groups)
    return user


@transaction.atomic
def group_create(*, name: str):
    from django.contrib.auth.models import Group

    if Group.objects.filter(name__iexact=name).exists():
        raise InvalidInput("Group already exists", errors={"name": ["Group already exists"]})
    try:
        with transaction.atomic():
            group = Group.objects.create(name=name)
    except IntegrityError:  # a concurrent request created it since the check above
        raise InvalidInput("Group already exists", errors={"name": ["Group already exists"]}) from None
    GroupPermissions.objects.create(group=group)
    return group


@transaction.atomic
def group_update_permissions(*, group, permissions: dict):
    flags, _ = GroupPermissions.objects.get_or_create(group=group)
    for name, value in permissions.items():
        if name in PERMISSIONS:
            setattr(flags, name, bool(value))
    flags.save()
    return group


# Uploads -----------------------------------------------------------------------------------


def upload_key(upload) -> str:
    """The storage key of an upload's file."""
    return f"uploads/{upload.id}"


def upload_create(*, user: User, name: str, upload_type: str, uploaded_file) -> "Upload":
    """Store an uploaded file as `uploads/{id}`, then its row: the object is written before
    the row commits, and removed again if the row cannot be written. Storage unreachable:
    503 "Storage unavailable" and nothing kept."""
    from virtool_site.files import safe_file_name
    from virtool_site.ids import random_id
    from virtool_site.models import Upload
    from virtool_site.storage import stored_delete_quietly, stored_save

    name = safe_file_name(name)
    upload = Upload(id=f"{random_id()}-{name}", name=name, type=upload_type, user=user, ready=True)
    key = upload_key(upload)
    upload.size = stored_save(key, uploaded_file)
    try:
        with transaction.atomic():
            upload.save(force_insert=True)
    except BaseException:
        stored_delete_quietly([key])
        raise
    return upload


def upload_remove(*, upload_id: str) -> None:
    """Delete an upload and, once that commits, its file. A store that cannot be reached
    answers 503 and keeps both. 409 while an import that reserved it has not finished: its
    task may not have read the file yet (an import reserves the upload under the same row
    lock, so the two are never interleaved)."""
    from virtool_site.errors import Conflict
    from virtool_site.models import Upload
    from virtool_site.storage import stored_delete_on_commit

    with transaction.atomic():
        upload = Upload.objects.select_for_update().filter(id=upload_id).first()
        if upload is None:
            raise NotFound()
        if upload.reserved and Process.objects.filter(context__upload_id=upload.id, complete=False).exists():
            raise Conflict("Upload is in use by an import")
        key = upload_key(upload)
        upload.delete()
        stored_delete_on_commit(names=[key], check=True)


def job_cancel(*, job_id: str) -> Job:
    from virtool_site.errors import Conflict

    with transaction.atomic():
        job = Job.objects.select_for_update().filter(id=job_id).first()
        if job is None:
            raise NotFound()
        if job.finished:
            raise Conflict("Job is already finished")
        job.state = Job.State.CANCELLED
        job.updated_at = timezone.now()
        job.save(update_fields=["state", "updated_at"])
    return job
