from django.urls import include, path

from refs.api import views

urlpatterns = [
    path("refs", views.ReferencesView.as_view(), name="refs"),
    path("refs/<str:ref_id>", views.ReferenceView.as_view(), name="ref"),
    path("refs/<str:ref_id>/users", views.ReferenceUsersView.as_view(), name="ref-users"),
    path("refs/<str:ref_id>/users/<str:user_id>", views.ReferenceUserView.as_view(), name="ref-user"),
    path("refs/<str:ref_id>/groups", views.ReferenceGroupsView.as_view(), name="ref-groups"),
    path("refs/<str:ref_id>/groups/<str:group_id>", views.ReferenceGroupView.as_view(), name="ref-group"),
    path("refs/<str:ref_id>/otus", views.ReferenceOTUsView.as_view(), name="ref-otus"),
    path("otus/<str:otu_id>", views.OTUView.as_view(), name="otu"),
    path("otus/<str:otu_id>/isolates", views.IsolatesView.as_view(), name="isolates"),
    path("otus/<str:otu_id>/isolates/<str:isolate_id>", views.IsolateView.as_view(), name="isolate"),
    path(
        "otus/<str:otu_id>/isolates/<str:isolate_id>/default",
        views.IsolateDefaultView.as_view(),
        name="isolate-default",
    ),
    path(
        "otus/<str:otu_id>/isolates/<str:isolate_id>/sequences",
        views.SequencesView.as_view(),
        name="sequences",
    ),
    path(
        "otus/<str:otu_id>/isolates/<str:isolate_id>/sequences/<str:sequence_id>",
        views.SequenceView.as_view(),
        name="sequence",
    ),
    # Import, clone, remote and deletion endpoints (another module's).
    path("", include("refs.api.transfer_urls")),
]
