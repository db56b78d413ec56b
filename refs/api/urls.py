from django.urls import include, path

from refs.api import views
from virtool_site.api import converters  # noqa: F401 (registers <segment:...>)

urlpatterns = [
    path("refs", views.ReferencesView.as_view(), name="refs"),
    path("refs/<segment:ref_id>", views.ReferenceView.as_view(), name="ref"),
    path("refs/<segment:ref_id>/users", views.ReferenceUsersView.as_view(), name="ref-users"),
    path("refs/<segment:ref_id>/users/<segment:user_id>", views.ReferenceUserView.as_view(), name="ref-user"),
    path("refs/<segment:ref_id>/groups", views.ReferenceGroupsView.as_view(), name="ref-groups"),
    path("refs/<segment:ref_id>/groups/<segment:group_id>", views.ReferenceGroupView.as_view(), name="ref-group"),
    path("refs/<segment:ref_id>/otus", views.ReferenceOTUsView.as_view(), name="ref-otus"),
    path("otus/<segment:otu_id>", views.OTUView.as_view(), name="otu"),
    path("otus/<segment:otu_id>/<int:version>", views.OTUVersionView.as_view(), name="otu-version"),
    path("otus/<segment:otu_id>/isolates", views.IsolatesView.as_view(), name="isolates"),
    path("otus/<segment:otu_id>/isolates/<segment:isolate_id>", views.IsolateView.as_view(), name="isolate"),
    path(
        "otus/<segment:otu_id>/isolates/<segment:isolate_id>/default",
        views.IsolateDefaultView.as_view(),
        name="isolate-default",
    ),
    path(
        "otus/<segment:otu_id>/isolates/<segment:isolate_id>/sequences",
        views.SequencesView.as_view(),
        name="sequences",
    ),
    path(
        "otus/<segment:otu_id>/isolates/<segment:isolate_id>/sequences/<segment:sequence_id>",
        views.SequenceView.as_view(),
        name="sequence",
    ),
    # Import, clone, remote and deletion endpoints (another module's).
    path("", include("refs.api.transfer_urls")),
]
