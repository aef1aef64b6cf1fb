"""Header recognition: which row(s) of a district sheet hold the header, and which column is which.

Matching works on a *key*: the header text folded (no diacritics, `đ` -> `d`, lower case), without `(*)`,
line breaks, trailing `:`/`.`, every other punctuation turned into a space. Each header cell yields two
keys: the full one and the one without parenthesised notes ("Giới tính (*) (0: nam, 1: nữ)" ->
"gioi tinh 0 nam 1 nu" and "gioi tinh"). A cell matches a column when one of its keys equals the key of
the column's Vietnamese header, canonical name (rank 3) or an alias (rank 2); the full key is tried
before the stripped one, so the more specific reading wins. Nothing fuzzier: "Ghi chú thêm" is not
"Ghi chú", it is reported as unmapped (never guess silently). Two cells claiming one column: the better
rank wins, then the longer key, then the leftmost cell; the loser is reported as unmapped.

Two-row merged headers ("Mũi 1" above "Tên vắc xin | Ngày tiêm | ..."): the parent is carried across its
span (the merged range when the workbook says so, else across the empty parent cells above labelled
children) and each column is matched as "parent child", then "child parent", then child alone, then
parent alone.

Pure functions over lists of strings; no I/O.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field

from campaign.config import KindSpec

HEADER_SCAN_ROWS = 30          # rows examined at the top of a sheet
MIN_HEADER_SCORE = 2           # a header row maps at least this many columns of the kind

RANK_EXACT, RANK_ALIAS = 3, 2

NUMBERING_KEYS = frozenset({"stt", "tt", "so tt", "so thu tu", "thu tu", "no", "s tt"})
NUMBERING_RAW = frozenset({"#", "no.", "no", "№", "n°", "n0"})
MALE_RAW = frozenset({"nam", "male"})
FEMALE_RAW = frozenset({"nữ", "nu", "nư", "female"})

_PARENS = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|\([^()]*$")  # an unclosed "(" runs to the end
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_SPACES = re.compile(r"\s+")


# ---------------------------------------------------------------------------------------------------------
# Folding (the colleague's campaign.domain.text.fold when present; an equivalent fallback otherwise)
# ---------------------------------------------------------------------------------------------------------


def _fallback_fold(s: str) -> str:
    s = unicodedata.normalize("NFD", s.replace("đ", "d").replace("Đ", "D"))
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    return _SPACES.sub(" ", s).strip().lower()


@functools.cache
def _fold_function():
    try:
        from campaign.domain.text import fold  # type: ignore[attr-defined]
    except Exception:  # not written yet, or broken: the fallback folds the same way for headers
        return _fallback_fold
    return fold


def fold(s: str) -> str:
    out = _fold_function()(s)
    return out if isinstance(out, str) else _fallback_fold(s)


# ---------------------------------------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------------------------------------


def clean_label(s: str) -> str:
    """The header text as shown back to a district: one line, single spaces, NFC."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", str(s))).strip()


def _key(s: str) -> str:
    return _NON_ALNUM.sub(" ", fold(s)).strip()


@functools.lru_cache(maxsize=65536)
def header_keys(text: str) -> tuple[str, ...]:
    """The keys of one header text, most specific first (full, then without parenthesised notes)."""
    s = clean_label(text).replace("*", " ")
    s = s.rstrip(" :.;")
    full = _key(s)
    stripped = _key(_PARENS.sub(" ", s))
    keys = [k for k in dict.fromkeys((full, stripped)) if k]
    return tuple(keys)


def is_numbering_header(text: str) -> bool:
    raw = clean_label(text).lower()
    if raw in NUMBERING_RAW:
        return True
    keys = header_keys(text)
    return bool(keys) and keys[-1] in NUMBERING_KEYS


def sex_mark_role(text: str) -> str | None:
    """"Nam" / "Nữ" as a header of its own (a mark column): 'male' / 'female'. "Năm" is not "Nam"."""
    raw = clean_label(text).lower().rstrip(" :.")
    raw = re.sub(r"\s*\(\*\)\s*", "", raw)
    if raw in MALE_RAW:
        return "male"
    if raw in FEMALE_RAW:
        return "female"
    return None


# ---------------------------------------------------------------------------------------------------------
# Matching one header text against one kind
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    column: str
    rank: int
    length: int     # length of the matched key: longer = more specific


