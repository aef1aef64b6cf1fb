"""`campaign status`: the province as of a moment, composed from the readers the other commands use, so that
each figure is the one they show (count once; tests/test_status.py compares them):

- deadlines overdue and due within 24 h, with who is behind: `campaign.deadlines.run.board` (`campaign deadlines`);
- districts not ready and their first gap: `campaign.readiness.run.assess_current` + `present.to_json`
  (`campaign readiness --json`, the reports), assessed now and not recorded;
- pairs waiting for review: `campaign.master_list.review.pairs_to_review` (`campaign review`);
- reports waiting for approval: `campaign.reports.store.latest_states` (`campaign report history`);
- messages waiting for a retry or given up: the board's `escalations_sent`, counted by
  `campaign.deadlines.present.delivery_counts` (`campaign deadlines`);
- uploads of the day: `campaign.status.store.uploads_between`;
- flow runs failed or crashed: given by the caller (the face reads Prefect's API; the core never does).

Read-only: it starts no flow and writes nothing.

    with Session(engine) as session:
        summary = status(session, campaign, now, flow_runs=read_or_none)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from campaign import clock
from campaign.config import CampaignConfig
from campaign.deadlines import store as deadline_store
from campaign.deadlines.run import board
from campaign.master_list.review import pairs_to_review
from campaign.readiness import present as readiness_present
from campaign.readiness.run import assess_current
from campaign.reports.store import latest_states
from campaign.status import present, rules
from campaign.status.store import uploads_between


def status(session: Session, campaign: CampaignConfig, now: dt.datetime, *,
           flow_runs: Mapping[str, Any] | None = None, real_now: dt.datetime | None = None) -> dict[str, Any]:
    """The status summary (docs/contracts.md, `campaign status --json`) as of `now` (UTC, logical).
    `flow_runs`: {"rows": [...], "error": str | None, "hours": int} as the face read them from Prefect,
    or None when no Prefect API was reachable (said as unknown)."""
    watched = board(session, campaign, now, real_now=real_now)
    overdue, soon = rules.deadlines_to_watch(watched["deliverables"], now)
    names = readiness_present.district_names(campaign.district_codes)
    facilities = deadline_store.facility_parties(session, campaign)
    readiness = readiness_present.to_json(assess_current(session, campaign, today=clock.local(now).date()),
                                          names=names)
    day_start = clock.local(now).replace(hour=0, minute=0, second=0, microsecond=0)
    uploads = uploads_between(session, day_start, now)
    return present.to_json(
        now=now, campaign=campaign, facilities=facilities, overdue=overdue, soon=soon,
        readiness=readiness, not_ready=rules.districts_not_ready(readiness),
        uploads=uploads, day=day_start.date(), pairs=pairs_to_review(session),
        reports=[r for r in latest_states(session) if r["state"] != "sent"],
        messages=watched["escalations_sent"], flow_runs=flow_runs)
