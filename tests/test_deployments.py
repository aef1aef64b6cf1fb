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
        assert len(spec.cron.split()) == 5, spec.cron


def test_runner_deployments_carry_the_schedules_in_gia_lai_time() -> None:
    built = {d.name: d for d in deployments()}
    assert set(built) == {s.name for s in SCHEDULED}
    for spec in SCHEDULED:
        d = built[spec.name]
        (schedule,) = d.schedules
        assert schedule.schedule.cron == spec.cron and schedule.schedule.timezone == TIMEZONE
        assert d.parameters == spec.parameters
        assert d.flow_name == load_flow(spec).name
