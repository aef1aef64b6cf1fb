"""Issue 20 part 5: sections II.3/II.4 of every report show the campaign days (daily results, doses linked,
stock reconciliation, AEFI), each figure the item's own (count once: equal to `campaign results-daily|doses|
stock|aefi --json` on the same database) and traceable to its submission and row. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from campaign.aefi.run import assess
from campaign.config import load_campaign
from campaign.reports.render_docx import render_docx
from campaign.reports.render_pdf import render_pdf
from campaign.reports.rules import build_report
from campaign.reports.store import load_data
from tests.report_during_support import OFF_ROW, STOCK_FAC, build, cli, daily_args


@pytest.fixture()
def scenario(migrated_engine, tmp_path):
    ids = build(migrated_engine, tmp_path)
    with Session(migrated_engine) as s:
        data = load_data(s, load_campaign(), ids["now"])
    return migrated_engine, ids, data


def _texts(report, number: str) -> tuple[list[str], list]:
    section = next(s for s in report.all_sections() if s.number == number)
    return section.paragraphs, section.tables


def test_province_report_ii3_ii4_carry_the_items_figures(scenario) -> None:
    engine, ids, data = scenario
    report = build_report(data, "province")
    during = report.figures["during"]
    # daily results: the same per-day province figures as `campaign results-daily --json`
    days = data.during.days
    assert len(days) == 7
    doc = cli(engine, daily_args(ids["now"], days))
    assert during["daily_results"] == [{"date": d["date"], **d["province"]} for d in doc["days"] if d["province"]]
    assert during["daily_results"][0]["no_shows"] == 1 and during["daily_results"][0]["walk_ins"] == 1
    paragraphs4, tables4 = _texts(report, "II.4")
    daily = next(t for t in tables4 if t.title == "Kết quả tiêm chủng hằng ngày theo huyện")
    assert len(daily.rows) == sum(len(d["districts"]) for d in doc["days"])
    # doses: `campaign doses --latest --json`
    doses = cli(engine, ["doses", "--latest", "--json"])
    assert during["doses"] == doses["province"] and during["doses"]["linked"] >= 1
    paragraphs3, tables3 = _texts(report, "II.3")
    assert any(t.title.startswith("Ghép mũi tiêm") for t in tables3)
    # stock: `campaign stock --json`, and the planted row named by its file and row
    stock = cli(engine, ["stock", "--json"])
    assert {k: v for k, v in during["stock"].items() if k != "lines"} == stock["summary"]["province"]
    assert during["stock"]["discrepancies"] == len(stock["findings"]) >= 1
    line = f"[tệp {ids['ledger']}, dòng {OFF_ROW}]"
    assert any(line in x for x in during["stock"]["lines"])
    found = next(t for t in tables4 if t.title.startswith("Dòng sổ vắc xin không cân đối"))
    assert any(line in r[0] and r[0].startswith(STOCK_FAC) for r in found.rows)
    # AEFI: `campaign aefi --json` at the report's moment; serious per the AEFI rules (the file said «Không»)
    aefi = cli(engine, ["aefi", "--json", "--at", ids["now"].isoformat()])
    assert during["aefi"] == aefi["summary"]
    assert report.figures["aefi_serious"] == aefi["summary"]["serious"] == 1
    assert report.figures["aefi"] == aefi["summary"]["cases"] == 2
    cases = next(t for t in tables3 if t.title.startswith("Tai biến nặng và điều tra"))
    assert len(cases.rows) == 1 and cases.rows[0][-1] == "quá hạn, chưa có báo cáo điều tra"
    assert cases.rows[0][4] == f"tệp {ids['aefi']}, dòng 2"
    assert "Nguyễn" not in str(cases.rows)                                   # ids, no personal data
    assert any("1 tai biến nặng" in p for p in paragraphs3)
    progress = tables4[0]
    row633 = next(r for r in progress.rows if r[0].endswith("(633)"))
    assert row633[-2:] == [2, 1]                                            # the progress table: the same count
    # count once: II.3's "tiêm N mũi", the daily table's vaccinated and the AEFI rates' doses are one count,
    # the doses given (campaign.doses.store.given_rows) as of the report's moment
    from campaign.doses.store import given_rows

    with Session(engine) as s:
        given = given_rows(s, load_campaign().district_codes, as_of=ids["now"])
    assert report.figures["vaccinated"] == len(given) == sum(d["vaccinated"] for d in during["daily_results"])
    assert sum(int(r["doses"]) for r in aefi["rates"]["by_product"]) == len(given)


def test_district_reports_show_their_own_figures_and_render(scenario, tmp_path) -> None:
    engine, ids, data = scenario
    r622 = build_report(data, "district", "622")
    doc = cli(engine, [*daily_args(ids["now"], data.during.days), "-d", "622"])
    assert r622.figures["during"]["daily_results"] == [{"date": d["date"], **d["districts"][0]}
                                                       for d in doc["days"] if d["districts"]]
    _, tables = _texts(r622, "II.4")
    per_facility = next(t for t in tables if t.title.endswith("theo cơ sở tiêm chủng"))
    assert {r[1].rsplit("(", 1)[-1].rstrip(")") for r in per_facility.rows} <= {"F1", "F2", "F4"}
    r633 = build_report(data, "district", "633")
    stock = cli(engine, ["stock", "--json", "-d", "633"])
    assert {k: v for k, v in r633.figures["during"]["stock"].items() if k != "lines"} == stock["summary"]["province"]
    aefi = cli(engine, ["aefi", "--json", "--at", ids["now"].isoformat(), "-d", "633"])
    assert r633.figures["during"]["aefi"] == aefi["summary"]
    # the renderers print the new tables
    from docx import Document

    docx = render_docx(r633, tmp_path / "r.docx")
    text = "\n".join(c.text for t in Document(docx).tables for row in t.rows for c in row.cells)
    assert f"dòng {OFF_ROW}]" in text and "quá hạn, chưa có báo cáo điều tra" in text
    assert render_pdf(r633, tmp_path / "r.pdf").stat().st_size > 0
    # the 14-column daily results table (622's facilities) renders in both formats
    assert render_pdf(r622, tmp_path / "r622.pdf").stat().st_size > 0
    text622 = "\n".join(c.text for t in Document(render_docx(r622, tmp_path / "r622.docx")).tables
                         for row in t.rows for c in row.cells)
    assert "Tỷ lệ đúng hạn (%)" in text622 and "F1" in text622


def test_missing_data_warnings_name_the_stock_ledger_and_the_investigation_where_the_lines_call_for_them(
        scenario) -> None:
    """Directive 4 (section II.4): "Theo dõi thông tin kết quả tổng hợp về tiến độ tiêm chủng, cấp phát vắc xin,
    phản ứng sau tiêm chủng": a district without a daily stock ledger is named on II.4 (vaccine distribution).
    Directive 3 (II.3): "ghi nhận phản ứng bất lợi sau tiêm chủng", with Decree 104/2016 (by: regulation): a
    serious case is investigated, so a district with one and no investigation file is named on II.3 for it,
    and a district without a serious case is not."""
    from campaign.config_directive import directive_text
    from campaign.vocabulary import kind_label

    text = " ".join(directive_text().split())
    assert "Theo dõi thông tin kết quả tổng hợp về tiến độ tiêm chủng, cấp phát vắc xin, phản ứng sau tiêm chủng" in text
    assert "ghi nhận phản ứng bất lợi sau tiêm chủng" in text

    _engine, _ids, data = scenario
    report = build_report(data, "province")
    ii3 = next(s for s in report.all_sections() if s.number == "II.3").warnings
    ii4 = next(s for s in report.all_sections() if s.number == "II.4").warnings
    ledger, investigation = kind_label("stock_ledger"), kind_label("aefi_investigation")
    line = _by_district(ii4)
    assert ledger in line["622"] and ledger in line["623"]         # results but no ledger
    assert "633" not in line or ledger not in line["633"]          # 633 sent its ledger
    line3 = _by_district(ii3)
    assert investigation in line3["633"]                            # a serious case, overdue, no investigation
    assert all(investigation not in w for d, w in line3.items() if d != "633")


def _by_district(warnings: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for w in warnings:
        d = w.split(" (")[1][:3]
        out[d] = f"{out[d]} {w}" if d in out else w
    return out


def test_ii4_owes_no_aefi_file_without_a_reaction_and_says_the_ledger_is_the_provinces_decision(scenario) -> None:
    """Reviewer: II.4 asked every district for an AEFI file, so a district without a reaction was always warned;
    an AEFI file is owed only when there is one. The daily stock ledger is the province's choice for following
    "cấp phát vắc xin" (directive 4 names no file): the warning says so, and does not give it to the directive."""
    from campaign.reports.rules import NEEDS, PROVINCE_NEEDS
    from campaign.vocabulary import kind_label

    assert "aefi" not in NEEDS["II.4"] and "vaccinations" in NEEDS["II.4"] and "stock_ledger" not in NEEDS["II.4"]
    ((kind, source),) = PROVINCE_NEEDS["II.4"]
    assert kind == "stock_ledger" and source.by == "province" and not source.quote
    _engine, _ids, data = scenario
    ii4 = next(s for s in build_report(data, "province").all_sections() if s.number == "II.4").warnings
    line = _by_district(ii4)
    assert all(kind_label("aefi") not in w for w in ii4)            # 622 and 623 sent no AEFI file: no reaction
    assert "theo quyết định của tỉnh" in line["622"] and "Công văn yêu cầu theo dõi cấp phát vắc xin" in line["622"]
    ledger_line = next(w for w in ii4 if kind_label("stock_ledger") in w and "(622)" in w)
    assert "theo quyết định của tỉnh" in ledger_line


def test_an_investigation_is_owed_only_once_overdue_at_the_reports_moment(scenario, tmp_path) -> None:
    """Reviewer: every serious case was counted as owing its investigation, one inside its 24 hours too, and
    the investigations read were those in force now, not at the report's moment. Decree 104/2016: within 24
    hours; the report as of a moment reads what had been received by then."""
    from campaign.intake.rules import IntakeRequest
    from campaign.intake.run import run_intake
    from campaign.settings import Settings
    from campaign.vocabulary import kind_label
    from tests.clock_support import at
    from tests.test_aefi import INV_HEADER

    engine, ids, _data = scenario
    investigation = kind_label("aefi_investigation")
    campaign = load_campaign()

    def ii3(as_of) -> str:
        with Session(engine) as s:
            report = build_report(load_data(s, campaign, as_of), "province")
        return " ".join(next(x for x in report.all_sections() if x.number == "II.3").warnings)

    inside = at("01/08 20:00")                   # the case arrived 01/08 09:00: 11 hours of its 24 gone
    assert investigation not in ii3(inside)
    assert investigation in ii3(ids["now"])
    with Session(engine) as s:
        case_id = assess(s, campaign, ids["now"]).investigations.iloc[0]["case_id"]
    late = ids["now"] + dt.timedelta(hours=1)
    path = tmp_path / "investigation.csv"
    path.write_bytes((INV_HEADER + f"{case_id},01/08/2021 20:00,Trùng hợp ngẫu nhiên,\n").encode("utf-8"))
    out = run_intake(IntakeRequest(path=path, district="633", kind="aefi_investigation", received_at=late),
                     engine=engine, settings=Settings(home=tmp_path / "home"), campaign=campaign)
    assert out.status == "accepted"
    assert investigation in ii3(ids["now"])      # as of then it had not arrived: still owed
    assert investigation not in ii3(late + dt.timedelta(minutes=1))
