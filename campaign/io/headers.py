"""Header recognition: which row(s) of a district sheet hold the header, and which column is which.

A heading is read as a *set of words* (campaign/io/heading_words.py, docs/reading-columns.md). Each column of a kind is known by the word sets of its header, name,
aliases and the vocabulary's extra headings; `words_score` says how well a heading fits one (1: the same
set; less: one set holds the other, or most words are shared; numbers must agree). Each field is then
read from the heading that fits it best (`assign_columns`); a heading fitting two fields alike ("ĐT")
keeps the other as an alternative for the cells to decide (campaign/io/content.py). `heading_key` is the
key a district's saved reading of a heading is kept under.

Two-row merged headers ("Mũi 1" above "Tên vắc xin | Ngày tiêm | ..."): the parent is carried across its
span (the merged range when the workbook says so, else across the empty parent cells above labelled
children) and each column is matched as "parent child", then "child parent", then child alone, then
parent alone.

Pure functions over lists of strings; no I/O.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from campaign.config_kinds import KindSpec
from campaign.io.heading_words import PARENS, _key, clean_label, heading_words, vocabulary, words_score

HEADER_SCAN_ROWS = 30          # rows examined at the top of a sheet
MIN_HEADER_SCORE = 2           # a header row maps at least this many columns of the kind

NUMBERING_KEYS = frozenset({"stt", "tt", "so tt", "so thu tu", "thu tu", "no", "s tt"})
NUMBERING_RAW = frozenset({"#", "no.", "no", "№", "n°", "n0"})
MALE_RAW = frozenset({"nam", "male"})
FEMALE_RAW = frozenset({"nữ", "nu", "nư", "female"})

@functools.lru_cache(maxsize=65536)
def header_keys(text: str) -> tuple[str, ...]:
    """The keys of one header text, most specific first (full, then without parenthesised notes)."""
    s = clean_label(text).replace("*", " ")
    s = s.rstrip(" :.;")
    full = _key(s)
    stripped = _key(PARENS.sub(" ", s))
    keys = [k for k in dict.fromkeys((full, stripped)) if k]
    return tuple(keys)


def heading_key(text: str) -> str:
    """The key a district's saved reading of a heading is kept under: the heading folded, without
    `(*)`, as its words in order ("Số giấy tờ (*)" -> "so giay to"). Same heading, same key."""
    keys = header_keys(text)
    return keys[0] if keys else ""


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
    rank: float                       # 1 the same words as a known heading of the column; less: partial
    length: int                       # words in the heading: more = more specific
    alternatives: tuple[str, ...] = ()  # other columns fitting the heading just as well ("ĐT")


class KindMatcher:
    """Known headings of one kind's columns, as word sets."""

    def __init__(self, spec: KindSpec):
        self.spec = spec
        vocab = vocabulary()
        extra = vocab.extra.get(spec.name, {})
        self.known: list[tuple[frozenset[str], str]] = []
        seen: set[tuple[frozenset[str], str]] = set()
        for col in spec.columns:
            for text in (col.header, col.name.replace("_", " "), *col.aliases, *extra.get(col.name, [])):
                words = heading_words(text)
                if words and (words, col.name) not in seen:
                    seen.add((words, col.name))
                    self.known.append((words, col.name))
        self.required = [c.name for c in spec.columns if c.required]
        self.has_sex = any(c.name == "sex" for c in spec.columns)
        self.birth_column = "birth_date" if any(c.name == "birth_date" for c in spec.columns) else None
        self.has_full_name = any(c.name == "full_name" for c in spec.columns)
        self._cache: dict[str, list[Match]] = {}

    def candidates(self, text: str) -> list[Match]:
        """Every column the heading fits, best first (ties: the spec's order)."""
        hit = self._cache.get(text)
        if hit is not None:
            return hit
        words = heading_words(text)
        best: dict[str, float] = {}
        for known, column in self.known:
            sc = words_score(words, known)
            if sc > best.get(column, 0.0):
                best[column] = sc
        order = {c.name: i for i, c in enumerate(self.spec.columns)}
        ranked = sorted(best.items(), key=lambda kv: (-kv[1], order[kv[0]]))
        out: list[Match] = []
        for column, sc in ranked:
            alts = tuple(c for c, s2 in ranked if c != column and abs(s2 - sc) < 1e-9)
            out.append(Match(column, sc, len(words), alts))
        if len(self._cache) < 4096:
            self._cache[text] = out
        return out

    def match(self, *texts: str) -> Match | None:
        """The best match of the first text that matches at all (texts in order of preference)."""
        for t in texts:
            if t:
                cands = self.candidates(t)
                if cands:
                    return cands[0]
        return None

    def name_part(self, text: str) -> str | None:
        """'first' ("Họ", "Họ và tên đệm") or 'last' ("Tên") when the heading is a part of a split name."""
        if not self.has_full_name:
            return None
        words = heading_words(text)
        vocab = vocabulary()
        if words in vocab.first_part:
            return "first"
        if words in vocab.last_part:
            return "last"
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
    rank: float = 0.0
    key_length: int = 0
    texts: tuple[str, ...] = ()  # the raw header cell texts of this column (for header-repeat detection)
    candidates: tuple[Match, ...] = ()   # every column the heading fits, best first
    alternatives: tuple[str, ...] = ()   # columns fitting as well as `column`: the cells decide
    name_part: str | None = None         # 'first' / 'last': a part of a split name
    how: str = "heading"                 # how it came to be read so (campaign.io.columns HOW_VALUES)


