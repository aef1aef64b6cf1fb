"""Stock that reconciles (issue 20.3), on SQLite and PostgreSQL: the issue's stock file is warned about with
its figures, a balanced 30-day ledger gives no warning, a negative balance is caught, wastage and stock-out
days match a hand computation, the planner plans from the reconciled balance, and the CLI and the report
summary show one count.

Issue 20.3: "Per facility, product and day: opening + received − issued − used − wasted (opened-vial
discard, expired, broken) = closing, against the doses the results say were given; a difference is a warning
at intake and a line in the report."
"""

from __future__ import annotations

import datetime as dt
import json
import math
import types
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaign.config import load_campaign
from campaign.intake.feedback import row_messages
from campaign.intake.rules import IntakeRequest
from campaign.intake.run import run_intake
from campaign.settings import Settings
from campaign.stock import present, rules
from campaign.stock import run as stock_run
from campaign.store.models import RowIssue
from tests.dedupe_support import store_rows

NOW = dt.datetime(2021, 7, 28, 8, tzinfo=dt.timezone(dt.timedelta(hours=7)))
FAC = "64633-TYT-01"
START = dt.date(2021, 7, 1)
PER_VIAL = {p: v.doses_per_vial for p, v in load_campaign().vaccine_products.items()}
LEDGER_HEADER = ["Ngày báo cáo (*)", "Mã cơ sở tiêm chủng (*)", "Tên vắc xin (*)", "Số lô (*)", "Hạn sử dụng",
                 "Số liều/lọ", "Tồn đầu", "Nhập (*)", "Xuất cho cơ sở khác", "Đã sử dụng (*)", "Hủy/Hư hỏng",
                 "Hết hạn", "Tồn cuối (*)"]


@pytest.fixture()
def env(migrated_engine, tmp_path):
    settings = Settings(home=tmp_path / "home")
    campaign = load_campaign()

    def intake(path: Path, kind: str, district: str = "633"):
        request = IntakeRequest(path=path, district=district, kind=kind, received_at=NOW)
        return run_intake(request, engine=migrated_engine, settings=settings, campaign=campaign)

    return migrated_engine, intake


def _issues(engine, submission_id: int) -> pd.DataFrame:
    with Session(engine) as s:
        rows = s.execute(select(RowIssue.row_number, RowIssue.column, RowIssue.code, RowIssue.severity,
                                RowIssue.detail).where(RowIssue.submission_id == submission_id)).all()
    return pd.DataFrame(rows, columns=["row_number", "column", "code", "severity", "detail"])


def _csv(path: Path, header: list[str], rows: list[list]) -> Path:
    def cell(v):
        return v.strftime("%d/%m/%Y") if isinstance(v, dt.date) else ("" if v is None else str(v))
    path.write_text("\n".join([",".join(header), *(",".join(cell(v) for v in r) for r in rows)]) + "\n",
                    encoding="utf-8")
    return path


def _ledger(days: int = 30, *, product: str = "pfizer", given_per_day: int = 22) -> tuple[list[list], pd.DataFrame]:
    """A balanced ledger: 100 vials received on day 1, 20 more every 10 days, each session day the vials its
    doses need (ceil(given / doses per vial)); the results give exactly those doses."""
    dpv = PER_VIAL[product]
    rows, given, closing = [], [], 0
    for i in range(days):
        day = START + dt.timedelta(days=i)
        received = 100 if i == 0 else (20 if i % 10 == 0 else 0)
        doses = given_per_day if i % 7 != 6 else 0        # no session on the seventh day
        used = math.ceil(doses / dpv)
        opening = closing
        closing = opening + received - used
        rows.append([day, FAC, "Pfizer", "FK0001", dt.date(2021, 12, 31), dpv, opening, received, 0, used, 0, 0, closing])
        given += [{"district": "633", "facility_code": FAC, "full_name": f"Người {i}-{k}", "birth_date": dt.date(1980, 1, 1),
                   "sex": "male", "session_date": day, "screening_result": "eligible", "vaccinated": "yes",
                   "product": product, "lot": "FK0001", "dose_number": 1} for k in range(doses)]
    return rows, pd.DataFrame(given)


# ---------------------------------------------------------------------------------------------------------
# The issue's case and the ledger at intake
# ---------------------------------------------------------------------------------------------------------


