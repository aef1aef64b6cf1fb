"""A small hand-built campaign: a week of daily results (tests/daily_results_support.week: districts 622,
623), dose linking run on it, a stock ledger of 10 days in district 633 with ONE row off by a vial, and a
serious AEFI case in 633 (its vaccination record sent first). Used by the report's II.3/II.4 and the
board's tests (count once: the figures equal the items' own functions and commands)."""

from __future__ import annotations

import datetime as dt
import json
import types
from pathlib import Path
from unittest import mock

import pandas as pd
from click.testing import CliRunner

from campaign.config import load_campaign
from campaign.intake.rules import IntakeRequest
from campaign.intake.run import run_intake
from campaign.settings import Settings
from tests.clock_support import at
from tests.daily_results_support import NOW, week
from tests.dedupe_support import store_rows

LEDGER_COLUMNS = ["report_date", "facility_code", "product", "lot", "expiry_date", "doses_per_vial", "vials_opening",
                  "vials_received", "vials_issued", "vials_used", "vials_damaged", "vials_expired", "vials_closing"]
STOCK_FAC = "64633-TYT-01"
OFF_ROW = 6          # the ledger's 5th day (row 6 counting the header) is one vial off


def build(engine, tmp_path: Path) -> dict:
    """Load the scenario; returns {"ledger": submission id, "aefi": submission id, "now": NOW}."""
    from campaign.doses import run as doses_run
    from tests.test_aefi import AEFI_HEADER, FIXED_ROW, NO_RECORD_ROW, _vaccinations
    from tests.test_stock import _ledger

    campaign = load_campaign()
    week(engine)
    settings = Settings(home=tmp_path / "home")
    n = iter(range(100))

    def intake(text: str, kind: str, when: dt.datetime) -> int:
        path = tmp_path / f"{kind}-{next(n)}.csv"
        path.write_bytes(text.encode("utf-8"))
        out = run_intake(IntakeRequest(path=path, district="633", kind=kind, received_at=when), engine=engine,
                         settings=settings, campaign=campaign)
        assert out.status == "accepted", out
        return out.submission_id

    intake(_vaccinations(), "vaccinations", at("31/07 18:00"))
    aefi_sid = intake(AEFI_HEADER + FIXED_ROW + NO_RECORD_ROW, "aefi", at("01/08 09:00"))
    rows, _given = _ledger(10)
    rows[4][-1] -= 1                                   # day 5's closing one vial short: rows 6 (and 7's opening)
    frame = pd.DataFrame(rows, columns=LEDGER_COLUMNS).assign(district="633", product="pfizer")
    ledger_sid = store_rows(engine, frame, when=at("02/08 20:00"), kind="stock_ledger")["633"]
    doses_run.link(engine, campaign, as_of=NOW)
    return {"ledger": ledger_sid, "aefi": aefi_sid, "now": NOW}


def cli(engine, args: list[str]) -> dict:
    """`campaign ...  --json` on this test's database."""
    from campaign import resources
    from faces.cli import main

    res = types.SimpleNamespace(engine=engine, campaign=load_campaign())
    with mock.patch.object(resources, "get_resources", return_value=res):
        out = CliRunner().invoke(main, args, catch_exceptions=False)
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


def daily_args(now: dt.datetime, days: list[dt.date]) -> list[str]:
    return ["results-daily", "--json", "--at", now.isoformat(), "--date", days[-1].isoformat(),
            "--days", str((days[-1] - days[0]).days + 1)]
