"""What each portal page shows, read from the application database (no web framework here: plain
functions of a session, tested without a browser). Every function that takes a district is given one the
caller is allowed to see; every look-up by id checks it again (`SignedIn.may_see`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaign import clock
from campaign.config import CampaignConfig, load_input_kinds, load_reasons
from campaign.deadlines import STEP_TITLES
from campaign.feedback import describe_issue
from campaign.jobs import submission_ready
from campaign.readiness import district_names
from campaign.store.models import (
    MasterListRun,
    PlanRun,
    PortalJob,
    PortalUser,
    ReadinessRecord,
    ReportRecord,
    RowIssue,
    Submission,
)
from campaign.watch import board as deadline_board

STATE_LABEL = {"done_on_time": "Đã xong đúng hạn", "done_late": "Đã xong, trễ hạn", "due": "Chưa đến hạn",
               "overdue": "Quá hạn"}
STATUS_LABEL = {"accepted": "Đã nhận", "rejected": "Bị từ chối", "withdrawn": "Đã rút", "duplicate": "Trùng tệp đã gửi"}
READINESS_LABEL = {"ready": "Sẵn sàng", "ready_with_warnings": "Sẵn sàng (có lưu ý)", "not_ready": "Chưa sẵn sàng",
                   "unknown": "Chưa đủ dữ liệu"}
CHANNEL_LABEL = {"email": "Thư điện tử", "webhook": "Hệ thống nhận tin (webhook)", "cli": "Dòng lệnh",
                 "portal": "Cổng dữ liệu", "inbox": "Thư mục nhận tệp", "demo": "Dữ liệu mẫu"}
DELIVERY_LABEL = {"sent": "Đã gửi", "pending": "Đang chờ gửi", "failed": "Gửi lỗi"}
SEVERITY_LABEL = {"blocking": "Từ chối cả tệp", "row": "Dòng bị loại", "warning": "Cảnh báo", "repair": "Đã sửa"}
_RANK = {"blocking": 0, "row": 1, "warning": 2, "repair": 3}   # which issue colours a row
FIRST_ROWS = 50   # rows with problems shown on the page; the annotated file has them all


def show_time(moment: dt.datetime | None) -> str:
    return clock.show_time(moment) if moment else ""


def kind_label(kind: str | None) -> str:
    kinds = load_input_kinds()
    return kinds.kinds[kind].label if kind in kinds.kinds else (kind or "")


def uploadable_kinds() -> list[dict[str, str]]:
    kinds = load_input_kinds()
    return [{"name": name, "label": kinds.kinds[name].label} for name in kinds.names]


def _deliverables(board: dict[str, Any], party: str | None) -> list[dict[str, Any]]:
    """The deadline watch's deliverables (of one party, or all), with what a page shows of them."""
    out = []
    for item in board["deliverables"]:
        if party is not None and item["party"] != party:
            continue
        due = dt.datetime.fromisoformat(item["due_at"])
        done = dt.datetime.fromisoformat(item["completed_at"]) if item["completed_at"] else None
        out.append({**item, "name": item.get("name") or item["deadline"],
                    "state_label": STATE_LABEL.get(item["state"], item["state"]), "due_text": show_time(due),
                    "done_text": show_time(done), "missing_labels": [kind_label(k) for k in item["missing"]]})
    return sorted(out, key=lambda d: (d["state"] in ("done_on_time", "done_late"), d["due_at"]))


def submission_row(sub: Submission) -> dict[str, Any]:
    return {"id": sub.id, "kind": sub.kind, "kind_label": kind_label(sub.kind), "facility": sub.facility_code,
            "version": sub.version, "status": sub.status, "status_label": STATUS_LABEL.get(sub.status, sub.status),
            "is_current": sub.is_current, "filename": sub.original_filename, "received": show_time(sub.received_at),
            "rows_total": sub.rows_total, "rows_loaded": sub.rows_loaded, "rows_quarantined": sub.rows_quarantined,
            "rows_with_warnings": sub.rows_with_warnings, "channel": sub.channel, "by": sub.submitted_by,
            "district": sub.district_code, "flow_run_id": sub.flow_run_id, "message": sub.message,
            "channel_label": CHANNEL_LABEL.get(sub.channel, sub.channel)}


