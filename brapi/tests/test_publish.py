import pytest

from brapi import services
from brapi.models import ExternalReference, Reference, ReferenceChunk, ReferenceSet
from brapi.storage import bases_read
from brapi.tests.conftest import md5, set_md5
from brapi.tests.factories import (
    IndexFactory,
    IsolateFactory,
    ReferenceFactory,
    SequenceFactory,
    index_for,
    otu_with_sequences,
    random_bases,
)
from history.services import change_record
from indexes.signals import index_ready
from refs.documents import otu_document_load

pytestmark = pytest.mark.django_db


def _bases(reference: Reference) -> str:
    return bases_read(reference_id=reference.id, chunk_size=reference.chunk_size, start=0, stop=reference.length)


def test_publish_makes_one_set_named_after_reference_and_index_version(published):
    reference_set = published["set"]
    assert reference_set.id == published["index"].id
    assert reference_set.name == "Plant viruses 3"
    assert reference_set.species_term == "virus"
    assert reference_set.source_uri == f"/api/indexes/{published['index'].id}/files/reference.fa.gz"
    assert ReferenceSet.objects.count() == 1


def test_publish_references_are_default_isolate_sequences_with_checksums(published):
    sequences = published["sequences"]
    references = list(Reference.objects.filter(reference_set=published["set"]).order_by("position"))
    assert len(references) == len(sequences) == 3
    by_sequence = {r.external_references.get().external_id: r for r in references}
    for sequence in sequences:
        reference = by_sequence[sequence.id]
        assert reference.id == f"{published['index'].id}-{sequence.id}"
        assert reference.name == sequence.accession
        assert reference.accession == sequence.accession
        assert reference.length == len(sequence.sequence)
        assert reference.md5checksum == md5(sequence.sequence.upper())
        assert reference.species_term == sequence.otu.name
        assert reference.source_uri == f"/api/indexes/{published['index'].id}/files/reference.fa.gz"
        assert _bases(reference) == sequence.sequence
        assert reference.additional_info["otuId"] == sequence.otu_id
        assert reference.additional_info["segment"] == sequence.segment
    assert published["set"].md5checksum == set_md5(md5(s.sequence) for s in sequences)


def test_publish_external_references_point_back_to_virtool(published):
    external = ExternalReference.objects.filter(reference__isnull=False)
    assert {(e.external_id, e.external_source) for e in external} == {(s.id, "virtool") for s in published["sequences"]}
    set_external = ExternalReference.objects.filter(reference_set=published["set"])
    assert {(e.external_id, e.external_source) for e in set_external} == {
        (published["index"].id, "virtool index"),
        (published["reference"].id, "virtool reference"),
    }


def test_publish_is_idempotent(published):
    ids = set(Reference.objects.values_list("id", flat=True))
    chunks = ReferenceChunk.objects.count()
    again = services.referenceset_publish_index(index=published["index"])
    assert again.id == published["set"].id
    assert ReferenceSet.objects.count() == 1
    assert set(Reference.objects.values_list("id", flat=True)) == ids
    assert ReferenceChunk.objects.count() == chunks
    forced = services.referenceset_publish_index(index=published["index"].id, force=True)
    assert forced.md5checksum == published["set"].md5checksum
    assert set(Reference.objects.values_list("id", flat=True)) == ids
    assert ReferenceChunk.objects.count() == chunks


def test_publish_refreshes_set_metadata_when_reference_renamed(published):
    reference = published["reference"]
    reference.name = "Renamed"
    reference.save()
    assert services.referenceset_publish_index(index=published["index"]).name == "Renamed 3"


def test_publish_skips_index_not_ready_and_deleted_reference(user):
    reference = ReferenceFactory(user=user)
    otu, _ = otu_with_sequences(reference, ["ACGT"])
    not_ready = index_for(reference, [otu], ready=False)
    assert services.referenceset_publish_index(index=not_ready) is None
    deleted = ReferenceFactory(user=user, deleted=True)
    otu2, _ = otu_with_sequences(deleted, ["ACGT"])
    assert services.referenceset_publish_index(index=index_for(deleted, [otu2])) is None
    assert not ReferenceSet.objects.exists()


def test_publish_uses_manifest_versions_from_history(user):
    reference = ReferenceFactory(user=user)
    otu, (sequence,) = otu_with_sequences(reference, ["ACGTACGTAC"], other_isolate=False)
    before = otu_document_load(otu.id)
    index = index_for(reference, [otu])  # manifest: version 0
    sequence.sequence = "GGGGCCCC"
    sequence.save()
    otu.version = 1
    otu.save()
    change_record(method_name="edit_sequence", description="Edited", old=before, new=otu_document_load(otu.id), user=user)

    reference_set = services.referenceset_publish_index(index=index)
    (published_reference,) = reference_set.references.all()
    assert _bases(published_reference) == "ACGTACGTAC"
    assert published_reference.md5checksum == md5("ACGTACGTAC")


def test_publish_includes_otu_removed_after_build(user):
    reference = ReferenceFactory(user=user)
    otu, (sequence,) = otu_with_sequences(reference, ["TTTTAAAA"], other_isolate=False)
    kept, _ = otu_with_sequences(reference, ["CCCC"], other_isolate=False)
    index = index_for(reference, [otu, kept])
    document = otu_document_load(otu.id)
    change_record(method_name="remove", description="Removed", old=document, new=None, user=user)
    otu.delete()

    reference_set = services.referenceset_publish_index(index=index)
    names = {r.external_references.get().external_id: _bases(r) for r in reference_set.references.all()}
    assert names[sequence.id] == "TTTTAAAA"
    assert len(names) == 2


