"""Site-wide receivers: what deleting a user does to the work they started.

A deactivated user's job keys stop authenticating (services.job_authenticate); a deleted
user's jobs would lose their user (SET_NULL) and look like system jobs whose keys still work.
So their unfinished jobs are cancelled first, in the deletion's transaction: the keys stop, an
index build refuses to finalize and is removed, an analysis can be removed.
"""

from django.db.models.signals import pre_delete
from django.utils import timezone

from virtool_site.models import Job, User


def _user_jobs_cancel(sender, instance, **kwargs):
    Job.objects.filter(user=instance, state__in=(Job.State.WAITING, Job.State.RUNNING)).update(
        state=Job.State.CANCELLED, updated_at=timezone.now()
    )


def connect() -> None:
    pre_delete.connect(_user_jobs_cancel, sender=User, dispatch_uid="virtool-site-user-jobs-cancel")
