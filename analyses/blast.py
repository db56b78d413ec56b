"""BLAST backends for NuVs contigs.

- local (settings.BLAST_BACKEND = "local", the default): `blastn` from ncbi-blast+ against
  settings.BLAST_DB, or, when that is empty, the database `manage.py build_blast_db` builds from
  this service's reference sequences. That database is kept in storage like every persistent
  file (virtool_site.storage): `blast/db-{id}/references.*` and a pointer object
  `blast/CURRENT` naming the current one. Built once (makeblastdb in scratch, on any host),
  it is the same for every worker; a worker on another host fetches a database into its
  scratch (DATA_DIR/tmp/blast/db-{id}) the first time it searches it, and keeps it, since a
  database's files never change under its name. Rebuilding the database from PostgreSQL on
  each worker instead would cost every worker a makeblastdb run and could give two workers
  different databases at once. Local storage: blastn reads DATA_DIR/blast/ directly.
- ncbi: NCBI's BLAST URL API (settings.NCBI_BLAST_URL): `CMD=Put` starts a search and answers
  an RID and RTOE in a QBlastInfo block; `CMD=Get FORMAT_OBJECT=SearchInfo` answers
  `Status=WAITING|READY|FAILED|UNKNOWN`; the result is fetched with `FORMAT_TYPE=JSON2` as a zip.

Both produce BLAST JSON (`BlastOutput2`), parsed by `blast_result_parse` into hits
`{accession, taxid, title, name, len, identity, evalue, align_len, score, bit_score, gaps}`.

Tunables (settings.py, from the environment): BLAST_POLL_INTERVAL (3 s), BLAST_POLL_INTERVAL_STEP (5 s),
BLAST_TIMEOUT_SECONDS (3600), BLAST_MAX_HITS (10), BLAST_MAX_FAILURES (3),
BLAST_RESULT_MAX_BYTES (256 MiB), BLAST_LOCAL_TIMEOUT_SECONDS (3600), BLAST_RESPONSE_MAX_SECONDS
(300: the longest one NCBI reply may take to arrive whole; HTTP_TIMEOUT_SECONDS bounds only each
wait for bytes, so a reply trickling in would otherwise hold its worker, and the BLAST, for ever).
"""

import io
import json
import logging
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

import requests
import urllib3
from django.conf import settings

from virtool_site.ids import random_id
from virtool_site.storage import (
    scratch_path,
    stored_delete_prefix,
    stored_delete_quietly,
    stored_directory,
    stored_objects,
    stored_open,
    stored_save_path,
)

logger = logging.getLogger(__name__)

BLAST_DB_NAME = "references"
BLAST_DB_POINTER = "CURRENT"
#: Storage keys: `blast/CURRENT` names the current database, `blast/{name}/references.*`.
BLAST_PREFIX = "blast"
NCBI_STATUSES = ("WAITING", "READY", "FAILED", "UNKNOWN")


def blast_setting(name: str):
    """A BLAST_* setting, read at each use (tests override them); settings.py holds the defaults."""
    return getattr(settings, name)


class BlastError(Exception):
    """A search that cannot succeed; the message is stored as the BLAST's `error`."""


class BlastTransientError(BlastError):
    """A failure worth another try (connection trouble, a 5xx or 429 from NCBI)."""


# Results -----------------------------------------------------------------------------------


def blast_hit_parse(hit: dict) -> dict:
    description = (hit.get("description") or [{}])[0]
    hsp = (hit.get("hsps") or [{}])[0]
    return {
        "accession": description.get("accession", ""),
        "taxid": description.get("taxid"),
        "title": description.get("title", ""),
        "name": description.get("sciname") or "No name",
        "len": hit.get("len"),
        "identity": hsp.get("identity"),
        "evalue": hsp.get("evalue"),
        "align_len": hsp.get("align_len"),
        "score": hsp.get("score"),
        "bit_score": hsp.get("bit_score"),
        "gaps": hsp.get("gaps", 0),
    }


def blast_result_parse(document: dict) -> dict:
    """`{program, version, target, hits}` from a BLAST JSON (`BlastOutput2`) document."""
    try:
        outputs = document["BlastOutput2"]
        if isinstance(outputs, dict):
            outputs = [outputs]
        if len(outputs) != 1:
            raise BlastError(f"Unexpected BLAST result count {len(outputs)}")
        report = outputs[0]["report"]
        results = report["results"]
        search = results["search"] if "search" in results else results["iterations"][0]["search"]
        hits = [blast_hit_parse(hit) for hit in search.get("hits") or []]
        return _json_storable(
            {
                "program": report.get("program"),
                "version": report.get("version"),
                "target": report.get("search_target"),
                "hits": hits,
            }
        )
    except (KeyError, IndexError, TypeError, AttributeError, RecursionError) as error:
        raise BlastError(f"Unreadable BLAST result: {error!r}") from error


