import re

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from virtool_site.files import FILE_NAME_PATTERN, FILE_NAME_RULE


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


class PatternField(serializers.CharField):
    """Text that must match `pattern` exactly as sent (no trimming). The pattern is written with
    explicit character classes, so that it means the same in Python, in JavaScript clients and
    in OpenAPI validators (whose `\\w`, `\\s` and `$` differ), and is documented as is."""

    default_error_messages = {"pattern": "This value does not match the required pattern."}

    def __init__(self, pattern: str, **kwargs):
        kwargs["trim_whitespace"] = False
        super().__init__(**kwargs)
        self.pattern = pattern

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not re.fullmatch(self.pattern, value):
            self.fail("pattern")
        return value


class PatternFieldExtension(OpenApiSerializerFieldExtension):
    target_class = PatternField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        schema["pattern"] = self.target.pattern
        return schema


class FileNameField(PatternField):
    """A file name as `virtool_site.files.safe_file_name` accepts it, checked exactly as sent."""

    default_error_messages = {"pattern": FILE_NAME_RULE}

    def __init__(self, **kwargs):
        super().__init__(FILE_NAME_PATTERN, **kwargs)
