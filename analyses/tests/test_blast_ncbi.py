"""NuVs contig BLAST through NCBI's BLAST URL API, against a local HTTP server that speaks the
protocol (the client is the real one, `requests`)."""

import io
import json
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from analyses import services
from analyses.blast import qblast_info
from analyses.models import NuVsBlast, Workflow
from analyses.tests.factories import AnalysisFactory, nuvs_results
from virtool_site.testing import wait_for

pytestmark = pytest.mark.django_db

RID = "7M1MFYJ5014"
CONTIG = "ACGTTGCAAGGCTTAGCATCGATCGGATCGATTTAGCGCGATATAGCGCATTAGC"


def blast_json(rid=RID):
    return {
        "BlastOutput2": [
            {
                "report": {
                    "program": "blastn",
                    "version": "BLASTN 2.15.0+",
                    "search_target": {"db": "nt"},
                    "params": {},
                    "results": {
                        "search": {
                            "query_id": "Query_1",
                            "hits": [
                                {
                                    "num": 1,
                                    "description": [
                                        {"id": "gi|1|ref|NC_003363.1|", "accession": "NC_003363.1",
                                         "title": "Grapevine fanleaf virus RNA1, complete sequence",
                                         "taxid": 12274, "sciname": "Grapevine fanleaf virus"}
                                    ],
                                    "len": 7342,
                                    "hsps": [{"num": 1, "bit_score": 99.0, "score": 53, "evalue": 2.1e-17,
                                              "identity": 53, "align_len": 55, "gaps": 1}],
                                },
                                {
                                    "num": 2,
                                    "description": [{"accession": "MN123456.1", "title": "Uncultured virus"}],
                                    "len": 900,
                                    "hsps": [{"bit_score": 40.1, "score": 21, "evalue": 0.004, "identity": 21,
                                              "align_len": 22}],
                                },
                            ],
                            "stat": {},
                        }
                    },
                }
            }
        ]
    }


def json2_zip(rid=RID) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{rid}.json", json.dumps({"BlastJSON": [{"File": f"{rid}_1.json"}]}))
        archive.writestr(f"{rid}_1.json", json.dumps(blast_json(rid)))
    return buffer.getvalue()


class FakeNCBI:
    """Answers Put with an RID, SearchInfo with the scripted statuses, JSON2 with a zip."""

    def __init__(self):
        self.statuses = ["WAITING", "READY"]
        self.there_are_hits = "yes"
        self.put_body = f"<html><!--QBlastInfoBegin\n    RID = {RID}\n    RTOE = 0\nQBlastInfoEnd\n--></html>"
        self.result = json2_zip()
        self.put_status = 200
        #: Seconds between the bytes of a SearchInfo answer (a reply that trickles in).
        self.trickle = 0
        self.requests = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _params(self):
                params = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    params.update({k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()})
                return params

            def _answer(self, status, body: bytes, content_type="text/html"):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _trickle(self, body: bytes):
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    for byte in body:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(server.trickle)
                except OSError:
                    pass  # the client gave up

            def do_POST(self):
                self.do_GET()

            def do_GET(self):
                params = self._params()
                server.requests.append({"method": self.command, **params})
                if params.get("CMD") == "Put":
                    return self._answer(server.put_status, server.put_body.encode())
                if params.get("CMD") == "Get" and params.get("FORMAT_OBJECT") == "SearchInfo":
                    status = server.statuses.pop(0) if len(server.statuses) > 1 else server.statuses[0]
                    if isinstance(status, int):
                        return self._answer(status, b"busy")
                    body = f"<!--QBlastInfoBegin\n\tStatus={status}\nQBlastInfoEnd\n-->"
                    if status == "READY":
                        body += f"\n<!--QBlastInfoBegin\n\tThereAreHits={server.there_are_hits}\nQBlastInfoEnd\n-->"
                    if server.trickle:
                        return self._trickle(body.encode())
                    return self._answer(200, body.encode())
                if params.get("CMD") == "Get" and params.get("FORMAT_TYPE") == "JSON2":
                    return self._answer(200, server.result, "application/zip")
                return self._answer(400, b"bad request")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/Blast.cgi"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def commands(self):
        """(CMD, what was asked): Put, SearchInfo or the JSON2 result."""
        return [
            (r["CMD"], None if r["CMD"] == "Put" else "SearchInfo" if r.get("FORMAT_OBJECT") == "SearchInfo" else r.get("FORMAT_TYPE"))
            for r in self.requests
        ]


@pytest.fixture
def ncbi(settings):
    server = FakeNCBI()
    settings.BLAST_BACKEND = "ncbi"
    settings.NCBI_BLAST_URL = server.url
    settings.HTTP_TIMEOUT_SECONDS = 5
    settings.BLAST_POLL_INTERVAL = 0
    settings.BLAST_POLL_INTERVAL_STEP = 0
    yield server
    server.close()


