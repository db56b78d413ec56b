"""manage.py clone_reference REF_ID --name NAME [--user U]: copy a reference and its OTUs."""

from django.core.management.base import BaseCommand, CommandError

from refs.management.commands._progress import TqdmProgress, command_reference_name, command_user
from refs.models import OTU, Reference
from refs.processes.clone import reference_clone_run
from refs.processes.common import CLONE_STEPS
from refs.services.reference_processes import reference_new


class Command(BaseCommand):
    help = "Copy a reference with all its OTUs into a new one, as POST /api/refs clone_from does."

    def add_arguments(self, parser):
        parser.add_argument("ref_id", help="The reference to copy")
        parser.add_argument("--name", required=True, help="Name of the new reference")
        parser.add_argument("--user", help="Username of the creator (default: the first administrator)")
        parser.add_argument("--no-progress", action="store_true", help="Do not draw progress bars")

    def handle(self, *args, ref_id, name, user, no_progress, **options):
        name = command_reference_name(name)
        creator = command_user(user)
        source = Reference.objects.filter(id=ref_id).first()
        if source is None:
            raise CommandError(f"No reference {ref_id}")
        reference = reference_new(
            user=creator, process_type="clone_reference", steps=CLONE_STEPS, context={"source_id": source.id},
            name=name, description="", organism=source.organism, data_type=source.data_type, public=False,
            cloned_from={"id": source.id, "name": source.name},
            restrict_source_types=source.restrict_source_types, source_types=list(source.source_types or []),
        )
        process = reference.process
        progress = TqdmProgress(self.stderr, disable=no_progress)
        try:
            reference_clone_run(
                reference_id=reference.id, process_id=process.id, source_id=source.id, user_id=creator.pk,
                extra=progress,
            )
        finally:
            progress.close()
        process.refresh_from_db()
        if process.error:
            raise CommandError(f"Clone failed: {process.error.get('message')}")
        count = OTU.objects.filter(reference=reference).count()
        self.stdout.write(self.style.SUCCESS(f"Cloned {count} OTUs into {reference.name} ({reference.id})"))
