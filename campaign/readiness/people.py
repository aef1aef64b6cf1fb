"""Who a readiness row is, and what a facility has, for the readiness rules (pure: frames in, values out):
the person keys of staff and training rows (ID, phone, folded name), the roles each staff row's person was
trained for, and per-facility counts computed once (campaign/readiness/rules.py reads them)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from campaign.domain.text import fold_series


def facility_keys(frame: pd.DataFrame) -> set[tuple[Any, Any]]:
    """The (district, facility_code) pairs that have rows (a missing part is no facility)."""
    if not len(frame):
        return set()
    keys = frame[["district", "facility_code"]].dropna()
    return set(zip(keys["district"], keys["facility_code"], strict=True))


def count_per_facility(frame: pd.DataFrame, distinct: str | None = None) -> dict[tuple[Any, Any], int]:
    """Per (district, facility_code): how many rows, or how many distinct values of the column `distinct`
    (a missing value counts as one value, as `drop_duplicates` has it)."""
    if not len(frame):
        return {}
    if distinct is not None:
        frame = frame.drop_duplicates(["district", "facility_code", distinct])
    return {k: int(v) for k, v in frame.groupby(["district", "facility_code"]).size().items()}


def person_keys(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    out["id_key"] = frame["id_number"].astype("string") if "id_number" in frame else pd.NA
    out["phone_key"] = frame["phone"].astype("string") if "phone" in frame else pd.NA
    out["name_key"] = fold_series(frame["full_name"]).astype("string") if len(frame) else pd.Series(dtype="string")
    return out


def person_key_text(frame: pd.DataFrame) -> pd.Series:
    """One text per row naming the person: "<id>|<phone>|<folded name>", a missing part as ""."""
    keys = person_keys(frame).fillna("").astype(str)
    return (keys["id_key"] + "|" + keys["phone_key"] + "|" + keys["name_key"]).astype(object)


def trained_match(staff: pd.DataFrame, trained: pd.DataFrame) -> pd.Series:
    """For each staff row, the roles the person completed training for (an empty set when none)."""
    if staff.empty or trained.empty:
        return pd.Series([frozenset()] * len(staff), index=staff.index, dtype=object)
    result: list[frozenset[str]] = [frozenset()] * len(staff)
    t = pd.concat([trained[["district", "facility_code", "role_trained"]], person_keys(trained)], axis=1)
    s = pd.concat([staff[["district", "facility_code"]], person_keys(staff)], axis=1)
    matched = np.zeros(len(staff), dtype=bool)
    # strongest evidence first; a bare name only within its facility (across a district, names repeat:
    # a namesake's training must not vouch for someone who was never trained)
    for cols in (["district", "id_key"], ["district", "phone_key"], ["district", "facility_code", "name_key"]):
        known = t.dropna(subset=cols)
        if known.empty:
            continue
        lookup: dict[tuple[Any, ...], set[str]] = {}
        for key, role in zip(known[cols].itertuples(index=False, name=None), known["role_trained"], strict=True):
            lookup.setdefault(key, set()).update([role] if isinstance(role, str) else [])
        # only the rows not matched yet whose key is complete (a missing part matches nothing)
        todo = np.flatnonzero(~matched & s[cols].notna().all(axis=1).to_numpy())
        if not len(todo):
            continue
        for pos, key in zip(todo, s.iloc[todo][cols].itertuples(index=False, name=None), strict=True):
            roles = lookup.get(key)
            if roles is not None:
                result[pos] = frozenset(roles)
                matched[pos] = True
    return pd.Series(result, index=staff.index, dtype=object)
