"""Admin for BrAPI reference sets and references.

Bases are never loaded whole: chunks have no admin of their own, a reference shows only a
short preview read through the same ranged read as the API, and delete confirmations
summarise counts instead of listing (and loading) every chunk. Renaming or deleting references
recomputes their sets' sequence collection digests (refget), which names and order define.
"""

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count
from django.utils.html import format_html

from brapi import services
from brapi.models import ExternalReference, Reference, ReferenceChunk, ReferenceSet, Search
from brapi.refget.services import referenceset_seqcol_store
from brapi.selectors import referencesets_visible
from brapi.storage import bases_read
from virtool_site.admin import NulSafeChangeListMixin

PREVIEW_BASES = 120


def _deleted_summary(queryset_sets=None, queryset_references=None):
    """(deleted_objects, model_count, perms_needed, protected) without touching chunks."""
    if queryset_sets is not None:
        references = Reference.objects.filter(reference_set__in=queryset_sets)
        objects = [f"Reference set: {s}" for s in queryset_sets[:50]]
        counts = {"reference sets": queryset_sets.count()}
    else:
        references = queryset_references
        objects = []
        counts = {}
    counts["references"] = references.count()
    counts["bases chunks"] = ReferenceChunk.objects.filter(reference__in=references.values("id")).count()
    return objects, counts, set(), []


def _visible_sets(request, queryset, lookup: str = "id"):
    """What the BrAPI API would show the user: Django's model permissions open these pages to
    staff, but a set published from a Virtool reference they may not see stays hidden."""
    if request.user.is_superuser:
        return queryset
    return queryset.filter(**{f"{lookup}__in": referencesets_visible(request.user).values("id")})


class ExternalReferenceInline(admin.TabularInline):
    model = ExternalReference
    fk_name = "reference_set"
    extra = 0
    fields = ("external_id", "external_source")


class ReferenceExternalInline(ExternalReferenceInline):
    fk_name = "reference"


@admin.register(ReferenceSet)
class ReferenceSetAdmin(NulSafeChangeListMixin, admin.ModelAdmin):
    list_display = ("name", "id", "species_term", "common_crop_name", "reference_count", "public", "index", "created_at")
    list_filter = ("public", "common_crop_name")
    search_fields = ("id", "name", "accession", "md5checksum", "species_term")
    readonly_fields = ("id", "md5checksum", "reference", "index", "created_at", "reference_count", "references_link")
    fields = (
        "id",
        "name",
        "description",
        "references_link",
        "md5checksum",
        "species_term",
        "species_term_uri",
        "common_crop_name",
        "accession",
        "assembly_pui",
        "is_derived",
        "source_uri",
        "public",
        "reference",
        "index",
        "additional_info",
        "created_at",
    )
    inlines = [ExternalReferenceInline]
    actions = ["republish"]

    def get_queryset(self, request):
        queryset = _visible_sets(request, super().get_queryset(request))
        return queryset.annotate(_reference_count=Count("references"))

    @admin.display(description="references", ordering="_reference_count")
    def reference_count(self, obj):
        return getattr(obj, "_reference_count", None)

    @admin.display(description="references")
    def references_link(self, obj):
        if not obj.pk:
            return "-"
        return format_html(
            '<a href="../../reference/?reference_set__id__exact={}">{} references</a>',
            obj.pk,
            obj.references.count(),
        )

    def get_deleted_objects(self, objs, request):
        queryset = objs if hasattr(objs, "filter") else ReferenceSet.objects.filter(pk__in=[o.pk for o in objs])
        return _deleted_summary(queryset_sets=queryset)

    def delete_model(self, request, obj):
        services.referenceset_delete(reference_set=obj)

    def delete_queryset(self, request, queryset):
        # Django's "Delete selected" runs outside a transaction: all the sets or none.
        with transaction.atomic():
            for reference_set in queryset:
                services.referenceset_delete(reference_set=reference_set)

    @admin.action(description="Republish selected sets from their Virtool index")
    def republish(self, request, queryset):
        done = 0
        for reference_set in queryset.exclude(index__isnull=True):
            services.referenceset_publish_index(index=reference_set.index_id, force=True)
            done += 1
        self.message_user(request, f"Republished {done} reference set(s).", messages.SUCCESS)


@admin.register(Reference)
class ReferenceAdmin(NulSafeChangeListMixin, admin.ModelAdmin):
    list_display = ("name", "id", "reference_set", "length", "md5checksum", "accession", "species_term")
    list_select_related = ("reference_set",)
    list_filter = ("is_derived",)
    search_fields = ("id", "name", "accession", "md5checksum")
    raw_id_fields = ("reference_set",)
    readonly_fields = ("id", "reference_set", "position", "length", "md5checksum", "chunk_size", "bases_preview")
    fields = (
        "id",
        "reference_set",
        "position",
        "name",
        "length",
        "md5checksum",
        "bases_preview",
        "accession",
        "is_derived",
        "source_uri",
        "source_divergence",
        "species_term",
        "species_term_uri",
        "additional_info",
        "chunk_size",
    )
    inlines = [ReferenceExternalInline]

    def has_add_permission(self, request):
        return False  # references come from publishing an index or importing FASTA

    @admin.display(description="bases")
    def bases_preview(self, obj):
        if not obj.pk:
            return "-"
        preview = bases_read(
            reference_id=obj.pk, chunk_size=obj.chunk_size, start=0, stop=min(obj.length, PREVIEW_BASES)
        )
        more = f"… ({obj.length:,} bases)" if obj.length > PREVIEW_BASES else ""
        return format_html("<code>{}</code>{}", preview, more)

    def get_queryset(self, request):
        return _visible_sets(request, super().get_queryset(request), lookup="reference_set")

    def get_deleted_objects(self, objs, request):
        queryset = objs if hasattr(objs, "filter") else Reference.objects.filter(pk__in=[o.pk for o in objs])
        return _deleted_summary(queryset_references=queryset)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if "name" in form.changed_data:
            referenceset_seqcol_store(reference_set=obj.reference_set)

    def delete_model(self, request, obj):
        self.delete_queryset(request, Reference.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        set_ids = set(queryset.values_list("reference_set_id", flat=True))
        with transaction.atomic():
            ReferenceChunk.objects.filter(reference__in=queryset.values("id")).delete()
            queryset.delete()
            for reference_set in ReferenceSet.objects.filter(id__in=set_ids):
                referenceset_seqcol_store(reference_set=reference_set)


@admin.register(Search)
class SearchAdmin(NulSafeChangeListMixin, admin.ModelAdmin):
    list_display = ("id", "kind", "user", "created_at", "expires_at")
    list_filter = ("kind",)
    readonly_fields = ("id", "kind", "criteria", "page_size", "user", "created_at", "expires_at")

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(user=request.user)

    def has_add_permission(self, request):
        return False
