"""Build an index of a reference from the command line, with the same rules as the API."""

from django.core.management.base import BaseCommand, CommandError

from indexes.models import Index
from indexes.services import RUNNER_CELERY, RUNNER_EXTERNAL, index_build, index_create
from virtool_site.errors import ApplicationError
from virtool_site.models import User


class Command(BaseCommand):
    help = "Start an index build of a reference (queued for a worker, or run here with --now)."

    def add_arguments(self, parser):
        parser.add_argument("reference_id")
        parser.add_argument("--user", help="Username the build is made as (default: the first administrator).")
        parser.add_argument("--now", action="store_true", help="Build in this process instead of queueing a task.")

    def handle(self, *args, reference_id, user, now, **options):
        if user:
            account = User.objects.filter(username=user).first()
        else:
            account = User.objects.filter(is_superuser=True, is_active=True).order_by("date_joined").first()
        if account is None:
            raise CommandError("No such user" if user else "No administrator: pass --user")
        try:
            index, _ = index_create(
                user=account, reference_id=reference_id, runner=RUNNER_EXTERNAL if now else RUNNER_CELERY
            )
        except ApplicationError as error:
            raise CommandError(error.message) from error
        if not now:
            self.stdout.write(f"Index {index.id} (version {index.version}) queued as job {index.job_id}")
            return
        index_build(index_id=index.id)
        index = Index.objects.select_related("job").filter(id=index.id).first()
        if index is None or not index.ready:
            job_error = index.job.error if index and index.job else None
            raise CommandError(f"Index build failed: {job_error or 'see the job'}")
        self.stdout.write(self.style.SUCCESS(f"Index {index.id} (version {index.version}) is ready"))
