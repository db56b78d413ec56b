from django.conf import settings
from django.db import models
from django.utils import timezone

from virtool_site.ids import IdField


class Index(models.Model):
    """An immutable build of a reference snapshot; `manifest` maps OTU ids to versions."""

    id = IdField()
    reference = models.ForeignKey("refs.Reference", on_delete=models.CASCADE, related_name="indexes")
    version = models.IntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    ready = models.BooleanField(default=False)
    has_files = models.BooleanField(default=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    job = models.OneToOneField(
        "virtool_site.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="index"
    )
    manifest = models.JSONField(default=dict, blank=True)
    # What the detail shows of the changes built into the index, written when the build is
    # created (its changes are tagged then and never change after): the changed OTUs as JSON
    # text, served as is, the counts, and [user pk, changes] of their authors (named when read).
    # Null for rows written otherwise (then read from the changes).
    # indexes.selectors.index_changes_summary computes them.
    changed_otus = models.TextField(null=True, blank=True, editable=False)
    change_count = models.IntegerField(null=True, blank=True, editable=False)
    modified_otu_count = models.IntegerField(null=True, blank=True, editable=False)
    contributor_counts = models.JSONField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "indexes"
        constraints = [models.UniqueConstraint(fields=["reference", "version"], name="unique_index_version")]

    def __str__(self):
        return f"{self.reference_id} index {self.version}"


class IndexFile(models.Model):
    class Type(models.TextChoices):
        FASTA = "fasta"
        JSON = "json"
        BOWTIE2 = "bowtie2"

    index = models.ForeignKey(Index, on_delete=models.CASCADE, related_name="files")
    name = models.CharField(max_length=64)
    type = models.CharField(max_length=16, choices=Type.choices)
    size = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["index", "name"], name="unique_index_file_name")]

    def __str__(self):
        return self.name
