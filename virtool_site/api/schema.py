"""Helpers that keep the OpenAPI schema exact: every error a view can answer is documented."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer
from rest_framework import serializers

from virtool_site.api.inputs import CONTROL_CHARACTERS, RequestSerializer
from virtool_site.api.serializers import ErrorSerializer

_DESCRIPTIONS = {
    400: "Bad request",
    401: "Requires authorization",
    403: "Insufficient rights",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid query or input",
    429: "Too many requests",
    503: "Service unavailable",
}


def errors(*codes: int) -> dict:
    """`responses=` entries for the given error statuses, plus 401 which every API view can give.

    `VirtoolAutoSchema` adds what every operation of a kind can answer (see there).
    """
    return {
        code: OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS.get(code, "Error"))
        for code in sorted({401, *codes})
    }


def responses(success: dict, *codes: int) -> dict:
    return {**success, **errors(*codes)}


def stored_download(description: str = "The file") -> dict:
    """`responses=` entries of a stored file's download (virtool_site.storage.stored_response):
    the bytes, or a redirect to a presigned URL when STORAGE_DOWNLOAD_REDIRECT is on."""
    return {
        (200, "application/octet-stream"): OpenApiResponse(bytes, description=description),
        302: OpenApiResponse(description="Redirect to a short-lived presigned URL of the object store "
                             "(only with STORAGE_DOWNLOAD_REDIRECT and S3 storage)"),
    }


#: Whitespace as Python's `str.strip()` sees it (DRF trims CharFields with it). Spelled out
#: rather than `\s`, whose meaning differs between Python, ECMAScript and Rust regular expressions.
_WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
#: Contains a character that is not whitespace: a trimmed field that may not be blank needs one.
NOT_BLANK_PATTERN = f"[^{_WHITESPACE}]"
#: Request text (virtool_site.api.inputs): no control character but tab, line feed and carriage
#: return; and, where a trimmed field may not be blank, one character that is not whitespace.
TEXT_PATTERN = f"^[^{CONTROL_CHARACTERS}]*$"
NOT_BLANK_TEXT_PATTERN = f"^[^{CONTROL_CHARACTERS}]*[^{CONTROL_CHARACTERS}{_WHITESPACE}][^{CONTROL_CHARACTERS}]*$"
#: Query parameters read by DRF's text fields, which refuse NUL anywhere.
QUERY_PATTERN = r"^[^\x00]*$"
NOT_BLANK_QUERY_PATTERN = f"^[^\\x00]*[^\\x00{_WHITESPACE}][^\\x00]*$"


def _in_request_body(field) -> bool:
    """Whether the field is read by a request body serializer (strictly), not a query one."""
    while field is not None:
        if isinstance(field, RequestSerializer):
            return True
        field = getattr(field, "parent", None)
    return False


def _requires_authentication(view) -> bool:
    """Whether the view refuses anonymous callers (401) and job runners it does not serve (403)."""
    from virtool_site.api.permissions import IsAuthenticatedUser, IsJob

    return any(isinstance(permission, (IsAuthenticatedUser, IsJob)) for permission in view.get_permissions())


class VirtoolAutoSchema(AutoSchema):
    """Documents what every operation can answer besides its own responses, and the request
    bodies as the views read them.

    - Writes, and reads of lists filtered by text (`search_parameters`), can be throttled (429).
    - Operations behind authentication answer 401 without valid credentials and 403 to a caller
      they do not serve: a job runner outside the Job API, or a user on a Job API view.
    - Operations with a body answer 400 "Malformed request body" to a body that does not parse,
      413 to one past DATA_UPLOAD_MAX_MEMORY_SIZE (files: UPLOAD_MAX_BYTES) and 415 to a media
      type they do not read.
    - Bodies are JSON (the browsable API's form parsers are left undocumented: forms cannot carry
      the nested objects, lists and types the schemas describe). Upload views declare their
      multipart body themselves.
    - PATCH bodies are validated with the whole serializer, never partially, so the schema
      keeps the serializer's required fields instead of drf-spectacular's `Patched*` copy.
    - Request bodies are read strictly (virtool_site.api.inputs, which every request serializer
      is built on): no property the schema does not name (`additionalProperties: false`), JSON
      types exactly as documented, text without control characters (but tab, line feed and
      carriage return) and, where trimmed and not blank, with more than whitespace.
    - Answers of one of several shapes no field tells apart are `anyOf` them: they may match
      more than one (request bodies, whose objects are closed, keep `oneOf`).
    - An optional query parameter given empty (`?page=`) counts as not given (DRF and
      django-filter both read it so): `allowEmptyValue`.
    """

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (
            direction == "request"
            and isinstance(field, serializers.CharField)
            and schema.get("type") == "string"
            and not {"pattern", "format", "enum"} & set(schema)
        ):
            blank_refused = field.trim_whitespace and not field.allow_blank
            if _in_request_body(field):
                schema["pattern"] = NOT_BLANK_TEXT_PATTERN if blank_refused else TEXT_PATTERN
            else:  # a query parameter: text as the query string gives it, but NUL (DRF's rule)
                schema["pattern"] = NOT_BLANK_QUERY_PATTERN if blank_refused else QUERY_PATTERN
        return schema

    def _insert_field_validators(self, field, schema):
        super()._insert_field_validators(field, schema)
        # drf-spectacular offers "" beside a pattern as `oneOf`; a pattern that takes "" too
        # (request text) would then make "" match both: either will do.
        if schema.get("oneOf", [None])[-1] == {"type": "string", "maxLength": 0}:
            schema["anyOf"] = schema.pop("oneOf")

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and isinstance(serializer, RequestSerializer) and schema.get("type") == "object":
            schema["additionalProperties"] = False
        if (
            direction == "response"
            and isinstance(serializer, PolymorphicProxySerializer)
            and not serializer.resource_type_field_name
            and "oneOf" in schema
        ):
            # Shapes told apart by no field may overlap in an answer (Pathoscope and NuVs
            # results without hits): the answer has one of them, perhaps both.
            schema["anyOf"] = schema.pop("oneOf")
        return schema

    def map_parsers(self):
        media_types = super().map_parsers()
        return ["application/json"] if "application/json" in media_types else media_types

    def _get_request_for_media_type(self, serializer, direction="request"):
        if isinstance(serializer, dict):
            schema, _ = super()._get_request_for_media_type(serializer, direction)
            return schema, bool(serializer.get("required"))
        if self.method != "PATCH":
            return super()._get_request_for_media_type(serializer, direction)
        self.method = "PUT"  # drf-spectacular makes PATCH bodies partial; these views don't
        try:
            return super()._get_request_for_media_type(serializer, direction)
        finally:
            self.method = "PATCH"

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        responses = operation.setdefault("responses", {})
        added = []
        if method.upper() not in ("GET", "HEAD", "OPTIONS") or getattr(self.view, "search_parameters", ()):
            added.append(429)
        if _requires_authentication(self.view):
            added.extend((401, 403))
        if "requestBody" in operation:
            added.extend((400, 413, 415))
        for parameter in operation.get("parameters", []):
            if parameter.get("in") == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
        for code in added:
            responses.setdefault(str(code), {"description": _DESCRIPTIONS[code], "content": error_content})
        operation["responses"] = dict(sorted(responses.items()))
        return operation
