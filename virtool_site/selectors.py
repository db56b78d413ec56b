from django.db import connection

from virtool_site.models import Upload, User


def users_list():
    return User.objects.order_by("username").prefetch_related("groups__virtool_permissions")


def uploads_list(*, upload_type: str | None = None):
    queryset = Upload.objects.select_related("user").order_by("-created_at")
    if upload_type:
        queryset = queryset.filter(type=upload_type)
    return queryset


def health_check() -> dict:
    """Reachability of the database and (when configured) Redis."""
    from django.conf import settings

    report = {"database": "ok", "redis": "unconfigured"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:  # any failure to reach the database is a 503, not a 500
        report["database"] = f"error: {type(error).__name__}"
    if settings.REDIS_URL:
        import redis

        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping()
            report["redis"] = "ok"
        except Exception as error:
            report["redis"] = f"error: {type(error).__name__}"
    healthy = report["database"] == "ok" and report["redis"] in ("ok", "unconfigured")
    report["status"] = "ok" if healthy else "unavailable"
    return report
