"""Writes to references, their rights, OTUs, isolates and sequences; the single path every
caller (REST, admin, commands, tasks) goes through. Every OTU change records its Change in
the same transaction (see history.services).

- `references`: create a reference, edit its settings.
- `rights`: the per-user and per-group rights on a reference.
- `otus`: create, edit and remove an OTU, and the machinery of every OTU change.
- `isolates`: an OTU's isolates and sequences.
- `restore`: write a joined OTU document back (history's revert) and `otu_store`.
- `reference_processes`: start import, clone, remote install and update, and deletion
  (the work itself: refs.processes, run by refs.tasks).

Callers use `from refs import services` and the names below.
"""

from refs.services.isolates import (
    IUPAC_NUCLEOTIDES,
    SEQUENCE_EDITABLE,
    isolate_add,
    isolate_edit,
    isolate_remove,
    isolate_set_default,
    sequence_clean,
    sequence_create,
    sequence_edit,
    sequence_remove,
)
from refs.services.otus import (
    otu_create,
    otu_edit,
    otu_edit_description,
    otu_name_abbreviation_message,
    otu_remove,
)
from refs.services.reference_processes import (
    UPLOAD_NOT_FOUND,
    UPLOAD_NOT_GZIPPED,
    UPLOAD_NOT_REFERENCE,
    reference_create_clone,
    reference_create_import,
    reference_create_remote,
    reference_delete,
    reference_import_path,
    reference_release_check,
    reference_update_remote,
)
from refs.services.references import REFERENCE_EDITABLE, reference_create, reference_edit, source_types_clean
from refs.services.restore import OtuStore, otu_document_restore, otu_store
from refs.services.rights import (
    reference_group_add,
    reference_group_edit,
    reference_group_remove,
    reference_user_add,
    reference_user_edit,
    reference_user_remove,
    rights_clean,
)

__all__ = [
    "IUPAC_NUCLEOTIDES",
    "REFERENCE_EDITABLE",
    "SEQUENCE_EDITABLE",
    "UPLOAD_NOT_FOUND",
    "UPLOAD_NOT_GZIPPED",
    "UPLOAD_NOT_REFERENCE",
    "OtuStore",
    "isolate_add",
    "isolate_edit",
    "isolate_remove",
    "isolate_set_default",
    "otu_create",
    "otu_document_restore",
    "otu_edit",
    "otu_edit_description",
    "otu_name_abbreviation_message",
    "otu_remove",
    "otu_store",
    "reference_create",
    "reference_create_clone",
    "reference_create_import",
    "reference_create_remote",
    "reference_delete",
    "reference_edit",
    "reference_group_add",
    "reference_group_edit",
    "reference_group_remove",
    "reference_import_path",
    "reference_release_check",
    "reference_update_remote",
    "reference_user_add",
    "reference_user_edit",
    "reference_user_remove",
    "rights_clean",
    "sequence_clean",
    "sequence_create",
    "sequence_edit",
    "sequence_remove",
    "source_types_clean",
]
