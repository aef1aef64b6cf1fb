"""A district's heading as the set of words it means: folded (no diacritics, `đ` -> `d`, lower case, `(*)`
and hints in brackets dropped unless nothing else is left, punctuation as spaces), its phrases turned into
the concepts of config/headings.yaml ("Số CCCD/CMND" and "SỐ CMND/CCCD/HỘ CHIẾU" are both {@id}), filler
words dropped; and `words_score`, how well one set fits another (docs/reading-columns.md). Used by the
header matcher (campaign/io/headers.py). Pure functions; the vocabulary is read once.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from campaign.config_kinds import load_heading_vocabulary
from campaign.domain.text import fold

PARENS = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|\([^()]*$")  # an unclosed "(" runs to the end
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_SPACES = re.compile(r"\s+")


# ---------------------------------------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------------------------------------


def clean_label(s: str) -> str:
    """The header text as shown back to a district: one line, single spaces, NFC."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", str(s))).strip()


def _key(s: str) -> str:
    return _NON_ALNUM.sub(" ", fold(s)).strip()


# ---------------------------------------------------------------------------------------------------------
# Headings as sets of words (config/headings.yaml)
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Vocabulary:
    phrases: dict[tuple[str, ...], str | None]   # folded words -> concept ("@id"), None: filler
    longest: int
    extra: dict[str, dict[str, list[str]]]
    first_part: frozenset[frozenset[str]]        # word sets of "Họ" / "Họ và tên đệm" (split names)
    last_part: frozenset[frozenset[str]]         # ... and of "Tên"


@functools.cache
def vocabulary() -> _Vocabulary:
    vocab = load_heading_vocabulary()
    phrases: dict[tuple[str, ...], str | None] = {}
    for phrase in vocab.filler:
        phrases[tuple(_key(phrase).split())] = None
    for concept, forms in vocab.concepts.items():
        for form in forms:
            phrases[tuple(_key(form).split())] = concept   # a concept wins over a filler of the same words
    phrases.pop((), None)
    longest = max(map(len, phrases), default=1)
    v = _Vocabulary(phrases, longest, {k: dict(c) for k, c in vocab.extra.items()}, frozenset(), frozenset())
    first = frozenset(_words_of(v, _key(t).split()) if not t.startswith("@") else frozenset({t})
                      for t in vocab.name_parts.first)
    last = frozenset(_words_of(v, _key(t).split()) for t in vocab.name_parts.last)
    return _Vocabulary(phrases, longest, v.extra, first, last)


def _words_of(vocab: _Vocabulary, tokens: list[str]) -> frozenset[str]:
    """Tokens -> the heading's set of words: phrases become their concept (longest first, left to right),
    filler words are dropped."""
    out: set[str] = set()
    i, n = 0, len(tokens)
    while i < n:
        for size in range(min(vocab.longest, n - i), 0, -1):
            phrase = tuple(tokens[i:i + size])
            if phrase in vocab.phrases:
                concept = vocab.phrases[phrase]
                if concept is not None:
                    out.add(concept)
                i += size
                break
        else:
            out.add(tokens[i])
            i += 1
    return frozenset(out)


@functools.lru_cache(maxsize=65536)
def heading_words(text: str) -> frozenset[str]:
    """The set of words a heading means ("SỐ CMND/CCCD/HỘ CHIẾU" -> {"@id"}): hints in brackets left out
    unless nothing else is left."""
    vocab = vocabulary()
    s = clean_label(text).replace("*", " ").rstrip(" :.;")
    for key in (_key(PARENS.sub(" ", s)), _key(s)):
        words = _words_of(vocab, key.split())
        if words:
            return words
    return frozenset()


QUALIFIERS = frozenset({"them", "bo", "sung", "chi", "tiet", "hien", "nay", "tai", "moi", "chinh", "day", "du",
                        "lien", "lac", "ca", "nhan", "rieng"})


def _digits(words: frozenset[str]) -> frozenset[str]:
    return frozenset(w.lstrip("0") or "0" for w in words if w.isdigit())


def words_score(heading: frozenset[str], known: frozenset[str]) -> float:
    """How well a heading's words fit a known heading's: 1 the same set; the share of words in common
    when one set holds the other (at least half of the larger); 0 otherwise. Numbers must agree."""
    if not heading or not known or _digits(heading) != _digits(known):
        return 0.0
    if heading == known:
        return 1.0
    common = len(heading & known)
    if not common:
        return 0.0
    score = common / len(heading | known)
    if heading <= known or known <= heading:
        # one holds the other: a lone generic word must still carry a concept or be one of two ("Tỉnh" is
        # not "Máy tính hiện có"); a heading saying more than a known one by one shared word only fits when
        # what it adds only qualifies it ("Ghi chú thêm" is a note; "Nhóm máu", "Người liên hệ" are not)
        if score < 0.5 or not (any(w.startswith("@") for w in heading & known) or common >= 2):
            return 0.0
        if common == 1 and not known >= heading and not (heading - known) <= QUALIFIERS:
            return 0.0
        return 0.99 * score
    return 0.9 * score if score >= 0.6 else 0.0
