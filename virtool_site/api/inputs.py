"""Request bodies are read strictly: `RequestSerializer`, the base of every body serializer.

DRF's fields coerce what they are given: `{"name": 123}` was stored as "123", `"public": "yes"`
and `"all_write": 0` became booleans, `"3"` an integer; fields a serializer does not know were
dropped without a word; and trimming turned a name of control characters into "". A client's
bug then went unnoticed. A `RequestSerializer` looks at the body as sent, before any field
coerces it, and refuses with 422 `invalid_input` (field errors, as the API always answers):

- a value whose JSON type is not the field's: text is a JSON string, a boolean `true`/`false`,
  an integer a JSON integer (not `1.0`, not `"1"`), a number an integer or a float, a choice
  one of the choices with its type (`1` is not `"1"` is not `true`), a list a JSON array;
- a field the serializer does not have (read-only fields included): "Unknown field.";
- text holding a control character other than tab, line feed and carriage return (C0, DEL,
  C1): "Control characters are not allowed."; and text longer than `max_length` as sent
  (DRF measures it after trimming).

The rules hold at every level: nested serializers (plain ones too), list and dict fields'
children. `null`, absent fields and everything else (blank, ranges, patterns, required) are
left to DRF's fields. Form and multipart bodies are held to the same rules. Query strings are
not bodies: they are text by nature and read with plain serializers (`query_validate`).

The OpenAPI document says the same (`virtool_site.api.schema`): request bodies have
`additionalProperties: false`, and text fields a pattern without control characters.
"""

import re
from collections.abc import Mapping

from rest_framework import serializers

#: Refused in request text: a regular expression class, spelled the same in Python and ECMAScript.
CONTROL_CHARACTERS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")
UNKNOWN_FIELD = "Unknown field."
CONTROL_REFUSED = "Control characters are not allowed."
NOT_TEXT = "Not a valid string."

#: Fields whose JSON type is a string (besides CharField and its subclasses).
_TEXT_FIELDS = (
    serializers.CharField,
    serializers.DateTimeField,
    serializers.DateField,
    serializers.TimeField,
    serializers.DurationField,
    serializers.UUIDField,
)


def _is_integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text_errors(field, value) -> list | None:
    if not isinstance(value, str):
        return [NOT_TEXT]
    if _CONTROL.search(value):
        return [CONTROL_REFUSED]
    max_length = getattr(field, "max_length", None)
    if isinstance(field, serializers.CharField) and max_length is not None and len(value) > max_length:
        return [field.error_messages["max_length"].format(max_length=max_length)]
    return None


def _choice_errors(field, value) -> list | None:
    keys = field.choices.keys()
    if any(type(value) is type(key) and value == key for key in keys):
        return None
    if value == "" and getattr(field, "allow_blank", False):
        return None
    try:
        coerced = str(value) in field.choice_strings_to_values
    except Exception:  # noqa: BLE001 (an unhashable value: DRF refuses it itself)
        coerced = False
    if not coerced:
        return None  # DRF refuses it with its own message
    return [field.error_messages["invalid_choice"].format(input=value)]


def value_errors(field, value):
    """The errors of `value` as sent for `field` (a field or a serializer), in DRF's shapes
    (a list of messages; a dict by field or by list index; a list per item of a many=True
    serializer), or None when the value may go on to the field."""
    if value is None or field.read_only:
        return None
    if isinstance(field, serializers.ListSerializer):
        if not isinstance(value, list):
            return None
        items = [value_errors(field.child, item) or {} for item in value]
        return items if any(items) else None
    if isinstance(field, serializers.Serializer):
        return mapping_errors(field, value) or None if isinstance(value, Mapping) else None
    if isinstance(field, serializers.JSONField):
        return None
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else [field.error_messages["invalid"]]
    if isinstance(field, serializers.IntegerField):
        return None if _is_integer(value) else [field.error_messages["invalid"]]
    if isinstance(field, (serializers.FloatField, serializers.DecimalField)):
        return None if _is_number(value) else [field.error_messages["invalid"]]
    if isinstance(field, serializers.ChoiceField):
        return _choice_errors(field, value)
    if isinstance(field, _TEXT_FIELDS):
        return _text_errors(field, value)
    if isinstance(field, serializers.ListField):
        if not isinstance(value, list):
            return None
        errors = {index: error for index, item in enumerate(value) if (error := value_errors(field.child, item))}
        return errors or None
    if isinstance(field, serializers.DictField):
        if not isinstance(value, Mapping):
            return None
        errors = {key: error for key, item in value.items() if (error := value_errors(field.child, item))}
        return errors or None
    return None


def mapping_errors(serializer, data: Mapping) -> dict:
    """Unknown fields and values of the wrong JSON type in `data`, by field name."""
    fields = {field.field_name: field for field in serializer._writable_fields}
    errors = {}
    for name in data:
        field = fields.get(name)
        if field is None:
            errors[name] = [UNKNOWN_FIELD]
            continue
        error = value_errors(field, data[name])
        if error:
            errors[name] = error
    return errors


# The base of every request body serializer: the body is checked as sent (see the module
# docstring) before DRF's fields read it; errors of both kinds are answered together. (A comment,
# not a docstring: drf-spectacular would describe every request body with it.)
class RequestSerializer(serializers.Serializer):
    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            return super().to_internal_value(data)  # DRF's "Expected a dictionary" error
        errors = mapping_errors(self, data)
        if not errors:
            return super().to_internal_value(data)
        # The other fields are still read, so that every error is answered at once.
        rest = {name: value for name, value in data.items() if name not in errors}
        try:
            super().to_internal_value(rest)
        except serializers.ValidationError as error:
            if isinstance(error.detail, Mapping):
                errors = {**error.detail, **errors}
        raise serializers.ValidationError(errors)