def test_issue_stock_file_is_warned_about_with_its_figures(env, tmp_path):
    """Issue 20: "A vaccine stock file with received 10, issued 2 and 50 on hand, Pfizer at 10 doses per vial
    (the config says 6) and a lot already expired was accepted without a warning." An old-layout file (the
    old header "Số lọ đã sử dụng/cấp") still loads; each problem is a warning naming its figures."""
    engine, intake = env
    header = ["Mã cơ sở tiêm chủng", "Tên vắc xin", "Số lô", "Hạn sử dụng", "Số liều/lọ", "Số lọ nhận",
              "Số lọ đã sử dụng/cấp", "Số lọ tồn", "Ngày nhận"]
    path = _csv(tmp_path / "kho.csv", header, [[FAC, "Pfizer", "FK0001", dt.date(2021, 7, 1), 10, 10, 2, 50,
                                                dt.date(2021, 7, 20)]])
    out = intake(path, "vaccine_stock")
    assert out.status == "accepted" and out.rows_loaded == 1 and out.rows_with_warnings == 1
    got = _issues(engine, out.submission_id).set_index("code")
    assert set(got.index) == {"stock_balance_mismatch", "stock_doses_per_vial_mismatch", "stock_lot_expired"}
    assert (got["severity"] == "warning").all() and (got["row_number"] == 2).all()
    balance = got.loc["stock_balance_mismatch"]
    assert balance["column"] == "vials_closing"
    assert "Tồn đầu 0 + Nhập 10 − Xuất 2 − Đã sử dụng 0 − Hủy/Hư hỏng 0 − Hết hạn 0 = 8 lọ" in balance["detail"]
    assert "Tồn cuối ghi 50 lọ (lệch +42 lọ)" in balance["detail"]
    assert "tệp ghi 10 liều/lọ, vắc xin này 6 liều/lọ" in got.loc["stock_doses_per_vial_mismatch", "detail"]
    # counted on the day the file came in (received_at, Asia/Ho_Chi_Minh: 28/07), not on «Ngày nhận» (20/07)
    assert "hạn sử dụng 01/07/2021, trước ngày báo cáo 28/07/2021" in got.loc["stock_lot_expired", "detail"]
    # the district's feedback row names the column as it headed it, with the figures
    issues = pd.DataFrame({"row": 0, "column": ["vials_closing"], "code": "stock_balance_mismatch",
                           "severity": "warning", "detail": [balance["detail"]]})
    text = row_messages(issues, 1, "vaccine_stock", {"vials_closing": "Số lọ tồn"})[0]
    assert text.startswith("Đã nhận, cần kiểm tra: Số lọ không cân đối: ngày 28/07/2021, lô FK0001") and "= 8 lọ" in text


def test_vials_used_are_not_read_as_issued_in_the_ledger():
    """'Số lọ đã dùng' (vials used) was read as `vials_issued`: in the daily ledger it is `vials_used`, and
    issued to other sites ('Xuất') is its own column; the snapshot keeps one outflow column (used or issued,
    as its header 'Số lọ đã sử dụng/cấp' says) so that old files load as before."""
    from campaign.config_kinds import load_input_kinds

    kinds = load_input_kinds()
    ledger = kinds["stock_ledger"]
    assert "Số lọ đã dùng" in ledger.column("vials_used").aliases
    assert "Số lọ đã dùng" not in ledger.column("vials_issued").aliases and "Xuất" in ledger.column("vials_issued").aliases
    assert kinds["vaccine_stock"].column("vials_issued").header == "Số lọ đã sử dụng/cấp"
    assert ledger.mode == "event" and ledger.natural_key == ["facility_code", "product", "lot", "report_date"]


def test_balanced_30_day_ledger_gives_no_warning(env, tmp_path, migrated_engine):
    engine, intake = env
    rows, given = _ledger(30)
    deferred = given.head(3).assign(vaccinated="no", screening_result="deferred", full_name="Hoãn")
    store_rows(engine, pd.concat([given, deferred], ignore_index=True), when=NOW, kind="vaccinations")
    out = intake(_csv(tmp_path / "so.csv", LEDGER_HEADER, rows), "stock_ledger")
    assert out.status == "accepted" and out.rows_loaded == 30
    assert out.rows_with_warnings == 0, _issues(engine, out.submission_id)
    with Session(engine) as s:
        rec = stock_run.reconcile_current(s, load_campaign(), districts=["633"])
    assert rec.findings.empty and len(rec.days) == 30
    ind = rec.indicators.iloc[0]
    assert ind["doses_given"] == len(given) and ind["stockout_days"] == 0
    # the same file sent again: every row a repeat, nothing counted twice
    again = intake(_csv(tmp_path / "so2.csv", LEDGER_HEADER, rows + [[START + dt.timedelta(days=30), FAC, "Pfizer",
                                                                       "FK0001", dt.date(2021, 12, 31), 6,
                                                                       rows[-1][-1], 0, 0, 0, 0, 0, rows[-1][-1]]]),
                   "stock_ledger")
    assert again.rows_loaded == 1 and again.rows_with_warnings == 0


