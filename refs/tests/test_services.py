"""The OTU services as every caller (REST, admin, commands) uses them."""

import threading

import pytest
from django.db import IntegrityError, connection

from history.models import Change
from history.revert import change_revert
from history.selectors import otu_document_at_version
from refs import services
from refs.documents import otu_document_load
from refs.models import OTU, Isolate, Sequence
from refs.tests.factories import ReferenceFactory
from virtool_site.errors import BadRequest, Conflict, InsufficientRights, NotFound


@pytest.mark.django_db
def test_an_otu_change_and_its_change_row_commit_together(owner, abtv):
    Change.objects.create(
        id=f"{abtv.id}.1", method_name="edit", otu_id=abtv.id, otu_name=abtv.name, otu_version=1, reference_id=abtv.reference_id
    )
    with pytest.raises(IntegrityError):
        services.isolate_add(user=owner, otu_id=abtv.id, source_type="isolate", source_name="A")
    assert not Isolate.objects.filter(otu_id=abtv.id).exists()
    assert OTU.objects.get(id=abtv.id).version == 0


@pytest.mark.django_db
def test_services_check_visibility_and_rights(owner, stranger, reference, abtv, user_factory):
    with pytest.raises(NotFound):
        services.otu_edit(user=stranger, otu_id=abtv.id, name="X")
    reader = user_factory()
    services.reference_user_add(user=owner, reference=reference, user_id=reader.username, rights={"build": True})
    with pytest.raises(InsufficientRights):
        services.otu_remove(user=reader, otu_id=abtv.id)
    with pytest.raises(InsufficientRights):
        services.otu_create(user=reader, reference=reference, name="X")
    with pytest.raises(InsufficientRights):
        services.reference_edit(user=reader, reference=reference, name="X")


@pytest.mark.django_db
def test_administrators_may_change_any_reference(admin_user, abtv):
    services.otu_edit(user=admin_user, otu_id=abtv.id, name="Administered")
    assert Change.objects.get(id=f"{abtv.id}.1").user == admin_user


@pytest.mark.django_db
def test_verified_flag_follows_the_issues(owner, abtv):
    isolate = services.isolate_add(user=owner, otu_id=abtv.id, source_type="isolate", source_name="A")
    assert OTU.objects.get(id=abtv.id).verified is False
    sequence = services.sequence_create(
        user=owner, otu_id=abtv.id, isolate_id=isolate.isolate_id, accession="A1", definition="d", sequence="ACGT"
    )
    assert OTU.objects.get(id=abtv.id).verified is True
    second = services.isolate_add(user=owner, otu_id=abtv.id, source_type="isolate", source_name="B")
    assert OTU.objects.get(id=abtv.id).verified is False
    services.isolate_remove(user=owner, otu_id=abtv.id, isolate_id=second.isolate_id)
    assert OTU.objects.get(id=abtv.id).verified is True
    services.sequence_remove(user=owner, otu_id=abtv.id, isolate_id=isolate.isolate_id, sequence_id=sequence.id)
    assert OTU.objects.get(id=abtv.id).verified is False
    # The stored flag and the recorded document agree.
    change = Change.objects.filter(otu_id=abtv.id).order_by("-otu_version").first()
    assert otu_document_load(abtv.id)["verified"] is False
    assert ["change", "verified", [True, False]] in change.diff


@pytest.mark.django_db
def test_one_default_isolate_whatever_the_path(owner, abtv):
    ids = [
        services.isolate_add(user=owner, otu_id=abtv.id, source_type="isolate", source_name=n, default=True).isolate_id
        for n in "ABC"
    ]
    services.isolate_set_default(user=owner, otu_id=abtv.id, isolate_id=ids[0])
    services.isolate_remove(user=owner, otu_id=abtv.id, isolate_id=ids[0])
    defaults = list(Isolate.objects.filter(otu_id=abtv.id, default=True).values_list("isolate_id", flat=True))
    assert defaults == [ids[1]]


