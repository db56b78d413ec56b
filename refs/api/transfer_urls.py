"""Export and remote-update endpoints of references (included by refs.api.urls under /api/)."""

from django.urls import path

from refs.api import transfer_views as views
from virtool_site.api import converters  # noqa: F401 (registers <segment:...>)

urlpatterns = [
    path("refs/<segment:ref_id>/export", views.ReferenceExportView.as_view(), name="ref-export"),
    path("refs/<segment:ref_id>/release", views.ReferenceReleaseView.as_view(), name="ref-release"),
    path("refs/<segment:ref_id>/updates", views.ReferenceUpdatesView.as_view(), name="ref-updates"),
]