def test_ledger_that_does_not_balance_or_goes_negative_is_warned_row_by_row(env, tmp_path):
    engine, intake = env
    rows, given = _ledger(3, given_per_day=12)          # 2 vials a day
    store_rows(engine, given, when=NOW, kind="vaccinations")
    rows[1][-1] = 90                                     # Tồn cuối 96 − 2 = 94 written as 90
    rows[2][6] = 90                                      # and carried on
    rows[2][9], rows[2][-1] = 120, 0                     # then 120 vials "used" out of 90
    out = intake(_csv(tmp_path / "so.csv", LEDGER_HEADER, rows), "stock_ledger")
    got = _issues(engine, out.submission_id)
    assert out.status == "accepted" and out.rows_with_warnings == 2
    day2 = got[got["row_number"] == 3].set_index("code")
    assert list(day2.index) == ["stock_balance_mismatch"]
    assert "Tồn đầu 98 + Nhập 0 − Xuất 0 − Đã sử dụng 2 − Hủy/Hư hỏng 0 − Hết hạn 0 = 96 lọ" in day2["detail"].iloc[0]
    assert "ghi 90 lọ (lệch −6 lọ)" in day2["detail"].iloc[0]
    day3 = got[got["row_number"] == 4].set_index("code")
    assert set(day3.index) == {"stock_negative_balance", "stock_doses_mismatch"}
    assert "= −30 lọ (âm)" in day3.loc["stock_negative_balance", "detail"].replace("-30", "−30")
    assert "Đã sử dụng 120 lọ × 6 liều/lọ = 720 liều, kết quả tiêm ghi nhận 12 liều" in day3.loc["stock_doses_mismatch", "detail"]
    # a later day whose Tồn đầu is not the day before's Tồn cuối, sent alone: checked against what is stored
    nxt = [[START + dt.timedelta(days=3), FAC, "Pfizer", "FK0001", dt.date(2021, 12, 31), 6, 5, 0, 0, 0, 0, 0, 5]]
    later = intake(_csv(tmp_path / "so3.csv", LEDGER_HEADER, nxt), "stock_ledger")
    assert _issues(engine, later.submission_id)["code"].tolist() == ["stock_opening_mismatch"]


def test_a_corrected_day_sent_again_replaces_the_earlier_one(env, tmp_path):
    """The clerk finds yesterday's Tồn cuối was mistyped and sends the day again: the row is news (loaded as
    a correction, said so), the reconciliation keeps the latest, and the warning is gone; the unchanged
    days of the same file are repeats."""
    from campaign.stock.run import reconcile_current

    engine, intake = env
    rows, given = _ledger(3, given_per_day=12)
    store_rows(engine, given, when=NOW, kind="vaccinations")
    good = rows[1][-1]
    rows[1][-1] = good - 6                               # mistyped
    rows[2][6] = good - 6                                # and carried on as the next day's Tồn đầu
    first = intake(_csv(tmp_path / "so.csv", LEDGER_HEADER, rows), "stock_ledger")
    assert "stock_balance_mismatch" in _issues(engine, first.submission_id)["code"].tolist()
    rows[1][-1] = rows[2][6] = good                      # corrected, the whole sheet sent again
    again = intake(_csv(tmp_path / "so-sua.csv", LEDGER_HEADER, rows), "stock_ledger")
    got = _issues(engine, again.submission_id)
    assert again.status == "accepted" and again.rows_loaded == 2            # the two changed rows
    assert sorted(got[got["code"] == "correction_of_earlier_row"]["row_number"]) == [3, 4]
    assert sorted(got[got["code"] == "repeat_of_earlier_submission"]["row_number"]) == [2]
    assert "stock_balance_mismatch" not in got["code"].tolist()
    with Session(engine) as s:
        rec = reconcile_current(s, load_campaign())
    assert not (rec.findings["code"] == "stock_balance_mismatch").any()


