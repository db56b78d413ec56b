"""Settings for scripts/admin_screenshots.py only: the project's settings, plus a middleware
that signs every request in as SCREENSHOT_USER, so headless Chromium can photograph admin
pages without a login form.

It refuses to load unless the database is a throwaway SQLite file under the system's
temporary directory, so it can never open a real database to anyone who connects.
"""

import os
import tempfile

from django.core.exceptions import ImproperlyConfigured

from virtool_site.settings import *  # noqa: F403
from virtool_site.settings import DATABASES, MIDDLEWARE

_database = DATABASES["default"]
if _database["ENGINE"] != "django.db.backends.sqlite3" or not str(_database["NAME"]).startswith(
    os.path.realpath(tempfile.gettempdir())
):
    raise ImproperlyConfigured("screenshot settings need a throwaway SQLite database in the temporary directory")

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
MIDDLEWARE = [*MIDDLEWARE, "scripts.screenshot_settings.AutoLoginMiddleware"]


class AutoLoginMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        username = os.environ.get("SCREENSHOT_USER")
        if username and not request.user.is_authenticated:
            from django.contrib.auth import get_user_model

            request.user = get_user_model().objects.get(username=username)
        return self.get_response(request)
