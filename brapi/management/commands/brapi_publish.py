"""Publish ready Virtool indexes as BrAPI reference sets (idempotent; catches up after outages)."""

from django.core.management.base import BaseCommand, CommandError

from brapi import services
from indexes.models import Index


class Command(BaseCommand):
    help = "Publish every ready index (or the given ones) as a BrAPI reference set."

    def add_arguments(self, parser):
        parser.add_argument("index_ids", nargs="*", help="Index ids (default: every ready index)")
        parser.add_argument("--force", action="store_true", help="Rebuild sets that already exist")

    def handle(self, *args, **options):
        indexes = Index.objects.filter(ready=True).order_by("created_at")
        if options["index_ids"]:
            indexes = indexes.filter(id__in=options["index_ids"])
            unknown = sorted(set(options["index_ids"]) - set(indexes.values_list("id", flat=True)))
            if unknown:
                raise CommandError(f"No ready index {', '.join(unknown)}")
        published = 0
        for index_id in indexes.values_list("id", flat=True):
            if services.referenceset_publish_index(index=index_id, force=options["force"]) is not None:
                published += 1
        self.stdout.write(self.style.SUCCESS(f"Published {published} index(es)"))
