"""One Change per OTU change, with the dictdiffer diff of the joined OTU documents.

History knows nothing of refs' services: it stores ids and names, and the diff.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Change(models.Model):
    #: "{otu_id}.{version}", or "{otu_id}.removed" for a removal.
    id = models.CharField(primary_key=True, max_length=32)
    method_name = models.CharField(max_length=32)
    description = models.TextField(blank=True, default="")
    otu_id = models.CharField(max_length=8, db_index=True)
    otu_name = models.CharField(max_length=255)
    #: The OTU's version after the change (for a removal, one past the last version).
    otu_version = models.IntegerField()
    reference_id = models.CharField(max_length=8, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    index = models.ForeignKey(
        "indexes.Index", null=True, blank=True, on_delete=models.SET_NULL, related_name="changes"
    )
    diff = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-otu_version"]
        indexes = [
            models.Index(fields=["otu_id", "otu_version"]),
            models.Index(fields=["reference_id", "index"]),
            # The history lists' order, so that a page is read from an index instead of
            # sorting every change of the reference (or of every reference) first.
            models.Index(fields=["reference_id", "-created_at", "-otu_version", "-id"], name="history_ref_newest_idx"),
            models.Index(fields=["-created_at", "-otu_version", "-id"], name="history_newest_idx"),
        ]

    def __str__(self):
        return self.id

    @property
    def removed(self) -> bool:
        return self.method_name == "remove"
