"""References of OTUs, isolates and sequences.

Isolates and sequences carry an explicit `position`: history diffs address them by their
index in the joined OTU document, so their order must be stable.
"""

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from virtool_site.ids import IdField

DEFAULT_SOURCE_TYPES = ["isolate", "strain"]


def default_source_types():
    return list(DEFAULT_SOURCE_TYPES)


class LiveReferenceManager(models.Manager):
    """References whose deletion has not started; a deleted reference vanishes at once."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted=False)


class Reference(models.Model):
    id = IdField()
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    data_type = models.CharField(max_length=32, default="genome")
    organism = models.CharField(max_length=255, blank=True, default="virus")
    public = models.BooleanField(default=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    internal_control = models.CharField(max_length=8, null=True, blank=True, help_text="OTU id")
    restrict_source_types = models.BooleanField(default=False)
    source_types = models.JSONField(default=default_source_types, blank=True)
    imported_from = models.JSONField(null=True, blank=True)
    cloned_from = models.JSONField(null=True, blank=True)
    remotes_from = models.JSONField(null=True, blank=True)
    release = models.JSONField(null=True, blank=True)
    installed = models.JSONField(null=True, blank=True)
    updates = models.JSONField(default=list, blank=True)
    process = models.ForeignKey(
        "virtool_site.Process", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deleted = models.BooleanField(default=False, db_index=True)
    revision = models.BigIntegerField(
        default=0,
        editable=False,
        help_text="Raised first by every write to the reference, its OTUs, history or indexes (refs.revisions): "
        "writers queue on the reference's row lock in one order.",
    )

    objects = LiveReferenceManager()
    all_objects = models.Manager()

    class Meta:
        ordering = ["-created_at"]
        base_manager_name = "all_objects"

    def __str__(self):
        return self.name


class ReferenceRights(models.Model):
    build = models.BooleanField(default=False)
    modify = models.BooleanField(default=False)
    modify_otu = models.BooleanField(default=False)
    remove = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True

    RIGHTS = ("build", "modify", "modify_otu", "remove")


class ReferenceUser(ReferenceRights):
    reference = models.ForeignKey(Reference, on_delete=models.CASCADE, related_name="user_rights")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reference_rights")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["reference", "user"], name="unique_reference_user")]


class ReferenceGroup(ReferenceRights):
    reference = models.ForeignKey(Reference, on_delete=models.CASCADE, related_name="group_rights")
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="reference_rights")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["reference", "group"], name="unique_reference_group")]


class OTU(models.Model):
    id = IdField()
    reference = models.ForeignKey(Reference, on_delete=models.CASCADE, related_name="otus")
    name = models.CharField(max_length=255)
    abbreviation = models.CharField(max_length=255, blank=True, default="")
    schema = models.JSONField(default=list, blank=True)
    taxid = models.IntegerField(null=True, blank=True)
    version = models.IntegerField(default=0)
    last_indexed_version = models.IntegerField(null=True, blank=True)
    verified = models.BooleanField(default=False)
    imported = models.BooleanField(default=False)
    #: The OTU's id in the file or remote repository it came from; remote updates match on it.
    remote_id = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "OTU"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), "reference", name="unique_otu_name_per_reference"),
            models.UniqueConstraint(
                fields=["reference", "abbreviation"],
                condition=~models.Q(abbreviation=""),
                name="unique_otu_abbreviation_per_reference",
            ),
        ]
        indexes = [models.Index(fields=["reference", "name"])]

    def __str__(self):
        return self.name


class Isolate(models.Model):
    otu = models.ForeignKey(OTU, on_delete=models.CASCADE, related_name="isolates")
    #: Virtool's isolate id: 8 characters, unique within its OTU.
    isolate_id = models.CharField(max_length=8)
    position = models.PositiveIntegerField()
    source_type = models.CharField(max_length=64, blank=True, default="unknown")
    source_name = models.CharField(max_length=255, blank=True, default="")
    default = models.BooleanField(default=False)

    class Meta:
        ordering = ["otu", "position"]
        constraints = [
            models.UniqueConstraint(fields=["otu", "isolate_id"], name="unique_isolate_id_per_otu"),
            models.UniqueConstraint(fields=["otu"], condition=models.Q(default=True), name="one_default_isolate_per_otu"),
        ]

    def __str__(self):
        return isolate_name(self.source_type, self.source_name)


class Sequence(models.Model):
    id = IdField()
    otu = models.ForeignKey(OTU, on_delete=models.CASCADE, related_name="sequences")
    isolate = models.ForeignKey(Isolate, on_delete=models.CASCADE, related_name="sequences")
    position = models.PositiveIntegerField()
    accession = models.CharField(max_length=255)
    definition = models.TextField(blank=True, default="")
    host = models.CharField(max_length=255, blank=True, default="")
    segment = models.CharField(max_length=255, null=True, blank=True)
    sequence = models.TextField(blank=True, default="")
    remote_id = models.CharField(max_length=64, null=True, blank=True)

    class Meta:
        ordering = ["isolate", "position"]
        indexes = [models.Index(fields=["isolate", "position"])]

    def __str__(self):
        return self.accession


def isolate_name(source_type: str, source_name: str) -> str:
    """Virtool's isolate name: "{Source_type} {source_name}" or "Unnamed Isolate"."""
    if source_type and source_name:
        return f"{source_type.capitalize()} {source_name}"
    return "Unnamed Isolate"
