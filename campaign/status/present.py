"""`campaign status` shown to people: the summary as JSON (`to_json`, docs/contracts.md) and the screen
(`render_text`). The figures are the ones the readers counted (`campaign.status.run`); only the words are
here (states, kinds, levels from `campaign.vocabulary`; the screen's own headings below)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from campaign import clock
from campaign.config import CampaignConfig
from campaign.deadlines import present as deadline_words
from campaign.vocabulary import kind_label, level_label, report_state_label, status_label

# the screen's headings and sentences (the coordinator reads them; Vietnamese like the board)
WORDS = {
    "title": "Tình hình toàn tỉnh lúc {at}",
    "overdue": "Quá hạn ({n})",
    "soon": "Đến hạn trong 24 giờ tới ({n})",
    "none": "không có",
    "missing": "còn thiếu",
    "readiness": "Sẵn sàng: {fr}/{ft} cơ sở, {dr}/{dt} huyện; huyện chưa sẵn sàng ({n})",
    "no_gap": "chưa có dữ liệu",
    "uploads": "Tệp nộp hôm nay {day}: {accepted} được nhận, {rejected} bị từ chối, {withdrawn} đã rút",
    "rejected": "bị từ chối",
    "review": "Cặp hồ sơ chờ người xem xét (trùng hay khác người): {n}",
    "reports": "Báo cáo chờ duyệt ({n}); đã duyệt, chưa gửi ({m})",
    "runs": "Lượt chạy lỗi hoặc đổ vỡ trong {hours} giờ qua ({n})",
    "runs_unknown": "Lượt chạy lỗi hoặc đổ vỡ trong {hours} giờ qua: không rõ ({why})",
    "runs_no_api": "không kết nối được máy chủ Prefect (chưa đặt PREFECT_API_URL)",
    "messages": "Tin nhắn chưa gửi được: {pending} chờ gửi lại, {sending} đang gửi, {failed} đã bỏ cuộc",
    "many": "    {deadline:<24} hạn {due:%d/%m %H:%M}: {n} đơn vị chưa xong; theo huyện: {by}",
    "more": "    … và {n} dòng khác (--json cho đủ)",
}
SHOWN = 8   # lines listed under a heading on the screen (the JSON lists all)
RUN_HOURS = 24   # how far back the flow runs are read (the real clock): "in the last 24 h" (issue 22)


def _party(party: str, campaign: CampaignConfig, facilities: Mapping[str, tuple[str, str]]) -> str:
    return deadline_words.party_name(party, campaign, facilities)


def _deliverable(d: Mapping[str, Any], campaign: CampaignConfig, facilities: Mapping[str, tuple[str, str]]
                 ) -> dict[str, Any]:
    return {"deadline": d["deadline"], "name": d["name"], "party": d["party"],
            "party_name": _party(d["party"], campaign, facilities), "state": d["state"], "due_at": d["due_at"],
            "missing": list(d["missing"]), **({"district": d["district"]} if d.get("district") else {})}


def to_json(*, now: dt.datetime, campaign: CampaignConfig, facilities: Mapping[str, tuple[str, str]],
            overdue: Sequence[Mapping[str, Any]], soon: Sequence[Mapping[str, Any]], readiness: Mapping[str, Any],
            not_ready: Sequence[Mapping[str, Any]], uploads: Sequence[Mapping[str, Any]], day: dt.date, pairs: int,
            reports: Sequence[Mapping[str, Any]], messages: Sequence[Mapping[str, Any]],
            flow_runs: Mapping[str, Any] | None) -> dict[str, Any]:
    """The summary: `now`, `deadlines` {overdue, due_24h}, `readiness` {province, not_ready}, `uploads_today`
    {day, accepted, rejected, withdrawn, rejected_files}, `review` {pairs}, `reports` {awaiting_approval,
    approved_not_sent}, `flow_runs` {known, hours, failed_or_crashed, error}, `messages` {counts, waiting}."""
    from campaign.status.rules import messages_to_watch

    province = readiness["province"]
    by_status = {s: sum(1 for u in uploads if u["status"] == s) for s in ("accepted", "rejected", "withdrawn")}
    runs: dict[str, Any] = {"known": flow_runs is not None and not flow_runs.get("error"), "hours": RUN_HOURS,
                            "failed_or_crashed": list((flow_runs or {}).get("rows", [])),
                            "error": WORDS["runs_no_api"] if flow_runs is None else flow_runs.get("error")}
    return {
        "now": now.isoformat(),
        "deadlines": {"overdue": [_deliverable(d, campaign, facilities) for d in overdue],
                      "due_24h": [_deliverable(d, campaign, facilities) for d in soon]},
        "readiness": {"as_of": readiness["as_of"],
                      "province": {k: province[k] for k in ("status", "facilities_total", "facilities_ready",
                                                            "districts_total", "districts_ready") if k in province},
                      "not_ready": [dict(d) for d in not_ready]},
        "uploads_today": {"day": day.isoformat(), **by_status,
                          "rejected_files": [dict(u) for u in uploads if u["status"] == "rejected"]},
        "review": {"pairs": pairs},
        "reports": {"awaiting_approval": [dict(r) for r in reports if r["state"] == "awaiting"],
                    "approved_not_sent": [dict(r) for r in reports if r["state"] == "approved"]},
        "flow_runs": runs,
        "messages": {"counts": deadline_words.delivery_counts(messages), "waiting": messages_to_watch(messages)},
    }


def _behind(d: Mapping[str, Any]) -> str:
    missing = f" · {WORDS['missing']}: {', '.join(kind_label(k) for k in d['missing'])}" if d["missing"] else ""
    due = clock.local(dt.datetime.fromisoformat(d["due_at"]))
    return f"    {d['deadline']:<24} {d['party_name']:<40} hạn {due:%d/%m %H:%M}{missing}"


def _deadline_lines(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Per deadline: each party behind when there are few, else how many per district (facilities owe
    some deadlines: hundreds of lines would not make one screen)."""
    lines: list[str] = []
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["deadline"], []).append(r)
    for deadline, mine in groups.items():
        if len(mine) <= SHOWN:
            lines.extend(_behind(r) for r in mine)
            continue
        per: dict[str, int] = {}
        for r in mine:
            key = r.get("district") or r["party"]
            per[key] = per.get(key, 0) + 1
        due = clock.local(dt.datetime.fromisoformat(mine[0]["due_at"]))
        lines.append(WORDS["many"].format(deadline=deadline, due=due, n=len(mine),
                                          by=", ".join(f"{k} ×{n}" for k, n in sorted(per.items()))))
    return lines


