"""Deadline-watch tasks: thin wrappers over campaign.deadlines; they own the artifacts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from sqlalchemy.orm import Session

from campaign import clock
from campaign.deadlines.notify import Notifier
from campaign.deadlines.outbox import deliver
from campaign.deadlines.run import board, escalate_now
from campaign.resources import get_resources


def logical_now(now: str | None) -> dt.datetime:
    return clock.to_utc(clock.parse_instant(now) if now else clock.now())


@task(name="escalate-due-steps", cache_policy=NO_CACHE)
def escalate_due(now: str | None = None) -> list[dict[str, Any]]:
    """Write the escalation steps due at `now` (each once, whatever other watch runs at the same time) and
    their messages to the outbox."""
    res = get_resources()
    return [w.__dict__ for w in escalate_now(res.engine, res.campaign, logical_now(now))]


@task(name="deliver-outbox", cache_policy=NO_CACHE)
def deliver_outbox() -> dict[str, int]:
    """Send the pending messages whose time has come, each claimed first (another watch running at the same
    time sends the others); failures are retried by later watches."""
    res = get_resources()
    result = deliver(lambda: Session(res.engine), Notifier.from_settings(res.settings),
                     lambda: dt.datetime.now(dt.UTC))
    return result.__dict__


@task(name="publish-deadline-board", cache_policy=NO_CACHE)
def publish_deadline_board(now: str | None = None) -> dict[str, Any]:
    """The board as a table artifact (deliverables, states, due times in Gia Lai time; no personal data)."""
    res = get_resources()
    at = logical_now(now)
    with Session(res.engine) as session:
        summary = board(session, res.campaign, at)
    rows = [{"deadline": d["deadline"], "party": d["party"], "state": d["state"],
             "due": f"{clock.local(clock.parse_instant(d['due_at'])):%d/%m/%Y %H:%M}",
             "missing": ", ".join(d["missing"]) or "-"} for d in summary["deliverables"]]
    create_table_artifact(key="deadline-board", table=rows,
                          description=f"Deliverables as of {clock.local(at):%d/%m/%Y %H:%M} (Asia/Ho_Chi_Minh); "
                                      f"{len(summary['escalations_sent'])} escalation messages so far")
    return summary