@pytest.fixture
def nuvs(sample):
    return AnalysisFactory(sample=sample, workflow=Workflow.NUVS, ready=True, results=nuvs_results([CONTIG, "ACGT" * 20]))


def blast(client, analysis, capture, index=0):
    with capture(execute=True):
        response = client.put(f"/api/analyses/{analysis.id}/{index}/blast", {}, format="json")
    assert response.status_code == 200
    return response.json(), NuVsBlast.objects.get(analysis=analysis, sequence_index=index)


def test_ncbi_search_is_put_polled_and_fetched(owner_client, nuvs, ncbi, django_capture_on_commit_callbacks):
    ncbi.statuses = ["WAITING", "WAITING", "READY"]
    body, record = blast(owner_client, nuvs, django_capture_on_commit_callbacks)
    assert record.ready and record.error is None and record.rid == RID
    put = ncbi.requests[0]
    assert (put["method"], put["CMD"], put["PROGRAM"], put["MEGABLAST"], put["DATABASE"], put["QUERY"]) == (
        "POST", "Put", "blastn", "on", "nt", CONTIG,
    )
    assert ncbi.commands() == [("Put", None), ("Get", "SearchInfo"), ("Get", "SearchInfo"), ("Get", "SearchInfo"),
                               ("Get", "JSON2")]
    assert all(r["RID"] == RID for r in ncbi.requests[1:])
    assert record.result["hits"] == [
        {"accession": "NC_003363.1", "taxid": 12274, "title": "Grapevine fanleaf virus RNA1, complete sequence",
         "name": "Grapevine fanleaf virus", "len": 7342, "identity": 53, "evalue": 2.1e-17, "align_len": 55,
         "score": 53, "bit_score": 99.0, "gaps": 1},
        {"accession": "MN123456.1", "taxid": None, "title": "Uncultured virus", "name": "No name", "len": 900,
         "identity": 21, "evalue": 0.004, "align_len": 22, "score": 21, "bit_score": 40.1, "gaps": 0},
    ]
    shown = owner_client.get(f"/api/analyses/{nuvs.id}").json()["results"]["hits"][0]["blast"]
    assert shown["rid"] == RID and shown["ready"] is True
    assert shown["result"]["hits"][0]["name"] == "Grapevine fanleaf virus"


def test_the_check_interval_grows_while_ncbi_is_waiting(nuvs, ncbi, settings):
    settings.BLAST_POLL_INTERVAL, settings.BLAST_POLL_INTERVAL_STEP = 3, 5
    ncbi.statuses = ["WAITING", "WAITING", "READY"]
    record = services.blast_create(analysis=nuvs, sequence_index=0)  # its task is not run: steps by hand
    assert record.interval == 3 and record.rid is None
    delays = []
    while (delay := services.blast_advance(blast_id=record.id)) is not None:
        delays.append(delay)
        record.refresh_from_db()
        assert record.interval == delay
    assert delays == [3, 8, 13]
    record.refresh_from_db()
    assert record.ready and record.rid == RID


def test_first_check_waits_for_ncbis_estimate(nuvs, ncbi, settings):
    settings.BLAST_POLL_INTERVAL = 3
    ncbi.put_body = ncbi.put_body.replace("RTOE = 0", "RTOE = 21")
    record = services.blast_create(analysis=nuvs, sequence_index=0)
    assert services.blast_advance(blast_id=record.id) == 21
    record.refresh_from_db()
    assert (record.rid, record.rtoe) == (RID, 21)


def test_a_failed_ncbi_search_stores_its_error(owner_client, nuvs, ncbi, django_capture_on_commit_callbacks):
    ncbi.statuses = ["WAITING", "FAILED"]
    _, record = blast(owner_client, nuvs, django_capture_on_commit_callbacks)
    assert not record.ready and record.error == "NCBI BLAST search failed"
    assert ("Get", "JSON2") not in ncbi.commands()
    shown = owner_client.get(f"/api/analyses/{nuvs.id}").json()["results"]["hits"][0]["blast"]
    assert shown["error"] == "NCBI BLAST search failed" and shown["ready"] is False


def test_an_unknown_rid_stores_its_error(owner_client, nuvs, ncbi, django_capture_on_commit_callbacks):
    ncbi.statuses = ["UNKNOWN"]
    _, record = blast(owner_client, nuvs, django_capture_on_commit_callbacks)
    assert record.error == "NCBI BLAST search expired or is unknown"