@pytest.mark.django_db
def test_sequence_services_refuse_bad_nucleotides_and_segments(owner, abtv):
    isolate = services.isolate_add(user=owner, otu_id=abtv.id)
    with pytest.raises(BadRequest, match="IUPAC"):
        services.sequence_create(user=owner, otu_id=abtv.id, isolate_id=isolate.isolate_id, accession="A", sequence="AXG")
    with pytest.raises(BadRequest, match="Segment does not exist"):
        services.sequence_create(
            user=owner, otu_id=abtv.id, isolate_id=isolate.isolate_id, accession="A", sequence="ACG", segment="RNA1"
        )


def test_otu_edit_description_wording():
    describe = services.otu_edit_description
    assert describe(name=None, abbreviation="", old_abbreviation="ABTV", schema_changed=False) == "Removed abbreviation ABTV"
    assert describe(name="Foo", abbreviation="", old_abbreviation="ABTV", schema_changed=False) == (
        "Changed name to Foo and removed abbreviation ABTV"
    )
    assert describe(name=None, abbreviation="NEW", old_abbreviation="", schema_changed=True) == (
        "Added abbreviation NEW and modified schema"
    )
    assert describe(name=None, abbreviation=None, old_abbreviation="X", schema_changed=True) == "Modified schema"


@pytest.mark.django_db
def test_document_restore_writes_a_document_back_exactly(owner, full_otu):
    document = otu_document_load(full_otu.id)
    first = Isolate.objects.filter(otu_id=full_otu.id).order_by("position").first()
    services.isolate_remove(user=owner, otu_id=full_otu.id, isolate_id=first.isolate_id)
    services.otu_edit(user=owner, otu_id=full_otu.id, name="Changed", schema=[{"name": "S"}])
    services.otu_document_restore(document=document)
    assert otu_document_load(full_otu.id) == document
    assert Sequence.objects.filter(otu_id=full_otu.id).count() == 4


@pytest.mark.django_db
def test_document_restore_refuses_a_name_taken_meanwhile(owner, reference, abtv):
    document = otu_document_load(abtv.id)
    services.otu_edit(user=owner, otu_id=abtv.id, name="Elsewhere", abbreviation="")
    services.otu_create(user=owner, reference=reference, name="Abaca bunchy top virus", abbreviation="ABTV")
    with pytest.raises(Conflict, match="Name and abbreviation already exist"):
        services.otu_document_restore(document=document)


@pytest.mark.django_db
def test_history_replays_to_every_earlier_version(owner, full_otu):
    """Each recorded diff leads exactly from the version before it."""
    documents = {}
    current = otu_document_load(full_otu.id)
    for version in range(current["version"], -1, -1):
        documents[version] = otu_document_at_version(otu_id=full_otu.id, version=version, current=current)
    assert documents[0] == Change.objects.get(id=f"{full_otu.id}.0").diff
    assert [len(documents[v]["isolates"]) for v in range(7)] == [0, 1, 1, 1, 2, 2, 2]


@pytest.mark.django_db
def test_reference_edit_cleans_source_types(owner, reference):
    services.reference_edit(user=owner, reference=reference, source_types=["Clone ", "clone", "", "isolate"])
    reference.refresh_from_db()
    assert reference.source_types == ["clone", "isolate"]


@pytest.mark.django_db
def test_factories_build_a_reference_the_owner_may_change():
    reference = ReferenceFactory()
    otu = services.otu_create(user=reference.user, reference=reference, name="Factory virus")
    assert otu.reference == reference


# Concurrency ------------------------------------------------------------------------------------


def run_concurrently(count, work):
    """Run `work(n)` in `count` threads started together; returns the exceptions raised."""
    barrier = threading.Barrier(count)
    errors = []

    def target(n):
        try:
            barrier.wait()
            work(n)
        except Exception as error:  # noqa: BLE001 - reported to the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("needs_postgresql")
