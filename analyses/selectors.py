"""Reading samples and analyses, with the sample rights that guard both."""

from analyses.models import Analysis, Sample, Workflow
from analyses.permissions import READ, sample_rights_check, samples_readable_sql
from virtool_site.errors import BadRequest, InsufficientRights, NotFound
from virtool_site.reads import api_time, flag, icontains, json_value, page_read, row, rows


def analysis_file_keys_live(keys: list[str]) -> set[str]:
    """Of stored keys `analyses/{analysis_id}/{name_on_disk}`, those rows name (storage sweep)."""
    from analyses.models import AnalysisFile

    parsed = {}
    for key in keys:
        parts = key.split("/")
        if len(parts) == 3:
            parsed[key] = (parts[1], parts[2])
    named = set(
        AnalysisFile.objects.filter(
            analysis_id__in={a for a, _ in parsed.values()}, name_on_disk__in={n for _, n in parsed.values()}
        ).values_list("analysis_id", "name_on_disk")
    )
    return {key for key, pair in parsed.items() if pair in named}


def _is_job(user) -> bool:
    return getattr(user, "is_job", False)


def sample_get(*, user, sample_id: str, right: str = READ) -> Sample:
    """The sample: 404 when missing, 403 when the user lacks `right` on it."""
    sample = Sample.objects.select_related("user", "group").filter(id=sample_id).first()
    if sample is None:
        raise NotFound()
    sample_rights_check(user=user, sample=sample, right=right)
    return sample


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


# API documents ---------------------------------------------------------------------------------
# Samples and analysis summaries read in SQL into the plain dicts the API returns, spelled as
# analyses.api.serializers' SampleSerializer / AnalysisSummarySerializer (which document them)
# would spell them.

_SAMPLE_SQL = """
SELECT sm.id, sm.name, sm.host, sm.isolate, sm.locale, sm.notes, sm.library_type, u.username, g.name,
       sm.group_read, sm.group_write, sm.all_read, sm.all_write, sm.created_at{extra}
FROM analyses_sample sm
LEFT JOIN virtool_site_user u ON u.id = sm.user_id
LEFT JOIN auth_group g ON g.id = sm.group_id
WHERE {where}
"""


def _sample_document(values: tuple) -> dict:
    sample_id, name, host, isolate, locale, notes, library_type, username, group, group_read, group_write, all_read, all_write, created_at = values[:14]
    return {
        "id": sample_id,
        "name": name,
        "host": host,
        "isolate": isolate,
        "locale": locale,
        "notes": notes,
        "library_type": library_type,
        "user": None if username is None else {"id": username},
        "group": group,
        "group_read": flag(group_read),
        "group_write": flag(group_write),
        "all_read": flag(all_read),
        "all_write": flag(all_write),
        "created_at": api_time(created_at),
    }


def samples_page(*, request, find: str = "") -> dict:
    """GET /api/samples: the samples the user may read, newest first; `find` in a name, host,
    isolate or the owner's username (`total_count` ignores it)."""
    readable, params = samples_readable_sql(request.user, "sm")
    where, where_params = readable, list(params)
    if find:
        fields = ("sm.name", "sm.host", "sm.isolate", "u.username")
        conditions = [icontains(field, find) for field in fields]
        where = f"{readable} AND ({' OR '.join(condition for condition, _ in conditions)})"
        where_params = [*params, *(value for _, value in conditions)]
    counted = (
        "SELECT COUNT(*) FROM analyses_sample sm LEFT JOIN virtool_site_user u ON u.id = sm.user_id WHERE {where}"
    )

    def fetch(limit, offset):
        sql = _SAMPLE_SQL.format(extra=f", ({counted.format(where=where)})", where=where)
        found = rows(sql + " ORDER BY sm.created_at DESC, sm.id LIMIT %s OFFSET %s", [*where_params, *where_params, limit, offset])
        return [_sample_document(values) for values in found], (found[0][-1] if found else None)

    return page_read(
        request,
        fetch=fetch,
        count=lambda: row(counted.format(where=where), where_params)[0],
        total=lambda: row(counted.format(where=readable), params)[0],
    )


def sample_document(*, user, sample_id: str) -> dict:
    """GET /api/samples/{id}: 404 when missing, 403 when the user may not read it (one query)."""
    readable, params = samples_readable_sql(user, "sm")
    found = row(_SAMPLE_SQL.format(extra=f", CASE WHEN {readable} THEN 1 ELSE 0 END", where="sm.id = %s"), [*params, sample_id])
    if found is None:
        raise NotFound()
    if not found[-1]:
        raise InsufficientRights()
    return _sample_document(found)


_ANALYSIS_SQL = """
SELECT a.id, a.workflow, a.ready, a.created_at, a.updated_at, a.job_id, a.sample_id, sm.name, a.reference_id,
       a.reference_name, a.index_id, a.index_version, u.username, a.subtractions{extra}
FROM analyses_analysis a
LEFT JOIN analyses_sample sm ON sm.id = a.sample_id
LEFT JOIN virtool_site_user u ON u.id = a.user_id
WHERE {where}
"""


