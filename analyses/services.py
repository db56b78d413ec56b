"""Writes to samples, analyses, analysis files and NuVs BLASTs.

Analysis files are stored as `analyses/{analysis_id}/{name_on_disk}` (virtool_site.storage):
the object is written before its row commits and deleted again if the row does not; removing
an analysis or sample deletes its stored files after that commits, and a store that cannot be
reached answers 503 and removes nothing.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils import timezone

from analyses import blast as blast_backends
from analyses.models import Analysis, AnalysisFile, NuVsBlast, Sample, Workflow
from analyses.permissions import sample_can_change_rights
from analyses.results import NUVS_INDEX_MAX, results_validate
from analyses.selectors import analysis_running, nuvs_sequence
from indexes.models import Index
from refs.permissions import reference_get_visible
from virtool_site.errors import BadRequest, Conflict, InsufficientRights, NotFound
from virtool_site.files import safe_file_name
from virtool_site.models import Job
from virtool_site.services import job_create
from virtool_site.storage import StorageUnavailable, stored_delete_on_commit, stored_delete_quietly, stored_save
from virtool_site.tasks_queue import task_enqueue

logger = logging.getLogger(__name__)

SAMPLE_FIELDS = ("name", "host", "isolate", "locale", "notes", "library_type")
RIGHT_FIELDS = ("group", "group_read", "group_write", "all_read", "all_write")


# Samples -----------------------------------------------------------------------------------


def _group_lookup(name: str | None) -> Group | None:
    if name is None or name == "":
        return None
    group = Group.objects.filter(name=name).first()
    if group is None:
        raise BadRequest("Group does not exist")
    return group


def sample_create(*, user, name: str, **fields) -> Sample:
    """A new sample owned by `user`. Unknown group: 400; a name in use: 400."""
    values = {key: fields[key] for key in SAMPLE_FIELDS if key in fields}
    values.update({key: fields[key] for key in RIGHT_FIELDS if key in fields and key != "group"})
    group = _group_lookup(fields.get("group"))
    try:
        with transaction.atomic():
            return Sample.objects.create(user=user, name=name, group=group, **values)
    except IntegrityError:
        raise BadRequest("Sample name is already in use")


def sample_update(*, user, sample: Sample, data: dict) -> Sample:
    """Edit a sample (the caller holds the write right). Only the owner and administrators
    change its rights."""
    if any(key in data for key in RIGHT_FIELDS) and not sample_can_change_rights(user=user, sample=sample):
        raise InsufficientRights()
    for key in SAMPLE_FIELDS + RIGHT_FIELDS:
        if key not in data:
            continue
        if key == "group":
            sample.group = _group_lookup(data["group"])
        else:
            setattr(sample, key, data[key])
    try:
        with transaction.atomic():
            sample.save()
    except IntegrityError:
        raise BadRequest("Sample name is already in use")
    return sample


def _analysis_files_remove(analysis_ids: list[str]) -> None:
    """Delete the analyses' stored files once the transaction removing their rows commits; a
    store that cannot be reached fails (503) the whole removal at once."""
    stored_delete_on_commit(prefixes=[f"analyses/{analysis_id}" for analysis_id in analysis_ids], check=True)


def _jobs_cancel(job_ids: list[str]) -> None:
    """Jobs of removed analyses stop: their keys no longer authenticate."""
    Job.objects.filter(id__in=job_ids, state__in=[Job.State.WAITING, Job.State.RUNNING]).update(
        state=Job.State.CANCELLED, updated_at=timezone.now()
    )


def sample_remove(*, sample: Sample) -> None:
    """Remove a sample with its analyses (their files, BLASTs and unfinished jobs too)."""
    with transaction.atomic():
        analyses = list(Analysis.objects.select_for_update().filter(sample=sample).values_list("id", "job_id"))
        analysis_ids = [analysis_id for analysis_id, _ in analyses]
        _jobs_cancel([job_id for _, job_id in analyses if job_id])
        Analysis.objects.filter(id__in=analysis_ids).delete()
        sample.delete()
        _analysis_files_remove(analysis_ids)


# Analyses ----------------------------------------------------------------------------------


def analysis_create(
    *, user, sample: Sample, ref_id: str, workflow: str, subtractions: list[str] | None = None
) -> tuple[Analysis, str]:
    """Start an analysis of the sample on the reference's latest ready index.

    Returns the analysis and its job key: the key is shown once, for the workflow runner to
    authenticate with (`Basic base64("job-{job_id}:{key}")`).
    """
    if workflow not in Workflow.values:
        raise BadRequest("Unsupported workflow")
    try:
        reference = reference_get_visible(user=user, reference_id=ref_id)
    except NotFound:
        raise BadRequest("Reference does not exist")
    index = Index.objects.filter(reference=reference, ready=True).order_by("-version").first()
    if index is None:
        raise BadRequest("No ready index")
    with transaction.atomic():
        analysis = Analysis(
            sample=sample,
            workflow=workflow,
            user=user,
            reference_id=reference.id,
            reference_name=reference.name,
            index_id=index.id,
            index_version=index.version,
            subtractions=list(dict.fromkeys(subtractions or [])),
        )
        job, key = job_create(
            workflow=workflow,
            user=user,
            args={
                "analysis_id": analysis.id,
                "sample_id": sample.id,
                "ref_id": reference.id,
                "index_id": index.id,
                "subtractions": analysis.subtractions,
            },
        )
        analysis.job = job
        analysis.save(force_insert=True)
    return analysis, key


def analysis_finalize(*, analysis_id: str, results) -> Analysis:
    """Store a runner's results (validated against the workflow's shape) and mark the analysis
    ready. 409 when it already has results."""
    with transaction.atomic():
        analysis = Analysis.objects.select_for_update().filter(id=analysis_id).first()
        if analysis is None:
            raise NotFound()
        if analysis.ready:
            raise Conflict("There is already a result for this analysis")
        analysis.results = results_validate(workflow=analysis.workflow, results=results)
        analysis.ready = True
        analysis.updated_at = timezone.now()
        analysis.save(update_fields=["results", "ready", "updated_at"])
    return analysis


def analysis_remove(*, analysis: Analysis) -> None:
    """Remove an analysis with its files and BLASTs; 409 while its job is still running."""
    with transaction.atomic():
        locked = Analysis.objects.select_for_update(of=("self",)).select_related("job").filter(id=analysis.id).first()
        if locked is None:
            raise NotFound()
        if analysis_running(locked):
            raise Conflict("Analysis is still running")
        locked.delete()
        _analysis_files_remove([analysis.id])


# Analysis files ----------------------------------------------------------------------------

FILE_FORMAT_EXTENSIONS = {
    ".sam": "sam",
    ".bam": "bam",
    ".fa": "fasta",
    ".fasta": "fasta",
    ".fna": "fasta",
    ".fq": "fastq",
    ".fastq": "fastq",
    ".csv": "csv",
    ".tsv": "tsv",
    ".json": "json",
}


def analysis_file_format(name: str, file_format: str | None) -> str | None:
    """The given format (400 when unsupported), else one inferred from the name, else None."""
    if file_format is not None:
        if file_format not in AnalysisFile.Format.values:
            raise BadRequest("Unsupported analysis file format")
        return file_format
    lowered = name.lower().removesuffix(".gz")
    for extension, inferred in FILE_FORMAT_EXTENSIONS.items():
        if lowered.endswith(extension):
            return inferred
    return None


def analysis_file_key(analysis_file: AnalysisFile) -> str:
    """The storage key of an analysis file."""
    return f"analyses/{analysis_file.analysis_id}/{analysis_file.name_on_disk}"


def analysis_file_path(analysis_file: AnalysisFile):
    """The file on local storage (the embedded default; tests and tools read it)."""
    from virtool_site.files import data_path

    return data_path("analyses", analysis_file.analysis_id, analysis_file.name_on_disk)


def analysis_file_create(*, analysis: Analysis, name: str, file_format: str | None, uploaded_file) -> AnalysisFile:
    """Keep an uploaded file with the analysis as `{id}-{name}`: the object is stored before
    the row commits and deleted again when it does not. 409 when the analysis already has a
    file of that name."""
    name = safe_file_name(name)
    file_format = analysis_file_format(name, file_format)
    if AnalysisFile.objects.filter(analysis=analysis, name=name).exists():
        raise Conflict("File is already associated with analysis")
    stored_key = None
    try:
        with transaction.atomic():
            # Held until the row commits, as index_file_upload holds its index: a sample or
            # analysis removed meanwhile waits and then removes this file with the rest (or
            # went first, and the runner gets a 404 with nothing stored).
            if not Analysis.objects.select_for_update(no_key=True).filter(id=analysis.id).values_list("id", flat=True):
                raise NotFound()
            analysis_file = AnalysisFile.objects.create(analysis=analysis, name=name, format=file_format)
            analysis_file.name_on_disk = f"{analysis_file.id}-{name}"
            key = analysis_file_key(analysis_file)
            analysis_file.size = stored_save(key, uploaded_file)
            stored_key = key
            analysis_file.save(update_fields=["name_on_disk", "size"])
    except BaseException as error:
        if stored_key:
            stored_delete_quietly([stored_key])
        if isinstance(error, IntegrityError):
            raise Conflict("File is already associated with analysis") from None
        raise
    return analysis_file


# NuVs BLAST --------------------------------------------------------------------------------


def blast_create(*, analysis: Analysis, sequence_index: int, backend: str | None = None) -> NuVsBlast:
    """(Re)start the BLAST of one NuVs contig; an earlier BLAST of it is replaced.

    Errors in the spec's order: 409 "Not a NuVs analysis", 409 "Analysis is still running",
    404 "Sequence not found". The search runs in a Celery task queued on commit.
    """
    if analysis.workflow != Workflow.NUVS:
        raise Conflict("Not a NuVs analysis")
    if not analysis.ready:
        raise Conflict("Analysis is still running")
    # Results stored before contig indexes were bounded may name one no BLAST row can hold.
    if not 0 <= sequence_index <= NUVS_INDEX_MAX or nuvs_sequence(analysis, sequence_index) is None:
        raise NotFound("Sequence not found")
    backend = backend or settings.BLAST_BACKEND
    if backend not in NuVsBlast.Backend.values:
        raise BadRequest(f"Unknown BLAST backend {backend}")
    now = timezone.now()
    with transaction.atomic():
        NuVsBlast.objects.filter(analysis=analysis, sequence_index=sequence_index).delete()
        blast = NuVsBlast.objects.create(
            analysis=analysis,
            sequence_index=sequence_index,
            backend=backend,
            rid=blast_backends.local_rid() if backend == NuVsBlast.Backend.LOCAL else None,
            interval=blast_backends.blast_setting("BLAST_POLL_INTERVAL"),
            last_checked_at=now,
            created_at=now,
            updated_at=now,
        )
        Analysis.objects.filter(id=analysis.id).update(updated_at=now)
        blast_id = blast.id
        # 503 now when the broker is down (the BLAST is rolled back); published on commit.
        # A local search is CPU work for the builds queue; an NCBI one waits on the default queue.
        task = "analyses.blast_run" if backend == NuVsBlast.Backend.LOCAL else "analyses.blast_ncbi_run"
        task_enqueue(task, blast_id, on_error=lambda error: _blast_fail(blast_id, "Task queue unavailable"))
    return blast


def _blast_save(blast_id: str, **fields) -> bool:
    """Update a BLAST unless it has been replaced or removed meanwhile (then False)."""
    now = timezone.now()
    fields.setdefault("last_checked_at", now)
    return NuVsBlast.objects.filter(id=blast_id).update(updated_at=now, **fields) > 0


def _blast_fail(blast_id: str, error) -> None:
    logger.info("BLAST %s failed: %s", blast_id, error)
    _blast_save(blast_id, error=str(error), ready=False)


def blast_advance(*, blast_id: str) -> float | None:
    """Take the next step of a BLAST; returns seconds to wait before the next step, or None
    when the search is over (result stored, error stored, or the BLAST replaced/removed).

    Safe to run again: a finished BLAST is left as it is, a local search is simply redone.
    """
    blast = NuVsBlast.objects.select_related("analysis").filter(id=blast_id).first()
    if blast is None or blast.ready or blast.error:
        return None
    sequence = nuvs_sequence(blast.analysis, blast.sequence_index)
    if sequence is None:
        _blast_fail(blast_id, "Sequence not found")
        return None
    if blast.backend == NuVsBlast.Backend.LOCAL:
        try:
            result = blast_backends.local_search(sequence)
        # OSError: this worker's scratch cannot take the database (full, not writable); the
        # BLAST ends with it rather than staying pending for ever.
        except (blast_backends.BlastError, StorageUnavailable, OSError) as error:
            _blast_fail(blast_id, error)
            return None
        _blast_save(blast_id, ready=True, result=result, error=None)
        return None
    return _ncbi_advance(blast, sequence)


def _ncbi_transient(blast: NuVsBlast, error) -> float | None:
    failures = blast.failures + 1
    if failures >= blast_backends.blast_setting("BLAST_MAX_FAILURES"):
        _blast_fail(blast.id, error)
        return None
    logger.warning("BLAST %s: %s (attempt %s)", blast.id, error, failures)
    if not _blast_save(blast.id, failures=failures):
        return None
    return blast.interval


def _ncbi_advance(blast: NuVsBlast, sequence: str) -> float | None:
    timeout = blast_backends.blast_setting("BLAST_TIMEOUT_SECONDS")
    if timezone.now() - blast.created_at > timedelta(seconds=timeout):
        _blast_fail(blast.id, "BLAST search timed out")
        return None
    if blast.rid is None:
        try:
            rid, rtoe = blast_backends.ncbi_put(sequence)
        except blast_backends.BlastTransientError as error:
            return _ncbi_transient(blast, error)
        except blast_backends.BlastError as error:
            _blast_fail(blast.id, error)
            return None
        if not _blast_save(blast.id, rid=rid, rtoe=rtoe, failures=0):
            return None
        # NCBI's estimate of the search time (RTOE) is when the first check is worth making.
        return max(blast.interval, rtoe)
    try:
        status, there_are_hits = blast_backends.ncbi_status(blast.rid)
        if status == "WAITING":
            interval = blast.interval + blast_backends.blast_setting("BLAST_POLL_INTERVAL_STEP")
            if not _blast_save(blast.id, interval=interval, failures=0):
                return None
            return interval
        if status == "READY":
            result = {"hits": [], "database": "nt"} if there_are_hits is False else blast_backends.ncbi_result(blast.rid)
            _blast_save(blast.id, ready=True, result=result, error=None, failures=0)
            return None
        if status == "FAILED":
            _blast_fail(blast.id, "NCBI BLAST search failed")
        else:
            _blast_fail(blast.id, "NCBI BLAST search expired or is unknown")
        return None
    except blast_backends.BlastTransientError as error:
        return _ncbi_transient(blast, error)
    except blast_backends.BlastError as error:
        _blast_fail(blast.id, error)
        return None


def blast_db_build(*, reference_ids: list[str] | None = None) -> dict:
    """Build the local BLAST database from reference sequences (see analyses.blast)."""
    return blast_backends.blast_db_build(reference_ids=reference_ids)
