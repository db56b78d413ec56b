"""Export and remote-update endpoints of references (included by refs.api.urls under /api/)."""

from django.urls import path

from refs.api import transfer_views as views

urlpatterns = [
    path("refs/<str:ref_id>/export", views.ReferenceExportView.as_view(), name="ref-export"),
    path("refs/<str:ref_id>/release", views.ReferenceReleaseView.as_view(), name="ref-release"),
    path("refs/<str:ref_id>/updates", views.ReferenceUpdatesView.as_view(), name="ref-updates"),
]
