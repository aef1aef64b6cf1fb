"""People's names and free text.

Names (`full_name`, `person_in_charge`): NFC, invisible characters removed, spaces collapsed, diacritics
kept; title-cased only when the whole name is written in one case ("NGUYỄN VĂN AN", "nguyễn văn an" ->
"Nguyễn Văn An"; "Ksor H'Blang" stays). `name_invalid` (row) for digits, a formula character at the
start (= + - @), markup (`<b>`, `<script>`, `&lt;`), control characters, no letter at all, or a name
longer than the column allows; `name_missing` (row) for a missing required name.

Free text: the same cleaning with control characters turned into spaces; `value_invalid` when longer
than the column allows, `value_missing` when required and missing.
"""

from __future__ import annotations

import re
import unicodedata

import pandas as pd

from ._base import FieldResult, distinct_str_field, squash

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_MARKUP = re.compile(r"<\s*/?\s*[^\W\d_][^<>]*>|<\s*/?\s*>|&(?:#\d+|#x[0-9a-f]+|[a-z]+);", re.IGNORECASE)
_FORMULA_START = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_DIGIT = re.compile(r"[\d\u00b2\u00b3\u00b9\u2070-\u2079\u2080-\u2089\u2460-\u249b\u24ea-\u24ff]")
_LETTER = re.compile(r"[^\W\d_]")


_CLEAN_NAME = re.compile(r"[^\W\d_]+(?:(?:'|’| |-)[^\W\d_]+)*")


def _clean_name(text: str, max_length: int | None) -> tuple[str | None, str | None]:
    # fast path: a name already in its display form (letters, single spaces, mixed case, NFC)
    if (
        _CLEAN_NAME.fullmatch(text)
        and not (text.isupper() or text.islower())
        and (max_length is None or len(text) <= max_length)
        and unicodedata.is_normalized("NFC", text)
    ):
        return text, None
    if _CONTROL.search(text) or _SURROGATE.search(text):
        return None, "name_invalid"
    name = squash(text)
    if not name:
        return None, "missing"
    if (
        name.startswith(_FORMULA_START)
        or not name.isprintable()  # control, format, private-use, unassigned characters
        or _DIGIT.search(name)
        or ("<" in name or "&" in name)
        and _MARKUP.search(name)
        or not _LETTER.search(name)
        or (max_length is not None and len(name) > max_length)
    ):
        return None, "name_invalid"
    if name.isupper() or name.islower():
        name = name.title()
    return name, None


def clean_text_value(text: str, max_length: int | None) -> tuple[str | None, str | None]:
    if _SURROGATE.search(text):
        return None, "value_invalid"
    if _CONTROL.search(text):
        text = _CONTROL.sub(" ", text)
    value = squash(text)
    if not value:
        return None, "missing"
    if max_length is not None and len(value) > max_length:
        return None, "value_invalid"
    return value, None


def clean_names(series: pd.Series, *, required: bool = True, max_length: int | None = None) -> FieldResult:
    """People's names -> display form (see module doc)."""
    return distinct_str_field(
        series, lambda t: _clean_name(t, max_length), "name_missing" if required else None
    )


def clean_text(series: pd.Series, *, required: bool = False, max_length: int | None = None) -> FieldResult:
    """Free text -> NFC, single spaces, no control characters (see module doc)."""
    return distinct_str_field(
        series, lambda t: clean_text_value(t, max_length), "value_missing" if required else None
    )
