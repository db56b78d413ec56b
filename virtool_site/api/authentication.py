"""API keys (`Bearer <key>` or Virtool's `Basic base64(username:key)`) and job keys
(`Basic base64("job-{id}:{key}")`)."""

import base64

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from virtool_site.services import api_key_authenticate, job_authenticate


def _credentials(request) -> tuple[str, str | None, str] | None:
    """(scheme, username, secret) from the Authorization header, or None when absent."""
    header = get_authorization_header(request)
    if not header:
        return None
    try:
        header = header.decode("latin-1")
    except UnicodeDecodeError:
        raise exceptions.AuthenticationFailed("Malformed authorization header")
    scheme, _, value = header.strip().partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer":
        return "bearer", None, value
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):  # binascii.Error, or a non-ASCII character
            raise exceptions.AuthenticationFailed("Malformed authorization header")
        username, sep, secret = decoded.partition(":")
        if not sep:
            raise exceptions.AuthenticationFailed("Malformed authorization header")
        return "basic", username, secret
    return scheme, None, value


class JobPrincipal:
    """The identity of a job runner: authenticated, but no user and no user rights."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_superuser = False
    is_staff = False
    is_job = True
    pk = None

    def __init__(self, job):
        self.job = job
        self.username = f"job-{job.id}"

    def __str__(self):
        return self.username


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        credentials = _credentials(request)
        if credentials is None:
            return None
        scheme, username, secret = credentials
        if scheme not in ("bearer", "basic") or (username or "").startswith("job-"):
            return None
        user = api_key_authenticate(secret=secret, username=username)
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid authorization header")
        return user, None

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class JobAuthentication(BaseAuthentication):
    def authenticate(self, request):
        credentials = _credentials(request)
        if credentials is None:
            return None
        scheme, username, secret = credentials
        if scheme != "basic" or not (username or "").startswith("job-"):
            return None
        job = job_authenticate(job_id=username.removeprefix("job-"), key=secret)
        if job is None:
            raise exceptions.AuthenticationFailed("Invalid job credentials")
        return JobPrincipal(job), job
