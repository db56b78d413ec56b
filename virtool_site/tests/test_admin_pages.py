"""Every admin page loads, for a superuser and for a curating staff user, with data in it."""

import io

import pytest
from django.contrib import admin
from django.contrib.admin.utils import quote

from analyses.tests.factories import AnalysisFactory, NuVsBlastFactory, SampleFactory
from brapi.services import referenceset_import_fasta
from history.models import Change
from indexes.models import Index, IndexFile
from refs import services
from refs.models import ReferenceUser
from virtool_site.models import Job, Upload
from virtool_site.services import api_key_create, process_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def everything(admin_user):
    reference = services.reference_create(user=admin_user, name="Plant viruses")
    otu = services.otu_create(user=admin_user, reference=reference, name="Tobacco mosaic virus", abbreviation="TMV")
    isolate = services.isolate_add(user=admin_user, otu_id=otu.id, source_type="strain", source_name="U1")
    services.sequence_create(
        user=admin_user, otu_id=otu.id, isolate_id=isolate.isolate_id, accession="NC_001367", sequence="ACGT" * 50
    )
    job = Job.objects.create(workflow="build_index", user=admin_user)
    index = Index.objects.create(reference=reference, version=0, ready=True, job=job, manifest={otu.id: 2})
    IndexFile.objects.create(index=index, name="reference.fa.gz", type="fasta", size=10)
    Change.objects.update(index=index)
    process_create(process_type="delete_reference", steps=["delete_indexes"], user=admin_user)
    Upload.objects.create(id="abcdefgh-reference.json.gz", name="reference.json.gz", type="reference", user=admin_user)
    api_key_create(user=admin_user, name="k")
    sample = SampleFactory(user=admin_user)
    analysis = AnalysisFactory(sample=sample, ready=True, results={"hits": []})
    NuVsBlastFactory(analysis=AnalysisFactory(sample=sample, workflow="nuvs", ready=True, results={"hits": []}))
    referenceset_import_fasta(stream=io.BytesIO(b">chr1 test\n" + b"ACGT" * 100 + b"\n"), name="Assembly")
    return {"reference": reference, "otu": otu, "analysis": analysis}


def _pages():
    for model, model_admin in admin.site._registry.items():
        yield model, f"/admin/{model._meta.app_label}/{model._meta.model_name}/"


def test_every_changelist_and_change_page_loads_for_a_superuser(client, admin_user, everything):
    client.force_login(admin_user)
    assert client.get("/admin/").status_code == 200
    for model, url in _pages():
        response = client.get(url)
        assert response.status_code == 200, url
        instance = model._default_manager.first()
        if instance is not None:
            change = client.get(f"{url}{quote(instance.pk)}/change/")
            assert change.status_code == 200, f"{url}{instance.pk}"


CURATION_PAGES = (
    "/admin/refs/reference/",
    "/admin/refs/otu/",
    "/admin/history/change/",
    "/admin/indexes/index/",
    "/admin/analyses/sample/",
    "/admin/analyses/analysis/",
    "/admin/analyses/nuvsblast/",
)


def test_curation_pages_load_for_a_staff_curator(client, user_factory, everything):
    curator = user_factory(username="curator", is_staff=True)
    ReferenceUser.objects.create(reference=everything["reference"], user=curator, modify_otu=True)
    client.force_login(curator)
    index = client.get("/admin/").content.decode()
    for url in CURATION_PAGES:
        assert url in index
        response = client.get(url)
        assert response.status_code == 200, url
    assert len(client.get("/admin/refs/otu/").context["cl"].result_list) == 1
    assert client.get(f"/admin/refs/otu/{everything['otu'].id}/change/").status_code == 200


def test_non_staff_users_cannot_use_the_admin(client, user_factory):
    client.force_login(user_factory(username="plain"))
    assert client.get("/admin/refs/otu/").status_code == 302


#: Filter parameters the admin's own links and filters use, each given a NUL below.
NUL_FILTERS = {
    "/admin/refs/otu/": ("reference", "verified__exact"),
    "/admin/refs/reference/": ("data_type__exact",),
    "/admin/history/change/": ("reference", "otu_id", "index", "index__id__exact", "method_name__exact"),
    "/admin/indexes/index/": ("reference",),
    "/admin/analyses/analysis/": ("sample__id__exact", "workflow__exact"),
    "/admin/brapi/reference/": ("reference_set__id__exact",),
}


def test_a_nul_in_any_changelist_filter_or_selection_is_refused_not_a_500(client, admin_user, everything):
    """PostgreSQL refuses NUL in a query string literal; the admin must not pass one to it."""
    client.force_login(admin_user)
    for model, url in _pages():
        for parameter in ("id", *NUL_FILTERS.get(url, ())):
            response = client.get(url, {parameter: "a\x00b"})
            assert response.status_code == 302 and response.url.endswith("?e=1"), (url, parameter)
        actions = admin.site._registry[model].get_actions(client.get(url).wsgi_request)
        for action in actions:
            for selected in ("a\x00b", "not a number"):
                data = {"action": action, "_selected_action": [selected], "index": "0", "post": "yes"}
                assert client.post(url, data).status_code == 302, (url, action, selected)
