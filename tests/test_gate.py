"""The GX gate (`expectations.gate.run_gate`) on tiny standardized frames whose answer is known, and the
suites (`expectations/<kind>.json`) against the column spec."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from campaign.config import load_campaign
from campaign.config_kinds import load_input_kinds
from campaign.config_reasons import load_reasons
from campaign.domain.standardize import Standardized, standardize
from expectations.gate import GateResult, mask_phones, natural_key_hash, run_gate
from expectations.suites import (
    NATURAL_KEY,
    PARAM_CAMPAIGN_DATE,
    PARAM_MIN_ACCEPTED_SHARE,
    ROW_STATUS,
    SUITES_DIR,
    dumps,
    load_suite_document,
    suite_json,
    suite_path,
)

TODAY = dt.date(2021, 7, 28)
CAMPAIGN_DAY = dt.date(2021, 7, 29)
DISTRICT = "622"  # Thành phố Pleiku
COMMUNE = "Phường Yên Đỗ"
GIVEN = ["An", "Bình", "Cường", "Dũng", "Giang", "Hà", "Khánh", "Lan", "Minh", "Nga", "Phúc", "Quân",
         "Sơn", "Tâm", "Uyên", "Vinh", "Xuân", "Yến", "Đức", "Ánh"]
MAX_SHARE = load_campaign().intake.max_rejected_share  # the campaign's own threshold (0.5 in Gia Lai 2021)


def person(i: int, *, bad: bool = False) -> dict[str, str]:
    """A valid target-list row (distinct name, birth date, phone, CCCD per i); `bad` makes the priority
    group invalid, which quarantines the row (priority_group_invalid, severity row)."""
    year = 1930 + i % 70
    return {
        "full_name": f"Nguyễn Văn {GIVEN[i % len(GIVEN)]} {chr(65 + i // len(GIVEN))}".strip(),
        "birth_date": f"{13 + i % 15}/03/{year}",
        "sex": "Nam",
        "priority_group": "99" if bad else str(1 + i % 16),
        "phone": f"09123456{i:02d}",
        "id_number": f"0640{year % 100:02d}{i:06d}",  # 12-digit CCCD: Gia Lai, male born 19xx
        "commune_name": COMMUNE,
    }


def target_list(n: int, bad: int = 0, **changes: Any) -> pd.DataFrame:
    frame = pd.DataFrame([person(i, bad=i < bad) for i in range(n)], dtype="str")
    for column, value in changes.items():
        frame[column] = value
    return frame


def std_of(frame: pd.DataFrame, kind: str = "target_list") -> Standardized:
    return standardize(frame.astype("str"), kind, district_code=DISTRICT, campaign_date=CAMPAIGN_DAY, today=TODAY,
                       min_age_years=18)


def gate(std: Standardized, kind: str = "target_list", *, share: float = 0.5, docs: Path | None = None,
         **kw: Any) -> GateResult:
    """The gate as intake runs it; `share` 0.5 (the Gia Lai default) unless a test is about the threshold."""
    return run_gate(std, kind, max_rejected_share=share, data_docs_dir=docs, submission_label="test-submission",
                    campaign_date=CAMPAIGN_DAY, **kw)


def vaccinations(n: int, bad: int = 0) -> pd.DataFrame:
    rows = []
    for i in range(n):
        rows.append({
            "facility_code": "F001", "full_name": person(i)["full_name"], "birth_date": person(i)["birth_date"],
            "sex": "Nam", "session_date": "28/07/2021", "screening_result": "Đủ điều kiện tiêm",
            "vaccinated": "Có", "product": "AstraZeneca", "lot": "A123",
            "dose_number": "9" if i < bad else "1",  # dose 9: out of 1-4, a warning (value kept)
        })
    frame = pd.DataFrame(rows, dtype="str")
    if bad:
        frame.loc[: bad - 1, "sex"] = "?"  # sex_invalid: quarantined
    return frame


@pytest.fixture(scope="module")
def docs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data-docs")


# ---------------------------------------------------------------------------------------------------------
# Blocking rules
# ---------------------------------------------------------------------------------------------------------


def test_a_clean_file_passes_every_expectation():
    result = gate(std_of(target_list(12)))
    doc = load_suite_document("target_list")
    assert result.blocking == []
    assert result.failed == []
    assert result.statistics == {"evaluated": len(doc["expectations"]), "successful": len(doc["expectations"]),
                                 "unsuccessful": 0}
    assert result.rows == 12
    assert set(result.timings) == {"prepare", "validate", "docs"}


def test_a_missing_required_column_blocks_with_its_vietnamese_header():
    std = std_of(target_list(6).drop(columns=["phone"]))
    assert std.missing_columns == ["phone"]
    result = gate(std)
    assert result.blocking == [("required_column_missing", "thiếu cột bắt buộc: «Số điện thoại»")]
    assert [(f["expectation"], f["column"], f["severity"]) for f in result.failed] == [
        ("expect_column_to_exist", "phone", "blocking")]
    # the rules on the absent column are not run (they could only raise): one rule fewer evaluated
    full = len(load_suite_document("target_list")["expectations"])
    assert result.statistics["evaluated"] == full - 1
    assert all(f["error"] is None for f in result.failed)
    # ... and the stored suite is whole again for the next submission
    assert gate(std_of(target_list(3))).statistics["evaluated"] == full


def test_several_missing_columns_are_one_blocking_reason_before_the_share_of_rows():
    result = gate(std_of(target_list(10, bad=6).drop(columns=["sex", "commune_name"])))
    assert result.blocking == [("required_column_missing", "thiếu cột bắt buộc: «Giới tính», «Xã/Phường»"),
                               ("too_many_rejected_rows", "6/10 dòng, quá 50%")]


def test_an_optional_column_may_be_absent():
    result = gate(std_of(target_list(4).drop(columns=["id_number"])))
    assert result.blocking == []


def _rows_at_threshold(share: float) -> tuple[int, int]:
    """(rows, quarantined rows) with quarantined / rows == share exactly."""
    for rows in (10, 20, 100):
        if abs(share * rows - round(share * rows)) < 1e-9:
            return rows, round(share * rows)
    pytest.skip(f"max_rejected_share {share} has no exact threshold within 100 rows")


@pytest.mark.parametrize(("offset", "blocked"), [(-1, False), (0, False), (1, True)], ids=["below", "at", "above"])
def test_the_share_of_quarantined_rows_blocks_only_above_the_configured_threshold(offset, blocked):
    rows, at = _rows_at_threshold(MAX_SHARE)  # Gia Lai 2021: 50%, 5 of 10 rows
    bad = at + offset
    std = std_of(target_list(rows, bad=bad))
    assert int(std.quarantined.sum()) == bad
    result = gate(std, share=MAX_SHARE)
    assert blocked == (bad / rows > MAX_SHARE)  # what campaign/intake/run.py decides by hand today
    if blocked:
        assert result.blocking == [("too_many_rejected_rows", f"{bad}/{rows} dòng, quá {MAX_SHARE:.0%}")]
    else:
        assert result.blocking == []


@pytest.mark.parametrize(("share", "rows", "bad"), [(0.3, 10, 3), (0.1, 10, 1), (0.7, 10, 7), (0.35, 20, 7)])
def test_the_threshold_itself_is_accepted_for_any_configured_share(share, rows, bad):
    """(rows - bad) / rows >= 1 - share misjudges some exact thresholds in floats; the gate does not."""
    std = std_of(target_list(rows, bad=bad))
    assert gate(std, share=share).blocking == []
    std_more = std_of(target_list(rows, bad=bad + 1))
    assert [c for c, _ in gate(std_more, share=share).blocking] == ["too_many_rejected_rows"]


def test_the_threshold_is_a_run_time_parameter_not_written_in_the_suite():
    for kind in load_input_kinds().names:
        doc = load_suite_document(kind)
        share = [e for e in doc["expectations"] if e["meta"]["reason"] == "too_many_rejected_rows"]
        assert len(share) == 1
        assert share[0]["kwargs"]["mostly"] == {"$PARAMETER": PARAM_MIN_ACCEPTED_SHARE}
        assert share[0]["kwargs"]["column"] == ROW_STATUS


def test_an_empty_snapshot_file_blocks_but_an_empty_event_file_does_not():
    empty_snapshot = gate(std_of(target_list(1).iloc[:0]))
    assert empty_snapshot.blocking == [
        ("unreadable_file", "tệp không có dòng dữ liệu nào (một danh sách rỗng sẽ xoá dữ liệu hiện có)")]
    empty_event = gate(std_of(vaccinations(1).iloc[:0], "vaccinations"), "vaccinations")
    assert empty_event.blocking == []
    assert empty_event.rows == 0


def test_repeats_of_an_event_kind_are_not_counted_in_the_share():
    std = std_of(vaccinations(10, bad=3), "vaccinations")
    assert int(std.quarantined.sum()) == 3
    assert gate(std, "vaccinations").blocking == []  # 3/10
    repeats = np.array([False] * 4 + [True] * 6)  # rows 4-9 were received before: 3 of 4 new rows are bad
    result = gate(std, "vaccinations", repeats=repeats)
    assert result.blocking == [("too_many_rejected_rows", "3/4 dòng, quá 50%")]
    all_repeats = gate(std_of(vaccinations(5), "vaccinations"), "vaccinations", repeats=np.ones(5, dtype=bool))
    assert all_repeats.blocking == []


# ---------------------------------------------------------------------------------------------------------
# Row and warning rules: reported, never blocking
# ---------------------------------------------------------------------------------------------------------


def _failed(result: GateResult) -> dict[tuple[str | None, str | None], dict[str, Any]]:
    return {(f["column"], f["reason"]): f for f in result.failed}


def test_warnings_are_reported_and_do_not_block():
    frame = target_list(8)
    frame.loc[1, "phone"] = None  # phone_missing: a warning, the row is loaded
    frame.loc[5] = frame.loc[4]  # duplicate_in_file: a warning, both rows loaded
    std = std_of(frame)
    assert not std.quarantined.any()
    result = gate(std)
    assert result.blocking == []
    failed = _failed(result)
    assert failed[("phone", "phone_missing")]["unexpected_count"] == 1
    assert failed[("phone", "phone_missing")]["severity"] == "warning"
    assert failed[("phone", "phone_missing")]["gx_column"] == "_has__phone"
    dup = failed[(NATURAL_KEY, "duplicate_in_file")]
    assert dup["severity"] == "warning" and dup["unexpected_count"] == 2  # every row of the duplicate pair
    assert {f["severity"] for f in result.failed} == {"warning"}


def test_quarantined_rows_are_not_counted_by_the_not_null_and_duplicate_rules():
    frame = target_list(8)
    frame.loc[2, "full_name"] = None  # name_missing: row quarantined
    frame.loc[7] = frame.loc[6]
    frame.loc[7, "priority_group"] = "99"  # the duplicate is quarantined: not a duplicate among loaded rows
    std = std_of(frame)
    assert std.quarantined.tolist() == [False, False, True, False, False, False, False, True]
    result = gate(std)
    assert result.blocking == []
    assert result.failed == []


def test_out_of_range_numbers_are_warnings_with_the_spec_bounds():
    frame = pd.DataFrame([{"facility_code": "F001", "facility_name": "Trạm y tế phường Yên Đỗ", "commune_name": COMMUNE,
                           "vaccination_tables": "150", "person_in_charge": "Trần Thị Bích",
                           "phone_in_charge": "0987654321"}], dtype="str")
    result = gate(std_of(frame, "facilities"), "facilities")
    assert result.blocking == []
    f = _failed(result)[("vaccination_tables", "value_out_of_range")]
    assert f["severity"] == "warning" and f["unexpected_count"] == 1
    assert f["expectation"] == "expect_column_values_to_be_between"


def _with_clean(std: Standardized, **columns: Any) -> Standardized:
    clean = std.clean.copy()
    for name, values in columns.items():
        clean[name] = values
    return dataclasses.replace(std, clean=clean)


def test_the_suite_catches_what_the_standardizer_should_have_refused():
    """Defence in depth: values the standardizer never lets through, planted in its output."""
    std = std_of(target_list(6))
    births = std.clean["birth_date"].copy()
    births.iloc[0] = pd.Timestamp("1890-05-20")
    births.iloc[1] = pd.Timestamp(CAMPAIGN_DAY) + pd.Timedelta(days=1)
    groups = std.clean["priority_group"].copy()
    groups.iloc[2] = 17
    sexes = std.clean["sex"].copy()
    sexes.iloc[3] = "M"
    phones = std.clean["phone"].copy()
    phones.iloc[4] = "0912 345 678"
    result = gate(_with_clean(std, birth_date=births, priority_group=groups, sex=sexes, phone=phones))
    assert result.blocking == []
    failed = _failed(result)
    assert failed[("birth_date", "dob_invalid")]["unexpected_count"] == 2
    assert failed[("birth_date", "dob_invalid")]["severity"] == "row"
    assert failed[("priority_group", "priority_group_invalid")]["unexpected_count"] == 1
    assert failed[("sex", "sex_invalid")]["unexpected_count"] == 1
    assert failed[("phone", "phone_invalid")]["unexpected_count"] == 1
    assert failed[("phone", "phone_invalid")]["severity"] == "warning"


def test_the_latest_birth_date_is_the_campaign_date_given_at_run_time():
    std = std_of(target_list(3))
    births = std.clean["birth_date"].copy()
    births.iloc[0] = pd.Timestamp("2021-07-20")
    std = _with_clean(std, birth_date=births)
    assert ("birth_date", "dob_invalid") not in _failed(gate(std))
    early = run_gate(std, "target_list", max_rejected_share=0.5, data_docs_dir=None,
                     submission_label="x", campaign_date=dt.date(2021, 7, 1))
    assert _failed(early)[("birth_date", "dob_invalid")]["unexpected_count"] == 1


# ---------------------------------------------------------------------------------------------------------
# Data Docs and the result object
# ---------------------------------------------------------------------------------------------------------


def _pii_strings(frame: pd.DataFrame, std: Standardized) -> set[str]:
    """Every personal value of the test data in the forms a page could show it."""
    values: set[str] = set()
    for column in ("full_name", "phone", "id_number", "birth_date"):
        values.update(str(v) for v in frame[column].dropna())
    for column in ("full_name", "phone", "id_number"):
        values.update(str(v) for v in std.clean[column].dropna())
    for ts in std.clean["birth_date"].dropna():
        values.update({ts.strftime("%Y-%m-%d"), ts.strftime("%d/%m/%Y"), ts.isoformat(), str(ts)})
    values.update({"0912 777 555", "912 777 555"})
    for v in list(values):
        if v.startswith("+84"):
            values.add(v[3:])  # the national significant number
    return {v for v in values if len(v) >= 6}


def test_data_docs_page_exists_and_holds_no_personal_data(docs_dir):
    frame = target_list(10, bad=6)  # rejected, and failing rules on the personal columns too
    frame.loc[7, "phone"] = None
    frame.loc[9] = frame.loc[8]
    std = std_of(frame)
    births, phones = std.clean["birth_date"].copy(), std.clean["phone"].copy()
    births.iloc[3] = pd.Timestamp("1890-05-20")  # a value only a leaking page could show
    phones.iloc[2] = "0912 777 555"
    std = _with_clean(std, birth_date=births, phone=phones)
    result = gate(std, docs=docs_dir / "sub-1")
    assert result.blocking
    assert {f["reason"] for f in result.failed} >= {"too_many_rejected_rows", "phone_missing", "duplicate_in_file",
                                                    "dob_invalid", "phone_invalid"}
    page = result.data_docs_index
    assert page is not None and page.is_file() and page.suffix == ".html"
    assert docs_dir / "sub-1" in page.parents
    assert "test-submission" in page.parts
    html = page.read_text(encoding="utf-8")
    assert "Tỷ lệ dòng bị loại" in html  # the Vietnamese rule text
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in (docs_dir / "sub-1").rglob("*")
             if p.is_file() and p.suffix in {".html", ".json", ".js"}]
    assert len(texts) >= 2  # the validation page and the site's index
    leaked = {v for v in _pii_strings(frame, std) for t in texts if v in t}
    assert leaked == set()
    assert result.timings["docs"] > 0


def test_no_data_docs_without_a_directory():
    result = gate(std_of(target_list(3)))
    assert result.data_docs_index is None
    assert result.timings["docs"] == 0.0


def test_each_submission_gets_its_own_site(docs_dir):
    a = gate(std_of(target_list(3)), docs=docs_dir / "a")
    b = gate(std_of(target_list(4)), docs=docs_dir / "b")
    index_b = (docs_dir / "b" / "index.html").read_text(encoding="utf-8")
    assert a.data_docs_index is not None and b.data_docs_index is not None
    assert a.data_docs_index.parent.name not in index_b  # b's index lists b's validation only


def _plain(value: Any, path: str = "result") -> None:
    if value is None or isinstance(value, str | int | float | bool | Path):
        return
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _plain(v, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for k, v in value.items():
            assert isinstance(k, str), f"{path}: key {k!r}"
            _plain(v, f"{path}.{k}")
        return
    raise AssertionError(f"{path}: {type(value).__module__}.{type(value).__name__} is not plain data")


def test_gate_result_is_plain_picklable_data(docs_dir):
    result = gate(std_of(target_list(10, bad=6)), docs=docs_dir / "plain")
    assert type(result) is GateResult and dataclasses.is_dataclass(result)
    for f in dataclasses.fields(result):
        _plain(getattr(result, f.name), f.name)
    clone = pickle.loads(pickle.dumps(result))
    assert clone == result
    assert clone.rejected and clone.blocking[0][0] == "too_many_rejected_rows"


# ---------------------------------------------------------------------------------------------------------
# The suites
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", load_input_kinds().names)
def test_the_json_suite_is_up_to_date_with_the_column_spec(kind):
    path = suite_path(kind)
    assert path.parent == SUITES_DIR
    assert path.read_text(encoding="utf-8") == dumps(suite_json(kind)), (
        f"{path.name} is out of date: run `uv run python -m expectations.build_suites`")


def test_every_expectation_carries_severity_reason_and_vietnamese_text():
    reasons = load_reasons()
    vietnamese = re.compile(r"[ăâđêôơưáàảãạếềểễệốồổỗộớờởỡợứừửữự]", re.IGNORECASE)
    for kind in load_input_kinds().names:
        doc = json.loads(suite_path(kind).read_text(encoding="utf-8"))
        assert doc["name"] == kind
        for e in doc["expectations"]:
            meta = e["meta"]
            assert meta["reason"] in reasons.reasons, (kind, e["type"])
            assert meta["severity"] == reasons.severity(meta["reason"]), (kind, e["type"], meta)
            assert vietnamese.search(e["description"]) and vietnamese.search(e["notes"])
            assert "$" not in e["description"]  # Data Docs renders the description as a template


def test_suites_hold_the_rules_the_design_asks_for():
    kinds = load_input_kinds()
    for kind in kinds.names:
        spec = kinds[kind]
        doc = load_suite_document(kind)
        by_reason: dict[str, list[dict[str, Any]]] = {}
        for e in doc["expectations"]:
            by_reason.setdefault(e["meta"]["reason"], []).append(e)
        exists = {e["kwargs"]["column"] for e in by_reason["required_column_missing"]}
        assert exists == {c.name for c in spec.required_columns}
        assert ("unreadable_file" in by_reason) == (spec.mode == "snapshot")
        assert len(by_reason["duplicate_in_file"]) == 1
        for col in spec.columns:
            if col.type == "enum":
                sets = [e for e in doc["expectations"]
                        if e["kwargs"].get("column") == col.name and e["type"] == "expect_column_values_to_be_in_set"]
                assert sets and sets[0]["kwargs"]["value_set"] == list(kinds.enums[col.enum])
            if col.min is not None and col.name != "priority_group":
                between = [e for e in by_reason.get("value_out_of_range", []) if e["kwargs"]["column"] == col.name]
                assert between[0]["kwargs"]["min_value"] == col.min and between[0]["meta"]["severity"] == "warning"
    target = load_suite_document("target_list")
    dob = next(e for e in target["expectations"] if e["meta"]["reason"] == "dob_invalid")
    assert dob["kwargs"]["max_value"] == {"$PARAMETER": PARAM_CAMPAIGN_DATE}
    assert dob["kwargs"]["min_value"].startswith("1900-01-01")
    group = next(e for e in target["expectations"] if e["meta"]["reason"] == "priority_group_invalid"
                 and e["type"] == "expect_column_values_to_be_between")
    assert (group["kwargs"]["min_value"], group["kwargs"]["max_value"], group["meta"]["severity"]) == (1, 16, "row")


# ---------------------------------------------------------------------------------------------------------
# Helpers of the gate frame
# ---------------------------------------------------------------------------------------------------------


def test_phones_are_masked_to_their_shape():
    phones = pd.Series(["+84912345678", None, "+842693123456", "+8491234x678", "0912345678",
                        "+84912345678901234", "+849123ắ5678"], dtype="str")
    shapes = mask_phones(phones)
    assert shapes[0] == "+8491#######" and pd.isna(shapes[1]) and shapes[2] == "+8426########"
    assert list(shapes[3:]) == ["?", "?", "?", "?"]


def test_natural_key_hash_is_equal_for_equal_keys_and_missing_where_not_kept():
    clean = pd.DataFrame({"a": pd.Series(["x", "y", "x", None], dtype="str"),
                          "d": pd.to_datetime(["2000-01-01", "2000-01-01", "2000-01-01", None])})
    h = natural_key_hash(clean, ["a", "d"], np.array([True, True, True, True]))
    assert h[0] == h[2] and h[0] != h[1] and pd.isna(h[3])
    kept = natural_key_hash(clean, ["a", "d"], np.array([True, True, False, True]))
    assert pd.isna(kept[2]) and not pd.isna(kept[0])


# ---------------------------------------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------------------------------------


def test_a_run_keeps_neither_the_frame_nor_the_result_in_the_shared_context():
    import expectations.gate as gate_module

    gate(std_of(target_list(3)), docs=None)
    engine = gate_module._engine()
    assert engine.datasource.get_execution_engine().batch_manager.batch_data_cache == {}
    assert engine.context.validation_results_store.list_keys() == []


def test_an_edited_suite_file_takes_effect_without_a_restart(tmp_path):
    doc = load_suite_document("target_list")
    (tmp_path / "target_list.json").write_text(dumps(doc), encoding="utf-8")
    std = std_of(target_list(10, bad=6))
    first = gate(std, suites_dir=tmp_path)
    assert [c for c, _ in first.blocking] == ["too_many_rejected_rows"]
    doc["expectations"] = [e for e in doc["expectations"] if e["meta"]["reason"] != "too_many_rejected_rows"]
    (tmp_path / "target_list.json").write_text(dumps(doc), encoding="utf-8")
    second = gate(std, suites_dir=tmp_path)
    assert second.blocking == []
    assert second.statistics["evaluated"] == first.statistics["evaluated"] - 1
    assert [c for c, _ in gate(std).blocking] == ["too_many_rejected_rows"]  # the committed suite again


def test_concurrent_calls_from_threads_each_get_their_own_answer():
    from concurrent.futures import ThreadPoolExecutor

    good, bad = std_of(target_list(6)), std_of(target_list(10, bad=7))
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda s: gate(s).blocking, [good, bad, good, bad]))
    assert results[0] == results[2] == []
    assert results[1] == results[3] == [("too_many_rejected_rows", "7/10 dòng, quá 50%")]


def test_no_progress_bars_and_no_analytics(capfd):
    import os

    import expectations.gate as gate_module

    gate(std_of(target_list(3)))
    out, err = capfd.readouterr()
    assert "Calculating Metrics" not in out + err
    engine = gate_module._engine()
    assert engine.context.variables.analytics_enabled is False
    assert os.environ.get("GX_ANALYTICS_ENABLED", "false").lower() == "false"
