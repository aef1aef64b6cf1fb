"""Canonical values -> the cells of one file, the way its layout writes them: dates as date cells, text or
Excel serial numbers, enum labels or codes, IDs and phones as numbers, text without diacritics."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from campaign.config_kinds import ColumnSpec, load_input_kinds
from campaign.synth.files.layouts import Layout
from campaign.synth.names import map_distinct, strip_diacritics

EXCEL_EPOCH = np.datetime64("1899-12-30")

def _enum_labels(enum: str, layout: Layout) -> dict[Any, str]:
    values = load_input_kinds().enums[enum]
    out: dict[Any, str] = {}
    for key, v in values.items():
        label = strip_diacritics(v.label) if layout.ascii_text else v.label
        out[key] = label
    if enum == "yes_no":
        out[True], out[False] = out["yes"], out["no"]
    return out


def empty_cells(n: int) -> np.ndarray:
    return np.full(n, "", dtype=object)


def render_column(values: pd.Series, col: ColumnSpec, layout: Layout) -> np.ndarray:
    """Canonical values -> cell values of this file (python str/int/float/date/datetime; "" = blank)."""
    n = len(values)
    xlsx = layout.fmt == "xlsx"
    style = layout.effective_date_style
    t = col.type
    if t in ("date", "datetime"):
        unit = "D" if t == "date" else "m"
        arr = values.to_numpy().astype(f"datetime64[{unit}]")
        nat = np.isnat(arr)
        out = empty_cells(n)
        ok = ~nat
        if not ok.any():
            return out
        if style == "text":
            fmt = "%d/%m/%Y" if t == "date" else "%d/%m/%Y %H:%M"
            codes, uniq = pd.factorize(arr[ok])  # birth dates repeat: format each once
            out[ok] = pd.Series(uniq).dt.strftime(fmt).to_numpy(dtype=object)[codes]
        elif style == "serial":
            days = (arr[ok].astype("datetime64[m]") - EXCEL_EPOCH).astype(np.int64) / 1440.0
            out[ok] = (np.round(days, 6) if t == "datetime" else days.astype(np.int64)).astype(object)
        else:
            s = pd.Series(arr[ok])
            out[ok] = s.dt.date.to_numpy(dtype=object) if t == "date" else np.array(s.dt.to_pydatetime(), dtype=object)
        return out
    if t == "enum":
        labels = _enum_labels(col.enum, layout)
        if col.enum == "sex" and layout.sex_style == "code":
            labels = {"male": 0 if xlsx else "0", "female": 1 if xlsx else "1"}
        raw = values.to_numpy(dtype=object)
        mapped = pd.Series(raw).map(labels).to_numpy(dtype=object)  # a dict lookup in C per cell
        missing = pd.isna(mapped)
        if missing.any():
            mapped[missing] = [("" if v is None or v == "" or (isinstance(v, float) and np.isnan(v)) else v)
                               for v in raw[missing]]
        return mapped
    if t == "integer":
        arr = values.to_numpy().astype(np.int64)
        if col.name == "priority_group" and layout.priority_style == "nhom":
            return np.array([f"Nhóm {i}" for i in range(int(arr.max()) + 1)], dtype=object)[arr] if len(arr) \
                else empty_cells(0)
        if xlsx:
            return arr.astype(object)
        if len(arr) and arr.min() >= 0 and arr.max() < 10_000:  # small codes: a lookup table of strings
            return np.array([str(i) for i in range(int(arr.max()) + 1)], dtype=object)[arr]
        return arr.astype(str).astype(object)
    if t == "decimal":
        arr = values.to_numpy(dtype=float)
        return arr.astype(object) if xlsx else np.char.mod("%.6f", arr).astype(object)
    s = values.to_numpy(dtype=object, copy=True)  # defects are planted into it: never the frame's own
    gaps = values.isna().to_numpy()
    if gaps.any():
        s[gaps] = ""
    numeric = (t == "phone" and layout.numeric_phones) or (t in ("id_number", "admin_code") and layout.numeric_ids)
    if numeric:
        digits = np.fromiter((v.isdigit() and v.isascii() for v in s), dtype=bool, count=len(s))
        if digits.any():
            if xlsx:
                s = s.copy()
                s[digits] = pd.Series(s[digits]).astype(np.int64).to_numpy().astype(object)
            else:
                s = s.copy()
                s[digits] = pd.Series(s[digits]).str.lstrip("0").to_numpy(dtype=object)
        return s
    if t == "text" and layout.ascii_text:
        return map_distinct(s, strip_diacritics)
    return s
