"""The orjson renderer renders exactly DRF's JSONRenderer's bytes, for any document."""

import datetime
import decimal
import uuid
from collections import OrderedDict

import pytest
from django.utils.functional import lazy
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.renderers import JSONRenderer

from virtool_site.api.renderers import JsonText, OrjsonRenderer

UTC = datetime.timezone.utc

finite_floats = st.floats(allow_nan=False, allow_infinity=False)
#: Floats around the thresholds where Python and orjson choose their spellings.
edge_floats = st.builds(
    lambda mantissa, exponent: mantissa * 10.0**exponent,
    st.floats(min_value=-10, max_value=10, allow_nan=False),
    st.integers(min_value=-8, max_value=18),
)
datetimes = st.datetimes(timezones=st.sampled_from([UTC, datetime.timezone(datetime.timedelta(hours=2)), None]))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    finite_floats,
    edge_floats,
    st.text(),
    st.text(alphabet="0123456789.e-+ \u2028\u2029<>&\"\\\x00\x1f\x7f\u00e9"),
    datetimes,
    st.dates(),
    st.decimals(allow_nan=False, allow_infinity=False, places=6),
    st.uuids(),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.text(max_size=8), children, max_size=5),
    ),
    max_leaves=30,
)


def both(data, accepted_media_type="application/json", context=None):
    return (
        JSONRenderer().render(data, accepted_media_type, context),
        OrjsonRenderer().render(data, accepted_media_type, context),
    )


@settings(max_examples=600, deadline=None)
@given(documents)
def test_any_document_renders_as_drf_renders_it(document):
    drf, fast = both(document)
    assert fast == drf


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(finite_floats, edge_floats), max_size=20))
def test_floats_are_spelled_as_python_spells_them(values):
    drf, fast = both(values)
    assert fast == drf


@pytest.mark.parametrize(
    "value",
    [
        1e-05, 5e-05, 9.9e-05, 1e-4, 1.5e-07, -7.1e-09, 1e-50, 1e16, 1.25e16, 1e22, 0.1, 0.0, -0.0,
        2**64 - 1, 2**64, -(2**63) - 1, 10**30,
        "0.00001 and 1e-5 in a string", "line\u2028separator\u2029", "<script>&amp;", "\x00\x1f\x7f",
        datetime.datetime(2024, 3, 1, 9, 0, tzinfo=UTC), datetime.datetime(2024, 3, 1, 9, 0, 0, 5),
        datetime.date(2024, 3, 1), datetime.time(9, 0, 1, 2), datetime.timedelta(days=1, microseconds=3),
        decimal.Decimal("1.10"), decimal.Decimal("0.00001"), uuid.UUID(int=7), b"bytes",
        {1: "int key"}, {None: 1, True: 2}, OrderedDict(b=1, a=2), (1, 2), {3}, lazy(lambda: "lazy", str)(),
        {"nested": [{"deep": [1.5e-06, "\u2028"]}]},
    ],
    ids=repr,
)
def test_awkward_values_render_as_drf_renders_them(value):
    drf, fast = both(value)
    assert fast == drf


def test_indented_answers_render_as_drf_renders_them():
    document = {"a": [1, 2.5, "é"], "b": None}
    assert both(document, "application/json; indent=4") == (both(document, "application/json; indent=4")[0],) * 2
    assert both(document, None, {"indent": 2})[1] == both(document, None, {"indent": 2})[0]


def test_nothing_renders_as_nothing():
    assert both(None) == (b"", b"")


@settings(max_examples=300, deadline=None)
@given(documents)
def test_stored_json_text_renders_as_the_values_it_was_written_from(document):
    """A part stored as JSON text (orjson's, as indexes store their changed OTUs) comes out as
    DRF renders the values it holds, whichever renderer writes the answer (orjson, or DRF's for
    what orjson spells otherwise or cannot write: there the text is decoded and written again)."""
    import orjson

    try:
        text = orjson.dumps(document, default=str)
    except orjson.JSONEncodeError:  # integers past 64 bits: nothing orjson would have stored
        return
    values = orjson.loads(text)
    drf = JSONRenderer().render({"part": values, "next": [1]})
    assert OrjsonRenderer().render({"part": JsonText(text), "next": [1]}) == drf
    assert OrjsonRenderer().render({"part": JsonText(text.decode()), "next": [1]}) == drf


def test_stored_json_text_renders_in_indented_answers():
    rendered = OrjsonRenderer().render({"otus": JsonText('[{"id":"a","name":"\u2028"}]')}, "application/json; indent=2")
    assert rendered == JSONRenderer().render({"otus": [{"id": "a", "name": "\u2028"}]}, "application/json; indent=2")


# The browsable API (Accept: text/html) ------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/refs", "/api/users", "/api/groups", "/api/processes", "/api/uploads"])
def test_browsable_api_page_is_no_500_for_a_user_without_the_rights_of_its_forms(user_client, path):
    """The page's forms ask the view's permissions for POST and friends, which answer a plain
    user with Virtool's InsufficientRights: no form then, not a 500."""
    response = user_client.get(path, HTTP_ACCEPT="text/html")

    assert response.status_code < 500
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/groups", "/api/processes"])
def test_browsable_api_page_is_no_500_for_views_without_a_serializer_class_or_queryset(admin_client, path):
    response = admin_client.get(path, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
