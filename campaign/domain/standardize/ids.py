"""Identity numbers: CMND/CCCD (`id_number`) and the health-insurance card (`insurance_number`).

CMND/CCCD: digits only after dropping spaces, dots and dashes; 8, 9 and 12 digits are valid; 11 digits
are a CCCD whose leading zero Excel dropped (restored: `id_zero_restored`, repair); scientific notation
("1.23457E+11": the digits are lost), letters or other lengths: `id_invalid` (warning, value NA).

BHYT: 15 characters `^[A-Z]{2}[1-5]\\d{2}\\d{10}$` (upper-cased) or the 10-digit social insurance number
alone; 9 digits: its leading zero restored (`id_zero_restored`); anything else `insurance_invalid`
(warning, value NA).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._base import (
    SEP_LUT,
    STR,
    ZERO,
    FieldResult,
    as_str,
    char_matrix,
    compact,
    digit_strings,
    extract_digits,
    lut,
)

ID_WIDTH = 20
ID_VALID_LENGTHS = (8, 9, 12)
INSURANCE_WIDTH = 20


def clean_id_numbers(series: pd.Series, *, required: bool = False) -> FieldResult:
    """CMND/CCCD cells -> digit strings (see module doc). A missing optional ID has no reason;
    a missing required one is `value_missing`."""
    s = as_str(series)
    n = len(s)
    dc = extract_digits(s, ID_WIDTH, allow_plus=False)
    count = dc.count
    ok = ~dc.missing & ~dc.bad
    valid = ok & np.isin(count, ID_VALID_LENGTHS)
    restored = ok & (count == 11)
    good = valid | restored
    # cells that are exactly a valid number keep their string; the others are rebuilt from the digits
    values = s.to_numpy(dtype=object, na_value=np.nan).copy()
    values[~good] = np.nan
    rebuild = np.flatnonzero(good & ~(valid & dc.simple))
    if len(rebuild):
        d = dc.digits[rebuild, :12]
        length = count[rebuild]
        strings = digit_strings(d, np.minimum(length, 12))
        lost0 = length == 11
        strings[lost0] = "0" + strings[lost0]
        values[rebuild] = strings
    value = pd.Series(values, index=s.index, dtype=STR)
    val = np.zeros(n, dtype=np.int64)
    for j in range(12):
        val = np.where(j < count, val * 10 + dc.digits[:, j], val)
    key = np.where(good, np.where(restored, 12, count) * 10**12 + val, -1)
    reason = np.full(n, np.nan, dtype=object)
    reason[restored] = "id_zero_restored"
    reason[~dc.missing & ~valid & ~restored] = "id_invalid"
    if required:
        reason[dc.missing] = "value_missing"
    return FieldResult(value, pd.Series(reason, index=s.index, dtype=STR), key=key)


def _card_shape(m: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(15-character card, 10-digit number) per row of upper-case code points `m` (n, >= 15), any
    unsigned dtype."""
    t = m.dtype.type
    digit = (m[:, :15] - t(48)) < 10
    upper = (m[:, :2] - t(65)) < 26
    card = (count == 15) & upper.all(axis=1) & ((m[:, 2] - t(49)) < 5) & digit[:, 3:15].all(axis=1)
    ten = (count == 10) & digit[:, :10].all(axis=1)
    return card, ten


def clean_insurance_numbers(series: pd.Series, *, required: bool = False) -> FieldResult:
    """BHYT cells -> "GD4646412345678" (15 characters) or "6412345678" (10 digits); see module doc."""
    s = as_str(series)
    n = len(s)
    cm = char_matrix(s, INSURANCE_WIDTH)
    # fast path: ASCII cells already in the canonical form
    card, ten = _card_shape(cm.codes, cm.length)
    fast = (card | ten) & ~cm.wide
    card &= fast
    missing = cm.missing.copy()
    out = np.zeros((n, 15), dtype=np.uint32)
    out[fast] = cm.codes[fast, :15]
    valid = fast.copy()
    restored = np.zeros(n, dtype=bool)
    rest = np.flatnonzero(~fast & ~missing)
    if len(rest):
        w = cm.code_points(rest)
        lower = (w - np.uint32(97)) < 26
        w[lower] -= 32
        fw = (w >= 0xFF10) & (w <= 0xFF19)
        w[fw] -= 0xFF10 - ZERO
        is_digit = (w - np.uint32(48)) < 10
        is_upper = (w - np.uint32(65)) < 26
        sep = lut(SEP_LUT, w) | (w == 39)  # separators and Excel's apostrophe
        pad = np.arange(INSURANCE_WIDTH)[None, :] >= cm.length[rest][:, None]
        r_junk = (~(is_digit | is_upper | sep | pad)).any(axis=1) | cm.too_long[rest]
        m, count = compact(is_digit | is_upper, w, 16)
        r_missing = (count == 0) & ~r_junk
        r_card, r_ten = _card_shape(m, count)
        ok = ~r_missing & ~r_junk
        r_valid = ok & (r_card | r_ten)
        r_restored = ok & (count == 9) & ((m[:, :9] - np.uint32(48)) < 10).all(axis=1)
        r_out = m[:, :15].copy()
        r_out[r_restored, 1:10] = m[r_restored, :9]
        r_out[r_restored, 0] = ZERO
        out[rest] = r_out
        valid[rest] = r_valid
        restored[rest] = r_restored
        card[rest] = r_card & ok
        missing[rest] = r_missing
    good = valid | restored
    values = s.to_numpy(dtype=object, na_value=np.nan).copy()
    values[~good] = np.nan
    rebuild = np.flatnonzero(good & ~fast)
    if len(rebuild):
        values[rebuild] = np.ascontiguousarray(out[rebuild]).view("U15").reshape(len(rebuild)).astype(object)
    value = pd.Series(values, index=s.index, dtype=STR)
    digit_val = np.zeros(n, dtype=np.int64)
    is_card = good & card
    for j in range(15):
        dj = out[:, j].astype(np.int64) - ZERO
        take = np.where(is_card, j >= 2, j < 10)
        digit_val = np.where(take, digit_val * 10 + dj, digit_val)
    letters = (out[:, 0].astype(np.int64) - 65) * 26 + (out[:, 1].astype(np.int64) - 65)
    key = np.where(is_card, (1 + letters) * 10**15 + digit_val, digit_val)
    key = np.where(good, key, -1)
    reason = np.full(n, np.nan, dtype=object)
    reason[restored] = "id_zero_restored"
    reason[~missing & ~valid & ~restored] = "insurance_invalid"
    if required:
        reason[missing] = "value_missing"
    return FieldResult(value, pd.Series(reason, index=s.index, dtype=STR), key=key)