class KindMatcher:
    """Header keys of one kind's columns."""

    def __init__(self, spec: KindSpec):
        self.spec = spec
        self.exact: dict[str, tuple[str, int]] = {}
        for col in spec.columns:
            sources = [(col.header, RANK_EXACT), (col.name.replace("_", " "), RANK_EXACT)]
            sources += [(a, RANK_ALIAS) for a in col.aliases]
            for text, rank in sources:
                for i, key in enumerate(header_keys(text)):
                    r = rank if i == 0 else min(rank, RANK_ALIAS)
                    have = self.exact.get(key)
                    if have is None or have[1] < r:
                        self.exact[key] = (col.name, r)
        self.required = [c.name for c in spec.columns if c.required]
        self.has_sex = any(c.name == "sex" for c in spec.columns)
        self.birth_column = "birth_date" if any(c.name == "birth_date" for c in spec.columns) else None

    def match_key(self, key: str) -> Match | None:
        hit = self.exact.get(key)
        if hit is not None:
            return Match(hit[0], hit[1], len(key))
        return None

    def match(self, *texts: str) -> Match | None:
        """The best match of the first text that matches at all (texts in order of preference)."""
        keys = [k for t in texts if t for k in header_keys(t)]
        for k in keys:
            m = self.match_key(k)
            if m is not None:
                return m
        return None


_MATCHERS: dict[int, tuple[KindSpec, KindMatcher]] = {}


def matcher_for(spec: KindSpec) -> KindMatcher:
    """The matcher of a kind spec (cached per spec object; specs are frozen)."""
    hit = _MATCHERS.get(id(spec))
    if hit is None or hit[0] is not spec:
        if len(_MATCHERS) > 256:
            _MATCHERS.clear()
        hit = (spec, KindMatcher(spec))
        _MATCHERS[id(spec)] = hit
    return hit[1]


# ---------------------------------------------------------------------------------------------------------
# Header layouts
# ---------------------------------------------------------------------------------------------------------

DATA, NUMBERING, SEX_MALE, SEX_FEMALE, UNMAPPED, EMPTY = "data", "numbering", "sex_male", "sex_female", "unmapped", "empty"


@dataclass
class HeaderColumn:
    index: int                 # 0-based column of the sheet grid
    label: str                 # what the district's header says ("Mũi 1 - Tên vắc xin"); "" when empty
    role: str                  # data | numbering | sex_male | sex_female | unmapped | empty
    column: str | None = None  # canonical column (role data)
    rank: int = 0
    key_length: int = 0
    texts: tuple[str, ...] = ()  # the raw header cell texts of this column (for header-repeat detection)


@dataclass
class HeaderLayout:
    kind: str
    rows: list[int]                             # 0-based grid rows of the header (1 or 2)
    columns: list[HeaderColumn]
    mapping: dict[str, int] = field(default_factory=dict)   # canonical -> grid column
    sex_marks: tuple[int, int] | None = None    # (male column, female column) when sex comes from marks
    sex_marks_hold_birth_date: bool = False     # "Ngày sinh" above "Nam | Nữ": the mark is the date
    score: int = 0
    missing_required: list[str] = field(default_factory=list)
    required_total: int = 0
    child_cells: int = 0                        # two-row header: labelled cells of the lower row...
    child_used: int = 0                         # ... how many of them name a column
    parent_used: int = 0                        # ... and how many cells of the upper row do

    @property
    def required_found(self) -> int:
        return self.required_total - len(self.missing_required)

    @property
    def complete(self) -> bool:
        return not self.missing_required

    def sort_key(self) -> tuple:
        return (-self.score, self.rows[0])


def _norm_cell(v: object) -> str:
    if v is None:
        return ""
    s = str(v)
    return s if s.strip() else ""


def _fill_parents(parent: list[str], child: list[str], spans: list[tuple[int, int]] | None) -> list[str]:
    """Carry each parent label across the columns it spans."""
    out = list(parent)
    if spans:
        for c0, c1 in spans:
            if c0 < len(out) and out[c0]:
                for j in range(c0 + 1, min(c1, len(out) - 1) + 1):
                    if not out[j]:
                        out[j] = out[c0]
        return out
    last: str | None = None
    for j in range(len(out)):
        if out[j]:
            last = out[j]
        elif last is not None and child[j] and j > 0 and child[j - 1]:
            out[j] = last
        else:
            last = None
    return out


