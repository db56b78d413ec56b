import gzip
import hashlib
import io
import tracemalloc

import pytest
from django.core.management import CommandError, call_command
from brapi import services, storage
from brapi.models import Reference, ReferenceChunk, ReferenceSet
from brapi.storage import bases_read
from brapi.tests.conftest import md5, set_md5, write_fasta
from brapi.tests.factories import random_bases
from virtool_site.errors import BadRequest

pytestmark = pytest.mark.django_db


def _stored(reference: Reference) -> str:
    return bases_read(reference_id=reference.id, chunk_size=reference.chunk_size, start=0, stop=reference.length)


@pytest.mark.parametrize("compress", [False, True])
def test_command_imports_assembly(tmp_path, settings, compress, capsys):
    settings.BRAPI_CHUNK_SIZE = 1000
    records = [("Chr1 first", random_bases(12_345)), ("Chr2", random_bases(999)), ("NC_012920.1 mito", random_bases(1000))]
    path = write_fasta(tmp_path / ("g.fa.gz" if compress else "g.fa"), records, compress=compress)
    out = io.StringIO()
    err = io.StringIO()
    call_command(
        "brapi_import_fasta",
        str(path),
        "--name",
        "My genome",
        "--species",
        "Oryza sativa",
        "--species-uri",
        "NCBITaxon:4530",
        "--crop",
        "Rice",
        "--accession",
        "GCF_001433935.1",
        stdout=out,
        stderr=err,
    )
    assert "Imported reference set" in out.getvalue()
    assert "100%" in err.getvalue()  # the tqdm progress bar
    reference_set = ReferenceSet.objects.get()
    assert reference_set.name == "My genome"
    assert reference_set.public
    assert reference_set.common_crop_name == "Rice"
    assert reference_set.accession == "GCF_001433935.1"
    assert reference_set.species_term == "Oryza sativa"
    assert reference_set.species_term_uri == "NCBITaxon:4530"
    references = list(reference_set.references.order_by("position"))
    assert [r.name for r in references] == ["Chr1", "Chr2", "NC_012920.1"]
    for reference, (_, bases) in zip(references, records):
        assert reference.length == len(bases)
        assert reference.md5checksum == hashlib.md5(bases.encode()).hexdigest()
        assert _stored(reference) == bases
        assert reference.chunk_size == 1000
        assert reference.chunks.count() == -(-len(bases) // 1000)
    assert references[0].additional_info == {"description": "first"}
    assert references[2].accession == "NC_012920.1"
    assert references[0].accession is None
    assert reference_set.md5checksum == set_md5(md5(b) for _, b in records)


def test_command_private_flag(tmp_path):
    path = write_fasta(tmp_path / "g.fa", [("c", "ACGT")])
    call_command("brapi_import_fasta", str(path), "--name", "Hidden", "--private", "--no-progress", stdout=io.StringIO())
    assert ReferenceSet.objects.get().public is False


@pytest.mark.parametrize(
    "content,message",
    [
        (b"ACGT\n>x\nACGT\n", "before the first"),
        (b">x\nAC1GT\n", "Invalid characters"),
        (b"", "No sequences"),
        (b">x\nAC>y\nGT\n", "inside a sequence"),
        (b">\nACGT\n", "Empty FASTA header"),
        (b">chr1 a\nACGT\n>chr2\nGG\n>chr1 b\nTT\n", "Duplicate sequence name: chr1"),
        (b">chr\x001\nACGT\n", "NUL character in FASTA header"),
        (b">chr1 desc\x00\nACGT\n", "NUL character in FASTA header"),
    ],
)
def test_command_refuses_bad_files_and_leaves_nothing(tmp_path, content, message):
    path = tmp_path / "bad.fa"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        call_command("brapi_import_fasta", str(path), "--name", "Bad", "--no-progress")
    assert not ReferenceSet.objects.exists()
    assert not ReferenceChunk.objects.exists()


def test_command_missing_file(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("brapi_import_fasta", str(tmp_path / "none.fa"), "--name", "x")


def test_truncated_gzip_fails_cleanly(tmp_path):
    data = gzip.compress(b">x\n" + random_bases(50_000).encode() + b"\n")
    path = tmp_path / "cut.fa.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CommandError):
        call_command("brapi_import_fasta", str(path), "--name", "Cut", "--no-progress")
    assert not ReferenceSet.objects.exists()


def test_corrupt_gzip_data_is_a_command_error_and_leaves_nothing(tmp_path):
    data = bytearray(gzip.compress(b">x\n" + random_bases(200_000).encode() + b"\n"))
    for i in range(200, 400):
        data[i] ^= 0x55
    path = tmp_path / "corrupt.fa.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(CommandError, match="Import failed"):
        call_command("brapi_import_fasta", str(path), "--name", "Corrupt", "--no-progress")
    assert not ReferenceSet.objects.exists()
    assert not ReferenceChunk.objects.exists()


def test_crlf_lowercase_iupac_and_non_ascii_headers_import(tmp_path):
    path = tmp_path / "mixed.fa"
    path.write_bytes(">chrÄ 病毒 first\r\nacgtnRYKM\r\nAC\r\n>chr2\r\nNN\r\n".encode())
    call_command("brapi_import_fasta", str(path), "--name", "Mixed", "--no-progress", stdout=io.StringIO())
    references = list(Reference.objects.order_by("position"))
    assert [(r.name, r.length) for r in references] == [("chrÄ", 11), ("chr2", 2)]
    assert _stored(references[0]) == "ACGTNRYKMAC"
    assert references[0].additional_info == {"description": "病毒 first"}


@pytest.mark.parametrize("read_size", [1, 7, 64, 4096])
def test_parser_is_independent_of_read_block_boundaries(read_size):
    bases = [random_bases(3000), "", random_bases(10)]
    text = f">one desc\r\n{bases[0][:1500]}\r\n{bases[0][1500:].lower()}\r\n>empty\n>three\n{bases[2]}"
    reference_set = services.referenceset_import_fasta(
        stream=io.BytesIO(text.encode()), name="Blocks", chunk_size=256, read_size=read_size
    )
    references = list(reference_set.references.order_by("position"))
    assert [r.name for r in references] == ["one", "empty", "three"]
    for reference, expected in zip(references, bases):
        assert _stored(reference) == expected.upper()
        assert reference.md5checksum == md5(expected.upper())
        assert reference.length == len(expected)


def test_bulk_create_path_used_off_postgresql(monkeypatch):
    monkeypatch.setattr(storage, "_use_copy", lambda: False)
    bases = random_bases(5000)
    reference_set = services.referenceset_import_fasta(stream=io.BytesIO(f">a\n{bases}\n".encode()), name="x", chunk_size=300)
    monkeypatch.undo()
    (reference,) = reference_set.references.all()
    assert _stored(reference) == bases
    assert reference.chunks.count() == 17


def test_memory_stays_flat_whatever_the_chromosome_length(monkeypatch):
    """Peak Python memory of an import does not grow with the length of the chromosome.

    Bounded by a read block, a chunk, one COPY batch and the prefetch queue (shrunk here so
    that the test's chromosomes are many times longer than these bounds).
    """
    monkeypatch.setattr(storage, "COPY_BATCH_BYTES", 32 * 1024)
    monkeypatch.setattr(storage, "PREFETCH_DEPTH", 4)

    def peak(length: int) -> int:
        data = b">chr\n" + random_bases(length).encode() + b"\n"
        stream = io.BytesIO(data)
        tracemalloc.start()
        try:
            services.referenceset_import_fasta(stream=stream, name=f"L{length}", chunk_size=8192, read_size=16_384)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    # The buffers above add up to well under 320 KiB; how full they are at the peak depends on
    # thread scheduling, so each import is held to that fixed bound rather than to the other.
    bound = 320 * 1024
    medium, large = peak(400_000), peak(1_600_000)
    assert medium < bound and large < bound, (medium, large)
    assert large < 1_600_000 / 4  # far less than the chromosome


def test_service_requires_a_name():
    with pytest.raises(BadRequest):
        services.referenceset_import_fasta(stream=io.BytesIO(b">a\nAC\n"), name="  ")


class _EndlessHeader(io.RawIOBase):
    """A FASTA stream whose first header line is `length` bytes long, made as it is read."""

    def __init__(self, length: int):
        self.remaining = length
        self.served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        size = min(len(buffer), self.remaining)
        prefix = b">" if self.served == 0 else b""
        buffer[:size] = (prefix + b"n" * size)[:size]
        self.remaining -= size
        self.served += size
        return size


def test_a_header_line_of_hundreds_of_megabytes_is_refused_after_its_first_megabyte():
    stream = _EndlessHeader(300 * 1024**2)
    tracemalloc.start()
    try:
        with pytest.raises(BadRequest, match="header line too long"):
            services.referenceset_import_fasta(stream=stream, name="Long header")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert stream.served <= 2 * storage.FASTA_READ_SIZE + 1024**2
    assert peak < 16 * 1024**2
    assert not ReferenceSet.objects.exists()


def test_a_header_line_past_the_bound_is_refused_even_when_it_ends_in_the_same_block():
    header = b">" + b"n" * 2000 + b"\nACGT\n"
    with pytest.raises(storage.InvalidFasta, match="header line too long"):
        list(storage.fasta_chunk_rows(io.BytesIO(header), chunk_size=100, records=[], max_header_bytes=1000))
