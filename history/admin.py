"""Read-only history for curators: every Change with its diff rendered, and "Revert this change
and all later ones" through the same service as DELETE /api/history/{id}.

Staff users see the changes of the references they curate; reverting checks `modify_otu` in
the service, and its refusals ("Not unbuilt", "Insufficient rights") become admin messages.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import Exists, OuterRef, Subquery
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from history.admin_diff import diff_rows
from history.models import Change
from history.revert import change_revert
from refs.admin_support import (
    CuratedReferenceFilter,
    CuratorAdminMixin,
    admin_link,
    admin_url,
    error_text,
    references_curated,
)
from refs.models import OTU, Reference
from virtool_site.admin import ReadOnlyAdminMixin
from virtool_site.errors import ApplicationError


class ChangeReferenceFilter(CuratedReferenceFilter):
    field = "reference_id"


class BuiltFilter(admin.SimpleListFilter):
    title = "index build"
    parameter_name = "built"

    def lookups(self, request, model_admin):
        return [("unbuilt", "Unbuilt"), ("built", "In an index")]

    def queryset(self, request, queryset):
        if self.value() == "unbuilt":
            return queryset.filter(index__isnull=True)
        if self.value() == "built":
            return queryset.filter(index__isnull=False)
        return queryset


#: Query-string lookups other admin pages link with (an OTU's or an index's changes).
LINKED_LOOKUPS = ("otu_id", "otu_id__exact", "index__id__exact", "index")


@admin.register(Change)
class ChangeAdmin(ReadOnlyAdminMixin, CuratorAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "reference_display",
        "otu_display",
        "otu_version",
        "method_name",
        "description",
        "user",
        "index_display",
        "created_at",
    )
    list_display_links = ("id", "description")
    list_filter = (ChangeReferenceFilter, BuiltFilter, "method_name", "created_at")
    search_fields = ("otu_name", "description", "=otu_id", "=id")
    list_select_related = ("user", "index")
    actions = ["revert_selected"]

    def get_queryset(self, request):
        changes = (
            Change.objects.select_related("user", "index")
            .annotate(
                reference_name=Subquery(Reference.all_objects.filter(id=OuterRef("reference_id")).values("name")[:1]),
                otu_exists=Exists(OTU.objects.filter(id=OuterRef("otu_id"))),
            )
            .order_by("-created_at", "-otu_version", "-id")
        )
        if request.user.is_superuser:
            return changes
        return changes.filter(reference_id__in=references_curated(request.user).values("id"))

    def lookup_allowed(self, lookup, value, request=None):
        if lookup in LINKED_LOOKUPS:
            return True
        return super().lookup_allowed(lookup, value, request)

    # Columns -----------------------------------------------------------------------------------

    @admin.display(description="reference", ordering="reference_name")
    def reference_display(self, obj):
        return admin_link("refs.reference", obj.reference_id, getattr(obj, "reference_name", None) or obj.reference_id)

    @admin.display(description="OTU", ordering="otu_name")
    def otu_display(self, obj):
        if getattr(obj, "otu_exists", False):
            return admin_link("refs.otu", obj.otu_id, obj.otu_name)
        return f"{obj.otu_name} (removed)"

    @admin.display(description="index", ordering="index__version")
    def index_display(self, obj):
        if obj.index_id is None:
            return "unbuilt"
        return admin_link("indexes.index", obj.index_id, f"version {obj.index.version}")

    # The diff page ----------------------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        change = self.get_object(request, unquote(object_id))
        if change is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        later = list(
            Change.objects.filter(otu_id=change.otu_id, otu_version__gte=change.otu_version)
            .select_related("user", "index")
            .order_by("otu_version")
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "title": f"Change {change.id}",
            "subtitle": None,
            "change": change,
            "reference_link": self.reference_display(change),
            "otu_link": self.otu_display(change),
            "index_text": self.index_display(change),
            "rows": diff_rows(change.method_name, change.diff),
            "whole_document": isinstance(change.diff, dict),
            "reverted": [
                {"object": c, "url": admin_url("history.change", c.id), "index": self.index_display(c)} for c in later
            ],
            "built": any(c.index_id is not None for c in later),
            "revert_url": reverse("admin:history_change_revert", args=[change.pk]),
            "otu_history_url": reverse("admin:history_change_changelist") + f"?otu_id={change.otu_id}",
            "api_url": f"/api/history/{change.id}",
        }
        return TemplateResponse(request, "admin/history/change/diff.html", context)

    # Revert -----------------------------------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "<path:object_id>/revert/",
                self.admin_site.admin_view(self.revert_view),
                name="history_change_revert",
            )
        ] + super().get_urls()

    def _revert(self, request, change) -> bool:
        count = Change.objects.filter(otu_id=change.otu_id, otu_version__gte=change.otu_version).count()
        try:
            document = change_revert(user=request.user, change_id=change.id)
        except ApplicationError as error:
            self.message_user(request, f"{change.id}: {error_text(error)}", messages.ERROR)
            return False
        if document is None:
            message = format_html("Reverted {}: {} no longer exists ({} change(s) removed).", change.id, change.otu_name, count)
        else:
            message = format_html(
                "Reverted {}: {} is back at version {} ({} change(s) removed).",
                change.id,
                admin_link("refs.otu", change.otu_id, document.get("name", change.otu_name)),
                document.get("version"),
                count,
            )
        self.message_user(request, message, messages.SUCCESS)
        return True

    def revert_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        change = self.get_object(request, unquote(object_id))
        if change is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self._revert(request, change):
            return HttpResponseRedirect(admin_url("history.change", change.pk))
        if OTU.objects.filter(id=change.otu_id).exists():
            return HttpResponseRedirect(admin_url("refs.otu", change.otu_id))
        return HttpResponseRedirect(reverse("admin:history_change_changelist") + f"?otu_id={change.otu_id}")

    @admin.action(description="Revert selected changes and all later ones of their OTUs")
    def revert_selected(self, request, queryset):
        # Reverting a change removes the later ones too: revert only each OTU's earliest.
        earliest = {}
        for change in queryset.select_related(None).only("id", "otu_id", "otu_version", "otu_name"):
            kept = earliest.get(change.otu_id)
            if kept is None or change.otu_version < kept.otu_version:
                earliest[change.otu_id] = change
        for change in sorted(earliest.values(), key=lambda c: c.id):
            self._revert(request, change)
