"""Who may see a reference, and who holds which right on it.

A user sees references that are public, theirs, or shared with them or one of their groups.
Rights (`build`, `modify`, `modify_otu`, `remove`) come from the user's own entry or any of
their groups' entries; administrators hold every right. Every path (REST, admin, BrAPI,
history, indexes) asks these functions.

Job runners (job keys) are no users: they see no reference. An index build's runner may read
exactly what its index is built from, the OTUs of the index's manifest at their manifest
versions (`job_manifest_version`), while its job runs (a finished job's key no longer
authenticates).
"""

from django.contrib.auth import get_user_model
from django.db import connections
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.fields.json import KeyTransform
from django.db.models.expressions import RawSQL

from history.models import Change
from indexes.models import Index
from refs.models import OTU, Reference, ReferenceGroup, ReferenceUser
from virtool_site.api.permissions import is_signed_in_user
from virtool_site.errors import InsufficientRights, NotFound

RIGHTS = ("build", "modify", "modify_otu", "remove")
#: The workflow of the jobs that build indexes (indexes.services.WORKFLOW).
BUILD_WORKFLOW = "build_index"
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


def references_visible_sql(user, alias: str) -> tuple[str, list]:
    """`references_visible` as an SQL condition (and its params) on the reference row `alias`,
    for the read paths written in SQL. The same rule: change both together (refs/tests hold
    them to each other)."""
    connection = connections[Reference.objects.db]
    quote = connection.ops.quote_name
    live = f"NOT {alias}.{quote('deleted')}"
    if user is not None and getattr(user, "is_superuser", False):
        return live, []
    if not is_signed_in_user(user):
        return f"{live} AND {alias}.{quote('public')}", []
    shared = _shared_reference_ids_sql(connection)
    condition = (
        f"{live} AND ({alias}.{quote('public')} OR {alias}.{quote('user_id')} = %s "
        f"OR {alias}.{quote('id')} IN ({shared}))"
    )
    return condition, [user.pk, user.pk, user.pk]


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


def job_manifest_version(*, job, otu_id: str) -> int:
    """The version of an OTU a job runner may read: its version in the manifest of the index
    the job builds, in one query.

    InsufficientRights (403) for a job that builds no index or has ended, and for an OTU that
    is not in the manifest (another reference's, or created since); NotFound (404) for an
    OTU that never existed, or when the index's reference is gone.
    """
    if job.workflow != BUILD_WORKFLOW or job.finished:
        raise InsufficientRights()
    found = (
        Index.objects.filter(job_id=job.id)
        .annotate(
            otu_version=KeyTransform(otu_id, "manifest"),
            live=Exists(Reference.objects.filter(id=OuterRef("reference_id"))),
        )
        .values_list("otu_version", "live")
        .first()
    )
    if found is None:
        raise InsufficientRights()
    version, live = found
    if not live:
        raise NotFound()
    if isinstance(version, int) and not isinstance(version, bool):
        return version
    if OTU.objects.filter(id=otu_id).exists() or Change.objects.filter(otu_id=otu_id).exists():
        raise InsufficientRights()
    raise NotFound()
