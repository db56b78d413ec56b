"""Per-user rate limits, counted in the cache (Redis in production).

Writes and searches are limited; reads are not. Rates are read from settings on every
request so they can be changed without a restart of the class definitions.

The limits fail open: when the cache (Redis) cannot be reached, a request is let through
and a warning logged, so an outage of Redis never turns into errors for every write.
"""

import logging
import time

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)

try:
    from redis.exceptions import RedisError
except ImportError:  # no Redis client installed: only the local-memory cache is possible
    RedisError = OSError
#: Errors of a cache that cannot be reached (connection refused, timeout, Redis loading...).
CACHE_ERRORS = (RedisError, OSError)

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
#: At most one warning of each kind per this many seconds while the cache is unreachable.
WARNING_INTERVAL = 10.0
_last_warnings: dict[str, float] = {}


def cache_unavailable_warn(what: str, error: Exception) -> None:
    """Log that `what` happened because the cache cannot be reached, without flooding the log."""
    now = time.monotonic()
    if now - _last_warnings.get(what, float("-inf")) >= WARNING_INTERVAL:
        _last_warnings[what] = now
        logger.warning("%s, cache unavailable: %s: %s", what, type(error).__name__, error)


class _SettingsRateThrottle(SimpleRateThrottle):
    def get_rate(self):
        return settings.THROTTLE_RATES.get(self.scope)

    def counted_allow_request(self, request, view):
        """The rate check; a request is let through when the cache cannot be reached."""
        try:
            return super().allow_request(request, view)
        except CACHE_ERRORS as error:
            cache_unavailable_warn(f"rate limit {self.scope} not applied", error)
            return True

    def get_cache_key(self, request, view):
        user = request.user
        if getattr(user, "is_job", False):
            ident = user.username
        elif user and user.is_authenticated:
            ident = f"user-{user.pk}"
        else:
            ident = f"ip-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class WriteRateThrottle(_SettingsRateThrottle):
    """Every POST, PUT, PATCH and DELETE of a user counts against the `write` rate, except a
    POST to a search view (BrAPI's): that counts against the `search` rate only."""

    scope = "write"

    def allow_request(self, request, view):
        if request.method in SAFE_METHODS or is_search(request, view):
            return True
        return self.counted_allow_request(request, view)


def is_search(request, view) -> bool:
    """A search: any request to a search view (`throttle_scope = "search"`, BrAPI's), or a read
    of a list filtered by text (a non-empty query parameter the view names in `search_parameters`,
    such as OTU `term` or reference `find`). Paging through a list is not one."""
    if getattr(view, "throttle_scope", None) == "search":
        return True
    parameters = getattr(view, "search_parameters", ())
    return request.method in SAFE_METHODS and any(request.query_params.get(name) for name in parameters)


class SearchRateThrottle(_SettingsRateThrottle):
    """Searches (see `is_search`) count against the `search` rate."""

    scope = "search"

    def allow_request(self, request, view):
        if not is_search(request, view):
            return True
        return self.counted_allow_request(request, view)
