"""Index builds: create (manifest, version, tagging unbuilt changes), build the files,
finalize, fail; and the Job API's file upload.

A build is either run by the Celery task `indexes.build_index` or by an external runner that
authenticates with the job's key and uploads the files through the Job API. Both finalize
through `index_finalize`, so the same rules apply to both.

Files: a build writes into a scratch directory of the worker (`index_build_scratch`), stores
each file (`references/{ref}/{index}/{name}`, virtool_site.storage) and removes the scratch;
the rows naming the files are written by the finalize after that. A failed build's stored
files are deleted after its removal commits.
"""

import errno
import gzip
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from history.models import Change
from indexes.models import Index, IndexFile
from indexes.selectors import (
    BOWTIE2_FILE_NAMES,
    INDEX_FILE_STORED_NAMES,
    INDEX_FILE_TYPES,
    consistent_read,
    dead_builds,
    index_build_scratch,
    index_changes_summary,
    index_file_key,
    index_for_job_api,
    index_key_prefix,
    index_missing_files,
    manifest_default_sequences,
    manifest_documents,
    unfinished_build_exists,
)
from indexes.signals import index_ready
from refs.models import OTU
from refs.permissions import reference_get_visible, reference_rights_check
from refs.reference_files import reference_file_chunks
from refs.revisions import reference_revision_bump
from virtool_site.errors import BadRequest, Conflict
from virtool_site.models import Job
from virtool_site.services import job_create, job_update
from virtool_site.storage import (
    StorageUnavailable,
    stored_delete_on_commit,
    stored_delete_prefix,
    stored_delete_quietly,
    stored_save,
    stored_save_path,
)
from virtool_site.tasks_queue import task_enqueue

logger = logging.getLogger(__name__)

RUNNER_CELERY = "celery"
RUNNER_EXTERNAL = "external"
RUNNERS = (RUNNER_CELERY, RUNNER_EXTERNAL)
WORKFLOW = "build_index"

#: gzip levels of the written files. Both are written while bowtie2-build runs and share the
#: machine with it: level 6 costs about ten times the CPU of level 1 (2.7 s against 0.2 s for
#: the JSON of the real plant-virus reference) for files 15-35 % smaller. Level 3 for the JSON
#: (+20 % size, a fifth of level 6's CPU), level 1 for the FASTA (+16 %, a tenth).
JSON_GZIP_LEVEL = 3
FASTA_GZIP_LEVEL = 1
#: Characters of bowtie2-build's stderr kept in the job error.
STDERR_TAIL = 4000
TAG_BATCH_SIZE = 5000


class IndexBuildError(Exception):
    def __init__(self, message: str, *, details: dict | None = None):
        super().__init__(message)
        self.details = details or {}


# Create ------------------------------------------------------------------------------------


def index_create(*, user, reference_id: str, runner: str = RUNNER_CELERY) -> tuple[Index, str | None]:
    """Start a build of the reference's unbuilt changes.

    One transaction: the manifest (every OTU at its current version), the index, its job, and
    the unbuilt changes tagged with the index. Returns the index and, for an external runner,
    the job key (shown once); the Celery task is queued after commit.
    """
    if runner not in RUNNERS:
        raise ValueError(f"unknown runner {runner}")
    with transaction.atomic():
        reference = reference_get_visible(user=user, reference_id=reference_id)
        reference_rights_check(user=user, reference=reference, right="build")
        # Builds of one reference (and every other write to it) are serialized on its row,
        # which the bump locks.
        reference_revision_bump(reference_ids=reference.id)
        for dead in dead_builds(reference.id):
            _index_delete(dead)
        if unfinished_build_exists(reference.id):
            raise Conflict("Index build already in progress")
        # Locking the OTU rows makes the manifest and the tagged changes agree: an edit in
        # flight commits first (and is included) or waits until the build is created.
        otus = list(OTU.objects.select_for_update().filter(reference=reference).values_list("id", "version", "verified"))
        if any(not verified for _, _, verified in otus):
            raise BadRequest("There are unverified OTUs")
        if not Change.objects.filter(reference_id=reference.id, index__isnull=True).exists():
            raise BadRequest("There are no unbuilt changes")
        manifest = {otu_id: version for otu_id, version, _ in otus}
        version = Index.objects.filter(reference=reference, ready=True).count()
        index = Index(reference=reference, version=version, user=user, manifest=manifest, ready=False)
        job, key = job_create(
            workflow=WORKFLOW,
            user=user,
            args={"index_id": index.id, "index_version": version, "ref_id": reference.id, "runner": runner},
        )
        index.job = job
        index.save(force_insert=True)
        if not _unbuilt_changes_tag(index=index, manifest=manifest):
            # Only changes of OTUs created after the manifest was read: nothing to build yet.
            raise BadRequest("There are no unbuilt changes")
        _changes_summary_store(index=index, manifest=manifest)
        if runner == RUNNER_CELERY:
            index_id = index.id
            # 503 now when the broker is down (the build is rolled back); published on commit.
            task_enqueue(
                "indexes.build_index", index_id,
                on_error=lambda error: index_fail(
                    index_id=index_id, error={"message": "Task queue unavailable", "detail": str(error)}
                ),
            )
    return index, (key if runner == RUNNER_EXTERNAL else None)


