"""Writes to a reference itself: creating one (its creator holds every right) and editing
its settings (the `modify` right)."""

from django.db import transaction

from refs.models import OTU, Reference, ReferenceUser
from refs.permissions import reference_rights_check
from refs.revisions import reference_revision_bump, reference_revision_bump_live
from virtool_site.errors import BadRequest


@transaction.atomic
def reference_create(
    *,
    user,
    name: str,
    description: str = "",
    organism: str = "virus",
    data_type: str = "genome",
    public: bool = False,
    **fields,
) -> Reference:
    """A new, empty reference; its creator holds every right on it.

    `fields` sets further Reference fields (`imported_from`, `cloned_from`, `remotes_from`,
    `process`, ...), for the import, clone and remote paths.
    """
    reference = Reference.objects.create(
        name=name,
        description=description,
        organism=organism,
        data_type=data_type,
        public=public,
        user=user,
        **fields,
    )
    reference_revision_bump(reference_ids=reference.id)
    ReferenceUser.objects.create(reference=reference, user=user, build=True, modify=True, modify_otu=True, remove=True)
    return reference


REFERENCE_EDITABLE = (
    "name",
    "description",
    "organism",
    "internal_control",
    "restrict_source_types",
    "source_types",
    "public",
)


def source_types_clean(source_types) -> list[str]:
    """Lower-cased, stripped, without blanks or repeats, in the given order."""
    cleaned = []
    for source_type in source_types:
        value = source_type.strip().lower()
        if value and value not in cleaned:
            cleaned.append(value)
    return cleaned


@transaction.atomic
def reference_edit(*, user, reference: Reference, **changes) -> Reference:
    """Change a reference's settings (the `modify` right)."""
    unknown = set(changes) - set(REFERENCE_EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    reference_rights_check(user=user, reference=reference, right="modify")
    reference_revision_bump_live(reference_id=reference.pk)  # also locks the row
    reference = Reference.objects.get(pk=reference.pk)
    if "internal_control" in changes:
        otu_id = changes["internal_control"] or None
        if otu_id and not OTU.objects.filter(id=otu_id, reference=reference).exists():
            raise BadRequest("Internal control does not exist")
        changes["internal_control"] = otu_id
    if "source_types" in changes:
        changes["source_types"] = source_types_clean(changes["source_types"])
    for field, value in changes.items():
        setattr(reference, field, value)
    if changes:
        reference.save(update_fields=list(changes))
    return reference
