"""Flow run names that say what a run did and for whom (issue 22): the coordinators read the Prefect UI by
them (`readiness-2021-07-28T08:00`, `plan-14d-from-2021-07-29`, `report-district-633`,
`intake-633-target_list-v3`), not by Prefect's random ones ("thoughtful-roadrunner").

Each `*_name(parameters)` is a pure function of the flow's parameters (tested); each flow's
`flow_run_name=` is the matching `run_name(...)` callable, which Prefect calls with no argument as the run
starts, reading the parameters from `prefect.runtime`. A name must never fail a run: if building it
raises, the flow's own name is used.

Times are the campaign's logical "now" (the `now` parameter, else CAMPAIGN_NOW, else the clock), in
Asia/Ho_Chi_Minh, to the minute.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger("flows.names")
Params = Mapping[str, Any]


def moment(now: str | None) -> str:
    from campaign import clock

    return (clock.parse_instant(now) if now else clock.now()).in_timezone(clock.TZ).strftime("%Y-%m-%dT%H:%M")


def _for(district: str | None) -> str:
    return f"-{district}" if district else ""


def readiness_name(p: Params) -> str:
    return f"readiness{_for(p.get('district'))}-{moment(p.get('now'))}"


def deadline_watch_name(p: Params) -> str:
    return f"deadline-watch-{moment(p.get('now'))}"


def master_list_name(p: Params) -> str:
    return f"master-list-{moment(p.get('now'))}" + ("-retrain" if p.get("retrain") else "")


def plan_name(p: Params) -> str:
    from campaign.planning.run import default_start

    start = p.get("start") or default_start(p.get("now"))
    published = "-published" if p.get("publish_by") else ""
    return f"plan{_for(p.get('district'))}-{p.get('days') or 7}d-from-{start}{published}"


def report_name(p: Params) -> str:
    levels = list(p.get("levels") or ["facility", "district", "province"])
    what = "all" if len(levels) == 3 else "-".join(levels)
    return f"report-{what}{_for(p.get('unit'))}"


def submit_report_name(p: Params) -> str:
    return f"submit-report-{p.get('level')}{_for(p.get('unit'))}"


def intake_name(p: Params) -> str:
    """While it runs: which district's which file (`intake-633-target_list`, `intake-633-staff-F0123`);
    `intake_final_name` adds the version once the submission is written."""
    facility = f"-{p['facility']}" if p.get("facility") else ""
    return f"intake-{p.get('district')}-{p.get('kind')}{facility}"


def intake_final_name(p: Params, outcome: Mapping[str, Any]) -> str:
    """`intake-633-target_list-v3`; a file already received keeps the version it was received as."""
    version = outcome.get("version")
    if not version:
        return intake_name(p) + f"-{outcome.get('status', 'refused')}"
    duplicate = "-duplicate" if outcome.get("status") == "duplicate" else ""
    return f"{intake_name(p)}-v{version}{duplicate}"


def link_doses_name(p: Params) -> str:
    return f"link-doses-{moment(p.get('now'))}"


def alert_name(p: Params) -> str:
    return f"alert-coordinators-{moment(None)}"


def run_name(build: Callable[[Params], str], fallback: str) -> Callable[[], str]:
    """A `flow_run_name=` callable: `build` on the run's parameters; `fallback` if that fails."""
    def name() -> str:
        try:
            from prefect.runtime import flow_run

            return build(flow_run.parameters or {})
        except Exception as exc:  # noqa: BLE001 - a run's name never fails the run
            log.warning("flow run name: %s", exc)
            return fallback
    name.__name__ = build.__name__
    return name


def rename_current_run(name: str) -> None:
    """Rename the flow run in progress (the intake knows its version only once it has written it)."""
    try:
        from prefect.client.orchestration import get_client
        from prefect.runtime import flow_run

        run_id = flow_run.id
        if not run_id:
            return
        with get_client(sync_client=True) as client:
            client.set_flow_run_name(flow_run_id=run_id, name=name)
    except Exception as exc:  # noqa: BLE001 - a run's name never fails the run
        log.warning("could not rename the flow run to %s: %s", name, exc)
