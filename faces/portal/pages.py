"""What each portal page shows, read from the application database (no web framework here: plain
functions of a session, tested without a browser). Every function that takes a district is given one the
caller is allowed to see; every look-up by id checks it again (`SignedIn.may_see`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaign import clock
from campaign.config import CampaignConfig
from campaign.config_kinds import load_input_kinds
from campaign.config_reasons import load_reasons
from campaign.deadlines.present import STEP_TITLES
from campaign.deadlines.run import board as deadline_board
from campaign.intake.feedback import describe_issue
from campaign.jobs import CONNECTION_LOST, submission_ready
from campaign.readiness.present import district_names
from campaign.reports.access import district_facilities
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
from campaign.vocabulary import (
    deliverable_state_label,
    kind_label,
    level_codes,
    level_label,
    party_label,
    report_state_label,
    status_label,
)

# the deliverable states in the order the board counts them (their words: campaign.vocabulary)
STATE_ORDER = ("done_on_time", "done_late", "due", "overdue")
STATUS_LABEL = {"accepted": "Đã nhận", "rejected": "Bị từ chối", "withdrawn": "Đã rút", "duplicate": "Trùng tệp đã gửi"}
CHANNEL_LABEL = {"email": "Thư điện tử", "webhook": "Hệ thống nhận tin (webhook)", "cli": "Dòng lệnh",
                 "portal": "Cổng dữ liệu", "inbox": "Thư mục nhận tệp", "demo": "Dữ liệu mẫu"}
DELIVERY_LABEL = {"sent": "Đã gửi", "sending": "Đang gửi", "pending": "Đang chờ gửi", "failed": "Gửi lỗi"}
SEVERITY_LABEL = {"blocking": "Từ chối cả tệp", "row": "Dòng bị loại", "warning": "Cảnh báo", "repair": "Đã sửa"}
_RANK = {"blocking": 0, "row": 1, "warning": 2, "repair": 3}   # which issue colours a row
FIRST_ROWS = 50   # rows with problems shown on the page; the annotated file has them all
# Flow runs that ended badly, on the coordinators' board (read from Prefect by faces/portal/runs.py):
# each flow (by its Prefect name) in words, the end state, why the list could not be read
FLOW_LABEL = {"intake": "Tiếp nhận, kiểm tra tệp của huyện",
              "master-list": "Lập danh sách đối tượng hợp nhất (master list)",
              "plan-sessions": "Lập kế hoạch buổi tiêm", "readiness": "Đánh giá mức sẵn sàng",
              "compile-report": "Lập báo cáo, kế hoạch", "submit-report": "Gửi báo cáo",
              "deadline_watch": "Theo dõi hạn nộp, gửi nhắc việc",
              "alert_coordinators": "Gửi cảnh báo cho điều phối viên", "demo": "Chạy dữ liệu mẫu"}
RUN_STATE_LABEL = {"CRASHED": "Dừng đột ngột", "FAILED": "Lỗi"}
RUNS_UNREADABLE = "Không đọc được các lượt chạy từ Prefect: {reason}."
RUNS_REASON = {"not_configured": "chưa cấu hình địa chỉ máy chủ Prefect (PREFECT_API_URL)",
               "timeout": "máy chủ Prefect ({server}) không trả lời trong {seconds:g} giây",
               "unreachable": "không kết nối được tới máy chủ Prefect ({server})",
               "refused": "máy chủ Prefect ({server}) trả lời mã lỗi {status}",
               "other": "lỗi {error} khi đọc từ máy chủ Prefect ({server})"}
JOB_ACTION_LABEL = {"intake": "Kiểm tra tệp tải lên", "report": "Lập báo cáo, kế hoạch"}
JOB_TROUBLE_LABEL = {"failed": "Không xử lý được", "retried": "Xử lý lại sau khi tiến trình bị dừng ({attempts} lần chạy)"}
RUN_DAYS = 7          # how far back the board looks for runs (and portal jobs) that ended badly
RUN_LIMIT = 20        # at most this many of each, newest first
RUN_MESSAGE_MAX = 300   # characters of a state message shown (Prefect's UI has the whole of it)


def show_time(moment: dt.datetime | None) -> str:
    return clock.show_time(moment) if moment else ""


def uploadable_kinds() -> list[dict[str, str]]:
    return [{"name": name, "label": kind_label(name)} for name in load_input_kinds().names]


def _deliverables(board: dict[str, Any], party: str | None) -> list[dict[str, Any]]:
    """The deadline watch's deliverables (of one party, or all), with what a page shows of them."""
    out = []
    for item in board["deliverables"]:
        if party is not None and item["party"] != party:
            continue
        due = dt.datetime.fromisoformat(item["due_at"])
        done = dt.datetime.fromisoformat(item["completed_at"]) if item["completed_at"] else None
        out.append({**item, "name": item.get("name") or item["deadline"],
                    "state_label": deliverable_state_label(item["state"]), "due_text": show_time(due),
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
    from campaign.reports.store import state_of

    state = state_of(r)   # the same state `campaign status` counts
    # a facility's plan is approved and sent by its district's health centre, a district's report by the DoH
    shown = ("awaiting_health_centre" if r.level == "facility" else "awaiting_doh") if state == "awaiting" else state
    return {"id": r.id, "level": r.level, "unit": r.unit, "version": r.version, "built": show_time(r.as_of),
            "state": state, "state_label": report_state_label(shown),
            "approved_by": r.approved_by, "approved": show_time(r.approved_at), "sent": show_time(r.submitted_at),
            "formats": sorted(r.files), "flow_run_id": r.flow_run_id}


def job_error(job: PortalJob, technical: bool) -> str | None:
    """What went wrong with a job, for the person looking: the technical error for a coordinator, a plain
    Vietnamese sentence for a district (it can only send again or call the DoH)."""
    if job.status != "failed":
        return None
    if technical:
        return job.error
    if (job.error or "").startswith(f"{CONNECTION_LOST}: "):   # the database was out of reach: say so
        return job.error.removeprefix(f"{CONNECTION_LOST}: ")
    doh = party_label("doh")
    return (f"hệ thống gặp lỗi khi xử lý (việc số {job.id}, đã được ghi lại để {doh} kiểm tra). "
            f"Xin gửi lại sau ít phút; nếu vẫn lỗi, báo điều phối viên của {doh}")


def job_row(job: PortalJob, technical: bool = False) -> dict[str, Any]:
    return {"id": job.id, "action": job.action, "status": job.status, "kind_label": kind_label(job.kind),
            "facility": job.facility_code,
            "filename": job.original_filename, "created": show_time(job.received_at or job.created_at),
            "error": job_error(job, technical),
            "submission_id": job.submission_id, "flow_run_id": job.flow_run_id}


def runs_unreadable(reason: str, **values: Any) -> str:
    """Why the board could not list the runs that ended badly, in one sentence."""
    return RUNS_UNREADABLE.format(reason=RUNS_REASON[reason].format(**values))


def _run_ended(run: Any) -> dt.datetime | None:
    state = getattr(run, "state", None)
    return (run.end_time or (state.timestamp if state is not None else None) or run.start_time
            or run.expected_start_time)


def _state_type(run: Any) -> str:
    state = getattr(run, "state", None)
    found = run.state_type or (state.type if state is not None else None)
    return str(getattr(found, "value", found) or "")


def flow_run_rows(runs: list[Any], flow_names: dict[Any, str]) -> list[dict[str, Any]]:
    """Prefect flow runs that ended Crashed or Failed, as the board shows them, newest end first: the
    flow in words (its Prefect name where there are none), when it ended, the state in words, the state's
    message (one line, cut at RUN_MESSAGE_MAX), the run's id for its link. A pure function of the runs'
    fields (Prefect's FlowRun, or anything with the same attributes) and `flow_names` (flow id -> name)."""
    rows = []
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    for run in sorted(runs, key=lambda r: _run_ended(r) or epoch, reverse=True):
        flow = flow_names.get(run.flow_id) or ""
        state_type = _state_type(run)
        state = getattr(run, "state", None)
        message = " ".join(((state.message if state is not None else None) or "").split())
        if len(message) > RUN_MESSAGE_MAX:
            message = message[:RUN_MESSAGE_MAX - 1].rstrip() + "…"
        rows.append({"flow_run_id": str(run.id), "run_name": run.name, "flow": flow,
                     "flow_label": FLOW_LABEL.get(flow, flow), "state": state_type,
                     "state_label": RUN_STATE_LABEL.get(state_type, run.state_name or state_type),
                     "at": show_time(_run_ended(run)), "message": message})
    return rows


def troubled_jobs(session: Session, since: dt.datetime) -> dict[str, Any]:
    """The portal's jobs created since `since` (the real clock) that were taken back after their worker
    died (attempts > 1) or that failed (given up after being taken back, or the flow failed): how many
    of each, and the newest RUN_LIMIT of them."""
    from campaign.jobs import troubled

    found_jobs = troubled(session, since, newest=RUN_LIMIT)
    total, retried, failed, found = found_jobs.total, found_jobs.retried, found_jobs.failed, found_jobs.jobs
    names = district_names(sorted({j.district_code for j in found if j.district_code}))
    return {"total": total, "retried": retried, "failed": failed,
            "jobs": [{"id": j.id, "action_label": JOB_ACTION_LABEL.get(j.action, j.action),
                      "district_name": names.get(j.district_code or "", j.district_code or ""),
                      "created": show_time(j.created_at), "attempts": j.attempts, "failed": j.status == "failed",
                      "trouble_label": JOB_TROUBLE_LABEL["failed" if j.status == "failed" else "retried"].format(
                          attempts=j.attempts),
                      "flow_run_id": j.flow_run_id} for j in found]}


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
    from campaign.intake.columns import IGNORE_LABEL, field_choices, field_header
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
    from campaign.intake.columns import list_mappings

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
            "readiness_label": status_label(rec.status if rec else "unknown"),
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
                    "party_name": names.get(e["party"], party_label("doh") if e["party"] == "doh" else e["party"])}
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
            "province_reports": [report_row(r) for r in province_reports], "runs": runs, "now": show_time(now),
            # the districts table's words that are not a row's own (its columns, a district without a report)
            "words": {"overdue": deliverable_state_label("overdue"), "due": deliverable_state_label("due"),
                      "no_report": report_state_label("none", capitalized=False)}}


