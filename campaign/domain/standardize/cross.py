"""Checks across the fields of one row, on the standardized (typed) frame. All vectorised.

- A 12-digit CCCD encodes sex and birth century in its 4th digit (0 male 19xx, 1 female 19xx, 2 male
  20xx, 3 female 20xx) and the birth year in the 5th-6th: `cccd_sex_mismatch`,
  `cccd_birth_year_mismatch` (warnings); other 4th digits (4-9: 21st-22nd centuries, not yet issued)
  and 8/9-digit CMNDs are not checked.
- `sex_from_cccd` (repair): sex missing or invalid, and the CCCD tells it.
- `under_age` (warning): younger than the minimum age on the campaign date.
- `duplicate_in_file` (warning): all but the first row of a natural key seen twice (rows whose key is
  entirely missing are compared on every column instead: repeated rows).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ._base import STR, FieldResult, as_str


def cccd_facts(id_numbers: pd.Series | FieldResult) -> pd.DataFrame:
    """Per row: `sex` ("male"/"female") and `birth_year` (Int64) read from a 12-digit CCCD whose 4th
    digit is 0-3; NA elsewhere (8/9-digit CMNDs, missing, anything else). Give the clean ID column, or
    the `clean_id_numbers` result itself (its integer key makes this pure arithmetic)."""
    if isinstance(id_numbers, FieldResult) and id_numbers.key is not None:
        index = id_numbers.value.index
        key = id_numbers.key
        twelve = key // 10**12 == 12
        val = key % 10**12
        code = (val // 10**8) % 10
        yy = (val // 10**6) % 100
    else:
        s = as_str(id_numbers.value if isinstance(id_numbers, FieldResult) else id_numbers)
        index = s.index
        n = len(s)
        arr = s.to_numpy(dtype="U13", na_value="")
        v = arr.view(np.uint32).reshape(n, 13) if n else np.zeros((0, 13), dtype=np.uint32)
        twelve = ((v[:, :12] - np.uint32(48)) < 10).all(axis=1) & (v[:, 12] == 0)
        code = v[:, 3].astype(np.int64) - 48
        yy = (v[:, 4].astype(np.int64) - 48) * 10 + (v[:, 5].astype(np.int64) - 48)
    ok = twelve & (code >= 0) & (code <= 3)
    year = 1900 + 100 * (code // 2) + yy
    sex = np.array(["male", "female", np.nan], dtype=object)[np.where(ok, code % 2, 2)]
    return pd.DataFrame(
        {
            "sex": pd.Series(sex, index=index, dtype=STR),
            "birth_year": pd.Series(pd.arrays.IntegerArray(np.where(ok, year, 0), ~ok), index=index),
        }
    )


def cccd_mismatches(
    id_numbers: pd.Series | pd.DataFrame, sex: pd.Series | None, birth_date: pd.Series | None
) -> tuple[np.ndarray, np.ndarray]:
    """(sex disagrees with the CCCD, birth year disagrees with the CCCD) per row; False where either
    side is missing. `id_numbers` may be the clean ID column or its `cccd_facts`."""
    facts = id_numbers if isinstance(id_numbers, pd.DataFrame) else cccd_facts(id_numbers)
    n = len(facts)
    sex_bad = np.zeros(n, dtype=bool)
    year_bad = np.zeros(n, dtype=bool)
    if sex is not None:
        fs = facts["sex"].to_numpy(dtype=object, na_value=None)
        vs = as_str(sex).to_numpy(dtype=object, na_value=None)
        both = pd.notna(fs) & pd.notna(vs)
        sex_bad = both & (fs != vs)
    if birth_date is not None:
        years = birth_date.dt.year.to_numpy(dtype=np.float64, na_value=np.nan)
        cy = facts["birth_year"].to_numpy(dtype=np.float64, na_value=np.nan)
        both = ~np.isnan(years) & ~np.isnan(cy)
        year_bad = both & (cy != years)
    return sex_bad, year_bad


def sex_from_cccd(sex: FieldResult, id_numbers: pd.Series | pd.DataFrame) -> tuple[FieldResult, np.ndarray]:
    """Fill a missing/invalid sex from the CCCD: the value is set and the reason becomes `sex_from_cccd`.
    Returns the new field and the mask of repaired rows. `id_numbers`: the clean IDs or their facts."""
    facts = id_numbers if isinstance(id_numbers, pd.DataFrame) else cccd_facts(id_numbers)
    fill = sex.value.isna().to_numpy() & facts["sex"].notna().to_numpy()
    if not fill.any():
        return sex, fill
    value = as_str(sex.value).to_numpy(dtype=object, na_value=np.nan)
    value[fill] = facts["sex"].to_numpy(dtype=object)[fill]
    reason = sex.reason.to_numpy(dtype=object, na_value=np.nan)
    reason[fill] = "sex_from_cccd"
    index = sex.value.index
    return FieldResult(
        pd.Series(value, index=index, dtype=STR), pd.Series(reason, index=index, dtype=STR)
    ), fill


def age_on(birth_date: pd.Series, on: dt.date) -> pd.Series:
    """Age in whole years on `on` (Int64, NA where the birth date is missing)."""
    y, m, d = birth_date.dt.year, birth_date.dt.month, birth_date.dt.day
    before_birthday = (m > on.month) | ((m == on.month) & (d > on.day))
    age = on.year - y - before_birthday.astype("Int64")
    return age.astype("Int64")


def under_age(birth_date: pd.Series, *, campaign_date: dt.date, min_age_years: int) -> np.ndarray:
    """True where the person is younger than `min_age_years` on `campaign_date`."""
    age = age_on(birth_date, campaign_date)
    return (age < min_age_years).fillna(False).to_numpy(dtype=bool)


def duplicates_in_file(
    clean: pd.DataFrame, natural_key: list[str], keys: dict[str, np.ndarray] | None = None
) -> np.ndarray:
    """All but the first occurrence of each natural key (with at least one key value present); rows
    whose key is entirely missing are duplicates when every column repeats an earlier such row.

    `keys`: optional int64 identities of some columns' values (-1 = missing), e.g. from `FieldResult.key`,
    to avoid hashing a million distinct strings."""
    n = len(clean)
    if n == 0:
        return np.zeros(0, dtype=bool)
    keys = keys or {}
    cols = [c for c in natural_key if c in clean.columns]
    if not cols:
        return clean.duplicated(keep="first").to_numpy() & clean.notna().any(axis=1).to_numpy()
    ints = []
    for c in cols:
        k = keys.get(c)
        if k is None:
            col = clean[c]
            if col.dtype.kind == "M":  # datetimes: their nanoseconds (NaT -> -1)
                k = col.to_numpy(dtype="datetime64[ns]").view(np.int64)
                k = np.where(col.isna().to_numpy(), -1, k)
            else:
                k, _ = pd.factorize(col, use_na_sentinel=True)
        ints.append(np.asarray(k, dtype=np.int64))
    key_matrix = np.stack(ints, axis=1)
    present = (key_matrix >= 0).any(axis=1) if cols else np.zeros(n, dtype=bool)
    dup = np.zeros(n, dtype=bool)
    if present.any():
        dup[present] = _duplicated_rows(key_matrix[present])
    rest = ~present
    if rest.any():
        sub = clean.loc[rest]
        filled = sub.notna().any(axis=1).to_numpy()
        if filled.any():
            idx = np.flatnonzero(rest)[filled]
            dup[idx] = sub.loc[filled].duplicated(keep="first").to_numpy()
    return dup


def _duplicated_rows(keys: np.ndarray) -> np.ndarray:
    """All but the first occurrence of each row of an int64 matrix. Rows are hashed to one int64
    (fast), the hash's first occurrences checked against the full rows; on a collision, exact."""
    n = keys.shape[0]
    h = np.full(n, np.uint64(0x9E3779B97F4A7C15), dtype=np.uint64)
    for j in range(keys.shape[1]):
        x = keys[:, j].view(np.uint64) + np.uint64((0x632BE59BD9B4E019 * (j + 1)) & 0xFFFFFFFFFFFFFFFF)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        h = (h ^ x ^ (x >> np.uint64(31))) * np.uint64(0x100000001B3)
    codes, _ = pd.factorize(h.view(np.int64))
    # factorize numbers codes in order of first appearance: a row holds a first occurrence exactly
    # when its code exceeds every code before it, and those rows come in code order
    seen_max = np.maximum.accumulate(np.concatenate([[-1], codes[:-1]]))
    first = np.flatnonzero(codes > seen_max)
    rep = first[codes]
    dup = rep != np.arange(n)
    if dup.any() and not (keys[dup] == keys[rep[dup]]).all():
        return pd.DataFrame(keys).duplicated(keep="first").to_numpy()  # a hash collision: be exact
    return dup