def analysis_summary_document(values: tuple) -> dict:
    (
        analysis_id, workflow, ready, created_at, updated_at, job_id, sample_id, sample_name, reference_id,
        reference_name, index_id, index_version, username, subtractions,
    ) = values[:14]
    return {
        "id": analysis_id,
        "workflow": workflow,
        "algorithm": workflow,
        "ready": flag(ready),
        "created_at": api_time(created_at),
        "updated_at": api_time(updated_at),
        "job": {"id": job_id} if job_id else None,
        "sample": {"id": sample_id, "name": sample_name} if sample_id is not None else None,
        "reference": {"id": reference_id, "name": reference_name},
        "index": {"id": index_id, "version": index_version},
        "user": None if username is None else {"id": username},
        "subtractions": [{"id": subtraction_id, "name": None} for subtraction_id in json_value(subtractions)],
    }


def sample_analyses_page(*, request, sample_id: str) -> dict:
    """GET /api/samples/{id}/analyses: the sample's analyses, newest first, without results."""
    sample_document(user=request.user, sample_id=sample_id)
    counted = "SELECT COUNT(*) FROM analyses_analysis a WHERE a.sample_id = %s"

    def fetch(limit, offset):
        sql = _ANALYSIS_SQL.format(extra=f", ({counted})", where="a.sample_id = %s")
        found = rows(sql + " ORDER BY a.created_at DESC, a.id LIMIT %s OFFSET %s", [sample_id, sample_id, limit, offset])
        return [analysis_summary_document(values) for values in found], (found[0][-1] if found else None)

    return page_read(request, fetch=fetch, count=lambda: row(counted, [sample_id])[0])


_FILE_SQL = """SELECT f.analysis_id, f.description, f.format, f.id, f.name, f.name_on_disk, f.size, f.uploaded_at
FROM analyses_analysisfile f WHERE f.analysis_id = %s ORDER BY f.id"""
_BLAST_SQL = """SELECT b.sequence_index, b.rid, b.ready, b.last_checked_at, b.interval, b.result, b.error
FROM analyses_nuvsblast b WHERE b.analysis_id = %s"""


def _file_document(analysis_id, description, file_format, file_id, name, name_on_disk, size, uploaded_at) -> dict:
    """AnalysisFileSerializer."""
    return {
        "analysis": analysis_id,
        "description": description,
        "format": file_format,
        "id": file_id,
        "name": name,
        "name_on_disk": name_on_disk,
        "size": size,
        "uploaded_at": api_time(uploaded_at),
    }


def _blast_document(rid, ready, last_checked_at, interval, result, error) -> dict:
    """BlastDocumentSerializer, with the result as stored."""
    return {
        "rid": rid,
        "ready": flag(ready),
        "last_checked_at": api_time(last_checked_at),
        "interval": interval,
        "result": json_value(result),
        "error": error,
    }


def analysis_results_document(*, analysis_id: str, workflow: str, results) -> dict | None:
    """The results as the API shows them: NuVs contigs carry their BLAST (`blast`, or null);
    Pathoscope hits carry the OTU name, isolate, accession and length of the hit sequence
    (analyses.export, one query for every hit)."""
    if results is None:
        return None
    if workflow == Workflow.NUVS:
        blasts = {values[0]: _blast_document(*values[1:]) for values in rows(_BLAST_SQL, [analysis_id])}
        return {**results, "hits": [{**hit, "blast": blasts.get(hit.get("index"))} for hit in results.get("hits") or []]}
    if workflow == Workflow.PATHOSCOPE_BOWTIE:
        from analyses.export import pathoscope_hits_formatted

        return pathoscope_hits_formatted(results)
    return results


def analysis_document_read(*, user, analysis_id: str) -> dict:
    """GET /api/analyses/{id} (AnalysisSerializer), with `analysis_get`'s errors in its order:
    404 when it does not exist; 400 "Parent sample does not exist", 403 without the read right
    on its sample; a job runner reads only its own job's analysis. Without `user`, the answer
    to a write its caller was allowed to make.

    Three queries: the analysis with its results and the caller's right, its files, and what
    its results show (BLASTs of NuVs contigs, the OTUs and sequences of Pathoscope hits).
    """
    readable, params = ("1 = 1", []) if user is None or _is_job(user) else samples_readable_sql(user, "sm")
    found = row(
        _ANALYSIS_SQL.format(extra=f", a.results, CASE WHEN {readable} THEN 1 ELSE 0 END", where="a.id = %s"),
        [*params, analysis_id],
    )
    if found is None:
        raise NotFound()
    if user is not None:
        if _is_job(user):
            if found[5] is None or found[5] != user.job.id:
                raise InsufficientRights()
        elif found[6] is None:
            raise BadRequest("Parent sample does not exist")
        elif not found[-1]:
            raise InsufficientRights()
    document = analysis_summary_document(found)
    results = analysis_results_document(analysis_id=analysis_id, workflow=found[1], results=json_value(found[14]))
    # The spec's document shows the read count and the hits (`diagnosis`) at its top level, as
    # Virtool's older documents did; `results` keeps them with the rest of the report.
    document["read_count"] = results.get("read_count") if results else None
    document["diagnosis"] = results.get("hits") if results else None
    document["results"] = results
    document["files"] = [_file_document(*values) for values in rows(_FILE_SQL, [analysis_id])]
    return document
