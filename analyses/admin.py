"""Admin for samples, analyses (with their CSV/Excel documents and files) and NuVs BLASTs.

Sample rights (analyses.permissions) decide what a staff user sees and may change, as in the
API; writes go through analyses.services. Analyses and BLASTs are read-only here: runners and
the API make them. Downloads link to the API endpoints, which check the same rights.
"""

import json

from django import forms
from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from analyses import services
from analyses.api.serializers import SampleCreateSerializer, SampleUpdateSerializer
from analyses.models import Analysis, AnalysisFile, NuVsBlast, Sample, Workflow
from analyses.permissions import WRITE, sample_has_right, sample_rights_check, samples_readable
from refs.admin_forms import serializer_validate
from refs.admin_support import (
    CuratorAdminMixin,
    ServiceErrorsMixin,
    admin_link,
    delete_selected_through_services,
    is_curator,
)
from virtool_site.admin import ReadOnlyAdminMixin, ReadOnlyInline
from virtool_site.services import user_has_permission

#: Characters of stored results shown on a page (results of a big analysis run to megabytes).
RESULTS_SHOWN = 20_000

SAMPLE_FIELDS = ("name", "host", "isolate", "locale", "notes", "library_type")
RIGHT_FIELDS = ("group", "group_read", "group_write", "all_read", "all_write")


def _json_preview(value) -> str:
    text = json.dumps(value, indent=1, default=str)
    if len(text) > RESULTS_SHOWN:
        return format_html(
            '<pre style="max-height: 30em; overflow: auto">{}</pre><p>… {} more characters (see the API document).</p>',
            text[:RESULTS_SHOWN],
            f"{len(text) - RESULTS_SHOWN:,}",
        )
    return format_html('<pre style="max-height: 30em; overflow: auto">{}</pre>', text)


# Samples ------------------------------------------------------------------------------------


class SampleForm(forms.ModelForm):
    class Meta:
        model = Sample
        fields = (*SAMPLE_FIELDS, *RIGHT_FIELDS)

    def clean(self):
        """What the API's request serializer refuses (control characters, ...) is refused here
        too: everything on the add page, only what changed on an edit."""
        cleaned = super().clean()
        adding = self.instance._state.adding
        names = (*SAMPLE_FIELDS, *RIGHT_FIELDS) if adding else self.changed_data
        data = {name: cleaned[name] for name in names if name in cleaned}
        if data.get("group") is not None:
            data["group"] = data["group"].name
        if data:
            serializer_validate(SampleCreateSerializer if adding else SampleUpdateSerializer, data, self)
        return cleaned


@admin.register(Sample)
class SampleAdmin(ServiceErrorsMixin, CuratorAdminMixin, admin.ModelAdmin):
    form = SampleForm
    list_display = ("name", "id", "host", "isolate", "library_type", "user", "group", "analysis_count", "created_at")
    list_filter = ("library_type", "all_read", "all_write")
    search_fields = ("name", "host", "isolate", "user__username")
    list_select_related = ("user", "group")
    readonly_fields = ("id", "user", "created_at", "analyses_display")
    actions = ["delete_selected"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (None, {"fields": SAMPLE_FIELDS}),
            ("Rights", {"fields": RIGHT_FIELDS}),
        ]
        if obj is not None:
            fieldsets.append(("Status", {"fields": self.readonly_fields}))
        return fieldsets

    def get_queryset(self, request):
        return samples_readable(request.user).select_related("user", "group").annotate(_analysis_count=Count("analyses"))

    def has_add_permission(self, request):
        return is_curator(request.user) and user_has_permission(request.user, "create_sample")

    def has_change_permission(self, request, obj=None):
        if obj is None:
            return is_curator(request.user)
        return sample_has_right(user=request.user, sample=obj, right=WRITE)

    has_delete_permission = has_change_permission

    @admin.display(description="analyses", ordering="_analysis_count")
    def analysis_count(self, obj):
        return getattr(obj, "_analysis_count", None)

    @admin.display(description="analyses")
    def analyses_display(self, obj):
        url = reverse("admin:analyses_analysis_changelist") + f"?sample__id__exact={obj.pk}"
        return format_html('<a href="{}">{} analyses</a>', url, obj.analyses.count())

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in (*SAMPLE_FIELDS, *RIGHT_FIELDS) if name in form.cleaned_data}
        if data.get("group") is not None:
            data["group"] = data["group"].name
        if not change:
            created = services.sample_create(user=request.user, **data)
            obj.pk = created.pk
            return
        sample = Sample.objects.get(pk=obj.pk)
        sample_rights_check(user=request.user, sample=sample, right=WRITE)
        changed = {name: data[name] for name in form.changed_data if name in data}
        if changed:
            services.sample_update(user=request.user, sample=sample, data=changed)

    def get_deleted_objects(self, objs, request):
        samples = list(objs)
        perms_needed = {
            f"sample “{s.name}” (needs the write right)"
            for s in samples
            if not sample_has_right(user=request.user, sample=s, right=WRITE)
        }
        counts = {
            "samples": len(samples),
            "analyses": Analysis.objects.filter(sample__in=[s.pk for s in samples]).count(),
        }
        return [admin_link("analyses.sample", s.pk, s.name) for s in samples], counts, perms_needed, []

    def delete_model(self, request, obj):
        sample_rights_check(user=request.user, sample=obj, right=WRITE)
        services.sample_remove(sample=obj)

    def delete_queryset(self, request, queryset):
        for sample in list(queryset):
            self.delete_model(request, sample)

    def delete_selected(self, request, queryset):
        return delete_selected_through_services(self, request, queryset)

    delete_selected.short_description = "Delete selected samples"
    delete_selected.allowed_permissions = ("delete",)


# Analyses -----------------------------------------------------------------------------------


