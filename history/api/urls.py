from django.urls import path

from history.api import views

urlpatterns = [
    path("history", views.HistoryView.as_view(), name="history"),
    path("history/<str:change_id>", views.ChangeView.as_view(), name="change"),
    path("refs/<str:ref_id>/history", views.ReferenceHistoryView.as_view(), name="reference-history"),
    path("otus/<str:otu_id>/history", views.OTUHistoryView.as_view(), name="otu-history"),
]