def test_a_broken_result_zip_stores_an_error(owner_client, nuvs, ncbi, django_capture_on_commit_callbacks):
    ncbi.statuses = ["READY"]
    ncbi.result = json2_zip()[:200]
    _, record = blast(owner_client, nuvs, django_capture_on_commit_callbacks)
    assert not record.ready and record.error.startswith("NCBI returned an unreadable BLAST result")


def test_a_zip_without_a_result_or_with_bad_json_stores_an_error(owner_client, nuvs, ncbi, django_capture_on_commit_callbacks):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{RID}_1.json", "{not json")
    ncbi.statuses = ["READY"]
    ncbi.result = buffer.getvalue()
    _, record = blast(owner_client, nuvs, django_capture_on_commit_callbacks)
    assert record.error.startswith("NCBI returned an unreadable BLAST result")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "nothing")
    ncbi.statuses = ["READY"]
    ncbi.result = buffer.getvalue()
    _, record = blast(owner_client, nuvs, django_capture_on_commit_callbacks)
    assert record.error == "NCBI BLAST result archive holds no result"


def test_a_result_past_the_size_limit_is_refused(owner_client, nuvs, ncbi, settings, django_capture_on_commit_callbacks):
    settings.BLAST_RESULT_MAX_BYTES = 100
    ncbi.statuses = ["READY"]
    _, record = blast(owner_client, nuvs, django_capture_on_commit_callbacks)
    assert "larger than 100 bytes" in record.error


def test_ready_without_hits_skips_the_download(owner_client, nuvs, ncbi, django_capture_on_commit_callbacks):
    ncbi.statuses = ["READY"]
    ncbi.there_are_hits = "no"
    _, record = blast(owner_client, nuvs, django_capture_on_commit_callbacks)
    assert record.ready and record.result["hits"] == []
    assert ("Get", "JSON2") not in ncbi.commands()


def test_a_put_answer_without_an_rid_stores_an_error(owner_client, nuvs, ncbi, django_capture_on_commit_callbacks):
    ncbi.put_body = "<html>Error: query is empty</html>"
    body, record = blast(owner_client, nuvs, django_capture_on_commit_callbacks)
    assert record.error == "NCBI did not accept the BLAST search" and record.rid is None


def test_a_client_error_from_ncbi_stores_an_error(owner_client, nuvs, ncbi, django_capture_on_commit_callbacks):
    ncbi.put_status = 400
    _, record = blast(owner_client, nuvs, django_capture_on_commit_callbacks)
    assert record.error.startswith("NCBI answered 400")


def test_passing_server_errors_are_retried_and_lasting_ones_give_up(owner_client, nuvs, ncbi, settings,
                                                                    django_capture_on_commit_callbacks):
    ncbi.statuses = [503, "WAITING", 502, "READY"]
    _, record = blast(owner_client, nuvs, django_capture_on_commit_callbacks)
    assert record.ready and record.error is None
    ncbi.requests.clear()
    ncbi.statuses = [503]
    _, record = blast(owner_client, nuvs, django_capture_on_commit_callbacks)
    assert record.error == "NCBI answered 503"
    assert ncbi.commands().count(("Get", "SearchInfo")) == 3


def test_an_unreachable_ncbi_is_given_up_after_a_few_tries(owner_client, nuvs, ncbi, settings,
                                                           django_capture_on_commit_callbacks):
    ncbi.close()
    _, record = blast(owner_client, nuvs, django_capture_on_commit_callbacks)
    assert record.error.startswith("NCBI request failed") and record.failures == 2


def test_a_search_past_the_timeout_is_given_up(nuvs, ncbi, settings):
    from datetime import timedelta

    from django.utils import timezone

    ncbi.statuses = ["WAITING"]
    record = services.blast_create(analysis=nuvs, sequence_index=0)
    services.blast_advance(blast_id=record.id)
    NuVsBlast.objects.filter(id=record.id).update(created_at=timezone.now() - timedelta(hours=2))
    assert services.blast_advance(blast_id=record.id) is None
    record.refresh_from_db()
    assert record.error == "BLAST search timed out"


def test_qblast_info_reads_every_block():
    text = "<!--QBlastInfoBegin\n\tStatus=READY\nQBlastInfoEnd\n-->x<!--QBlastInfoBegin\n\tThereAreHits=yes\nQBlastInfoEnd\n-->"
    assert qblast_info(text) == {"Status": "READY", "ThereAreHits": "yes"}
    assert qblast_info("<!--QBlastInfoBegin\n    RID = AB12\n    RTOE = 18\nQBlastInfoEnd-->") == {"RID": "AB12", "RTOE": "18"}


