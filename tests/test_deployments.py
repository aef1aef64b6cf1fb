"""The served deployments: schedules (cron, timezone, parameters) checked against the flows' signatures."""

from __future__ import annotations

import inspect

from flows.deployments import SCHEDULED, TIMEZONE, deployments, load_flow


def test_every_scheduled_flow_exists_and_takes_its_parameters() -> None:
    names = [s.name for s in SCHEDULED]
    assert len(names) == len(set(names)) and "deadline-watch" in names
    for spec in SCHEDULED:
        flow = load_flow(spec)
        params = inspect.signature(flow.fn).parameters
        assert set(spec.parameters) <= set(params), spec.name
        missing = [p for p, v in params.items() if v.default is inspect.Parameter.empty and p not in spec.parameters]
        assert not missing, f"{spec.name}: required parameters {missing} have no value in the schedule"
        assert spec.cron is None or len(spec.cron.split()) == 5, spec.cron


def test_runner_deployments_carry_the_schedules_in_gia_lai_time() -> None:
    built = {d.name: d for d in deployments()}
    assert set(built) == {s.name for s in SCHEDULED}
    for spec in SCHEDULED:
        d = built[spec.name]
        if spec.cron is None:
            assert not d.schedules
        else:
            (schedule,) = d.schedules
            assert schedule.schedule.cron == spec.cron and schedule.schedule.timezone == TIMEZONE
        assert "campaign" in d.tags
        assert d.parameters == spec.parameters
        assert d.flow_name == load_flow(spec).name


def test_automations_file_builds_prefect_automations_for_served_deployments() -> None:
    import datetime as dt
    from uuid import uuid4

    from flows.automations import build
    from flows.deployments import WATCH_INTERVAL_MINUTES

    ids = {s.name: uuid4() for s in SCHEDULED}
    automations = {a.name: a for a in build(ids)}
    silent = automations["campaign-deadline-watch-silent"]
    assert silent.trigger.posture == "Proactive" and silent.trigger.expect == {"prefect.flow-run.Completed"}
    assert silent.trigger.within == dt.timedelta(minutes=2 * WATCH_INTERVAL_MINUTES)
    assert silent.trigger.match_related.get("prefect.resource.name") in ("deadline_watch", ["deadline_watch"])
    assert silent.actions[0].deployment_id == ids["alert-coordinators"]
    failed = automations["campaign-flow-run-failed"]
    assert failed.trigger.expect == {"prefect.flow-run.Failed"} and failed.trigger.posture == "Reactive"
    alert = load_flow(next(s for s in SCHEDULED if s.name == "alert-coordinators"))
    assert set(failed.actions[0].parameters) <= set(inspect.signature(alert.fn).parameters)
