from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from virtool_site.api.fields import UserRefField

_INT_OR_STRING = {"oneOf": [{"type": "integer"}, {"type": "string"}]}


@extend_schema_field(
    {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "version": {**_INT_OR_STRING, "description": 'The version after the change, or "removed"'},
        },
        "required": ["id", "name", "version"],
    }
)
class ChangeOtuField(serializers.Field):
    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        kwargs.setdefault("source", "*")
        super().__init__(**kwargs)

    def to_representation(self, change):
        version = "removed" if change.method_name == "remove" else change.otu_version
        return {"id": change.otu_id, "name": change.otu_name, "version": version}


@extend_schema_field(
    {
        "type": "object",
        "properties": {"id": {"type": "string"}, "version": _INT_OR_STRING},
        "required": ["id", "version"],
        "description": 'The index build that includes the change, or {"id": "unbuilt", "version": "unbuilt"}',
    }
)
class ChangeIndexField(serializers.Field):
    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        kwargs.setdefault("source", "*")
        super().__init__(**kwargs)

    def to_representation(self, change):
        if change.index_id is None:
            return {"id": "unbuilt", "version": "unbuilt"}
        return {"id": change.index_id, "version": change.index.version}


class ChangeReferenceSerializer(serializers.Serializer):
    id = serializers.CharField(source="reference_id")


class ChangeSerializer(serializers.Serializer):
    id = serializers.CharField()
    method_name = serializers.CharField()
    description = serializers.CharField()
    created_at = serializers.DateTimeField()
    otu = ChangeOtuField()
    virus = ChangeOtuField(help_text="Older name of otu")
    reference = ChangeReferenceSerializer(source="*")
    user = UserRefField(allow_null=True)
    index = ChangeIndexField()


class ChangeDetailSerializer(ChangeSerializer):
    diff = serializers.JSONField(
        help_text="dictdiffer diff of the joined OTU documents; the whole document for create and remove"
    )
