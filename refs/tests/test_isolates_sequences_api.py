import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from history.models import Change
from refs import services
from refs.models import OTU, Isolate, Reference, Sequence

pytestmark = pytest.mark.django_db


def last_change(otu_id) -> Change:
    return Change.objects.filter(otu_id=otu_id).order_by("-otu_version").first()


@pytest.fixture
def member_client(client_for, user_factory, owner, reference):
    """A user who sees the reference and holds every right but modify_otu."""
    member = user_factory(username="member")
    services.reference_user_add(
        user=owner, reference=reference, user_id="member", rights={"build": True, "modify": True, "remove": True}
    )
    return client_for(member)


def isolates(otu):
    return list(Isolate.objects.filter(otu=otu).order_by("position"))


# Isolates ---------------------------------------------------------------------------------------


def test_list_isolates_in_order_with_sequences(owner_client, full_otu):
    body = owner_client.get(f"/api/otus/{full_otu.id}/isolates").json()
    assert [i["id"] for i in body] == [i.isolate_id for i in isolates(full_otu)]
    assert [len(i["sequences"]) for i in body] == [2, 2]
    assert set(body[0]) == {"id", "source_type", "source_name", "default", "sequences"}


def test_list_isolates_runs_a_fixed_number_of_queries(owner_client, otu_factory):
    small = otu_factory("Small virus", "S", isolates=1, sequences=1)
    large = otu_factory("Large virus", "L", isolates=5, sequences=3)
    counts = []
    for otu in (small, large):
        with CaptureQueriesContext(connection) as queries:
            owner_client.get(f"/api/otus/{otu.id}/isolates")
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 3


