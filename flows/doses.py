"""Flow `link-doses`: results and backfill rows linked to master-list people, their dose history and
conflicts (wiring only; the work is in campaign.doses.run)."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.hooks import note_flow_run
from flows.names import link_doses_name, run_name
from tasks.doses import link_doses


@flow(name="link-doses", flow_run_name=run_name(link_doses_name, "link-doses"), log_prints=False, on_running=[note_flow_run])
def link_doses_flow(now: str | None = None) -> dict[str, Any]:
    """`now`: the logical time of the run (ISO 8601; default the campaign clock)."""
    return link_doses(now)
