"""manage.py delete_reference REF_ID: remove a reference with its OTUs, history and indexes."""

from django.core.management.base import BaseCommand, CommandError

from refs.management.commands._progress import TqdmProgress, command_user
from refs.models import Reference
from refs.processes.common import DELETE_STEPS
from refs.processes.delete import reference_delete_run
from refs.services import reference_delete
from virtool_site.models import Process
from virtool_site.services import process_create


class Command(BaseCommand):
    help = "Delete a reference, as DELETE /api/refs/{id} does, and wait for the deletion to finish."

    def add_arguments(self, parser):
        parser.add_argument("ref_id")
        parser.add_argument("--user", help="Username recorded on the process (default: the first administrator)")
        parser.add_argument("--noinput", "--no-input", action="store_true", help="Do not ask for confirmation")
        parser.add_argument("--no-progress", action="store_true", help="Do not draw progress bars")

    def handle(self, *args, ref_id, user, noinput, no_progress, **options):
        actor = command_user(user)
        # Hidden references are included: a deletion accepted while its task could not run
        # (the queue was down, or the task failed for good) is finished here.
        reference = Reference.all_objects.filter(id=ref_id).first()
        if reference is None:
            raise CommandError(f"No reference {ref_id}")
        if not noinput:
            answer = input(f"Delete {reference.name} ({reference.id}) with all its OTUs, history and indexes? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                raise CommandError("Deletion cancelled")
        if reference.deleted and reference.process is not None:
            process = reference.process
        elif reference.deleted:
            process = process_create(
                process_type="delete_reference", steps=DELETE_STEPS, user=actor, context={"ref_id": reference.id}
            )
        else:
            process = reference_delete(user=actor, reference=reference, queue=False)
        progress = TqdmProgress(self.stderr, disable=no_progress)
        try:
            reference_delete_run(reference_id=reference.id, process_id=process.id, extra=progress)
        finally:
            progress.close()
        process = Process.objects.get(id=process.id)
        if process.error:
            raise CommandError(f"Deletion failed: {process.error.get('message')}")
        self.stdout.write(self.style.SUCCESS(f"Deleted {reference.name} ({reference.id})"))
