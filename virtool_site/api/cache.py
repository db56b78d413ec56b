"""Cached answers to GET requests whose body is a function of a revision.

A view's `get` decorated with `cached_get(key_for)` asks `key_for(request, **kwargs)` for what
its answer depends on. The key function checks visibility and reads the revision of the data
in one query (refs.revisions), so every request still sees exactly what it may see and what
was last committed; only building the body is skipped. It returns None to answer without the
cache (not found, not visible, an answer that is not a function of the revision). Only
signed-in people are answered from the cache: job runners and anonymous callers never are.

Only JSON answers with status 200 are stored, as the rendered bytes: a hit is the same bytes
and the same headers as a miss. The `api` cache (settings.CACHES) is per process by default;
entries expire after API_CACHE_TIMEOUT seconds (0 turns the cache off) and old revisions are
never read again, so expiry is all the eviction they need. A cache that cannot be reached (a
Redis one, API_CACHE_URL) is skipped: answers are built as if it were off, and a warning logged.
"""

import functools
import hashlib

from django.conf import settings
from django.core.cache import caches
from django.http import HttpResponse
from rest_framework.response import Response

from virtool_site.api.permissions import is_signed_in_user
from virtool_site.api.throttling import CACHE_ERRORS, cache_unavailable_warn

API_CACHE = "api"
#: Part of every key: a release that renders bodies differently must not read older entries.
KEY_FORMAT = "v1"


def api_cache_enabled() -> bool:
    return settings.API_CACHE_TIMEOUT > 0


def _cache_get(key: str):
    try:
        return caches[API_CACHE].get(key)
    except CACHE_ERRORS as error:
        cache_unavailable_warn("API answers built without the cache", error)
        return None


def _cache_set(key: str, body: bytes) -> None:
    try:
        caches[API_CACHE].set(key, body, settings.API_CACHE_TIMEOUT)
    except CACHE_ERRORS as error:
        cache_unavailable_warn("API answers built without the cache", error)


def _cache_key(request, key: str) -> str:
    query = request.META.get("QUERY_STRING", "")
    raw = f"{KEY_FORMAT}|{request.accepted_media_type}|{request.path}|{query}|{key}"
    return "answer:" + hashlib.sha256(raw.encode()).hexdigest()


def cached_get(key_for):
    """Decorate an APIView's `get` so that its JSON answers are cached under `key_for`'s key."""

    def decorator(handler):
        @functools.wraps(handler)
        def get(self, request, *args, **kwargs):
            renderer = getattr(request, "accepted_renderer", None)
            if (
                not api_cache_enabled()
                or renderer is None
                or renderer.format != "json"
                or not is_signed_in_user(request.user)
            ):
                return handler(self, request, *args, **kwargs)
            key = key_for(request, **kwargs)
            if key is None:
                return handler(self, request, *args, **kwargs)
            cache_key = _cache_key(request, key)
            body = _cache_get(cache_key)
            if body is None:
                response = handler(self, request, *args, **kwargs)
                if not isinstance(response, Response) or response.status_code != 200 or response.exception:
                    return response
                body = renderer.render(response.data, request.accepted_media_type, self.get_renderer_context())
                _cache_set(cache_key, body)
            return HttpResponse(body, content_type=request.accepted_media_type)

        return get

    return decorator
