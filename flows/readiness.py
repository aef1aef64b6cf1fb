"""Flow `readiness`: every facility, district and the province assessed from the current submissions
(wiring only; the work is in campaign.readiness)."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.hooks import note_flow_run
from flows.names import readiness_name, run_name
from tasks.readiness import assess_readiness, publish_readiness_artifacts


@flow(name="readiness", flow_run_name=run_name(readiness_name, "readiness"), log_prints=False, on_running=[note_flow_run])
def readiness_flow(now: str | None = None, district: str | None = None) -> dict[str, Any]:
    """`now`: the logical time assessed (ISO 8601; default the campaign clock); `district`: a GSO code
    whose facilities, sessions and training detail the summary should include."""
    summary = assess_readiness(now, district)
    publish_readiness_artifacts(summary["run_id"])
    return summary
