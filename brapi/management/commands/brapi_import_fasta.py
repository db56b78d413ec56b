"""Import a genome assembly (FASTA, optionally gzipped) as a BrAPI ReferenceSet.

    manage.py brapi_import_fasta genome.fa.gz --name "TAIR10" --species "Arabidopsis thaliana" \
        --crop Arabidopsis --accession GCF_000001735.4

Streams the file once: bases go to the database in chunks while md5s are computed, so memory
stays flat whatever the chromosome length. The set is public unless --private (then only
administrators see it).
"""

import gzip
import zlib
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from brapi import services
from virtool_site.errors import ApplicationError

GZIP_MAGIC = b"\x1f\x8b"


class Command(BaseCommand):
    help = "Import a FASTA genome assembly (plain or .gz) as a BrAPI reference set."

    def add_arguments(self, parser):
        parser.add_argument("path", help="FASTA file, plain or gzip-compressed")
        parser.add_argument("--name", required=True, help="Reference set name")
        parser.add_argument("--species", help="Species term, e.g. 'Zea mays'")
        parser.add_argument("--species-uri", help="Species term URI (CURIE), e.g. NCBITaxon:4577")
        parser.add_argument("--crop", help="BrAPI common crop name, e.g. Maize")
        parser.add_argument("--accession", help="Assembly accession with version, e.g. GCF_902167145.1")
        parser.add_argument("--description", help="Free-text description")
        parser.add_argument("--source-uri", help="Where the FASTA came from")
        parser.add_argument("--private", action="store_true", help="Visible to administrators only")
        parser.add_argument("--no-progress", action="store_true", help="Do not show a progress bar")

    def handle(self, *args, **options):
        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        with path.open("rb") as raw:
            compressed = raw.read(2) == GZIP_MAGIC
            raw.seek(0)
            total = path.stat().st_size
            bar = tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=path.name,
                disable=options["no_progress"],
                file=self.stderr._out,
            )
            stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
            done = 0

            def progress(_):
                # Progress in bytes of the file on disk (compressed bytes for .gz).
                nonlocal done
                position = raw.tell()
                bar.update(position - done)
                done = position

            try:
                reference_set = services.referenceset_import_fasta(
                    stream=stream,
                    name=options["name"],
                    species=options.get("species"),
                    species_uri=options.get("species_uri"),
                    crop=options.get("crop"),
                    accession=options.get("accession"),
                    description=options.get("description"),
                    source_uri=options.get("source_uri"),
                    public=not options["private"],
                    progress=progress,
                )
            except (ApplicationError, OSError, EOFError, gzip.BadGzipFile, zlib.error) as error:
                raise CommandError(f"Import failed: {error}") from None
            finally:
                bar.close()
        count = reference_set.references.count()
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported reference set {reference_set.id} ({reference_set.name}): {count} references, "
                f"md5 {reference_set.md5checksum}"
            )
        )
