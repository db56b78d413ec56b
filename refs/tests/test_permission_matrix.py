"""Who may do what: every endpoint against every kind of caller.

Mutations need one reference right (`modify`, `modify_otu`, `remove`); holding any other right
is 403 "Insufficient rights", not seeing the reference is 404, no credentials is 401. Reads
need only visibility.
"""

import pytest

from refs import services
from refs.models import Isolate, Reference, Sequence
from refs.permissions import RIGHTS
from virtool_site.tests.factories import GroupFactory

pytestmark = pytest.mark.django_db

SEQUENCE = {"accession": "NC_1", "definition": "d", "sequence": "ACGT"}

#: (name, right needed, method, url template, body)
MUTATIONS = [
    ("edit reference", "modify", "patch", "/api/refs/{ref}", {"description": "new"}),
    ("add user", "modify", "post", "/api/refs/{ref}/users", {"user_id": "newcomer"}),
    ("edit user", "modify", "patch", "/api/refs/{ref}/users/bystander", {"build": True}),
    ("remove user", "modify", "delete", "/api/refs/{ref}/users/bystander", None),
    ("add group", "modify", "post", "/api/refs/{ref}/groups", {"group_id": "newgroup"}),
    ("edit group", "modify", "patch", "/api/refs/{ref}/groups/bygroup", {"build": True}),
    ("remove group", "modify", "delete", "/api/refs/{ref}/groups/bygroup", None),
    ("remove reference", "remove", "delete", "/api/refs/{ref}", None),
    ("create otu", "modify_otu", "post", "/api/refs/{ref}/otus", {"name": "New virus"}),
    ("edit otu", "modify_otu", "patch", "/api/otus/{otu}", {"name": "Renamed virus"}),
    ("remove otu", "modify_otu", "delete", "/api/otus/{otu}", None),
    ("add isolate", "modify_otu", "post", "/api/otus/{otu}/isolates", {"source_name": "New"}),
    ("edit isolate", "modify_otu", "patch", "/api/otus/{otu}/isolates/{isolate}", {"source_name": "X"}),
    ("remove isolate", "modify_otu", "delete", "/api/otus/{otu}/isolates/{isolate}", None),
    ("set default isolate", "modify_otu", "put", "/api/otus/{otu}/isolates/{other_isolate}/default", None),
    ("create sequence", "modify_otu", "post", "/api/otus/{otu}/isolates/{isolate}/sequences", SEQUENCE),
    ("edit sequence", "modify_otu", "patch", "/api/otus/{otu}/isolates/{isolate}/sequences/{sequence}", {"host": "x"}),
    ("remove sequence", "modify_otu", "delete", "/api/otus/{otu}/isolates/{isolate}/sequences/{sequence}", None),
    ("revert change", "modify_otu", "delete", "/api/history/{otu}.{version}", None),
]

READS = [
    "/api/refs/{ref}",
    "/api/refs/{ref}/users",
    "/api/refs/{ref}/groups",
    "/api/refs/{ref}/otus",
    "/api/refs/{ref}/history",
    "/api/otus/{otu}",
    "/api/otus/{otu}/history",
    "/api/otus/{otu}/isolates",
    "/api/otus/{otu}/isolates/{isolate}",
    "/api/otus/{otu}/isolates/{isolate}/sequences",
    "/api/otus/{otu}/isolates/{isolate}/sequences/{sequence}",
    "/api/history/{otu}.{version}",
]

#: Callers: only one right (held directly), the needed right through a group, the owner, an
#: administrator, a user who sees the (public) reference without rights, a stranger, nobody.
CALLERS = [f"only_{right}" for right in RIGHTS] + ["group_member", "owner", "administrator", "reader", "stranger", "anonymous"]


@pytest.fixture
def world(owner, reference, otu_factory, user_factory, admin_user):
    otu = otu_factory("Banana streak virus", "BSV", isolates=2, sequences=1)
    isolates = list(Isolate.objects.filter(otu=otu).order_by("position"))
    sequence = Sequence.objects.filter(isolate=isolates[0]).first()
    user_factory(username="newcomer")
    user_factory(username="bystander")
    GroupFactory(name="newgroup")
    GroupFactory(name="bygroup")
    services.reference_user_add(user=owner, reference=reference, user_id="bystander", rights={})
    services.reference_group_add(user=owner, reference=reference, group_id="bygroup", rights={})
    return {
        "ref": reference.id,
        "otu": otu.id,
        "isolate": isolates[0].isolate_id,
        "other_isolate": isolates[1].isolate_id,
        "sequence": sequence.id,
        "version": otu.version,
    }


def caller_client(caller, *, needed, owner, reference, user_factory, client_for, admin_user):
    if caller == "anonymous":
        return client_for(None)
    if caller == "owner":
        return client_for(owner)
    if caller == "administrator":
        return client_for(admin_user)
    user = user_factory(username=f"caller-{caller}")
    if caller.startswith("only_"):
        right = caller.removeprefix("only_")
        services.reference_user_add(user=owner, reference=reference, user_id=user.username, rights={right: True})
    elif caller == "group_member":
        group = GroupFactory(name="callers")
        user.groups.add(group)
        services.reference_group_add(user=owner, reference=reference, group_id="callers", rights={needed: True})
    elif caller == "reader":
        Reference.objects.filter(id=reference.id).update(public=True)
    return client_for(user)


def expected_status(caller, needed) -> str:
    if caller == "anonymous":
        return "401"
    if caller == "stranger":
        return "404"
    if caller == "reader":
        return "403"
    if caller.startswith("only_"):
        return "ok" if caller == f"only_{needed}" else "403"
    return "ok"


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("name, needed, method, template, body", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_mutation_permission_matrix(
    world, caller, name, needed, method, template, body, owner, reference, user_factory, client_for, admin_user
):
    expected = expected_status(caller, needed)
    client = caller_client(
        caller, needed=needed, owner=owner, reference=reference, user_factory=user_factory, client_for=client_for, admin_user=admin_user
    )
    response = getattr(client, method)(template.format(**world), body, format="json")
    if expected == "ok":
        # Deletion answers 202 with its process; its task is refs.processes.delete's and tested there.
        assert response.status_code in (200, 201, 202, 204), response.content
    else:
        assert response.status_code == int(expected), response.content
        message = {"401": None, "403": "Insufficient rights", "404": "Not found"}[expected]
        if message:
            assert response.json()["message"] == message


@pytest.mark.parametrize("caller", ["only_build", "reader", "administrator", "stranger", "anonymous"])
@pytest.mark.parametrize("template", READS)
def test_read_permission_matrix(world, caller, template, owner, reference, user_factory, client_for, admin_user):
    client = caller_client(
        caller, needed="build", owner=owner, reference=reference, user_factory=user_factory, client_for=client_for, admin_user=admin_user
    )
    response = client.get(template.format(**world))
    expected = {"stranger": 404, "anonymous": 401}.get(caller, 200)
    assert response.status_code == expected, response.content
