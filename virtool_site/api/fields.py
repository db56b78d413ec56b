from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


@extend_schema_field(
    {"type": "object", "nullable": True, "properties": {"id": {"type": "string"}}, "required": ["id"]}
)
class UserRefField(serializers.Field):
    """A user as Virtool shows one: `{"id": username}` (null when unknown)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, user):
        return {"id": user.username}


class IdRefField(serializers.Field):
    """An object shown as `{"id": ...}`."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return {"id": getattr(value, "pk", value)}


IdRefField = extend_schema_field(
    {"type": "object", "nullable": True, "properties": {"id": {"type": "string"}}, "required": ["id"]}
)(IdRefField)
