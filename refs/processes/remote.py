"""Remote references: a GitHub release installed as a new reference, and a newer release
applied to it.

Install (`reference_remote_run`, the remote_reference task) downloads the release named in
the process and imports it (refs.processes.import_file) with `remote` Changes. Update
(`reference_update_run`, the update_remote_reference task) downloads the newer release and,
in one transaction, removes the remote OTUs the release dropped, updates those it changed
(one `update` Change each, sequence ids kept) and creates the new ones.
"""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from history.services import change_build
from refs.documents import otu_documents_iter
from refs.imports import otu_file_normalise, reference_file_check, reference_file_otus, reference_file_validate
from refs.models import OTU, Isolate, Reference, Sequence
from refs.processes.common import (
    TransferError,
    process_user,
    reference_fill_run,
    reference_lock,
    reference_process_run,
    reference_written,
)
from refs.processes.import_file import reference_file_import
from refs.processes.rows import new_id, otu_build, otu_label
from refs.processes.writer import BulkWriter
from refs.remotes import RemoteError, release_download, update_document
from refs.revisions import reference_revision_bump
from virtool_site.storage import scratch_path
from virtool_site.models import Process
from virtool_site.processes import Progress


@contextmanager
def _downloaded(release: dict) -> Iterator[Path]:
    # The worker's scratch: the release is imported from here and removed afterwards.
    with tempfile.TemporaryDirectory(dir=scratch_path("remote")) as temporary:
        path = Path(temporary) / "reference.json.gz"
        try:
            release_download(release, path)
        except RemoteError as error:
            raise TransferError(str(error)) from error
        yield path


def _release_installed(reference_id: str, release: dict, user) -> None:
    """Record the release as installed (inside the writing transaction)."""
    reference = Reference.all_objects.select_for_update().get(id=reference_id)
    installed = update_document(release, user=user, ready=True)
    updates = [dict(u, ready=True) if u.get("id") == release.get("id") else u for u in reference.updates or []]
    if not any(u.get("id") == release.get("id") for u in updates):
        updates.append(installed)
    stored = dict(reference.release or release)
    if stored.get("id") == release.get("id"):
        stored["newer"] = False
    Reference.all_objects.filter(id=reference_id).update(installed=installed, updates=updates, release=stored)


def reference_remote_run(*, reference_id: str, process_id: str | None, user_id=None) -> None:
    """The remote_reference task: download the release named in the process and import it
    (the new reference goes if that fails: refs.processes.common.reference_fill_run)."""
    with reference_fill_run(process_id, reference_id=reference_id) as progress:
        if progress is None or reference_written(reference_id):
            return  # (with OTUs: installed by an earlier delivery, not downloaded again)
        release = Process.objects.get(id=process_id).context.get("release") or {}
        user = process_user(user_id)
        progress.step("download")
        with _downloaded(release) as path:
            reference_file_import(
                reference_id=reference_id, path=path, user=user, progress=progress, method="remote",
                on_written=lambda reference: _release_installed(reference_id, release, user),
            )


def reference_remote_update(*, reference_id: str, path, release: dict, user, progress: Progress) -> dict | None:
    """Apply a newer release: OTUs matched by remote id are updated (one `update` Change each
    when they differ), new ones created (`remote`), missing ones removed (`remove`)."""
    progress.step("load_file")
    reference_file_check(path, progress=progress.fraction)
    progress.step("validate")
    local = OTU.objects.filter(reference_id=reference_id, remote_id__isnull=True)
    summary = reference_file_validate(
        path,
        progress=progress.fraction,
        taken_names={name.lower() for name in local.values_list("name", flat=True)},
        taken_abbreviations={a for a in local.values_list("abbreviation", flat=True) if a},
        checked=True,
    )
    created_at = timezone.now()
    counts = {"created": 0, "updated": 0, "removed": 0, "unchanged": 0}
    with reference_lock(reference_id), transaction.atomic():
        reference = Reference.all_objects.filter(id=reference_id).first()
        if reference is None or reference.deleted:
            return None
        reference_revision_bump(reference_ids=reference_id)
        if (reference.installed or {}).get("id") == release.get("id"):
            return {"skipped": True}
        origin = f"{(reference.remotes_from or {}).get('slug', 'remote')} {release.get('name') or ''}".strip()
        update = _RemoteUpdate(reference_id=reference_id, user=user, origin=origin, created_at=created_at, counts=counts)
        try:
            # Removals first: a new OTU may take the name of one the release dropped.
            progress.step("remove_otus")
            update.remove_missing(summary.otu_ids)
            progress.step("update_otus")
            batch: list[dict] = []
            for position, raw in enumerate(reference_file_otus(path)):
                batch.append(otu_file_normalise(raw))
                if len(batch) >= 200:
                    update.apply(batch)
                    batch = []
                    progress.fraction(position / max(summary.otu_count, 1))
            update.apply(batch)
            update.names_apply()
            progress.step("write_history")
            update.writer.write_history(progress.fraction)
        finally:
            update.writer.close()
        _release_installed(reference_id, release, user)
    return counts


#: The name an OTU is written under until `_RemoteUpdate.names_apply` gives it its own: unique
#: (it holds the OTU's id) and no curator's (it starts with a control character).
_PLACEHOLDER_NAME = "\x01renaming {}"


