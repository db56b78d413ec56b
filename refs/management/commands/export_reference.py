"""manage.py export_reference REF_ID PATH: write a reference as reference.json.gz."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from refs.models import OTU, Reference
from refs.processes.export import EXPORT_SCOPES, reference_export_write


class Command(BaseCommand):
    help = "Write a reference to a Virtool reference file (reference.json.gz), as GET /api/refs/{id}/export does."

    def add_arguments(self, parser):
        parser.add_argument("ref_id")
        parser.add_argument("path", help="Where to write the .json.gz file")
        parser.add_argument(
            "--scope", choices=EXPORT_SCOPES, default="unbuilt",
            help="unbuilt (default): every OTU as it is now; built: as in its last index build",
        )
        parser.add_argument("--no-progress", action="store_true", help="Do not draw a progress bar")

    def handle(self, *args, ref_id, path, scope, no_progress, **options):
        reference = Reference.objects.filter(id=ref_id).first()
        if reference is None:
            raise CommandError(f"No reference {ref_id}")
        total = OTU.objects.filter(reference=reference).count()
        with tqdm(total=total, desc="export", unit="otu", file=self.stderr, disable=no_progress) as bar:
            count = [0]

            def tick():
                count[0] += 1
                bar.update()

            try:
                size = reference_export_write(reference=reference, scope=scope, path=path, on_otu=tick)
            except OSError as error:
                raise CommandError(f"Cannot write {path}: {error}") from error
        self.stdout.write(self.style.SUCCESS(f"Exported {count[0]} OTUs ({scope}, {size} bytes of JSON) to {path}"))
