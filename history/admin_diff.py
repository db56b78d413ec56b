"""A Change's diff as rows a person can read: the changed path, the old and the new value.

Diffs are in dictdiffer's format (`["change", "abbreviation", ["ABTV", ""]]`, `["add",
["isolates", 0, "sequences"], [[1, {...}]]]`); create and remove changes hold the whole
document. Added and removed dicts and lists are flattened to their leaves, so every row names
one value by its full path (`isolates.0.sequences.1.sequence`). Long strings (sequences) are
cut to a few dozen characters with their length; a changed long string shows the stretch around
its first difference.
"""

import json
from dataclasses import dataclass

#: Strings longer than this are shortened.
LONG = 120
HEAD = 60
#: Characters shown before and after the first difference of two long strings.
CONTEXT_BEFORE = 20
CONTEXT_AFTER = 50

CREATING_METHODS = ("create", "import", "clone", "remote")


@dataclass
class DiffRow:
    kind: str  # "change" | "add" | "remove"
    path: str
    old: str | None = None
    new: str | None = None
    note: str = ""
    #: For long changed strings: (before, first differing character, after) of each excerpt.
    old_marked: tuple | None = None
    new_marked: tuple | None = None

    @property
    def symbol(self) -> str:
        return {"change": "~", "add": "+", "remove": "−"}[self.kind]


def path_text(node, key=None) -> str:
    if node in (None, "") or node == []:
        parts = []
    elif isinstance(node, str):
        parts = [node]
    else:
        parts = list(node)
    if key is not None:
        parts.append(key)
    return ".".join(str(part) for part in parts) or "(document)"


def short(text: str) -> str:
    if len(text) <= LONG:
        return text
    return f"{text[:HEAD]}… ({len(text):,} characters)"


def value_text(value) -> str:
    if isinstance(value, str):
        return short(value)
    if isinstance(value, (dict, list)):
        return json.dumps(_shortened(value), ensure_ascii=False)
    return json.dumps(value)


def _shortened(value):
    if isinstance(value, str):
        return short(value)
    if isinstance(value, dict):
        return {k: _shortened(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shortened(v) for v in value]
    return value


def leaves(value, path: str):
    """(path, value) for every scalar (and empty container) inside `value`."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list) and value:
        for position, item in enumerate(value):
            yield from leaves(item, f"{path}.{position}" if path else str(position))
    else:
        yield path, value


def first_difference(old: str, new: str) -> int:
    for position, (a, b) in enumerate(zip(old, new)):
        if a != b:
            return position
    return min(len(old), len(new))


def _changed_strings(old: str, new: str):
    """Short strings whole; long ones as the stretch around their first difference, split
    around the first differing character so it can be highlighted."""
    if len(old) <= LONG and len(new) <= LONG:
        return old, new, "", None, None
    at = first_difference(old, new)
    start = max(0, at - CONTEXT_BEFORE)

    def marked(text):
        before = ("…" if start else "") + text[start:at]
        after = text[at + 1 : at + CONTEXT_AFTER] + ("…" if at + CONTEXT_AFTER < len(text) else "")
        return before, text[at : at + 1], after

    old_marked, new_marked = marked(old), marked(new)
    note = f"first difference at position {at + 1:,}; length {len(old):,} → {len(new):,}"
    return "".join(old_marked), "".join(new_marked), note, old_marked, new_marked


def _rows_of_entry(action, node, changes) -> list[DiffRow]:
    if action == "change":
        old, new = changes
        if isinstance(old, str) and isinstance(new, str):
            old_text, new_text, note, old_marked, new_marked = _changed_strings(old, new)
        else:
            old_text, new_text, note, old_marked, new_marked = value_text(old), value_text(new), "", None, None
        return [DiffRow("change", path_text(node), old_text, new_text, note, old_marked, new_marked)]
    rows = []
    for key, value in changes:
        for path, leaf in leaves(value, path_text(node, key)):
            text = value_text(leaf)
            rows.append(DiffRow(action, path, old=text if action == "remove" else None, new=text if action == "add" else None))
    return rows


def diff_rows(method_name: str, diff) -> list[DiffRow]:
    """The rows of a Change's diff (for create and remove: the whole document, added or removed)."""
    if isinstance(diff, dict):
        kind = "remove" if method_name == "remove" else "add"
        return [
            DiffRow(kind, path, old=value_text(v) if kind == "remove" else None, new=value_text(v) if kind == "add" else None)
            for path, v in leaves(diff, "")
        ]
    rows = []
    for entry in diff or []:
        action, node, changes = entry
        rows.extend(_rows_of_entry(action, node, changes))
    return rows
