"""Per-user rate limits, counted in the cache (Redis in production).

Writes and searches are limited; reads are not. Rates are read from settings on every
request so they can be changed without a restart of the class definitions.
"""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class _SettingsRateThrottle(SimpleRateThrottle):
    def get_rate(self):
        return settings.THROTTLE_RATES.get(self.scope)

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
    """Every POST, PUT, PATCH and DELETE of a user counts against the `write` rate."""

    scope = "write"

    def allow_request(self, request, view):
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)


class SearchRateThrottle(_SettingsRateThrottle):
    """Searches (views that set `throttle_scope = "search"`) count against the `search` rate."""

    scope = "search"

    def allow_request(self, request, view):
        if getattr(view, "throttle_scope", None) != "search":
            return True
        return super().allow_request(request, view)
