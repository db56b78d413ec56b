"""Writes to references, OTUs, isolates and sequences. Every OTU change records its Change in
the same transaction (see history.services)."""

from django.db import transaction

from refs.models import Reference, ReferenceUser


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
    ReferenceUser.objects.create(reference=reference, user=user, build=True, modify=True, modify_otu=True, remove=True)
    return reference
