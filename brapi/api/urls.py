"""BrAPI v2.1 routes under /brapi/v2/ (a trailing slash is tolerated)."""

from django.urls import re_path

from brapi.api import views

_ID = r"(?P<{}>[^/]+)"


def _route(pattern: str, view, name: str):
    return re_path(rf"^{pattern}/?$", view.as_view(), name=name)


app_name = "brapi"

urlpatterns = [
    _route("serverinfo", views.ServerInfoView, "serverinfo"),
    _route("commoncropnames", views.CommonCropNamesView, "commoncropnames"),
    _route("referencesets", views.ReferenceSetListView, "referencesets"),
    _route(f"referencesets/{_ID.format('reference_set_id')}", views.ReferenceSetDetailView, "referenceset"),
    _route("references", views.ReferenceListView, "references"),
    _route(f"references/{_ID.format('reference_id')}", views.ReferenceDetailView, "reference"),
    _route(f"references/{_ID.format('reference_id')}/bases", views.ReferenceBasesView, "reference-bases"),
    _route("search/references", views.ReferenceSearchView, "search-references"),
    _route(f"search/references/{_ID.format('search_id')}", views.ReferenceSearchResultsView, "search-references-results"),
    _route("search/referencesets", views.ReferenceSetSearchView, "search-referencesets"),
    _route(
        f"search/referencesets/{_ID.format('search_id')}", views.ReferenceSetSearchResultsView, "search-referencesets-results"
    ),
]