def _unbuilt_changes_tag(*, index: Index, manifest: dict[str, int]) -> int:
    """Tag the unbuilt changes the manifest covers.

    A change of a manifest OTU is covered up to the OTU's manifest version. A change of an OTU
    not in the manifest is covered when the OTU is gone (it was removed); an OTU created by a
    transaction that committed after the manifest was read keeps its change unbuilt.
    """
    covered: list[str] = []
    absent: list[tuple[str, str]] = []
    unbuilt = Change.objects.filter(reference_id=index.reference_id, index__isnull=True).values_list(
        "id", "otu_id", "otu_version"
    )
    for change_id, otu_id, otu_version in unbuilt.iterator(chunk_size=TAG_BATCH_SIZE):
        if otu_id in manifest:
            if otu_version <= manifest[otu_id]:
                covered.append(change_id)
        else:
            absent.append((change_id, otu_id))
    if absent:
        existing = set(OTU.objects.filter(id__in={otu_id for _, otu_id in absent}).values_list("id", flat=True))
        covered.extend(change_id for change_id, otu_id in absent if otu_id not in existing)
    for start in range(0, len(covered), TAG_BATCH_SIZE):
        Change.objects.filter(id__in=covered[start : start + TAG_BATCH_SIZE]).update(index=index)
    return len(covered)


def _changes_summary_store(*, index: Index, manifest: dict[str, int]) -> None:
    """Write the summary of the index's changes into its row (`Index.changed_otus`, the counts,
    the authors): the tagged changes are the index's for good, so its detail serves it as stored."""
    otus, change_count, authors = index_changes_summary(index_id=index.id, manifest=manifest)
    Index.objects.filter(id=index.id).update(
        changed_otus=orjson.dumps(otus).decode(),
        change_count=change_count,
        modified_otu_count=len(otus),
        contributor_counts=authors,
    )


# Build (the Celery runner) -----------------------------------------------------------------


def index_build(*, index_id: str) -> None:
    """Write the index files and finalize; on any error remove the index and keep the error.

    Safe to run again: a ready index is left alone, an unfinished one is built from scratch.
    """
    with _build_lock(index_id) as acquired:
        if not acquired:
            # A redelivered copy of a build that is still running elsewhere: leave it be.
            logger.warning("index %s is being built by another worker", index_id)
            return
        index = Index.objects.select_related("reference", "job").filter(id=index_id).first()
        if index is None:
            # Removed before the task ran (its reference was deleted): end the job it had.
            _removed_build_end(index_id=index_id)
            return
        if index.ready:
            return
        if index.job is not None and index.job.finished:
            if index.job.state != Job.State.COMPLETE:
                # Cancelled (or failed without cleaning up): nothing will finish this index.
                index_fail(index_id=index.id, error=None)
            return
        if index.job_id:
            job_update(job_id=index.job_id, state=Job.State.RUNNING, progress=0.0)
        try:
            files = index_files_write(index)
            _index_finalize(index_id=index.id, files=files, user=None)
        except Exception as error:  # noqa: BLE001 - every failure removes the build
            logger.exception("index build %s failed", index_id)
            if not index_fail(index_id=index_id, error=error) and not Index.objects.filter(id=index_id).exists():
                # Removed while it was built (its reference was deleted): what it stored after
                # the deletion removed the reference's files goes too, and its job ends.
                stored_delete_quietly(prefixes=[index_key_prefix(index)])
                _removed_build_end(index_id=index_id, job_id=index.job_id)


