"""The OTU admin: the list of the curator's OTUs with their verification issues (in a fixed
number of queries), the one-page editor and the add page of refs.admin_otu, and removal
through `otu_remove`."""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.db.models.functions import Length, Trim

from refs import services
from refs.admin_otu import OTUAdder, OTUEditor, issues_summary
from refs.admin_support import (
    CuratedReferenceFilter,
    CuratorAdminMixin,
    ServiceErrorsMixin,
    admin_link,
    delete_selected_through_services,
    is_curator,
    references_curated,
)
from refs.documents import otu_issues
from refs.models import OTU, Isolate, Sequence
from refs.permissions import reference_has_right


class OTUReferenceFilter(CuratedReferenceFilter):
    field = "reference_id"


class OTUChangeList(ChangeList):
    """The page's OTUs with what verification needs, in two more queries whatever the page size.

    Sequences come without their bases: only whether each one is empty.
    """

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        sequences = Sequence.objects.order_by("position").only("id", "isolate_id", "position").annotate(
            filled=Length(Trim("sequence"))
        )
        isolates = (
            Isolate.objects.order_by("position")
            .only("id", "otu_id", "isolate_id", "position")
            .prefetch_related(Prefetch("sequences", queryset=sequences, to_attr="issue_sequences"))
        )
        return queryset.prefetch_related(Prefetch("isolates", queryset=isolates, to_attr="issue_isolates"))


def _otu_light_document(otu: OTU) -> dict:
    """Just enough of the joined document for `otu_issues`."""
    return {
        "isolates": [
            {
                "id": isolate.isolate_id,
                "sequences": [
                    {"_id": s.id, "sequence": "N" if s.filled else ""} for s in isolate.issue_sequences
                ],
            }
            for isolate in otu.issue_isolates
        ]
    }


class OTUAdmin(ServiceErrorsMixin, CuratorAdminMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "abbreviation",
        "reference_display",
        "version",
        "last_indexed_version",
        "verified",
        "issues_display",
        "isolate_count",
    )
    list_filter = (OTUReferenceFilter, "verified")
    search_fields = ("name", "abbreviation")
    list_select_related = ("reference",)
    ordering = ("name", "id")
    actions = ["delete_selected"]

    def get_queryset(self, request):
        return OTU.objects.filter(reference__in=references_curated(request.user)).select_related("reference")

    def get_changelist(self, request, **kwargs):
        return OTUChangeList

    def has_add_permission(self, request):
        return is_curator(request.user)

    def has_change_permission(self, request, obj=None):
        if obj is None:
            return is_curator(request.user)
        return reference_has_right(user=request.user, reference=obj.reference_id, right="modify_otu")

    has_delete_permission = has_change_permission

    # Columns -----------------------------------------------------------------------------------

    @admin.display(description="reference", ordering="reference__name")
    def reference_display(self, obj):
        return admin_link("refs.reference", obj.reference_id, obj.reference.name)

    @admin.display(description="issues")
    def issues_display(self, obj):
        if not hasattr(obj, "issue_isolates"):
            return "—"
        return issues_summary(otu_issues(_otu_light_document(obj))) or "—"

    @admin.display(description="isolates")
    def isolate_count(self, obj):
        return len(obj.issue_isolates) if hasattr(obj, "issue_isolates") else "—"

    # Pages: the editor and the add page call the services ------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        otu = self.get_object(request, unquote(object_id))
        if otu is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        editor = OTUEditor(self, request, otu.id)
        if request.method == "POST":
            response = editor.post()
            if response is not None:
                return response
        return editor.render()

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        return OTUAdder(self, request).handle()

    # Removal through otu_remove ---------------------------------------------------------------

    def get_deleted_objects(self, objs, request):
        otus = list(objs)
        rights = {}
        for otu in otus:
            if otu.reference_id not in rights:
                rights[otu.reference_id] = reference_has_right(
                    user=request.user, reference=otu.reference_id, right="modify_otu"
                )
        perms_needed = {f"OTU “{o.name}” (needs the modify_otu right)" for o in otus if not rights[o.reference_id]}
        ids = [o.pk for o in otus]
        counts = {
            "OTUs": len(otus),
            "isolates": Isolate.objects.filter(otu_id__in=ids).count(),
            "sequences": Sequence.objects.filter(otu_id__in=ids).count(),
        }
        listed = [admin_link("refs.otu", o.pk, o.name) for o in otus]
        return listed, counts, perms_needed, []

    def delete_model(self, request, obj):
        services.otu_remove(user=request.user, otu_id=obj.pk)

    def delete_queryset(self, request, queryset):
        for otu_id in list(queryset.values_list("id", flat=True)):
            services.otu_remove(user=request.user, otu_id=otu_id)

    def delete_selected(self, request, queryset):
        return delete_selected_through_services(self, request, queryset)

    delete_selected.short_description = "Remove selected OTUs"
    delete_selected.allowed_permissions = ("delete",)
