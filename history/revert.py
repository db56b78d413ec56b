"""Reverting a change: the OTU goes back to its state before that change, and that change and
every later change of the OTU are deleted, all in one transaction.

History knows nothing of refs' services. What revert needs from the OTU's side (rights, a
lock, writing a joined document back into rows) comes in as an `OtuStore`; the default one is
named by the `HISTORY_OTU_STORE` setting ("refs.services.otu_store").
"""

from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from history.diffs import document_revert
from history.models import Change
from virtool_site.errors import Conflict, NotFound

#: Changes whose diff is the whole document of a new OTU: reverting them removes the OTU.
CREATING_METHODS = ("create", "import", "clone", "remote")


class OtuStore(Protocol):
    def check(self, *, user, reference_id: str) -> None:
        """Raise NotFound when the user may not see the reference, InsufficientRights without
        the right to modify its OTUs."""

    def lock(self, *, otu_id: str, reference_id: str) -> dict | None:
        """Lock the reference's data and then the OTU against concurrent changes (raising the
        reference's revision); the OTU's joined document, or None if absent."""

    def write(self, *, otu_id: str, document: dict | None) -> None:
        """Make the OTU exactly `document` (None: remove it)."""


def otu_store() -> OtuStore:
    return import_string(getattr(settings, "HISTORY_OTU_STORE", "refs.services.otu_store"))


def document_before(changes: list[Change], current: dict | None) -> dict | None:
    """The OTU document before the oldest of `changes` (given newest first), from `current`."""
    document = current
    for change in changes:
        if change.method_name == "remove":
            document = change.diff
        elif change.method_name in CREATING_METHODS and isinstance(change.diff, dict):
            document = None
        else:
            if document is None:
                raise NotFound("OTU not found")
            document = document_revert(document, change.diff)
    return document


@transaction.atomic
def change_revert(*, user, change_id: str, store: OtuStore | None = None) -> dict | None:
    """Revert the change `change_id` and every later change of its OTU.

    404 when the change does not exist (or the user may not see its reference), 403 without
    `modify_otu`, 409 "Not unbuilt" when any of those changes is in an index build. Returns
    the restored OTU document, or None when the OTU no longer exists (a create reverted).
    """
    store = store or otu_store()
    target = Change.objects.filter(id=change_id).values("otu_id", "otu_version", "reference_id").first()
    if target is None:
        raise NotFound()
    store.check(user=user, reference_id=target["reference_id"])
    # The locks come first, as in every OTU change, so revert and edits queue in one order.
    current = store.lock(otu_id=target["otu_id"], reference_id=target["reference_id"])
    changes = list(
        Change.objects.select_for_update()
        .filter(otu_id=target["otu_id"], otu_version__gte=target["otu_version"])
        .order_by("-otu_version")
    )
    if change_id not in {c.id for c in changes}:
        raise NotFound()  # reverted meanwhile
    if any(c.index_id is not None for c in changes):
        raise Conflict("Not unbuilt")
    if current is None and changes[0].method_name != "remove":
        raise NotFound("OTU not found")
    document = document_before(changes, current)
    store.write(otu_id=target["otu_id"], document=document)
    Change.objects.filter(id__in=[c.id for c in changes]).delete()
    return document
