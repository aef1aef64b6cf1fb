"""Report tasks: thin wrappers over campaign.reports.run; they own the artifacts (key figures and the
daily progress, no personal data)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from sqlalchemy.orm import Session

from campaign import audit, campaign_progress, clock
from campaign.deadlines.notify import Notifier
from campaign.reports import rules, store
from campaign.reports import run as reports
from campaign.reports.run import send
from campaign.resources import get_resources


def _at(now: str | None):
    return clock.to_utc(clock.parse_instant(now) if now else clock.now())


@task(name="compile-reports", cache_policy=NO_CACHE)
def compile_reports(levels: list[str], unit: str | None, now: str | None, formats: list[str],
                    out_dir: str | None = None) -> list[dict[str, Any]]:
    """Build and render a new version of every report asked for, the province's data read once."""
    res = get_resources()
    at = _at(now)
    with Session(res.engine) as session:
        data = store.load_data(session, res.campaign, at)
    run_id = flow_run.get_id()
    out = Path(out_dir) if out_dir else res.settings.outputs_dir / "reports"
    built = []
    for level in levels:
        result = reports.compile_reports(res.engine, res.campaign, level=level, as_of=at, out_dir=out,
                                         units=[unit] if unit else None, formats=tuple(formats),
                                         flow_run_id=str(run_id) if run_id else None, data=data)
        built += [b.to_json() for b in result.built]
    return built


@task(name="publish-report-artifacts", cache_policy=NO_CACHE)
def publish_report_artifacts(built: list[dict[str, Any]], now: str | None) -> int:
    """The reports built (key figures per unit) and the daily progress (section II.4) per district and for
    the province, as Prefect artifacts."""
    res = get_resources()
    at = _at(now)
    rows = [{"level": b["level"], "unit": f"{b['unit']} {b['unit_name']}", "version": b["version"],
             "facilities_ready": f"{b['figures'].get('facilities_ready')}/{b['figures'].get('facilities_total')}",
             "people": b["figures"].get("people_total"), "planned": b["figures"].get("planned_invitations"),
             "vaccinated": b["figures"].get("vaccinated"), "aefi": b["figures"].get("aefi"),
             "warnings": b["warnings"], "files": ", ".join(Path(p).name for p in b["files"].values())}
            for b in built if b["level"] != "facility"]
    facilities = sum(1 for b in built if b["level"] == "facility")
    create_table_artifact(key="reports-built", table=rows or [{"level": "-"}],
                          description=f"{len(built)} reports built ({facilities} facility reports not listed)")
    with Session(res.engine) as session:
        data = store.load_data(session, res.campaign, at)
        more = campaign_progress.read(session, res.campaign, at)   # issue 20: results, stock, AEFI columns
    scope = rules.scope_of(data, "province", None)
    province = rules.progress_table(data, scope)
    create_table_artifact(key="progress-province",
                          table=[{**dict(zip(province.columns, r, strict=True)),
                                  **campaign_progress.district_columns(more, d)}
                                 for d, r in zip(scope.districts, province.rows, strict=True)],
                          description=f"Tiến độ tiêm chủng theo huyện, {clock.local(at):%H:%M %d/%m/%Y}")
    groups = rules.priority_progress(data, rules.scope_of(data, "province", None))
    create_table_artifact(key="progress-priority-province",
                          table=[dict(zip(groups.columns, r, strict=True)) for r in groups.rows] or [{"Nhóm": "-"}],
                          description=f"Theo nhóm ưu tiên: trong danh sách, được mời, đã tiêm; "
                                      f"{clock.local(at):%H:%M %d/%m/%Y}")
    for d in res.campaign.district_codes:
        t = rules.progress_table(data, rules.scope_of(data, "district", d))
        create_table_artifact(key=f"progress-{d}",
                              table=[{**dict(zip(t.columns, r, strict=True)),
                                      **campaign_progress.facility_columns(more, r[0])} for r in t.rows]
                              or [{"Đơn vị": "-"}],
                              description=f"Tiến độ tiêm chủng {data.names.get(d, d)}, {clock.local(at):%d/%m/%Y}; "
                                          f"{campaign_progress.aefi_words(more, d)}")
    lines = ["# Báo cáo đã lập", "", "| cấp | đơn vị | phiên bản | tệp |", "| --- | --- | --- | --- |"]
    lines += [f"| {b['level']} | {b['unit']} | {b['version']} | {', '.join(b['files'].values())} |"
              for b in built if b["level"] != "facility"]
    create_markdown_artifact(key="reports-files", markdown="\n".join(lines), description="Report files")
    return len(rows)


@task(name="submit-report", cache_policy=NO_CACHE)
def submit_report(level: str, unit: str, now: str | None, by: str) -> dict[str, Any]:
    """E-mail the latest approved version; the deliverable that needs it closes. The portal's path too
    (campaign.reports.run.send): recorded in the audit log, by the person at the command line."""
    res = get_resources()
    return send(res.engine, res.campaign, lambda: Notifier.from_settings(res.settings), level=level, unit=unit,
                by=by, at=_at(now), actor=audit.cli_actor())
