"""Flow `deadline_watch`: escalate what is due, deliver the outbox, publish the board (wiring only)."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.hooks import note_flow_run
from flows.names import deadline_watch_name, run_name
from tasks.aefi import publish_aefi
from tasks.daily_results import publish_daily_results
from tasks.deadlines import deliver_outbox, escalate_due, publish_deadline_board
from tasks.stock import publish_stock


@flow(name="deadline_watch", flow_run_name=run_name(deadline_watch_name, "deadline-watch"), log_prints=False, on_running=[note_flow_run])
def deadline_watch_flow(now: str | None = None) -> dict[str, Any]:
    """`now`: the logical time to watch at (ISO 8601; default the campaign clock), so any moment of a
    campaign can be replayed."""
    written = escalate_due(now)
    delivery = deliver_outbox()
    summary = publish_deadline_board(now)
    daily = publish_daily_results(now)   # issue 20.2: yesterday's and today's results, one artifact a day
    aefi = publish_aefi(now)             # issue 20.4: serious AEFI and their 24-hour clocks, lots flagged
    stock = publish_stock(now)           # issue 20.3: the ledgers reconciled, one artifact a day
    return {**summary, "written_now": written, "delivery": delivery, "daily_results": daily, "aefi": aefi,
            "stock": stock}
