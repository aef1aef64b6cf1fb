"""The faces of the daily results (issue 20.2): `campaign results-daily` on SQLite and PostgreSQL, and the
deadline watch's daily artifact (a Prefect flow run); both show what `daily_results.rules.daily_figures`
computed, nothing counted twice."""

from __future__ import annotations

import datetime as dt
import json
import types

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from campaign.config import load_campaign
from campaign.daily_results import present
from campaign.daily_results import run as daily
from faces.cli import main
from tests.clock_support import at
from tests.daily_results_support import NOW, D, week


@pytest.fixture()
def on_engine(migrated_engine, monkeypatch):
    """The command line on the test's database (SQLite, then PostgreSQL)."""
    import campaign.resources

    res = types.SimpleNamespace(engine=migrated_engine, campaign=load_campaign())
    monkeypatch.setattr(campaign.resources, "get_resources", lambda: res)
    return res


def test_results_daily_prints_the_figures_of_the_one_function(on_engine) -> None:
    week(on_engine.engine)
    result = CliRunner().invoke(main, ["results-daily", "--date", "31/07/2021", "--days", "2", "--at",
                                       "2021-08-06T12:00:00+07:00", "--json", "--facilities"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    with Session(on_engine.engine) as s:
        fig = daily.figures(s, on_engine.campaign, NOW, D[:1] + [D[1]])
    from campaign import clock

    assert doc == json.loads(json.dumps(present.figures_json(fig, clock.to_utc(NOW), D[:2]), default=str))
    day1 = {d["district"]: d for d in doc["days"][0]["districts"]}
    assert (day1["622"]["completeness_pct"], day1["622"]["timeliness_pct"]) == (50.0, 50.0)
    assert "30/07/2021 toàn tỉnh: kế hoạch 5 buổi, có kết quả 4; báo cáo 2/3" in result.stderr
    assert "F2 (622): chưa nộp, quá hạn" in result.stderr


def test_results_daily_one_district_and_usage_errors(on_engine) -> None:
    week(on_engine.engine)
    result = CliRunner().invoke(main, ["results-daily", "--date", "2021-07-31", "--district", "623", "--at",
                                       "2021-08-06T12:00:00+07:00", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["district"] == "623" and [d["district"] for d in doc["days"][0]["districts"]] == ["623"]
    assert doc["days"][0]["districts"][0]["late"] == 1
    bad = CliRunner().invoke(main, ["results-daily", "--date", "31 July"])
    assert bad.exit_code == 2 and "--date" in bad.output
    unknown = CliRunner().invoke(main, ["results-daily", "--district", "Ba Đình"])
    assert unknown.exit_code == 2


@pytest.mark.prefect
def test_the_deadline_watch_publishes_a_daily_artifact(prefect_harness, campaign_home) -> None:
    from campaign.resources import get_resources
    from flows.deadline_watch import deadline_watch_flow
    from tests.test_flows import _runs_of

    res = get_resources()
    week(res.engine)
    out = deadline_watch_flow(now="2021-07-31T08:00:00+07:00")
    # yesterday (30/7) and today (31/7); the day's figures are the one function's
    assert [d["date"] for d in out["daily_results"]["days"]] == ["2021-07-30", "2021-07-31"]
    with Session(res.engine) as s:
        fig = daily.figures(s, res.campaign, at("31/07 08:00"), [D[0], D[1]])
    doc = present.figures_json(fig, at("31/07 08:00"), [D[0], D[1]])
    assert out["daily_results"]["days"][0]["province"] == doc["days"][0]["province"]
    _flows, _tasks, artifacts = _runs_of("deadline_watch")
    mine = [a for a in artifacts if a.key == "daily-results-2021-07-30"]
    assert mine
    from campaign.readiness.present import district_names

    assert mine[-1].data == present.markdown(doc["days"][0], district_names(res.campaign.district_codes),
                                             doc["as_of"])
    assert "F2" in mine[-1].data and "079080000001" not in mine[-1].data and "Một" not in mine[-1].data
    assert out["written_now"] and any(w["deadline"] == "daily_results:2021-07-30" for w in out["written_now"])
    assert dt.date(2021, 7, 30) == D[0]
