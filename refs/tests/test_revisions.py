"""Reference revisions (refs.revisions): every write to a reference's data raises its revision
first in its transaction, taking the reference's row lock before any other, so that writers of
one reference queue in one order (test_services holds them to it under concurrency). The
revision guard (refs.testing) fails any request that writes a reference's data without it."""

import pytest
from django.db import DatabaseError, connection, transaction

from refs import services
from refs.models import Reference
from refs.revisions import reference_revision_bump
from refs.tests.factories import ReferenceGroupFactory, ReferenceUserFactory
from virtool_site.tests.factories import GroupFactory

pytestmark = pytest.mark.django_db


def revision(reference) -> int:
    return Reference.all_objects.values_list("revision", flat=True).get(id=reference.id)


def _writes(owner, reference, otu):
    """Writes a client can make to a reference's data, through the services the API and the
    admin call."""
    isolate = otu.isolates.order_by("position").first()
    sequence = isolate.sequences.order_by("position").first()
    return {
        "edit OTU": lambda: services.otu_edit(user=owner, otu_id=otu.id, abbreviation="BSV2"),
        "add isolate": lambda: services.isolate_add(user=owner, otu_id=otu.id, source_type="isolate", source_name="New"),
        "rename isolate": lambda: services.isolate_edit(
            user=owner, otu_id=otu.id, isolate_id=isolate.isolate_id, source_name="Renamed"
        ),
        "edit sequence": lambda: services.sequence_edit(
            user=owner, otu_id=otu.id, isolate_id=isolate.isolate_id, sequence_id=sequence.id, definition="Edited"
        ),
        "remove sequence": lambda: services.sequence_remove(
            user=owner, otu_id=otu.id, isolate_id=isolate.isolate_id, sequence_id=sequence.id
        ),
        "create OTU": lambda: services.otu_create(user=owner, reference=reference, name="Cucumber mosaic virus"),
        "edit reference": lambda: services.reference_edit(user=owner, reference=reference, name="Renamed reference"),
    }


WRITES = ["edit OTU", "add isolate", "rename isolate", "edit sequence", "remove sequence", "create OTU", "edit reference"]


@pytest.mark.parametrize("write", WRITES)
def test_every_write_raises_the_revision(owner, reference, full_otu, write):
    before = revision(reference)
    _writes(owner, reference, full_otu)[write]()
    assert revision(reference) > before


def test_a_rolled_back_write_keeps_the_revision(owner, reference):
    before = revision(reference)
    with pytest.raises(RuntimeError), transaction.atomic():
        reference_revision_bump(reference_ids=reference.id)
        raise RuntimeError
    assert revision(reference) == before


def test_deleting_a_group_or_a_user_raises_the_revisions_first(admin_client, reference, user_factory):
    """Their rights entries (and authorship) go: writes to references' data, under the guard."""
    ReferenceGroupFactory(reference=reference, group=GroupFactory(name="curators"))
    before = revision(reference)
    assert admin_client.delete("/api/groups/curators").status_code == 204
    assert revision(reference) > before
    curator = user_factory(username="curator")
    ReferenceUserFactory(reference=reference, user=curator)
    before = revision(reference)
    curator.delete()
    assert revision(reference) > before


def test_renaming_or_saving_a_user_keeps_the_revisions(owner, reference):
    before = revision(reference)
    owner.username = "renamed"
    owner.save()
    owner.save(update_fields=["last_login"])
    assert revision(reference) == before


def test_the_revision_guard_refuses_a_write_that_did_not_bump_first(reference, full_otu):
    from conftest import service_missing
    from refs.testing import _guard_set

    if connection.vendor != "postgresql":
        service_missing("the revision guard is a PostgreSQL trigger (set DATABASE_URL)")

    _guard_set(True)
    try:
        with pytest.raises(DatabaseError, match="revision guard"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('virtool.revision_bumped', '', true)")
            Reference.objects.filter(id=reference.id).update(name="Unbumped")
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('virtool.revision_bumped', '', true)")
            reference_revision_bump(reference_ids=reference.id)
            Reference.objects.filter(id=reference.id).update(name="Bumped")
    finally:
        _guard_set(False)
    assert Reference.objects.get(id=reference.id).name == "Bumped"