def district_page(session: Session, campaign: CampaignConfig, district: str, now: dt.datetime,
                  technical: bool = False) -> dict[str, Any]:
    subs = session.scalars(select(Submission).where(Submission.district_code == district)
                           .order_by(Submission.id.desc()).limit(200)).all()
    jobs = session.scalars(select(PortalJob).where(PortalJob.district_code == district,
                                                   PortalJob.status.in_(("queued", "running", "failed")))
                           .order_by(PortalJob.id.desc()).limit(20)).all()
    reports = session.scalars(select(ReportRecord).where(ReportRecord.level == "district", ReportRecord.unit == district)
                              .order_by(ReportRecord.version.desc()).limit(10)).all()
    watched = deadline_board(session, campaign, now)
    return {"district": district, "district_name": district_names([district]).get(district, district),
            "deliverables": _deliverables(watched, district),
            "facility_plans": facility_plans(session, campaign, district, watched),
            "submissions": [submission_row(s) for s in subs],
            "jobs": [job_row(j, technical) for j in jobs if not (j.status == "running" and submission_ready(session, j))],
            "reports": [report_row(r) for r in reports],
            "kinds": uploadable_kinds()}


def district_facilities(session: Session, district: str) -> dict[str, str]:
    """facility code -> name, of the district's current accepted facility list (the facilities whose plans
    its health centre collects)."""
    from campaign.store.current import current_rows

    rows, _ = current_rows(session, "facilities", ["facility_code", "facility_name"], [district])
    return {str(r.facility_code): str(r.facility_name or "") for r in rows.itertuples(index=False) if r.facility_code}


def facility_plans(session: Session, campaign: CampaignConfig, district: str,
                   watched: dict[str, Any]) -> list[dict[str, Any]]:
    """Each facility of the district with its plan deliverable(s) (deadlines owed by `facilities`: directive
    section 3, "gửi Kế hoạch này cho Trung tâm Y tế") and its latest plan report (level `facility`)."""
    names = district_facilities(session, district)
    if not names:
        return []
    owed = {d.id for d in campaign.deadlines if d.party == "facilities"}
    items: dict[str, list[dict[str, Any]]] = {}
    for d in _deliverables(watched, None):
        if d["deadline"] in owed and d.get("district") == district:
            items.setdefault(d["party"], []).append(d)
    latest: dict[str, ReportRecord] = {}
    for r in session.scalars(select(ReportRecord).where(ReportRecord.level == "facility",
                                                        ReportRecord.unit.in_(list(names)))
                             .order_by(ReportRecord.unit, ReportRecord.version.desc())):
        latest.setdefault(r.unit, r)
    return [{"code": code, "name": names[code], "deliverables": items.get(code, []),
             "report": report_row(latest[code]) if code in latest else None} for code in sorted(names)]


def report_row(r: ReportRecord) -> dict[str, Any]:
    state = ("sent" if r.submitted_at else "approved" if r.approved_at else "awaiting")
    # a facility's plan is approved and sent by its district's health centre, a district's report by the DoH
    awaiting = "Chờ Trung tâm Y tế duyệt và gửi" if r.level == "facility" else "Chờ Sở Y tế duyệt"
    return {"id": r.id, "level": r.level, "unit": r.unit, "version": r.version, "built": show_time(r.as_of),
            "state": state, "state_label": {"sent": "Đã gửi", "approved": "Đã duyệt, chưa gửi",
                                            "awaiting": awaiting}[state],
            "approved_by": r.approved_by, "approved": show_time(r.approved_at), "sent": show_time(r.submitted_at),
            "formats": sorted(r.files), "flow_run_id": r.flow_run_id}


def job_error(job: PortalJob, technical: bool) -> str | None:
    """What went wrong with a job, for the person looking: the technical error for a coordinator, a plain
    Vietnamese sentence for a district (it can only send again or call the DoH)."""
    if job.status != "failed":
        return None
    if technical:
        return job.error
    return (f"hệ thống gặp lỗi khi xử lý (việc số {job.id}, đã được ghi lại để Sở Y tế kiểm tra). "
            "Xin gửi lại sau ít phút; nếu vẫn lỗi, báo điều phối viên của Sở Y tế")


