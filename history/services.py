"""Recording changes. Callers run these inside the transaction that changes the OTU, so the
OTU and its Change commit together or not at all."""

from django.utils import timezone

from history.diffs import diff_documents
from history.models import Change


def change_build(
    *,
    method_name: str,
    description: str,
    old: dict | None,
    new: dict | None,
    user,
    created_at=None,
) -> Change:
    """An unsaved Change between two joined OTU documents (for bulk creation).

    Create and remove store the whole document; every other change stores the diff.
    """
    if old is None and new is None:
        raise ValueError("a change needs a document before or after it")
    if new is None:
        document = old
        version = old["version"] + 1
        change_id = f"{old['_id']}.removed"
        diff = old
    else:
        document = new
        version = new["version"]
        change_id = f"{new['_id']}.{version}"
        diff = new if old is None else diff_documents(old, new)
    return Change(
        id=change_id,
        method_name=method_name,
        description=description,
        otu_id=document["_id"],
        otu_name=document["name"],
        otu_version=version,
        reference_id=document["reference"]["id"],
        user=user,
        diff=diff,
        created_at=created_at or timezone.now(),
    )


def change_record(**kwargs) -> Change:
    change = change_build(**kwargs)
    change.save(force_insert=True)
    return change
