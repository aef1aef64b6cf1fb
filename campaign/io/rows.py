"""Rows that are not data (title, blank, repeated header, column numbering, totals, notes) and the string
columns of the result."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from campaign.domain.text import fold
from campaign.io.cells import _present
from campaign.io.headers import (
    DATA,
    HeaderLayout,
)

# ---------------------------------------------------------------------------------------------------------
# Rows that are not data
# ---------------------------------------------------------------------------------------------------------

_TOTALS = re.compile(  # no IGNORECASE: it would cost the regex its fast scan for the "\x00" prefix
    r"\x00[\s\"'(\[*-]*(?:[tT][ổỔôÔoO][nN][gG]|[tT][oO][tT][aA][lL]|[cC][ộỘoO][nN][gG]|[sS][uU][mM]\b|[σΣ])")
_NUMERIC_CELL = re.compile(r"^[\s\d.,%+\-()/:]*$")
_NUMBER_TOKEN = re.compile(r"^[(\[]?\s*(\d{1,3})\s*[)\].]?$")
_NOTES = re.compile(   # on folded text with punctuation as spaces: "(Ký, ghi rõ họ tên)" -> "ky ghi ro ho ten"
    r"^(?:nguoi lap|nguoi ky|nguoi tong hop|can bo lap|ghi chu|luu y|chu thich|thu truong|giam doc|"
    r"pho giam doc|xac nhan|lanh dao|truong (?:tram|khoa|phong|ban)|ke toan|k ?t |t ?m |ky ten|ky ghi ro|"
    r"ky dong dau|ky va ghi ro|noi nhan|ban giam|.{0,50}?\bngay\s+\S{0,6}\s*thang\s+\S{0,6}\s*nam\b)",
)
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def _plain(s: str) -> str:
    return _NON_ALNUM.sub(" ", fold(s)).strip()


_TOTALS_FOLDED = re.compile(r"^(?:tong|cong|total|sum|σ)\b")
_TOTALS_ASCII = re.compile(r"^\W*(?:tong\s+cong|tong\s+so|tong|cong|total|grand\s+total|sum)\b[\W\d]*$",
                           re.IGNORECASE)


def _totals_label(raw: str) -> bool:
    """"Tổng cộng", "TỔNG SỐ (17 xã)", "Cộng:", "Total"... but not a person called "Cong Van Tong": written
    without diacritics, the label must be the word alone (with numbers or punctuation at most)."""
    raw = raw.strip()
    if raw.isascii():
        return _TOTALS_ASCII.match(raw) is not None
    return _TOTALS_FOLDED.match(fold(raw).lstrip(" \"'([*-")) is not None


def _first_present(cols: list[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(value, column index) of the first non-empty cell of each row ("" / -1 for a blank row)."""
    first = np.full(n, "", dtype=object)
    where = np.full(n, -1, dtype=np.int64)
    todo = np.arange(n)
    for j, col in enumerate(cols):
        if not len(todo):
            break
        vals = col[todo]
        ok = _present(vals)
        first[todo[ok]] = vals[ok]
        where[todo[ok]] = j
        todo = todo[~ok]
    return first, where


def _row_cells(cols: list[np.ndarray], i: int) -> list[str]:
    return [c[i] for c in cols if c[i]]


def _numbering_row(cells: list[str], width: int) -> bool:
    if len(cells) < 3 or len(cells) < 0.5 * width:
        return False
    nums = []
    for c in cells:
        m = _NUMBER_TOKEN.match(c.strip())
        if m:
            nums.append(int(m.group(1)))
        elif len(c.strip()) <= 2 and not nums:   # "A", "B" before the numbers
            continue
        else:
            return False
    return len(nums) >= 3 and all(b == a + 1 for a, b in zip(nums, nums[1:], strict=False))


