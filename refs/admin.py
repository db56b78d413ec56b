"""Admin for references and OTUs, built on the same services as the API.

References: settings through `reference_edit`, rights inlines through `reference_user_*` /
`reference_group_*`, and the actions "Build index", "Export reference file", "Clone" and
"Delete" through the functions the API views call. OTUs: a one-page editor (refs.admin_otu)
whose every submit is one `refs.services` call; deletion goes through `otu_remove`.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.core.exceptions import PermissionDenied
from django.db.models import IntegerField, OuterRef, Prefetch, Subquery
from django.db.models.functions import Length, Trim
from django.http import HttpResponseNotAllowed, HttpResponseRedirect, StreamingHttpResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from indexes import services as index_services
from indexes.models import Index
from refs import services, transfer
from refs.admin_otu import OTUAdder, OTUEditor, issues_summary
from refs.admin_support import (
    CuratedReferenceFilter,
    CuratorAdminMixin,
    ServiceErrorsMixin,
    admin_link,
    admin_url,
    delete_selected_through_services,
    error_text,
    is_curator,
    references_curated,
)
from refs.documents import otu_issues
from refs.models import OTU, Isolate, Reference, ReferenceGroup, ReferenceUser, Sequence
from refs.permissions import RIGHTS, reference_has_right, reference_rights_check
from refs.selectors import references_annotated
from virtool_site.errors import ApplicationError, InsufficientRights
from virtool_site.services import user_has_permission

EXPORT_SCOPES = {"built": "as last built", "unbuilt": "as it is now"}


def _process_link(process_id) -> str:
    return admin_link("virtool_site.process", process_id, f"process {process_id}")


# References ---------------------------------------------------------------------------------


class ReferenceForm(forms.ModelForm):
    source_types = forms.CharField(
        required=False,
        help_text="Comma-separated. With “restrict source types”, isolates may only use these (and unknown).",
    )
    internal_control = forms.CharField(
        required=False, max_length=8, help_text="Id of an OTU of this reference; empty clears it."
    )

    class Meta:
        model = Reference
        fields = (
            "name",
            "description",
            "organism",
            "data_type",
            "public",
            "internal_control",
            "restrict_source_types",
            "source_types",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "source_types" in self.fields:
            self.initial["source_types"] = ", ".join(self.instance.source_types or [])

    def clean_source_types(self):
        return [part.strip() for part in (self.cleaned_data.get("source_types") or "").split(",") if part.strip()]


class _RightsInlineForm(forms.ModelForm):
    member_field = "user"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.member_field in self.fields:
            # An entry belongs to one member; give another member rights with a new row.
            self.fields[self.member_field].disabled = True


class _ReferenceUserForm(_RightsInlineForm):
    member_field = "user"


class _ReferenceGroupForm(_RightsInlineForm):
    member_field = "group"


class _RightsInline(admin.TabularInline):
    extra = 1

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        # A plain select: the add/change/view-user popups are not for curators.
        if formfield is not None and isinstance(formfield.widget, RelatedFieldWidgetWrapper):
            formfield.widget = formfield.widget.widget
        return formfield

    def has_view_permission(self, request, obj=None):
        return is_curator(request.user)

    def _may_modify(self, request, obj):
        return obj is not None and reference_has_right(user=request.user, reference=obj, right="modify")

    def has_add_permission(self, request, obj=None):
        return self._may_modify(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._may_modify(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._may_modify(request, obj)


class ReferenceUserInline(_RightsInline):
    model = ReferenceUser
    form = _ReferenceUserForm
    fields = ("user", *RIGHTS, "created_at")
    readonly_fields = ("created_at",)
    verbose_name = "user right"
    verbose_name_plural = "user rights"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


class ReferenceGroupInline(_RightsInline):
    model = ReferenceGroup
    form = _ReferenceGroupForm
    fields = ("group", *RIGHTS, "created_at")
    readonly_fields = ("created_at",)
    verbose_name = "group right"
    verbose_name_plural = "group rights"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("group")


@admin.register(Reference)
class ReferenceAdmin(ServiceErrorsMixin, CuratorAdminMixin, admin.ModelAdmin):
    form = ReferenceForm
    change_form_template = "admin/refs/reference/change_form.html"
    list_display = (
        "name",
        "id",
        "organism",
        "data_type",
        "public",
        "user",
        "otu_count_display",
        "unbuilt_display",
        "latest_build_display",
        "process_display",
        "created_at",
    )
    list_display_links = ("name",)
    list_filter = ("public", "data_type", "restrict_source_types")
    search_fields = ("name", "id", "description", "organism")
    actions = ["build_index", "export_built", "export_unbuilt", "clone_reference", "delete_selected"]
    inlines = [ReferenceUserInline, ReferenceGroupInline]

    # Visibility and rights ------------------------------------------------------------------

    def get_queryset(self, request):
        latest = Index.objects.filter(reference=OuterRef("pk"), ready=True).order_by("-version")
        return references_annotated(references_curated(request.user)).annotate(
            latest_build_version=Subquery(latest.values("version")[:1], output_field=IntegerField())
        )

    def has_add_permission(self, request):
        return is_curator(request.user) and user_has_permission(request.user, "create_ref")

    def has_change_permission(self, request, obj=None):
        if obj is None:
            return is_curator(request.user)
        return reference_has_right(user=request.user, reference=obj, right="modify")

    def has_delete_permission(self, request, obj=None):
        if obj is None:
            return is_curator(request.user)
        return reference_has_right(user=request.user, reference=obj, right="remove")

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    # Form ------------------------------------------------------------------------------------

    STATUS_FIELDS = (
        "id",
        "data_type",
        "user",
        "created_at",
        "otu_count_display",
        "unbuilt_display",
        "latest_build_display",
        "process_display",
        "origin_display",
        "links_display",
    )

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ("name", "description", "organism", "data_type", "public")})]
        return [
            (
                "Reference",
                {
                    "fields": (
                        "name",
                        "description",
                        "organism",
                        "public",
                        "internal_control",
                        "restrict_source_types",
                        "source_types",
                    )
                },
            ),
            ("Status", {"fields": self.STATUS_FIELDS}),
        ]

    def get_readonly_fields(self, request, obj=None):
        return self.STATUS_FIELDS if obj is not None else ()

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            created = services.reference_create(
                user=request.user,
                name=data["name"],
                description=data.get("description") or "",
                organism=data.get("organism") or "",
                data_type=data.get("data_type") or "genome",
                public=bool(data.get("public")),
            )
            obj.pk = created.pk
            obj.user = created.user
            obj.created_at = created.created_at
            return
        changes = {name: data[name] for name in form.changed_data if name in services.REFERENCE_EDITABLE}
        if changes:
            services.reference_edit(user=request.user, reference=Reference.objects.get(pk=obj.pk), **changes)

    def save_formset(self, request, form, formset, change):
        if formset.model not in (ReferenceUser, ReferenceGroup):
            return super().save_formset(request, form, formset, change)
        kind = "user" if formset.model is ReferenceUser else "group"
        reference = Reference.objects.get(pk=form.instance.pk)
        add, edit, remove = {
            "user": (services.reference_user_add, services.reference_user_edit, services.reference_user_remove),
            "group": (services.reference_group_add, services.reference_group_edit, services.reference_group_remove),
        }[kind]

        def member_id(member):
            return member.username if kind == "user" else member.name

        # What Django's change message reads from a saved formset.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        deleted = set(id(f) for f in formset.deleted_forms)
        for entry_form in formset.deleted_forms:
            if entry_form.instance.pk:
                remove(
                    user=request.user, reference=reference, **{f"{kind}_id": member_id(getattr(entry_form.instance, kind))}
                )
                formset.deleted_objects.append(entry_form.instance)
        for entry_form in formset.forms:
            if id(entry_form) in deleted or not entry_form.has_changed() or not entry_form.cleaned_data:
                continue
            rights = {right: bool(entry_form.cleaned_data.get(right)) for right in RIGHTS}
            if entry_form.instance.pk is None:
                entry = add(
                    user=request.user,
                    reference=reference,
                    rights=rights,
                    **{f"{kind}_id": member_id(entry_form.cleaned_data[kind])},
                )
                formset.new_objects.append(entry)
            else:
                entry = edit(
                    user=request.user,
                    reference=reference,
                    rights=rights,
                    **{f"{kind}_id": member_id(getattr(entry_form.instance, kind))},
                )
                formset.changed_objects.append((entry, entry_form.changed_data))

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
        process = transfer.reference_delete(user=request.user, reference=reference)
        self.message_user(
            request,
            format_html("{}: deletion started, {}", reference.name, _process_link(process.id)),
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

    def _build(self, request, reference) -> bool:
        try:
            index, _ = index_services.index_create(user=request.user, reference_id=reference.id, runner="celery")
        except ApplicationError as error:
            self.message_user(request, f"{reference.name}: {error_text(error)}", messages.ERROR)
            return False
        self.message_user(
            request,
            format_html(
                "{}: index build started — {}, {}",
                reference.name,
                admin_link("indexes.index", index.id, f"index {index.id} (version {index.version})"),
                admin_link("virtool_site.job", index.job_id, f"job {index.job_id}"),
            ),
            messages.SUCCESS,
        )
        return True

    @admin.action(description="Build index of selected references")
    def build_index(self, request, queryset):
        for reference in queryset:
            self._build(request, reference)

    def _clone(self, request, reference) -> bool:
        try:
            if not user_has_permission(request.user, "create_ref"):
                raise InsufficientRights()
            clone = transfer.reference_create_clone(
                user=request.user,
                source_id=reference.id,
                name=f"Clone of {reference.name}",
                description="",
                organism=reference.organism,
                public=False,
            )
        except ApplicationError as error:
            self.message_user(request, f"{reference.name}: {error_text(error)}", messages.ERROR)
            return False
        self.message_user(
            request,
            format_html(
                "{}: cloning into {}, {}",
                reference.name,
                admin_link("refs.reference", clone.id, clone.name),
                _process_link(clone.process_id),
            ),
            messages.SUCCESS,
        )
        return True

    @admin.action(description="Clone selected references")
    def clone_reference(self, request, queryset):
        for reference in queryset:
            self._clone(request, reference)

    def _export(self, reference, scope: str):
        response = StreamingHttpResponse(
            transfer.reference_export_stream(reference=reference, scope=scope), content_type="application/gzip"
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

    def build_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        reference, redirect = self._object_or_redirect(request, object_id)
        if redirect:
            return redirect
        self._build(request, reference)
        return HttpResponseRedirect(admin_url("refs.reference", reference.pk))

    def clone_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        reference, redirect = self._object_or_redirect(request, object_id)
        if redirect:
            return redirect
        self._clone(request, reference)
        return HttpResponseRedirect(admin_url("refs.reference", reference.pk))

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

    # Columns and status ----------------------------------------------------------------------

    @admin.display(description="OTUs", ordering="otu_count")
    def otu_count_display(self, obj):
        url = reverse("admin:refs_otu_changelist") + f"?reference={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, getattr(obj, "otu_count", 0))

    @admin.display(description="unbuilt changes", ordering="unbuilt_change_count")
    def unbuilt_display(self, obj):
        url = reverse("admin:history_change_changelist") + f"?reference={obj.pk}&built=unbuilt"
        return format_html('<a href="{}">{}</a>', url, getattr(obj, "unbuilt_change_count", 0))

    @admin.display(description="latest build")
    def latest_build_display(self, obj):
        index_id = getattr(obj, "latest_build_id", None)
        if not index_id:
            return "—"
        return admin_link("indexes.index", index_id, f"version {getattr(obj, 'latest_build_version', '?')}")

    @admin.display(description="process")
    def process_display(self, obj):
        return _process_link(obj.process_id) if obj.process_id else "—"

    @admin.display(description="origin")
    def origin_display(self, obj):
        if obj.cloned_from:
            return format_html("cloned from {}", admin_link("refs.reference", obj.cloned_from.get("id"), obj.cloned_from.get("name")))
        if obj.imported_from:
            return f"imported from {obj.imported_from.get('name')}"
        if obj.remotes_from:
            return f"remote {obj.remotes_from.get('slug')}"
        return "created empty"

    @admin.display(description="see also")
    def links_display(self, obj):
        links = [
            (reverse("admin:refs_otu_changelist") + f"?reference={obj.pk}", "OTUs"),
            (reverse("admin:refs_otu_add") + f"?reference={obj.pk}", "Add an OTU"),
            (reverse("admin:history_change_changelist") + f"?reference={obj.pk}", "History"),
            (reverse("admin:indexes_index_changelist") + f"?reference={obj.pk}", "Indexes"),
            (f"/api/refs/{obj.pk}", "API document"),
        ]
        return format_html_join(" · ", '<a href="{}">{}</a>', links)


# OTUs ---------------------------------------------------------------------------------------


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


@admin.register(OTU)
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
