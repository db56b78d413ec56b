"""Management commands (import_reference, export_reference, clone_reference,
delete_reference) and the demo reference loaded by setup_demo."""

import gzip
import io
import json

import pytest
from django.core.management import CommandError, call_command

from history.models import Change
from refs.demo import DEMO_FILE, DEMO_NAME, demo_reference_load
from refs.models import OTU, Reference, Sequence
from refs.tests.transfer_factories import file_otu, reference_file, write_gz

pytestmark = pytest.mark.django_db


def run(*args, **options) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def imported(admin_user, tmp_path) -> Reference:
    path = reference_file(tmp_path / "r.json.gz", [file_otu(isolates=2, sequences=2) for _ in range(4)])
    run("import_reference", str(path), "--name", "From disk", "--no-progress")
    return Reference.objects.get(name="From disk")


def test_import_reference_imports_a_file_with_progress_bars(admin_user, tmp_path):
    path = reference_file(tmp_path / "r.json.gz", [file_otu() for _ in range(3)])
    out, err = run("import_reference", str(path), "--name", "From disk", "--user", admin_user.username)
    reference = Reference.objects.get(name="From disk")
    assert f"Imported 3 OTUs into From disk ({reference.id})" in out
    assert "write_otus" in err and "100%" in err
    assert reference.user == admin_user
    assert reference.imported_from["name"] == "r.json.gz"
    assert Change.objects.filter(reference_id=reference.id, method_name="import").count() == 3


def test_import_reference_acts_as_the_first_administrator_by_default(admin_user, imported):
    assert imported.user == admin_user


def test_import_reference_of_a_bad_file_fails_and_writes_no_otu(admin_user, tmp_path):
    path = reference_file(tmp_path / "r.json.gz", [file_otu("Twin virus"), file_otu("Twin virus")])
    with pytest.raises(CommandError, match="Duplicate OTU names found"):
        run("import_reference", str(path), "--name", "Bad", "--no-progress")
    assert not OTU.objects.filter(reference__name="Bad").exists()
    assert not Reference.all_objects.filter(name="Bad").exists()


def test_import_reference_of_a_missing_file_fails(admin_user, tmp_path):
    with pytest.raises(CommandError, match="File not found"):
        run("import_reference", str(tmp_path / "missing.json.gz"), "--name", "Nothing", "--no-progress")


def test_import_reference_without_any_administrator_needs_a_user(db, tmp_path):
    with pytest.raises(CommandError, match="pass --user"):
        run("import_reference", str(reference_file(tmp_path / "r.json.gz")), "--name", "X", "--no-progress")
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        run("import_reference", str(reference_file(tmp_path / "r.json.gz")), "--name", "X", "--user", "ghost")


@pytest.mark.parametrize("name, message", [("", "may not be blank"), ("   ", "may not be blank"),
                                           ("x" * 256, "no more than 255 characters")],
                         ids=["empty", "blank", "too_long"])
def test_import_and_clone_reference_refuse_a_bad_name_and_create_nothing(imported, tmp_path, name, message):
    path = reference_file(tmp_path / "again.json.gz", [file_otu()])
    before = Reference.all_objects.count()
    with pytest.raises(CommandError, match=message):
        run("import_reference", str(path), "--name", name, "--no-progress")
    with pytest.raises(CommandError, match=message):
        run("clone_reference", imported.id, "--name", name, "--no-progress")
    assert Reference.all_objects.count() == before


def test_export_reference_to_a_missing_directory_or_a_directory_fails(imported, tmp_path):
    with pytest.raises(CommandError, match="Cannot write"):
        run("export_reference", imported.id, str(tmp_path / "missing" / "x.json.gz"), "--no-progress")
    with pytest.raises(CommandError, match="Cannot write"):
        run("export_reference", imported.id, str(tmp_path), "--no-progress")
    assert not list(tmp_path.rglob(".*.part"))


def test_import_reference_of_a_file_that_is_not_gzip_fails_and_writes_nothing(admin_user, tmp_path):
    path = tmp_path / "plain.json.gz"
    path.write_bytes(b'{"otus": []}')
    with pytest.raises(CommandError, match="not gzip-compressed"):
        run("import_reference", str(path), "--name", "Plain", "--no-progress")
    assert not Reference.all_objects.filter(name="Plain").exists()


def test_export_reference_writes_the_current_otus(imported, tmp_path):
    path = tmp_path / "out" / "export.json.gz"
    path.parent.mkdir()
    out, _ = run("export_reference", imported.id, str(path), "--no-progress")
    assert "Exported 4 OTUs (unbuilt" in out
    document = json.loads(gzip.decompress(path.read_bytes()))
    assert len(document["otus"]) == 4 and document["name"] == "From disk"
    assert not list(path.parent.glob(".*.part"))


