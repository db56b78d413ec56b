"""Helpers that keep the OpenAPI schema exact: every error a view can answer is documented."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse

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

    429 is added by `ThrottledAutoSchema` to every write operation.
    """
    return {
        code: OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS.get(code, "Error"))
        for code in sorted({401, *codes})
    }


def responses(success: dict, *codes: int) -> dict:
    return {**success, **errors(*codes)}


class VirtoolAutoSchema(AutoSchema):
    """Documents what every operation can answer besides its own responses.

    Writes can be throttled (429); operations behind authentication can answer 401.
    """

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        error = {"$ref": "#/components/schemas/Error"}
        error_content = {"application/json": {"schema": error}}
        responses = operation.setdefault("responses", {})
        if method.upper() not in ("GET", "HEAD", "OPTIONS") and "429" not in responses:
            responses["429"] = {"description": "Too many requests", "content": error_content}
        return operation
