"""Routes under /refget/: refget v2 (`sequence/...`) and Sequence Collections v1.

A trailing slash is tolerated (the refget compliance suite sends one) by a plain Django view
that dispatches to the route without it, so the OpenAPI schema lists each path once. Unknown
paths under /refget/ answer a JSON 404. `openapi.json` is the OpenAPI description of these
routes alone (the seqcol specification recommends it).
"""

from django.http import JsonResponse
from django.urls import Resolver404, include, path, re_path, resolve
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularJSONAPIView

from brapi.refget import views

app_name = "refget"


class _RefgetOnly:
    """A URLconf of the /refget/ routes alone, for `openapi.json`."""

    urlpatterns = [path("refget/", include("brapi.refget.urls", namespace="refget-schema"))]


def _not_found(request, path=""):
    return JsonResponse({"id": "not_found", "message": "Not found"}, status=404)


@csrf_exempt
def _without_trailing_slash(request, path: str):
    try:
        match = resolve(f"/refget/{path}")
    except Resolver404:
        return _not_found(request)
    if match.func is _without_trailing_slash or match.func is _not_found:
        return _not_found(request)
    return match.func(request, *match.args, **match.kwargs)


urlpatterns = [
    path("sequence/service-info", views.SequenceServiceInfoView.as_view(), name="sequence-service-info"),
    path("sequence/<str:id>", views.SequenceView.as_view(), name="sequence"),
    path("sequence/<str:id>/metadata", views.SequenceMetadataView.as_view(), name="sequence-metadata"),
    path("service-info", views.SeqcolServiceInfoView.as_view(), name="service-info"),
    path("collection/<str:digest>", views.CollectionView.as_view(), name="collection"),
    path("comparison/<str:digest1>/<str:digest2>", views.ComparisonView.as_view(), name="comparison"),
    path("comparison/<str:digest1>", views.ComparisonPostView.as_view(), name="comparison-post"),
    path("list/collection", views.CollectionListView.as_view(), name="collection-list"),
    path("list/attributes/<str:attribute>", views.AttributeListView.as_view(), name="attribute-list"),
    path(
        "attribute/collection/<str:attribute_name>/<str:attribute_digest>",
        views.AttributeView.as_view(),
        name="attribute",
    ),
    path(
        "openapi.json",
        SpectacularJSONAPIView.as_view(
            urlconf=_RefgetOnly,
            custom_settings={
                "TITLE": "virtool_site refget",
                "DESCRIPTION": "GA4GH refget v2.0 sequences and Sequence Collections v1.0 of the curated references.",
                "SCHEMA_PATH_PREFIX": "/refget/",
            },
        ),
        name="openapi",
    ),
    re_path(r"^(?P<path>.+)/$", _without_trailing_slash),
    re_path(r"^(?P<path>.*)$", _not_found),
]
