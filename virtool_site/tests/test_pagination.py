"""VirtoolPagination: the page envelope's counts, and the counts it can skip."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from virtool_site.api.pagination import VirtoolPagination
from virtool_site.errors import InvalidQuery
from virtool_site.models import User

pytestmark = pytest.mark.django_db


class View:
    """A list view that knows its total count (as the reference, OTU and history lists do)."""

    def __init__(self, total: int):
        self.total = total
        self.calls = 0

    def get_total_count(self):
        self.calls += 1
        return self.total


@pytest.fixture
def users(user_factory):
    return [user_factory(username=f"listed{n:02d}") for n in range(7)]


def listed():
    return User.objects.filter(username__startswith="listed").order_by("username")


def paginate(query: dict, queryset, view=None):
    request = Request(APIRequestFactory().get("/api/things", query))
    pagination = VirtoolPagination()
    with CaptureQueriesContext(connection) as queries:
        documents = pagination.paginate_queryset(queryset, request, view)
    return pagination, documents, len(queries)


def test_a_full_page_is_counted(users):
    pagination, documents, queries = paginate({"per_page": 3}, listed())
    assert [u.username for u in documents] == ["listed00", "listed01", "listed02"]
    assert (pagination.found_count, pagination.total_count, queries) == (7, 7, 2)


def test_the_last_page_when_not_full_gives_the_count_without_a_query(users):
    pagination, documents, queries = paginate({"per_page": 3, "page": 3}, listed())
    assert [u.username for u in documents] == ["listed06"]
    assert (pagination.found_count, pagination.total_count, queries) == (7, 7, 1)


def test_an_empty_list_needs_no_count(db):
    pagination, documents, queries = paginate({}, listed())
    assert (documents, pagination.found_count, queries) == ([], 0, 1)


def test_a_page_past_the_end_is_empty_with_the_found_count(users):
    pagination, documents, queries = paginate({"per_page": 3, "page": 4}, listed())
    assert (documents, pagination.found_count, pagination.total_count) == ([], 7, 7)


def test_the_last_page_a_client_may_ask_for_is_empty_not_an_error(users):
    from virtool_site.api.pagination import PAGE_MAX

    pagination, documents, _ = paginate({"per_page": 100, "page": PAGE_MAX}, listed())
    assert (documents, pagination.found_count) == ([], 7)


@pytest.mark.parametrize("page", [1_000_001, 10**17, 10**30])
def test_a_page_past_page_max_is_an_invalid_query(users, page):
    with pytest.raises(InvalidQuery) as raised:
        paginate({"per_page": 100, "page": page}, listed())
    assert raised.value.errors == {"page": ["Ensure this value is less than or equal to 1000000."]}


def test_without_filter_parameters_the_found_count_is_the_views_total(users):
    view = View(total=7)
    pagination, documents, queries = paginate({"per_page": 3, "format": "json"}, listed(), view)
    assert len(documents) == 3
    assert (pagination.found_count, pagination.total_count) == (7, 7)
    assert (queries, view.calls) == (1, 1), "the page only; the total is the view's"


def test_with_a_filter_parameter_found_and_total_counts_differ(users):
    view = View(total=7)
    filtered = listed().exclude(username="listed03")
    pagination, documents, queries = paginate({"per_page": 3, "find": "x"}, filtered, view)
    assert [u.username for u in documents] == ["listed00", "listed01", "listed02"]
    assert (pagination.found_count, pagination.total_count) == (6, 7)
    assert queries == 2


def test_with_a_filter_parameter_the_last_page_needs_only_the_total(users):
    view = View(total=7)
    pagination, documents, queries = paginate({"find": "x"}, listed().filter(username="listed03"), view)
    assert [u.username for u in documents] == ["listed03"]
    assert (pagination.found_count, pagination.total_count, queries, view.calls) == (1, 7, 1, 1)


@pytest.mark.parametrize(
    "query, page, per_page",
    [({}, 1, 15), ({"page": "2"}, 2, 15), ({"page": "007", "per_page": "100"}, 7, 100), ({"page": "1.0"}, 1, 15)],
)
def test_page_parameters(db, query, page, per_page):
    pagination, _, _ = paginate(query, listed())
    assert (pagination.page, pagination.per_page) == (page, per_page)


@pytest.mark.parametrize(
    "query, field",
    [
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "x"}, "page"),
        ({"page": "\u0663"}, None),  # a non-ASCII digit: the serializer decides, as before
        ({"per_page": "0"}, "per_page"),
        ({"per_page": "101"}, "per_page"),
        ({"per_page": "9999999999"}, "per_page"),
        ({"per_page": ""}, None),
    ],
)
def test_page_parameters_are_checked_by_the_page_serializer(db, query, field):
    from virtool_site.api.pagination import PageQuerySerializer

    expected = PageQuerySerializer(data=Request(APIRequestFactory().get("/", query)).query_params)
    if expected.is_valid():
        assert field is None
        pagination, _, _ = paginate(query, listed())
        assert (pagination.page, pagination.per_page) == (expected.validated_data["page"], expected.validated_data["per_page"])
        return
    with pytest.raises(InvalidQuery) as raised:
        paginate(query, listed())
    assert field in raised.value.errors
    assert raised.value.errors == expected.errors
