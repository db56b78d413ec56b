"""Settings, read from the environment (django-environ).

With nothing set the service runs self-contained: SQLite in DATA_DIR and Celery tasks run
in-process, so a new user needs nothing but Python 3.11.
"""

import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


class _Env(environ.Env):
    """django-environ, strict: a malformed value stops start-up with ImproperlyConfigured naming
    the variable (django-environ raises a bare ValueError, reads an unknown boolean as False and
    a float such as "10s" as 10)."""

    BOOLEAN_FALSE_STRINGS = ("false", "off", "no", "n", "0", "")

    def get_value(self, var, cast=None, default=environ.Env.NOTSET, parse_default=False):
        raw = self.ENVIRON.get(f"{self.prefix}{var}")
        if raw is not None:
            known = self.BOOLEAN_TRUE_STRINGS + self.BOOLEAN_FALSE_STRINGS
            if cast is bool and raw.lower().strip() not in known and not re.fullmatch(r"\s*-?\d+\s*", raw):
                _env_invalid(var, raw, "a boolean (true or false)")
            if cast is float:
                try:
                    float(raw)
                except ValueError:
                    _env_invalid(var, raw, "a number")
        try:
            return super().get_value(var, cast=cast, default=default, parse_default=parse_default)
        except ImproperlyConfigured:
            raise
        except (TypeError, ValueError) as error:
            _env_invalid(var, raw, str(error))

    def db_url(self, var=environ.Env.DEFAULT_DATABASE_ENV, default=environ.Env.NOTSET, engine=None):
        config = super().db_url(var, default=default, engine=engine)
        if "ENGINE" not in config:
            _env_invalid(var, self.ENVIRON.get(var), "a database URL such as postgres://user@host:5432/name")
        return config

    db = db_url

    def rate(self, var, default):
        """A DRF throttle rate, `<number>/<second|minute|hour|day>`."""
        value = self.str(var, default=default)
        if not re.fullmatch(r"\d+/[smhd][a-z]*", value):
            _env_invalid(var, value, "a rate such as 600/minute")
        return value


def _env_invalid(var, value, expected):
    raise ImproperlyConfigured(f"Environment variable {var}={value!r} is invalid: expected {expected}")


env = _Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="insecure-development-key-change-me")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "data"))).resolve()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "virtool_site",
    "refs",
    "history",
    "indexes",
    "analyses",
    "brapi",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "virtool_site.middleware.RequestIdMiddleware",
    "virtool_site.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The load benchmark (bench/api_load.py) serves its own URLconf; nothing else sets this.
ROOT_URLCONF = env.str("ROOT_URLCONF", default="virtool_site.urls")
WSGI_APPLICATION = "virtool_site.wsgi.application"
AUTH_USER_MODEL = "virtool_site.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if not env.str("DATABASE_URL", default=""):
    # The embedded default keeps its SQLite file in DATA_DIR, so that must exist.
    DATA_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'virtool.sqlite3'}"),
}
# Persistent connections save a connection setup per request on PostgreSQL; SQLite gains nothing.
_persistent_default = 60 if DATABASES["default"]["ENGINE"].endswith("postgresql") else 0
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=_persistent_default)
# A persistent connection (CONN_MAX_AGE > 0) broken by a database restart is noticed and
# replaced at the start of the next request instead of failing it.
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", env.bool("CONN_HEALTH_CHECKS", default=True))
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="virtool"),
            # An unreachable Redis fails cache calls fast (throttles then let requests through).
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    # Persistent files (virtool_site.storage): under DATA_DIR unless a bucket is named below.
    "default": {"BACKEND": "virtool_site.storage_backends.LocalDataStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# S3-compatible object storage (AWS, MinIO, Ceph, ...) through django-storages, configured
# with its own variable names. Unset: files under DATA_DIR, as on one machine.
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    STORAGES["default"] = {"BACKEND": "virtool_site.storage_s3.S3DataStorage"}
    AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
    AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="") or None
    # Unset: boto3's own chain (its environment variables, a profile, an instance role).
    AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default="") or None
    AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default="") or None
    AWS_LOCATION = env.str("AWS_LOCATION", default="")  # a key prefix inside the bucket
    AWS_S3_ADDRESSING_STYLE = env.str("AWS_S3_ADDRESSING_STYLE", default="") or None
    AWS_S3_SIGNATURE_VERSION = env.str("AWS_S3_SIGNATURE_VERSION", default="s3v4")
