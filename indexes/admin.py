"""Read-only admin for index builds: status, files with download links, manifest.

Indexes are immutable; they are made by "Build index" (reference admin) through
`indexes.services.index_create`, as the API makes them. Downloads go through the API's file
endpoint, which checks that the user sees the reference.
"""

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from indexes.api.serializers import download_url
from indexes.models import Index, IndexFile
from indexes.selectors import index_missing_files
from refs.admin_support import CuratedReferenceFilter, CuratorAdminMixin, admin_link, references_curated
from virtool_site.admin import ReadOnlyAdminMixin, ReadOnlyInline

#: Manifest entries listed on the page; the full manifest is in the API document.
MANIFEST_SHOWN = 2000


class IndexReferenceFilter(CuratedReferenceFilter):
    field = "reference_id"


class IndexFileInline(ReadOnlyInline):
    model = IndexFile
    fields = ("name", "type", "size", "download")

    @admin.display(description="download")
    def download(self, obj):
        return format_html('<a href="{}">{}</a>', download_url(obj.index_id, obj.name), obj.name)


@admin.register(Index)
class IndexAdmin(ReadOnlyAdminMixin, CuratorAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "reference_display",
        "version",
        "status_display",
        "ready",
        "has_files",
        "user",
        "job_display",
        "created_at",
    )
    list_filter = (IndexReferenceFilter, "ready", "has_files")
    search_fields = ("=id", "reference__name")
    list_select_related = ("reference", "user", "job")
    fields = (
        "id",
        "reference_display",
        "version",
        "status_display",
        "user",
        "job_display",
        "created_at",
        "changes_display",
        "missing_files_display",
        "manifest_display",
    )
    readonly_fields = fields
    inlines = [IndexFileInline]

    def get_queryset(self, request):
        return (
            Index.objects.filter(reference__in=references_curated(request.user))
            .select_related("reference", "user", "job")
            # The API detail's stored summary of changes (thousands of OTUs) is not shown here.
            .defer("changed_otus", "contributor_counts")
            .order_by("-created_at", "-version")
        )

    @admin.display(description="reference", ordering="reference__name")
    def reference_display(self, obj):
        return admin_link("refs.reference", obj.reference_id, obj.reference.name)

    @admin.display(description="status")
    def status_display(self, obj):
        if obj.ready:
            return "ready"
        job = obj.job
        if job is None:
            return "building"
        text = f"{job.state}, {job.progress:.0%}"
        if job.error:
            text += f" — {job.error.get('message') if isinstance(job.error, dict) else job.error}"
        return text

    @admin.display(description="job")
    def job_display(self, obj):
        return admin_link("virtool_site.job", obj.job_id, obj.job_id) if obj.job_id else "—"

    @admin.display(description="changes")
    def changes_display(self, obj):
        count = obj.changes.count()
        url = reverse("admin:history_change_changelist") + f"?index__id__exact={obj.pk}"
        return format_html('<a href="{}">{} change(s) built into this index</a>', url, count)

    @admin.display(description="missing files")
    def missing_files_display(self, obj):
        if obj.ready or not obj.has_files:
            return "—"
        return ", ".join(index_missing_files(obj)) or "none"

    @admin.display(description="manifest")
    def manifest_display(self, obj):
        manifest = obj.manifest or {}
        items = list(manifest.items())
        shown = dict(items[:MANIFEST_SHOWN])
        more = (
            format_html(
                '<p>… and {} more: see <a href="/api/indexes/{}">the API document</a>.</p>',
                len(items) - MANIFEST_SHOWN,
                obj.pk,
            )
            if len(items) > MANIFEST_SHOWN
            else ""
        )
        return format_html(
            "<p>{} OTU(s), each at the version built (OTU id: version).</p>"
            '<pre style="max-height: 24em; overflow: auto">{}</pre>{}',
            len(items),
            json.dumps(shown, indent=1),
            more,
        )

