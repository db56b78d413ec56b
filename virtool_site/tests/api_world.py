"""One small, complete world of objects for the URLconf-wide API tests (fuzzing, the
permission matrix, the security checks).

Everything is made through the services, as a client would make it, so histories, rights,
jobs and files are real: a private reference of `owner` with an OTU (two isolates, a sequence
each) and its changes, a ready index with files and a second, unready one built by an external
runner (its job key is the `index_job` caller's; all its files uploaded but `MISSING_INDEX_FILE`), and
an unbuilt change after it, a public reference, a private sample with a ready
Pathoscope analysis (with a file), a ready NuVs analysis and a running analysis (with its job
key), an upload, a process, an API key, a group, and the ready index published to BrAPI with a
saved search.

Callers: `administrator`, `owner` (creator of everything, every global permission), `nobody`
(signed in, no permission, sees nothing private), plus job runners.
"""

import base64
import gzip
import json
from dataclasses import dataclass, field

from django.core.files.uploadedfile import SimpleUploadedFile

from virtool_site.models import PERMISSIONS

NUVS_CONTIG = "ATGGCTAGCTAGCTAGGATCGATCGATCGTAGCTAGCTAGCTAGCTAGCATCGATCGATCGATCGA"


@dataclass
class World:
    ids: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)
    keys: dict = field(default_factory=dict)  # caller -> Authorization header value
    objects: dict = field(default_factory=dict)

    def authorization(self, caller: str) -> str | None:
        return self.keys.get(caller)