# An unreachable store fails a request (503) or task after about
# STORAGE_CONNECT_TIMEOUT x STORAGE_MAX_ATTEMPTS seconds.
STORAGE_CONNECT_TIMEOUT = env.float("STORAGE_CONNECT_TIMEOUT", default=3.0)
STORAGE_READ_TIMEOUT = env.float("STORAGE_READ_TIMEOUT", default=60.0)
STORAGE_MAX_ATTEMPTS = env.int("STORAGE_MAX_ATTEMPTS", default=3)
# Transfers larger than a chunk are multipart; memory held per transfer is bounded by about
# chunk x (2 x concurrency).
STORAGE_MULTIPART_CHUNK_BYTES = env.int("STORAGE_MULTIPART_CHUNK_BYTES", default=8 * 1024**2)
STORAGE_MAX_CONCURRENCY = env.int("STORAGE_MAX_CONCURRENCY", default=4)
# Downloads: streamed through the service, or (S3 only) a 302 to a presigned URL this short-lived.
STORAGE_DOWNLOAD_REDIRECT = env.bool("STORAGE_DOWNLOAD_REDIRECT", default=False)
STORAGE_DOWNLOAD_REDIRECT_SECONDS = env.int("STORAGE_DOWNLOAD_REDIRECT_SECONDS", default=300)
# Stored files with no row (a crash between writing one and committing its row) older than
# this are removed by `manage.py storage_sweep` / the `virtool_site.storage_sweep` task.
STORAGE_ORPHAN_AGE_SECONDS = env.int("STORAGE_ORPHAN_AGE_SECONDS", default=6 * 3600)

