from django import forms
from django.contrib import admin, messages
from django.contrib.admin import options as admin_options
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
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
class UserAdmin(DjangoUserAdmin):
    fieldsets = DjangoUserAdmin.fieldsets + (("Virtool permissions", {"fields": PERMISSIONS}),)
    list_display = ("username", "email", "is_superuser", "is_active", *PERMISSIONS)
    list_filter = ("is_superuser", "is_active", *PERMISSIONS)


@admin.register(GroupPermissions)
class GroupPermissionsAdmin(admin.ModelAdmin):
    list_display = ("group", *PERMISSIONS)


class ApiKeyAddForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ("user", "name")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
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


class OwnWorkAdmin(admin.ModelAdmin):
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
class UploadAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "type", "size", "user", "created_at", "ready")
    list_filter = ("type",)
    search_fields = ("id", "name")
    readonly_fields = [f.name for f in Upload._meta.fields]

    def has_add_permission(self, request):
        return False