def _layout(kind: str, matcher: KindMatcher, rows: list[int], parents: list[str], children: list[str] | None,
            raw_parent: list[str], raw_child: list[str] | None) -> HeaderLayout:
    width = len(parents)
    cols: list[HeaderColumn] = []
    birth_parent_cols: set[int] = set()
    child_cells = child_used = parent_used = 0
    for j in range(width):
        p = parents[j]
        c = children[j] if children is not None else ""
        child_cells += bool(c)
        texts = tuple(t for t in (raw_parent[j], raw_child[j] if raw_child is not None else "") if t)
        label = f"{clean_label(p)} - {clean_label(c)}" if p and c and p != c else clean_label(c or p)
        if not label:
            cols.append(HeaderColumn(j, "", EMPTY, texts=texts))
            continue
        role_text = c or p
        sex_role = sex_mark_role(role_text) if matcher.has_sex else None
        if sex_role is not None:
            child_used += bool(c)
            parent_used += not c
            cols.append(HeaderColumn(j, label, SEX_MALE if sex_role == "male" else SEX_FEMALE, texts=texts))
            if p and c and matcher.birth_column:
                pm = matcher.match(p)
                if pm is not None and pm.column == matcher.birth_column:
                    birth_parent_cols.add(j)
            continue
        if is_numbering_header(role_text) and matcher.match(role_text) is None:
            parent_used += not c
            cols.append(HeaderColumn(j, label, NUMBERING, texts=texts))
            continue
        if p and c and p != c:
            mp, mc = matcher.match(p), matcher.match(c)
            m = matcher.match(f"{p} {c}", f"{c} {p}")
            if m is not None and (mp is None or mp.column != m.column):
                child_used += 1                    # "Mũi 1" + "Tên vắc xin": both rows needed
                parent_used += mc is None or mc.column != m.column
            elif mc is not None:
                m = mc
                child_used += 1
            else:
                m = mp
        else:
            m = matcher.match(role_text)
            if m is not None:
                if c:
                    child_used += 1
                else:
                    parent_used += 1
        if m is None:
            cols.append(HeaderColumn(j, label, UNMAPPED, texts=texts))
        else:
            cols.append(HeaderColumn(j, label, DATA, m.column, m.rank, m.length, texts=texts))

    # one cell per canonical column: best rank, then longest key, then leftmost
    best: dict[str, HeaderColumn] = {}
    for hc in cols:
        if hc.role != DATA:
            continue
        cur = best.get(hc.column)  # type: ignore[arg-type]
        if cur is None or (hc.rank, hc.key_length) > (cur.rank, cur.key_length):
            best[hc.column] = hc  # type: ignore[index]
    for hc in cols:
        if hc.role == DATA and best[hc.column] is not hc:  # type: ignore[index]
            hc.role, hc.column = UNMAPPED, None
    mapping = {name: hc.index for name, hc in best.items()}

    layout = HeaderLayout(kind=kind, rows=rows, columns=cols, mapping=mapping,
                          required_total=len(matcher.required), child_cells=child_cells, child_used=child_used,
                          parent_used=parent_used)
    males = [hc.index for hc in cols if hc.role == SEX_MALE]
    females = [hc.index for hc in cols if hc.role == SEX_FEMALE]
    if matcher.has_sex and "sex" not in mapping and len(males) == 1 and len(females) == 1:
        layout.sex_marks = (males[0], females[0])
        if birth_parent_cols >= {males[0], females[0]} and matcher.birth_column not in mapping:
            layout.sex_marks_hold_birth_date = True
    else:
        for hc in cols:
            if hc.role in (SEX_MALE, SEX_FEMALE):
                hc.role = UNMAPPED
    found = set(mapping)
    if layout.sex_marks:
        found.add("sex")
        if layout.sex_marks_hold_birth_date and matcher.birth_column:
            found.add(matcher.birth_column)
    layout.score = len(found)
    layout.missing_required = [r for r in matcher.required if r not in found]
    return layout


def detect_header(top: list[list[str]], spec: KindSpec, *,
                  merges: list[tuple[tuple[int, int], tuple[int, int]]] | None = None,
                  scan_rows: int = HEADER_SCAN_ROWS) -> HeaderLayout | None:
    """The best header (one row, or two consecutive rows) among the first rows, or None.

    `top` is the top of the sheet as strings ("" for empty cells); `merges` the merged ranges of the sheet
    as ((row0, col0), (row1, col1)), 0-based and inclusive, when the format knows them.
    """
    matcher = matcher_for(spec)
    rows = [[_norm_cell(v) for v in r] for r in top[:scan_rows + 1]]
    width = max((len(r) for r in rows), default=0)
    if width == 0:
        return None
    rows = [r + [""] * (width - len(r)) for r in rows]
    spans_by_row: dict[int, list[tuple[int, int]]] = {}
    for (r0, c0), (_r1, c1) in merges or []:
        if r0 < len(rows) and c1 > c0:
            spans_by_row.setdefault(r0, []).append((c0, c1))

    candidates: list[HeaderLayout] = []
    n = min(len(rows), scan_rows)
    for i in range(n):
        if not any(rows[i]):
            continue
        single = _layout(spec.name, matcher, [i], rows[i], None, rows[i], None)
        best_here = single
        if i + 1 < len(rows) and any(rows[i + 1]):
            spans = spans_by_row.get(i) if merges is not None and i in spans_by_row else None
            parents = _fill_parents(rows[i], rows[i + 1], spans)
            pair = _layout(spec.name, matcher, [i, i + 1], parents, rows[i + 1], rows[i], rows[i + 1])
            # two rows make the header when both name columns (a title above a header names nothing, nor
            # does a numbering or data row below it) and together they name more than the upper row
            # alone, or as many ("Giới tính" over "Nam | Nữ") with most cells of the lower row naming
            # something
            if pair.parent_used and pair.child_used and (pair.score > single.score or (
                    pair.score == single.score and 2 * pair.child_used >= pair.child_cells)):
                best_here = pair
        if best_here.score >= MIN_HEADER_SCORE:
            candidates.append(best_here)
    if not candidates:
        return None
    return min(candidates, key=HeaderLayout.sort_key)
