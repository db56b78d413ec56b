"""`manage.py storage_sweep`: remove stored files no row names, and this host's stale scratch."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from virtool_site.errors import ApplicationError
from virtool_site.storage_sweep import scratch_stale_remove, storage_orphans_remove

#: A century: beyond it `timedelta` and the cutoff overflow.
MAX_AGE_SECONDS = 100 * 365 * 24 * 3600


class Command(BaseCommand):
    help = (
        "Delete stored files (uploads, index files, analysis files, BLAST databases) that no row "
        "names and that are older than --age seconds (default STORAGE_ORPHAN_AGE_SECONDS): what a "
        "process that died between storing a file and committing its row left behind. Also "
        "deletes this host's scratch files (DATA_DIR/tmp) untouched for as long."
    )

    def add_arguments(self, parser):
        parser.add_argument("--age", type=int, default=None, help="Seconds a file must be old to be removed.")
        parser.add_argument("--dry-run", action="store_true", help="List what would be removed; remove nothing.")

    def handle(self, *args, age=None, dry_run=False, **options):
        if age is not None and not 0 <= age <= MAX_AGE_SECONDS:
            # A negative age would reach files an unfinished process has stored but not yet named.
            raise CommandError(f"--age must be between 0 and {MAX_AGE_SECONDS} seconds")
        older_than = timedelta(seconds=settings.STORAGE_ORPHAN_AGE_SECONDS if age is None else age)
        try:
            removed = storage_orphans_remove(older_than=older_than, dry_run=dry_run)
        except ApplicationError as error:  # StorageUnavailable
            raise CommandError(error.message)
        for key in removed:
            self.stdout.write(key)
        scratch = [] if dry_run else scratch_stale_remove(older_than=older_than)
        verb = "Would remove" if dry_run else "Removed"
        self.stdout.write(self.style.SUCCESS(
            f"{verb} {len(removed)} stored files no row names; removed {len(scratch)} stale scratch entries"
        ))
