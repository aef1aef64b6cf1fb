"""Count once (issue 20.5): the daily progress artifacts' columns (completeness and timeliness of the daily
results, stock ledgers reconciled, AEFI) and the daily `stock-<date>` artifact show the figures of the items'
own functions, the ones `campaign results-daily --json`, `campaign stock --json` and `campaign aefi --json`
print; on the three campaign days after a published plan, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from campaign import campaign_progress, clock
from campaign.aefi.present import assessment_json
from campaign.aefi.run import assess
from campaign.config import load_campaign
from campaign.config_kinds import load_input_kinds
from campaign.daily_results import present as daily_present
from campaign.daily_results import run as daily
from campaign.doses import run as doses_run
from campaign.intake.rules import IntakeRequest
from campaign.intake.run import run_intake
from campaign.settings import Settings
from campaign.stock import present as stock_present
from campaign.stock import rules as stock_rules
from campaign.stock.run import reconcile_current
from campaign.synth.campaign_days import generate_campaign_days
from tests.test_campaign_days import DISTRICTS, SEED, _published_plan, world  # noqa: F401  (a fixture)


def test_progress_columns_and_stock_artifact_are_the_items_figures(migrated_engine, world, tmp_path) -> None:  # noqa: F811
    settings = Settings(home=tmp_path / "home")
    _published_plan(migrated_engine, world)
    campaign = load_campaign()
    days = generate_campaign_days(migrated_engine, campaign, tmp_path / "days", days=3, seed=SEED)
    known = set(load_input_kinds().kinds)
    for f in sorted(days.files, key=lambda f: (f.planned_upload_at, f.path)):
        if f.kind in known:
            req = IntakeRequest(path=tmp_path / "days" / f.path, district=f.district, kind=f.kind,
                                facility=f.facility, received_at=clock.parse_instant(f.planned_upload_at))
            run_intake(req, engine=migrated_engine, settings=settings, campaign=campaign)
    at = clock.to_utc(clock.parse_instant(f"{days.days[0]}T21:00:00+07:00"))
    doses_run.link(migrated_engine, campaign, as_of=at)

    with Session(migrated_engine) as s:
        got = campaign_progress.read(s, campaign, at)
        day = clock.local(at).date()
        doc = daily_present.figures_json(daily.figures(s, campaign, at, [day]), at, [day])   # results-daily --json
        rec = reconcile_current(s, campaign)
        stock = stock_present.to_json(stock_rules.summarize(rec), rec.findings, rec.indicators)  # stock --json
        aefi = {d: assessment_json(assess(s, campaign, at), district=d)["summary"] for d in DISTRICTS}   # aefi --json
    assert day == dt.date(2021, 7, 29)
    by_district = {x["district"]: x for x in doc["days"][0]["districts"]}
    assert set(DISTRICTS) <= set(by_district) and set(DISTRICTS) <= set(stock["summary"]["districts"])
    for d in DISTRICTS:
        cols = campaign_progress.district_columns(got, d)
        r = by_district[d]
        assert [cols[v] for v in campaign_progress.DAILY.values()] == \
            [r[k] if r[k] is not None else "—" for k in campaign_progress.DAILY]
        block = stock["summary"]["districts"][d]
        assert [cols[v] for v in campaign_progress.STOCK.values()] == [block[k] for k in campaign_progress.STOCK]
        a = aefi[d]
        assert (cols[campaign_progress.AEFI["cases"]], cols[campaign_progress.AEFI["serious"]],
                cols[campaign_progress.AEFI["overdue"]]) == (a["cases"], a["serious"], a["investigations"]["overdue"])
    # the planted serious case and the ledger off by some vials are there to be shown (the test can fail)
    assert sum(campaign_progress.district_columns(got, d)[campaign_progress.AEFI["serious"]] for d in DISTRICTS) == 1
    assert sum(stock["summary"]["districts"][d]["discrepancies"] for d in DISTRICTS) >= 1
    # a facility's row: its day's state and its own ledger lines
    fac = next(x for x in doc["days"][0]["facilities"] if x["district"] in DISTRICTS)
    assert campaign_progress.facility_columns(got, fac["facility_code"])["Kết quả hằng ngày"] == fac["state"]
    # the stock-<date> artifact: per district the summary's figures, codes and counts only
    rows = stock_present.district_rows(stock["summary"], rec.indicators)
    assert [(x["district"], x["closing_vials"], x["discrepancies"], x["stockout_days"]) for x in rows] == \
        [(k, b["closing_vials"], b["discrepancies"], b["stockout_days"]) for k, b in sorted(stock["summary"]["districts"].items())]
    assert not any("name" in k and k != "name" for x in rows for k in x)
