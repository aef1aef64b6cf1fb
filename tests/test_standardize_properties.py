"""Property tests: random and hostile cells never break the standardizer.

Every field function and `standardize` (for every input kind) must return, for any cells: one value and
one reason per row, never raise, keep the index, emit only catalogue codes, and never carry a value
together with a row-severity reason (a quarantined field has no value).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign.config_kinds import load_input_kinds
from campaign.config_reasons import load_reasons
from campaign.domain.standardize import (
    FieldResult,
    clean_admin_codes,
    clean_booleans,
    clean_decimals,
    clean_enum,
    clean_facility_codes,
    clean_id_numbers,
    clean_insurance_numbers,
    clean_integers,
    clean_names,
    clean_phones,
    clean_priority_groups,
    clean_sex,
    clean_text,
    parse_dates,
    parse_datetimes,
    resolve_communes,
    standardize,
)

TODAY = dt.date(2021, 7, 28)
SEVERITY = {c: r.severity for c, r in load_reasons().reasons.items()}
SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FRAME_SETTINGS = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HOSTILE = [
    "", " ", "\t\n", "\u00a0", "\u200b", "\ufeff0912345678", "=1+1", "+84", "-", "@SUM(A1)", "<script>x</script>",
    "<b>", "&amp;", "\x00", "\x07bell", "\ud800", "a\udfffb", "9" * 400, "1e308", "-1e308", "nan", "NaN", "inf",
    "-0", "0", "00", "1.23457E+11", "44405", "60", "0.5", "99999999999999999999", "１２３", "٣", "²", "Ⅻ",
    "31/02/1990", "29/02/1900", "13/13/2013", "1985", "2999", "0162 123 4567", "0912345678x", "+1 650 253 0000",
    "Nhóm 9", "NỮ", "Ia Bang", "Xã Ia Băng", "23905", "GD4646412345678", "64190001234", "😀", "ǅ", "ß", "İ",
    "x" * 1000, "'", "''", "(", ")", "..", "1,234.5", "1.234,5", "2021-07-28T08:30:00+07:00", "8h30 28/07/2021",
]  # fmt: skip

cells = st.one_of(
    st.none(),
    st.just(np.nan),
    st.sampled_from(HOSTILE),
    st.text(max_size=30),
    st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Zs", "Nd", "P", "S"]), max_size=20),
    st.from_regex(r"\+?\d[\d .\-]{0,16}", fullmatch=True),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.dates(min_value=dt.date(1800, 1, 1), max_value=dt.date(2200, 12, 31)).map(
        lambda d: d.strftime("%d/%m/%Y")
    ),
)
columns = st.lists(cells, min_size=0, max_size=12)


def as_series(values: list) -> pd.Series:
    return pd.Series(values, dtype=object, index=pd.RangeIndex(100, 100 + len(values)))


def check(result: FieldResult, raw: pd.Series) -> None:
    assert len(result.value) == len(raw) == len(result.reason)
    assert result.value.index.equals(raw.index)
    assert result.reason.index.equals(raw.index)
    for value, reason in zip(result.value.tolist(), result.reason.tolist(), strict=True):
        if pd.isna(reason):
            continue
        assert reason in SEVERITY, reason
        if SEVERITY[reason] == "row":
            assert pd.isna(value), (value, reason)


FIELD_FUNCTIONS = {
    "names": lambda s: clean_names(s, max_length=100),
    "text": lambda s: clean_text(s, required=True, max_length=50),
    "id_number": clean_id_numbers,
    "insurance_number": clean_insurance_numbers,
    "phone": clean_phones,
    "phone_optional": lambda s: clean_phones(s, required=False),
    "birth_date": lambda s: parse_dates(s, role="birth", today=TODAY),
    "date": lambda s: parse_dates(s, role="other", today=TODAY),
    "datetime": lambda s: parse_datetimes(s, today=TODAY),
    "sex": clean_sex,
    "priority_group": clean_priority_groups,
    "enum": lambda s: clean_enum(s, "vaccine_product", required=True),
    "boolean": clean_booleans,
    "integer": lambda s: clean_integers(s, required=True, min_value=0, max_value=100),
    "decimal": lambda s: clean_decimals(s, min_value=8, max_value=24),
    "facility_code": lambda s: clean_facility_codes(s, known={"TYT-1"}),
    "admin_code": lambda s: clean_admin_codes(s, width=5),
}


@pytest.mark.parametrize("name", sorted(FIELD_FUNCTIONS))
@SETTINGS
@given(values=columns)
def test_field_functions_never_raise(name, values):
    raw = as_series(values)
    check(FIELD_FUNCTIONS[name](raw), raw)
    # the same cells as the pandas string dtype
    as_str = raw.astype("str")
    check(FIELD_FUNCTIONS[name](as_str), as_str)


@SETTINGS
@given(names=columns, codes=columns)
def test_communes_never_raise(names, codes):
    n = min(len(names), len(codes))
    raw_names, raw_codes = as_series(names[:n]), as_series(codes[:n])
    r = resolve_communes(raw_names, raw_codes, district_code="632")
    check(r.name, raw_names)
    check(r.code, raw_codes)


@pytest.mark.parametrize("kind", load_input_kinds().names)
@FRAME_SETTINGS
@given(data=st.data())
def test_standardize_every_kind_never_raises(kind, data):
    spec = load_input_kinds()[kind]
    n = data.draw(st.integers(min_value=0, max_value=8))
    present = data.draw(st.lists(st.sampled_from([c.name for c in spec.columns]), unique=True))
    frame = pd.DataFrame(
        {name: data.draw(st.lists(cells, min_size=n, max_size=n)) for name in present},
        index=pd.RangeIndex(n),
        dtype=object,
    )
    res = standardize(
        frame,
        kind,
        district_code="632",
        campaign_date=dt.date(2021, 7, 29),
        today=TODAY,
        known_facilities={"TYT-1"},
        min_age_years=18,
    )
    assert len(res.clean) == n == len(res.row_severity) == len(res.quarantined)
    assert list(res.clean.columns) == [c.name for c in spec.columns]
    assert set(res.issues["code"]) <= set(SEVERITY)
    row_issues = res.issues.dropna(subset=["row"])
    assert row_issues["row"].between(0, max(n - 1, 0)).all()
    quarantined_rows = set(row_issues.loc[row_issues["severity"] == "row", "row"].astype(int))
    assert quarantined_rows == set(np.flatnonzero(res.quarantined.to_numpy()))
    for name in res.reasons.columns:
        for value, reason in zip(res.clean[name].tolist(), res.reasons[name].tolist(), strict=True):
            if not pd.isna(reason) and SEVERITY[reason] == "row":
                assert pd.isna(value), (name, value, reason)


date_like = st.one_of(
    st.from_regex(r"\d{2}[/.\-]\d{2}[/.\-]\d{4}", fullmatch=True),
    st.from_regex(r"\d{4}-\d{2}-\d{2}", fullmatch=True),
    st.from_regex(r"\d{1,5}", fullmatch=True),
    st.dates(min_value=dt.date(1890, 1, 1), max_value=dt.date(2210, 1, 1)).map(str),
)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(date_like, min_size=1, max_size=20), role=st.sampled_from(["birth", "other"]))
def test_vectorised_date_fast_path_agrees_with_the_parser(values, role):
    from campaign.domain.standardize.dates import _fast_parse, _parse_one

    uniques = pd.Index(pd.unique(pd.Series(values, dtype="str")))
    handled, ns, ok, reason = _fast_parse(uniques, role, TODAY)
    for i, text in enumerate(uniques):
        if not handled[i]:
            continue
        slow_ns, _off, slow_code = _parse_one(text, role, TODAY)
        assert ok[i] == (slow_ns is not None), text
        if ok[i]:
            assert ns[i] == slow_ns, text
        assert (None if pd.isna(reason[i]) else reason[i]) == slow_code, text


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(-1, 3), st.integers(-1, 3), st.integers(-(2**62), 2**62)),
        min_size=1,
        max_size=40,
    ),
    narrow=st.booleans(),
)
def test_hashed_duplicates_agree_with_pandas(rows, narrow):
    from campaign.domain.standardize.cross import _duplicated_rows

    keys = np.array([r[:2] if narrow else r for r in rows], dtype=np.int64)
    expected = pd.DataFrame(keys).duplicated(keep="first").to_numpy()
    assert _duplicated_rows(keys).tolist() == expected.tolist()