def test_add_first_isolate_is_default_and_described_so(owner_client, abtv):
    response = owner_client.post(
        f"/api/otus/{abtv.id}/isolates", {"source_type": "Isolate", "source_name": "Q767"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert response["Location"] == f"/api/otus/{abtv.id}/isolates/{body['id']}"
    assert body == {"id": body["id"], "source_type": "isolate", "source_name": "Q767", "default": True, "sequences": []}
    change = last_change(abtv.id)
    assert (change.id, change.method_name) == (f"{abtv.id}.1", "add_isolate")
    assert change.description == "Added Isolate Q767 and set as default"


def test_add_later_isolate_is_not_default_unless_asked(owner_client, abtv):
    owner_client.post(f"/api/otus/{abtv.id}/isolates", {"source_type": "isolate", "source_name": "A"}, format="json")
    second = owner_client.post(f"/api/otus/{abtv.id}/isolates", {"source_type": "strain", "source_name": "B"}, format="json")
    assert second.json()["default"] is False
    assert last_change(abtv.id).description == "Added Strain B"
    third = owner_client.post(
        f"/api/otus/{abtv.id}/isolates", {"source_type": "isolate", "source_name": "C", "default": True}, format="json"
    )
    assert third.json()["default"] is True
    assert last_change(abtv.id).description == "Added Isolate C and set as default"
    assert [i.default for i in isolates(abtv)] == [False, False, True]


def test_add_unnamed_isolate(owner_client, abtv):
    body = owner_client.post(f"/api/otus/{abtv.id}/isolates", {}, format="json").json()
    assert (body["source_type"], body["source_name"]) == ("", "")
    assert last_change(abtv.id).description == "Added Unnamed Isolate and set as default"


def test_add_isolate_with_a_restricted_source_type_is_400(owner_client, owner, reference, abtv):
    services.reference_edit(user=owner, reference=reference, restrict_source_types=True, source_types=["isolate"])
    response = owner_client.post(f"/api/otus/{abtv.id}/isolates", {"source_type": "clone", "source_name": "1"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"id": "bad_request", "message": "Source type is not allowed"}
    for allowed in ("isolate", "unknown"):
        ok = owner_client.post(f"/api/otus/{abtv.id}/isolates", {"source_type": allowed, "source_name": "1"}, format="json")
        assert ok.status_code == 201


def test_unrestricted_reference_allows_any_source_type(owner_client, abtv):
    response = owner_client.post(f"/api/otus/{abtv.id}/isolates", {"source_type": "clone", "source_name": "1"}, format="json")
    assert response.status_code == 201


@pytest.mark.parametrize("body", [{"default": "perhaps"}, {"source_type": "x" * 100}])
def test_add_isolate_invalid_body_is_422(owner_client, abtv, body):
    assert owner_client.post(f"/api/otus/{abtv.id}/isolates", body, format="json").status_code == 422


def test_isolate_changes_need_modify_otu(member_client, full_otu):
    isolate = isolates(full_otu)[1]
    base = f"/api/otus/{full_otu.id}/isolates"
    assert member_client.post(base, {}, format="json").status_code == 403
    assert member_client.patch(f"{base}/{isolate.isolate_id}", {"source_name": "X"}, format="json").status_code == 403
    assert member_client.put(f"{base}/{isolate.isolate_id}/default").status_code == 403
    assert member_client.delete(f"{base}/{isolate.isolate_id}").status_code == 403
    assert member_client.get(f"{base}/{isolate.isolate_id}").status_code == 200
    assert OTU.objects.get(id=full_otu.id).version == 6


def test_isolates_of_invisible_otu_are_404(stranger_client, full_otu):
    isolate = isolates(full_otu)[0]
    base = f"/api/otus/{full_otu.id}/isolates"
    assert stranger_client.get(base).status_code == 404
    assert stranger_client.get(f"{base}/{isolate.isolate_id}").status_code == 404
    assert stranger_client.post(base, {}, format="json").status_code == 404
    assert stranger_client.delete(f"{base}/{isolate.isolate_id}").status_code == 404


def test_get_isolate_and_missing_isolate(owner_client, full_otu):
    isolate = isolates(full_otu)[1]
    body = owner_client.get(f"/api/otus/{full_otu.id}/isolates/{isolate.isolate_id}").json()
    assert (body["id"], body["default"], len(body["sequences"])) == (isolate.isolate_id, False, 2)
    assert owner_client.get(f"/api/otus/{full_otu.id}/isolates/missing1").status_code == 404
    assert owner_client.get(f"/api/otus/missing1/isolates/{isolate.isolate_id}").status_code == 404


def test_edit_isolate_renames_it(owner_client, full_otu):
    isolate = isolates(full_otu)[0]
    response = owner_client.patch(
        f"/api/otus/{full_otu.id}/isolates/{isolate.isolate_id}", {"source_type": "Strain", "source_name": "B7"}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["source_type"], response.json()["source_name"]) == ("strain", "B7")
    change = last_change(full_otu.id)
    assert (change.method_name, change.description) == ("edit_isolate", "Renamed Isolate I0 to Strain B7")


def test_edit_isolate_without_changes_records_nothing(owner_client, full_otu):
    isolate = isolates(full_otu)[0]
    owner_client.patch(f"/api/otus/{full_otu.id}/isolates/{isolate.isolate_id}", {"source_name": "I0"}, format="json")
    assert OTU.objects.get(id=full_otu.id).version == 6


def test_edit_isolate_restricted_source_type_is_400(owner_client, owner, reference, full_otu):
    services.reference_edit(user=owner, reference=reference, restrict_source_types=True, source_types=["isolate"])
    isolate = isolates(full_otu)[0]
    response = owner_client.patch(
        f"/api/otus/{full_otu.id}/isolates/{isolate.isolate_id}", {"source_type": "clone"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Source type is not allowed"


def test_edit_missing_isolate_is_404(owner_client, full_otu):
    assert owner_client.patch(f"/api/otus/{full_otu.id}/isolates/missing1", {"source_name": "X"}, format="json").status_code == 404


def test_set_default_moves_the_default(owner_client, full_otu):
    second = isolates(full_otu)[1]
    response = owner_client.put(f"/api/otus/{full_otu.id}/isolates/{second.isolate_id}/default")
    assert response.status_code == 200
    assert response.json()["default"] is True
    assert [i.default for i in isolates(full_otu)] == [False, True]
    change = last_change(full_otu.id)
    assert (change.method_name, change.description) == ("set_as_default", "Set Isolate I1 as default")


def test_set_default_on_the_default_records_nothing(owner_client, full_otu):
    first = isolates(full_otu)[0]
    assert owner_client.put(f"/api/otus/{full_otu.id}/isolates/{first.isolate_id}/default").status_code == 200
    assert OTU.objects.get(id=full_otu.id).version == 6


def test_set_default_missing_isolate_is_404(owner_client, full_otu):
    assert owner_client.put(f"/api/otus/{full_otu.id}/isolates/missing1/default").status_code == 404


def test_remove_default_isolate_makes_the_first_remaining_one_default(owner_client, otu_factory):
    otu = otu_factory("Three isolates virus", "TIV", isolates=3, sequences=1)
    first = isolates(otu)[0]
    assert owner_client.delete(f"/api/otus/{otu.id}/isolates/{first.isolate_id}").status_code == 204
    remaining = isolates(otu)
    assert [(i.source_name, i.default) for i in remaining] == [("I1", True), ("I2", False)]
    assert not Sequence.objects.filter(isolate_id=first.id).exists()
    change = last_change(otu.id)
    assert (change.method_name, change.description) == ("remove_isolate", "Removed Isolate I0 and set Isolate I1 as default")


def test_remove_other_isolate_keeps_the_default(owner_client, full_otu):
    second = isolates(full_otu)[1]
    owner_client.delete(f"/api/otus/{full_otu.id}/isolates/{second.isolate_id}")
    assert last_change(full_otu.id).description == "Removed Isolate I1"


def test_remove_last_isolate_leaves_an_unverified_otu(owner_client, otu_factory):
    otu = otu_factory("Lonely virus", "LV", isolates=1, sequences=1)
    assert OTU.objects.get(id=otu.id).verified is True
    owner_client.delete(f"/api/otus/{otu.id}/isolates/{isolates(otu)[0].isolate_id}")
    assert last_change(otu.id).description == "Removed Isolate I0"
    body = owner_client.get(f"/api/otus/{otu.id}").json()
    assert (body["verified"], body["issues"]["empty_otu"]) == (False, True)
    assert OTU.objects.get(id=otu.id).verified is False


def test_remove_missing_isolate_is_404(owner_client, full_otu):
    assert owner_client.delete(f"/api/otus/{full_otu.id}/isolates/missing1").status_code == 404


# Sequences --------------------------------------------------------------------------------------


@pytest.fixture
def isolate(owner, abtv):
    return services.isolate_add(user=owner, otu_id=abtv.id, source_type="isolate", source_name="Q767")


def sequences_url(otu, isolate):
    return f"/api/otus/{otu.id}/isolates/{isolate.isolate_id}/sequences"


SEQUENCE = {
    "accession": "NC_010314",
    "definition": "Abaca bunchy top virus DNA-R",
    "host": "Abaca",
    "sequence": "ATGGCtag ctgn\nRYKM",
}


def test_create_sequence_is_201_with_location(owner_client, reference, abtv, isolate):
    response = owner_client.post(sequences_url(abtv, isolate), SEQUENCE, format="json")
    assert response.status_code == 201
    body = response.json()
    assert response["Location"] == f"{sequences_url(abtv, isolate)}/{body['id']}"
    assert body == {
        "id": body["id"],
        "accession": "NC_010314",
        "definition": "Abaca bunchy top virus DNA-R",
        "host": "Abaca",
        "segment": None,
        "sequence": "ATGGCTAGCTGNRYKM",
        "otu_id": abtv.id,
        "isolate_id": isolate.isolate_id,
        "reference": {"id": reference.id},
    }
    change = last_change(abtv.id)
    assert (change.method_name, change.description) == ("create_sequence", "Created new sequence NC_010314 in Isolate Q767")
    otu = owner_client.get(f"/api/otus/{abtv.id}").json()
    assert (otu["verified"], otu["issues"], otu["version"]) == (True, None, 2)


@pytest.mark.parametrize(
    "body, field",
    [
        ({**SEQUENCE, "sequence": "ATGCXX"}, "sequence"),
        ({**SEQUENCE, "sequence": "ATG-C"}, "sequence"),
        ({**SEQUENCE, "sequence": ""}, "sequence"),
        ({k: v for k, v in SEQUENCE.items() if k != "accession"}, "accession"),
        ({k: v for k, v in SEQUENCE.items() if k != "sequence"}, "sequence"),
        ({k: v for k, v in SEQUENCE.items() if k != "definition"}, "definition"),
    ],
)
def test_create_sequence_invalid_body_is_422(owner_client, abtv, isolate, body, field):
    response = owner_client.post(sequences_url(abtv, isolate), body, format="json")
    assert response.status_code == 422
    assert field in response.json()["errors"]
    assert not Sequence.objects.filter(otu=abtv).exists()


def test_create_sequence_segment_must_be_in_the_schema(owner_client, owner, abtv, isolate):
    response = owner_client.post(sequences_url(abtv, isolate), {**SEQUENCE, "segment": "DNA-R"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"id": "bad_request", "message": "Segment does not exist"}
    services.otu_edit(user=owner, otu_id=abtv.id, schema=[{"name": "DNA-R", "molecule": "ssDNA", "required": True}])
    response = owner_client.post(sequences_url(abtv, isolate), {**SEQUENCE, "segment": "DNA-R"}, format="json")
    assert response.status_code == 201
    assert response.json()["segment"] == "DNA-R"


def test_create_sequence_in_missing_isolate_is_404(owner_client, abtv):
    assert owner_client.post(f"/api/otus/{abtv.id}/isolates/missing1/sequences", SEQUENCE, format="json").status_code == 404


@pytest.fixture
def sequence(owner, abtv, isolate):
    return services.sequence_create(
        user=owner, otu_id=abtv.id, isolate_id=isolate.isolate_id, accession="NC_010314", definition="DNA-R", sequence="ATGC"
    )


def test_list_and_get_sequences(owner_client, abtv, isolate, sequence):
    listed = owner_client.get(sequences_url(abtv, isolate)).json()
    assert [s["id"] for s in listed] == [sequence.id]
    got = owner_client.get(f"{sequences_url(abtv, isolate)}/{sequence.id}").json()
    assert got == listed[0]
    assert owner_client.get(f"{sequences_url(abtv, isolate)}/missing1").status_code == 404


def test_sequences_of_invisible_otu_are_404(stranger_client, abtv, isolate, sequence):
    assert stranger_client.get(sequences_url(abtv, isolate)).status_code == 404
    assert stranger_client.get(f"{sequences_url(abtv, isolate)}/{sequence.id}").status_code == 404
    assert stranger_client.post(sequences_url(abtv, isolate), SEQUENCE, format="json").status_code == 404


def test_edit_sequence(owner_client, abtv, isolate, sequence):
    response = owner_client.patch(
        f"{sequences_url(abtv, isolate)}/{sequence.id}", {"accession": "NC_999", "sequence": "ggcc", "host": "Banana"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["accession"], body["sequence"], body["host"], body["definition"]) == ("NC_999", "GGCC", "Banana", "DNA-R")
    change = last_change(abtv.id)
    assert (change.method_name, change.description) == ("edit_sequence", "Edited sequence NC_999 in Isolate Q767")


def test_edit_sequence_without_changes_records_nothing(owner_client, abtv, isolate, sequence):
    version = OTU.objects.get(id=abtv.id).version
    owner_client.patch(f"{sequences_url(abtv, isolate)}/{sequence.id}", {"sequence": "atgc"}, format="json")
    assert OTU.objects.get(id=abtv.id).version == version


def test_edit_sequence_checks_segment_and_nucleotides(owner_client, abtv, isolate, sequence):
    url = f"{sequences_url(abtv, isolate)}/{sequence.id}"
    assert owner_client.patch(url, {"segment": "RNA1"}, format="json").status_code == 400
    assert owner_client.patch(url, {"sequence": "ATGZ"}, format="json").status_code == 422
    assert owner_client.patch(f"{sequences_url(abtv, isolate)}/missing1", {"host": "x"}, format="json").status_code == 404


def test_remove_sequence(owner_client, abtv, isolate, sequence):
    assert owner_client.delete(f"{sequences_url(abtv, isolate)}/{sequence.id}").status_code == 204
    assert not Sequence.objects.filter(id=sequence.id).exists()
    change = last_change(abtv.id)
    assert (change.method_name, change.description) == ("remove_sequence", "Removed sequence NC_010314 from Isolate Q767")
    assert OTU.objects.get(id=abtv.id).verified is False
    assert owner_client.delete(f"{sequences_url(abtv, isolate)}/{sequence.id}").status_code == 404


def test_sequence_changes_need_modify_otu(member_client, abtv, isolate, sequence):
    url = sequences_url(abtv, isolate)
    assert member_client.post(url, SEQUENCE, format="json").status_code == 403
    assert member_client.patch(f"{url}/{sequence.id}", {"host": "x"}, format="json").status_code == 403
    assert member_client.delete(f"{url}/{sequence.id}").status_code == 403
    assert member_client.get(f"{url}/{sequence.id}").status_code == 200


def test_public_reference_is_readable_but_not_writable_by_others(stranger_client, reference, abtv, isolate, sequence):
    Reference.objects.filter(id=reference.id).update(public=True)
    assert stranger_client.get(f"{sequences_url(abtv, isolate)}/{sequence.id}").status_code == 200
    assert stranger_client.delete(f"{sequences_url(abtv, isolate)}/{sequence.id}").status_code == 403
