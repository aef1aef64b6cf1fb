"""Approving and sending a report upward, recorded in the audit log: the one path of both faces. The
portal's "Duyệt và gửi" calls `send` with the version shown to approve first; the CLI's `report --submit`
runs the submit-report flow, whose task calls `send` without approving (`campaign report approve` does
that apart). Each step tried is recorded as done (`ok`), or how the first step not done failed
(`refused`: the report's rules; `failed`: the mail server), then the error is raised to the face."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from campaign import audit
from campaign.audit import Actor
from campaign.config import CampaignConfig
from campaign.io.notify import DeliveryError
from campaign.reports.content import ReportError
from campaign.reports.run import approve, submit

log = logging.getLogger("campaign.reports")


def send(engine: Engine, campaign: CampaignConfig, notifier: Callable[[], Any], *, level: str, unit: str, by: str,
         at: dt.datetime, actor: Actor, approve_version: int | None = None, target_id: int | None = None,
         target_label: str | None = None) -> dict[str, Any]:
    """Approve `approve_version` (if given) by `by` at `at`, then e-mail the latest version, approved
    (campaign.reports.run.submit: the message, the recipients, the deadline it closes). `notifier`: makes
    the Notifier, once the approval is recorded. Returns what `submit` returns. The audit events name the
    report `target_id` / `target_label` (default: the one sent, else `level:unit`)."""
    steps = (["approval"] if approve_version is not None else []) + ["report_submit"]
    done: list[str] = []
    target = {"target_type": "report", "target_id": target_id, "target_label": target_label or f"{level}:{unit}"}
    try:
        if approve_version is not None:
            approve(engine, level=level, unit=unit, by=by, at=at, version=approve_version)
            done.append("approval")
        result = submit(engine, campaign, notifier(), level=level, unit=unit, by=by, at=at)
        done.append("report_submit")
    except ReportError as exc:
        _record(engine, actor, steps, done, target, failed="refused", error=type(exc).__name__)
        raise
    except (DeliveryError, OSError) as exc:
        _record(engine, actor, steps, done, target, failed="failed", error=type(exc).__name__)
        raise
    if target_id is None:
        target.update(target_id=result["report_id"],
                      target_label=target_label or f"{level}:{unit}:v{result['version']}")
    _record(engine, actor, steps, done, target)
    return result


def _record(engine: Engine, actor: Actor, steps: list[str], done: list[str], target: dict[str, Any], *,
            failed: str | None = None, error: str | None = None) -> None:
    """Each step tried: done, or how it failed (the first not done). Each event in its own transaction; an
    event that cannot be written does not hide what happened to the report: it is logged."""
    for step in steps:
        if step not in done and failed is None:
            break
        event = dict(target) if step in done else dict(target, outcome=failed, details={"error": error})
        try:
            with Session(engine.execution_options(sqlite_begin="IMMEDIATE")) as s, s.begin():
                audit.record(s, step, actor=actor, **event)
        except Exception:   # noqa: BLE001 - the report was (or was not) sent whatever the log says
            log.warning("reports: could not write an audit event (%s)", step, exc_info=True)
        if step not in done:
            break