@dataclass
class HeaderLayout:
    kind: str
    rows: list[int]                             # 0-based grid rows of the header (1 or 2)
    columns: list[HeaderColumn]
    mapping: dict[str, int] = field(default_factory=dict)   # canonical -> grid column
    sex_marks: tuple[int, int] | None = None    # (male column, female column) when sex comes from marks
    sex_marks_hold_birth_date: bool = False     # "Ngày sinh" above "Nam | Nữ": the mark is the date
    name_parts: tuple[int, ...] | None = None   # ("Họ", "Tên đệm", "Tên") columns joined into full_name
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
        part = matcher.name_part(role_text) if not (p and c and p != c) else None
        if p and c and p != c:
            mp, mc = matcher.match(p), matcher.match(c)
            both = f"{p} {c}"
            m = matcher.match(both)
            matched_text = both
            if m is not None and (mp is None or mp.column != m.column) and (mc is None or m.rank > mc.rank):
                child_used += 1                    # "Mũi 1" + "Tên vắc xin": both rows needed
                parent_used += mc is None or mc.column != m.column
            elif mc is not None:
                m, matched_text = mc, c
                child_used += 1
            else:
                m, matched_text = mp, p
        else:
            m = matcher.match(role_text)
            matched_text = role_text
            if m is not None or part is not None:
                if c:
                    child_used += 1
                else:
                    parent_used += 1
        if m is None:
            cols.append(HeaderColumn(j, label, UNMAPPED, texts=texts, name_part=part))
        else:
            cols.append(HeaderColumn(j, label, DATA, m.column, m.rank, m.length, texts=texts,
                                     candidates=tuple(matcher.candidates(matched_text)),
                                     alternatives=m.alternatives, name_part=part))

    mapping = assign_columns(cols)

    # split names: "Họ và tên đệm" (or "Họ") beside "Tên" are one full name, not a name and a stray column
    name_parts = None
    if matcher.has_full_name:
        firsts = [hc for hc in cols if hc.name_part == "first"]
        lasts = [hc for hc in cols if hc.name_part == "last"]
        holder = mapping.get("full_name")
        whole = holder is not None and holder not in {hc.index for hc in firsts + lasts}
        if whole:
            # "Họ và tên" beside "Họ đệm" / "Tên": the whole name is read, the parts are reported
            for hc in firsts + lasts:
                if hc.role == DATA and hc.column == "full_name":
                    hc.role, hc.column = UNMAPPED, None
        elif firsts and len(lasts) == 1 and all(hc.index < lasts[0].index for hc in firsts):
            # "Họ" (+ "Tên đệm" ...) + "Tên": joined in the file's order
            for hc in firsts + lasts:
                if hc.role == DATA and hc.column != "full_name":
                    mapping.pop(hc.column, None)  # type: ignore[arg-type]
                hc.role, hc.column, hc.alternatives = DATA, "full_name", ()
            mapping["full_name"] = firsts[0].index
            name_parts = tuple(hc.index for hc in firsts + lasts)
        elif firsts:
            # parts that do not make a name ("Tên" before "Họ đệm", a given name alone): not read as one
            for hc in firsts + lasts:
                if hc.role == DATA and hc.column == "full_name":
                    hc.role, hc.column = UNMAPPED, None
            mapping.pop("full_name", None)

    layout = HeaderLayout(kind=kind, rows=rows, columns=cols, mapping=mapping,
                          required_total=len(matcher.required), child_cells=child_cells, child_used=child_used,
                          parent_used=parent_used, name_parts=name_parts)
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
    _recount(layout, matcher)
    return layout


