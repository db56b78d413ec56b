"""Helpers that keep the OpenAPI schema exact: every error a view can answer is documented."""

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
    """`responses=` entries for the given error statuses, plus 401 which every API view can give."""
    return {
        code: OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS.get(code, "Error"))
        for code in sorted({401, *codes})
    }


def responses(success: dict, *codes: int) -> dict:
    return {**success, **errors(*codes)}
