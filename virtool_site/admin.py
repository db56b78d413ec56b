"""The site-wide admin: users, API keys, processes, jobs and uploads, and the mixins every
app's admin shares (read-only records, changelists that refuse a NUL instead of a 500)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin import options as admin_options
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.html import format_html

from virtool_site.api.parsers import BoundedJSONDecoder
from virtool_site.models import PERMISSIONS, ApiKey, GroupPermissions, Job, Process, Upload, User
from virtool_site.services import api_key_create, api_key_revoke

# Every admin's JSON form fields (OTU schema, BrAPI additionalInfo, ...) read their text with
# the API's bounded JSON reader: a text nested 1,000 deep is "Enter a valid JSON.", not a
# RecursionError (500). Admins copy these defaults when they are made, and this module is
# imported (INSTALLED_APPS order) before the apps' admin modules make theirs.
admin_options.FORMFIELD_FOR_DBFIELD_DEFAULTS[models.JSONField] = {"decoder": BoundedJSONDecoder}


def _holds_nul(values) -> bool:
    return any("\x00" in value for value in values)


class NulSafeChangeListMixin:
    """PostgreSQL refuses NUL in a query, and Django only finds out when the query runs (a 500).
    A filter value or search with one is an invalid lookup, as Django treats any other (the
    list again, `?e=1`); a selected id with one names nothing, so the action changes nothing."""

    def get_changelist_instance(self, request):
        if _holds_nul(request.GET.keys()) or _holds_nul(v for _, values in request.GET.lists() for v in values):
            raise IncorrectLookupParameters("NUL in the query string")
        return super().get_changelist_instance(request)

    def _names_a_row(self, value: str) -> bool:
        if "\x00" in value:
            return False
        try:
            self.opts.pk.to_python(value)
        except ValidationError:
            return False
        return True

    def response_action(self, request, queryset):
        if not all(self._names_a_row(v) for v in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)):
            self.message_user(request, "No item selected exists: nothing changed.", messages.WARNING)
            return None
        return super().response_action(request, queryset)


class ReadOnlyAdminMixin:
    """A record kept by the services (history, index builds, BLAST results): the admin shows
    it and never adds, edits or deletes it."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    """Rows shown beside their parent and never edited there; the parent's admin decides who
    sees the page."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_view_permission(self, request, obj=None):
        return True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(NulSafeChangeListMixin, DjangoUserAdmin):
    fieldsets = DjangoUserAdmin.fieldsets + (("Virtool permissions", {"fields": PERMISSIONS}),)
    list_display = ("username", "email", "is_superuser", "is_active", *PERMISSIONS)
    list_filter = ("is_superuser", "is_active", *PERMISSIONS)


# django.contrib.auth (listed before this app) registered Group; the same page, NUL-safe.
admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(NulSafeChangeListMixin, DjangoGroupAdmin):
    pass


@admin.register(GroupPermissions)
class GroupPermissionsAdmin(NulSafeChangeListMixin, admin.ModelAdmin):
    list_display = ("group", *PERMISSIONS)


class ApiKeyAddForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ("user", "name")


@admin.register(ApiKey)
class ApiKeyAdmin(NulSafeChangeListMixin, admin.ModelAdmin):
    """Keys are made by `api_key_create`: the key is shown once, in a message; only its hash is
    stored, and the hash is never shown."""

    list_display = ("id", "name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "user__username", "prefix")
    list_select_related = ("user",)
    actions = ["revoke"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        return super().get_form(request, obj, **kwargs)

    # A key acts as its user: staff who are not administrators make, see and revoke only
    # their own, as the API lets every user do; a key of an administrator would be theirs.
    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(user=request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user" and not request.user.is_superuser:
            kwargs["queryset"] = User.objects.filter(pk=request.user.pk)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("user", "name")
        return ("id", "name", "user", "prefix", "created_at", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("id", "user", "prefix", "created_at", "last_used_at", "revoked_at")

    def save_model(self, request, obj, form, change):
        if change:
            ApiKey.objects.filter(pk=obj.pk).update(name=form.cleaned_data["name"])
            return
        api_key, secret = api_key_create(user=form.cleaned_data["user"], name=form.cleaned_data["name"])
        obj.pk = api_key.pk
        obj.prefix = api_key.prefix
        self.message_user(
            request,
            format_html(
                "The key of {} for {} is <code>{}</code> — copy it now: it is not stored and will not be shown again.",
                api_key.name,
                api_key.user.username,
                secret,
            ),
            messages.WARNING,
        )

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke(self, request, queryset):
        revoked = 0
        for api_key in queryset.filter(revoked_at__isnull=True).select_related("user"):
            api_key_revoke(user=api_key.user, key_id=api_key.id)
            revoked += 1
        self.message_user(request, f"Revoked {revoked} API key(s).", messages.SUCCESS)


class OwnWorkAdmin(NulSafeChangeListMixin, admin.ModelAdmin):
    """Read-only pages of long work: staff see what they started, superusers everything.

    Curators follow links to the processes and jobs their admin actions start.
    """

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("user")
        return queryset if request.user.is_superuser else queryset.filter(user=request.user)

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        if not (request.user.is_active and request.user.is_staff):
            return False
        return obj is None or request.user.is_superuser or obj.user_id == request.user.pk

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Process)
class ProcessAdmin(OwnWorkAdmin):
    list_display = ("id", "type", "step", "progress", "complete", "error", "user", "created_at")
    list_filter = ("type", "complete")
    readonly_fields = [f.name for f in Process._meta.fields]

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(Job)
class JobAdmin(OwnWorkAdmin):
    list_display = ("id", "workflow", "state", "progress", "user", "created_at")
    list_filter = ("workflow", "state")
    # The key hash is a credential verifier: never shown.
    exclude = ("key_hash",)
    readonly_fields = [f.name for f in Job._meta.fields if f.name != "key_hash"]

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(Upload)
class UploadAdmin(NulSafeChangeListMixin, admin.ModelAdmin):
    list_display = ("id", "name", "type", "size", "user", "created_at", "ready")
    list_filter = ("type",)
    search_fields = ("id", "name")
    readonly_fields = [f.name for f in Upload._meta.fields]

    def has_add_permission(self, request):
        return False
