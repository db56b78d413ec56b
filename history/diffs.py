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


def document_revert(document: dict, diff: list) -> dict:
    """The document as it was before `diff` was applied to it."""
    return dictdiffer.revert(copy.deepcopy(diff), copy.deepcopy(document))


def document_patch(document: dict, diff: list) -> dict:
    return dictdiffer.patch(copy.deepcopy(diff), copy.deepcopy(document))