def test_ledger_headed_by_other_habits(env, tmp_path):
    """Another clerk's month sheet: a title row, headings of its own (Tồn đầu kỳ, Nhập trong ngày, Số lọ đã
    dùng, Tồn cuối ngày) in another order, a column of its own (Người ghi sổ), a blank movement cell, and
    Tồn cuối as an Excel formula. Cached formula values are read; a formula without one is a row error."""
    engine, intake = env
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["SỔ THEO DÕI XUẤT NHẬP VẮC XIN COVID-19 - THÁNG 7/2021"])
    ws.append(["Ngày", "Mã CSTC", "Vắc xin", "Lô", "Tồn đầu kỳ", "Nhập trong ngày", "Số lọ đã dùng", "Hủy",
               "Tồn cuối ngày", "Người ghi sổ"])
    ws.append([dt.datetime(2021, 7, 1), FAC, "Pfizer", "FK0001", 0, 50, 3, None, "=E3+F3-G3-H3", "Y tá A"])
    ws.append([dt.datetime(2021, 7, 2), FAC, "Pfizer", "FK0001", 47, 0, 4, 1, 42, "Y tá A"])
    path = tmp_path / "so_thang7.xlsx"
    wb.save(path)
    out = intake(path, "stock_ledger")
    got = _issues(engine, out.submission_id)
    assert out.status == "accepted"
    # openpyxl writes no cached value: the formula row cannot be read and is refused with the reason
    assert set(got.loc[got["row_number"] == 3, "code"]) == {"formula_not_calculated"}
    assert out.rows_loaded == 1 and out.rows_quarantined == 1
    # day 2 read by its own headings and balanced (47 + 0 − 4 − 1 = 42); no results were sent for it yet, so
    # its 4 vials opened are pending, not a doses mismatch (tests/test_stock.py::test_a_ledger_before_its_results_
    # is_pending_then_reconciled); the clerk's own column is ignored and said so
    assert got[got["row_number"] == 4].empty
    assert out.reasons.get("column_ignored") == 1
    assert out.columns["Hủy"] == "vials_damaged" and out.columns["Số lọ đã dùng"] == "vials_used"
    assert out.columns_ignored == ["Người ghi sổ"]


# ---------------------------------------------------------------------------------------------------------
# Indicators, hand-computed (pure)
# ---------------------------------------------------------------------------------------------------------


def _frame(rows: list[tuple]) -> pd.DataFrame:
    cols = ["report_date", "vials_opening", "vials_received", "vials_used", "vials_damaged", "vials_expired",
            "vials_closing"]
    f = pd.DataFrame(rows, columns=cols)
    return f.assign(district="633", facility_code=FAC, product="pfizer", lot="FK0001",
                    expiry_date=dt.date(2021, 12, 31), doses_per_vial=6)


def test_wastage_stockout_and_days_left_hand_computed():
    """WHO: wastage rate = (doses supplied − doses given) / doses supplied; opened-vial vs closed-vial."""
    d1, d2, d3 = (dt.date(2021, 7, i) for i in (1, 2, 3))
    ledger = _frame([(d1, 0, 10, 3, 0, 0, 7), (d2, 7, 0, 6, 0, 1, 0), (d3, 0, 20, 0, 0, 0, 20)])
    given = pd.DataFrame({"facility_code": FAC, "product": "pfizer", "lot": "FK0001", "session_date": [d1, d2],
                          "doses": [16, 36]})
    pace = pd.DataFrame({"facility_code": [FAC], "product": ["pfizer"], "doses_per_day": [40.0]})
    rec = rules.reconcile(ledger, given, PER_VIAL, pace=pace, as_of=d3)
    assert rec.findings.empty
    ind = rec.indicators.iloc[0]
    # supplied: (3 + 6) opened × 6 + 1 expired × 6 = 60; given 52; opened-vial waste 18 − 16 = 2; closed 6
    assert ind["doses_supplied"] == 60 and ind["doses_given"] == 52
    assert ind["wasted_open"] == 2 and ind["wasted_closed"] == 6
    assert ind["wastage_rate"] == pytest.approx(8 / 60)
    assert ind["open_vial_rate"] == pytest.approx(2 / 54) and ind["closed_vial_rate"] == pytest.approx(6 / 60)
    assert ind["stockout_days"] == 1                    # day 2 closed at 0
    assert ind["usable_doses"] == 120 and ind["days_left"] == pytest.approx(3.0)
    s = rules.summarize(rec)
    assert s["province"]["wastage_rate"] == round(8 / 60, 4) and s["districts"]["633"]["stockout_days"] == 1
    assert s["province"]["low_stock"] == []             # 3.0 days is not below 3


def test_expired_lot_counts_no_usable_doses_and_results_without_a_lot_match_the_product_day():
    d1 = dt.date(2021, 7, 1)
    ledger = _frame([(d1, 10, 0, 2, 0, 0, 8)]).assign(expiry_date=dt.date(2021, 6, 30))
    given = pd.DataFrame({"facility_code": FAC, "product": "pfizer", "lot": [None], "session_date": [d1], "doses": [12]})
    rec = rules.reconcile(ledger, given, PER_VIAL)
    assert rec.findings["code"].tolist() == ["stock_lot_expired"]   # 2 vials × 6 = 12 doses: the doses match
    assert rec.indicators.iloc[0]["usable_doses"] == 0
    assert rules.balance_for_plan(rec.days)["vials_on_hand"].tolist() == [8]


