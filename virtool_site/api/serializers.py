from django.contrib.auth.models import Group
from django.core.exceptions import ObjectDoesNotExist
from rest_framework import serializers

from virtool_site.api.fields import FileNameField, PatternField, UserRefField
from virtool_site.api.inputs import RequestSerializer
from virtool_site.models import PERMISSIONS, ApiKey, Job, Process, Upload, User
from virtool_site.services import user_permissions


class PermissionsSerializer(RequestSerializer):
    create_ref = serializers.BooleanField(required=False)
    create_sample = serializers.BooleanField(required=False)
    upload_file = serializers.BooleanField(required=False)
    remove_file = serializers.BooleanField(required=False)
    cancel_job = serializers.BooleanField(required=False)


class GroupRefSerializer(serializers.Serializer):
    id = serializers.CharField(source="name")
    name = serializers.CharField()


class UserSerializer(serializers.Serializer):
    id = serializers.CharField(source="username")
    handle = serializers.CharField(source="username")
    administrator = serializers.BooleanField(source="is_superuser")
    active = serializers.BooleanField(source="is_active")
    permissions = serializers.SerializerMethodField()
    groups = GroupRefSerializer(many=True)
    created_at = serializers.DateTimeField(source="date_joined")

    def get_permissions(self, user) -> PermissionsSerializer:
        groups = getattr(user, "_prefetched_objects_cache", {}).get("groups")
        if groups is None or user.is_superuser:
            return user_permissions(user)
        # The groups' flags prefetched with the user (selectors.users_list): no query per user.
        permissions = user.permission_dict()
        for group in groups:
            try:
                flags = group.virtool_permissions.permission_dict()
            except ObjectDoesNotExist:
                continue
            for name, value in flags.items():
                permissions[name] = permissions[name] or value
        return permissions


#: User handles and group names: ASCII letters, digits and a few signs (Django's username rule,
#: spelled without `\w`, which matches other alphabets in Python but not in JavaScript).
HANDLE_PATTERN = r"^[A-Za-z0-9_.@+-]{1,150}$"
GROUP_NAME_PATTERN = r"^[A-Za-z0-9_ .@+-]{1,150}$"


class UserCreateSerializer(RequestSerializer):
    handle = PatternField(HANDLE_PATTERN)
    password = serializers.CharField(min_length=8, max_length=128, write_only=True, trim_whitespace=False)
    administrator = serializers.BooleanField(default=False)
    permissions = PermissionsSerializer(required=False)


class UserUpdateSerializer(RequestSerializer):
    password = serializers.CharField(
        min_length=8, max_length=128, required=False, write_only=True, trim_whitespace=False
    )
    administrator = serializers.BooleanField(required=False)
    active = serializers.BooleanField(required=False)
    permissions = PermissionsSerializer(required=False)
    groups = serializers.ListField(child=serializers.CharField(max_length=150), required=False)


class GroupSerializer(serializers.Serializer):
    id = serializers.CharField(source="name")
    name = serializers.CharField()
    permissions = serializers.SerializerMethodField()
    users = serializers.SerializerMethodField()

    def get_permissions(self, group) -> PermissionsSerializer:
        flags = getattr(group, "virtool_permissions", None)
        return flags.permission_dict() if flags else {name: False for name in PERMISSIONS}

    def get_users(self, group) -> list[str]:
        return [user.username for user in group.user_set.all()]


class GroupCreateSerializer(RequestSerializer):
    name = PatternField(GROUP_NAME_PATTERN)


class GroupUpdateSerializer(RequestSerializer):
    permissions = PermissionsSerializer()


class ApiKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "created_at", "last_used_at"]


class ApiKeyCreateSerializer(RequestSerializer):
    name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="The key itself. It is shown only once.")

    class Meta(ApiKeySerializer.Meta):
        fields = ApiKeySerializer.Meta.fields + ["key"]


class ProcessSerializer(serializers.ModelSerializer):
    step_count = serializers.IntegerField(read_only=True)
    error = serializers.JSONField(allow_null=True)
    context = serializers.JSONField()

    class Meta:
        model = Process
        fields = ["id", "type", "step", "step_count", "progress", "complete", "error", "context", "created_at"]


class JobSerializer(serializers.ModelSerializer):
    user = UserRefField()
    error = serializers.JSONField(allow_null=True)
    args = serializers.JSONField()

    class Meta:
        model = Job
        fields = ["id", "workflow", "state", "progress", "error", "args", "user", "created_at", "updated_at"]


class UploadSerializer(serializers.ModelSerializer):
    user = UserRefField()
    name_on_disk = serializers.CharField(source="id")
    uploaded_at = serializers.DateTimeField(source="created_at")

    class Meta:
        model = Upload
        fields = ["id", "name", "name_on_disk", "type", "size", "user", "ready", "reserved", "created_at", "uploaded_at"]


class UploadQuerySerializer(serializers.Serializer):
    name = FileNameField(max_length=200)
    type = serializers.ChoiceField(choices=["reference", "reads", "hmm", "subtraction"], default="reference")


class UploadListQuerySerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["reference", "reads", "hmm", "subtraction"], required=False)


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "unavailable"])
    database = serializers.CharField()
    redis = serializers.CharField()
    storage = serializers.CharField(help_text='"ok", or "error: ..." when the file store (DATA_DIR or the bucket) cannot be used')


class ErrorSerializer(serializers.Serializer):
    id = serializers.CharField()
    message = serializers.CharField()
    errors = serializers.DictField(required=False)


class AccountSerializer(UserSerializer):
    pass


__all__ = [name for name in dir() if name.endswith("Serializer")] + ["Group", "User"]
