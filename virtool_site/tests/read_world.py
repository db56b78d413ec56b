"""A deterministic world for pinning the API's read answers byte for byte (test_read_bodies).

Built through the services, as clients would build it, with fixed ids and a fixed clock: every
step reseeds the id generator from its label (`secrets` as the id, key and search-id makers see
it) and moves the clock to its own instant, so the same world comes out on every run whatever
the test database's sequences are. Serial ids (index files, analysis files) are renumbered at
the end for the same reason.

What it holds, to reach every branch of the read documents:

- users `administrator`, `owner` (every permission), `curator` (in group `curators`, which may
  build the private reference; a user right `modify_otu` too), `nobody`; groups `curators`,
  `outsiders`; API keys;
- a private reference of `owner` (a name with `<`, `>`, `&`, non-ASCII letters and U+2028,
  restricted source types, an internal control) with a segmented OTU of three isolates, an OTU
  of one isolate, a removed OTU, a ready index (files uploaded by an external runner) and an
  unready one, edits of every kind between and after them, and two unverified OTUs (an empty
  one and one with an empty isolate and an empty sequence);
- a public reference with its own ready index; references made as imports, clones and remote
  installs (their metadata fields), one deleted;
- samples; a ready Pathoscope analysis with a file, a ready NuVs analysis with a BLAST (floats
  such as 1e-50), a running analysis; an upload; processes (one at 5e-05 progress, one failed);
- BrAPI: both ready indexes published, a FASTA assembly imported (public) with external
  references, saved searches.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import random
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from unittest import mock

from django.core.files.uploadedfile import SimpleUploadedFile

#: The world's first instant; each step is STEP later than the one before (microseconds too,
#: so that time formatting is pinned with and without them: the first step has none).
START = datetime(2024, 3, 1, 9, 0, 0, tzinfo=timezone.utc)
STEP = timedelta(seconds=61, microseconds=250_001)

NUVS_CONTIG = "ATGGCTAGCTAGCTAGGATCGATCGATCGTAGCTAGCTAGCTAGCTAGCATCGATCGATCGATCGA"
#: A reference name that pins escaping: markup characters, non-ASCII letters, U+2028.
PRIVATE_NAME = "Banana <viruses> & friends \u2014 \u00fc\u00f1\u2028ok"


def bases(seed: str, length: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice("ACGT") for _ in range(length))


class FixedSecrets:
    """Stands in for the `secrets` module where ids, keys and search ids are drawn."""

    def __init__(self):
        self.random = random.Random(0)

    def seed(self, label: str) -> None:
        self.random.seed(label)

    def choice(self, sequence):
        return self.random.choice(sequence)

    def token_bytes(self, nbytes: int = 32) -> bytes:
        return self.random.randbytes(nbytes)

    def token_hex(self, nbytes: int = 32) -> str:
        return self.token_bytes(nbytes).hex()

    def token_urlsafe(self, nbytes: int = 32) -> str:
        return base64.urlsafe_b64encode(self.token_bytes(nbytes)).rstrip(b"=").decode("ascii")


@dataclass
class World:
    ids: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)
    keys: dict = field(default_factory=dict)  # job callers -> Authorization header value
    now: datetime = START


class Determinism:
    """Fixed ids and a frozen clock (time-machine), moved on by `step(label)`."""

    def __init__(self):
        self.secrets = FixedSecrets()
        self.count = 0
        self.now = START
        self._stack = ExitStack()
        self._traveller = None

    def __enter__(self):
        import time_machine

        import brapi.models
        import virtool_site.ids
        import virtool_site.services

        for module in (virtool_site.ids, virtool_site.services, brapi.models):
            self._stack.enter_context(mock.patch.object(module, "secrets", self.secrets))
        self._traveller = self._stack.enter_context(time_machine.travel(START, tick=False))
        return self

    def __exit__(self, *exc):
        return self._stack.__exit__(*exc)

    def step(self, label: str) -> None:
        self.secrets.seed(label)
        self.now = START + self.count * STEP
        self._traveller.move_to(self.now)
        self.count += 1

    @contextmanager
    def at(self, label: str):
        self.step(label)
        yield


def _file(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def _index_file(name: str) -> bytes:
    # gzip with a fixed mtime: the same size on every run.
    return gzip.compress(b"{}", mtime=0) if name.endswith(".gz") else b"bowtie2 " + name.encode()


def world_build(clock: Determinism) -> World:  # noqa: PLR0915 (one long, linear script)
    from analyses import services as analyses_services
    from analyses.models import NuVsBlast, Workflow
    from brapi import services as brapi_services
    from brapi.models import ExternalReference
    from brapi.models import Reference as BrapiReference
    from indexes import services as index_services
    from indexes.models import IndexFile
    from indexes.selectors import REQUIRED_INDEX_FILES
    from refs import services as refs_services
    from refs.models import OTU, Reference, Sequence
    from virtool_site import services as site_services
    from virtool_site.models import PERMISSIONS
    from virtool_site.tests.factories import GroupFactory, UserFactory

    world = World()
    step = clock.step

    # People ------------------------------------------------------------------------------
    step("users")
    administrator = UserFactory(username="administrator", is_superuser=True, is_staff=True)
    step("owner")
    owner = UserFactory(username="owner", **{name: True for name in PERMISSIONS})
    step("curator")
    curator = UserFactory(username="curator")
    step("nobody")
    nobody = UserFactory(username="nobody")
    world.users = {"administrator": administrator, "owner": owner, "curator": curator, "nobody": nobody}
    step("groups")
    curators = GroupFactory(name="curators", flags={"create_sample": True, "upload_file": True})
    curator.groups.add(curators)
    step("outsiders")
    GroupFactory(name="outsiders")
    for name, user in world.users.items():
        step(f"key {name}")
        site_services.api_key_create(user=user, name=f"{name} key")
    step("second key")
    second_key, _ = site_services.api_key_create(user=owner, name="second <key> \u00e9")

    # The private reference -----------------------------------------------------------------
    step("private reference")
    private = refs_services.reference_create(
        user=owner, name=PRIVATE_NAME, description="Curated \"plant\" viruses\n\ttabbed", organism="virus"
    )
    schema = [
        {"name": "DNA A", "molecule": "dsDNA", "required": True},
        {"name": "DNA B", "molecule": None, "required": False},
    ]
    step("otu bsv")
    bsv = refs_services.otu_create(
        user=owner, reference=private, name="Banana streak virus", abbreviation="BSV", schema=schema
    )
    isolates = []
    for n, (source_type, source_name) in enumerate((("isolate", "A1"), ("strain", "B\u00e92"))):
        step(f"bsv isolate {n}")
        isolates.append(
            refs_services.isolate_add(user=owner, otu_id=bsv.id, source_type=source_type, source_name=source_name)
        )
        for segment in ("DNA A", "DNA B"):
            step(f"bsv isolate {n} {segment}")
            refs_services.sequence_create(
                user=owner,
                otu_id=bsv.id,
                isolate_id=isolates[n].isolate_id,
                accession=f"NC_0{n}{segment[-1]}.1",
                definition=f"Banana streak virus {segment}, complete sequence",
                host="Musa",
                segment=segment,
                sequence=bases(f"bsv {n} {segment}", 90),
            )
    step("otu cmv")
    cmv = refs_services.otu_create(user=owner, reference=private, name="Cucumber mosaic virus", abbreviation="CMV")
    step("cmv isolate")
    cmv_isolate = refs_services.isolate_add(user=owner, otu_id=cmv.id, source_type="isolate", source_name="Fny")
    step("cmv sequence")
    cmv_sequence = refs_services.sequence_create(
        user=owner, otu_id=cmv.id, isolate_id=cmv_isolate.isolate_id, accession="NC_002034.1",
        definition="Cucumber mosaic virus RNA 1", host="", sequence=bases("cmv", 120),
    )
    step("otu doomed")
    doomed = refs_services.otu_create(user=owner, reference=private, name="Doomed virus", abbreviation="")
    step("doomed isolate")
    doomed_isolate = refs_services.isolate_add(user=owner, otu_id=doomed.id, source_type="", source_name="")
    step("doomed sequence")
    refs_services.sequence_create(
        user=owner, otu_id=doomed.id, isolate_id=doomed_isolate.isolate_id, accession="X1",
        definition="doomed", sequence=bases("doomed", 30),
    )
    step("remove doomed")
    refs_services.otu_remove(user=owner, otu_id=doomed.id)
    step("group right")
    refs_services.reference_group_add(user=owner, reference=private, group_id="curators", rights={"build": True})
    step("user right")
    refs_services.reference_user_add(
        user=owner, reference=private, user_id="curator", rights={"modify_otu": True, "build": True}
    )
    step("reference edit")
    refs_services.reference_edit(
        user=owner, reference=private, internal_control=cmv.id, restrict_source_types=True,
        source_types=["isolate", "strain", "clone"],
    )

    # Its first index, built by an external runner and finalized.
    step("index 0")
    index, _ = index_services.index_create(user=owner, reference_id=private.id, runner=index_services.RUNNER_EXTERNAL)
    for name in REQUIRED_INDEX_FILES:
        step(f"index 0 {name}")
        index_services.index_file_upload(user=administrator, index_id=index.id, name=name, uploaded_file=_file(name, _index_file(name)))
    step("index 0 finalize")
    index = index_services.index_finalize(index_id=index.id, user=administrator)

    # Edits of every kind, then a second build that is still running.
    step("edit abbreviation")
    refs_services.otu_edit(user=owner, otu_id=bsv.id, abbreviation="BSV-1")
    step("edit isolate")
    refs_services.isolate_edit(user=curator, otu_id=bsv.id, isolate_id=isolates[1].isolate_id, source_name="B3")
    step("default isolate")
    refs_services.isolate_set_default(user=owner, otu_id=bsv.id, isolate_id=isolates[1].isolate_id)
    bsv_sequences = list(Sequence.objects.filter(otu_id=bsv.id).order_by("isolate__position", "position"))
    step("edit sequence")
    refs_services.sequence_edit(
        user=owner, otu_id=bsv.id, isolate_id=isolates[0].isolate_id, sequence_id=bsv_sequences[0].id,
        definition="Banana streak virus DNA A, complete sequence (revised)", host="Musa acuminata",
    )
    step("third isolate")
    third = refs_services.isolate_add(user=owner, otu_id=bsv.id, source_type="clone", source_name="C<3>")
    for segment in ("DNA A", "DNA B"):
        step(f"third isolate {segment}")
        refs_services.sequence_create(
            user=owner, otu_id=bsv.id, isolate_id=third.isolate_id, accession=f"MK_3{segment[-1]}.2",
            definition=f"Clone {segment}", host="Musa", segment=segment, sequence=bases(f"third {segment}", 60),
        )
    step("remove sequence")
    refs_services.sequence_remove(
        user=owner, otu_id=bsv.id, isolate_id=isolates[0].isolate_id, sequence_id=bsv_sequences[1].id
    )
    step("restore sequence")
    refs_services.sequence_create(
        user=owner, otu_id=bsv.id, isolate_id=isolates[0].isolate_id, accession="NC_00B.2",
        definition="Banana streak virus DNA B, complete sequence", host="Musa", segment="DNA B",
        sequence=bases("bsv 0 DNA B v2", 90),
    )
    step("extra isolate")
    extra = refs_services.isolate_add(user=owner, otu_id=cmv.id, source_type="isolate", source_name="tmp")
    step("remove extra isolate")
    refs_services.isolate_remove(user=owner, otu_id=cmv.id, isolate_id=extra.isolate_id)
    step("rename cmv")
    refs_services.otu_edit(user=owner, otu_id=cmv.id, name="Cucumber mosaic virus \u2013 Fny")
    step("index 1")
    build, build_key = index_services.index_create(
        user=curator, reference_id=private.id, runner=index_services.RUNNER_EXTERNAL
    )
    world.keys["index_job"] = _basic(f"job-{build.job_id}", build_key)
    for name in list(REQUIRED_INDEX_FILES)[:3]:
        step(f"index 1 {name}")
        index_services.index_file_upload(user=administrator, index_id=build.id, name=name, uploaded_file=_file(name, _index_file(name)))
    step("index 1 progress")
    site_services.job_update(job_id=build.job_id, state="running", progress=0.375)

    # Unbuilt edits after the build started, and two unverified OTUs.
    step("unbuilt edit")
    refs_services.otu_edit(user=curator, otu_id=bsv.id, abbreviation="BSV")
    step("otu empty")
    empty = refs_services.otu_create(user=owner, reference=private, name="Empty virus", abbreviation="EV")
    step("otu broken")
    broken = refs_services.otu_create(user=owner, reference=private, name="Broken virus", abbreviation="BrV")
    step("broken isolates")
    broken_full = refs_services.isolate_add(user=owner, otu_id=broken.id, source_type="isolate", source_name="full")
    step("broken empty isolate")
    broken_bare = refs_services.isolate_add(user=owner, otu_id=broken.id, source_type="isolate", source_name="bare")
    for n in range(2):
        step(f"broken sequence {n}")
        refs_services.sequence_create(
            user=owner, otu_id=broken.id, isolate_id=broken_full.isolate_id, accession=f"BR{n}",
            definition="broken", sequence=bases(f"broken {n}", 20),
        )
    # An empty sequence no client can write (the services refuse one): as old data may hold.
    emptied = Sequence.objects.filter(otu_id=broken.id).order_by("position").first()
    Sequence.objects.filter(id=emptied.id).update(sequence="  ")
    # OTUs and sequences that came from a file or a remote repository.
    OTU.objects.filter(id=cmv.id).update(imported=True, remote_id="rem-cmv", taxid=12305)
    Sequence.objects.filter(id=cmv_sequence.id).update(remote_id="rem-cmv-1")

    # The public reference, with its own ready index.
    step("public reference")
    public = refs_services.reference_create(user=owner, name="Public viruses", public=True, organism="")
    step("public otu")
    gva = refs_services.otu_create(user=owner, reference=public, name="Grapevine virus A", abbreviation="GVA")
    step("public isolate")
    gva_isolate = refs_services.isolate_add(user=owner, otu_id=gva.id, source_type="isolate", source_name="Is 1")
    step("public sequence")
    refs_services.sequence_create(
        user=owner, otu_id=gva.id, isolate_id=gva_isolate.isolate_id, accession="NC_003604.2",
        definition="Grapevine virus A, complete genome", host="Vitis vinifera", sequence=bases("gva", 150),
    )
    step("public index")
    public_index, _ = index_services.index_create(user=owner, reference_id=public.id, runner=index_services.RUNNER_EXTERNAL)
    for name in REQUIRED_INDEX_FILES:
        step(f"public index {name}")
        index_services.index_file_upload(user=administrator, index_id=public_index.id, name=name, uploaded_file=_file(name, _index_file(name)))
    step("public index finalize")
    public_index = index_services.index_finalize(index_id=public_index.id, user=administrator)

    # References made as imports, clones and remote installs (their metadata, as those paths
    # write it), and a deleted one.
    step("imported reference")
    imported = refs_services.reference_create(
        user=administrator, name="Imported viruses", data_type="barcode",
        imported_from={"id": "abcd1234-reference.json.gz", "name": "reference.json.gz", "user": {"id": "administrator"}},
    )
    step("cloned reference")
    cloned = refs_services.reference_create(
        user=administrator, name="Cloned viruses", cloned_from={"id": private.id, "name": PRIVATE_NAME},
    )
    step("remote process")
    remote_process = site_services.process_create(process_type="remote_reference", steps=["download", "import"], user=administrator)
    release = {
        "id": 11, "name": "v1.2.0", "body": "Release notes", "etag": "W/\"abc\"", "filename": "reference.json.gz",
        "size": 1024, "html_url": "https://example.org/r/1", "download_url": "https://example.org/d/1",
        "published_at": "2024-02-01T00:00:00Z", "content_type": "application/gzip", "newer": False,
        "retrieved_at": "2024-03-01T09:00:00.5Z",
    }
    step("remote reference")
    remote = refs_services.reference_create(
        user=administrator, name="Remote viruses", remotes_from={"errors": [], "slug": "virtool/ref-plant-viruses"},
        release=release, installed={**release, "ready": True}, process=remote_process,
        updates=[{**release, "created_at": "2024-03-01T09:00:00Z", "ready": True, "user": {"id": "administrator"}}],
    )
    step("deleted reference")
    deleted = refs_services.reference_create(user=administrator, name="Deleted viruses", public=True)
    Reference.all_objects.filter(id=deleted.id).update(deleted=True)

    # Samples and analyses ---------------------------------------------------------------------
    step("sample private")
    sample = analyses_services.sample_create(
        user=owner, name="Private sample", host="Musa", isolate="leaf 3", locale="Kampala", notes="<b>notes</b>\n",
        group="curators", group_read=True, group_write=False, all_read=False, all_write=False,
    )
    step("sample public")
    public_sample = analyses_services.sample_create(user=administrator, name="Public sample \u00fc", library_type="srna")
    step("pathoscope")
    pathoscope, _ = analyses_services.analysis_create(
        user=owner, sample=sample, ref_id=private.id, workflow=Workflow.PATHOSCOPE_BOWTIE, subtractions=["sub1", "sub2"]
    )
    hit = {
        "id": bsv_sequences[0].id,
        "otu": {"id": bsv.id, "version": 0},
        "final": {"pi": 0.5, "best": 0.4, "high": 0.3, "low": 1.5e-06, "reads": 100},
        "initial": {"pi": 0.25, "best": 0.2, "high": 0.2, "low": 0.05, "reads": 50},
        "align": [0, 1, 2.5, 3],
        "coverage": 0.8,
        "depth": 12.5,
    }
    step("pathoscope finalize")
    analyses_services.analysis_finalize(
        analysis_id=pathoscope.id, results={"read_count": 1000, "subtracted_count": 10, "hits": [hit]}
    )
    step("pathoscope file")
    analyses_services.analysis_file_create(
        analysis=pathoscope, name="results.fa", file_format=None, uploaded_file=_file("results.fa", b">a\nACGT\n")
    )
    step("nuvs")
    nuvs, _ = analyses_services.analysis_create(user=owner, sample=sample, ref_id=private.id, workflow=Workflow.NUVS)
    step("nuvs finalize")
    analyses_services.analysis_finalize(
        analysis_id=nuvs.id,
        results={
            "hits": [
                {
                    "index": 0,
                    "sequence": NUVS_CONTIG,
                    "orfs": [{"index": 0, "pro": "MAS", "frame": 1, "strand": 1, "pos": [0, 9], "hits": []}],
                },
                {"index": 1, "sequence": NUVS_CONTIG[::-1], "orfs": []},
            ]
        },
    )
    step("nuvs blast")
    NuVsBlast.objects.create(
        analysis=nuvs, sequence_index=0, backend=NuVsBlast.Backend.LOCAL, rid="local-fixed01", ready=True,
        interval=5, result={
            "program": "blastn", "version": "2.16.0+", "database": "virtool",
            "hits": [{
                "accession": "NC_003604.2", "taxid": None, "title": "Grapevine virus A", "name": "GVA", "len": 150,
                "identity": 148, "evalue": 1e-50, "align_len": 150, "score": 270.5, "bit_score": 1.25e+16, "gaps": 0,
            }],
        },
    )
    step("running analysis")
    running, running_key = analyses_services.analysis_create(
        user=owner, sample=public_sample, ref_id=public.id, workflow=Workflow.PATHOSCOPE_BOWTIE
    )
    world.keys["analysis_job"] = _basic(f"job-{running.job_id}", running_key)

    # Uploads and processes ---------------------------------------------------------------------
    step("upload")
    upload = site_services.upload_create(
        user=owner, name="reference.json.gz", upload_type="reference",
        uploaded_file=_file("reference.json.gz", gzip.compress(json.dumps({"otus": []}).encode(), mtime=0)),
    )
    step("process slow")
    slow = site_services.process_create(
        process_type="clone_reference", steps=["copy_otus", "create_history"], user=owner, context={"ref_id": cloned.id}
    )
    site_services.process_progress(process_id=slow.id, step_fraction=1e-04)
    step("process failed")
    failed = site_services.process_create(process_type="delete_reference", steps=["delete_indexes"], user=administrator)
    site_services.process_fail(process_id=failed.id, error="Could not reach <storage> \u00e9")
    site_services.process_complete(process_id=remote_process.id)

    # BrAPI -------------------------------------------------------------------------------------
    step("publish private")
    reference_set = brapi_services.referenceset_publish_index(index=index)
    step("publish public")
    public_set = brapi_services.referenceset_publish_index(index=public_index)
    step("fasta")
    fasta = (
        b">NC_035987.1 Musa acuminata chromosome 1\n" + bases("chr1", 130).encode() + b"\n"
        b">scaffold_2 unplaced <scaffold> & more\n" + bases("chr2", 70).encode() + b"\n"
    )
    assembly = brapi_services.referenceset_import_fasta(
        stream=io.BytesIO(fasta), name="Musa acuminata DH-Pahang v4", species="Musa acuminata",
        species_uri="http://purl.obolibrary.org/obo/NCBITaxon_4641", crop="banana", accession="GCF_000313855.2",
        description="Banana genome", source_uri="https://example.org/musa.fa",
    )
    first_chromosome = assembly.references.order_by("position").first()
    ExternalReference.objects.create(reference_set=assembly, external_id="GCA_000313855.2", external_source="INSDC")
    ExternalReference.objects.create(reference=first_chromosome, external_id="CM000001.1", external_source="INSDC")
    BrapiReference.objects.filter(id=first_chromosome.id).update(source_divergence=0.125, is_derived=True)
    step("searches")
    search = brapi_services.search_create(user=owner, kind="references", criteria={}, page_size=2)
    step("set search")
    set_search = brapi_services.search_create(
        user=owner, kind="referencesets", criteria={"commonCropNames": ["banana"]}, page_size=1
    )

    # Serial ids, renumbered: the database's sequences are not the same on every run.
    _renumber(IndexFile.objects.order_by("index__created_at", "name"), start=900_001)
    _analysis_files_renumber(start=910_001)

    bsv.refresh_from_db()
    cmv.refresh_from_db()
    world.now = clock.now
    world.ids = {
        "ref_id": private.id,
        "public_ref_id": public.id,
        "imported_ref_id": imported.id,
        "cloned_ref_id": cloned.id,
        "remote_ref_id": remote.id,
        "deleted_ref_id": deleted.id,
        "otu_id": bsv.id,
        "cmv_id": cmv.id,
        "empty_otu_id": empty.id,
        "broken_otu_id": broken.id,
        "removed_otu_id": doomed.id,
        "public_otu_id": gva.id,
        "isolate_id": isolates[0].isolate_id,
        "default_isolate_id": isolates[1].isolate_id,
        "bare_isolate_id": broken_bare.isolate_id,
        "sequence_id": bsv_sequences[0].id,
        "cmv_isolate_id": cmv_isolate.isolate_id,
        "cmv_sequence_id": cmv_sequence.id,
        **{f"{method}_change_id": _change_id(bsv.id, method) for method in CHANGE_KINDS},
        "remove_isolate_change_id": _change_id(cmv.id, "remove_isolate"),
        "remove_change_id": _change_id(doomed.id, "remove"),
        "index_id": index.id,
        "build_id": build.id,
        "public_index_id": public_index.id,
        "sample_id": sample.id,
        "public_sample_id": public_sample.id,
        "analysis_id": pathoscope.id,
        "nuvs_id": nuvs.id,
        "running_id": running.id,
        "upload_id": upload.id,
        "process_id": slow.id,
        "failed_process_id": failed.id,
        "key_id": second_key.id,
        "index_job_id": build.job_id,
        "analysis_job_id": running.job_id,
        "group_id": "curators",
        "user_id": "curator",
        "reference_set_id": reference_set.id,
        "public_set_id": public_set.id,
        "assembly_id": assembly.id,
        "brapi_reference_id": reference_set.references.order_by("position").first().id,
        "chromosome_id": first_chromosome.id,
        "search_id": search.id,
        "set_search_id": set_search.id,
    }
    return world


#: Kinds of change of the segmented OTU whose documents are pinned (its latest of each kind).
CHANGE_KINDS = ("create", "edit", "add_isolate", "edit_isolate", "set_as_default", "create_sequence",
                "edit_sequence", "remove_sequence")


def _change_id(otu_id: str, method_name: str) -> str:
    from history.models import Change

    return Change.objects.filter(otu_id=otu_id, method_name=method_name).order_by("-otu_version").values_list("id", flat=True)[0]


def _basic(username: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()


def _renumber(queryset, *, start: int) -> None:
    model = queryset.model
    for number, pk in enumerate(list(queryset.values_list("pk", flat=True)), start=start):
        model.objects.filter(pk=pk).update(id=number)


def _analysis_files_renumber(*, start: int) -> None:
    """As `_renumber`; an analysis file's name on disk starts with its id, so it is renamed too
    (the stored file is not moved: its download is not among the pinned answers)."""
    from analyses.models import AnalysisFile

    for number, (pk, name) in enumerate(AnalysisFile.objects.order_by("analysis__created_at", "name").values_list("pk", "name"), start=start):
        AnalysisFile.objects.filter(pk=pk).update(id=number, name_on_disk=f"{number}-{name}")