def _document_links(analysis) -> str:
    if analysis.workflow != Workflow.PATHOSCOPE_BOWTIE or not analysis.ready:
        return "—"
    return format_html(
        '<a href="/api/analyses/document/{0}.csv">CSV</a> · <a href="/api/analyses/document/{0}.xlsx">Excel</a>',
        analysis.pk,
    )


class AnalysisFileInline(ReadOnlyInline):
    model = AnalysisFile
    fields = ("download", "format", "size", "description", "uploaded_at")

    @admin.display(description="file")
    def download(self, obj):
        return format_html('<a href="/api/analyses/{}/files/{}">{}</a>', obj.analysis_id, obj.pk, obj.name)


class NuVsBlastInline(ReadOnlyInline):
    model = NuVsBlast
    fields = ("record", "sequence_index", "backend", "rid", "ready", "error", "updated_at")

    @admin.display(description="BLAST")
    def record(self, obj):
        return admin_link("analyses.nuvsblast", obj.pk)

    def get_queryset(self, request):
        return super().get_queryset(request).defer("result")


class _ReadableAnalysesMixin:
    def _analyses(self, request):
        if request.user.is_superuser:
            return Analysis.objects.all()
        return Analysis.objects.filter(sample__in=samples_readable(request.user))


@admin.register(Analysis)
class AnalysisAdmin(_ReadableAnalysesMixin, ServiceErrorsMixin, CuratorAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "workflow",
        "sample_display",
        "ready",
        "reference_name",
        "index_version",
        "user",
        "documents",
        "created_at",
    )
    list_filter = ("workflow", "ready")
    search_fields = ("=id", "sample__name", "reference_name")
    list_select_related = ("sample", "user", "job")
    fields = (
        "id",
        "workflow",
        "sample_display",
        "ready",
        "status_display",
        "reference_display",
        "index_display",
        "subtractions",
        "user",
        "created_at",
        "updated_at",
        "documents",
        "results_display",
    )
    readonly_fields = fields
    inlines = [AnalysisFileInline, NuVsBlastInline]
    actions = ["delete_selected"]

    def get_queryset(self, request):
        # Results can be megabytes: lists never load them, the detail page loads them once.
        return self._analyses(request).select_related("sample", "user", "job").defer("results")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        if obj is None:
            return is_curator(request.user)
        if obj.sample is None:
            return request.user.is_superuser
        return sample_has_right(user=request.user, sample=obj.sample, right=WRITE)

    @admin.display(description="sample", ordering="sample__name")
    def sample_display(self, obj):
        return admin_link("analyses.sample", obj.sample_id, obj.sample.name) if obj.sample_id else "—"

    @admin.display(description="documents")
    def documents(self, obj):
        return _document_links(obj)

    @admin.display(description="status")
    def status_display(self, obj):
        if obj.ready:
            return "ready"
        if obj.job is None:
            return "waiting"
        text = f"job {obj.job.state}, {obj.job.progress:.0%}"
        if obj.job.error:
            text += f" — {obj.job.error}"
        return format_html("{} ({})", text, admin_link("virtool_site.job", obj.job_id))

    @admin.display(description="reference")
    def reference_display(self, obj):
        return format_html("{} ({})", admin_link("refs.reference", obj.reference_id, obj.reference_name), obj.reference_id)

    @admin.display(description="index")
    def index_display(self, obj):
        return format_html("{} (version {})", admin_link("indexes.index", obj.index_id), obj.index_version)

    @admin.display(description="results")
    def results_display(self, obj):
        if obj.results is None:
            return "—"
        hits = obj.results.get("hits") if isinstance(obj.results, dict) else None
        summary = f"{len(hits)} hit(s)" if isinstance(hits, list) else ""
        return format_html("{}{}", summary, _json_preview(obj.results))

    def get_deleted_objects(self, objs, request):
        analyses = list(objs)
        perms_needed = {
            f"analysis {a.pk} (needs the write right on its sample)"
            for a in analyses
            if not self.has_delete_permission(request, a)
        }
        counts = {"analyses": len(analyses)}
        return [admin_link("analyses.analysis", a.pk) for a in analyses], counts, perms_needed, []

    def delete_model(self, request, obj):
        if obj.sample is not None:
            sample_rights_check(user=request.user, sample=obj.sample, right=WRITE)
        services.analysis_remove(analysis=obj)

    def delete_queryset(self, request, queryset):
        for analysis in list(queryset):
            self.delete_model(request, analysis)

    def delete_selected(self, request, queryset):
        return delete_selected_through_services(self, request, queryset)

    delete_selected.short_description = "Delete selected analyses"
    delete_selected.allowed_permissions = ("delete",)


@admin.register(NuVsBlast)
class NuVsBlastAdmin(_ReadableAnalysesMixin, ReadOnlyAdminMixin, CuratorAdminMixin, admin.ModelAdmin):
    list_display = ("id", "analysis_display", "sequence_index", "backend", "rid", "ready", "error", "updated_at")
    list_filter = ("backend", "ready")
    search_fields = ("=id", "=analysis__id", "rid")
    list_select_related = ("analysis",)
    fields = (
        "id",
        "analysis_display",
        "sequence_index",
        "backend",
        "rid",
        "rtoe",
        "ready",
        "error",
        "interval",
        "failures",
        "last_checked_at",
        "created_at",
        "updated_at",
        "result_display",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return NuVsBlast.objects.filter(analysis__in=self._analyses(request)).select_related("analysis").defer("result")

    @admin.display(description="analysis")
    def analysis_display(self, obj):
        return admin_link("analyses.analysis", obj.analysis_id)

    @admin.display(description="result")
    def result_display(self, obj):
        return "—" if obj.result is None else _json_preview(obj.result)

