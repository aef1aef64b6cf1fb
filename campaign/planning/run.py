"""Session planning, the step (what the `plan_sessions` flow's tasks call): read the inputs and plan
(`store`, then the pure `rules`), record the plan and publish it; write a recorded plan's printable
invitation lists (`invitations`)."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from campaign import progress
from campaign.config import CampaignConfig
from campaign.planning import store
from campaign.planning.present import PART_LABELS
from campaign.planning.rules import PlanError, plan_days, plan_sessions, products_of, rules_of
from campaign.planning.rules_figures import quality


@dataclass
class PlanResult:
    run_id: int
    start: dt.date
    days: int
    district: str | None
    published: bool
    kept_from: int | None
    summary: dict[str, Any]
    quality: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)


def default_start(now: str | None = None) -> str:
    """The day after the campaign clock's today (Asia/Ho_Chi_Minh), ISO."""
    from campaign import clock

    moment = clock.parse_instant(now) if now else clock.now()
    return (moment.date() + dt.timedelta(days=1)).isoformat()


def make_plan(engine: Engine, campaign: CampaignConfig, *, start: dt.date, days: int, as_of: dt.datetime,
              district: str | None = None, keep_published: bool = True, publish_by: str | None = None,
              flow_run_id: str | None = None) -> PlanResult:
    """Plan `days` days from `start` for the province (or one district), store it; with `publish_by`,
    publish it at once (its sessions are then kept by the next plans)."""
    day_list = plan_days(start, days)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    progress.report("plan: read")
    with Session(engine) as session, session.begin():
        inputs = store.load_inputs(session, campaign, start, day_list, district, keep_published=keep_published)
        seconds["read"] = time.perf_counter() - t0
        if inputs.master_run_id is None:
            raise PlanError("chưa có danh sách đối tượng tổng hợp: chạy `campaign master-list` trước khi lập kế hoạch")
        t = time.perf_counter()
        progress.report("plan: sessions")
        plan = plan_sessions(inputs.people, inputs.facilities, inputs.duty, inputs.stock, products_of(campaign),
                             day_list, rules_of(campaign), fixed=inputs.fixed,
                             published_standby=inputs.published_standby)
        figures = quality(plan, inputs, list(campaign.master_list.priority_order))
        seconds["plan"] = time.perf_counter() - t
        t = time.perf_counter()
        progress.report("plan: write")
        run = store.record_plan(session, plan, inputs, figures, start=start, days=days, as_of=as_of,
                                district=district, flow_run_id=flow_run_id)
        if publish_by:
            store.mark_published(session, run, publish_by, as_of)
        seconds["write"] = time.perf_counter() - t
        run.seconds = {k: round(v, 3) for k, v in seconds.items()}
        return PlanResult(run_id=run.id, start=start, days=days, district=district, published=bool(publish_by),
                          kept_from=run.kept_from, summary=plan.summary, quality=figures, seconds=seconds)


def write_invitation_lists(session: Session, campaign: CampaignConfig, run_id: int, out_dir: Any,
                           district: str | None = None) -> list[Any]:
    """The printable invitation lists of a stored plan: one workbook per facility, a sheet per session."""
    from campaign.planning.invitations import write_invitation_lists as write_workbooks

    sessions, invitations, standby, names = store.read_invitation_lists(session, campaign, run_id, district)
    return write_workbooks(Path(out_dir), sessions, invitations, standby, facility_names=names,
                           part_labels={k: PART_LABELS.get(k, k) for k in campaign.teams.sessions},
                           part_hours={k: (v.start, v.end) for k, v in campaign.teams.sessions.items()})
