"""The scheduled deployments `campaign serve` serves, declared once (tested against the flows' signatures);
the same deployments on a Prefect process work pool (`register`) for `campaign worker --prefect` on any machine.

Schedules are in Asia/Ho_Chi_Minh: the deadline watch every 15 minutes (an escalation goes out at most a
quarter of an hour after its time; the outbox retries failed sends on the next runs), readiness three times
a working day so that the coordinators' board and history follow the submissions, and the master list half
an hour before each readiness run (districts re-upload their target lists during the day), and a draft
session plan for the next week every evening, after the last readiness run (a coordinator publishes it),
and the reports and daily progress at the end of the working day (a coordinator approves and sends them).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

TIMEZONE = "Asia/Ho_Chi_Minh"


TAGS = ["campaign"]   # the automations watch flow runs with this tag


@dataclass(frozen=True)
class ScheduledFlow:
    name: str                 # the deployment's name
    flow: str                 # "module:function" under flows/
    cron: str | None          # None: run on demand (by an automation or from the UI)
    parameters: dict[str, Any] = field(default_factory=dict)
    description: str = ""


SCHEDULED: tuple[ScheduledFlow, ...] = (
    ScheduledFlow("deadline-watch", "flows.deadline_watch:deadline_watch_flow", "*/15 * * * *",
                  description="Escalates every deadline step that is due, once; delivers the outbox."),
    ScheduledFlow("readiness", "flows.readiness:readiness_flow", "0 7,12,17 * * *",
                  description="Readiness of every facility and district, kept as history."),
    ScheduledFlow("master-list", "flows.master_list:master_list_flow", "30 6,11,16 * * *",
                  description="The province's master target list from the current district lists, with the "
                              "stored linkage model; pairs to review as an artifact."),
    ScheduledFlow("plan-sessions", "flows.plan_sessions:plan_sessions_flow", "0 18 * * *", parameters={"days": 7},
                  description="A draft plan of the next 7 days' sessions from the current master list, teams "
                              "and stock, keeping the published sessions; publish with `campaign plan --publish`."),
    ScheduledFlow("compile-report", "flows.compile_report:compile_report_flow", "30 17 * * *",
                  description="Every facility's, district's and the province's report rebuilt from the day's data "
                              "(a new version to approve), and the daily progress artifacts."),
    ScheduledFlow("alert-coordinators", "flows.alert:alert_coordinators_flow", None,
                  description="Mails the DoH coordinators; run by the automations (flows/automations.yaml)."),
)
WATCH_INTERVAL_MINUTES = 15


def load_flow(spec: ScheduledFlow) -> Any:
    import importlib

    module, name = spec.flow.split(":")
    return getattr(importlib.import_module(module), name)


def deployments(work_pool: str | None = None) -> list[Any]:
    """RunnerDeployments: for `prefect.serve` (no `work_pool`; schedules active, `pause_on_shutdown=False` at
    serve time), or pointing at the process work pool `work_pool` (`register`), where the process workers of
    `campaign worker --prefect` on any machine run them. A pool's deployments name their flow by module path
    (`flows.deadline_watch.deadline_watch_flow`), not by a file of this checkout: a worker on another machine
    imports it from its own installation of the project."""
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    pooled = {"work_pool_name": work_pool, "entrypoint_type": EntrypointType.MODULE_PATH} if work_pool else {}
    return [load_flow(s).to_deployment(name=s.name, schedules=[Cron(s.cron, timezone=TIMEZONE)] if s.cron else [],
                                       parameters=s.parameters, description=s.description, tags=TAGS, **pooled)
            for s in SCHEDULED]


def ensure_work_pool(name: str) -> None:
    """The process work pool `name`, created if missing (an existing pool is left as it is)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):   # another machine's worker made it meanwhile
                client.create_work_pool(WorkPoolCreate(name=name, type="process",
                                                       description="Scheduled campaign flows (campaign worker)"))


def register(work_pool: str) -> dict[str, Any]:
    """The scheduled deployments registered on the work pool (created if missing; the same names again:
    updated in place, so every machine's `campaign worker --prefect` may do it). Returns name -> id."""
    ensure_work_pool(work_pool)
    return {d.name: d.apply(work_pool_name=work_pool) for d in deployments(work_pool)}
