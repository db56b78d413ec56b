import itertools
import json

import pytest

from history.diffs import diff_documents, document_patch, document_revert

ITEMS = ["a", "b", "c", "d"]
LISTS = [list(p) for k in range(len(ITEMS) + 1) for p in itertools.permutations(ITEMS, k)]


def test_diff_is_in_the_virtool_format():
    old = {"_id": "c93ec9a9", "name": "Abaca bunchy top virus", "abbreviation": "ABTV", "version": 0}
    new = {**old, "abbreviation": "", "version": 1}
    assert diff_documents(old, new) == [["change", "abbreviation", ["ABTV", ""]], ["change", "version", [0, 1]]]


def test_reverting_the_removal_of_many_list_items_keeps_their_order():
    """dictdiffer's own revert scrambles three or more removed items (its issue #178)."""
    old = {"isolates": [{"id": "p"}, {"id": "q"}, {"id": "r"}, {"id": "s"}]}
    new = {"isolates": [{"id": "p"}]}
    assert document_revert(new, diff_documents(old, new)) == old


@pytest.mark.parametrize("old", LISTS[::7])
def test_revert_and_patch_round_trip_through_json_for_any_lists(old):
    for new in LISTS:
        before = {"items": [{"name": n} for n in old], "names": old}
        after = {"items": [{"name": n} for n in new], "names": new}
        diff = json.loads(json.dumps(diff_documents(before, after)))
        assert document_revert(after, diff) == before
        assert document_patch(before, diff) == after


def test_revert_does_not_modify_its_arguments():
    old, new = {"a": [1, 2, 3]}, {"a": []}
    diff = diff_documents(old, new)
    frozen = json.dumps(diff)
    document_revert(new, diff)
    assert new == {"a": []} and json.dumps(diff) == frozen