def refresh(layout: HeaderLayout, spec: KindSpec) -> None:
    """Recount what the layout reads after its columns were changed (overrides, content)."""
    _recount(layout, matcher_for(spec))


def _recount(layout: HeaderLayout, matcher: KindMatcher) -> None:
    found = set(layout.mapping)
    if layout.sex_marks:
        found.add("sex")
        if layout.sex_marks_hold_birth_date and matcher.birth_column:
            found.add(matcher.birth_column)
    layout.score = len(found)
    layout.missing_required = [r for r in matcher.required if r not in found]


def set_column(layout: HeaderLayout, hc: HeaderColumn, column: str | None, how: str) -> None:
    """Read heading `hc` as `column` (None: not at all); a heading read so before gives it up."""
    by_index = {c.index: c for c in layout.columns}
    if layout.name_parts and (hc.index in layout.name_parts) != (column == "full_name"):
        # a part of a split name read otherwise, or another heading read as the full name: no join, and
        # the other parts are not a full name on their own
        for j in layout.name_parts:
            if j != hc.index:
                by_index[j].role, by_index[j].column = UNMAPPED, None
        layout.name_parts = None
        layout.mapping.pop("full_name", None)
    if layout.sex_marks and (hc.index in layout.sex_marks or column == "sex"):
        # "Nam" / "Nữ" marks read otherwise, or sex taken from another heading: the marks no longer say it
        for j in layout.sex_marks:
            if j != hc.index:
                by_index[j].role, by_index[j].column = UNMAPPED, None
        layout.sex_marks, layout.sex_marks_hold_birth_date = None, False
    if hc.role == DATA and hc.column is not None and layout.mapping.get(hc.column) == hc.index:
        del layout.mapping[hc.column]
    if column is None:
        hc.role, hc.column, hc.alternatives, hc.how = UNMAPPED, None, (), how
        return
    prev = layout.mapping.get(column)
    if prev is not None and prev != hc.index:
        before = by_index[prev]
        before.role, before.column, before.alternatives = UNMAPPED, None, ()
    hc.role, hc.column, hc.alternatives, hc.how = DATA, column, (), how
    layout.mapping[column] = hc.index


def apply_overrides(layout: HeaderLayout, spec: KindSpec, overrides) -> None:  # noqa: ANN001
    """Read the headings a district taught (saved) or named with this upload (given) as it said."""
    if not overrides:
        return
    names = {c.name for c in spec.columns}
    for hc in layout.columns:
        if not hc.label or hc.role == EMPTY:
            continue
        o = overrides.get(heading_key(hc.label))
        if o is None or (o.field is not None and o.field not in names):
            continue
        set_column(layout, hc, o.field, o.source)
    refresh(layout, spec)


def assign_columns(cols: list[HeaderColumn]) -> dict[str, int]:
    """Each canonical column to one heading: the best fits first (then the leftmost heading); a heading
    whose best column is taken by a better one takes its next best. Headings left over are unmapped.
    Returns {canonical: grid column} and sets each HeaderColumn's role/column accordingly."""
    offers = []
    for hc in cols:
        if hc.role != DATA:
            continue
        cands = hc.candidates or (Match(hc.column, hc.rank, hc.key_length),)  # type: ignore[arg-type]
        for order, m in enumerate(cands):
            offers.append((-m.rank, order, hc.index, m))
    # a heading fitting two columns alike ("ĐT") yields to headings that fit one
    offers.sort(key=lambda o: (o[0], bool(o[3].alternatives), o[1], o[2]))
    by_index = {hc.index: hc for hc in cols}
    mapping: dict[str, int] = {}
    taken: set[int] = set()
    for _neg, _order, j, m in offers:
        if j in taken or m.column in mapping:
            continue
        mapping[m.column] = j
        taken.add(j)
        hc = by_index[j]
        hc.column, hc.rank = m.column, m.rank
        hc.alternatives = tuple(a for a in m.alternatives if a not in mapping)
    for hc in cols:
        if hc.role == DATA and hc.index not in taken:
            hc.role, hc.column, hc.alternatives = UNMAPPED, None, ()
    return mapping


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
