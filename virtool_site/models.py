from django.contrib.auth.models import AbstractUser, Group
from django.db import models
from django.utils import timezone

from virtool_site.ids import IdField

#: Virtool's global permissions, held per user and per group.
PERMISSIONS = ("create_ref", "create_sample", "upload_file", "remove_file", "cancel_job")


class PermissionFlags(models.Model):
    create_ref = models.BooleanField(default=False)
    create_sample = models.BooleanField(default=False)
    upload_file = models.BooleanField(default=False)
    remove_file = models.BooleanField(default=False)
    cancel_job = models.BooleanField(default=False)

    class Meta:
        abstract = True

    def permission_dict(self) -> dict[str, bool]:
        return {name: getattr(self, name) for name in PERMISSIONS}


class User(AbstractUser, PermissionFlags):
    """A Django user; `username` is the `id` Virtool clients see. Administrators are superusers."""

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    @property
    def administrator(self) -> bool:
        return self.is_superuser


class GroupPermissions(PermissionFlags):
    group = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="virtool_permissions")

    class Meta:
        verbose_name_plural = "group permissions"

    def __str__(self):
        return f"Permissions of {self.group.name}"


class ApiKey(models.Model):
    """An API key; only the SHA-256 of the key is stored, the key itself is shown once."""

    id = IdField()
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=255)
    prefix = models.CharField(max_length=8, help_text="First characters of the key, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self):
        return f"{self.name} ({self.prefix}…) of {self.user.username}"


class Process(models.Model):
    """Long work done by a Celery task (reference deletion, import, clone, remote, update)."""

    id = IdField()
    type = models.CharField(max_length=64)
    steps = models.JSONField(default=list)
    step = models.CharField(max_length=64)
    progress = models.FloatField(default=0)
    complete = models.BooleanField(default=False)
    error = models.JSONField(null=True, blank=True)
    context = models.JSONField(default=dict, blank=True)
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "processes"

    def __str__(self):
        return f"{self.type} {self.id}"

    @property
    def step_count(self) -> int:
        return len(self.steps)


class Job(models.Model):
    """Work done by a runner (Celery or an external workflow runner using the Job API).

    The runner authenticates as `Authorization: Basic base64("job-{id}:{key}")`; only the
    SHA-256 of the key is stored.
    """

    class State(models.TextChoices):
        WAITING = "waiting"
        RUNNING = "running"
        COMPLETE = "complete"
        ERROR = "error"
        CANCELLED = "cancelled"

    id = IdField()
    workflow = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.WAITING)
    progress = models.FloatField(default=0)
    error = models.JSONField(null=True, blank=True)
    args = models.JSONField(default=dict, blank=True)
    key_hash = models.CharField(max_length=64, blank=True, default="")
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.workflow} job {self.id}"

    @property
    def finished(self) -> bool:
        return self.state in (self.State.COMPLETE, self.State.ERROR, self.State.CANCELLED)


class Upload(models.Model):
    """A file uploaded through `/api/uploads`, stored as `uploads/{id}` (virtool_site.storage)."""

    id = models.CharField(primary_key=True, max_length=300, editable=False)
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=32)
    size = models.BigIntegerField(default=0)
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    ready = models.BooleanField(default=False)
    reserved = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.id
