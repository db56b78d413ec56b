"""Samples, the analyses run on them, the files analyses keep, and NuVs contig BLASTs.

An analysis records the reference and index it used as plain values, not foreign keys: it
must keep working after the reference (and its indexes) are deleted.
"""

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.utils import timezone

from virtool_site.ids import IdField


class LibraryType(models.TextChoices):
    NORMAL = "normal"
    SRNA = "srna"
    AMPLICON = "amplicon"


class Workflow(models.TextChoices):
    PATHOSCOPE_BOWTIE = "pathoscope_bowtie"
    NUVS = "nuvs"


class Sample(models.Model):
    """A sequenced sample. Rights: owner, `group` with `group_read`/`group_write`, and
    `all_read`/`all_write`; administrators hold every right."""

    id = IdField()
    name = models.CharField(max_length=255, unique=True)
    host = models.CharField(max_length=255, blank=True, default="")
    isolate = models.CharField(max_length=255, blank=True, default="")
    locale = models.CharField(max_length=255, blank=True, default="")
    notes = models.TextField(blank=True, default="")
    library_type = models.CharField(max_length=16, choices=LibraryType.choices, default=LibraryType.NORMAL)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="samples")
    group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="samples")
    group_read = models.BooleanField(default=True)
    group_write = models.BooleanField(default=False)
    all_read = models.BooleanField(default=True)
    all_write = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "id"]

    def __str__(self):
        return self.name


class Analysis(models.Model):
    id = IdField()
    #: SET_NULL so an analysis whose sample row is gone answers 400 "Parent sample does not
    #: exist" rather than vanishing; deleting a sample through the service removes its analyses.
    sample = models.ForeignKey(Sample, null=True, blank=True, on_delete=models.SET_NULL, related_name="analyses")
    workflow = models.CharField(max_length=32, choices=Workflow.choices)
    ready = models.BooleanField(default=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    job = models.OneToOneField(
        "virtool_site.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="analysis"
    )
    reference_id = models.CharField(max_length=8)
    reference_name = models.CharField(max_length=255)
    index_id = models.CharField(max_length=8)
    index_version = models.IntegerField()
    #: Subtraction ids given at creation (there is no subtraction model in this service).
    subtractions = models.JSONField(default=list, blank=True)
    results = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "id"]
        verbose_name_plural = "analyses"

    def __str__(self):
        return f"{self.workflow} analysis {self.id}"


class AnalysisFile(models.Model):
    """A file kept with an analysis, stored as `analyses/{analysis_id}/{name_on_disk}`."""

    class Format(models.TextChoices):
        SAM = "sam"
        BAM = "bam"
        FASTA = "fasta"
        FASTQ = "fastq"
        CSV = "csv"
        TSV = "tsv"
        JSON = "json"

    analysis = models.ForeignKey(Analysis, on_delete=models.CASCADE, related_name="files")
    name = models.CharField(max_length=255)
    name_on_disk = models.CharField(max_length=300, blank=True, default="")
    format = models.CharField(max_length=16, choices=Format.choices, null=True, blank=True)
    description = models.TextField(null=True, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["analysis", "name"], name="unique_analysis_file_name")]

    def __str__(self):
        return self.name_on_disk or self.name


class NuVsBlast(models.Model):
    """The BLAST search of one NuVs contig. A re-BLAST replaces the row with a new id, so a
    task still working on the old search finds its row gone and stops."""

    class Backend(models.TextChoices):
        LOCAL = "local"
        NCBI = "ncbi"

    id = IdField()
    analysis = models.ForeignKey(Analysis, on_delete=models.CASCADE, related_name="blasts")
    sequence_index = models.IntegerField()
    backend = models.CharField(max_length=8, choices=Backend.choices)
    rid = models.CharField(max_length=64, null=True, blank=True)
    rtoe = models.IntegerField(null=True, blank=True)
    ready = models.BooleanField(default=False)
    error = models.TextField(null=True, blank=True)
    interval = models.IntegerField(default=3)
    #: Consecutive failed status checks; a few are tolerated before the search is given up.
    failures = models.IntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    last_checked_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["analysis", "sequence_index"]
        verbose_name = "NuVs BLAST"
        constraints = [
            models.UniqueConstraint(fields=["analysis", "sequence_index"], name="unique_blast_per_sequence")
        ]

    def __str__(self):
        return f"BLAST of {self.analysis_id} sequence {self.sequence_index}"
