from django.urls import path

from indexes.api import views
from virtool_site.api import converters  # noqa: F401 (registers <segment:...>)

urlpatterns = [
    path("indexes", views.IndexesView.as_view(), name="indexes"),
    path("indexes/<segment:index_id>", views.IndexView.as_view(), name="index"),
    path("indexes/<segment:index_id>/files", views.IndexFilesView.as_view(), name="index-files"),
    path("indexes/<segment:index_id>/files/<segment:name>", views.IndexFileView.as_view(), name="index-file"),
    path("indexes/<segment:index_id>/history", views.IndexHistoryView.as_view(), name="index-history"),
    path("refs/<segment:ref_id>/indexes", views.ReferenceIndexesView.as_view(), name="reference-indexes"),
]