def basic(username: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()


def _file(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


#: The one file the unready build's runner has not uploaded yet.
MISSING_INDEX_FILE = "reference.rev.2.bt2"

#: The GitHub repository of the remote reference (when the world is built with a fake GitHub).
REMOTE_SLUG = "virtool/ref-plant-viruses"


def world_build(*, remote: bool = False) -> World:
    """The world; `remote`: also a remote reference installed from REMOTE_SLUG (GITHUB_API_URL
    must answer for it, e.g. `refs.tests.transfer_factories.FakeGitHub`)."""
    from analyses import services as analyses_services
    from analyses.models import Workflow
    from brapi import services as brapi_services
    from indexes import services as index_services
    from indexes.selectors import INDEX_FILE_TYPES, REQUIRED_INDEX_FILES
    from refs import services as refs_services
    from virtool_site import services as site_services
    from virtool_site.tests.factories import GroupFactory, UserFactory

    world = World()
    administrator = UserFactory(username="administrator", is_superuser=True, is_staff=True)
    owner = UserFactory(username="owner", **{name: True for name in PERMISSIONS})
    nobody = UserFactory(username="nobody")
    world.users = {"administrator": administrator, "owner": owner, "nobody": nobody}
    for caller, user in world.users.items():
        _, secret = site_services.api_key_create(user=user, name=f"{caller} key")
        world.keys[caller] = f"Bearer {secret}"
    api_key, _ = site_services.api_key_create(user=owner, name="second key")

    group = GroupFactory(name="curators")
    owner.groups.add(group)

    # A private reference: OTU with two isolates (one sequence each), history of five changes.
    reference = refs_services.reference_create(user=owner, name="Private viruses", organism="virus")
    otu = refs_services.otu_create(user=owner, reference=reference, name="Banana streak virus", abbreviation="BSV")
    isolates, sequences = [], []
    for source_name in ("A1", "B2"):
        isolate = refs_services.isolate_add(user=owner, otu_id=otu.id, source_type="isolate", source_name=source_name)
        isolates.append(isolate)
        sequences.append(
            refs_services.sequence_create(
                user=owner,
                otu_id=otu.id,
                isolate_id=isolate.isolate_id,
                accession=f"NC_00{len(sequences) + 1}",
                definition="Banana streak virus, complete genome",
                host="Banana",
                sequence="ATGCATGCAAGTATGCATGCAAGTATGCATGC",
            )
        )
    refs_services.reference_group_add(user=owner, reference=reference, group_id=group.name, rights={"build": True})

    # A ready index (with its files, uploaded as a runner would) ...
    index, _ = index_services.index_create(user=owner, reference_id=reference.id, runner=index_services.RUNNER_EXTERNAL)
    for name in REQUIRED_INDEX_FILES:
        content = gzip.compress(b"{}") if name.endswith(".gz") else b"bowtie2"
        index_services.index_file_upload(user=administrator, index_id=index.id, name=name, uploaded_file=_file(name, content))
    index = index_services.index_finalize(index_id=index.id, user=administrator)
    # ... then an edit, and an unready index whose external runner holds a key.
    refs_services.otu_edit(user=owner, otu_id=otu.id, abbreviation="BSVX")
    build, build_key = index_services.index_create(
        user=owner, reference_id=reference.id, runner=index_services.RUNNER_EXTERNAL
    )
    world.keys["index_job"] = basic(f"job-{build.job_id}", build_key)
    # Its runner has uploaded every file but the last one.
    for name in list(REQUIRED_INDEX_FILES)[:-1]:
        content = gzip.compress(b"{}") if name.endswith(".gz") else b"bowtie2"
        index_services.index_file_upload(user=administrator, index_id=build.id, name=name, uploaded_file=_file(name, content))
    # An edit after the build started: the OTU's latest change is unbuilt (revertible).
    refs_services.otu_edit(user=owner, otu_id=otu.id, abbreviation="BSV2")
    otu.refresh_from_db()

    # A public reference of the owner (readable by everybody, changeable by nobody else).
    public = refs_services.reference_create(user=owner, name="Public viruses", public=True)
    public_otu = refs_services.otu_create(user=owner, reference=public, name="Grapevine virus A", abbreviation="GVA")

    # Samples and analyses.
    sample = analyses_services.sample_create(
        user=owner, name="Private sample", group_read=False, group_write=False, all_read=False, all_write=False
    )
    pathoscope, _ = analyses_services.analysis_create(
        user=owner, sample=sample, ref_id=reference.id, workflow=Workflow.PATHOSCOPE_BOWTIE
    )
    hit = {
        "id": sequences[0].id,
        "otu": {"id": otu.id, "version": 0},
        "final": {"pi": 0.5, "best": 0.4, "high": 0.3, "low": 0.1, "reads": 100},
        "initial": {"pi": 0.25, "best": 0.2, "high": 0.2, "low": 0.05, "reads": 50},
        "align": None,
        "coverage": 0.8,
        "depth": 12.5,
    }
    analyses_services.analysis_finalize(
        analysis_id=pathoscope.id, results={"read_count": 1000, "subtracted_count": 10, "hits": [hit]}
    )
    analysis_file = analyses_services.analysis_file_create(
        analysis=pathoscope, name="results.fa", file_format=None, uploaded_file=_file("results.fa", b">a\nACGT\n")
    )
    nuvs, _ = analyses_services.analysis_create(user=owner, sample=sample, ref_id=reference.id, workflow=Workflow.NUVS)
    analyses_services.analysis_finalize(
        analysis_id=nuvs.id,
        results={
            "hits": [
                {
                    "index": 0,
                    "sequence": NUVS_CONTIG,
                    "orfs": [
                        {"index": 0, "pro": "MAS", "frame": 1, "strand": 1, "pos": [0, 9], "hits": []},
                    ],
                }
            ]
        },
    )
    running, running_key = analyses_services.analysis_create(
        user=owner, sample=sample, ref_id=reference.id, workflow=Workflow.PATHOSCOPE_BOWTIE
    )
    world.keys["analysis_job"] = basic(f"job-{running.job_id}", running_key)
    # A file of each analysis too, so that a path naming any of them can name one of its files.
    nuvs_file, running_file = (
        analyses_services.analysis_file_create(
            analysis=owned, name="contigs.fa", file_format=None, uploaded_file=_file("contigs.fa", b">c\nACGT\n")
        )
        for owned in (nuvs, running)
    )

    upload = site_services.upload_create(
        user=owner,
        name="reference.json.gz",
        upload_type="reference",
        uploaded_file=_file("reference.json.gz", gzip.compress(json.dumps({"otus": []}).encode())),
    )
    process = site_services.process_create(process_type="delete_reference", steps=["delete_indexes"], user=owner)
    if remote:
        remote_reference = refs_services.reference_create_remote(user=owner, slug=REMOTE_SLUG, name="Remote viruses")
        site_services.process_complete(process_id=remote_reference.process_id)
        world.ids["remote_ref_id"] = remote_reference.id

    reference_set = brapi_services.referenceset_publish_index(index=index)
    brapi_reference = reference_set.references.order_by("id").first()
    search = brapi_services.search_create(user=owner, kind="references", criteria={}, page_size=1)
    set_search = brapi_services.search_create(user=owner, kind="referencesets", criteria={}, page_size=1)

    world.ids |= {
        "ref_id": reference.id,
        "public_ref_id": public.id,
        "otu_id": otu.id,
        "public_otu_id": public_otu.id,
        "isolate_id": isolates[0].isolate_id,
        "other_isolate_id": isolates[1].isolate_id,
        "sequence_id": sequences[0].id,
        "other_sequence_id": sequences[1].id,
        "change_id": f"{otu.id}.{otu.version}",  # unbuilt
        "built_change_id": f"{otu.id}.{otu.version - 1}",  # in the unready build
        "first_change_id": f"{otu.id}.0",  # in the ready index
        "index_id": index.id,
        "build_id": build.id,
        "index_file": "reference.fa.gz",
        "sample_id": sample.id,
        "analysis_id": pathoscope.id,
        "nuvs_id": nuvs.id,
        "running_id": running.id,
        "file_id": analysis_file.id,
        "nuvs_file_id": nuvs_file.id,
        "running_file_id": running_file.id,
        "sequence_index": 0,
        "upload_id": upload.id,
        "process_id": process.id,
        "key_id": api_key.id,
        "index_job_id": build.job_id,
        "analysis_job_id": running.job_id,
        "group_id": group.name,
        "user_id": owner.username,
        "reference_set_id": reference_set.id,
        "brapi_reference_id": brapi_reference.id,
        "search_id": search.id,
        "set_search_id": set_search.id,
        # The published set through refget and sequence collections (/refget/).
        "refget_md5": brapi_reference.md5checksum,
        "refget_ga4gh": brapi_reference.ga4gh_digest,
        "seqcol_digest": reference_set.seqcol_digest,
        **{f"seqcol_{name}": getattr(reference_set, f"seqcol_{name}") for name in ("names", "lengths", "sequences")},
        **{f"seqcol_attribute_{name}": name for name in ("names", "lengths", "sequences")},
    }
    world.objects = {"index_file_names": sorted(INDEX_FILE_TYPES)}
    return world
