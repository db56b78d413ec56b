"""JSON request bodies, read within bounds: the one JSON reader of the API (and of the admin's
JSON form fields, see `BoundedJSONDecoder`).

Python's decoder recurses once per array or object, so a body nested about 1,000 levels deep
(`[[[[...]]]]`, 20 kB) raised RecursionError, a 500. Every JSON text is therefore measured on
its bytes before it is decoded, without recursion, and refused when it is nested deeper than
`JSON_DEPTH_MAX` levels: the deepest body the API documents is 6 levels (analysis results),
so the bound only ever meets abuse, and nothing downstream (validation, storage, diffs) ever
recurses deeply either. What is refused, each as 400 "Malformed request body..." (with the
reason after a colon where there is one), before the view acts on the body:

- text that is not JSON, not UTF-8, or holds NaN / Infinity (not JSON; DRF's strict mode);
- nesting deeper than `JSON_DEPTH_MAX`;
- a lone UTF-16 surrogate escape (`"\\ud800"`): not a character, and PostgreSQL can store it
  neither in text nor in jsonb.

A body past DATA_UPLOAD_MAX_MEMORY_SIZE is 413, read no further than one byte past the limit,
whichever way the body reaches the parser.
"""

import json
import re

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from virtool_site.errors import BadRequest

#: Levels of arrays and objects a JSON body may nest (the documented bodies need 6).
JSON_DEPTH_MAX = 32

MALFORMED = "Malformed request body"
TOO_DEEP = f"{MALFORMED}: nested deeper than {JSON_DEPTH_MAX} levels"
LONE_SURROGATE = f"{MALFORMED}: a string holds a lone surrogate escape"

#: A JSON string (outside strings, valid JSON holds no quotes).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
#: Keeps only brackets, every one spelled `[` or `]`: depth does not care which kind.
_BRACKETS_ONLY = (bytes.maketrans(b"{}", b"[]"), bytes(sorted(set(range(256)) - set(b"[]{}"))))
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class JSONBodyError(ValueError):
    """JSON text that is refused; `str()` is the message for the client."""


def json_too_deep(raw: bytes, limit: int = JSON_DEPTH_MAX) -> bool:
    """Whether JSON text nests arrays and objects deeper than `limit`, found without recursion
    and in C: brackets inside strings are dropped, then each pass removes every innermost pair
    (`[]`), that is one level of every structure; a pair left after `limit` passes was deeper.
    A body with fewer brackets than the limit is not looked into."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    brackets = _STRING.sub(b"", raw).translate(*_BRACKETS_ONLY)
    if b"[" * (limit + 1) in brackets:
        return True
    for _ in range(limit):
        brackets = brackets.replace(b"[]", b"")
        if not brackets:
            return False
    return b"[]" in brackets  # else only unmatched brackets remain: malformed, not deep


def json_loads(raw: bytes | str, *, encoding: str = "utf-8"):
    """Decode a JSON body within the bounds of the module docstring; JSONBodyError if not."""
    try:
        text = raw if isinstance(raw, str) else raw.decode(encoding)
    except UnicodeDecodeError:
        raise JSONBodyError(MALFORMED) from None
    utf8 = raw if isinstance(raw, bytes) and encoding.lower().replace("-", "") == "utf8" else None
    data = utf8 if utf8 is not None else text.encode("utf-8", "surrogatepass")
    if json_too_deep(data):
        raise JSONBodyError(TOO_DEEP)
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # RecursionError: cannot happen within the depth bound
        raise JSONBodyError(MALFORMED) from None
    if _SURROGATE_ESCAPE.search(data):  # rare: then look whether every one is in a pair
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise JSONBodyError(LONE_SURROGATE) from None
    return value


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def body_read(stream) -> bytes:
    """The whole body, or RequestDataTooBig (413) past DATA_UPLOAD_MAX_MEMORY_SIZE."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if stream is None:
        return b""
    raw = stream.read() if limit is None else stream.read(limit + 1)
    if limit is not None and len(raw) > limit:
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
    return raw


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, within the bounds of the module docstring. A body that is not JSON
    is DRF's ParseError (400 "Malformed request body"); one too deep or with a lone surrogate
    says so in the message."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        try:
            return json_loads(body_read(stream), encoding=encoding)
        except JSONBodyError as error:
            if str(error) == MALFORMED:
                raise ParseError(MALFORMED) from None
            raise BadRequest(str(error)) from None


class BoundedJSONDecoder(json.JSONDecoder):
    """A `json.JSONDecoder` for Django's forms.JSONField (`decoder=`), as in the admin: text too
    deep or with a lone surrogate is a JSONDecodeError, which the form shows as invalid JSON
    instead of a RecursionError (500)."""

    def decode(self, s, *args, **kwargs):
        try:
            return json_loads(s)
        except JSONBodyError as error:
            raise json.JSONDecodeError(str(error), s, 0) from None
