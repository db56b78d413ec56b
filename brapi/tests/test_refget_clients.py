"""Real clients against a real HTTP server (pytest-django's live_server) serving the app on the
test database: samtools decodes a CRAM with its reference fetched through refget, and the GA4GH
`refget` package's Sequence Collections compliance suite (test-only) checks /refget/.
"""

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from brapi import services
from brapi.tests.factories import ReferenceFactory, index_for, otu_with_sequences, random_bases
from brapi.tests.test_refget_collections import TEST_FASTA, fasta_import

pytestmark = pytest.mark.django_db(transaction=True)

READ_LENGTH = 100
READ_COUNT = 300


@pytest.fixture
def samtools():
    path = shutil.which("samtools")
    if path is None:
        pytest.fail("samtools is not installed (apt-get install samtools; .ci/run installs it)")
    return path


def _mutate(bases: str, rng: random.Random) -> str:
    """A read with a few mismatches, so that decoding needs the reference's bases."""
    read = list(bases)
    for _ in range(rng.randrange(0, 4)):
        position = rng.randrange(len(read))
        read[position] = rng.choice([base for base in "ACGT" if base != read[position]])
    return "".join(read)


def sam_write(path: Path, references: list[tuple[str, str]], rng: random.Random) -> list[list[str]]:
    """A coordinate-sorted SAM of reads drawn from the references; returns its records' fields."""
    records = []
    for name, bases in references:
        starts = sorted(rng.randrange(0, len(bases) - READ_LENGTH - 10) for _ in range(READ_COUNT // len(references)))
        for number, start in enumerate(starts):
            kind = number % 3
            if kind == 0:
                cigar, read = f"{READ_LENGTH}M", _mutate(bases[start : start + READ_LENGTH], rng)
            elif kind == 1:  # an insertion of two bases
                left = bases[start : start + 50]
                right = bases[start + 50 : start + READ_LENGTH - 2]
                cigar, read = "50M2I48M", _mutate(left + "TT" + right, rng)
            else:  # soft-clipped start and a deletion of three bases
                clip = "".join(rng.choice("ACGT") for _ in range(10))
                aligned = bases[start : start + 40] + bases[start + 43 : start + 93]
                cigar, read = "10S40M3D50M", clip + _mutate(aligned, rng)
            quality = "".join(chr(33 + rng.randrange(2, 41)) for _ in range(len(read)))
            flag = "16" if rng.random() < 0.5 else "0"
            records.append([f"read{name}_{number}", flag, name, str(start + 1), "60", cigar, "*", "0", "0", read, quality])
    header = "@HD\tVN:1.6\tSO:coordinate\n" + "".join(f"@SQ\tSN:{name}\tLN:{len(bases)}\n" for name, bases in references)
    path.write_text(header + "".join("\t".join(record) + "\n" for record in records))
    return records


def _decode(samtools: str, cram: Path, ref_path: str, cache: Path, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "REF_PATH": ref_path, "REF_CACHE": f"{cache}/%2s/%2s/%s", "HOME": str(home)}
    env.pop("http_proxy", None)
    env.pop("HTTP_PROXY", None)
    return subprocess.run(
        [samtools, "view", "--no-PG", str(cram)], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_samtools_decodes_a_cram_with_the_reference_fetched_through_refget(live_server, samtools, user_factory, tmp_path):
    rng = random.Random(2024)
    reference = ReferenceFactory(user=user_factory(), public=True, name="Public viruses")
    otu_a, sequences_a = otu_with_sequences(reference, [random_bases(3000), random_bases(1800)], name="Alpha virus")
    otu_b, sequences_b = otu_with_sequences(reference, [random_bases(2500)], name="Beta virus")
    reference_set = services.referenceset_publish_index(index=index_for(reference, [otu_a, otu_b], version=0))
    published = [(r.name, r.id) for r in reference_set.references.order_by("position")]
    bases_by_accession = {s.accession: s.sequence.upper() for s in [*sequences_a, *sequences_b]}
    references = [(name, bases_by_accession[name]) for name, _ in published]

    fasta = tmp_path / "reference.fa"
    fasta.write_text("".join(f">{name}\n{bases}\n" for name, bases in references))
    sam = tmp_path / "reads.sam"
    records = sam_write(sam, references, rng)
    cram = tmp_path / "reads.cram"
    subprocess.run([samtools, "view", "-C", "-T", str(fasta), "-o", str(cram), str(sam)], check=True, timeout=120)
    # No local FASTA left: the header's UR points at nothing; only M5 (the MD5) can find the bases.
    fasta.unlink()
    Path(f"{fasta}.fai").unlink(missing_ok=True)

    home = tmp_path / "home"
    home.mkdir()
    unreachable = _decode(samtools, cram, "http://127.0.0.1:9/refget/sequence/%s", tmp_path / "cache-none", home)
    assert unreachable.returncode != 0 or not unreachable.stdout, "decoding must need the reference"

    cache = tmp_path / "cache"
    decoded = _decode(samtools, cram, f"{live_server.url}/refget/sequence/%s", cache, home)
    assert decoded.returncode == 0, decoded.stderr
    lines = [line.split("\t") for line in decoded.stdout.splitlines()]
    assert [fields[:11] for fields in lines] == records
    # htslib fetched each sequence by its MD5 from the server and cached it in the empty REF_CACHE.
    cached = sorted("".join(path.relative_to(cache).parts) for path in cache.rglob("*") if path.is_file())
    assert cached == sorted(reference_set.references.values_list("md5checksum", flat=True))


def test_the_refget_package_compliance_suite_passes(live_server):
    from refget.compliance import run_compliance

    for name, records in TEST_FASTA.items():
        fasta_import(records, name=name)
    report = run_compliance(f"{live_server.url}/refget")
    failures = [(result["name"], result["error"]) for result in report["results"] if not result["passed"]]
    assert not failures, failures
    assert report["passed"] == report["total"] > 50
