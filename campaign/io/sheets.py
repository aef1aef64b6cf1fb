"""A common shape for workbook sheets and CSV (a candidate sheet: its top rows, header layouts, a body loaded
on demand), choosing the sheet and header of a kind, and the refusals that go with it."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from campaign.config_kinds import InputKinds, KindSpec
from campaign.domain.vn_legacy_detect import repair_cells
from campaign.io.cells import cell_to_str
from campaign.io.headers import (
    HEADER_SCAN_ROWS,
    HeaderLayout,
    detect_header,
)
from campaign.io.sniff import (
    ReadError,
    unreadable,
    vi_int,
)
from campaign.vocabulary import kind_label, party_label

ROW_LIMIT_SLACK = 1.05  # before reading a whole sheet: refuse early only when far above max_rows


# ---------------------------------------------------------------------------------------------------------
# Sheets: a common shape for workbooks and CSV
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Body:
    columns: list[np.ndarray]           # object arrays (str or None), rows after the header
    row_numbers: np.ndarray              # 1-based, aligned with the columns
    numeric: dict[int, np.ndarray]       # grid column -> typed-number mask (workbooks)
    nfc_checked: bool                    # text already NFC (CSV: the whole text was normalised)
    blank_checked: bool                  # whitespace-only cells already None
    legacy_possible: bool | None = None  # False: no character of legacy text anywhere (skip the repair)
    text_columns: set[int] | None = None  # columns holding text cells (None: all); the others are our own
                                          # renderings of numbers and dates, nothing to clean in them


@dataclass
class SheetCandidate:
    name: str
    top: list[list[str]]                 # the first rows as strings ("" empty), legacy-repaired
    top_row_numbers: list[int]           # 1-based row number of each top row
    merges: list | None
    layouts: _Layouts
    load_body: Callable[[int], Body]    # rows after grid row index -> body
    total_rows: int                      # rows in the sheet (for the early row limit)
    formulas: bool | None = None         # xlsx: whether the sheet holds a formula (None: not measured)


def top_strings(rows: list[list[Any]]) -> list[list[str]]:
    """The top rows as strings, cut after the last non-empty column (a stray cell far to the right must not
    make header detection walk thousands of empty columns), legacy text repaired."""
    top = [[cell_to_str(v) or "" for v in r] for r in rows]
    width = max((max((j for j, c in enumerate(r) if c), default=-1) for r in top), default=-1) + 1
    top = [r[:width] for r in top]
    flat = [c for r in top for c in r if c]
    if not flat:
        return top
    fixed = repair_cells([unicodedata.normalize("NFC", c) for c in flat])
    it = iter(fixed)
    return [[next(it) if c else "" for c in r] for r in top]


class _Layouts:
    """Header layouts of one sheet top, per kind, computed on demand (the other kinds are only needed when
    the requested kind's header is missing or incomplete: wrong-kind detection)."""

    def __init__(self, top: list[list[str]], kinds: InputKinds, merges):
        self.top, self.kinds, self.merges = top, kinds, merges
        self._cache: dict[str, HeaderLayout | None] = {}

    def get(self, kind: str) -> HeaderLayout | None:
        if kind not in self._cache:
            self._cache[kind] = detect_header(self.top, self.kinds.kinds[kind], merges=self.merges)
        return self._cache[kind]

    def items(self):
        return [(name, self.get(name)) for name in self.kinds.kinds]

    def values(self):
        return [lay for _name, lay in self.items()]


def _layouts(top: list[list[str]], kinds: InputKinds, merges) -> _Layouts:
    return _Layouts(top, kinds, merges)



# ---------------------------------------------------------------------------------------------------------
# Choosing sheet and header; refusals
# ---------------------------------------------------------------------------------------------------------


_vi_int = vi_int


def too_many_rows(n: int, max_rows: int) -> ReadError:
    return unreadable(f"tệp có quá nhiều dòng dữ liệu ({_vi_int(n)} dòng, giới hạn {_vi_int(max_rows)}); "
                      "xin chia nhỏ tệp")


def header_names(spec: KindSpec, names: list[str]) -> str:
    return ", ".join(f"«{spec.column(n).header}»" for n in names)


def _better(a: HeaderLayout | None, b: HeaderLayout | None) -> bool:
    """Is layout a a better reading of the requested kind than b?"""
    if a is None:
        return False
    if b is None:
        return True
    return (a.required_found, a.score) > (b.required_found, b.score)


def _looks_like_other(kind: str, own: HeaderLayout | None, layouts: _Layouts) -> HeaderLayout | None:
    """Another kind whose header this file matches far better than the requested kind's."""
    best = None
    for name, lay in layouts.items():
        if name == kind or lay is None:
            continue
        if own is None:
            if not (lay.complete or lay.score >= 3):
                continue
        elif own.complete or not lay.complete or lay.score < own.score + 2:
            continue
        if best is None or (lay.score, -lay.rows[0]) > (best.score, -best.rows[0]):
            best = lay
    return best


def choose(kind: str, kinds: InputKinds, candidates) -> tuple[SheetCandidate, HeaderLayout]:
    chosen: tuple[SheetCandidate, HeaderLayout] | None = None
    seen: list[SheetCandidate] = []
    for cand in candidates:
        seen.append(cand)
        own = cand.layouts.get(kind)
        if own is not None and own.complete:
            return cand, own
        if own is not None and (chosen is None or _better(own, chosen[1])):
            chosen = (cand, own)
    spec = kinds.kinds[kind]
    # wrong kind: some sheet is plainly another kind
    for cand in ([chosen[0]] if chosen else []) + [c for c in seen if not chosen or c is not chosen[0]]:
        own = cand.layouts.get(kind)
        other = _looks_like_other(kind, own, cand.layouts)
        if other is not None:
            where = f" (trang «{cand.name}»)" if cand.name else ""
            detail = (f"tiêu đề cột{where} giống mẫu «{kind_label(other.kind)}» ({other.kind}), không phải mẫu "
                      f"«{kind_label(kind)}» ({kind}); xin chọn đúng loại tệp khi gửi, hoặc gửi đúng tệp")
            raise ReadError("wrong_kind", detail, params={"expected": kind_label(kind), "detail": detail},
                            looks_like=other.kind)
    if chosen is None:
        if not seen:
            raise unreadable("tệp không có trang tính nào đọc được")
        expected = ", ".join(f"«{c.header}»" for c in spec.required_columns[:4])
        detail = (f"không tìm thấy dòng tiêu đề cột của mẫu «{kind_label(kind)}» trong {HEADER_SCAN_ROWS} dòng đầu "
                  f"(cần các cột như {expected}); xin dùng mẫu của {party_label('doh')}")
        raise unreadable(detail)
    return chosen
