"""Communes within the uploading district: the name column and the code column resolved together.

Looked up once per distinct value (`AdminUnits.lookup_communes`), within the district that uploads:
- a code of the district wins; the name becomes the official name. If the name was given and points
  elsewhere, the code is still trusted and the row loads; the disagreement is reported as
  `commune_name_mismatch` (warning) once the catalogue has that code (proposed; until then, silent);
- a code that is absent, empty, malformed or not of the district, with a name that resolves in the
  district: the code is filled from the name, `commune_from_name` (repair);
- otherwise the most telling reason (row severity, values NA): `commune_outside_district` (the code or
  name belongs to another district of the province), `commune_ambiguous` (a name matching several
  communes of the district, e.g. "Ia Bang" in Chư Prông: Ia Băng or Ia Bang), `commune_unknown`;
  `value_missing` for a required commune with neither name nor code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from campaign.config_reasons import load_reasons

from ._base import STR, FieldResult, as_str
from .codes import clean_code_value
from .names import clean_text_value

MISMATCH_CODE = "commune_name_mismatch"  # not in the catalogue yet: emitted only once it is


@dataclass
class CommuneResult:
    name: FieldResult
    code: FieldResult


def _units(units: Any) -> Any:
    if units is not None:
        return units
    from campaign.domain.admin_units import get_admin_units

    return get_admin_units()


def resolve_communes(
    names: pd.Series | None,
    codes: pd.Series | None,
    *,
    district_code: str,
    units: Any = None,
    required: bool = True,
    max_length: int | None = None,
) -> CommuneResult:
    """Resolve commune names and/or codes within `district_code` (see module doc).

    `names`/`codes` may be None (column absent); at least one must be given. Returns the clean name
    (official full name, e.g. "Xã Ia Băng") and the clean 5-digit code, each with its reason.
    """
    if names is None and codes is None:
        raise ValueError("give the commune names, the codes, or both")
    ref = names if names is not None else codes
    assert ref is not None
    index = ref.index
    n = len(ref)
    units = _units(units)

    def side(raw: pd.Series | None, clean_fn) -> dict[str, np.ndarray]:  # noqa: ANN001
        """Clean and look up the distinct values of one column; arrays per row."""
        if raw is None:
            none = np.zeros(n, dtype=bool)
            nan = np.full(n, np.nan, dtype=object)
            return {"has": none, "bad": none, "status": nan, "code": nan, "outside": none, "official": nan}
        s = as_str(raw)
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        cleaned = [clean_fn(u) for u in uniques]
        values = pd.Series([v for v, _ in cleaned], dtype=STR)
        bad_u = np.array([r == "value_invalid" for _, r in cleaned] + [False], dtype=bool)
        has_u = np.append(values.notna().to_numpy(), False)
        found = units.lookup_communes(values, district_code)
        status_u = np.append(found["status"].to_numpy(dtype=object), "unknown")
        code_u = np.append(found["code"].to_numpy(dtype=object), np.nan)
        outside_u = np.append(found["outside_code"].notna().to_numpy(), False)
        # unknown here and not one single commune elsewhere: maybe several of that name elsewhere
        for i in np.flatnonzero((status_u[:-1] == "unknown") & ~outside_u[:-1] & has_u[:-1]):
            outside_u[i] = len(units.lookup(values.iloc[i], "commune", district_code).candidates) > 0
        official_u = np.array([_official_name(units, c) for c in code_u], dtype=object)
        pos = np.where(codes < 0, len(uniques), codes)
        return {
            "official": official_u[pos],
            "has": has_u[pos],
            "bad": bad_u[pos],
            "status": status_u[pos],
            "code": code_u[pos],
            "outside": outside_u[pos],
        }

    nm = side(names, lambda t: clean_text_value(t, max_length))
    cd = side(codes, lambda t: clean_code_value(t, 5))
    has_name, has_code = nm["has"], cd["has"]
    name_too_long, code_malformed = nm["bad"], cd["bad"]
    n_found = has_name & (nm["status"] == "found")
    c_found = has_code & (cd["status"] == "found")
    n_code, c_code = nm["code"], cd["code"]
    n_outside = has_name & ~n_found & nm["outside"]
    c_outside = has_code & ~c_found & cd["outside"]
    n_ambiguous = has_name & (nm["status"] == "ambiguous")

    code_out = np.full(n, np.nan, dtype=object)
    code_out[c_found] = c_code[c_found]
    from_name = ~c_found & n_found
    code_out[from_name] = n_code[from_name]
    resolved = c_found | from_name
    mismatch = c_found & has_name & ~(n_found & (n_code == c_code))
    # An ambiguous name ("Ia Bang" in Chư Prông) agrees with a code that is one of its candidates.
    candidates_of: dict[str, set[str]] = {}
    for i in np.flatnonzero(mismatch & n_ambiguous):
        name = str(names.iloc[i])
        if name not in candidates_of:
            candidates_of[name] = {u.code for u in units.lookup(name, "commune", district_code).candidates}
        if c_code[i] in candidates_of[name]:
            mismatch[i] = False

    name_reason = np.full(n, np.nan, dtype=object)
    code_reason = np.full(n, np.nan, dtype=object)
    code_reason[from_name] = "commune_from_name"
    open_rows = ~resolved  # failed rows not given a reason yet

    # the most telling reason first; later assignments do not overwrite earlier ones
    def put(target: np.ndarray, mask: np.ndarray, code: str) -> None:
        m = open_rows & mask
        target[m] = code
        open_rows[m] = False

    put(code_reason, c_outside, "commune_outside_district")
    put(name_reason, n_outside, "commune_outside_district")
    put(name_reason, n_ambiguous, "commune_ambiguous")
    put(name_reason, has_name | name_too_long, "commune_unknown")
    put(code_reason, has_code | code_malformed, "commune_unknown")
    if required:
        put(name_reason if names is not None else code_reason, np.ones(n, dtype=bool), "value_missing")
    if mismatch.any() and MISMATCH_CODE in load_reasons().reasons:
        name_reason[mismatch] = MISMATCH_CODE

    official = np.where(c_found, cd["official"], np.where(from_name, nm["official"], np.nan))
    name_value = pd.Series(official, index=index, dtype=STR)
    code_value = pd.Series(code_out, index=index, dtype=STR)
    return CommuneResult(
        name=FieldResult(name_value, pd.Series(name_reason, index=index, dtype=STR)),
        code=FieldResult(code_value, pd.Series(code_reason, index=index, dtype=STR)),
    )


def _official_name(units: Any, code: Any) -> Any:
    if not isinstance(code, str):
        return np.nan
    unit = units.commune(code)
    return unit.name if unit is not None else np.nan
