"""What a report shows people, apart from its figures: numbers and dates as Vietnamese documents write
them (shared by every report format), the labels of coded values, who a report is sent to ("Nơi nhận"
and the addresses) and the e-mail that carries it."""

from __future__ import annotations

import datetime as dt
import math
import numbers
from typing import Any

from campaign import clock
from campaign.config import CampaignConfig
from campaign.config_kinds import load_input_kinds
from campaign.vocabulary import level_label, party_label


def vn_number(value: Any, *, decimals: int = 2) -> str:
    """A table cell as Vietnamese text: numbers with "." between thousands and "," before decimals.

    None -> "-"; str passes through unchanged; int 12345 -> "12.345", -5 -> "-5"; float 0.5 -> "0,5",
    1234.5 -> "1.234,5" (rounded to `decimals`, trailing zeros dropped: 2.0 -> "2"); NaN/inf -> "-";
    bool -> "Có"/"Không"; date -> "28/07/2021"; datetime -> "28/07/2021 14:05"; anything else -> str().
    """
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "Có" if value else "Không"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}".replace(",", ".")
    if isinstance(value, numbers.Number):
        x = float(value)  # type: ignore[arg-type]
        if not math.isfinite(x):
            return "-"
        text = f"{x:,.{max(0, decimals)}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        if text.lstrip("-").strip("0,.") == "":   # -0.001 -> "-0" -> "0"
            text = "0"
        return text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    if isinstance(value, dt.datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def is_number(value: Any) -> bool:
    """A value shown right-aligned (bool is an int, but not a quantity)."""
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def enum_labels(enum: str) -> dict[str, str]:
    """The labels of a coded column's values (`config/input_kinds.yaml`), e.g. vaccine products."""
    return {k: v.label for k, v in load_input_kinds().enums[enum].items()}


def recipients_of(campaign: CampaignConfig, level: str, unit: str, district: str | None = None) -> list[str]:
    """The addresses of `reports.recipients` for a unit ("{code}": the unit, "{district}": a facility's
    district)."""
    return [r.address.replace("{code}", unit).replace("{district}", district or unit)
            for r in campaign.reports.recipients.get(level, [])]


# a district's contacts (`district_default`, "{code}" its GSO code) are its health centre and its committee
DISTRICT_CONTACT_ROLES = ("health_centre", "steering_committee")   # worded: the vocabulary's parties


def recipient_names(campaign: CampaignConfig, level: str, unit: str, district: str | None,
                    names: dict[str, str]) -> list[str]:
    """"Nơi nhận" of a report: each address of `reports.recipients.<level>` (as `recipients_of` fills
    it) with the name of the party whose contact holds it ("Ban Chỉ đạo tỉnh (bcd.tinh@...)"), else the
    address alone (the ministries' mailboxes the directive names)."""
    owners: dict[str, str] = {}
    for key, party in campaign.parties.items():
        for role, contact in party.contacts.items():
            if not contact.email:
                continue
            if "{code}" in contact.email:
                if district is None:
                    continue
                named = key == "district_default" and role in DISTRICT_CONTACT_ROLES
                label = party_label(role, names.get(district, district)) if named else (party.name or key)
                owners.setdefault(contact.email.replace("{code}", district), label)
            else:
                owners.setdefault(contact.email, party.name or key)
    out = []
    for address in recipients_of(campaign, level, unit, district):
        out.append(f"{owners[address]} ({address})" if address in owners else address)
    return out


def submission_email(campaign: CampaignConfig, *, level: str, unit: str, version: int, approved_by: str | None,
                     approved_at: dt.datetime, at: dt.datetime, to: list[str]) -> tuple[str, str]:
    """The subject and body of the e-mail a report version is sent upward with."""
    local = clock.local(at)
    subject = f"[{campaign.campaign.name}] Báo cáo công tác chuẩn bị - {unit} - phiên bản {version}"
    body = (f"Kính gửi: {', '.join(to)}\n\n"
            f"Gửi kèm báo cáo công tác chuẩn bị triển khai chiến dịch tiêm chủng vắc xin phòng COVID-19 "
            f"(cấp {level_label(level)}, đơn vị {unit}), phiên bản {version}, "
            f"đã được {approved_by} duyệt lúc {clock.local(approved_at):%H:%M ngày %d/%m/%Y}.\n"
            f"Gửi lúc {local:%H:%M ngày %d/%m/%Y}.\n")
    return subject, body
