"""The status screen's selections, as pure functions of what the other outputs already computed (the
deadlines board's rows, the readiness summary, the messages the board lists): nothing is counted twice.

    deadlines_to_watch(deliverables, now, horizon)   -> (overdue, due within `horizon`), each with who is behind
    districts_not_ready(readiness_summary)           -> the districts not ready, each with its first gap
    messages_to_watch(escalations_sent)              -> the messages waiting for a retry or given up
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from campaign.deadlines.rules import DUE, OVERDUE
from campaign.readiness.status import READY_STATUSES

HORIZON = dt.timedelta(hours=24)   # by: province: "due in the next 24 h" (issue 22, the coordinator's day)
PENDING, SENDING, FAILED = "pending", "sending", "failed"   # the board's message statuses (deadlines.present)


def deadlines_to_watch(deliverables: Iterable[Mapping[str, Any]], now: dt.datetime,
                       horizon: dt.timedelta = HORIZON) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The board's deliverables that are overdue at `now`, and those still due whose due time falls within
    `horizon` after `now`; earliest due first, then by party. A row keeps the board's fields (`deadline`,
    `name`, `party`, `due_at`, `missing`, `district`)."""
    overdue, soon = [], []
    for d in deliverables:
        if d["state"] == OVERDUE:
            overdue.append(dict(d))
        elif d["state"] == DUE and dt.datetime.fromisoformat(d["due_at"]) <= now + horizon:
            soon.append(dict(d))

    def order(d: Mapping[str, Any]) -> tuple[str, str, str]:
        return d["due_at"], d["deadline"], d["party"]

    return sorted(overdue, key=order), sorted(soon, key=order)


def districts_not_ready(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The districts of a readiness summary (`campaign.readiness.present.to_json`) not in a ready status,
    each with its first blocking gap (else its first warning; None when the summary names none)."""
    out = []
    for d in summary["districts"]:
        if d["status"] in READY_STATUSES:
            continue
        first = (d.get("gaps") or d.get("warnings") or [None])[0]
        out.append({"district": d["district"], "name": d.get("name"), "status": d["status"],
                    "facilities_ready": d["facilities_ready"], "facilities_total": d["facilities_total"],
                    "gaps": len(d.get("gaps") or []), "first_gap": first})
    return out


def messages_to_watch(sent: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The board's messages (`escalations_sent`) not delivered: waiting for a retry, being sent, or given up."""
    return [dict(m) for m in sent if m["status"] in (PENDING, SENDING, FAILED)]


def count_by(rows: Iterable[Mapping[str, Any]], key: str, values: Iterable[str]) -> dict[str, int]:
    """How many rows have each of `values` at `key` (every value listed, zero when none)."""
    rows = list(rows)
    return {v: sum(1 for r in rows if r[key] == v) for v in values}
