"""What the deadline watch shows and says to people: the board as JSON, the titles and Vietnamese texts of
the escalation messages, the names of the parties, the portal pages a message sends its reader to. The
words of states, kinds, levels and parties come from `campaign.vocabulary` (config/vocabulary.yaml).

    compose(item, step, party_name=..., missing=..., feedback=..., now=...)   # (subject, body, payload)
    board_row(item, state, done_at, missing, upcoming, now)                   # one deliverable of the board
    board_json(campaign, now, rows, sent, real_now)                           # the whole board
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from campaign.clock import local
from campaign.config import CampaignConfig
from campaign.deadlines.rules import DOH, OVERDUE, Deliverable
from campaign.vocabulary import deliverable_state_label, party_label

PROVINCE_DECISION = "theo quyết định của tỉnh"


def local_text(instant: dt.datetime) -> str:
    return local(instant).strftime("%H:%M %d/%m/%Y")


STEP_TITLES = {"reminder": "Nhắc việc", "warning": "Cảnh báo sắp hết hạn",
               "overdue": deliverable_state_label(OVERDUE), "escalated": "Báo cáo cấp trên: quá hạn"}
# a serious AEFI: the DoH is told at once, when the case arrives (issue 20.4, config `aefi_ladder`)
STEP_TITLES["aefi_notified"] = "Thông báo ngay: tai biến nặng sau tiêm chủng, cần điều tra trong 24 giờ"
# a date the province set itself is not reported upward in the directive's name
PROVINCE_STEP_TITLES = {**STEP_TITLES,
                        "escalated": f"Báo cáo {party_label('doh')}: quá hạn (hạn do tỉnh quyết định)"}


def title_of(item: Deliverable, step: str, now: dt.datetime) -> str:
    """The title by the real state at `now`: a reminder or warning sent after the due time (a watch
    catching up) is titled as overdue, never "Nhắc việc"."""
    titles = PROVINCE_STEP_TITLES if item.source == "province" else STEP_TITLES
    if now >= item.due_at and step in ("reminder", "warning"):
        return STEP_TITLES["overdue"]
    return titles.get(step, step)


def compose(item: Deliverable, step: str, *, party_name: str, missing: list[str], feedback: Mapping[str, str],
            now: dt.datetime, fires_at: dt.datetime | None = None, portal_page: str | None = None,
            ) -> tuple[str, str, dict[str, Any]]:
    """(subject, body, payload) in Vietnamese: what is owed, by whom, on whose word (the directive's line
    or the province's own decision), what is missing, where to look (the portal's pages)."""
    title = title_of(item, step, now)
    subject = f"[{title}] {item.name} - {party_name} - hạn {local_text(item.due_at)}"
    if item.source == "province":
        subject += f" ({PROVINCE_DECISION})"
    lines = [f"{title}: {item.name}.", f"Đơn vị: {party_name}.", f"Hạn nộp: {local_text(item.due_at)}."]
    if item.source_text:
        lines.append(f"Căn cứ: {item.source_text}." if item.source == "directive"
                     else f"Thời hạn này {item.source_text}.")
    if item.original_due_at is not None:
        lines.append(f"(Đã gia hạn từ {local_text(item.original_due_at)}: {item.extension_reason})")
    if now >= item.due_at:
        hours = (now - item.due_at).total_seconds() / 3600
        lines.append(f"Đã quá hạn {hours:.0f} giờ.")
        if fires_at is not None and step in ("reminder", "warning") and fires_at < now:
            lines.append(f"(Bước {STEP_TITLES[step].lower()} lẽ ra gửi lúc {local_text(fires_at)}, "
                         "gửi bù khi hệ thống theo dõi chạy lại.)")
    if missing:
        lines.append("Còn thiếu: " + "; ".join(missing) + ".")
    if portal_page:
        lines.append(f"Xem và nộp trên cổng điều phối: {portal_page}")
    for label, where in feedback.items():
        lines.append(f"Kết quả kiểm tra lần nộp gần nhất ({label}): {where}")
    lines.append("Tin nhắn tự động của hệ thống điều phối chiến dịch tiêm chủng.")
    payload = {"deadline": item.deadline, "party": item.party, "step": step, "title": title,
               "due_at": item.due_at.isoformat(), "source": item.source, "missing": missing,
               "feedback": dict(feedback), "portal": portal_page, "text": "\n".join(lines)}
    return subject, "\n".join(lines), payload


def party_name(party: str, campaign: CampaignConfig, facilities: Mapping[str, tuple[str, str]] | None = None) -> str:
    """How a message names its party: the DoH, a district's health centre, or a facility and its district."""
    if party == DOH:
        return campaign.parties[DOH].name or party_label("doh")
    from campaign.readiness.present import district_names

    if facilities and party in facilities:   # a facility: its name, and the district whose TTYT collects
        district, name = facilities[party]
        return f"{name or party} ({party}), {district_names([district]).get(district, district)}"
    return f"{party_label('health_centre_short', district_names([party]).get(party, party))} ({party})"