# ---------------------------------------------------------------------------------------------------------
# The planner and count once
# ---------------------------------------------------------------------------------------------------------


def test_planner_plans_from_the_reconciled_balance(migrated_engine):
    from campaign.planning import store as planning_store

    engine = migrated_engine
    snap = pd.DataFrame([{"district": "633", "facility_code": FAC, "product": "pfizer", "lot": "FK0001",
                          "expiry_date": dt.date(2021, 12, 31), "doses_per_vial": 6, "vials_received": 100,
                          "vials_issued": 0, "vials_on_hand": 100},
                         {"district": "633", "facility_code": "64633-TYT-02", "product": "pfizer", "lot": "FK0002",
                          "expiry_date": dt.date(2021, 12, 31), "doses_per_vial": 6, "vials_received": 30,
                          "vials_issued": 0, "vials_on_hand": 30}])
    store_rows(engine, snap, when=NOW, kind="vaccine_stock")
    # the ledger says 100 received, 30 used: book 70, but the count found 65: the planner takes 65
    ledger = _frame([(dt.date(2021, 7, 20), 0, 100, 30, 0, 0, 65)]).drop(columns=["expiry_date"])
    store_rows(engine, ledger, when=NOW, kind="stock_ledger")
    with Session(engine) as s:
        inputs = planning_store.load_inputs(s, load_campaign(), dt.date(2021, 7, 29), [dt.date(2021, 7, 29)], "633")
    got = inputs.stock.set_index("lot")
    assert got.loc["FK0001", "vials_on_hand"] == 65 and got.loc["FK0002", "vials_on_hand"] == 30
    assert got.loc["FK0001", "expiry"] == dt.date(2021, 12, 31)   # the ledger had none: the snapshot's