def test_concurrent_edits_of_one_otu_lose_no_update(owner, reference):
    otu = services.otu_create(user=owner, reference=reference, name="Contended virus")
    isolate = services.isolate_add(user=owner, otu_id=otu.id, source_type="isolate", source_name="base")

    def work(n):
        for i in range(3):
            services.sequence_create(
                user=owner, otu_id=otu.id, isolate_id=isolate.isolate_id, accession=f"T{n}-{i}", definition="d", sequence="ACGT"
            )
            services.isolate_add(user=owner, otu_id=otu.id, source_type="strain", source_name=f"{n}-{i}")

    errors = run_concurrently(4, work)
    assert errors == []
    otu.refresh_from_db()
    assert otu.version == 1 + 4 * 3 * 2
    versions = sorted(Change.objects.filter(otu_id=otu.id).values_list("otu_version", flat=True))
    assert versions == list(range(otu.version + 1))
    assert Sequence.objects.filter(otu=otu).count() == 12
    assert Isolate.objects.filter(otu=otu).count() == 13
    # Every diff chains onto the one before it: replaying back reaches the created document.
    current = otu_document_load(otu.id)
    assert otu_document_at_version(otu_id=otu.id, version=0, current=current) == Change.objects.get(id=f"{otu.id}.0").diff


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("needs_postgresql")
def test_concurrent_reverts_and_edits_stay_consistent(owner, reference):
    otu = services.otu_create(user=owner, reference=reference, name="Reverted virus")
    for n in range(4):
        services.isolate_add(user=owner, otu_id=otu.id, source_type="isolate", source_name=str(n))
    expected = otu_document_at_version(otu_id=otu.id, version=2, current=otu_document_load(otu.id))

    def work(n):
        if n % 2:
            try:
                change_revert(user=owner, change_id=f"{otu.id}.3")
            except NotFound:
                pass  # the other thread reverted it first
        else:
            services.otu_edit(user=owner, otu_id=otu.id, abbreviation=f"R{n}")

    assert run_concurrently(4, work) == []
    document = otu_document_load(otu.id)
    versions = sorted(Change.objects.filter(otu_id=otu.id).values_list("otu_version", flat=True))
    assert versions == list(range(document["version"] + 1))
    assert otu_document_at_version(otu_id=otu.id, version=2, current=document) == expected


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("needs_postgresql")
def test_concurrent_creates_of_one_name_give_one_otu_and_virtool_messages(owner, reference):
    def work(n):
        services.otu_create(user=owner, reference=reference, name="Raced virus", abbreviation="RV")

    errors = run_concurrently(3, work)
    assert OTU.objects.filter(reference=reference).count() == 1
    assert len(errors) == 2
    assert [(type(e).__name__, str(e)) for e in errors] == [("BadRequest", "Name and abbreviation already exist")] * 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("needs_postgresql")
def test_edits_reverts_and_builds_of_one_reference_queue_without_deadlock(owner, reference):
    """Every writer takes the reference's revision lock first (refs.revisions), then OTU rows:
    edits of different OTUs, reverts and an index build, all at once, finish without a
    deadlock, and the revision counts exactly the writes that committed."""
    from indexes.services import RUNNER_EXTERNAL, index_create
    from refs.models import Reference

    otus = []
    for n in range(3):
        otu = services.otu_create(user=owner, reference=reference, name=f"Busy virus {n}")
        isolate = services.isolate_add(user=owner, otu_id=otu.id, source_type="isolate", source_name="base")
        services.sequence_create(user=owner, otu_id=otu.id, isolate_id=isolate.isolate_id, accession=f"B{n}", sequence="ACGT")
        otus.append(otu)
    start = Reference.objects.values_list("revision", flat=True).get(id=reference.id)
    committed = []

    def work(n):
        if n < 3:
            for i in range(4):
                services.otu_edit(user=owner, otu_id=otus[n].id, abbreviation=f"B{n}{i}")
                committed.append("edit")
            try:
                change_revert(user=owner, change_id=f"{otus[n].id}.5")
                committed.append("revert")
            except Conflict:
                pass  # the build took the change first: "Not unbuilt", rolled back
        else:
            try:
                index_create(user=owner, reference_id=reference.id, runner=RUNNER_EXTERNAL)
                committed.append("build")
            except (BadRequest, Conflict):
                pass  # nothing left unbuilt, or already building: rolled back, no bump

    assert run_concurrently(4, work) == []
    assert Reference.objects.values_list("revision", flat=True).get(id=reference.id) - start == len(committed)


# A reference deleted while a writer waits for its revision lock ------------------------------


