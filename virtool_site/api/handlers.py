"""Django's own error views (outside DRF), in JSON for API paths.

BrAPI clients expect error bodies that are JSON strings; Virtool clients expect `{id, message}`.
"""

from django.http import JsonResponse
from django.views import defaults


def _json_error(request, status: int, error_id: str, message: str):
    if request.path.startswith("/brapi/"):
        return JsonResponse(message, status=status, safe=False)
    return JsonResponse({"id": error_id, "message": message}, status=status)


def _is_api(request) -> bool:
    return request.path.startswith(("/api/", "/brapi/"))


def handler400(request, exception=None):
    if _is_api(request):
        return _json_error(request, 400, "bad_request", "Bad request")
    return defaults.bad_request(request, exception)


def handler403(request, exception=None):
    if _is_api(request):
        return _json_error(request, 403, "insufficient_rights", "Insufficient rights")
    return defaults.permission_denied(request, exception)


def handler404(request, exception=None):
    if _is_api(request):
        return _json_error(request, 404, "not_found", "Not found")
    return defaults.page_not_found(request, exception)


def handler500(request):
    if _is_api(request):
        return _json_error(request, 500, "internal_server_error", "Internal server error")
    return defaults.server_error(request)
