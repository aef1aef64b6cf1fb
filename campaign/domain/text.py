"""Pure text helpers shared by every standardizer.

Why this module exists: Vietnamese names reach us NFC or NFD, in two tone-placement styles (hoà / hòa,
thuý / thúy) that NFC does not unify, with or without diacritics, with spellings such as K'Bang / KBang /
Kbang or H'Blang / H Blang, and with stray non-breaking or zero-width spaces. Display keeps the
diacritics (`nfc`, `collapse_spaces`, `normalize_tone_placement`); comparison uses one key, `fold`.

Every scalar function takes any value and never raises: None / NaN / pd.NA become "" and other non-str
values are formatted with `str()`. `fold_series` keeps missing values missing.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "collapse_spaces",
    "exact_key",
    "fold",
    "fold_series",
    "has_diacritics",
    "nfc",
    "normalize_tone_placement",
]

# Tone marks (the five Vietnamese tones) and the "hat" marks that make base letters (â ă ê ô ơ ư).
TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")  # grave, acute, tilde, hook above, dot below
HAT_MARKS = frozenset("\u0302\u0306\u031b")  # circumflex, breve, horn

_ZERO_WIDTH = {0x200B: None, 0x200C: None, 0x200D: None, 0x2060: None, 0xFEFF: None, 0x00AD: None}
_APOSTROPHES = "'\u2019\u2018\u201b`\u00b4\u02bc\u02bb\u02b9\u2032\uff07"
_HYPHENS = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"
_SPACE_RE = re.compile(r"\s+")
_WORD_RE = re.compile(r"[^\W\d_]+")


def _as_text(value: Any) -> str:
    """Coerce anything to str without raising: missing values (None, NaN, NaT, pd.NA) become ""."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):  # array-likes: fall through to str()
        pass
    try:
        return str(value)
    except Exception:  # a hostile __str__: still never raise
        return ""


def nfc(s: Any) -> str:
    """Unicode NFC: the storage form. Files arrive NFD (macOS, cp1258 CSVs) and NFC alike."""
    s = _as_text(s)
    return s if s.isascii() else unicodedata.normalize("NFC", s)


def collapse_spaces(s: Any) -> str:
    """One ASCII space between words, none at the ends; zero-width characters and soft hyphens removed.

    Excel cells carry non-breaking spaces, tabs, line breaks and zero-width spaces pasted from the web."""
    s = _as_text(s)
    if not s.isascii():
        s = s.translate(_ZERO_WIDTH)
    return _SPACE_RE.sub(" ", s).strip()


# ---------------------------------------------------------------------------------------------------------
# fold: the comparison key
# ---------------------------------------------------------------------------------------------------------


def _build_fold_table() -> dict[int, str | None]:
    """Map precomposed Latin letters straight to their lowercase ASCII base (one C-level translate call
    does what NFD + filtering + lower would do per character in Python)."""
    table: dict[int, str | None] = {cp: chr(cp + 32) for cp in range(0x41, 0x5B)}  # A-Z -> a-z
    for start, end in ((0x00C0, 0x0250), (0x1E00, 0x1F00)):
        for cp in range(start, end):
            ch = chr(cp)
            base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
            if base and base != ch and base.isascii() and base.isalpha():
                table[cp] = base.lower()
    for ch in "đĐðÐ\u0189":  # đ, and the eth / African D look-alikes typed for it by old keyboards
        table[ord(ch)] = "d"
    for cp in range(0x0300, 0x0370):  # combining marks (NFD input)
        table[cp] = None
    for cp in (0x1AB0, 0x1DC0, 0x20D0, 0xFE20):  # other combining blocks, first 16 of each are enough
        for i in range(16):
            table[cp + i] = None
    table.update(_ZERO_WIDTH)
    for ch in _APOSTROPHES:
        table[ord(ch)] = "'"
    for ch in _HYPHENS:
        table[ord(ch)] = "-"
    return table


_FOLD_TABLE = _build_fold_table()
_MARKS_KEPT_TABLE = {ord(c): "'" for c in _APOSTROPHES} | {ord(c): "-" for c in _HYPHENS} | _ZERO_WIDTH
# An apostrophe (and the space typed after it: "K' Dang") joins: K'Bang = KBang.
_APOS_RE = re.compile(r"'\s*")
_PUNCT_RE = re.compile(r"[^\w\s]|_")
_CONSONANTS = frozenset("bcdfghjklmnpqrstvwxzđ")


def _join_lone_consonants(tokens: list[str]) -> list[str]:
    """A one-consonant word joins the word after it: "H Blang" = "H'Blang" = "HBlang", "T.P" = "TP".
    Vietnamese syllables always hold a vowel, so such a word is an ethnic-name prefix (H', K') or an
    initial; Y is a vowel and stays apart ("Y Moan")."""
    out: list[str] = []
    i, n = 0, len(tokens)
    while i < n:
        tok = tokens[i]
        if len(tok) == 1 and tok in _CONSONANTS and i + 1 < n and tokens[i + 1][0].isalpha():
            out.append(tok + tokens[i + 1])
            i += 2
        else:
            out.append(tok)
            i += 1
    return out


def _tidy(t: str) -> str:
    """Shared tail of `fold` and `exact_key`: apostrophes join, other punctuation (hyphens, dots...)
    becomes a space, lone consonants join ("K-Bang" = "K Bang" = "KBang"), single spaces. Idempotent."""
    if "'" in t:
        t = _APOS_RE.sub("", t)
    if not t.replace(" ", "").isalnum():
        t = _PUNCT_RE.sub(" ", t)
    tokens = t.split()
    if any(len(tok) == 1 for tok in tokens):
        tokens = _join_lone_consonants(tokens)
    return " ".join(tokens)