def _removed_build_end(*, index_id: str, job_id: str | None = None) -> None:
    """End, in error, the unfinished job of a build whose index row is gone."""
    jobs = Job.objects.filter(id=job_id) if job_id else Job.objects.filter(workflow=WORKFLOW, args__index_id=index_id)
    jobs.filter(state__in=(Job.State.WAITING, Job.State.RUNNING)).update(
        state=Job.State.ERROR, error={"message": "The index was removed before its build finished"}, updated_at=timezone.now()
    )


@contextmanager
def _build_lock(index_id: str):
    """A PostgreSQL session advisory lock on the build, so two deliveries never write the
    same directory at once (a build can outlast the broker's visibility timeout). It goes with
    the connection if the worker dies. Other databases run one worker: no lock needed."""
    if connection.vendor != "postgresql":
        yield True
        return
    key = int.from_bytes(hashlib.sha256(f"index_build:{index_id}".encode()).digest()[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


#: Holds the process group id of a running bowtie2-build, in the index directory.
BOWTIE2_GROUP_FILE = "bowtie2-build.pgid"


def bowtie2_orphan_stop(directory: Path, *, timeout: float = 10.0) -> None:
    """Stop a bowtie2-build left running by a worker that died mid-build.

    A killed worker's bowtie2-build outlives it and would go on writing into the directory the
    redelivered build is about to use. Its process group is recorded when it starts; the group
    is killed here unless its leader's pid now belongs to some other program.
    """
    try:
        group = int((directory / BOWTIE2_GROUP_FILE).read_text())
    except (OSError, ValueError):
        return
    try:
        leader = Path(f"/proc/{group}/cmdline").read_bytes()
    except OSError:
        leader = None  # the wrapper is gone; the real builder may still be running in its group
    if leader is not None and b"bowtie2" not in leader:
        return
    try:
        os.killpg(group, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    logger.warning("bowtie2-build process group %s did not stop within %ss", group, timeout)


def bowtie2_tied_to_worker(command: list[str]) -> list[str]:
    """`command` (bowtie2-build) run so that it dies with the worker that starts it.

    A worker killed whole would otherwise leave bowtie2-build running on its own, writing
    into a scratch directory nobody reads, until the task is delivered again on the same
    host. Here a shell leads the build's process group; setpriv gives it a parent-death
    signal (SIGTERM when the worker's thread that started it dies) on which it kills the
    whole group, the wrapper script and the real builder with it. Without setpriv (not
    Linux), the command as it is: redelivery still stops an orphan (bowtie2_orphan_stop).
    """
    executable = shutil.which(command[0])
    if executable is None:
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", command[0])
    if shutil.which("setpriv") is None:
        return command
    return [
        "setpriv", "--pdeathsig", "TERM", "--",
        "sh", "-c", 'trap "kill -KILL 0" TERM; "$@" & wait $!', "sh", executable, *command[1:],
    ]


def bowtie2_group_kill(process: subprocess.Popen) -> None:
    """Stop a bowtie2-build this worker started: its whole process group."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.wait()


def index_files_write(index: Index) -> list[tuple[str, str, int]]:
    """Build the index's files in the worker's scratch directory and store them; returns
    (name, type, size) of each. The scratch directory is gone afterwards, whatever happens.

    What a dead build of this index stored before is deleted first (a store that is down fails
    the build here, before bowtie2-build costs anything).
    """
    directory = index_build_scratch(index)
    if directory.exists():
        bowtie2_orphan_stop(directory)
        shutil.rmtree(directory)
    stored_delete_prefix(index_key_prefix(index))
    directory.mkdir(parents=True)
    try:
        written = index_files_build(index, directory)
        for name, _, _ in written:
            stored_save_path(index_file_key(index, name), directory / name)
        _job_progress(index, 0.95)
        return written
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def index_files_build(index: Index, directory: Path) -> list[tuple[str, str, int]]:
    """Write reference.fa.gz, reference.json.gz and the bowtie2 files into `directory`;
    returns (name, type, size).

    The plain FASTA is written first and bowtie2-build starts on it at once; the gzipped FASTA
    and the reference JSON are written while it runs, so the build costs little more than
    bowtie2-build itself. Every file is streamed: memory does not grow with the reference.
    """
    fasta_path = directory / "reference.fa"
    log_path = directory / "bowtie2-build.log"
    started = time.monotonic()

    with consistent_read(), open(fasta_path, "w", buffering=1 << 20) as handle:
        for sequence_id, sequence in manifest_default_sequences(index):
            handle.write(f">{sequence_id}\n{sequence}\n")
    _job_progress(index, 0.1)
    fasta_written = time.monotonic()

    command = [
        settings.BOWTIE2_BUILD_PATH,
        "--threads",
        str(settings.BOWTIE2_BUILD_THREADS),
        "-q",
        "-f",
        str(fasta_path),
        str(directory / "reference"),
    ]
    with open(log_path, "wb") as log:
        try:
            # Its own process group, so that the wrapper script and the real builder it starts
            # can be stopped together (see bowtie2_orphan_stop); it dies with this worker.
            process = subprocess.Popen(
                bowtie2_tied_to_worker(command), stdout=subprocess.DEVNULL, stderr=log, cwd=directory,
                start_new_session=True,
            )
        except OSError as error:
            raise IndexBuildError(f"Could not run bowtie2-build: {error}", details={"command": command}) from error
        (directory / BOWTIE2_GROUP_FILE).write_text(str(process.pid))
        try:
            gzip_copy(fasta_path, directory / "reference.fa.gz", level=FASTA_GZIP_LEVEL)
            reference_json_write(index, directory / "reference.json.gz")
            _job_progress(index, 0.4)
            side_files_written = time.monotonic()
            returncode = process.wait()
            bowtie2_done = time.monotonic()
        finally:
            if process.poll() is None:
                bowtie2_group_kill(process)
    if returncode != 0:
        stderr = log_path.read_bytes()[-STDERR_TAIL:].decode("utf-8", errors="replace")
        raise IndexBuildError(
            f"bowtie2-build failed with exit status {returncode}", details={"returncode": returncode, "stderr": stderr}
        )
    fasta_path.unlink()
    log_path.unlink()
    (directory / BOWTIE2_GROUP_FILE).unlink(missing_ok=True)
    _job_progress(index, 0.9)
    logger.info(
        "index %s: FASTA %.2fs; bowtie2-build %.2fs, during which reference.fa.gz and "
        "reference.json.gz took %.2fs",
        index.id,
        fasta_written - started,
        bowtie2_done - fasta_written,
        side_files_written - fasta_written,
    )

    files = [("reference.json.gz", IndexFile.Type.JSON), ("reference.fa.gz", IndexFile.Type.FASTA)]
    files += [(name, IndexFile.Type.BOWTIE2) for name in BOWTIE2_FILE_NAMES]
    written = []
    for name, file_type in files:
        path = directory / name
        if not path.exists():
            raise IndexBuildError(f"bowtie2-build did not write {name}")
        written.append((name, str(file_type), path.stat().st_size))
    return written


def reference_json_write(index: Index, path: Path, *, level: int = JSON_GZIP_LEVEL) -> None:
    """reference.json.gz of the manifest state, streamed OTU by OTU."""
    reference = index.reference
    with consistent_read(), open(path, "wb") as raw:
        with gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=level, mtime=0) as gz:
            for chunk in reference_file_chunks(
                name=reference.name,
                organism=reference.organism,
                data_type=reference.data_type,
                created_at=index.created_at,
                otu_documents=manifest_documents(index),
            ):
                gz.write(chunk)


def gzip_copy(source: Path, destination: Path, *, level: int = FASTA_GZIP_LEVEL) -> None:
    with open(source, "rb") as src, open(destination, "wb") as raw:
        with gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=level, mtime=0) as gz:
            shutil.copyfileobj(src, gz, 1 << 20)


def _job_progress(index: Index, progress: float) -> None:
    if index.job_id:
        job_update(job_id=index.job_id, progress=progress)


# Finalize and fail -------------------------------------------------------------------------


def index_finalize(*, index_id: str, user) -> Index:
    """Finalize an index whose files were uploaded through the Job API (PATCH /api/indexes/{id})."""
    return _index_finalize(index_id=index_id, files=None, user=user)


def _index_revision_bump(index_id: str) -> None:
    """Raise the revision of the index's reference: the first lock of a write to an index."""
    reference_id = Index.objects.filter(id=index_id).values_list("reference_id", flat=True).first()
    if reference_id is not None:
        reference_revision_bump(reference_ids=reference_id)


def _index_finalize(*, index_id: str, files: list[tuple[str, str, int]] | None, user) -> Index:
    with transaction.atomic():
        _index_revision_bump(index_id)
        if user is not None:
            index = index_for_job_api(user=user, index_id=index_id, lock=True)
        else:
            index = Index.objects.select_for_update().get(id=index_id)
        if index.ready:
            raise Conflict("Index is already finalized")
        if files is not None:
            IndexFile.objects.filter(index=index).delete()
            IndexFile.objects.bulk_create(
                IndexFile(index=index, name=name, type=file_type, size=size) for name, file_type, size in files
            )
        missing = index_missing_files(index)
        if missing:
            raise Conflict(f"Index requires that all files have been uploaded. Missing files: {', '.join(missing)}")
        job = Job.objects.select_for_update().filter(id=index.job_id).first() if index.job_id else None
        if job is not None and job.state == Job.State.CANCELLED:
            raise Conflict("The index build job was cancelled")
        index.ready = True
        index.has_files = True
        index.save(update_fields=["ready", "has_files"])
        by_version: dict[int, list[str]] = {}
        for otu_id, version in index.manifest.items():
            by_version.setdefault(version, []).append(otu_id)
        for version, otu_ids in by_version.items():
            OTU.objects.filter(reference_id=index.reference_id, id__in=otu_ids).update(last_indexed_version=version)
        if job is not None:
            job.state = Job.State.COMPLETE
            job.progress = 1.0
            job.error = None
            job.updated_at = timezone.now()
            job.save(update_fields=["state", "progress", "error", "updated_at"])
        transaction.on_commit(lambda: index_ready.send(sender=Index, index=index), robust=True)
    return index


def index_fail(*, index_id: str, error) -> bool:
    """Remove a failed build and its files, return its changes to unbuilt, keep the error.
    False when there is no unready index `index_id` (gone already, or ready)."""
    if isinstance(error, IndexBuildError):
        error = {"type": type(error).__name__, "message": str(error), **error.details}
    elif isinstance(error, StorageUnavailable):
        error = {"type": type(error).__name__, "message": error.message, "detail": error.detail}
    elif isinstance(error, BaseException):
        error = {"type": type(error).__name__, "message": str(error)}
    with transaction.atomic():
        _index_revision_bump(index_id)
        index = Index.objects.select_for_update().filter(id=index_id).first()
        if index is None or index.ready:
            return False
        job = Job.objects.select_for_update().filter(id=index.job_id).first() if index.job_id else None
        _index_delete(index)
        if job is not None and job.state != Job.State.CANCELLED:
            job.state = Job.State.ERROR
            job.error = error or job.error or {"message": "Index build failed"}
            job.updated_at = timezone.now()
            job.save(update_fields=["state", "error", "updated_at"])
    return True


def _index_delete(index: Index) -> None:
    """Delete an unready index in the caller's transaction; its stored files go after commit
    (best effort: what a store that is down keeps, the storage sweep removes later)."""
    prefix = index_key_prefix(index)
    Change.objects.filter(index=index).update(index=None)
    index.delete()
    stored_delete_on_commit(prefixes=[prefix])


# Job API: file upload ----------------------------------------------------------------------


def index_file_upload(*, user, index_id: str, name: str, uploaded_file) -> IndexFile:
    """Keep a file a runner built for the index: the object is stored before its row
    commits, and deleted again when the row does not commit."""
    file_type = INDEX_FILE_TYPES.get(name)
    if file_type is None:
        raise BadRequest("Unsupported index file name")
    name = INDEX_FILE_STORED_NAMES.get(name, name)
    stored_key = None
    try:
        # No revision bump: the upload locks only its index row (and adds a file row), so it
        # cannot deadlock with a writer of the reference; the bump's lock on the reference would
        # make curators wait for the whole upload.
        with transaction.atomic():
            index = index_for_job_api(user=user, index_id=index_id, lock=True)
            if index.ready:
                raise Conflict("Index is already finalized")
            if IndexFile.objects.filter(index=index, name=name).exists():
                raise Conflict("File name already exists")
            key = index_file_key(index, name)
            size = stored_save(key, uploaded_file)
            stored_key = key
            index_file = IndexFile.objects.create(index=index, name=name, type=file_type, size=size)
    except BaseException:
        if stored_key:
            stored_delete_quietly([stored_key])
        raise
    return index_file
