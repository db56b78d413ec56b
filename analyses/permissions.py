"""Sample rights, which also guard every analysis of the sample.

Read: administrator, owner, `all_read`, or `group_read` with the user in the sample's group.
Write: the same with `all_write` / `group_write`; whoever may write may also read. Changing the rights themselves (`group`,
`group_read`, `group_write`, `all_read`, `all_write`) is for the owner and administrators.

A sample that exists but may not be read or written answers 403 "Insufficient rights" (the
analyses spec's rule, applied to the sample endpoints too); only a missing one is 404.
Job runners have no sample rights: they reach their own analysis through the Job API only.
"""

from django.db.models import Q, QuerySet

from analyses.models import Sample
from virtool_site.api.permissions import is_signed_in_user
from virtool_site.errors import InsufficientRights

READ = "read"
WRITE = "write"


def samples_readable(user) -> QuerySet[Sample]:
    samples = Sample.objects.all()
    if not is_signed_in_user(user):
        return samples.none()
    if user.is_superuser:
        return samples
    groups = user.groups.all()
    return samples.filter(
        Q(user=user)
        | Q(all_read=True)
        | Q(all_write=True)
        | Q(group_read=True, group__in=groups)
        | Q(group_write=True, group__in=groups)
    )


def samples_readable_sql(user, alias: str) -> tuple[str, list]:
    """`samples_readable` as an SQL condition (and its params) on the sample row `alias`, for
    the reads written in SQL. The same rule: change both together (analyses/tests hold them to
    each other)."""
    if not is_signed_in_user(user):
        return "1 = 0", []
    if user.is_superuser:
        return "1 = 1", []
    groups = "SELECT ug.group_id FROM virtool_site_user_groups ug WHERE ug.user_id = %s"
    return (
        f"({alias}.user_id = %s OR {alias}.all_read OR {alias}.all_write OR "
        f"(({alias}.group_read OR {alias}.group_write) AND {alias}.group_id IN ({groups})))",
        [user.pk, user.pk],
    )


def sample_has_right(*, user, sample: Sample, right: str) -> bool:
    if right not in (READ, WRITE):
        raise ValueError(f"unknown sample right {right}")
    if not is_signed_in_user(user):
        return False
    if user.is_superuser or (sample.user_id is not None and sample.user_id == user.pk):
        return True
    rights = (READ, WRITE) if right == READ else (WRITE,)
    if any(getattr(sample, f"all_{r}") for r in rights):
        return True
    if sample.group_id is not None and any(getattr(sample, f"group_{r}") for r in rights):
        return user.groups.filter(pk=sample.group_id).exists()
    return False


def sample_rights_check(*, user, sample: Sample, right: str) -> None:
    """Raise InsufficientRights (403) unless the user holds `right` on the sample."""
    if not sample_has_right(user=user, sample=sample, right=right):
        raise InsufficientRights()


def sample_can_change_rights(*, user, sample: Sample) -> bool:
    return is_signed_in_user(user) and (user.is_superuser or (sample.user_id is not None and sample.user_id == user.pk))
