from django.urls import path

from virtool_site.api import views
from virtool_site.api import converters  # noqa: F401 (registers <segment:...>)

urlpatterns = [
    path("health", views.HealthView.as_view(), name="health"),
    path("account", views.AccountView.as_view(), name="account"),
    path("account/keys", views.AccountKeysView.as_view(), name="account-keys"),
    path("account/keys/<segment:key_id>", views.AccountKeyView.as_view(), name="account-key"),
    path("users", views.UsersView.as_view(), name="users"),
    path("users/<segment:user_id>", views.UserView.as_view(), name="user"),
    path("groups", views.GroupsView.as_view(), name="groups"),
    path("groups/<segment:group_id>", views.GroupView.as_view(), name="group"),
    path("processes", views.ProcessesView.as_view(), name="processes"),
    path("processes/<segment:process_id>", views.ProcessView.as_view(), name="process"),
    path("jobs", views.JobsView.as_view(), name="jobs"),
    path("jobs/<segment:job_id>", views.JobView.as_view(), name="job"),
    path("jobs/<segment:job_id>/cancel", views.JobCancelView.as_view(), name="job-cancel"),
    path("uploads", views.UploadsView.as_view(), name="uploads"),
    path("uploads/<segment:upload_id>", views.UploadView.as_view(), name="upload"),
]