def _per_deadline(deliverables: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    """One line per deadline: how many parties are in each state, and who is not done with what."""
    out: dict[str, dict[str, Any]] = {}
    for d in sorted(deliverables, key=lambda x: (x["due_at"], x["deadline"], x["party"])):
        entry = out.setdefault(d["deadline"], {"deadline": d["deadline"], "name": d["name"], "due_text": d["due_text"],
                                               "source": d.get("source"), "source_text": d.get("source_text"),
                                               "states": {}, "behind": []})
        entry["states"][d["state"]] = entry["states"].get(d["state"], 0) + 1
        if d["state"] in ("due", "overdue"):
            party = names.get(d["party"], party_label("doh") if d["party"] == "doh" else d["party"])
            entry["behind"].append({"party": d["party"], "name": party, "state": d["state"],
                                    "state_label": d["state_label"], "missing": d["missing_labels"]})
    for entry in out.values():
        entry["states"] = [{"state": k, "label": deliverable_state_label(k), "count": v}
                           for k, v in sorted(entry["states"].items(), key=lambda kv: STATE_ORDER.index(kv[0])
                                              if kv[0] in STATE_ORDER else 9)]
        entry["behind"].sort(key=lambda b: (b["state"] != "overdue", b["party"]))
    return list(out.values())


def users_page(session: Session) -> list[dict[str, Any]]:
    from campaign.accounts import list_users

    accounts = list_users(session)
    names = district_names([u.district_code for u in accounts if u.district_code])
    return [{"id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role,
             "role_label": ROLE_LABEL.get(u.role, u.role),
             "district": u.district_code, "district_name": names.get(u.district_code or "", ""),
             "active": u.is_active, "created": show_time(u.created_at),
             "locked": bool(u.locked_until and u.locked_until > dt.datetime.now(dt.UTC))}
            for u in accounts]


# ---------------------------------------------------------------------------------------------------------
# The audit log (coordinators only): every label shown for an event is here
# ---------------------------------------------------------------------------------------------------------

DISTRICT_WORD = level_label("district", form="short", capitalized=True)   # "Huyện"
FACILITY_WORD = level_label("facility", form="short", capitalized=True)   # "Cơ sở"
ROLE_LABEL = {"coordinator": f"Điều phối ({party_label('doh')})", "district": DISTRICT_WORD, "cli": "Dòng lệnh",
              "system": "Hệ thống"}
AUDIT_ACTION_LABEL = {
    "sign_in": "Đăng nhập", "sign_in_failed": "Đăng nhập không thành công", "sign_out": "Đăng xuất",
    "upload": "Tải tệp lên", "read_again": "Sửa cách đọc cột, đọc lại tệp", "withdraw": "Rút tệp",
    "download_feedback": "Tải tệp phản hồi", "download_report": "Tải báo cáo", "export": "Xuất dữ liệu",
    "report_build": "Yêu cầu lập báo cáo, kế hoạch", "report_submit": "Gửi báo cáo", "approval": "Duyệt báo cáo",
    "mappings_reset": "Xóa cách đọc cột đã lưu", "account_created": "Tạo tài khoản",
    "account_changed": "Mở lại tài khoản", "account_disabled": "Khóa tài khoản", "password_reset": "Đặt lại mật khẩu",
    "access_denied": "Từ chối truy cập", "audit_purge": "Xóa nhật ký quá hạn lưu",
    "data_purge": "Xóa dữ liệu đã gửi (hết hạn lưu hoặc theo yêu cầu)"}
AUDIT_OUTCOME_LABEL = {
    "ok": "Thành công", "pending": "Đang kiểm tra mật khẩu", "wrong_password": "Sai mật khẩu",
    "unknown_account": "Không có tài khoản này", "disabled": "Tài khoản đã bị khóa", "locked": "Đang tạm khóa",
    "throttled": "Máy bị tạm chặn (sai quá nhiều lần)", "refused": "Bị từ chối", "failed": "Lỗi"}
AUDIT_TARGET_LABEL = {"submission": "Lần gửi", "job": "Việc", "report": "Báo cáo", "user": "Tài khoản",
                      "district": DISTRICT_WORD, "facility": FACILITY_WORD, "file": "Tệp"}
AUDIT_DETAIL_LABEL = {
    "reason": "Lý do", "scope": "Phạm vi khóa", "kind": "Loại dữ liệu", "district": DISTRICT_WORD, "facility": FACILITY_WORD,
    "status": "Mã trả lời", "bytes": "Kích thước (byte)", "file": "Tệp", "format": "Định dạng", "level": "Cấp",
    "unit": "Đơn vị", "error": "Lỗi", "sessions_ended": "Số phiên đã kết thúc", "change": "Thay đổi",
    "was_active": "Trước đó đang dùng", "role": "Vai trò", "job": "Việc", "columns": "Số cột sửa",
    "one_heading": "Chỉ một tiêu đề", "removed": "Số cách đọc đã xóa", "deleted": "Số sự kiện đã xóa",
    "retention_days": "Số ngày lưu", "cutoff": "Trước mốc", "before": "Nhận trước", "submissions": "Số lần gửi",
    "rows": "Số dòng", "files": "Số tệp"}
AUDIT_VALUE_LABEL = {
    "reason": {"other_district": "hỏi dữ liệu của huyện khác", "other_facility": "cơ sở không thuộc huyện",
               "coordinators_page": f"trang chỉ dành cho {party_label('doh')}", "csrf": "mã bảo vệ biểu mẫu (CSRF) sai",
               "csrf_login": "biểu mẫu đăng nhập cũ hoặc giả", "origin": "yêu cầu gửi từ trang khác"},
    "scope": {"client": "máy này, mọi tài khoản", "account_client": "tài khoản này trên máy này",
              "account": "tài khoản này, mọi máy"},
    "file": {"annotated": "tệp kèm kết quả kiểm tra", "problems": "bảng các dòng bị loại"},
    "level": {code: level_label(code, form="short") for code in level_codes()},
    "change": {"enabled": "mở lại"}}
AUDIT_PAGE_SIZE = 50


@dataclass(frozen=True)
class AuditQuery:
    """The audit page's filters as asked in its URL, each checked (a value that is not valid is dropped and
    said so): `nguoi` account name, `huyen` district code, `hanh_dong` action, `tu`/`den` days, `trang`."""

    username: str | None = None
    district: str | None = None
    action: str | None = None
    day_from: dt.date | None = None
    day_to: dt.date | None = None
    page: int = 1
    invalid: tuple[str, ...] = ()


def _day(text: str) -> dt.date | None:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def audit_query(params: dict[str, str]) -> AuditQuery:
    """The filters of the page's URL (a pure function: the page shows what it made of them)."""
    from campaign.store.models import AUDIT_ACTIONS

    invalid: list[str] = []
    username = (params.get("nguoi") or "").strip().lower()[:64] or None
    district = (params.get("huyen") or "").strip() or None
    if district is not None and not (len(district) == 3 and district.isdigit()):
        invalid.append(level_label("district"))
        district = None
    action = (params.get("hanh_dong") or "").strip() or None
    if action is not None and action not in AUDIT_ACTIONS:
        invalid.append("việc làm")
        action = None
    days = []
    for key, label in (("tu", "từ ngày"), ("den", "đến ngày")):
        raw = (params.get(key) or "").strip()
        day = _day(raw) if raw else None
        if raw and day is None:
            invalid.append(label)
        days.append(day)
    page_text = (params.get("trang") or "1").strip()
    page = int(page_text) if page_text.isdigit() and 0 < len(page_text) <= 6 else 1
    return AuditQuery(username, district, action, days[0], days[1], max(page, 1), tuple(invalid))


def _local_midnight_utc(day: dt.date) -> dt.datetime:
    return clock.to_utc(dt.datetime(day.year, day.month, day.day, tzinfo=clock.TZ))


def _detail_text(key: str, value: Any) -> str:
    if isinstance(value, bool):
        shown = "có" if value else "không"
    elif key == "kind" and isinstance(value, str):
        shown = kind_label(value)
    else:
        shown = AUDIT_VALUE_LABEL.get(key, {}).get(str(value), str(value))
    return f"{AUDIT_DETAIL_LABEL.get(key, key)}: {shown}"


def audit_row(event: Any, names: dict[str, str]) -> dict[str, Any]:
    target = None
    if event.target_type:
        target = " ".join(str(p) for p in (AUDIT_TARGET_LABEL.get(event.target_type, event.target_type),
                                           event.target_id, event.target_label) if p is not None)
    link = ({"submission": f"/nop/{event.target_id}", "job": f"/viec/{event.target_id}"}.get(event.target_type or "")
            if event.target_id is not None and event.action != "access_denied" else None)
    return {"id": event.id, "at": show_time(event.at), "action": event.action,
            "action_label": AUDIT_ACTION_LABEL.get(event.action, event.action), "outcome": event.outcome,
            "outcome_label": AUDIT_OUTCOME_LABEL.get(event.outcome, event.outcome), "username": event.username,
            "role_label": ROLE_LABEL.get(event.role or "", event.role or ""), "district": event.district_code,
            "district_name": names.get(event.district_code or "", ""), "client": event.client,
            "user_agent": event.user_agent, "target": target, "link": link,
            "details": [_detail_text(k, v) for k, v in sorted((event.details or {}).items())]}


def audit_page(session: Session, campaign: CampaignConfig, query: AuditQuery) -> dict[str, Any]:
    """One page of the audit log, newest first, with the filters and the choices the form offers."""
    from urllib.parse import urlencode

    from campaign import audit

    names = district_names(list(campaign.district_codes))
    district = query.district if query.district in names else None
    invalid = list(query.invalid) + ([level_label("district")] if query.district and district is None else [])
    filters = audit.Filters(username=query.username, district_code=district, action=query.action,
                            since=_local_midnight_utc(query.day_from) if query.day_from else None,
                            until=_local_midnight_utc(query.day_to + dt.timedelta(days=1)) if query.day_to else None)
    events, total = audit.events(session, filters, page=query.page, page_size=AUDIT_PAGE_SIZE)
    pages = max(1, -(-total // AUDIT_PAGE_SIZE))
    kept = {k: v for k, v in (("nguoi", query.username), ("huyen", district), ("hanh_dong", query.action),
                              ("tu", query.day_from.isoformat() if query.day_from else None),
                              ("den", query.day_to.isoformat() if query.day_to else None)) if v}

    def page_url(n: int) -> str:
        return "/tinh/nhat-ky?" + urlencode({**kept, "trang": n})

    return {"events": [audit_row(e, names) for e in events], "total": total, "page": min(query.page, pages),
            "pages": pages, "previous_url": page_url(query.page - 1) if query.page > 1 else None,
            "next_url": page_url(query.page + 1) if query.page < pages else None, "filters": kept,
            "invalid": invalid, "districts": names, "actions": AUDIT_ACTION_LABEL,
            "usernames": list(session.scalars(select(PortalUser.username).order_by(PortalUser.username)))}
