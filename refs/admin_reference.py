"""The reference admin: the list with OTU counts, unbuilt changes and latest build, the
settings form (through `reference_edit`), the rights inlines (refs.admin_rights), and the
actions of refs.admin_reference_actions (build, export, clone, delete)."""

from django import forms
from django.contrib import admin
from django.db.models import IntegerField, OuterRef, Subquery
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from indexes.models import Index
from refs import services
from refs.admin_forms import serializer_validate
from refs.api.serializers import ReferenceCreateSerializer, ReferenceUpdateSerializer
from refs.admin_reference_actions import ReferenceActionsMixin, process_link
from refs.admin_rights import MEMBER_FIELDS, ReferenceGroupInline, ReferenceUserInline, rights_formset_save
from refs.admin_support import CuratorAdminMixin, ServiceErrorsMixin, admin_link, is_curator, references_curated
from refs.models import Reference
from refs.permissions import reference_has_right
from refs.selectors import references_annotated
from virtool_site.services import user_has_permission


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

    #: The fields of the add page, all given to reference_create.
    CREATE_FIELDS = ("name", "description", "organism", "data_type", "public")

    def clean(self):
        """What the API's own request serializer refuses (control characters, overlong or too
        many source types) is refused here too, with its messages on the fields."""
        cleaned = super().clean()
        if self.instance._state.adding:
            serializer_class, names = ReferenceCreateSerializer, self.CREATE_FIELDS
        else:
            serializer_class, names = ReferenceUpdateSerializer, [
                name for name in self.changed_data if name in services.REFERENCE_EDITABLE
            ]
        data = {name: cleaned[name] for name in names if name in cleaned}
        if data:
            serializer_validate(serializer_class, data, self)
        return cleaned


class ReferenceAdmin(ReferenceActionsMixin, ServiceErrorsMixin, CuratorAdminMixin, admin.ModelAdmin):
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
        if formset.model not in MEMBER_FIELDS:
            return super().save_formset(request, form, formset, change)
        rights_formset_save(request, form, formset)

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
        return process_link(obj.process_id) if obj.process_id else "—"

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