def test_export_reference_built_scope(imported, tmp_path):
    out, _ = run("export_reference", imported.id, str(tmp_path / "b.json.gz"), "--scope", "built", "--no-progress")
    assert "Exported 0 OTUs (built" in out


def test_export_reference_of_an_unknown_reference_fails(db, tmp_path):
    with pytest.raises(CommandError, match="No reference nothere1"):
        run("export_reference", "nothere1", str(tmp_path / "x.json.gz"))


def test_clone_reference_copies_every_otu(imported, admin_user):
    out, err = run("clone_reference", imported.id, "--name", "Copy")
    copy = Reference.objects.get(name="Copy")
    assert f"Cloned 4 OTUs into Copy ({copy.id})" in out and "copy_otus" in err
    assert copy.cloned_from == {"id": imported.id, "name": "From disk"}
    assert Change.objects.filter(reference_id=copy.id, method_name="clone").count() == 4
    assert copy.process.type == "clone_reference" and copy.process.complete
    assert copy.process.context["ref_id"] == copy.id


def test_delete_reference_removes_everything(imported):
    sequences = Sequence.objects.filter(otu__reference=imported).count()
    assert sequences == 16
    out, err = run("delete_reference", imported.id, "--noinput")
    assert f"Deleted From disk ({imported.id})" in out and "delete_otus" in err
    assert not Reference.all_objects.filter(id=imported.id).exists()
    assert not Sequence.objects.filter(otu__reference_id=imported.id).exists()
    assert not Change.objects.filter(reference_id=imported.id).exists()


def test_delete_reference_finishes_a_deletion_whose_task_never_ran(imported, admin_user):
    from refs.services import reference_delete
    from virtool_site.services import process_fail

    process = reference_delete(user=admin_user, reference=imported, queue=False)
    process_fail(process_id=process.id, error="Task queue unavailable")
    assert not Reference.objects.filter(id=imported.id).exists(), "hidden at once"

    out, _ = run("delete_reference", imported.id, "--noinput")
    assert f"Deleted From disk ({imported.id})" in out
    assert not Reference.all_objects.filter(id=imported.id).exists()
    assert not Sequence.objects.filter(otu__reference_id=imported.id).exists()


def test_delete_reference_asks_first(imported, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    with pytest.raises(CommandError, match="cancelled"):
        run("delete_reference", imported.id)
    assert Reference.objects.filter(id=imported.id).exists()


# Demo --------------------------------------------------------------------------------------


def test_the_demo_file_is_a_small_subset_of_the_real_reference(real_reference_path):
    assert DEMO_FILE.stat().st_size < 300 * 1024
    demo = json.loads(gzip.decompress(DEMO_FILE.read_bytes()))
    with gzip.open(real_reference_path) as handle:
        real = {o["_id"]: o for o in json.load(handle)["otus"]}
    assert 25 <= len(demo["otus"]) <= 40
    for otu in demo["otus"]:
        assert real[otu["_id"]] == otu


def test_demo_reference_loads_once(admin_user):
    reference = demo_reference_load(user=admin_user)
    assert reference is not None and reference.name == DEMO_NAME and reference.public
    assert OTU.objects.filter(reference=reference).count() == 33
    assert Change.objects.filter(reference_id=reference.id, method_name="import").count() == 33
    assert reference.process.complete and reference.process.error is None
    assert demo_reference_load(user=admin_user) is None
    assert Reference.objects.filter(name=DEMO_NAME).count() == 1


def test_setup_demo_loads_the_demo_reference_once(db, monkeypatch):
    monkeypatch.setenv("ADMIN_PASSWORD", "demo-password-123")
    out, _ = run("setup_demo")
    assert "Demo reference loaded: Plant Viruses (demo)" in out
    run("setup_demo")
    assert Reference.objects.filter(name=DEMO_NAME).count() == 1
    assert OTU.objects.filter(reference__name=DEMO_NAME).count() == 33


def test_a_demo_file_problem_is_reported(admin_user, tmp_path, monkeypatch):
    from refs import demo
    from refs.processes.common import TransferError

    monkeypatch.setattr(demo, "DEMO_FILE", write_gz(tmp_path / "broken.json.gz", "{"))
    with pytest.raises(TransferError, match="not valid JSON"):
        demo.demo_reference_load(user=admin_user)
