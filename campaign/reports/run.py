"""Reports against the database: compile (build, render, store a new version), approve, submit by e-mail.

Nothing goes upward unapproved: `submit` sends the latest version of a unit's report only when that
version was approved (a newer build must be approved again), records when it was sent (the logical
clock) and to whom; the deadline watch then counts the deliverable that needs it as done, on time or
late (`campaign.deadlines.rules.completion`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from campaign import clock
from campaign.config import CampaignConfig
from campaign.reports.content import LEVELS, ReportData, ReportError, build_report, load_data, units_of
from campaign.store.models import ReportRecord
from campaign.vocabulary import level_label

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
            data = load_data(session, campaign, as_of)
    result.seconds["read"] = time.perf_counter() - t
    wanted = units if units else units_of(data, level)
    folder = out_dir / level
    folder.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    with Session(engine) as session, session.begin():
        versions = dict(session.execute(select(ReportRecord.unit, func.max(ReportRecord.version))
                                        .where(ReportRecord.level == level).group_by(ReportRecord.unit)).all())
        for unit in wanted:
            started = time.perf_counter()
            version = int(versions.get(unit) or 0) + 1
            report = build_report(data, level, unit, version=version)
            files = {}
            for fmt in formats:
                path = _render(report, fmt, folder / f"bao-cao-{level}-{_safe(report.unit)}-v{version}.{fmt}")
                content = path.read_bytes()
                files[fmt] = {"path": str(path), "sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}
            record = ReportRecord(level=level, unit=report.unit, version=version, as_of=as_of,
                                  flow_run_id=flow_run_id, inputs=report.figures.get("submissions", []),
                                  figures={k: v for k, v in report.figures.items() if k != "submissions"},
                                  files=files)
            session.add(record)
            session.flush()
            warnings = sum(len(s.warnings) for s in report.all_sections())
            result.built.append(Built(record.id, level, report.unit, report.unit_name, version,
                                      {k: v["path"] for k, v in files.items()}, report.figures, warnings,
                                      time.perf_counter() - started))
    result.seconds["render"] = time.perf_counter() - t
    return result


def _latest(session: Session, level: str, unit: str) -> ReportRecord | None:
    return session.execute(select(ReportRecord).where(ReportRecord.level == level, ReportRecord.unit == unit)
                           .order_by(ReportRecord.version.desc()).limit(1)).scalar_one_or_none()


def approve(engine: Engine, *, level: str, unit: str, by: str, at: dt.datetime,
            version: int | None = None) -> dict[str, Any]:
    """Record who approved which version (the latest unless `version`)."""
    if not by.strip():
        raise ReportError("ghi rõ người duyệt (--by)")
    with Session(engine) as session, session.begin():
        record = _latest(session, level, unit) if version is None else session.execute(
            select(ReportRecord).where(ReportRecord.level == level, ReportRecord.unit == unit,
                                       ReportRecord.version == version)).scalar_one_or_none()
        if record is None:
            raise ApprovalError(f"chưa có báo cáo {level} {unit}{f' phiên bản {version}' if version else ''} "
                                "để duyệt: chạy `campaign report` trước")
        if record.approved_at is not None:
            raise ApprovalError(f"phiên bản {record.version} đã được {record.approved_by} duyệt lúc "
                                f"{clock.local(record.approved_at):%H:%M %d/%m/%Y}")
        if clock.local(at) < clock.local(record.as_of):
            raise ApprovalError("không duyệt một báo cáo trước thời điểm nó được lập")
        record.approved_at, record.approved_by = at, by.strip()
        return {"report_id": record.id, "level": level, "unit": unit, "version": record.version,
                "approved_by": record.approved_by, "approved_at": at.isoformat()}


def recipients_of(campaign: CampaignConfig, level: str, unit: str, district: str | None = None) -> list[str]:
    """The addresses of `reports.recipients` for a unit ("{code}": the unit, "{district}": a facility's
    district)."""
    return [r.address.replace("{code}", unit).replace("{district}", district or unit)
            for r in campaign.reports.recipients.get(level, [])]


def submit(engine: Engine, campaign: CampaignConfig, notifier: Any, *, level: str, unit: str, by: str,
           at: dt.datetime) -> dict[str, Any]:
    """E-mail the latest version, approved, with its files attached; record when and to whom."""
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
        record = _latest(session, level, unit)
        if record is None:
            raise ApprovalError(f"chưa có báo cáo {level} {unit}: chạy `campaign report` trước")
        if record.approved_at is None:
            raise ApprovalError(f"phiên bản mới nhất ({record.version}) của báo cáo {level} {unit} chưa được duyệt: "
                                "không gửi báo cáo chưa duyệt (`campaign report approve`)")
        if record.submitted_at is not None:
            raise ApprovalError(f"phiên bản {record.version} đã được gửi lúc "
                                f"{clock.local(record.submitted_at):%H:%M %d/%m/%Y} tới {', '.join(record.recipients)}")
        if clock.local(at) < clock.local(record.approved_at):
            raise ApprovalError("thời điểm gửi không thể trước thời điểm duyệt")
        if not any(fmt in record.files for fmt in ("pdf", "docx")):
            raise ApprovalError(f"phiên bản {record.version} không có tệp PDF hay DOCX để gửi: lập báo cáo với "
                                "--format pdf/docx")
        local = clock.local(at)
        subject = f"[{campaign.campaign.name}] Báo cáo công tác chuẩn bị - {unit} - phiên bản {record.version}"
        body = (f"Kính gửi: {', '.join(to)}\n\n"
                f"Gửi kèm báo cáo công tác chuẩn bị triển khai chiến dịch tiêm chủng vắc xin phòng COVID-19 "
                f"(cấp {level_label(level)}, đơn vị {unit}), phiên bản {record.version}, "
                f"đã được {record.approved_by} duyệt lúc {clock.local(record.approved_at):%H:%M ngày %d/%m/%Y}.\n"
                f"Gửi lúc {local:%H:%M ngày %d/%m/%Y}.\n")
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


def history(session: Session, level: str | None = None, unit: str | None = None) -> list[dict[str, Any]]:
    stmt = select(ReportRecord).order_by(ReportRecord.level, ReportRecord.unit, ReportRecord.version)
    if level:
        stmt = stmt.where(ReportRecord.level == level)
    if unit:
        stmt = stmt.where(ReportRecord.unit == unit)
    return [{"report_id": r.id, "level": r.level, "unit": r.unit, "version": r.version,
             "as_of": r.as_of.isoformat(), "approved_by": r.approved_by,
             "approved_at": r.approved_at.isoformat() if r.approved_at else None,
             "submitted_at": r.submitted_at.isoformat() if r.submitted_at else None,
             "recipients": r.recipients, "files": {k: v["path"] for k, v in r.files.items()}}
            for r in session.execute(stmt).scalars()]