def _fold_slow(s: str) -> str:
    """Non-Latin leftovers (full-width forms, ligatures, other scripts): compatibility-decompose, drop
    marks, casefold, then the table again for apostrophes and hyphens."""
    s = "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))
    return s.casefold().translate(_FOLD_TABLE)


def fold(s: Any) -> str:
    """The comparison key: no diacritics (so tone placement no longer matters), đ -> d, lowercase,
    apostrophes removed and lone consonants joined to the next word (K'Bang = KBang = Kbang = K-Bang,
    H'Blang = H Blang), hyphens, dots and other punctuation as spaces, single spaces. Idempotent and
    never raises."""
    s = _as_text(s)
    if not s:
        return ""
    t = s.translate(_FOLD_TABLE)
    if not t.isascii():
        t = _fold_slow(t)
    return _tidy(t)


def exact_key(s: Any) -> str:
    """Like `fold` but keeps the diacritics: NFC, one tone-placement style, casefolded, same apostrophe,
    prefix and punctuation rules. Two strings with the same key are the same name as written."""
    s = collapse_spaces(normalize_tone_placement(s)).casefold()
    if not s:
        return ""
    return _tidy(s.translate(_MARKS_KEPT_TABLE))


def fold_series(values: Any) -> pd.Series:
    """`fold` over a column, computed once per distinct value and mapped back (a 1M-row column has a few
    tens of thousands of distinct names: the per-row cost is one hash lookup). Missing values stay
    missing; other non-str values are folded as `str(value)`. Returns a Series of the pandas string
    dtype with the input's index and name."""
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    codes, uniques = _factorize(s)
    folded = np.empty(len(uniques) + 1, dtype=object)
    folded[:-1] = [fold(u) for u in uniques]
    folded[-1] = np.nan  # code -1 (missing) picks the last slot
    return pd.Series(folded[codes], index=s.index, name=s.name, dtype="str")


def _factorize(s: pd.Series) -> tuple[np.ndarray, Any]:
    """Codes (-1 for missing) and distinct values of a column; categoricals reuse their codes, columns
    holding unhashable objects are formatted with `str()` first instead of raising."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.cat.codes.to_numpy(), s.cat.categories
    try:
        return pd.factorize(s, use_na_sentinel=True)
    except TypeError:
        cleaned = pd.Series([None if _is_missing(v) else _as_text(v) for v in s], dtype=object)
        return pd.factorize(cleaned, use_na_sentinel=True)


def _is_missing(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------------------
# Diacritics and tone placement
# ---------------------------------------------------------------------------------------------------------


def has_diacritics(s: Any) -> bool:
    """True when the text carries any Vietnamese mark (tone, hat) or đ. Lookups trust exact matches only
    for text that has them: "Ia Bang" may be a typist's "Ia Băng"."""
    s = _as_text(s)
    if s.isascii():
        return False
    return any(unicodedata.combining(c) or c in "đĐ" for c in unicodedata.normalize("NFD", s))


_VOWELS = frozenset("aeiouy")
# Nuclei whose tone sits on the first vowel in the classic style (hòa, khỏe, thủy) and on the second in
# the "new" style (hoà, khoẻ, thuỷ), when no final consonant follows. Everywhere else both styles agree.
_STYLE_DEPENDENT = frozenset({"oa", "oe", "uy"})


def _retone_word(m: re.Match[str]) -> str:
    word = m.group(0)
    if word.isascii() or len(word) < 2:
        return word
    # Cheap test first: only words ending in o/u + a/e/y can depend on the style.
    if word[-1].translate(_FOLD_TABLE) not in "aey" or word[-2].translate(_FOLD_TABLE) not in "ou":
        return word
    parts = []  # (base letter incl. hat, tone mark or "")
    for ch in word:
        d = unicodedata.normalize("NFD", ch)
        tone = "".join(c for c in d if c in TONE_MARKS)
        base = unicodedata.normalize("NFC", "".join(c for c in d if c not in TONE_MARKS))
        parts.append((base, tone))
    n = len(parts)
    if n < 2 or sum(1 for _, t in parts if t) != 1:
        return word
    # The word must end with the two-vowel nucleus (no final consonant), e.g. h-oà, th-uý, kh-oẻ.
    first, second = parts[-2], parts[-1]
    nucleus = (first[0] + second[0]).lower()
    if nucleus not in _STYLE_DEPENDENT or second[1] == "":
        return word
    if n >= 3 and (parts[-3][0].lower() in _VOWELS or parts[-3][0].lower() == "q"):
        return word  # a longer vowel run (ngoài...) or qu- (quý: u belongs to the initial)
    if n >= 3 and parts[-3][0].lower() == "g" and nucleus.startswith("i"):
        return word
    head = "".join(b + t for b, t in parts[:-2])  # no tone there: the word has exactly one
    return unicodedata.normalize("NFC", head + first[0] + second[1] + second[0])


def normalize_tone_placement(s: Any) -> str:
    """NFC text with one tone-placement style, the classic one (hòa, khỏe, thủy: the majority of the GSO
    names, 619 against 116), diacritics kept. Used to compare names as displayed."""
    s = nfc(s)
    if s.isascii():
        return s
    return _WORD_RE.sub(_retone_word, s)
