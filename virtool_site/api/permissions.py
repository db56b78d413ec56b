from rest_framework.permissions import BasePermission

from virtool_site.errors import InsufficientRights
from virtool_site.services import user_has_permission


def is_job(request) -> bool:
    return getattr(request.user, "is_job", False)


def is_signed_in_user(user) -> bool:
    """A signed-in person: not anonymous, not a job runner."""
    return bool(user and user.is_authenticated and not getattr(user, "is_job", False))


class IsAuthenticatedUser(BasePermission):
    """The default: a signed-in user. Job runners may only call views that allow jobs."""

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return False  # DRF answers 401 with a WWW-Authenticate header
        if is_job(request) and not getattr(view, "allow_jobs", False):
            raise InsufficientRights()
        return True


class IsJob(BasePermission):
    """Job API endpoints: a job runner, or an administrator acting for one."""

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return False
        if is_job(request) or request.user.is_superuser:
            return True
        raise InsufficientRights()


class IsAdministrator(IsAuthenticatedUser):
    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        if not request.user.is_superuser:
            raise InsufficientRights()
        return True


def RequiresPermission(permission: str):  # noqa: N802 - reads as a class in permission_classes
    """A permission class requiring one of Virtool's global permissions."""

    class _RequiresPermission(IsAuthenticatedUser):
        def has_permission(self, request, view):
            if not super().has_permission(request, view):
                return False
            if not user_has_permission(request.user, permission):
                raise InsufficientRights()
            return True

    _RequiresPermission.__name__ = f"Requires_{permission}"
    return _RequiresPermission