def _delete_reference_while_a_writer_waits(reference, *, hard: bool, write):
    """Another connection bumps the reference's revision (taking its row lock), deletes it
    (`hard`: the row itself, as the deletion task's last step; else marks it deleted, as
    DELETE /api/refs does) and commits only once `write`, run here, waits on that lock; so
    `write` saw the reference before the delete and takes the lock after it."""
    from django.db import transaction

    from refs.models import Reference
    from refs.revisions import reference_revision_bump

    locked, errors = threading.Event(), []

    def deleter():
        try:
            with transaction.atomic():
                reference_revision_bump(reference_ids=reference.id)
                if hard:
                    Change.objects.filter(reference_id=reference.id).delete()
                    OTU.objects.filter(reference_id=reference.id).delete()
                    Reference.all_objects.filter(id=reference.id).delete()
                else:
                    Reference.all_objects.filter(id=reference.id).update(deleted=True)
                locked.set()
                with connection.cursor() as cursor:
                    for _ in range(400):
                        cursor.execute(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                        )
                        if cursor.fetchone()[0]:
                            break
                        threading.Event().wait(0.05)
        except Exception as error:  # noqa: BLE001 - reported to the test
            errors.append(error)
        finally:
            locked.set()
            connection.close()

    thread = threading.Thread(target=deleter)
    thread.start()
    assert locked.wait(30)
    try:
        return write()
    finally:
        thread.join(timeout=60)
        assert errors == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("needs_postgresql")
@pytest.mark.parametrize("hard", [True, False], ids=["row deleted", "marked deleted"])
def test_otu_create_in_a_reference_deleted_while_it_waits_is_404(owner, reference, hard):
    with pytest.raises(NotFound):
        _delete_reference_while_a_writer_waits(
            reference, hard=hard, write=lambda: services.otu_create(user=owner, reference=reference, name="Late virus")
        )
    assert not OTU.objects.filter(name="Late virus").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("needs_postgresql")
@pytest.mark.parametrize("hard", [True, False], ids=["row deleted", "marked deleted"])
def test_otu_edit_in_a_reference_deleted_while_it_waits_is_404(owner, reference, hard):
    otu = services.otu_create(user=owner, reference=reference, name="Doomed virus")
    with pytest.raises(NotFound):
        _delete_reference_while_a_writer_waits(
            reference, hard=hard, write=lambda: services.otu_edit(user=owner, otu_id=otu.id, abbreviation="DV")
        )
    assert not Change.objects.filter(otu_id=otu.id, otu_version=1).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("needs_postgresql")
def test_revert_in_a_reference_marked_deleted_while_it_waits_is_404(owner, reference):
    otu = services.otu_create(user=owner, reference=reference, name="Doomed virus")
    services.otu_edit(user=owner, otu_id=otu.id, abbreviation="DV")
    with pytest.raises(NotFound):
        _delete_reference_while_a_writer_waits(
            reference, hard=False, write=lambda: change_revert(user=owner, change_id=f"{otu.id}.1")
        )
    assert Change.objects.filter(id=f"{otu.id}.1").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("needs_postgresql")
@pytest.mark.parametrize("hard", [True, False], ids=["row deleted", "marked deleted"])
def test_reference_edit_of_a_reference_deleted_while_it_waits_is_404(owner, reference, hard):
    with pytest.raises(NotFound):
        _delete_reference_while_a_writer_waits(
            reference, hard=hard, write=lambda: services.reference_edit(user=owner, reference=reference, name="Late")
        )


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("needs_postgresql")
@pytest.mark.parametrize("hard", [True, False], ids=["row deleted", "marked deleted"])
def test_rights_given_on_a_reference_deleted_while_it_waits_are_404(owner, reference, user_factory, hard):
    from refs.models import ReferenceUser

    curator = user_factory(username="curator")
    with pytest.raises(NotFound):
        _delete_reference_while_a_writer_waits(
            reference,
            hard=hard,
            write=lambda: services.reference_user_add(user=owner, reference=reference, user_id="curator", rights={}),
        )
    assert not ReferenceUser.objects.filter(user=curator).exists()