def test_cli_and_report_summary_show_one_count(migrated_engine, monkeypatch):
    import campaign.resources as resources
    from faces.cli import main

    engine = migrated_engine
    rows, given = _ledger(10)
    rows[4][-1] -= 1                                    # one discrepancy
    frame = pd.DataFrame(rows, columns=["report_date", "facility_code", "product", "lot", "expiry_date",
                                        "doses_per_vial", "vials_opening", "vials_received", "vials_issued",
                                        "vials_used", "vials_damaged", "vials_expired", "vials_closing"])
    store_rows(engine, frame.assign(district="633", product="pfizer"), when=NOW, kind="stock_ledger")
    store_rows(engine, given, when=NOW, kind="vaccinations")
    monkeypatch.setattr(resources, "get_resources", lambda: types.SimpleNamespace(engine=engine, campaign=load_campaign()))
    result = CliRunner().invoke(main, ["stock", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    with Session(engine) as s:
        summary = stock_run.summary_current(s, load_campaign())
    assert out["summary"]["province"] == summary["province"]
    assert out["summary"]["province"]["discrepancies"] == 2 == len(summary["lines"])   # day 5 and day 6's opening
    assert len(out["findings"]) == 2 and all(f["row"] in (6, 7) for f in out["findings"])
    assert summary["lines"][0].startswith(f"{FAC} (pfizer) – Số lọ không cân đối: ngày 05/07/2021")
    assert present.summary_lines(summary["province"], "Toàn tỉnh")[0].startswith("Toàn tỉnh: 1 cơ sở")


def test_reconcile_matches_a_naive_cumulative_sum():
    """The vectorised chain equals a plain running balance (the benchmark's baseline) on a random ledger."""
    rng = np.random.default_rng(7)
    n = 30
    received = rng.integers(0, 20, n)
    used = rng.integers(0, 10, n)
    closing = np.maximum(0, np.cumsum(received - used))
    opening = np.r_[0, closing[:-1]]
    ledger = _frame([(START + dt.timedelta(days=i), None, received[i], used[i], 0, 0, closing[i]) for i in range(n)])
    rec = rules.reconcile(ledger.assign(vials_opening=np.nan), None, PER_VIAL)
    assert rec.days["opening"].tolist() == opening.astype(float).tolist()
    book = opening + received - used
    assert (rec.days["book"].to_numpy() == book).all()
    assert set(rec.findings.loc[rec.findings["code"] != "stock_doses_mismatch", "row"]) == \
        set(np.flatnonzero(book != closing))


# ---------------------------------------------------------------------------------------------------------
# The reviewer's wrong figures (issue 20 part 3, review): wastage over the period, stock-out across lots,
# pending days, the first day's opening, a snapshot's expiry, the district view, as_of
# ---------------------------------------------------------------------------------------------------------


def test_wastage_rate_is_whos_over_the_period_not_clipped_day_by_day():
    """WHO/V&B/03.18: wastage rate = (doses supplied − doses administered) / doses supplied, over the period
    (docs/domain.md). The reviewer's case: day 1 opens 2 vials (12 doses) and gives 4, day 2 opens 1 vial (6)
    and gives 8: (18 − 12) / 18 = 33.3 %; clipping day 2's −2 at zero gave 8 / 18 = 44.4 %."""
    d1, d2, d3 = (dt.date(2021, 7, i) for i in (1, 2, 3))
    ledger = _frame([(d1, 10, 0, 2, 0, 0, 8), (d2, 8, 0, 1, 0, 0, 7)])
    given = pd.DataFrame({"facility_code": FAC, "product": "pfizer", "lot": "FK0001", "session_date": [d1, d2],
                          "doses": [4, 8]})
    rec = rules.reconcile(ledger, given, PER_VIAL)
    ind = rec.indicators.iloc[0]
    assert ind["doses_supplied"] == 18 and ind["doses_given"] == 12 and ind["wasted_open"] == 6
    assert ind["wastage_rate"] == pytest.approx(1 / 3)
    assert rules.summarize(rec)["province"]["wastage_rate"] == round(1 / 3, 4)
    # closed-vial wastage (broken, expired) stays apart from opened-vial wastage
    more = _frame([(d1, 10, 0, 2, 0, 0, 8), (d2, 8, 0, 1, 0, 0, 7), (d3, 7, 0, 0, 1, 1, 5)])
    ind = rules.reconcile(more, given, PER_VIAL).indicators.iloc[0]
    assert ind["wasted_open"] == 6 and ind["wasted_closed"] == 12 and ind["doses_supplied"] == 30
    assert ind["wastage_rate"] == pytest.approx(18 / 30)
    assert ind["open_vial_rate"] == pytest.approx(6 / 18) and ind["closed_vial_rate"] == pytest.approx(12 / 30)


def test_a_lot_missing_from_a_days_ledger_is_no_stock_out():
    """A stock-out is a facility+product day with nothing usable across ALL its lots (by: province, issue 20.3
    "stock-out days" as DHIS2 COVAC counts them). Lot FK0002 is left out of day 2's file while it still
    holds 10 vials: day 2 is no stock-out; day 3 both lots are at 0: one stock-out day. An expired lot
    holds nothing usable."""
    d1, d2, d3 = (dt.date(2021, 7, i) for i in (1, 2, 3))
    a = _frame([(d1, 5, 0, 0, 0, 0, 5), (d2, 5, 0, 5, 0, 0, 0), (d3, 0, 0, 0, 0, 0, 0)])
    b = _frame([(d1, 10, 0, 0, 0, 0, 10), (d3, 10, 0, 10, 0, 0, 0)]).assign(lot="FK0002")
    given = pd.DataFrame({"facility_code": FAC, "product": "pfizer", "lot": ["FK0001", "FK0002"],
                          "session_date": [d2, d3], "doses": [30, 60]})
    rec = rules.reconcile(pd.concat([a, b], ignore_index=True), given, PER_VIAL)
    assert rec.findings.empty
    assert rec.indicators.iloc[0]["stockout_days"] == 1
    # the same days with FK0002 expired on 02/07: day 2 has nothing usable either
    b_old = b.assign(expiry_date=dt.date(2021, 7, 1))
    rec = rules.reconcile(pd.concat([a, b_old], ignore_index=True), given, PER_VIAL)
    assert rec.indicators.iloc[0]["stockout_days"] == 2


def test_a_ledger_before_its_results_is_pending_then_reconciled(env, tmp_path):
    """A ledger taken in before that day's results arrive: the day is not reconciled yet (pending), not a
    doses mismatch; once the results arrive the reconciliation (report, CLI) reconciles it."""
    engine, intake = env
    rows, given = _ledger(2, given_per_day=30)           # 5 vials opened a day, 30 doses a day
    out = intake(_csv(tmp_path / "so.csv", LEDGER_HEADER, rows), "stock_ledger")
    assert out.status == "accepted" and out.rows_loaded == 2
    assert out.rows_with_warnings == 0, _issues(engine, out.submission_id)
    with Session(engine) as s:
        rec = stock_run.reconcile_current(s, load_campaign())
        summary = stock_run.summary_current(s, load_campaign())
    assert rec.findings.empty and rec.days["doses_status"].tolist() == ["pending", "pending"]
    block = summary["province"]
    assert block["pending_days"] == 2 and block["discrepancies"] == 0
    assert block["doses_supplied"] == 0 and block["wastage_rate"] is None     # nothing reconciled yet
    assert any("2 ngày sổ vắc xin chưa đối chiếu" in x for x in present.summary_lines(block, "Toàn tỉnh"))
    # day 1's results arrive (30 doses), day 2's arrive short (1 dose for 5 vials opened): recheck
    store_rows(engine, pd.concat([given[given["session_date"] == START],
                                  given[given["session_date"] != START].head(1)]), when=NOW, kind="vaccinations")
    with Session(engine) as s:
        rec = stock_run.reconcile_current(s, load_campaign())
    assert rec.days["doses_status"].tolist() == ["reconciled", "reconciled"]
    assert rec.findings["code"].tolist() == ["stock_doses_mismatch"] and rec.findings["row"].tolist() == [3]
    assert rules.summarize(rec)["province"]["pending_days"] == 0


def test_the_first_day_opens_from_the_latest_stock_count(migrated_engine):
    """A lot's first ledger day without a Tồn đầu opens from the latest `vaccine_stock` count of that facility,
    product and lot taken on or before that day, not from 0."""
    engine = migrated_engine
    snap = pd.DataFrame([{"district": "633", "facility_code": FAC, "product": "pfizer", "lot": "FK0001",
                          "expiry_date": dt.date(2021, 12, 31), "doses_per_vial": 6, "vials_received": 50,
                          "vials_issued": 0, "vials_on_hand": 50}])
    store_rows(engine, snap, when=NOW, kind="vaccine_stock")               # counted 28/07
    day = dt.date(2021, 7, 29)
    ledger = _frame([(day, None, 0, 2, 0, 0, 48)]).assign(vials_opening=None)
    store_rows(engine, ledger, when=NOW + dt.timedelta(days=1), kind="stock_ledger")
    _rows, given = _ledger(1, given_per_day=12)
    store_rows(engine, given.assign(session_date=day), when=NOW + dt.timedelta(days=1), kind="vaccinations")
    with Session(engine) as s:
        rec = stock_run.reconcile_current(s, load_campaign())
    assert rec.days["opening"].tolist() == [50.0] and rec.days["book"].tolist() == [48.0]
    assert rec.findings.empty, rec.findings[["code", "opening", "book"]]


def test_a_newer_count_does_not_reach_back_to_a_day_opened_from_an_older_one(migrated_engine):
    """Counted on 01/07 (50 vials), the lot's first ledger day 02/07 has no Tồn đầu, a newer count came in
    on 05/07 (40 vials) and replaced the 01/07 one: 02/07 still opens from the 01/07 count (the counts
    received, not only the one in force now), and no finding appears after the fact."""
    from campaign.stock import store as stock_store

    engine = migrated_engine
    tz = dt.timezone(dt.timedelta(hours=7))
    counted = {dt.date(2021, 7, 1): 50, dt.date(2021, 7, 5): 40}
    for day, vials in counted.items():
        snap = pd.DataFrame([{"district": "633", "facility_code": FAC, "product": "pfizer", "lot": "FK0001",
                              "expiry_date": dt.date(2021, 12, 31), "doses_per_vial": 6, "vials_received": vials,
                              "vials_issued": 0, "vials_on_hand": vials}])
        store_rows(engine, snap, when=dt.datetime.combine(day, dt.time(8), tz), kind="vaccine_stock")
    day = dt.date(2021, 7, 2)
    ledger = _frame([(day, None, 0, 2, 0, 0, 48)]).assign(vials_opening=None)
    store_rows(engine, ledger, when=dt.datetime(2021, 7, 2, 18, tzinfo=tz), kind="stock_ledger")
    _rows, given = _ledger(1, given_per_day=12)
    store_rows(engine, given.assign(session_date=day), when=dt.datetime(2021, 7, 2, 18, tzinfo=tz),
               kind="vaccinations")
    with Session(engine) as s:
        before = stock_run.reconcile_current(s, load_campaign(), as_of=dt.datetime(2021, 7, 3, 8, tzinfo=tz))
        now = stock_run.reconcile_current(s, load_campaign())
        counts = stock_store.latest_counts(s, ["633"])
    for rec in (before, now):
        assert rec.days["opening"].tolist() == [50.0] and rec.days["book"].tolist() == [48.0]
        assert rec.findings.empty, rec.findings[["code", "opening", "book"]]
    assert counts["vials_on_hand"].tolist() == [50, 40]   # the history, oldest first


def test_an_expired_lot_in_a_snapshot_is_flagged_on_the_day_the_file_came_in(env, tmp_path):
    """The lot expired on 25/07; its vials arrived on 20/07 («Ngày nhận») and the file came in on 28/07
    (received_at, Asia/Ho_Chi_Minh): expired on the count, so flagged."""
    engine, intake = env
    header = ["Mã cơ sở tiêm chủng", "Tên vắc xin", "Số lô", "Hạn sử dụng", "Số liều/lọ", "Số lọ nhận",
              "Số lọ đã sử dụng/cấp", "Số lọ tồn", "Ngày nhận"]
    path = _csv(tmp_path / "kho.csv", header, [[FAC, "Pfizer", "FK0001", dt.date(2021, 7, 25), 6, 10, 2, 8,
                                                dt.date(2021, 7, 20)]])
    out = intake(path, "vaccine_stock")
    got = _issues(engine, out.submission_id)
    assert got["code"].tolist() == ["stock_lot_expired"]
    assert "hạn sử dụng 25/07/2021, trước ngày báo cáo 28/07/2021" in got["detail"].iloc[0]


def test_cli_district_view_is_the_province_run_sliced(migrated_engine, monkeypatch):
    """`campaign stock -d 633 --json` shows district 633's slice of the province's run (what the report and
    the board show), not a run of 633 alone: here the province's last ledger day (20/07) is past lot
    FK0001's expiry (15/07) while 633's own last day (10/07) is not, so the usable doses differ."""
    import campaign.resources as resources
    from faces.cli import main

    engine = migrated_engine
    mine = _frame([(dt.date(2021, 7, 10), 0, 10, 0, 0, 0, 10)]).assign(expiry_date=dt.date(2021, 7, 15))
    other = _frame([(dt.date(2021, 7, 20), 0, 5, 0, 0, 0, 5)]).assign(district="622", facility_code="64622-TYT-01",
                                                                       lot="XX0001")
    store_rows(engine, pd.concat([mine, other], ignore_index=True), when=NOW, kind="stock_ledger")
    monkeypatch.setattr(resources, "get_resources", lambda: types.SimpleNamespace(engine=engine, campaign=load_campaign()))
    result = CliRunner().invoke(main, ["stock", "-d", "633", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    with Session(engine) as s:
        province = stock_run.reconcile_current(s, load_campaign())
    assert shown["summary"]["province"] == rules.summarize(province)["districts"]["633"]
    assert shown["summary"]["province"]["usable_doses"] == 0            # expired on the province's day
    assert rules.summarize(rules.slice_units(province, ["633"]))["province"] == shown["summary"]["province"]
    assert [f["facility_code"] for f in shown["facilities"]] == [FAC]


def test_reads_count_only_submissions_received_by_as_of(migrated_engine):
    """as_of: a ledger (and results) received after as_of are not counted; None is now."""
    from campaign.stock import store as stock_store

    engine = migrated_engine
    early = _frame([(dt.date(2021, 7, 1), 0, 10, 2, 0, 0, 8)])
    late = _frame([(dt.date(2021, 7, 2), 0, 5, 0, 0, 0, 5)]).assign(district="622", facility_code="64622-TYT-01")
    store_rows(engine, early, when=NOW, kind="stock_ledger")
    store_rows(engine, late, when=NOW + dt.timedelta(days=2), kind="stock_ledger")
    _rows, given = _ledger(1, given_per_day=12)
    store_rows(engine, given, when=NOW + dt.timedelta(days=2), kind="vaccinations")
    as_of = NOW + dt.timedelta(days=1)
    with Session(engine) as s:
        then = stock_run.reconcile_current(s, load_campaign(), as_of=as_of)
        now = stock_run.reconcile_current(s, load_campaign())
        assert stock_store.doses_given(s, ["633"], as_of=as_of).empty
        assert stock_store.doses_given(s, ["633"])["doses"].sum() == 12
    assert then.days["facility_code"].tolist() == [FAC] and then.days["doses_status"].tolist() == ["pending"]
    assert sorted(now.days["facility_code"]) == ["64622-TYT-01", FAC]
    assert now.days.set_index("facility_code").loc[FAC, "doses_status"] == "reconciled"


def test_intake_checks_are_one_registry_with_a_phase():
    """The kinds' own intake checks live in one registry (`campaign.intake.run.KIND_CHECKS`), each with its
    phase: AEFI's row checks before the gate (they may quarantine a row), stock's warnings after it."""
    from campaign.intake import run as intake_run

    phases = {k: {c.phase for c in cs} for k, cs in intake_run.KIND_CHECKS.items()}
    assert phases["vaccine_stock"] == phases["stock_ledger"] == {"after_gate"}
    assert phases["aefi"] == phases["aefi_investigation"] == {"before_gate"}
    for checks in intake_run.KIND_CHECKS.values():
        for c in checks:
            assert c.phase in intake_run.PHASES and callable(intake_run._target(c.target))
    assert intake_run.checks_of("target_list", "before_gate", None, "633", load_campaign(), START) is None
    with pytest.raises(ValueError):
        intake_run.checks_of("stock_ledger", "during_gate", None, "633", load_campaign(), START)
