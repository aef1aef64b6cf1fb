"""Issue 20 part 5: the coordinators' board shows the campaign days ("Trong đợt tiêm chủng"): per district
the figures of daily results, doses linked, stock and AEFI from the same functions as the report and the
commands; the serious AEFI cases with their 24-hour clock; the stock discrepancies naming file and row.
SQLite and PostgreSQL (the portal runs on the test's own engine)."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from campaign.aefi.run import aefi_summary
from campaign.config import load_campaign
from campaign.doses import store as doses_store
from campaign.resources import Resources
from campaign.settings import Settings
from campaign.stock import run as stock_run
from tests.portal_http_support import login, portal_world
from tests.report_during_support import OFF_ROW, STOCK_FAC, build


def test_the_board_shows_the_campaign_days_figures_of_the_items(migrated_engine, tmp_path, monkeypatch) -> None:
    ids = build(migrated_engine, tmp_path)
    monkeypatch.setenv("CAMPAIGN_NOW", ids["now"].isoformat())
    campaign = load_campaign()
    world = portal_world(Resources(Settings(home=tmp_path / "portal-home"), campaign, migrated_engine))
    page = login(world.app, "syt.dieuphoi").get("/tinh")
    assert page.status_code == 200, page.text[-2000:]
    html = page.text
    assert "Trong đợt tiêm chủng" in html
    shown = {k: int(v) for k, v in re.findall(r'data-figure="(\w+)">(\d+)<', html)}
    with Session(migrated_engine) as s:
        aefi = aefi_summary(s, campaign, ids["now"])
        stock = stock_run.summary_current(s, campaign)
        doses = doses_store.latest_run(s).stats["province"]
    assert shown == {"aefi_cases": aefi["cases"], "aefi_serious": aefi["serious"], "doses_linked": doses["linked"],
                     "stock_discrepancies": stock["province"]["discrepancies"]}
    assert shown["aefi_serious"] == 1 and shown["stock_discrepancies"] >= 1
    # the serious case with its clock's state (overdue: received 01/08 09:00, no investigation by 06/08)
    case = re.search(r'<tr class="state-overdue" data-case="([^"]+)">(.*?)</tr>', html, re.S)
    assert case and "quá hạn, chưa có báo cáo điều tra" in case.group(2) and "64633-TYT-01" in case.group(2)
    assert "Nguyễn" not in case.group(2)
    # every discrepancy line, the planted one naming its file and row
    for line in stock["lines"]:
        assert f"<li>{line}</li>" in html
    assert any(f"[tệp {ids['ledger']}, dòng {OFF_ROW}]" in x and x.startswith(STOCK_FAC) for x in stock["lines"])
    # the per-district tables of the report's builders are on the page
    assert "Kết quả tiêm chủng hằng ngày theo huyện" in html and "Ghép mũi tiêm với đối tượng theo huyện" in html
    assert "Đối chiếu sổ xuất, nhập, tồn vắc xin theo huyện" in html and "Phản ứng sau tiêm chủng theo huyện" in html


def test_the_board_assesses_aefi_once_per_view(migrated_engine, tmp_path, monkeypatch) -> None:
    """Reviewer (issue 20): "each board view computes AEFI twice (once itself, once via the deadline board)".
    One view of /tinh computes the assessment once; the deadline board's provider (the serious case's
    investigation deliverable) and the campaign days' figures both read it."""
    from campaign.aefi import run as aefi_run

    ids = build(migrated_engine, tmp_path)
    monkeypatch.setenv("CAMPAIGN_NOW", ids["now"].isoformat())
    campaign = load_campaign()
    world = portal_world(Resources(Settings(home=tmp_path / "portal-home"), campaign, migrated_engine))
    calls: list[object] = []
    real = aefi_run.compute

    def counting(session, campaign, now):
        calls.append(now)
        return real(session, campaign, now)

    monkeypatch.setattr(aefi_run, "compute", counting)
    page = login(world.app, "syt.dieuphoi").get("/tinh")
    assert page.status_code == 200, page.text[-2000:]
    assert len(calls) == 1
    # and both parts show it: the investigation's deliverable on the deadlines, the case in the campaign days
    case = re.search(r'<tr class="state-overdue" data-case="([^"]+)"', page.text)
    assert case and f"(ca {case.group(1)}, 64633-TYT-01)" in page.text
    # outside the view nothing is kept: the next assessment computes again
    with Session(migrated_engine) as s:
        aefi_run.assess(s, campaign, ids["now"])
    assert len(calls) == 2
