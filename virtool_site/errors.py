"""The one exception hierarchy of the service.

Services raise these; `virtool_site.api.exceptions.exception_handler` renders them as Virtool
error bodies `{"id": ..., "message": ...}`. Admin views and commands show `message`.
"""


class ApplicationError(Exception):
    status_code = 400
    error_id = "bad_request"
    default_message = "Bad request"

    def __init__(self, message: str | None = None, *, errors=None):
        self.message = message or self.default_message
        self.errors = errors
        super().__init__(self.message)


class BadRequest(ApplicationError):
    pass


class Unauthorized(ApplicationError):
    status_code = 401
    error_id = "unauthorized"
    default_message = "Requires authorization"


class InsufficientRights(ApplicationError):
    status_code = 403
    error_id = "insufficient_rights"
    default_message = "Insufficient rights"


class NotFound(ApplicationError):
    status_code = 404
    error_id = "not_found"
    default_message = "Not found"


class Conflict(ApplicationError):
    status_code = 409
    error_id = "conflict"
    default_message = "Conflict"


class PayloadTooLarge(ApplicationError):
    status_code = 413
    error_id = "payload_too_large"
    default_message = "Payload too large"


class InvalidInput(ApplicationError):
    """A request body that does not validate; `errors` maps fields to messages."""

    status_code = 422
    error_id = "invalid_input"
    default_message = "Invalid input"


class InvalidQuery(ApplicationError):
    """A query string that does not validate; `errors` maps parameters to messages."""

    status_code = 422
    error_id = "invalid_query"
    default_message = "Invalid query"


class ServiceUnavailable(ApplicationError):
    status_code = 503
    error_id = "service_unavailable"
    default_message = "Service unavailable"
