from django.urls import path

from indexes.api import views

urlpatterns = [
    path("indexes", views.IndexesView.as_view(), name="indexes"),
    path("indexes/<str:index_id>", views.IndexView.as_view(), name="index"),
    path("indexes/<str:index_id>/files", views.IndexFilesView.as_view(), name="index-files"),
    path("indexes/<str:index_id>/files/<str:name>", views.IndexFileView.as_view(), name="index-file"),
    path("indexes/<str:index_id>/history", views.IndexHistoryView.as_view(), name="index-history"),
    path("refs/<str:ref_id>/indexes", views.ReferenceIndexesView.as_view(), name="reference-indexes"),
]