def _json_storable(value):
    """The value as PostgreSQL's jsonb takes it: NaN and infinities (which Python's json reads)
    become null and NUL characters are dropped, so an odd reply ends stored, not failing the
    save and leaving the BLAST pending."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_json_storable(str(key)): _json_storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_storable(item) for item in value]
    return value


# Local backend -----------------------------------------------------------------------------


def blast_db_name() -> str | None:
    """The name (`db-{id}`) of the current database built here, from its stored pointer."""
    try:
        stream, _ = stored_open(f"{BLAST_PREFIX}/{BLAST_DB_POINTER}")
    except FileNotFoundError:
        return None
    with stream:
        name = stream.read(256).decode("ascii", errors="replace").strip()
    return name if re.fullmatch(r"db-[a-z0-9]+", name) else None


def blast_db_current() -> str | None:
    """The database blastn should search: settings.BLAST_DB, else the one built here, as a
    local path (fetched into this worker's scratch first when storage is remote)."""
    if settings.BLAST_DB:
        return settings.BLAST_DB
    name = blast_db_name()
    if name is None:
        return None
    cache = scratch_path("blast")
    fetched_before = (cache / name).is_dir()
    try:
        directory = stored_directory(f"{BLAST_PREFIX}/{name}", cache=cache / name)
    except FileNotFoundError:
        return None
    if directory.parent == cache and not fetched_before:
        _blast_cache_prune(cache, keep=name)
    return str(directory / BLAST_DB_NAME)


def _blast_cache_prune(cache: Path, *, keep: str) -> None:
    """Drop fetched databases but the current one and the one before it (searches that
    started on it may still be running)."""
    older = sorted(
        (entry for entry in cache.iterdir() if entry.is_dir() and entry.name.startswith("db-") and entry.name != keep),
        key=lambda entry: entry.stat().st_mtime,
        reverse=True,
    )
    for entry in older[1:]:
        shutil.rmtree(entry, ignore_errors=True)


def blast_keys_live(keys: list[str]) -> set[str]:
    """Of stored keys under `blast/`, those to keep (storage sweep): the pointer and the
    current database's files. Older databases are deleted by the next build; what a failed
    build stored goes here."""
    name = blast_db_name()
    pointer = f"{BLAST_PREFIX}/{BLAST_DB_POINTER}"
    return {key for key in keys if key == pointer or (name and key.startswith(f"{BLAST_PREFIX}/{name}/"))}


def local_rid() -> str:
    return f"local-{random_id()}"


def local_search(sequence: str) -> dict:
    """Run blastn on one contig; returns the parsed result."""
    database = blast_db_current()
    if not database:
        raise BlastError("No BLAST database: set BLAST_DB or run `manage.py build_blast_db`")
    with tempfile.TemporaryDirectory(prefix="blast-") as work:
        query = Path(work) / "query.fa"
        output = Path(work) / "result.json"
        query.write_text(f">query\n{sequence}\n")
        command = [
            settings.BLASTN_PATH,
            "-task", "megablast",
            "-db", database,
            "-query", str(query),
            "-outfmt", "15",
            "-max_target_seqs", str(blast_setting("BLAST_MAX_HITS")),
            "-num_threads", "1",
            "-out", str(output),
        ]
        try:
            completed = subprocess.run(
                command, capture_output=True, text=True, timeout=blast_setting("BLAST_LOCAL_TIMEOUT_SECONDS")
            )
        except FileNotFoundError as error:
            raise BlastError(f"blastn not found at {settings.BLASTN_PATH}") from error
        except subprocess.TimeoutExpired as error:
            raise BlastError("blastn timed out") from error
        if completed.returncode != 0:
            raise BlastError(f"blastn failed ({completed.returncode}): {completed.stderr.strip()[-2000:]}")
        try:
            document = json.loads(output.read_text())
        except (OSError, ValueError) as error:
            raise BlastError(f"blastn wrote no readable result: {error}") from error
    result = blast_result_parse(document)
    local_hits_describe(result["hits"])
    result["database"] = os.path.basename(database)
    return result


def local_hits_describe(hits: list[dict]) -> None:
    """Hits on this service's own database name its sequence ids: show the sequence's accession,
    definition, OTU name and taxid instead."""
    from refs.models import Sequence

    ids = {hit["accession"] for hit in hits if hit["accession"]}
    sequences = {
        s.id: s for s in Sequence.objects.filter(id__in=ids).select_related("otu").only(
            "id", "accession", "definition", "otu__name", "otu__taxid"
        )
    }
    for hit in hits:
        sequence = sequences.get(hit["accession"])
        if sequence is None:
            continue
        hit["accession"] = sequence.accession
        hit["title"] = sequence.definition or hit["title"]
        hit["name"] = sequence.otu.name
        hit["taxid"] = sequence.otu.taxid if sequence.otu.taxid is not None else hit["taxid"]


def _fasta_text(value: str) -> str:
    return " ".join((value or "").split())


def blast_db_build(*, reference_ids: list[str] | None = None) -> dict:
    """Build a nucleotide BLAST database of the reference sequences with makeblastdb.

    It is built in a new directory and switched to by replacing a pointer file, so searches
    running meanwhile keep their database. Returns `{path, sequences}`.
    """
    from refs.models import Sequence

    from virtool_site.errors import BadRequest

    sequences = Sequence.objects.filter(otu__reference__deleted=False).exclude(sequence="")
    if reference_ids:
        sequences = sequences.filter(otu__reference_id__in=reference_ids)
    name = f"db-{random_id()}"
    build = scratch_path("blast-build", name)
    fasta, taxid_map = build / "references.fa", build / "taxids.txt"
    count = taxids = 0
    try:
        with open(fasta, "w") as fasta_out, open(taxid_map, "w") as taxid_out:
            rows = sequences.values_list("id", "accession", "definition", "sequence", "otu__taxid").order_by("id")
            for sequence_id, accession, definition, sequence, taxid in rows.iterator(chunk_size=2000):
                residues = "".join(sequence.split())
                if not residues:
                    continue
                fasta_out.write(f">lcl|{sequence_id} {_fasta_text(accession)} {_fasta_text(definition)}\n{residues}\n")
                count += 1
                if taxid is not None:
                    taxid_out.write(f"lcl|{sequence_id} {taxid}\n")
                    taxids += 1
        if not count:
            raise BadRequest("There are no reference sequences to build a BLAST database from")
        command = [
            settings.MAKEBLASTDB_PATH, "-in", str(fasta), "-dbtype", "nucl", "-parse_seqids",
            "-out", str(build / BLAST_DB_NAME), "-title", "virtool_site reference sequences",
        ]
        if taxids:
            command += ["-taxid_map", str(taxid_map)]
        try:
            completed = subprocess.run(command, capture_output=True, text=True)
        except FileNotFoundError as error:
            raise BlastError(f"makeblastdb not found at {settings.MAKEBLASTDB_PATH}") from error
        if completed.returncode != 0:
            raise BlastError(f"makeblastdb failed ({completed.returncode}): {completed.stderr.strip()[-2000:]}")
        fasta.unlink()
        taxid_map.unlink()
        previous = blast_db_name()
        # The database's files first, then the pointer naming it: a search never finds a
        # pointer to files not all stored yet.
        try:
            for path in sorted(build.iterdir()):
                stored_save_path(f"{BLAST_PREFIX}/{name}/{path.name}", path)
            pointer = build / BLAST_DB_POINTER
            pointer.write_text(name)
            stored_save_path(f"{BLAST_PREFIX}/{BLAST_DB_POINTER}", pointer)
        except BaseException:
            stored_delete_quietly(prefixes=[f"{BLAST_PREFIX}/{name}"])
            raise
    finally:
        shutil.rmtree(build, ignore_errors=True)
    # Keep the previous database for searches that started on it; drop older ones.
    stored_names = {key.split("/")[1] for key, _ in stored_objects(BLAST_PREFIX) if key.count("/") >= 2}
    for stored in stored_names - {name, previous}:
        if stored.startswith("db-"):
            stored_delete_prefix(f"{BLAST_PREFIX}/{stored}")
    return {"path": f"{BLAST_PREFIX}/{name}/{BLAST_DB_NAME}", "sequences": count}


# NCBI backend ------------------------------------------------------------------------------

_QBLAST_INFO = re.compile(r"QBlastInfoBegin(.*?)QBlastInfoEnd", re.S)


def qblast_info(text: str) -> dict[str, str]:
    """The `key = value` pairs of every QBlastInfo block in an NCBI response."""
    info = {}
    for block in _QBLAST_INFO.findall(text):
        for line in block.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                info[key.strip()] = value.strip()
    return info


#: The most an NCBI page (Put, SearchInfo, an error) may hold; they are a few kilobytes.
NCBI_PAGE_MAX_BYTES = 4 * 1024**2


def _ncbi_request(method: str, *, params=None, data=None, limit: int = NCBI_PAGE_MAX_BYTES) -> bytes:
    """The body of NCBI's 200 reply, read whole within BLAST_RESPONSE_MAX_SECONDS and `limit`."""
    started = time.monotonic()
    try:
        response = requests.request(
            method,
            settings.NCBI_BLAST_URL,
            params=params,
            data=data,
            timeout=settings.HTTP_TIMEOUT_SECONDS,
            stream=True,
            headers={"User-Agent": "virtool_site"},
        )
    except requests.RequestException as error:
        raise BlastTransientError(f"NCBI request failed: {error}") from error
    with response:
        if response.status_code == 429 or response.status_code >= 500:
            raise BlastTransientError(f"NCBI answered {response.status_code}")
        if response.status_code != 200:
            try:
                text = _ncbi_text(response.raw.read1(500, decode_content=True))
            except (urllib3.exceptions.HTTPError, OSError):
                text = ""
            raise BlastError(f"NCBI answered {response.status_code}: {text}")
        return _read_bounded(response, limit, started=started)


def _ncbi_text(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")


def ncbi_put(sequence: str) -> tuple[str, int]:
    """Start a search; returns (RID, RTOE in seconds)."""
    body = _ncbi_request(
        "POST",
        data={
            "CMD": "Put",
            "PROGRAM": "blastn",
            "MEGABLAST": "on",
            "DATABASE": "nt",
            "HITLIST_SIZE": blast_setting("BLAST_MAX_HITS"),
            "FILTER": "mL",
            "FORMAT_TYPE": "JSON2",
            "TOOL": "virtool_site",
            "QUERY": sequence,
        },
    )
    info = qblast_info(_ncbi_text(body))
    rid = info.get("RID")
    if not rid or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", rid):
        raise BlastError("NCBI did not accept the BLAST search")
    try:
        rtoe = int(info.get("RTOE", "0"))
    except ValueError:
        rtoe = 0
    # An estimate past the search's time limit would only postpone its end (and not fit the row).
    rtoe = min(max(0, rtoe), blast_setting("BLAST_TIMEOUT_SECONDS"))
    return rid, rtoe


def ncbi_status(rid: str) -> tuple[str, bool | None]:
    """(Status, ThereAreHits) of a search; ThereAreHits is None when NCBI does not say."""
    body = _ncbi_request("GET", params={"CMD": "Get", "FORMAT_OBJECT": "SearchInfo", "RID": rid})
    info = qblast_info(_ncbi_text(body))
    status = info.get("Status", "").upper()
    if status not in NCBI_STATUSES:
        raise BlastError(f"Unexpected NCBI BLAST status {status or 'missing'}")
    there_are_hits = info.get("ThereAreHits")
    return status, (None if there_are_hits is None else there_are_hits.lower() == "yes")


def _read_bounded(response: requests.Response, limit: int, *, started: float) -> bytes:
    """The body, at most `limit` bytes, whole within BLAST_RESPONSE_MAX_SECONDS of `started`.

    `read1` answers what has arrived (never waits to fill a chunk), so the clock is checked
    between the bytes of a reply that trickles in.
    """
    deadline = started + blast_setting("BLAST_RESPONSE_MAX_SECONDS")
    buffer = io.BytesIO()
    try:
        while chunk := response.raw.read1(64 * 1024, decode_content=True):
            buffer.write(chunk)
            if buffer.tell() > limit:
                raise BlastError(f"NCBI BLAST result is larger than {limit} bytes")
            if time.monotonic() > deadline:
                raise BlastTransientError("NCBI answered too slowly")
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
        raise BlastTransientError(f"NCBI request failed: {error}") from error
    return buffer.getvalue()


def blast_zip_extract(data: bytes, rid: str, *, limit: int) -> dict:
    """The BLAST JSON inside NCBI's JSON2 zip: `{RID}.json` lists the files, usually just
    `{RID}_1.json`."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            wanted = f"{rid}_1.json"
            if wanted not in names:
                candidates = [n for n in names if n.endswith(".json") and n != f"{rid}.json"]
                if not candidates:
                    raise BlastError("NCBI BLAST result archive holds no result")
                wanted = candidates[0]
            if archive.getinfo(wanted).file_size > limit:
                raise BlastError(f"NCBI BLAST result is larger than {limit} bytes")
            with archive.open(wanted) as handle:
                content = handle.read(limit + 1)
            if len(content) > limit:
                raise BlastError(f"NCBI BLAST result is larger than {limit} bytes")
            return json.loads(content)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError, RecursionError) as error:
        raise BlastError(f"NCBI returned an unreadable BLAST result: {error}") from error


def ncbi_result(rid: str) -> dict:
    limit = blast_setting("BLAST_RESULT_MAX_BYTES")
    data = _ncbi_request(
        "GET", params={"CMD": "Get", "RID": rid, "FORMAT_TYPE": "JSON2", "FORMAT_OBJECT": "Alignment"}, limit=limit
    )
    result = blast_result_parse(blast_zip_extract(data, rid, limit=limit))
    result["database"] = "nt"
    return result
