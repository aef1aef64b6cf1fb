"""Flow `intake`: one flow run per submitted file (wiring only; the work is in campaign.intake)."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.hooks import note_flow_run
from flows.names import intake_final_name, intake_name, rename_current_run, run_name
from tasks.intake import emit_submission_event, intake_submission, publish_intake_artifact


@flow(name="intake", flow_run_name=run_name(intake_name, "intake"), log_prints=False, on_running=[note_flow_run])
def intake_flow(path: str, district: str, kind: str, facility: str | None = None, channel: str = "cli",
                submitted_by: str = "cli", received_at: str | None = None,
                original_filename: str | None = None,
                columns: dict[str, str | None] | None = None) -> dict[str, Any]:
    """`original_filename`: the name the user's file had, when `path` is a stored copy (portal uploads).
    `columns`: how to read some headings of this file, {heading as written: field, None: ignore it}."""
    outcome = intake_submission(path, district, kind, facility, channel, submitted_by, received_at,
                                original_filename, columns)
    rename_current_run(intake_final_name({"district": district, "kind": kind, "facility": facility}, outcome))
    if outcome["status"] != "duplicate":
        publish_intake_artifact(outcome)
        emit_submission_event(outcome)
    return outcome
