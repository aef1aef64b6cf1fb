"""Reports as steps (what the Prefect tasks call): compile (build, render, store a new version), approve,
submit by e-mail. `send` (approve when asked, then `submit_report`, each step recorded in the audit log) is
the one path a report goes upward by, for the CLI's `submit-report` flow and the portal's "Duyệt và gửi".

Nothing goes upward unapproved: `submit_report` sends the latest version of a unit's report only when
that version was approved (a newer build must be approved again), records when it was sent (the logical
clock) and to whom; the deadline watch then counts the deliverable that needs it as done, on time or
late (`campaign.deadlines.rules.completion`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from campaign import audit, progress
from campaign.audit import Actor
from campaign.config import CampaignConfig
from campaign.deadlines.notify import DeliveryError
from campaign.reports import store
from campaign.reports.present import recipients_of, submission_email
from campaign.reports.rules import LEVELS, ReportData, ReportError, build_report, refusal, units_of
from campaign.store.db import write_session

log = logging.getLogger("campaign.reports")

FORMATS = ("docx", "pdf", "html")
MIME = {"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "pdf": "application/pdf", "html": "text/html"}
# a facility's plan goes to its district's health centre (directive section 3: "gửi Kế hoạch này cho Trung
# tâm Y tế để tổng hợp"); a district's to the provincial steering committee; the province's to the ministries
SUBMITTABLE = LEVELS


class ApprovalError(ReportError):
    """Approval or submission refused by a rule (nothing to approve, not approved): exit code 3."""
    exit_code = 3


@dataclass
class Built:
    record_id: int
    level: str
    unit: str
    unit_name: str
    version: int
    files: dict[str, str]
    figures: dict[str, Any]
    warnings: int
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"report_id": self.record_id, "level": self.level, "unit": self.unit, "unit_name": self.unit_name,
                "version": self.version, "files": self.files, "warnings": self.warnings,
                "figures": {k: v for k, v in self.figures.items() if k != "submissions"},
                "submissions": len(self.figures.get("submissions", [])), "seconds": round(self.seconds, 3)}


@dataclass
class CompileResult:
    built: list[Built] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def _render(report: Any, fmt: str, path: Path) -> Path:
    if fmt == "docx":
        from campaign.reports.render_docx import render_docx

        return render_docx(report, path)
    if fmt == "pdf":
        from campaign.reports.render_pdf import render_pdf

        return render_pdf(report, path)
    from campaign.reports.render_html import render_html

    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render_html(report), encoding="utf-8")
    tmp.replace(path)
    return path


def _safe(unit: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in unit)


def compile_reports(engine: Engine, campaign: CampaignConfig, *, level: str, as_of: dt.datetime, out_dir: Path,
                    units: list[str] | None = None, formats: tuple[str, ...] = ("docx", "pdf"),
                    flow_run_id: str | None = None, data: ReportData | None = None) -> CompileResult:
    """Build, render and store a new version of the report of each unit of `level` (all of them unless
    `units`). The province's data are read once for all units."""
    if level not in LEVELS:
        raise ReportError(f"cấp báo cáo không hợp lệ: {level!r} (facility | district | province)")
    if unknown := [f for f in formats if f not in FORMATS]:
        raise ReportError(f"định dạng không hỗ trợ: {unknown} (docx | pdf | html)")
    result = CompileResult()
    t = time.perf_counter()
    if data is None:
        with Session(engine) as session:
            data = store.load_data(session, campaign, as_of)
    result.seconds["read"] = time.perf_counter() - t
    wanted = units if units else units_of(data, level)
    folder = out_dir / level
    folder.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    with Session(engine) as session, session.begin():
        versions = store.latest_versions(session, level)
        for i, unit in enumerate(wanted):
            progress.report(f"report {level} {unit}", i, len(wanted))
            started = time.perf_counter()
            version = int(versions.get(unit) or 0) + 1
            report = build_report(data, level, unit, version=version)
            files = {}
            for fmt in formats:
                path = _render(report, fmt, folder / f"bao-cao-{level}-{_safe(report.unit)}-v{version}.{fmt}")
                content = path.read_bytes()
                files[fmt] = {"path": str(path), "sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}
            record = store.add_version(session, level=level, unit=report.unit, version=version, as_of=as_of,
                                       flow_run_id=flow_run_id, figures=report.figures, files=files)
            warnings = sum(len(s.warnings) for s in report.all_sections())
            result.built.append(Built(record.id, level, report.unit, report.unit_name, version,
                                      {k: v["path"] for k, v in files.items()}, report.figures, warnings,
                                      time.perf_counter() - started))
    result.seconds["render"] = time.perf_counter() - t
    return result


def approve(engine: Engine, *, level: str, unit: str, by: str, at: dt.datetime,
            version: int | None = None) -> dict[str, Any]:
    """Record who approved which version (the latest unless `version`)."""
    if not by.strip():
        raise ReportError("ghi rõ người duyệt (--by)")
    with Session(engine) as session, session.begin():
        record = store.report_record(session, level, unit, version)
        if why := refusal(record, "approve", level=level, unit=unit, at=at, version=version):
            raise ApprovalError(why)
        record.approved_at, record.approved_by = at, by.strip()
        return {"report_id": record.id, "level": level, "unit": unit, "version": record.version,
                "approved_by": record.approved_by, "approved_at": at.isoformat()}


def submit_report(engine: Engine, campaign: CampaignConfig, notifier: Any, *, level: str, unit: str, by: str,
                  at: dt.datetime) -> dict[str, Any]:
    """E-mail the latest version, approved, with its files attached; record when and to whom. The one
    core path of a report's submission (the `submit-report` flow's task and the portal)."""
    if level not in SUBMITTABLE:
        raise ReportError(f"cấp báo cáo không gửi được: {level!r}")
    district = None
    if level == "facility":
        from campaign.deadlines.store import facility_parties

        with Session(engine) as session:
            district = facility_parties(session, campaign).get(unit, (None, ""))[0]
        if district is None:
            raise ReportError(f"không có cơ sở tiêm chủng {unit!r} trong danh sách cơ sở đã được chấp nhận")
    to = recipients_of(campaign, level, unit, district)
    if not to:
        raise ApprovalError(f"chưa cấu hình người nhận báo cáo cấp {level} (reports.recipients)")
    with Session(engine) as session, session.begin():
        record = store.report_record(session, level, unit)
        if why := refusal(record, "submit", level=level, unit=unit, at=at):
            raise ApprovalError(why)
        if not any(fmt in record.files for fmt in ("pdf", "docx")):
            raise ApprovalError(f"phiên bản {record.version} không có tệp PDF hay DOCX để gửi: lập báo cáo với "
                                "--format pdf/docx")
        subject, body = submission_email(campaign, level=level, unit=unit, version=record.version,
                                         approved_by=record.approved_by, approved_at=record.approved_at, at=at, to=to)
        attachments = []
        for fmt in ("pdf", "docx"):
            if fmt in record.files:
                path = Path(record.files[fmt]["path"])
                if not path.is_file():
                    raise ApprovalError(f"không tìm thấy tệp {path} của phiên bản đã duyệt: lập lại báo cáo")
                content = path.read_bytes()
                if hashlib.sha256(content).hexdigest() != record.files[fmt]["sha256"]:
                    raise ApprovalError(f"tệp {path.name} đã bị thay đổi sau khi duyệt: lập lại báo cáo")
                attachments.append((path.name, content, MIME[fmt]))
        message_id = notifier.email(to, subject, body, attachments)
        record.submitted_at, record.submitted_by = at, by.strip() or record.approved_by
        record.recipients, record.message_id = to, message_id
        return {"report_id": record.id, "level": level, "unit": unit, "version": record.version,
                "submitted_at": at.isoformat(), "recipients": to, "message_id": message_id,
                "attachments": [a[0] for a in attachments]}


def send(engine: Engine, campaign: CampaignConfig, notifier: Callable[[], Any], *, level: str, unit: str, by: str,
         at: dt.datetime, actor: Actor, approve_version: int | None = None, target_id: int | None = None,
         target_label: str | None = None) -> dict[str, Any]:
    """Approve `approve_version` (if given) by `by` at `at`, then e-mail the latest version, approved
    (submit_report: the message, the recipients, the deadline it closes). `notifier`: makes
    the Notifier, once the approval is recorded. Returns what `submit_report` returns. The audit events name the
    report `target_id` / `target_label` (default: the one sent, else `level:unit`)."""
    steps = (["approval"] if approve_version is not None else []) + ["report_submit"]
    done: list[str] = []
    target = {"target_type": "report", "target_id": target_id, "target_label": target_label or f"{level}:{unit}"}
    try:
        if approve_version is not None:
            approve(engine, level=level, unit=unit, by=by, at=at, version=approve_version)
            done.append("approval")
        result = submit_report(engine, campaign, notifier(), level=level, unit=unit, by=by, at=at)
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
            with write_session(engine) as s:
                audit.record(s, step, actor=actor, **event)
        except Exception:   # noqa: BLE001 - the report was (or was not) sent whatever the log says
            log.warning("reports: could not write an audit event (%s)", step, exc_info=True)
        if step not in done:
            break
