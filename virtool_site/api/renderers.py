"""JSON rendered by orjson, byte for byte what DRF's JSONRenderer renders.

DRF's renderer (`json.dumps` with its encoder) costs as much as building a small answer; orjson
renders the same documents in a fraction of the time. The bytes are the contract, so this
renderer keeps DRF's choices: compact separators, UTF-8 without `\\u` escapes except U+2028 and
U+2029, DRF's encoder for what JSON has no type for (datetimes with `Z`, decimals, lazy strings,
querysets...), and Python's spelling of floats. Where orjson would write something else, or
cannot write the data at all, the answer is rendered by DRF's renderer instead:

- indented output (`Accept: application/json; indent=4`, the browsable API);
- floats below 1e-4 in magnitude, which Python writes with an exponent of at least two digits
  (`1e-05`, `1.5e-07`) and orjson without (`0.00001`, `1.5e-7`). Their marks in orjson's output
  (`0.0000` or a one-digit negative exponent) are looked for; a match inside a string only
  costs the slower path;
- anything orjson refuses (integers past 64 bits, keys that are not strings, unknown types).

Non-finite floats, which DRF's strict renderer refuses with an error, come out as `null`.

An answer may carry parts that are already JSON text (`JsonText`: a large part stored when it
was written, e.g. an index's changed OTUs): orjson copies them in unchanged; DRF's renderer,
when it is the one used, decodes and writes them again, which gives the same bytes for text
that orjson wrote from plain values.

`BrowsableAPIRenderer` is DRF's (Accept: text/html), whose forms are a convenience: where a
view cannot describe one (the method's permission answers Virtool's 403, a view without
`serializer_class` or `queryset`), the page shows no form instead of failing with a 500.
"""

import json
import re

import orjson
from django.core.exceptions import ImproperlyConfigured
from rest_framework import renderers
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

from virtool_site.errors import ApplicationError

# orjson's spellings of a float that Python spells differently (see the module docstring):
# `0.0000` not after a digit or a dot, and `e-` and one digit after a digit. Searched for as
# literals (fast) and checked around each match.
_ZEROS = re.compile(rb"0\.0000")
_EXPONENT = re.compile(rb"e-[0-9]")
_DIGITS = frozenset(b"0123456789")
_DIGITS_AND_DOT = frozenset(b"0123456789.")


def _python_spells_otherwise(rendered: bytes) -> bool:
    for match in _ZEROS.finditer(rendered):
        start = match.start()
        if start == 0 or rendered[start - 1] not in _DIGITS_AND_DOT:
            return True
    for match in _EXPONENT.finditer(rendered):
        start, end = match.start(), match.end()
        if start and rendered[start - 1] in _DIGITS and (end == len(rendered) or rendered[end] not in _DIGITS):
            return True
    return False


_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class JsonText:
    """A part of an answer that is already JSON text (str or bytes), written as it is."""

    __slots__ = ("text",)

    def __init__(self, text: str | bytes):
        self.text = text


class Encoder(JSONEncoder):
    """DRF's encoder, which also writes `JsonText` (decoded, for `json.dumps` to write again)."""

    def default(self, obj):
        if isinstance(obj, JsonText):
            return json.loads(obj.text)
        return super().default(obj)


def _orjson_default(obj, _drf=Encoder().default):
    if isinstance(obj, JsonText):
        return orjson.Fragment(obj.text)
    return _drf(obj)


class OrjsonRenderer(JSONRenderer):
    """DRF's JSONRenderer, rendering with orjson where the bytes come out the same."""

    encoder_class = Encoder

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if not self.compact or self.ensure_ascii or self.get_indent(accepted_media_type, renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        try:
            rendered = orjson.dumps(data, default=_orjson_default, option=_OPTIONS)
        except (orjson.JSONEncodeError, ValueError, TypeError):
            return super().render(data, accepted_media_type, renderer_context)
        if _python_spells_otherwise(rendered):
            return super().render(data, accepted_media_type, renderer_context)
        if b"\xe2\x80\xa8" in rendered or b"\xe2\x80\xa9" in rendered:
            rendered = rendered.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
        return rendered


#: What a view raises when it cannot describe a form: DRF's configuration asserts, Django's.
_NO_FORM = (AssertionError, ImproperlyConfigured, ApplicationError)


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's browsable API; a form the view cannot describe is left out (module docstring)."""

    def show_form_for_method(self, view, method, request, obj):
        try:
            return super().show_form_for_method(view, method, request, obj)
        except ApplicationError:  # a permission refusing with Virtool's error, not DRF's
            return False

    def get_rendered_html_form(self, data, view, method, request):
        try:
            return super().get_rendered_html_form(data, view, method, request)
        except _NO_FORM:
            return None

    def get_raw_data_form(self, data, view, method, request):
        try:
            return super().get_raw_data_form(data, view, method, request)
        except _NO_FORM:
            return None

    def get_filter_form(self, data, view, request):
        try:
            return super().get_filter_form(data, view, request)
        except _NO_FORM:
            return None