# Uploads: stream to temporary files, never hold a whole upload in memory.
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.TemporaryFileUploadHandler"]
FILE_UPLOAD_TEMP_DIR = None
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=2 * 1024**3)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=10 * 1024**2)
# A gzip file whose decompressed content would exceed this is refused.
GZIP_MAX_DECOMPRESSED_BYTES = env.int("GZIP_MAX_DECOMPRESSED_BYTES", default=1024**3)
# The work one reference file may make an import do (refs.import_stream); a file past a bound
# is refused while it is read. The real plant-virus reference needs at most: a field of 321
# characters, a sequence of 231,621, an OTU of 2,000 keys and values and 505,019 characters.
REFERENCE_IMPORT_MAX_FIELD_CHARS = env.int("REFERENCE_IMPORT_MAX_FIELD_CHARS", default=64 * 1024)
REFERENCE_IMPORT_MAX_SEQUENCE_CHARS = env.int("REFERENCE_IMPORT_MAX_SEQUENCE_CHARS", default=4 * 1024**2)
REFERENCE_IMPORT_MAX_OTUS = env.int("REFERENCE_IMPORT_MAX_OTUS", default=100_000)
REFERENCE_IMPORT_MAX_OTU_ITEMS = env.int("REFERENCE_IMPORT_MAX_OTU_ITEMS", default=100_000)
REFERENCE_IMPORT_MAX_OTU_CHARS = env.int("REFERENCE_IMPORT_MAX_OTU_CHARS", default=32 * 1024**2)
REFERENCE_IMPORT_MAX_SEQUENCES = env.int("REFERENCE_IMPORT_MAX_SEQUENCES", default=500_000)
REFERENCE_IMPORT_MAX_DEPTH = env.int("REFERENCE_IMPORT_MAX_DEPTH", default=32)
# Seconds an import (every pass over its file, and writing it) may take before it fails.
REFERENCE_IMPORT_TIME_LIMIT = env.float("REFERENCE_IMPORT_TIME_LIMIT", default=1800.0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "virtool_site.api.authentication.ApiKeyAuthentication",
        "virtool_site.api.authentication.JobAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["virtool_site.api.permissions.IsAuthenticatedUser"],
    "DEFAULT_RENDERER_CLASSES": [
        # DRF's JSONRenderer's bytes, rendered by orjson (virtool_site.api.renderers).
        "virtool_site.api.renderers.OrjsonRenderer",
        "virtool_site.api.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        # DRF's, within a size and depth bound (virtool_site.api.parsers).
        "virtool_site.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": [],
    "DEFAULT_THROTTLE_CLASSES": [
        "virtool_site.api.throttling.WriteRateThrottle",
        "virtool_site.api.throttling.SearchRateThrottle",
    ],
    "DEFAULT_SCHEMA_CLASS": "virtool_site.api.schema.VirtoolAutoSchema",
    # OPTIONS describes a view without reading its body or objects (virtool_site.api.metadata).
    "DEFAULT_METADATA_CLASS": "virtool_site.api.metadata.VirtoolMetadata",
    "EXCEPTION_HANDLER": "virtool_site.api.exceptions.exception_handler",
    # Proxies in front of the service that append to X-Forwarded-For (the compose stack's nginx:
    # 1). Rate limits of anonymous clients count the address the nearest proxy saw; with 0,
    # REMOTE_ADDR. Never DRF's default (None), which counts the whole header a client can forge.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%S.%fZ",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "virtool_site API",
    "DESCRIPTION": "Curated plant-virus reference databases: references, OTUs, history, "
    "indexes, analyses, and a BrAPI v2.1 references server.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {},
}

# Per-user rate limits (DRF throttles counted in the cache: Redis when REDIS_URL is set).
THROTTLE_RATES = {
    "write": env.rate("THROTTLE_WRITE_RATE", default="600/minute"),
    "search": env.rate("THROTTLE_SEARCH_RATE", default="120/minute"),
}

# Pagination (Virtool conventions)
PAGE_SIZE_DEFAULT = 15
PAGE_SIZE_MAX = env.int("PAGE_SIZE_MAX", default=100)

# Celery: Redis when configured, otherwise tasks run in-process.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=6 * 3600)
# The soft limit must come first: it raises inside the task, so process_run ends the process
# failed; the hard limit kills the task and would leave its process at its step.
CELERY_TASK_SOFT_TIME_LIMIT = env.int(
    "CELERY_TASK_SOFT_TIME_LIMIT", default=max(CELERY_TASK_TIME_LIMIT - 60, CELERY_TASK_TIME_LIMIT * 9 // 10)
)
if CELERY_TASK_TIME_LIMIT and CELERY_TASK_SOFT_TIME_LIMIT >= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        f"CELERY_TASK_SOFT_TIME_LIMIT ({CELERY_TASK_SOFT_TIME_LIMIT}) must be below CELERY_TASK_TIME_LIMIT "
        f"({CELERY_TASK_TIME_LIMIT})"
    )
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="virtool")
# CPU-heavy work has a queue of its own, served by compute nodes (`worker -Q builds`); every
# other task goes to the default queue above, which a worker without -Q serves.
CELERY_BUILDS_QUEUE = env.str("CELERY_BUILDS_QUEUE", default="builds")
CELERY_BUILDS_TASKS = ("indexes.build_index", "analyses.blast_run")
CELERY_TASK_ROUTES = {name: {"queue": CELERY_BUILDS_QUEUE} for name in CELERY_BUILDS_TASKS}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A task whose worker died unacknowledged is delivered again after this many seconds...
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=60),
    # ...by a worker's sweep for such tasks, every INTERVAL x THROTTLE seconds (kombu: 10 x 10),
    # and by a worker as it starts.
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=5),
    "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", default=1),
    # A sweeper that dies holding the sweep's lock delays the others by at most this.
    "unacked_mutex_expire": env.int("CELERY_UNACKED_MUTEX_EXPIRE", default=30),
}
# A live worker keeps its tasks, however long they run, by setting their delivery time to now
# this often (virtool_site.celery.UnackedHeartbeat): well within the visibility timeout.
CELERY_UNACKED_HEARTBEAT_SECONDS = env.float(
    "CELERY_UNACKED_HEARTBEAT_SECONDS", default=CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] / 6
)
if CELERY_UNACKED_HEARTBEAT_SECONDS >= CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]:
    # A live worker's tasks would age out between beats and run twice at once.
    raise ImproperlyConfigured(
        f"CELERY_UNACKED_HEARTBEAT_SECONDS ({CELERY_UNACKED_HEARTBEAT_SECONDS}) must be below "
        f"CELERY_VISIBILITY_TIMEOUT ({CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout']})"
    )
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Workers log through Django's LOGGING, so task lines carry the request id like web lines.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# External programs and services
BOWTIE2_BUILD_PATH = env.str("BOWTIE2_BUILD_PATH", default="bowtie2-build")
BOWTIE2_BUILD_THREADS = env.int("BOWTIE2_BUILD_THREADS", default=2)
BLAST_BACKEND = env.str("BLAST_BACKEND", default="local")  # local | ncbi
BLASTN_PATH = env.str("BLASTN_PATH", default="blastn")
MAKEBLASTDB_PATH = env.str("MAKEBLASTDB_PATH", default="makeblastdb")
BLAST_DB = env.str("BLAST_DB", default="")
NCBI_BLAST_URL = env.str("NCBI_BLAST_URL", default="https://blast.ncbi.nlm.nih.gov/Blast.cgi")
BLAST_POLL_INTERVAL = env.int("BLAST_POLL_INTERVAL", default=3)
BLAST_POLL_INTERVAL_STEP = env.int("BLAST_POLL_INTERVAL_STEP", default=5)
BLAST_TIMEOUT_SECONDS = env.int("BLAST_TIMEOUT_SECONDS", default=3600)
BLAST_LOCAL_TIMEOUT_SECONDS = env.int("BLAST_LOCAL_TIMEOUT_SECONDS", default=3600)
BLAST_MAX_HITS = env.int("BLAST_MAX_HITS", default=10)
BLAST_MAX_FAILURES = env.int("BLAST_MAX_FAILURES", default=3)
BLAST_RESULT_MAX_BYTES = env.int("BLAST_RESULT_MAX_BYTES", default=256 * 1024**2)
# An NCBI reply must arrive whole within this (HTTP_TIMEOUT_SECONDS bounds each wait for bytes).
BLAST_RESPONSE_MAX_SECONDS = env.float("BLAST_RESPONSE_MAX_SECONDS", default=300.0)
GITHUB_API_URL = env.str("GITHUB_API_URL", default="https://api.github.com")
GITHUB_TOKEN = env.str("GITHUB_TOKEN", default="")
HTTP_TIMEOUT_SECONDS = env.float("HTTP_TIMEOUT_SECONDS", default=30.0)

# BrAPI
BRAPI_BASES_PAGE_SIZE = env.int("BRAPI_BASES_PAGE_SIZE", default=10_000)
BRAPI_CHUNK_SIZE = env.int("BRAPI_CHUNK_SIZE", default=65_536)
BRAPI_SEARCH_TTL_SECONDS = env.int("BRAPI_SEARCH_TTL_SECONDS", default=24 * 3600)
BRAPI_PAGE_SIZE_DEFAULT = 1000
BRAPI_PAGE_SIZE_MAX = env.int("BRAPI_PAGE_SIZE_MAX", default=10_000)

# Production hardening; `manage.py check --deploy` is clean when DEBUG is off and HTTPS is on.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "virtool_site.middleware.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]}
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
