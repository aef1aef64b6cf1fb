"""Cells to strings (as Excel shows them) and the cleaning of a read column: blank cells, NFC, legacy text."""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from campaign.domain.vn_legacy_detect import legacy_gate, repair_values

# ---------------------------------------------------------------------------------------------------------
# Cells -> strings
# ---------------------------------------------------------------------------------------------------------


def _float_str(v: float) -> str | None:
    if math.isnan(v):
        return None
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v.is_integer():
        if abs(v) < 1e15:
            return str(int(v))
        return str(int(float(f"{v:.15g}")))      # what Excel shows: 15 significant digits
    return f"{v:.15g}"


def _timedelta_str(v: dt.timedelta) -> str:
    total = int(round(v.total_seconds()))
    sign = "-" if total < 0 else ""
    total = abs(total)
    return f"{sign}{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def cell_to_str(v: Any) -> str | None:
    """One spreadsheet cell as a string, without losing information; None for an empty cell."""
    t = type(v)
    if t is str:
        return v if v else None
    if t is float:
        return _float_str(v)
    if t is bool:
        return "TRUE" if v else "FALSE"
    if t is int:
        return str(v)
    if t is dt.datetime:
        return v.isoformat(timespec="seconds") if v.tzinfo is None else v.replace(tzinfo=None).isoformat(timespec="seconds")
    if t is dt.date:
        return v.isoformat()
    if t is dt.time:
        return v.isoformat(timespec="seconds")
    if t is dt.timedelta:
        return _timedelta_str(v)
    if v is None:
        return None
    if isinstance(v, float):
        return _float_str(float(v))
    s = str(v)
    return s if s else None


_NUMERIC_TYPES = (int, float)


def _present(arr: np.ndarray) -> np.ndarray:
    """Non-missing cells. Invariant of this module: a cell is a str ("" = missing) or None."""
    return arr.astype(bool)



def _format_floats(values: np.ndarray) -> np.ndarray:
    """float64 array -> object array of strings as cell_to_str would give (vectorised for integers)."""
    out = np.empty(len(values), dtype=object)
    finite = np.isfinite(values)
    integral = finite & (np.abs(values) < 1e15)
    integral[integral] = np.floor(values[integral]) == values[integral]
    if integral.any():
        out[integral] = list(map(str, values[integral].astype(np.int64).tolist()))
    rest = ~integral
    if rest.any():
        out[rest] = [_float_str(v) for v in values[rest].tolist()]
    return out


def _convert_numeric(values: Sequence[Any], types: set[type]) -> tuple[np.ndarray, np.ndarray]:
    """A column of numbers, possibly with strings: vectorised (factorised numbers, formatted once)."""
    n = len(values)
    out = np.empty(n, dtype=object)
    if str in types:
        is_num = np.fromiter((type(v) is not str for v in values), dtype=bool, count=n)
        objs = np.empty(n, dtype=object)
        objs[:] = values
        strs = objs[~is_num]
        strs[strs == ""] = None
        out[~is_num] = strs
        nums = np.array(objs[is_num].tolist(), dtype=np.float64)
    else:
        is_num = np.ones(n, dtype=bool)
        nums = np.array(values, dtype=np.float64)
    if len(nums):
        codes, uniques = pd.factorize(nums)
        out[is_num] = _format_floats(np.asarray(uniques, dtype=np.float64))[codes]
    return out, is_num


def convert_column(values: Sequence[Any]) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """A column of calamine values -> (object array of str/None, bool mask of typed numeric cells or None,
    whether any cell was text)."""
    arr = np.fromiter(values, dtype=object, count=len(values))
    inferred = pd.api.types.infer_dtype(arr, skipna=False)     # one C-level scan
    if inferred == "string":
        empty = arr == ""
        arr[empty] = None
        return arr, None, not empty.all()
    types = {float} if inferred == "floating" else set(map(type, values))
    if types <= {float, int, str}:
        arr, is_num = _convert_numeric(values, types)
        return arr, is_num, str in types and bool(_present(arr[~is_num]).any())
    numeric = None
    if bool in types and types & {int, float}:   # True == 1 == 1.0: do not factorise these together
        has_text = str in types and any(type(v) is str and v for v in values)
        out = np.array([cell_to_str(v) for v in values], dtype=object)
        numeric = np.fromiter((type(v) in _NUMERIC_TYPES for v in values), dtype=bool, count=len(values))
        return out, numeric, has_text
    codes, uniques = pd.factorize(arr, use_na_sentinel=True)
    has_text = any(type(u) is str and u for u in uniques)
    conv = np.empty(len(uniques) + 1, dtype=object)
    conv[:-1] = [cell_to_str(v) for v in uniques]
    conv[-1] = None
    out = conv[codes]
    if types & {int, float}:
        is_num = np.zeros(len(uniques) + 1, dtype=bool)
        is_num[:-1] = [type(v) in _NUMERIC_TYPES for v in uniques]
        numeric = is_num[codes]
    return out, numeric, has_text


# ---------------------------------------------------------------------------------------------------------
# Column cleaning: blank cells, NFC, legacy encodings
# ---------------------------------------------------------------------------------------------------------

_BLANK_CELL = re.compile(r"\x00\s+\x00")


@dataclass
class _Prepared:
    """One column after cleaning: `values` (what the district wrote: blank cells None, NFC), `present`,
    `repaired` (legacy text decoded; `values` itself when nothing changed), the changed cells and encodings."""
    values: np.ndarray
    present: np.ndarray
    repaired: np.ndarray
    changed: np.ndarray | None = None
    encodings: dict[str, str] = field(default_factory=dict)


def prepare_column(arr: np.ndarray, *, check_nfc: bool, check_blank: bool, legacy: bool) -> _Prepared:
    """Whitespace-only cells -> None, text -> NFC, legacy text repaired: one joined scan decides what
    needs doing, so a clean column costs a join and a few C-level searches."""
    present = _present(arr)
    if not (check_nfc or check_blank or legacy):
        return _Prepared(arr, present, arr)
    vals = arr[present]
    if not len(vals):
        return _Prepared(arr, present, arr)
    joined = "\x00".join(vals.tolist())
    ascii_only = joined.isascii()
    need_blank = check_blank and (vals[0].isspace() or vals[-1].isspace() or
                                  _BLANK_CELL.search(joined) is not None)
    need_nfc = check_nfc and not ascii_only and not unicodedata.is_normalized("NFC", joined)
    if need_blank or need_nfc:
        cleaned = []
        for v in vals:
            if need_nfc and not v.isascii():
                v = unicodedata.normalize("NFC", v)
            cleaned.append(None if need_blank and v.isspace() else v)
        arr = arr.copy()
        arr[present] = cleaned
        present = _present(arr)
        vals = arr[present]
        joined = "\x00".join(vals)
    if legacy and not ascii_only and legacy_gate(joined.encode("utf-8", "surrogatepass")):
        fixed, changed, encs = repair_values(arr, present)
        if changed is not None:
            return _Prepared(arr, present, fixed, changed, encs)
    return _Prepared(arr, present, arr)
