"""manage.py import_reference PATH --name NAME [--user U]: import a reference.json.gz file."""

from django.core.management.base import BaseCommand, CommandError

from refs.management.commands._progress import TqdmProgress, command_reference_name, command_user
from refs.models import OTU
from refs.processes.common import TransferError
from refs.services import reference_import_path


class Command(BaseCommand):
    help = "Create a reference from a Virtool reference file (reference.json.gz), as POST /api/refs import_from does."

    def add_arguments(self, parser):
        parser.add_argument("path", help="A reference.json.gz file")
        parser.add_argument("--name", required=True, help="Name of the new reference")
        parser.add_argument("--user", help="Username of the creator (default: the first administrator)")
        parser.add_argument("--description", default="")
        parser.add_argument("--public", action="store_true", help="Make the reference visible to every user")
        parser.add_argument("--no-progress", action="store_true", help="Do not draw progress bars")

    def handle(self, *args, path, name, user, description, public, no_progress, **options):
        name = command_reference_name(name)
        creator = command_user(user)
        progress = TqdmProgress(self.stderr, disable=no_progress)
        try:
            reference = reference_import_path(
                user=creator, path=path, name=name, description=description, public=public, progress=progress
            )
        except TransferError as error:
            raise CommandError(f"Import failed: {error}") from error
        finally:
            progress.close()
        count = OTU.objects.filter(reference=reference).count()
        self.stdout.write(self.style.SUCCESS(f"Imported {count} OTUs into {reference.name} ({reference.id})"))