@pytest.mark.worker
@pytest.mark.slow
def test_a_real_worker_polls_ncbi_with_countdowns_on_its_own_queue(celery_worker_factory, client_for, owner, sample, settings):
    server = FakeNCBI()
    try:
        server.statuses = ["WAITING", "READY"]
        settings.BLAST_BACKEND = "ncbi"
        # Polls 1 s apart, then 1 + 2 s: the back-off of production's 3 s and 5 s steps, sooner.
        settings.BLAST_POLL_INTERVAL, settings.BLAST_POLL_INTERVAL_STEP = 1, 2
        worker = celery_worker_factory(extra_env={
            "BLAST_BACKEND": "ncbi", "NCBI_BLAST_URL": server.url, "BLAST_POLL_INTERVAL": 1, "BLAST_POLL_INTERVAL_STEP": 2,
        })
        analysis = AnalysisFactory(sample=sample, workflow=Workflow.NUVS, ready=True, results=nuvs_results([CONTIG]))
        response = client_for(owner).put(f"/api/analyses/{analysis.id}/0/blast", {}, format="json")
        assert response.status_code == 200 and response.json()["rid"] is None
        record = wait_for(
            lambda: NuVsBlast.objects.filter(analysis=analysis).exclude(ready=False, error=None).first(),
            timeout=90,
            message=f"NCBI BLAST result\n{worker.log()}",
        )
        assert record.ready, record.error
        assert record.rid == RID and record.interval == 3  # 1 s, then 1 + 2 after one WAITING
        assert server.commands() == [("Put", None), ("Get", "SearchInfo"), ("Get", "SearchInfo"), ("Get", "JSON2")]
    finally:
        server.close()


def result_zip(document_text: str, rid=RID) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{rid}_1.json", document_text)
    return buffer.getvalue()


def test_an_rtoe_past_the_time_limit_waits_only_until_the_limit_and_does_not_leave_the_blast_pending(
    nuvs, ncbi, settings
):
    settings.BLAST_TIMEOUT_SECONDS = 600
    ncbi.put_body = ncbi.put_body.replace("RTOE = 0", "RTOE = 99999999999")
    record = services.blast_create(analysis=nuvs, sequence_index=0)
    assert services.blast_advance(blast_id=record.id) == 600
    record.refresh_from_db()
    assert (record.rid, record.rtoe, record.error) == (RID, 600, None)


def test_nan_infinity_and_nul_in_an_ncbi_result_are_stored_as_null_and_dropped(
    owner_client, nuvs, ncbi, django_capture_on_commit_callbacks
):
    document = blast_json()
    hit = document["BlastOutput2"][0]["report"]["results"]["search"]["hits"][0]
    hit["description"][0]["title"] = "Grapevine\u0000 fanleaf"
    hit["hsps"][0]["evalue"] = float("nan")
    hit["hsps"][0]["bit_score"] = float("inf")
    document["BlastOutput2"][0]["report"]["search_target"] = {"db\u0000": "nt\u0000"}
    ncbi.statuses = ["READY"]
    ncbi.result = result_zip(json.dumps(document))
    _, record = blast(owner_client, nuvs, django_capture_on_commit_callbacks)
    assert record.ready and record.error is None
    first = record.result["hits"][0]
    assert (first["title"], first["evalue"], first["bit_score"]) == ("Grapevine fanleaf", None, None)
    assert record.result["target"] == {"db": "nt"}


def test_a_result_nested_too_deeply_to_read_ends_the_blast_with_an_error(
    owner_client, nuvs, ncbi, django_capture_on_commit_callbacks
):
    ncbi.statuses = ["READY"]
    ncbi.result = result_zip("[" * 100_000 + "]" * 100_000)
    _, record = blast(owner_client, nuvs, django_capture_on_commit_callbacks)
    assert not record.ready and record.error.startswith("NCBI returned an unreadable BLAST result")


def test_a_reply_trickling_in_past_the_reply_time_limit_is_a_passing_failure_not_a_wait_for_ever(nuvs, ncbi, settings):
    settings.HTTP_TIMEOUT_SECONDS = 2  # every byte comes sooner than that: only a limit on the whole reply helps
    settings.BLAST_RESPONSE_MAX_SECONDS = 1
    ncbi.statuses = ["WAITING"]
    ncbi.trickle = 0.25
    record = services.blast_create(analysis=nuvs, sequence_index=0)
    services.blast_advance(blast_id=record.id)  # Put
    started = time.monotonic()
    services.blast_advance(blast_id=record.id)
    assert time.monotonic() - started < 4
    record.refresh_from_db()
    assert (record.failures, record.ready, record.error) == (1, False, None)
    assert services.blast_advance(blast_id=record.id) is not None  # the second slow reply
    assert services.blast_advance(blast_id=record.id) is None  # the third ends the search
    record.refresh_from_db()
    assert (record.ready, record.error) == (False, "NCBI answered too slowly")
