from django.urls import path

from history.api import views
from virtool_site.api import converters  # noqa: F401 (registers <segment:...>)

urlpatterns = [
    path("history", views.HistoryView.as_view(), name="history"),
    path("history/<segment:change_id>", views.ChangeView.as_view(), name="change"),
    path("refs/<segment:ref_id>/history", views.ReferenceHistoryView.as_view(), name="reference-history"),
    path("otus/<segment:otu_id>/history", views.OTUHistoryView.as_view(), name="otu-history"),
]
