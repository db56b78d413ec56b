"""Reading samples and analyses, with the sample rights that guard both."""

from django.db.models import QuerySet

from analyses.models import Analysis, NuVsBlast, Sample, Workflow
from analyses.permissions import READ, sample_rights_check, samples_readable
from virtool_site.errors import BadRequest, InsufficientRights, NotFound


def _is_job(user) -> bool:
    return getattr(user, "is_job", False)


def samples_list(*, user) -> QuerySet[Sample]:
    return samples_readable(user).select_related("user", "group").order_by("-created_at", "id")


def sample_get(*, user, sample_id: str, right: str = READ) -> Sample:
    """The sample: 404 when missing, 403 when the user lacks `right` on it."""
    sample = Sample.objects.select_related("user", "group").filter(id=sample_id).first()
    if sample is None:
        raise NotFound()
    sample_rights_check(user=user, sample=sample, right=right)
    return sample


def analyses_of_sample(*, sample: Sample) -> QuerySet[Analysis]:
    return (
        Analysis.objects.filter(sample=sample)
        .select_related("sample", "user", "job")
        .order_by("-created_at", "id")
    )


def analysis_get(
    *, user, analysis_id: str, right: str = READ, allow_job: bool = False, not_found: str = "Not found"
) -> Analysis:
    """An analysis the user may read or change, in the spec's order of errors: 404 when it does
    not exist, 400 "Parent sample does not exist", 403 without the sample right.

    With `allow_job`, the runner of the analysis's own job passes (and no other job does).
    """
    analysis = Analysis.objects.select_related("sample", "user", "job").filter(id=analysis_id).first()
    if analysis is None:
        raise NotFound(not_found)
    if _is_job(user):
        if allow_job and analysis.job_id is not None and user.job.id == analysis.job_id:
            return analysis
        raise InsufficientRights()
    if analysis.sample is None:
        raise BadRequest("Parent sample does not exist")
    sample_rights_check(user=user, sample=analysis.sample, right=right)
    return analysis


def analysis_running(analysis: Analysis) -> bool:
    """Still in progress: no results yet and its job has not finished (a failed or cancelled
    job leaves an analysis that can be removed)."""
    if analysis.ready:
        return False
    return analysis.job is not None and not analysis.job.finished


def nuvs_sequence(analysis: Analysis, sequence_index: int) -> str | None:
    """The contig whose `index` is `sequence_index`, or None."""
    for hit in (analysis.results or {}).get("hits") or []:
        if hit.get("index") == sequence_index:
            return hit.get("sequence")
    return None


def analysis_results_document(analysis: Analysis, *, blast_representation) -> dict | None:
    """The results as the API shows them: NuVs contigs carry their BLAST (`blast`, or null);
    Pathoscope hits carry the OTU name, isolate, accession and length of the hit sequence."""
    if analysis.results is None:
        return None
    if analysis.workflow == Workflow.NUVS:
        blasts = {b.sequence_index: b for b in NuVsBlast.objects.filter(analysis=analysis)}
        hits = []
        for hit in analysis.results.get("hits") or []:
            blast = blasts.get(hit.get("index"))
            hits.append({**hit, "blast": blast_representation(blast) if blast else None})
        return {**analysis.results, "hits": hits}
    if analysis.workflow == Workflow.PATHOSCOPE_BOWTIE:
        from analyses.export import pathoscope_hits_formatted

        return pathoscope_hits_formatted(analysis.results)
    return analysis.results
