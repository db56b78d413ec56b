"""Request ids: taken from `X-Request-ID` or generated, echoed in the response, put in every
log line, and carried into Celery tasks queued by the request."""

import logging
import re
import uuid
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> None:
    _request_id.set(value)


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    def filter(self, record):
        record.request_id = _request_id.get() or "-"
        return True


class DatabaseUnavailableMiddleware:
    """A database error that escapes an API view (outside DRF's exception handler, e.g. BrAPI
    views or plain Django views under /api/) is a 503 in the API's error format, not a 500.

    A restarted or unreachable PostgreSQL makes requests fail with OperationalError or
    InterfaceError; the client may retry (Retry-After), and the next request gets a fresh
    connection (CONN_HEALTH_CHECKS).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.http import JsonResponse

        from virtool_site.api.exceptions import DATABASE_ERRORS, DATABASE_RETRY_AFTER, database_error_message

        if not isinstance(exception, DATABASE_ERRORS) or not request.path.startswith(("/api/", "/brapi/")):
            return None
        logging.getLogger(__name__).warning(
            "database unavailable: %s: %s", type(exception).__name__, exception
        )
        message = database_error_message(exception)
        if request.path.startswith("/brapi/"):
            response = JsonResponse(message, status=503, safe=False)  # BrAPI errors are JSON strings
        else:
            response = JsonResponse({"id": "service_unavailable", "message": message}, status=503)
        response["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response
