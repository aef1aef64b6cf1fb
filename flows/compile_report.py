"""Flows `compile-report` (facility -> district -> province reports, rendered and stored, with the daily
progress artifacts) and `submit-report` (the approved report e-mailed upward). Wiring only; the work is
in campaign.reports."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.hooks import note_flow_run
from flows.names import report_name, run_name, submit_report_name
from tasks.report import compile_reports, publish_report_artifacts, submit_report

ALL_LEVELS = ["facility", "district", "province"]


@flow(name="compile-report", flow_run_name=run_name(report_name, "compile-report"), log_prints=False, on_running=[note_flow_run])
def compile_report_flow(levels: list[str] | None = None, unit: str | None = None, now: str | None = None,
                        formats: list[str] | None = None, out_dir: str | None = None) -> dict[str, Any]:
    """`levels`: facility, district, province (default: all three, facilities first); `unit`: one unit of
    a single level (facility code, district GSO code); `formats`: docx, pdf, html (default docx and pdf)."""
    built = compile_reports(levels or ALL_LEVELS, unit, now, formats or ["docx", "pdf"], out_dir)
    publish_report_artifacts(built, now)
    return {"reports": built}


@flow(name="submit-report", flow_run_name=run_name(submit_report_name, "submit-report"), log_prints=False, on_running=[note_flow_run])
def submit_report_flow(level: str, unit: str, by: str, now: str | None = None) -> dict[str, Any]:
    """E-mail the latest version of the unit's report, if approved, to the recipients in config."""
    return submit_report(level, unit, now, by)
