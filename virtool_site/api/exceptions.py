"""Every error leaves the API as Virtool's `{"id": ..., "message": ...}` body."""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from virtool_site.errors import ApplicationError

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = "Database unavailable"
#: Seconds a client is told to wait before retrying after a 503 for a database outage.
DATABASE_RETRY_AFTER = 5

#: Errors of a database that cannot be reached or whose connection broke (a restart, a
#: failover): the request could not be served, and may be retried, so 503 rather than 500.
DATABASE_ERRORS = (DatabaseOperationalError, DatabaseInterfaceError)


def database_error_message(exc) -> str:
    """"Database busy" for a transaction the database gave up on (deadlock, serialization
    failure, statement timeout), else "Database unavailable" (cannot connect, connection lost)."""
    try:
        from psycopg2 import extensions
    except ImportError:  # SQLite only
        return DATABASE_UNAVAILABLE
    if isinstance(exc.__cause__, (extensions.TransactionRollbackError, extensions.QueryCanceledError)):
        return "Database busy"
    return DATABASE_UNAVAILABLE


def unique_violation(exc) -> bool:
    """An IntegrityError of a unique constraint: a concurrent request inserted the same row
    between this request's "already exists" check and its insert."""
    cause = exc.__cause__
    code = getattr(cause, "pgcode", None) or getattr(cause, "sqlstate", None)
    return code == "23505" or "UNIQUE constraint failed" in str(exc)  # PostgreSQL, SQLite


_DRF_ERRORS = {
    exceptions.NotAuthenticated: ("unauthorized", "Requires authorization"),
    exceptions.AuthenticationFailed: ("unauthorized", None),
    exceptions.PermissionDenied: ("insufficient_rights", "Insufficient rights"),
    exceptions.NotFound: ("not_found", "Not found"),
    exceptions.MethodNotAllowed: ("method_not_allowed", "Method not allowed"),
    exceptions.NotAcceptable: ("not_acceptable", "Not acceptable"),
    exceptions.UnsupportedMediaType: ("unsupported_media_type", "Unsupported media type"),
    exceptions.Throttled: ("too_many_requests", "Too many requests"),
    exceptions.ParseError: ("bad_request", "Malformed request body"),
}


def error_body(error_id: str, message: str, errors=None) -> dict:
    body = {"id": error_id, "message": message}
    if errors is not None:
        body["errors"] = errors
    return body


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.error_id, exc.message, exc.errors), status=exc.status_code)

    if isinstance(exc, Http404):
        return Response(error_body("not_found", "Not found"), status=status.HTTP_404_NOT_FOUND)

    if isinstance(exc, DjangoPermissionDenied):
        return Response(error_body("insufficient_rights", "Insufficient rights"), status=status.HTTP_403_FORBIDDEN)

    if isinstance(exc, RequestDataTooBig):
        return Response(error_body("payload_too_large", "Payload too large"), status=413)

    if isinstance(exc, DATABASE_ERRORS):
        logger.warning("database unavailable: %s: %s", type(exc).__name__, exc)
        return Response(
            error_body("service_unavailable", database_error_message(exc)),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
        )

    if isinstance(exc, IntegrityError) and unique_violation(exc):
        logger.warning("lost a race for a unique row: %s", exc)
        return Response(error_body("conflict", "Conflict"), status=status.HTTP_409_CONFLICT)

    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return Response(error_body("invalid_input", "Invalid input", errors), status=422)

    if isinstance(exc, exceptions.APIException):
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        for exc_class, (error_id, message) in _DRF_ERRORS.items():
            if isinstance(exc, exc_class):
                detail = exc.detail if isinstance(exc.detail, str) else None
                return Response(error_body(error_id, message or detail or str(exc)), status=exc.status_code, headers=headers)
        detail = exc.detail if isinstance(exc.detail, str) else str(exc)
        return Response(error_body(exc.default_code, detail), status=exc.status_code, headers=headers)

    return None
