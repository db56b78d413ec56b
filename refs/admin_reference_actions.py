"""What a curator can do to a reference from its admin, through the functions the API
calls: build an index, export the reference file, clone it, and delete it (hidden at once, its
data removed by a process). Each is a list action and, but for deletion, a button on the
reference's page.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.http import HttpResponseNotAllowed, HttpResponseRedirect, StreamingHttpResponse
from django.urls import path, reverse
from django.utils.html import format_html

from indexes import services as index_services
from indexes.models import Index
from refs import services
from refs.admin_support import admin_link, admin_url, delete_selected_through_services, error_text
from refs.models import OTU, Reference
from refs.permissions import reference_has_right, reference_rights_check
from refs.processes.export import reference_export_stream
from virtool_site.errors import ApplicationError, InsufficientRights
from virtool_site.services import user_has_permission

EXPORT_SCOPES = {"built": "as last built", "unbuilt": "as it is now"}


def process_link(process_id) -> str:
    return admin_link("virtool_site.process", process_id, f"process {process_id}")


class ReferenceActionsMixin:
    """Build, export, clone and delete for ReferenceAdmin."""

    # Deletion through the API's process ------------------------------------------------------

    def get_deleted_objects(self, objs, request):
        references = list(objs)
        ids = [r.pk for r in references]
        perms_needed = {
            f"reference “{r.name}” (needs the remove right)"
            for r in references
            if not reference_has_right(user=request.user, reference=r, right="remove")
        }
        counts = {
            "references": len(references),
            "OTUs (deleted by a process)": OTU.objects.filter(reference_id__in=ids).count(),
            "indexes (deleted by a process)": Index.objects.filter(reference_id__in=ids).count(),
        }
        listed = [admin_link("refs.reference", r.pk, r.name) for r in references]
        return listed, counts, perms_needed, []

    def _delete(self, request, reference):
        reference_rights_check(user=request.user, reference=reference, right="remove")
        process = services.reference_delete(user=request.user, reference=reference)
        self.message_user(
            request,
            format_html("{}: deletion started, {}", reference.name, process_link(process.id)),
            messages.SUCCESS,
        )

    def delete_model(self, request, obj):
        self._delete(request, obj)

    def delete_queryset(self, request, queryset):
        for reference in list(queryset):
            self._delete(request, reference)

    def delete_selected(self, request, queryset):
        return delete_selected_through_services(self, request, queryset)

    delete_selected.short_description = "Delete selected references"
    delete_selected.allowed_permissions = ("delete",)

    # Actions ---------------------------------------------------------------------------------

    def _attempt(self, request, reference, start) -> bool:
        """Run `start()`, which starts the work and says so; a refusal (rights, a build
        already running, ...) is shown with the API's message instead."""
        try:
            started = start()
        except ApplicationError as error:
            self.message_user(request, f"{reference.name}: {error_text(error)}", messages.ERROR)
            return False
        self.message_user(request, started, messages.SUCCESS)
        return True

    def _build(self, request, reference) -> bool:
        def start():
            index, _ = index_services.index_create(user=request.user, reference_id=reference.id, runner="celery")
            return format_html(
                "{}: index build started — {}, {}",
                reference.name,
                admin_link("indexes.index", index.id, f"index {index.id} (version {index.version})"),
                admin_link("virtool_site.job", index.job_id, f"job {index.job_id}"),
            )

        return self._attempt(request, reference, start)

    @admin.action(description="Build index of selected references")
    def build_index(self, request, queryset):
        for reference in queryset:
            self._build(request, reference)

    def _clone(self, request, reference) -> bool:
        def start():
            if not user_has_permission(request.user, "create_ref"):
                raise InsufficientRights()
            clone = services.reference_create_clone(
                user=request.user,
                source_id=reference.id,
                # A name near the limit would not fit with the prefix (a DataError, a 500).
                name=f"Clone of {reference.name}"[: Reference._meta.get_field("name").max_length],
                description="",
                organism=reference.organism,
                public=False,
            )
            return format_html(
                "{}: cloning into {}, {}",
                reference.name,
                admin_link("refs.reference", clone.id, clone.name),
                process_link(clone.process_id),
            )

        return self._attempt(request, reference, start)

    @admin.action(description="Clone selected references")
    def clone_reference(self, request, queryset):
        for reference in queryset:
            self._clone(request, reference)

    def _export(self, reference, scope: str):
        response = StreamingHttpResponse(
            reference_export_stream(reference=reference, scope=scope), content_type="application/gzip"
        )
        response["Content-Disposition"] = 'attachment; filename="reference.json.gz"'
        return response

    def _export_action(self, request, queryset, scope):
        references = list(queryset[:2])
        if len(references) != 1:
            self.message_user(request, "Select exactly one reference to export.", messages.WARNING)
            return None
        return self._export(references[0], scope)

    @admin.action(description="Export reference file (OTUs as last built)")
    def export_built(self, request, queryset):
        return self._export_action(request, queryset, "built")

    @admin.action(description="Export reference file (OTUs as they are now)")
    def export_unbuilt(self, request, queryset):
        return self._export_action(request, queryset, "unbuilt")

    # The same actions as buttons on the reference's page -------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        info = self.opts.app_label, self.opts.model_name
        return [
            path("<path:object_id>/build/", wrap(self.build_view), name="%s_%s_build" % info),
            path("<path:object_id>/clone/", wrap(self.clone_view), name="%s_%s_clone" % info),
            path("<path:object_id>/export/", wrap(self.export_view), name="%s_%s_export" % info),
        ] + super().get_urls()

    def _object_or_redirect(self, request, object_id):
        reference = self.get_object(request, unquote(object_id))
        if reference is None:
            return None, self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        return reference, None

    def _button_view(self, request, object_id, action):
        """A button of the reference's page: POST runs `action`, then back to the page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        reference, redirect = self._object_or_redirect(request, object_id)
        if redirect:
            return redirect
        action(request, reference)
        return HttpResponseRedirect(admin_url("refs.reference", reference.pk))

    def build_view(self, request, object_id):
        return self._button_view(request, object_id, self._build)

    def clone_view(self, request, object_id):
        return self._button_view(request, object_id, self._clone)

    def export_view(self, request, object_id):
        reference, redirect = self._object_or_redirect(request, object_id)
        if redirect:
            return redirect
        scope = request.GET.get("scope", "built")
        if scope not in EXPORT_SCOPES:
            self.message_user(request, f"Unknown export scope {scope}", messages.ERROR)
            return HttpResponseRedirect(admin_url("refs.reference", reference.pk))
        return self._export(reference, scope)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        reference = self.get_object(request, unquote(object_id))
        extra_context = dict(extra_context or {})
        if reference is not None:
            extra_context.update(
                {
                    "build_url": reverse("admin:refs_reference_build", args=[reference.pk]),
                    "clone_url": reverse("admin:refs_reference_clone", args=[reference.pk]),
                    "export_url": reverse("admin:refs_reference_export", args=[reference.pk]),
                    "may_build": reference_has_right(user=request.user, reference=reference, right="build"),
                    "may_clone": user_has_permission(request.user, "create_ref"),
                }
            )
        return super().change_view(request, object_id, form_url, extra_context)
