"""Reading history, including the state of an OTU at any recorded version."""

from history.diffs import document_revert
from history.models import Change


def otu_document_at_version(*, otu_id: str, version: int, current: dict | None) -> dict | None:
    """The joined OTU document as it was at `version`, by reverting later changes.

    `current` is the OTU's joined document now, or None when the OTU has been removed (the
    removal change holds its last document). Returns None when the OTU did not exist at that
    version.
    """
    changes = list(Change.objects.filter(otu_id=otu_id, otu_version__gt=version).order_by("-otu_version"))
    document = current
    for change in changes:
        if change.method_name == "remove":
            document = change.diff
        elif change.method_name in ("create", "import", "clone", "remote") and isinstance(change.diff, dict):
            return None
        elif document is not None:
            document = document_revert(document, change.diff)
    if document is None:
        removal = Change.objects.filter(otu_id=otu_id, method_name="remove").order_by("-otu_version").first()
        document = removal.diff if removal else None
    return document
