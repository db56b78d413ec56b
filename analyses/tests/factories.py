"""Test data for samples, analyses and NuVs BLASTs, and the references and indexes they name.

References, OTUs, isolates and indexes are the shared test factories of refs and indexes;
sequences are refs' with analyses' own definitions, host and seeded 1,200-base sequences.
"""

import factory

from analyses.models import Analysis, NuVsBlast, Sample, Workflow
from indexes.tests.factories import IndexFactory
from refs.models import Sequence
from refs.tests.factories import DefaultIsolateFactory as IsolateFactory
from refs.tests.factories import GenomeSequenceFactory, random_bases
from refs.tests.factories import PlantReferenceFactory as ReferenceFactory
from refs.tests.factories import VerifiedOTUFactory as OTUFactory
from virtool_site.tests.factories import UserFactory

__all__ = ["IndexFactory", "IsolateFactory", "OTUFactory", "ReferenceFactory", "SequenceFactory", "random_nucleotides"]

random_nucleotides = random_bases


class SequenceFactory(GenomeSequenceFactory):
    definition = factory.Sequence(lambda n: f"Virus segment {n}, complete sequence")
    host = "Nicotiana tabacum"
    sequence = factory.Sequence(lambda n: random_bases(1200, seed=n))


class SampleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sample

    name = factory.Sequence(lambda n: f"Sample {n}")
    host = "Vitis vinifera"
    user = factory.SubFactory(UserFactory)
    all_read = False
    all_write = False
    group_read = False
    group_write = False


class AnalysisFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Analysis

    sample = factory.SubFactory(SampleFactory)
    workflow = Workflow.PATHOSCOPE_BOWTIE
    user = factory.SelfAttribute("sample.user")
    reference_id = "reffffff"
    reference_name = "Plant viruses"
    index_id = "indexxxx"
    index_version = 0
    ready = False


class NuVsBlastFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NuVsBlast

    analysis = factory.SubFactory(AnalysisFactory, workflow=Workflow.NUVS, ready=True)
    sequence_index = 0
    backend = "local"


def pathoscope_hit(sequence: Sequence, *, pi=0.5, reads=100, coverage=0.8, depth=12.5, align=None, version=None) -> dict:
    return {
        "id": sequence.id,
        "otu": {"id": sequence.otu_id, "version": sequence.otu.version if version is None else version},
        "final": {"pi": pi, "best": 0.4, "high": 0.3, "low": 0.1, "reads": reads},
        "initial": {"pi": pi / 2, "best": 0.2, "high": 0.2, "low": 0.05, "reads": reads // 2},
        "align": align,
        "coverage": coverage,
        "depth": depth,
    }


def pathoscope_results(hits: list[dict]) -> dict:
    return {"read_count": 23953, "subtracted_count": 112, "hits": hits}


def nuvs_results(sequences: list[str]) -> dict:
    return {
        "hits": [
            {
                "index": index,
                "sequence": sequence,
                "orfs": [
                    {
                        "index": 0,
                        "pro": "MSTV",
                        "frame": 1,
                        "strand": 1,
                        "pos": [0, 12],
                        "hits": [{"hit": "hmm1", "full_e": 1e-20, "cluster": 2}],
                    }
                ],
            }
            for index, sequence in enumerate(sequences)
        ]
    }
