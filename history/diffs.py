"""Diffs in the Virtool (dictdiffer) format, stored as JSON lists."""

import copy

import dictdiffer


def _jsonable(value):
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def diff_documents(old: dict, new: dict) -> list:
    """`[["change", "abbreviation", ["ABTV", ""]], ...]` between two joined OTU documents."""
    return _jsonable(list(dictdiffer.diff(old, new)))


def diff_swap(diff: list) -> list:
    """The inverse of `diff`, for `dictdiffer.patch`.

    Not `dictdiffer.swap`: it keeps a list removal's items in the descending order `diff`
    emits them, so re-inserting three or more removed items scrambles their order
    (dictdiffer issue #178). Insertions must run in ascending index order, deletions in
    descending order.
    """
    swapped = []
    for action, node, changes in diff:
        if action == "change":
            first, second = changes
            swapped.append(("change", node, (second, first)))
        elif action == "add":
            swapped.append(("remove", node, list(reversed(changes))))
        else:
            swapped.append(("add", node, list(reversed(changes))))
    return swapped


def document_revert(document: dict, diff: list) -> dict:
    """The document as it was before `diff` was applied to it."""
    return dictdiffer.patch(diff_swap(copy.deepcopy(diff)), copy.deepcopy(document))


def document_patch(document: dict, diff: list) -> dict:
    return dictdiffer.patch(copy.deepcopy(diff), copy.deepcopy(document))