def classify_rows(cols: list[np.ndarray], layout: HeaderLayout, width: int) -> np.ndarray:
    """Reason per body row (None = data)."""
    n = len(cols[0]) if cols else 0
    reason = np.full(n, None, dtype=object)
    if n == 0:
        return reason
    first, first_col = _first_present(cols, n)
    blank = first_col < 0

    # notes and signature block at the bottom
    nonblank = np.flatnonzero(~blank)
    tail = nonblank[-40:]
    sparse_limit = max(3, int(0.3 * width))
    start = None
    for i in reversed(tail.tolist()):
        cells = _row_cells(cols, i)
        if len(cells) > sparse_limit:
            break
        if _NOTES.match(_plain(str(first[i])) + " "):
            start = i
    if start is not None:
        reason[start:] = "notes"

    # header repeated inside the data (page breaks, pasted blocks)
    header_cols = [hc for hc in layout.columns if hc.texts]
    probe = [hc for hc in header_cols if hc.role == DATA][:4] or header_cols[:4]
    if probe:
        cand = np.zeros(n, dtype=bool)
        for hc in probe:
            if hc.index < len(cols):
                for t in hc.texts:
                    cand |= cols[hc.index] == t
        for i in np.flatnonzero(cand):
            hits = sum(1 for hc in header_cols if hc.index < len(cols) and cols[hc.index][i] in hc.texts)
            if hits >= max(2, 0.4 * len(header_cols)):
                reason[i] = "header_repeat"

    # column numbering ("1 2 3 ..." or "(1) (2) ...") under the header, and its repeats
    pattern = None
    for i in nonblank[:3].tolist():
        if reason[i] is not None:
            continue
        if _numbering_row(_row_cells(cols, i), width):
            reason[i] = "numbering"
            pattern = {j: cols[j][i] for j in range(len(cols)) if cols[j][i]}
            break
    if pattern and len(pattern) >= 3:
        keys = list(pattern)[:2]
        cand = np.ones(n, dtype=bool)
        for j in keys:
            cand &= cols[j] == pattern[j]
        for i in np.flatnonzero(cand):
            hits = sum(1 for j, v in pattern.items() if cols[j][i] == v)
            if hits >= 0.8 * len(pattern):
                reason[i] = "numbering"

    # totals: "Tổng", "Tổng cộng", "Cộng", "Total" first, the rest numbers or empty
    firsts = first.tolist()
    joined = "\x00" + "\x00".join(firsts)
    hits = [m.start() for m in _TOTALS.finditer(joined)]
    if hits:
        offsets = np.cumsum([len(s) + 1 for s in firsts]) - np.array([len(s) + 1 for s in firsts])
        for pos in hits:
            i = int(np.searchsorted(offsets, pos, side="right") - 1)
            if reason[i] is not None:
                continue
            if not _totals_label(str(first[i])):
                continue
            others = [c[i] for j, c in enumerate(cols) if j != first_col[i] and c[i]]
            texty = [v for v in others if not _NUMERIC_CELL.match(v)]
            if len(texty) <= max(1, len(others) // 4):
                reason[i] = "totals"

    reason[blank] = "blank"
    return reason




_UNMARKED = {"0", "-", "khong", "không", "no", "false", "n", "o"}


def marked(arr: np.ndarray) -> np.ndarray:
    present = _present(arr)
    out = present.copy()
    idx = np.flatnonzero(present)
    if len(idx):
        out[idx] = [str(v).strip().lower() not in _UNMARKED for v in arr[idx]]
    return out



_STRING_TEMPLATE = pd.array([], dtype="string")


def string_array(arr: np.ndarray, present: np.ndarray | None = None):
    """Object array of str/None -> pandas "string" array (missing = pd.NA) without re-validating each cell."""
    out = np.array(arr, dtype=object, copy=True)
    out[~(_present(out) if present is None else present)] = pd.NA
    try:
        return _STRING_TEMPLATE._from_backing_data(out)
    except Exception:  # pragma: no cover - a pandas without the internal constructor
        return pd.arrays.StringArray(out)