def job_row(job: PortalJob, technical: bool = False) -> dict[str, Any]:
    return {"id": job.id, "action": job.action, "status": job.status, "kind_label": kind_label(job.kind),
            "facility": job.facility_code,
            "filename": job.original_filename, "created": show_time(job.received_at or job.created_at),
            "error": job_error(job, technical),
            "submission_id": job.submission_id, "flow_run_id": job.flow_run_id}


def feedback(session: Session, sub: Submission) -> dict[str, Any]:
    """Counts per reason and the first rows with problems, in the district's words."""
    reasons = load_reasons().reasons
    # rows per (reason, column), so each line names the column as the district's file heads it
    per_column = session.execute(
        select(RowIssue.code, RowIssue.column, func.count(func.distinct(RowIssue.row_number)))
        .where(RowIssue.submission_id == sub.id, RowIssue.row_number.is_not(None))
        .group_by(RowIssue.code, RowIssue.column)).all()

    def line(code: str, rows: int | None, text: str) -> dict[str, Any]:
        severity = reasons[code].severity if code in reasons else ""
        return {"code": code, "rows": rows, "severity": severity, "severity_label": SEVERITY_LABEL.get(severity, ""),
                "text": text}

    counts = [line(code, n, describe_issue(code, column, kind=sub.kind)) for code, column, n in per_column]
    shown = {c["code"] for c in counts}
    # reasons of the whole file (blocking: "cả tệp", in the refusal's own words) or without row detail
    for code, n in (sub.reasons or {}).items():
        if code in shown:
            continue
        whole_file = code in reasons and reasons[code].severity == "blocking"
        counts.append(line(code, None if whole_file else n,
                           sub.message if whole_file and sub.message else describe_issue(code, None, kind=sub.kind)))
    counts.sort(key=lambda c: (_RANK.get(c["severity"], 9), -(c["rows"] or 0)))
    first_rows = session.scalars(
        select(RowIssue.row_number).where(RowIssue.submission_id == sub.id, RowIssue.row_number.is_not(None))
        .group_by(RowIssue.row_number).order_by(RowIssue.row_number).limit(FIRST_ROWS)).all()
    rows: list[dict[str, Any]] = []
    if first_rows:
        issues = session.execute(
            select(RowIssue.sheet, RowIssue.row_number, RowIssue.column, RowIssue.code, RowIssue.severity)
            .where(RowIssue.submission_id == sub.id, RowIssue.row_number.in_(first_rows))
            .order_by(RowIssue.row_number, RowIssue.id)).all()
        by_row: dict[int, dict[str, Any]] = {}
        for sheet, row_number, column, code, severity in issues:
            entry = by_row.setdefault(row_number, {"row": row_number, "sheet": sheet, "worst": severity, "items": []})
            entry["items"].append({"severity": severity, "severity_label": SEVERITY_LABEL.get(severity, severity),
                                   "text": describe_issue(code, column, kind=sub.kind)})
            if _RANK.get(severity, 9) < _RANK.get(entry["worst"], 9):
                entry["worst"] = severity
        rows = [by_row[r] for r in sorted(by_row)]
    rows_with_issues = session.scalar(select(func.count(func.distinct(RowIssue.row_number)))
                                      .where(RowIssue.submission_id == sub.id)) or 0
    return {"submission": submission_row(sub), "counts": counts, "rows": rows, "rows_with_issues": rows_with_issues,
            "has_feedback_file": bool(sub.feedback_path and Path(sub.feedback_path).is_file()),
            "has_data_docs": bool(sub.data_docs_path and Path(sub.data_docs_path).is_file()),
            "withdrawn": {"at": show_time(sub.withdrawn_at), "by": sub.withdrawn_by, "reason": sub.withdrawn_reason}
            if sub.status == "withdrawn" else None,
            **column_readings(sub)}


