"""Who may see a reference, and who holds which right on it.

A user sees references that are public, theirs, or shared with them or one of their groups.
Rights (`build`, `modify`, `modify_otu`, `remove`) come from the user's own entry or any of
their groups' entries; administrators hold every right. Every path (REST, admin, BrAPI,
history, indexes) asks these functions.
"""

from django.contrib.auth import get_user_model
from django.db import connections
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from refs.models import Reference, ReferenceGroup, ReferenceUser
from virtool_site.api.permissions import is_signed_in_user
from virtool_site.errors import InsufficientRights, NotFound

RIGHTS = ("build", "modify", "modify_otu", "remove")
#: Older Virtool clients say `modify_kind` for `modify_otu`.
RIGHT_ALIASES = {"modify_kind": "modify_otu"}


def _shared_reference_ids_sql(connection) -> str:
    """Ids of the references shared with a user (params: the user's pk, twice): through their
    own rights entries, and through the entries of the groups they belong to."""
    quote = connection.ops.quote_name
    memberships = get_user_model().groups.through._meta
    return (
        f"SELECT ru.{quote('reference_id')} FROM {quote(ReferenceUser._meta.db_table)} ru "
        f"WHERE ru.{quote('user_id')} = %s "
        f"UNION ALL SELECT rg.{quote('reference_id')} FROM {quote(ReferenceGroup._meta.db_table)} rg "
        f"INNER JOIN {quote(memberships.db_table)} ug ON ug.{quote('group_id')} = rg.{quote('group_id')} "
        f"WHERE ug.{quote('user_id')} = %s"
    )


def references_visible(user) -> QuerySet[Reference]:
    """Live references the user may see (anonymous users: public ones).

    Every read of the API filters with this, often more than once per request, so the shared
    part is one self-contained SQL subquery: the ORM equivalent (two `__in` subqueries, one
    through the group join) cost more to build and compile than to run.
    """
    references = Reference.objects.all()
    if user is not None and getattr(user, "is_superuser", False):
        return references
    if not is_signed_in_user(user):
        return references.filter(public=True)
    shared = RawSQL(_shared_reference_ids_sql(connections[references.db]), (user.pk, user.pk))
    return references.filter(Q(public=True) | Q(user_id=user.pk) | Q(id__in=shared))


def reference_get_visible(*, user, reference_id: str) -> Reference:
    """The reference, or NotFound when it does not exist or the user may not see it."""
    reference = references_visible(user).filter(id=reference_id).first()
    if reference is None:
        raise NotFound()
    return reference


def reference_has_right(*, user, reference: Reference | str, right: str) -> bool:
    right = RIGHT_ALIASES.get(right, right)
    if right not in RIGHTS:
        raise ValueError(f"unknown reference right {right}")
    if not is_signed_in_user(user):
        return False
    if user.is_superuser:
        return True
    reference_id = getattr(reference, "pk", reference)
    if ReferenceUser.objects.filter(reference_id=reference_id, user=user, **{right: True}).exists():
        return True
    return ReferenceGroup.objects.filter(reference_id=reference_id, group__user=user, **{right: True}).exists()


def reference_rights_check(*, user, reference: Reference | str, right: str) -> None:
    """Raise InsufficientRights (403) unless the user holds `right` on the reference."""
    if not reference_has_right(user=user, reference=reference, right=right):
        raise InsufficientRights()
