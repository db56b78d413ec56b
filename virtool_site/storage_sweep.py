"""Removing stored files no row names (orphans), and this host's stale scratch files.

Services write an object before its row commits and delete it again when the row does not
(virtool_site.storage). What is left when a process dies between the two, or when a caller's
outer transaction rolls back after the object was written, is found here: each app registers,
for the key prefix it owns, a function that says which of a batch of keys are still named by a
row (`stored_owner_register`, called from the apps' `ready()`); any other object older than
STORAGE_ORPHAN_AGE_SECONDS is deleted. The age keeps writes in flight (object stored, row not
yet committed) safe.

Run by `manage.py storage_sweep` or the `virtool_site.storage_sweep` task (schedule either,
e.g. daily). The kernel knows no app: the apps tell it what they own.
"""

import logging
import shutil
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from virtool_site.storage import stored_delete_quietly, stored_objects

logger = logging.getLogger(__name__)

#: Keys checked against the rows per query.
BATCH_SIZE = 500
#: Scratch directories kept whatever their age: fetched read-only copies that are reused.
SCRATCH_KEPT = {"blast"}

_owners: dict[str, Callable[[list[str]], set[str]]] = {}


def stored_owner_register(prefix: str, live: Callable[[list[str]], set[str]]) -> None:
    """Declare that keys under `prefix/` belong to rows: `live(keys)` returns those of `keys`
    that a row still names (or that must be kept for another reason)."""
    _owners[prefix.strip("/")] = live


def stored_owners() -> dict[str, Callable[[list[str]], set[str]]]:
    return dict(_owners)


def _batches(items: Iterable, size: int) -> Iterable[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def storage_orphans_remove(*, older_than: timedelta | None = None, dry_run: bool = False) -> list[str]:
    """Delete stored objects older than `older_than` (default STORAGE_ORPHAN_AGE_SECONDS)
    that no row names; returns their keys."""
    if older_than is None:
        older_than = timedelta(seconds=settings.STORAGE_ORPHAN_AGE_SECONDS)
    cutoff = timezone.now() - older_than
    removed: list[str] = []
    for prefix, live in stored_owners().items():
        candidates = (key for key, modified in stored_objects(prefix) if modified <= cutoff)
        for batch in _batches(candidates, BATCH_SIZE):
            orphans = sorted(set(batch) - live(batch))
            if orphans and not dry_run:
                stored_delete_quietly(orphans)
            removed.extend(orphans)
    if removed:
        logger.info("%s %d stored files no row names", "found" if dry_run else "removed", len(removed))
    return removed


def scratch_stale_remove(*, older_than: timedelta | None = None) -> list[Path]:
    """Delete this host's scratch entries (DATA_DIR/tmp/*/*) untouched for `older_than`:
    what a killed worker left behind and no redelivery came back for."""
    from virtool_site.files import data_path

    if older_than is None:
        older_than = timedelta(seconds=settings.STORAGE_ORPHAN_AGE_SECONDS)
    cutoff = time.time() - older_than.total_seconds()
    root = data_path("tmp")
    removed = []
    if not root.is_dir():
        return removed
    for area in root.iterdir():
        if not area.is_dir() or area.name in SCRATCH_KEPT:
            continue
        for entry in area.iterdir():
            try:
                if entry.lstat().st_mtime > cutoff:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
            except FileNotFoundError:
                continue
            removed.append(entry)
    return removed