def column_readings(sub: Submission) -> dict[str, Any]:
    """How the file's columns were read (`submissions.columns`), in the district's words: the heading as
    written, what it was read as (the field's Vietnamese header, or "Không dùng"), how (content guesses
    ask to be checked), its cells; columns holding data that were not used stand out. With the choices
    the correction form offers: the kind's fields by Vietnamese header, and "Không dùng cột này"."""
    from campaign.column_mappings import IGNORE_LABEL, field_choices, field_header
    from campaign.io.columns import CONTENT, IGNORED, ColumnReading, describe_how

    if not sub.columns:
        return {"columns": [], "columns_ignored_with_data": [], "column_choices": [], "ignore_label": IGNORE_LABEL}
    readings = [ColumnReading.from_json(c) for c in sub.columns]
    rows = [{"index": i, "heading": r.heading, "letter": r.letter, "field": r.field,
             "field_header": field_header(sub.kind, r.field), "how": r.how, "how_label": describe_how(r),
             "cells": r.cells, "guessed": r.how == CONTENT,
             "ignored_with_data": r.field is None and r.how == IGNORED and r.cells > 0}
            for i, r in enumerate(readings)]
    return {"columns": rows, "columns_ignored_with_data": [r for r in rows if r["ignored_with_data"]],
            "column_choices": field_choices(sub.kind), "ignore_label": IGNORE_LABEL}


def column_mappings_page(session: Session, campaign: CampaignConfig) -> dict[str, Any]:
    """The coordinators' view of the headings districts taught once, per district and kind."""
    from campaign.column_mappings import list_mappings

    names = district_names(list(campaign.district_codes))
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for m in list_mappings(session):
        group = groups.setdefault((m["district"], m["kind"]), {
            "district": m["district"], "district_name": names.get(m["district"], m["district"]),
            "kind": m["kind"], "kind_label": kind_label(m["kind"]), "mappings": []})
        group["mappings"].append({**m, "set": show_time(m["set_at"])})
    return {"groups": list(groups.values()), "names": names}


def province_board(session: Session, campaign: CampaignConfig, now: dt.datetime) -> dict[str, Any]:
    """The coordinators' page: per district its readiness, deliverables, latest submissions and report;
    escalations sent; reports awaiting approval."""
    districts = list(campaign.district_codes)
    names = district_names(districts)
    latest_ready = {}
    newest = (select(ReadinessRecord.district, func.max(ReadinessRecord.id).label("id"))
              .where(ReadinessRecord.level == "district").group_by(ReadinessRecord.district).subquery())
    for rec in session.scalars(select(ReadinessRecord).join(newest, ReadinessRecord.id == newest.c.id)):
        latest_ready[rec.district] = rec
    watched = deadline_board(session, campaign, now)   # computed once: deliverables and escalations
    deliverables = _deliverables(watched, None)
    by_party: dict[str, list[dict[str, Any]]] = {}
    for d in deliverables:
        by_party.setdefault(d["party"], []).append(d)
    subs = session.scalars(select(Submission).order_by(Submission.id.desc()).limit(40)).all()
    reports = session.scalars(select(ReportRecord).where(ReportRecord.level == "district")
                              .order_by(ReportRecord.unit, ReportRecord.version.desc())).all()
    latest_report: dict[str, ReportRecord] = {}
    for r in reports:
        latest_report.setdefault(r.unit, r)
    rows = []
    for code in districts:
        rec = latest_ready.get(code)
        items = by_party.get(code, [])
        rows.append({
            "code": code, "name": names.get(code, code),
            "readiness": rec.status if rec else "unknown",
            "readiness_label": READINESS_LABEL.get(rec.status if rec else "unknown", ""),
            "facilities": f"{rec.facilities_ready}/{rec.facilities_total}" if rec and rec.facilities_total else "",
            "readiness_at": show_time(rec.as_of) if rec else "",
            "readiness_run": rec.run_id if rec else None,   # the readiness flow run that assessed it
            "overdue": sum(1 for d in items if d["state"] == "overdue"),
            "due": sum(1 for d in items if d["state"] == "due"),
            "done": sum(1 for d in items if d["state"] in ("done_on_time", "done_late")),
            "report": report_row(latest_report[code]) if code in latest_report else None,
        })
    sent = watched["escalations_sent"]
    deadline_names = {d["deadline"]: d["name"] for d in deliverables}
    escalations = [{**e, "sent": show_time(dt.datetime.fromisoformat(e["sent_at"])),
                    "deadline_name": deadline_names.get(e["deadline"], e["deadline"]),
                    # the title the message went out with (a late reminder says "Quá hạn"), in one place
                    "step_label": e.get("title") or STEP_TITLES.get(e["step"], e["step"]),
                    "channel_label": CHANNEL_LABEL.get(e["channel"], e["channel"]),
                    "status_label": DELIVERY_LABEL.get(e["status"], e["status"]),
                    "party_name": names.get(e["party"], "Sở Y tế" if e["party"] == "doh" else e["party"])}
                   for e in reversed(sent[-50:])]
    plan = session.scalars(select(PlanRun).where(PlanRun.published_at.is_not(None))
                           .order_by(PlanRun.id.desc()).limit(1)).first()
    master = session.scalars(select(MasterListRun).order_by(MasterListRun.id.desc()).limit(1)).first()
    runs = []   # the province-wide runs behind the figures, to open in the Prefect UI
    if master is not None:
        runs.append({"label": "Danh sách đối tượng hợp nhất (master list)", "at": show_time(master.as_of),
                     "flow_run_id": master.flow_run_id})
    if plan is not None:
        runs.append({"label": "Kế hoạch buổi tiêm đã công bố", "at": show_time(plan.as_of),
                     "flow_run_id": plan.flow_run_id})
    province_reports = session.scalars(select(ReportRecord).where(ReportRecord.level == "province")
                                       .order_by(ReportRecord.version.desc()).limit(3)).all()
    return {"districts": rows, "deadlines": _per_deadline(deliverables, names), "names": names,
            "other_parties": watched.get("parties_without_deadline", []),
            "submissions": [submission_row(s) for s in subs], "escalations": escalations,
            # not sent yet: to approve, or approved and to send again (the mail failed)
            "awaiting": [report_row(r) for r in latest_report.values() if not r.submitted_at],
            "province_reports": [report_row(r) for r in province_reports], "runs": runs, "now": show_time(now)}