def portal_url(path: str) -> str:
    """A page of the portal (CAMPAIGN_PORTAL_URL): where a message sends its reader."""
    from campaign.settings import get_settings

    return get_settings().portal_url.rstrip("/") + path


def portal_page(item: Deliverable) -> str:
    """The portal page of a deliverable's party: the province's, or its district's."""
    if item.party == DOH:
        return portal_url("/tinh")
    return portal_url(f"/huyen/{item.district or item.party}")


def feedback_pages(latest: Mapping[str, int]) -> dict[str, str]:
    """kind -> the portal's feedback page of a submission (`latest`: kind -> submission id, the store's
    `latest_feedback`)."""
    return {k: portal_url(f"/nop/{i}") for k, i in latest.items()}


def board_row(item: Deliverable, state: str, done_at: dt.datetime | None, missing: list[str],
              upcoming: Sequence[tuple[dt.datetime, str]], now: dt.datetime) -> dict[str, Any]:
    """One deliverable of the board: its state at `now`, what is missing, the next step to come."""
    finished = done_at is not None and done_at <= now
    return {
        "name": item.name,
        "next_step": {"step": upcoming[0][1], "at": upcoming[0][0].isoformat()} if upcoming else None,
        "deadline": item.deadline, "party": item.party, "state": state,
        "due_at": item.due_at.isoformat(), "completed_at": done_at.isoformat() if finished and done_at else None,
        "missing": [] if finished else missing,
        "extended_from": item.original_due_at.isoformat() if item.original_due_at else None,
        "extension_reason": item.extension_reason,
        # the directive's line that sets it, or the province's own decision (said as such)
        "source": item.source, "source_text": item.source_text,
        **({"district": item.district} if item.district and item.district != item.party else {}),
    }


def board_json(campaign: CampaignConfig, now: dt.datetime, rows: list[dict[str, Any]], sent: Sequence[Sequence[Any]],
               real_now: dt.datetime) -> dict[str, Any]:
    """The deadlines summary (docs/contracts.md): `deliverables` (the `board_row`s) and `escalations_sent` [{deadline,
    party, step, channel, sent_at (logical), delivered_at, status, title}] from the store's
    `escalations_sent` rows. `status` is the message's (pending, sent, failed), or `sending` while a watch
    holds a live claim on it; leases are in real time (`real_now`), not the logical `now`."""
    return {
        "now": now.isoformat(),
        "deliverables": rows,
        # parties the directive names with tasks but no dated deliverable (DIC, Viettel)
        "parties_without_deadline": [
            {"party": key, "name": p.name or key, "source": p.source.by,
             "source_text": p.source.label(campaign.campaign.directive),
             "tasks": [{"task": t.task, "source_text": t.source.label(campaign.campaign.directive)} for t in p.tasks]}
            for key, p in campaign.parties.items() if p.tasks],
        # `title`: what the message was titled when sent (a late reminder is "Quá hạn", compose/title_of)
        "escalations_sent": [{"deadline": d, "party": p, "step": s, "channel": c, "sent_at": t.isoformat(),
                              "delivered_at": dl.isoformat() if dl else None,
                              "status": "sending" if st == "pending" and lease is not None and lease > real_now
                              else st,
                              "title": (pl or {}).get("title")}
                             for d, p, s, c, t, dl, st, pl, lease in sent],
    }


DELIVERY_STATUSES = ("sent", "sending", "pending", "failed")   # a message's status as the board lists it


def delivery_counts(messages: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """The board's messages (`board_json`'s `escalations_sent`) per status, plus `delivered` (a delivery time
    recorded): the one count `campaign deadlines` and `campaign status` print."""
    counts = {s: sum(1 for m in messages if m["status"] == s) for s in DELIVERY_STATUSES}
    return {"written": len(messages), "delivered": sum(1 for m in messages if m["delivered_at"]), **counts}
