"""The served deployments: schedules (cron, timezone, parameters) checked against the flows' signatures."""

from __future__ import annotations

import inspect

import pytest

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
    # crashed runs (a process that died) are reported as failed ones are, those of every flow but the alert's own
    assert failed.trigger.expect == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
    assert failed.trigger.posture == "Reactive"
    alert = load_flow(next(s for s in SCHEDULED if s.name == "alert-coordinators"))
    assert failed.trigger.match_related.get("prefect.resource.name") in (f"!{alert.name}", [f"!{alert.name}"])
    assert set(failed.actions[0].parameters) <= set(inspect.signature(alert.fn).parameters)


def test_a_flow_run_without_heartbeats_is_marked_crashed() -> None:
    """Prefect's "zombie flow run" automation: a run whose heartbeat stopped for 3 beats is marked Crashed; the
    commands make the beats 30 s apart (Prefect's default is 180 s)."""
    import datetime as dt
    import os
    import subprocess
    import sys
    from uuid import uuid4

    from campaign.runtime import HEARTBEAT_SECONDS
    from flows.automations import build, heartbeat_seconds

    zombie = {a.name: a for a in build({s.name: uuid4() for s in SCHEDULED})}["campaign-flow-run-no-heartbeat"]
    trigger = zombie.trigger
    assert trigger.posture == "Proactive" and trigger.after == {"prefect.flow-run.heartbeat"}
    assert trigger.expect == {"prefect.flow-run.heartbeat", "prefect.flow-run.Completed", "prefect.flow-run.Failed",
                              "prefect.flow-run.Cancelled", "prefect.flow-run.Crashed"}
    assert trigger.for_each == {"prefect.resource.id"} and trigger.threshold == 1
    assert trigger.within == dt.timedelta(seconds=3 * heartbeat_seconds())
    (action,) = zombie.actions
    assert action.type == "change-flow-run-state" and action.state.value == "CRASHED" and action.message
    # as `campaign serve` builds it: its environment configured first
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_FLOWS_HEARTBEAT_FREQUENCY"}
    seen = subprocess.run([sys.executable, "-c", "from campaign.runtime import configure_environment; "
                           "from campaign.settings import Settings; configure_environment(Settings()); "
                           "from flows.automations import heartbeat_seconds; print(heartbeat_seconds())"],
                          env=env, capture_output=True, text=True, check=True)
    assert int(seen.stdout) == HEARTBEAT_SECONDS == 30


@pytest.mark.prefect
def test_automations_are_kept_or_replaced_by_name_when_serve_starts_again(prefect_harness) -> None:
    """The second start of `campaign serve` on the same Prefect home died on 'tuple' object has no attribute
    'delete' (Automation.read(name=) gives one automation, not a list). Unchanged ones are kept, changed ones
    replaced, one of each name."""
    from uuid import uuid4

    from prefect.client.orchestration import get_client

    from flows.automations import create_all, load_documents

    ids = {s.name: uuid4() for s in SCHEDULED}
    names = [d["name"] for d in load_documents()]

    def created() -> dict[str, list]:
        with get_client(sync_client=True) as client:
            return {name: [a.id for a in client.read_automations_by_name(name)] for name in names}

    try:
        assert create_all(ids) == names
        first = created()
        assert create_all(ids) == names
        # unchanged: kept (a proactive trigger's memory of the runs sending heartbeats goes with it)
        assert created() == first and all(len(v) == 1 for v in first.values())
        moved = {**ids, "alert-coordinators": uuid4()}   # the alert deployment registered anew: replaced
        assert create_all(moved) == names
        again = created()
        assert all(len(v) == 1 for v in again.values())
        assert again["campaign-flow-run-failed"] != first["campaign-flow-run-failed"]
        assert again["campaign-flow-run-no-heartbeat"] == first["campaign-flow-run-no-heartbeat"]
    finally:   # the session's other flow runs must not meet them (nor alerts to deployments that do not exist)
        with get_client(sync_client=True) as client:
            for name in names:
                for automation in client.read_automations_by_name(name):
                    client.delete_automation(automation.id)


def test_the_deployments_can_point_at_a_work_pool() -> None:
    """Issue 21.2: `campaign worker --prefect` registers them on the process work pool (flows.deployments.register)."""
    from prefect.deployments.runner import EntrypointType

    built = {d.name: d for d in deployments("campaign")}
    assert set(built) == {s.name for s in SCHEDULED}
    for spec in SCHEDULED:
        d = built[spec.name]
        assert d.work_pool_name == "campaign" and d.entrypoint_type == EntrypointType.MODULE_PATH
        module, function = spec.flow.split(":")
        assert d.entrypoint == f"{module}.{function}"   # importable on any machine with the project installed
        assert [s.schedule.cron for s in d.schedules] == ([spec.cron] if spec.cron else [])
    assert all(d.work_pool_name is None for d in deployments())   # `campaign serve` serves them itself