def _per_deadline(deliverables: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    """One line per deadline: how many parties are in each state, and who is not done with what."""
    out: dict[str, dict[str, Any]] = {}
    for d in sorted(deliverables, key=lambda x: (x["due_at"], x["deadline"], x["party"])):
        entry = out.setdefault(d["deadline"], {"deadline": d["deadline"], "name": d["name"], "due_text": d["due_text"],
                                               "source": d.get("source"), "source_text": d.get("source_text"),
                                               "states": {}, "behind": []})
        entry["states"][d["state"]] = entry["states"].get(d["state"], 0) + 1
        if d["state"] in ("due", "overdue"):
            party = names.get(d["party"], "Sở Y tế" if d["party"] == "doh" else d["party"])
            entry["behind"].append({"party": d["party"], "name": party, "state": d["state"],
                                    "state_label": d["state_label"], "missing": d["missing_labels"]})
    for entry in out.values():
        entry["states"] = [{"state": k, "label": STATE_LABEL.get(k, k), "count": v}
                           for k, v in sorted(entry["states"].items(), key=lambda kv: list(STATE_LABEL).index(kv[0])
                                              if kv[0] in STATE_LABEL else 9)]
        entry["behind"].sort(key=lambda b: (b["state"] != "overdue", b["party"]))
    return list(out.values())


def users_page(session: Session) -> list[dict[str, Any]]:
    names = district_names([u.district_code for u in session.scalars(select(PortalUser)) if u.district_code])
    return [{"id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role,
             "role_label": "Điều phối (Sở Y tế)" if u.role == "coordinator" else "Huyện",
             "district": u.district_code, "district_name": names.get(u.district_code or "", ""),
             "active": u.is_active, "created": show_time(u.created_at),
             "locked": bool(u.locked_until and u.locked_until > dt.datetime.now(dt.UTC))}
            for u in session.scalars(select(PortalUser).order_by(PortalUser.role, PortalUser.district_code,
                                                                 PortalUser.username))]