def _capped(lines: list[str]) -> list[str]:
    return lines if len(lines) <= SHOWN else [*lines[:SHOWN], WORDS["more"].format(n=len(lines) - SHOWN)]


def render_text(summary: Mapping[str, Any], *, run_link: Any = None) -> str:
    """The screen (stderr). `run_link(flow_run_id)`: the flow run's page in the Prefect UI, or None."""
    lines = [WORDS["title"].format(at=f"{clock.local(dt.datetime.fromisoformat(summary['now'])):%H:%M %d/%m/%Y}")]
    d = summary["deadlines"]
    for key, rows in (("overdue", d["overdue"]), ("soon", d["due_24h"])):
        lines.append(WORDS[key].format(n=len(rows)) + ("" if rows else f": {WORDS['none']}"))
        lines.extend(_deadline_lines(rows))
    r = summary["readiness"]
    p = r["province"]
    lines.append(WORDS["readiness"].format(fr=p["facilities_ready"], ft=p["facilities_total"],
                                           dr=p.get("districts_ready", 0), dt=p.get("districts_total", 0),
                                           n=len(r["not_ready"])))
    for n in r["not_ready"]:
        g = n["first_gap"]
        gap = (f"{g['facility'] or '(huyện)'} {g['item']} x{g['missing']}: {g['detail']}" if g else WORDS["no_gap"])
        lines.append(f"    {n['district']} {n.get('name') or '':<14} {status_label(n['status'])} "
                     f"({n['facilities_ready']}/{n['facilities_total']}) · {gap}")
    u = summary["uploads_today"]
    lines.append(WORDS["uploads"].format(day=u["day"], accepted=u["accepted"], rejected=u["rejected"],
                                         withdrawn=u["withdrawn"]))
    lines.extend(_capped([f"    #{f['submission_id']} {f['district']} {kind_label(f['kind'])}: {WORDS['rejected']}"
                          for f in u["rejected_files"]]))
    lines.append(WORDS["review"].format(n=summary["review"]["pairs"]))
    rep = summary["reports"]
    lines.append(WORDS["reports"].format(n=len(rep["awaiting_approval"]), m=len(rep["approved_not_sent"])))
    lines.extend(_capped([f"    {level_label(x['level'], capitalized=True)} {x['unit']} v{x['version']}: "
                          f"{report_state_label(x['state'])}"
                          for x in rep["awaiting_approval"] + rep["approved_not_sent"]]))
    runs = summary["flow_runs"]
    if runs["known"]:
        lines.append(WORDS["runs"].format(hours=runs["hours"], n=len(runs["failed_or_crashed"])))
        for x in runs["failed_or_crashed"]:
            link = run_link(x["flow_run_id"]) if run_link else None
            lines.append(f"    {x['at']} {x['run_name']} ({x['flow']}): {x['state_label']}"
                         + (f" · {link}" if link else f" · {x['flow_run_id']}")
                         + (f" · {x['message']}" if x.get("message") else ""))
    else:
        lines.append(WORDS["runs_unknown"].format(hours=runs["hours"], why=runs["error"]))
    c = summary["messages"]["counts"]
    lines.append(WORDS["messages"].format(pending=c["pending"], sending=c["sending"], failed=c["failed"]))
    lines.extend(_capped([f"    {m['deadline']} {m['party']} {m['step']} ({m['channel']}): {m['status']}"
                          for m in summary["messages"]["waiting"]]))
    return "\n".join(lines)
