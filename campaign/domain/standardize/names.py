"""People's names and free text.

Names (`full_name`, `person_in_charge`): NFC, invisible characters removed, spaces collapsed, diacritics
kept; title-cased only when the whole name is written in one case ("NGUYỄN VĂN AN", "nguyễn văn an" ->
"Nguyễn Văn An"; "Ksor H'Blang" stays). Full-width and "font" letters (ＮＧＵＹỄＮ, 𝐀𝐧, pasted from
phones and social media) become plain letters, by their compatibility mapping only where that mapping is
a letter (NFKC as a whole would also turn a spacing accent "´" into a space and a loose combining mark,
which would then compose with whatever it follows), then NFC again; a byte-order mark or zero-width space
between two words becomes a space (it was a word break: "Nguyễn\ufeffVăn" is two words), the other
invisible characters go. `name_invalid` (row) for digits, a formula character at the start (= + - @),
markup (`<b>`, `<script>`, `&lt;`), control characters, no letter at all, or a name longer than the column
allows; `name_has_symbols` (row) for emoji and other symbols that are no part of a name (only letters,
their marks, spaces and ' ’ - . , ( ) are); `name_missing` (row) for a missing required name.

Free text: the same cleaning (word breaks too) with control characters turned into spaces;
`value_invalid` when longer than the column allows, `value_missing` when required and missing.
"""

from __future__ import annotations

import functools
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
# a byte-order mark or zero-width space inside a text was a word break (two cells or lines joined)
_WORD_BREAKS = str.maketrans({"\ufeff": " ", "\u200b": " "})
# besides letters and their marks, what names are written with ("Ksor H'Blang", "Nguyễn T. An")
_NAME_PUNCTUATION = frozenset(" '’ʼ‘-‐‑.,()")
_EMOJI_PARTS = re.compile("[\ufe00-\ufe0f\u20e3\U000e0020-\U000e007f\U000e0100-\U000e01ef]")
_COMPAT_TAGS = ("<wide>", "<narrow>", "<font>", "<compat>")
_COMPAT_RANGES = ((0x2100, 0x2150), (0xFB00, 0xFB07), (0xFF00, 0xFFF0), (0x1D400, 0x1D800))


@functools.cache
def _letter_forms() -> dict[int, str]:
    """{full-width / font / ligature letter: its plain letters}: NFKC of the characters whose
    compatibility mapping is made of letters only (built once: ~1,150 entries, under a millisecond)."""
    out: dict[int, str] = {}
    for lo, hi in _COMPAT_RANGES:
        for cp in range(lo, hi):
            ch = chr(cp)
            if unicodedata.decomposition(ch).startswith(_COMPAT_TAGS):
                plain = unicodedata.normalize("NFKC", ch)
                if plain != ch and plain.isalpha():
                    out[cp] = plain
    out.update({0x3000: " ", 0xFF07: "'", 0xFF0D: "-", 0xFF0E: ".", 0xFF0C: ",", 0xFF08: "(", 0xFF09: ")"})
    return out


def plain_letters(text: str) -> str:
    """Full-width and font letters as plain letters, word breaks as spaces (see the module doc)."""
    if text.isascii():
        return text
    return text.translate(_WORD_BREAKS).translate(_letter_forms())


def has_symbols(name: str) -> bool:
    """Does a cleaned name hold something that is no part of a name: an emoji (or its selectors), a
    symbol (™ ★ ♥ ✓ $ ^ ~), other punctuation (! ? # * / :)?"""
    if _EMOJI_PARTS.search(name):
        return True
    return any(not (ch.isalpha() or ch in _NAME_PUNCTUATION or unicodedata.category(ch)[0] == "M") for ch in name)


def _clean_name(text: str, max_length: int | None) -> tuple[str | None, str | None]:
    # fast path: a name already in its display form (letters, single spaces, mixed case, NFC, and no
    # full-width or font letters: NFKC-normalized too)
    if (
        _CLEAN_NAME.fullmatch(text)
        and not (text.isupper() or text.islower())
        and (max_length is None or len(text) <= max_length)
        and unicodedata.is_normalized("NFKC", text)
    ):
        return text, None
    if _CONTROL.search(text) or _SURROGATE.search(text):
        return None, "name_invalid"
    name = squash(plain_letters(text))
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
    if has_symbols(name):
        return None, "name_has_symbols"
    if name.isupper() or name.islower():
        name = name.title()
    return name, None


def clean_text_value(text: str, max_length: int | None) -> tuple[str | None, str | None]:
    if _SURROGATE.search(text):
        return None, "value_invalid"
    if _CONTROL.search(text):
        text = _CONTROL.sub(" ", text)
    value = squash(text if text.isascii() else text.translate(_WORD_BREAKS))
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