@dataclass
class _RemoteUpdate:
    """Applies a release to a reference in batches, inside the update's transaction.

    Names and abbreviations are unique per reference and PostgreSQL checks that row by row
    (an expression or partial unique index cannot be deferred), while a release may swap
    names between OTUs or give a new OTU the old name of one it renames later in the file.
    So every renamed or new OTU is first written under a placeholder name without
    abbreviation, and `names_apply` gives them their names once every OTU is written, when
    the release's names (checked unique by the validation) no longer collide.
    """

    reference_id: str
    user: object
    origin: str
    created_at: object
    counts: dict

    def __post_init__(self):
        self.writer = BulkWriter()
        self.names: list[OTU] = []
        self.existing = dict(
            OTU.objects.filter(reference_id=self.reference_id, remote_id__isnull=False).values_list("remote_id", "id")
        )

    def apply(self, batch: list[dict]):
        if not batch:
            return
        local_ids = [self.existing[s["_id"]] for s in batch if s["_id"] in self.existing]
        old_documents = {d["remote"]["id"]: d for d in otu_documents_iter(OTU.objects.filter(id__in=local_ids))}
        replaced, writes = [], []
        for source in batch:
            old = old_documents.get(source["_id"])
            if old is None:
                document, rows = otu_build(
                    source, otu_id=new_id(), reference_id=self.reference_id, imported=True, remote=True,
                    created_at=self.created_at,
                )
                change = change_build(
                    method_name="remote", description=f"Installed {otu_label(document)} from {self.origin}",
                    old=None, new=document, user=self.user, created_at=self.created_at,
                )
                self._name_later(rows.otu)
                writes.append((rows, change, True))
                self.counts["created"] += 1
                continue
            known = {s["remote"]["id"]: s["_id"] for i in old["isolates"] for s in i["sequences"] if s.get("remote")}
            document, rows = otu_build(
                source,
                otu_id=old["_id"],
                reference_id=self.reference_id,
                version=old["version"],
                imported=old["imported"],
                remote=True,
                last_indexed_version=old["last_indexed_version"],
                sequence_id=lambda s, known=known: known.get(s["_id"]) or new_id(),
            )
            if document == old:
                self.counts["unchanged"] += 1
                continue
            document["version"] = rows.otu["version"] = old["version"] + 1
            change = change_build(
                method_name="update", description=f"Updated {otu_label(document)} from {self.origin}",
                old=old, new=document, user=self.user, created_at=self.created_at,
            )
            if (document["name"], document["abbreviation"]) != (old["name"], old["abbreviation"]):
                self._name_later(rows.otu)
            replaced.append(OTU(**{k: v for k, v in rows.otu.items() if k != "created_at"}))
            writes.append((rows, change, False))
            self.counts["updated"] += 1
        if replaced:
            # Their isolates and sequences are written anew (sequence ids are kept); the OTU
            # rows are updated in place, so nothing that refers to them is touched.
            ids = [otu.id for otu in replaced]
            Sequence.objects.filter(otu_id__in=ids).delete()
            Isolate.objects.filter(otu_id__in=ids).delete()
            OTU.objects.bulk_update(
                replaced, ["name", "abbreviation", "schema", "taxid", "version", "verified", "remote_id"], batch_size=200
            )
        for rows, change, new_otu in writes:
            self.writer.add(rows, change, new_otu=new_otu)
        self.writer.flush()

    def _name_later(self, otu_row: dict) -> None:
        """Write this OTU row under a placeholder name; `names_apply` sets its own."""
        self.names.append(OTU(id=otu_row["id"], name=otu_row["name"], abbreviation=otu_row["abbreviation"]))
        otu_row["name"], otu_row["abbreviation"] = _PLACEHOLDER_NAME.format(otu_row["id"]), ""

    def names_apply(self) -> None:
        """Give the renamed and new OTUs their names (after every OTU is written)."""
        OTU.objects.bulk_update(self.names, ["name", "abbreviation"], batch_size=200)
        self.names = []

    def remove_missing(self, remote_ids: set[str]):
        """Remove the remote OTUs that the release no longer has."""
        removed = [otu_id for remote_id, otu_id in self.existing.items() if remote_id not in remote_ids]
        for remote_id in [r for r in self.existing if r not in remote_ids]:
            del self.existing[remote_id]
        Reference.all_objects.filter(id=self.reference_id, internal_control__in=removed).update(internal_control=None)
        for start in range(0, len(removed), 500):
            chunk = removed[start : start + 500]
            for document in otu_documents_iter(OTU.objects.filter(id__in=chunk)):
                self.writer.add_change(
                    change_build(
                        method_name="remove", description=f"Removed {otu_label(document)}: not in {self.origin}",
                        old=document, new=None, user=self.user, created_at=self.created_at,
                    )
                )
            Sequence.objects.filter(otu_id__in=chunk).delete()
            Isolate.objects.filter(otu_id__in=chunk).delete()
            OTU.objects.filter(id__in=chunk).delete()
            self.counts["removed"] += len(chunk)


def reference_update_run(*, reference_id: str, process_id: str | None, user_id=None) -> None:
    """The update_remote_reference task."""
    with reference_process_run(process_id) as progress:
        if progress is None:
            return
        release = Process.objects.get(id=process_id).context.get("release") or {}
        progress.step("download")
        with _downloaded(release) as path:
            reference_remote_update(
                reference_id=reference_id, path=path, release=release, user=process_user(user_id), progress=progress
            )
