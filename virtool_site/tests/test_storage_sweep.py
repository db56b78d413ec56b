"""The storage sweep: stored files no row names (what a crash or an outer rollback leaves
between an object's write and its row's commit) are removed once old enough; everything a row
names, and every file of an unfinished build, is kept. Local files and a real S3 server."""

import io
import os
import time
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction

from analyses.models import AnalysisFile
from analyses.tests.factories import AnalysisFactory, SampleFactory
from indexes.models import IndexFile
from indexes.tests.factories import IndexFactory, ReferenceFactory
from virtool_site import storage
from virtool_site.models import Upload
from virtool_site.services import upload_create
from virtool_site.storage_sweep import scratch_stale_remove, storage_orphans_remove
from virtool_site.tasks import storage_sweep

pytestmark = pytest.mark.django_db

NOW = timedelta(0)


def put(key: str, data: bytes = b"x") -> str:
    storage.stored_save(key, io.BytesIO(data))
    return key


def all_keys() -> set[str]:
    return {key for prefix in ("uploads", "references", "analyses", "blast") for key, _ in storage.stored_objects(prefix)}


@pytest.fixture
def world(user, storage_backend):
    """Stored files, some named by rows and some not; (kept, orphans)."""
    kept, orphans = set(), set()

    live = upload_create(user=user, name="a.json.gz", upload_type="reference", uploaded_file=SimpleUploadedFile("a", b"1"))
    kept.add(f"uploads/{live.id}")
    # An upload whose object was written but whose row a caller's transaction rolled back.
    with pytest.raises(RuntimeError), transaction.atomic():
        lost = upload_create(user=user, name="b.json.gz", upload_type="reference", uploaded_file=SimpleUploadedFile("b", b"2"))
        raise RuntimeError("the caller fails after the upload")
    assert not Upload.objects.filter(id=lost.id).exists()
    orphans.add(f"uploads/{lost.id}")

    reference = ReferenceFactory(user=user)
    ready = IndexFactory(reference=reference, ready=True)
    IndexFile.objects.create(index=ready, name="reference.fa.gz", type="fasta", size=1)
    kept.add(put(f"references/{reference.id}/{ready.id}/reference.fa.gz"))
    orphans.add(put(f"references/{reference.id}/{ready.id}/reference.1.bt2"))  # no row names it
    building = IndexFactory(reference=reference, ready=False)
    kept.add(put(f"references/{reference.id}/{building.id}/reference.1.bt2"))  # an unfinished build's
    orphans.add(put(f"references/{reference.id}/gone0001/reference.fa.gz"))  # an index removed since

    analysis = AnalysisFactory(sample=SampleFactory(user=user), ready=True)
    AnalysisFile.objects.create(analysis=analysis, name="a.fa", name_on_disk="1-a.fa")
    kept.add(put(f"analyses/{analysis.id}/1-a.fa"))
    orphans.add(put(f"analyses/{analysis.id}/2-b.fa"))

    kept.add(put("blast/CURRENT", b"db-current1"))
    kept.add(put("blast/db-current1/references.nsq"))
    orphans.add(put("blast/db-failed01/references.nsq"))  # a build that died before its pointer
    assert all_keys() == kept | orphans
    return kept, orphans


def test_fresh_files_are_left_whatever_names_them(world):
    kept, orphans = world
    assert storage_orphans_remove() == []
    assert all_keys() == kept | orphans


def test_old_files_no_row_names_are_removed_and_the_rest_kept(world):
    kept, orphans = world
    assert sorted(storage_orphans_remove(older_than=NOW, dry_run=True)) == sorted(orphans)
    assert all_keys() == kept | orphans
    assert sorted(storage_orphans_remove(older_than=NOW)) == sorted(orphans)
    assert all_keys() == kept


def test_the_command_and_the_task_sweep(world, capsys):
    kept, orphans = world
    call_command("storage_sweep", "--age", "0", "--dry-run")
    assert all_keys() == kept | orphans
    call_command("storage_sweep", "--age", "0")
    output = capsys.readouterr().out
    assert f"Removed {len(orphans)} stored files" in output
    assert all_keys() == kept
    assert storage_sweep.delay().get() == 0


@pytest.mark.parametrize("age", ["-1", str(10**20)], ids=["negative", "overflowing"])
def test_the_command_refuses_an_age_out_of_range_and_removes_nothing(world, age):
    from django.core.management import CommandError

    kept, orphans = world
    with pytest.raises(CommandError, match="--age must be between 0 and"):
        call_command("storage_sweep", "--age", age)
    assert all_keys() == kept | orphans


def test_stale_scratch_of_this_host_is_removed(data_dir):
    old, fresh, cache = data_dir / "tmp" / "builds" / "deadbeef", data_dir / "tmp" / "builds" / "running1", data_dir / "tmp" / "blast" / "db-abc"
    for directory in (old, fresh, cache):
        directory.mkdir(parents=True)
        (directory / "file").write_text("x")
    past = time.time() - 7 * 3600
    os.utime(old, (past, past))
    os.utime(cache, (past, past))
    assert scratch_stale_remove() == [old]
    assert fresh.exists() and cache.exists() and not old.exists()
