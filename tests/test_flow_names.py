"""Flow runs named for what they do and for whom (issue 22, part 4): the coordinators read the Prefect UI
by these names, not Prefect's random ones."""

from __future__ import annotations

import inspect

import pytest

from flows import names

NOW = "2021-07-28T08:00:00+07:00"


def test_names_say_what_and_for_whom() -> None:
    assert names.readiness_name({"now": NOW}) == "readiness-2021-07-28T08:00"
    assert names.readiness_name({"now": "2021-07-28T01:00:00Z", "district": "633"}) == "readiness-633-2021-07-28T08:00"
    assert names.deadline_watch_name({"now": "2021-07-28T08:00"}) == "deadline-watch-2021-07-28T08:00"
    assert names.master_list_name({"now": NOW}) == "master-list-2021-07-28T08:00"
    assert names.master_list_name({"now": NOW, "retrain": True}) == "master-list-2021-07-28T08:00-retrain"
    assert names.plan_name({"days": 14, "now": NOW}) == "plan-14d-from-2021-07-29"
    assert names.plan_name({"days": 7, "start": "2021-08-02", "district": "633", "publish_by": "x"}) == \
        "plan-633-7d-from-2021-08-02-published"
    assert names.report_name({"levels": ["district"], "unit": "633"}) == "report-district-633"
    assert names.report_name({"levels": ["district", "province"]}) == "report-district-province"
    assert names.report_name({}) == "report-all"
    assert names.submit_report_name({"level": "province", "unit": None}) == "submit-report-province"
    p = {"district": "633", "kind": "target_list"}
    assert names.intake_name(p) == "intake-633-target_list"
    assert names.intake_final_name(p, {"status": "accepted", "version": 3}) == "intake-633-target_list-v3"
    assert names.intake_final_name(p, {"status": "duplicate", "version": 2}) == "intake-633-target_list-v2-duplicate"
    assert names.intake_final_name({**p, "kind": "staff", "facility": "F01"}, {"status": "rejected", "version": 1}) \
        == "intake-633-staff-F01-v1"


def test_without_now_the_campaign_clock_names_the_run(monkeypatch) -> None:
    monkeypatch.setenv("CAMPAIGN_NOW", "2021-07-30T17:30")
    assert names.readiness_name({"now": None}) == "readiness-2021-07-30T17:30"
    assert names.alert_name({}) == "alert-coordinators-2021-07-30T17:30"


def test_a_name_that_cannot_be_built_never_fails_the_run() -> None:
    def broken(_p):  # noqa: ANN001, ANN202
        raise ValueError("no")

    assert names.run_name(broken, "readiness")() == "readiness"


@pytest.mark.parametrize("module, attr, build", [
    ("flows.readiness", "readiness_flow", names.readiness_name),
    ("flows.deadline_watch", "deadline_watch_flow", names.deadline_watch_name),
    ("flows.master_list", "master_list_flow", names.master_list_name),
    ("flows.plan_sessions", "plan_sessions_flow", names.plan_name),
    ("flows.compile_report", "compile_report_flow", names.report_name),
    ("flows.compile_report", "submit_report_flow", names.submit_report_name),
    ("flows.intake", "intake_flow", names.intake_name),
    ("flows.alert", "alert_coordinators_flow", names.alert_name),
    ("flows.doses", "link_doses_flow", names.link_doses_name),
])
def test_every_flow_carries_its_name_and_the_name_reads_its_parameters(module, attr, build) -> None:
    import importlib

    flow = getattr(importlib.import_module(module), attr)
    assert callable(flow.flow_run_name) and flow.flow_run_name.__name__ == build.__name__
    # every parameter the name reads is one of the flow's (a renamed parameter must not go unnoticed)
    params = set(inspect.signature(flow.fn).parameters)

    class Recording(dict):
        read: set[str] = set()

        def get(self, key, default=None):  # noqa: ANN001, ANN202
            self.read.add(key)
            return super().get(key, default)

        def __getitem__(self, key):  # noqa: ANN001, ANN202
            self.read.add(key)
            return super().__getitem__(key)

    given = Recording({"now": NOW, "district": "633", "kind": "staff", "facility": "F1", "level": "district",
                       "unit": "633", "levels": ["district"], "days": 7, "start": "2021-08-01"})
    build(given)
    read = Recording.read
    assert read <= params, (attr, read - params)


def test_no_flow_runs_under_a_random_name() -> None:
    """Every flow of `flows/` has a name of its own (a template or a `run_name` callable): a flow added
    later without one would show as "thoughtful-roadrunner" in the UI."""
    import importlib
    import pkgutil

    from prefect import Flow

    import flows

    found = []
    for info in pkgutil.iter_modules(flows.__path__):
        module = importlib.import_module(f"flows.{info.name}")
        for value in vars(module).values():
            if isinstance(value, Flow) and value.__module__ == module.__name__:
                found.append(value.name)
                assert value.flow_run_name, f"flow {value.name} has no flow_run_name"
    assert {"readiness", "link-doses", "deadline_watch", "demo"} <= set(found)


@pytest.mark.prefect
def test_a_flow_run_gets_its_name(prefect_harness) -> None:
    from prefect import flow
    from prefect.runtime import flow_run

    @flow(flow_run_name=names.run_name(names.readiness_name, "readiness"))
    def probe(now: str | None = None, district: str | None = None) -> str:
        return flow_run.name

    assert probe(now=NOW, district="622") == "readiness-622-2021-07-28T08:00"
