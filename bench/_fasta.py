"""Synthetic sequences for the benchmarks that need long chromosomes (bench/brapi_bases.py,
bench/refget_slice.py): random bases, written as FASTA."""

import os
from pathlib import Path


def random_bases(length: int) -> bytes:
    table = bytes(b"ACGT"[i & 3] for i in range(256))
    return os.urandom(length).translate(table)


def fasta_write(path: Path, name: str, bases: bytes, line_width: int = 80) -> None:
    """One record, `line_width` bases a line, written in blocks (no copy of the whole sequence)."""
    view = memoryview(bases)
    with path.open("wb", buffering=1 << 22) as handle:
        handle.write(f">{name} synthetic\n".encode())
        for start in range(0, len(bases), line_width * 4096):
            block = view[start : start + line_width * 4096]
            handle.write(b"\n".join(block[i : i + line_width] for i in range(0, len(block), line_width)))
            handle.write(b"\n")
