"""Flow `master_list`: the province's master target list from the districts' current target lists
(wiring only; the work is in campaign.master_list.run)."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.hooks import note_flow_run
from flows.names import master_list_name, run_name
from tasks.doses import link_doses
from tasks.master_list import build_master_list, publish_master_list_artifacts


@flow(name="master-list", flow_run_name=run_name(master_list_name, "master-list"), log_prints=False, on_running=[note_flow_run])
def master_list_flow(now: str | None = None, retrain: bool = False) -> dict[str, Any]:
    """`now`: the logical time of the run (ISO 8601; default the campaign clock); `retrain`: train the
    linkage model again instead of reusing the stored one."""
    summary = build_master_list(now, retrain)
    publish_master_list_artifacts(summary)
    # the list is rebuilt whole: the doses (results, backfill) are linked to it again (issue 20.1)
    summary["doses"] = {k: v for k, v in link_doses(now).items() if k not in ("review", "conflict_list")}
    return summary
