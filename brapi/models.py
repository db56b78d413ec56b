"""BrAPI v2.1 reference sets, references, their bases and saved searches.

Bases live in fixed-size chunks (`ReferenceChunk`, `Reference.chunk_size` bases each, the last
one shorter) stored uncompressed, so a page of bases reads only the one or two chunks it covers,
whatever the length of the chromosome.
"""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from virtool_site.ids import random_id


class ReferenceSet(models.Model):
    """An assembly: a published Virtool index or a genome imported from FASTA."""

    id = models.CharField(max_length=64, primary_key=True, default=random_id, editable=False)
    name = models.CharField(max_length=255)
    description = models.TextField(null=True, blank=True)
    assembly_pui = models.CharField(max_length=255, null=True, blank=True, db_index=True)
    #: INSDC accession of the assembly (`sourceAccessions`), e.g. GCF_000001735.4.
    accession = models.CharField(max_length=255, null=True, blank=True, db_index=True)
    md5checksum = models.CharField(max_length=32, blank=True, default="", db_index=True)
    is_derived = models.BooleanField(default=False)
    species_term = models.CharField(max_length=255, null=True, blank=True)
    species_term_uri = models.CharField(max_length=255, null=True, blank=True)
    common_crop_name = models.CharField(max_length=255, null=True, blank=True, db_index=True)
    source_uri = models.CharField(max_length=1024, null=True, blank=True)
    additional_info = models.JSONField(default=dict, blank=True)
    #: The Virtool reference a published index belongs to; its visibility rules the set's.
    reference = models.ForeignKey(
        "refs.Reference", null=True, blank=True, on_delete=models.CASCADE, related_name="brapi_reference_sets"
    )
    index = models.OneToOneField(
        "indexes.Index", null=True, blank=True, on_delete=models.CASCADE, related_name="brapi_reference_set"
    )
    #: For sets without a Virtool reference (FASTA imports): readable by anyone, else administrators only.
    public = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    #: GA4GH Sequence Collections digests (`brapi.refget`), computed when the set is stored:
    #: the top-level digest and each attribute's level-1 digest (empty: not computed yet).
    seqcol_digest = models.CharField(max_length=32, blank=True, default="", db_index=True)
    seqcol_names = models.CharField(max_length=32, blank=True, default="", db_index=True)
    seqcol_lengths = models.CharField(max_length=32, blank=True, default="", db_index=True)
    seqcol_sequences = models.CharField(max_length=32, blank=True, default="", db_index=True)
    seqcol_name_length_pairs = models.CharField(max_length=32, blank=True, default="", db_index=True)
    seqcol_sorted_name_length_pairs = models.CharField(max_length=32, blank=True, default="", db_index=True)
    seqcol_sorted_sequences = models.CharField(max_length=32, blank=True, default="", db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "reference set"

    def __str__(self):
        return self.name


class Reference(models.Model):
    """One contig, chromosome or Virtool sequence of a reference set."""

    id = models.CharField(max_length=64, primary_key=True, default=random_id, editable=False)
    reference_set = models.ForeignKey(ReferenceSet, on_delete=models.CASCADE, related_name="references")
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=255)
    length = models.BigIntegerField(default=0)
    md5checksum = models.CharField(max_length=32, blank=True, default="", db_index=True)
    #: GA4GH identifier (refget): `SQ.` + sha512t24u of the bases md5checksum is computed on.
    ga4gh_digest = models.CharField(max_length=35, blank=True, default="", db_index=True)
    #: INSDC accession (`sourceAccessions`), e.g. NC_003070.9.
    accession = models.CharField(max_length=255, null=True, blank=True, db_index=True)
    is_derived = models.BooleanField(default=False)
    source_uri = models.CharField(max_length=1024, null=True, blank=True)
    source_divergence = models.FloatField(null=True, blank=True)
    species_term = models.CharField(max_length=255, null=True, blank=True)
    species_term_uri = models.CharField(max_length=255, null=True, blank=True)
    additional_info = models.JSONField(default=dict, blank=True)
    #: Bases per chunk when the bases were stored; chunks of one reference never change size.
    chunk_size = models.PositiveIntegerField(default=65_536)

    class Meta:
        ordering = ["reference_set_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["reference_set", "position"], name="brapi_unique_reference_position"),
        ]
        indexes = [models.Index(fields=["length"], name="brapi_reference_length")]

    def __str__(self):
        return self.name


class ReferenceChunk(models.Model):
    """Bases `[index * chunk_size, (index + 1) * chunk_size)` of a reference, upper case.

    The column is uncompressed (PostgreSQL STORAGE EXTERNAL, set by the migration) so bulk
    loading runs at COPY speed and `substr` reads only the slice it needs.
    """

    reference = models.ForeignKey(Reference, on_delete=models.CASCADE, related_name="chunks")
    index = models.IntegerField()
    bases = models.TextField()

    class Meta:
        ordering = ["reference_id", "index"]
        constraints = [models.UniqueConstraint(fields=["reference", "index"], name="brapi_unique_chunk_index")]

    def __str__(self):
        return f"{self.reference_id}[{self.index}]"


class ExternalReference(models.Model):
    """An id of a reference set or reference in another system (`externalReferences`)."""

    reference_set = models.ForeignKey(
        ReferenceSet, null=True, blank=True, on_delete=models.CASCADE, related_name="external_references"
    )
    reference = models.ForeignKey(
        Reference, null=True, blank=True, on_delete=models.CASCADE, related_name="external_references"
    )
    external_id = models.CharField(max_length=255, db_index=True)
    external_source = models.CharField(max_length=255, db_index=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(reference_set__isnull=False, reference__isnull=True)
                | models.Q(reference_set__isnull=True, reference__isnull=False),
                name="brapi_external_reference_one_owner",
            )
        ]

    def __str__(self):
        return f"{self.external_source}:{self.external_id}"


def search_id() -> str:
    """Search ids are unguessable: an anonymous search is readable by whoever holds its id."""
    return secrets.token_hex(12)


class Search(models.Model):
    """A saved search (`searchResultsDbId`): its criteria, re-run on each page request."""

    class Kind(models.TextChoices):
        REFERENCES = "references"
        REFERENCESETS = "referencesets"

    id = models.CharField(max_length=64, primary_key=True, default=search_id, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    criteria = models.JSONField(default=dict)
    page_size = models.PositiveIntegerField()
    #: Who made it; None for an anonymous search (then only anonymous requests see it).
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "searches"

    def __str__(self):
        return f"{self.kind} search {self.id}"
