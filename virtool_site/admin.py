from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from virtool_site.models import PERMISSIONS, ApiKey, GroupPermissions, Job, Process, Upload, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = DjangoUserAdmin.fieldsets + (("Virtool permissions", {"fields": PERMISSIONS}),)
    list_display = ("username", "email", "is_superuser", "is_active", *PERMISSIONS)
    list_filter = ("is_superuser", "is_active", *PERMISSIONS)


@admin.register(GroupPermissions)
class GroupPermissionsAdmin(admin.ModelAdmin):
    list_display = ("group", *PERMISSIONS)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "user__username", "prefix")
    readonly_fields = ("id", "prefix", "key_hash", "created_at", "last_used_at")
    exclude = ()


@admin.register(Process)
class ProcessAdmin(admin.ModelAdmin):
    list_display = ("id", "type", "step", "progress", "complete", "error", "created_at")
    list_filter = ("type", "complete")
    readonly_fields = [f.name for f in Process._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "workflow", "state", "progress", "user", "created_at")
    list_filter = ("workflow", "state")
    readonly_fields = [f.name for f in Job._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "type", "size", "user", "created_at", "ready")
    list_filter = ("type",)
    search_fields = ("id", "name")
    readonly_fields = [f.name for f in Upload._meta.fields]

    def has_add_permission(self, request):
        return False