def test_publish_cleans_sequence_case_and_whitespace(user):
    reference = ReferenceFactory(user=user)
    otu, _ = otu_with_sequences(reference, ["acgt ACGT\nnn"], other_isolate=False)
    reference_set = services.referenceset_publish_index(index=index_for(reference, [otu]))
    (published_reference,) = reference_set.references.all()
    assert _bases(published_reference) == "ACGTACGTNN"
    assert published_reference.md5checksum == md5("ACGTACGTNN")
    assert published_reference.length == 10


def test_publish_isolate_without_default_uses_first(user):
    reference = ReferenceFactory(user=user)
    otu, _ = otu_with_sequences(reference, [], other_isolate=False)
    otu.isolates.all().delete()
    isolate = IsolateFactory(otu=otu, default=False, position=0)
    SequenceFactory(isolate=isolate, otu=otu, sequence="ACGTTT")
    reference_set = services.referenceset_publish_index(index=index_for(reference, [otu]))
    assert [r.length for r in reference_set.references.all()] == [6]


def test_publish_many_otus_in_bounded_queries(user, django_assert_max_num_queries):
    reference = ReferenceFactory(user=user)
    otus = [otu_with_sequences(reference, [random_bases(50)], other_isolate=False)[0] for _ in range(30)]
    index = index_for(reference, otus)
    with django_assert_max_num_queries(40):
        reference_set = services.referenceset_publish_index(index=index)
    assert reference_set.references.count() == 30


def test_index_ready_signal_publishes(user, settings):
    reference = ReferenceFactory(user=user)
    otu, _ = otu_with_sequences(reference, ["ACGTAC"])
    index = index_for(reference, [otu])
    index_ready.send(sender=IndexFactory._meta.model, index=index)
    assert ReferenceSet.objects.filter(index=index).exists()


def test_deleting_reference_row_removes_its_sets(published):
    published["reference"].delete()
    assert not ReferenceSet.objects.exists()
    assert not Reference.objects.exists()
    assert not ReferenceChunk.objects.exists()


def test_referenceset_delete_removes_everything(published):
    services.referenceset_delete(reference_set=published["set"])
    assert not ReferenceSet.objects.exists()
    assert not Reference.objects.exists()
    assert not ReferenceChunk.objects.exists()
    assert not ExternalReference.objects.exists()


def test_large_sequence_is_chunked(user, settings):
    settings.BRAPI_CHUNK_SIZE = 1000
    reference = ReferenceFactory(user=user)
    bases = random_bases(4321)
    otu, _ = otu_with_sequences(reference, [bases], other_isolate=False)
    reference_set = services.referenceset_publish_index(index=index_for(reference, [otu]))
    (published_reference,) = reference_set.references.all()
    assert list(published_reference.chunks.order_by("index").values_list("index", flat=True)) == [0, 1, 2, 3, 4]
    assert _bases(published_reference) == bases
    for start, stop in [(0, 1), (999, 1001), (1500, 3999), (4000, 4321), (17, 17)]:
        assert bases_read(reference_id=published_reference.id, chunk_size=1000, start=start, stop=stop) == bases[start:stop]


def test_publish_command_with_an_unknown_or_unready_index_id_fails_and_publishes_nothing(user):
    import io

    from django.core.management import CommandError, call_command

    reference = ReferenceFactory(user=user)
    otu, _ = otu_with_sequences(reference, ["ACGT"])
    ready = index_for(reference, [otu])
    with pytest.raises(CommandError, match="No ready index nothere1"):
        call_command("brapi_publish", ready.id, "nothere1", stdout=io.StringIO())
    assert not ReferenceSet.objects.exists()
    out = io.StringIO()
    call_command("brapi_publish", ready.id, stdout=out)
    assert "Published 1 index(es)" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_publish_is_of_the_manifest_state_when_an_edit_commits_while_it_reads(user):
    """An edit committed between the read of an OTU's row and of its sequences must not put
    the edited bases into the set under the manifest's version."""
    import threading

    from django.db import connection, connections, transaction

    from refs.revisions import reference_revision_bump

    reference = ReferenceFactory(user=user)
    otu, (sequence,) = otu_with_sequences(reference, ["ACGTACGTAC"], other_isolate=False)
    index = index_for(reference, [otu])  # manifest: version 0

    def edit():
        try:
            with transaction.atomic():
                reference_revision_bump(reference_ids=reference.id)
                before = otu_document_load(otu.id)
                Sequence = type(sequence)
                Sequence.objects.filter(id=sequence.id).update(sequence="GGGGCCCC")
                type(otu).objects.filter(id=otu.id).update(version=1)
                change_record(
                    method_name="edit_sequence", description="Edited", old=before, new=otu_document_load(otu.id), user=user
                )
        finally:
            connections.close_all()

    edited = []

    def concurrent_edit(execute, sql, params, many, context):
        if not edited and "refs_isolate" in sql and "refs_sequence" in sql:
            edited.append(True)
            thread = threading.Thread(target=edit)
            thread.start()
            thread.join()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(concurrent_edit):
        reference_set = services.referenceset_publish_index(index=index)
    assert edited
    (published_reference,) = reference_set.references.all()
    assert _bases(published_reference) == "ACGTACGTAC"
    assert published_reference.md5checksum == md5("ACGTACGTAC")
