from django.core.management.base import BaseCommand, CommandError

from analyses import services
from analyses.blast import BlastError
from virtool_site.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Build the local BLAST database (makeblastdb) of reference sequences and keep it in storage "
        "(blast/); NuVs contig BLASTs use it when settings.BLAST_DB is empty. Run it on any host."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reference", action="append", dest="references", metavar="REF_ID",
            help="Only this reference's sequences (repeat for several). Default: every reference.",
        )

    def handle(self, *args, references=None, **options):
        try:
            built = services.blast_db_build(reference_ids=references)
        except (ApplicationError, BlastError) as error:  # StorageUnavailable is an ApplicationError
            raise CommandError(getattr(error, "message", str(error)))
        self.stdout.write(self.style.SUCCESS(f"Built BLAST database of {built['sequences']} sequences at {built['path']}"))
