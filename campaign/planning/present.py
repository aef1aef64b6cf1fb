"""Session planning, what people see: a plan as JSON and as text (the reasons for leaving people out worded
by `campaign.vocabulary`), and the labels of team roles and session parts the printed lists use."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from campaign.config_kinds import load_input_kinds
from campaign.vocabulary import unplanned_reason

if TYPE_CHECKING:
    from campaign.planning.run import PlanResult

# the roles of a team as the printed lists name them (input_kinds.yaml, enum team_role)
ROLE_LABELS = {k: v.label for k, v in load_input_kinds().enums["team_role"].items()}
PART_LABELS = {k: v.label for k, v in load_input_kinds().enums["session_part"].items()}


def to_json(result: PlanResult, *, names: dict[str, str] | None = None) -> dict[str, Any]:
    names = names or {}
    p = result.summary["province"]
    return {
        "run_id": result.run_id, "from": result.start.isoformat(), "days": result.days, "district": result.district,
        "published": result.published, "kept_from": result.kept_from,
        "province": p,
        "districts": [{"district": d, "name": names.get(d), **v} for d, v in result.summary["districts"].items()],
        "quality": result.quality,
        "seconds": {k: round(v, 3) for k, v in result.seconds.items()},
    }


def render_text(summary: dict[str, Any]) -> str:
    p, q = summary["province"], summary["quality"]
    end = dt.date.fromisoformat(summary["from"]) + dt.timedelta(days=summary["days"] - 1)
    lines = [f"Kế hoạch {summary['run_id']}: {dt.date.fromisoformat(summary['from']):%d/%m/%Y} – {end:%d/%m/%Y}"
             f"{' (đã công bố)' if summary['published'] else ''}",
             f"  {p['planned']} người được mời ({p['invitations']} lượt, {p['dose2_planned']} mũi 2), "
             f"{p['sessions']} buổi tiêm, {p['vials']} lọ cần mở, {p['wasted_doses']} liều hủy dự kiến "
             f"(tối thiểu {p['wastage_lower_bound']})",
             "  chưa xếp lịch: " + (", ".join(f"{unplanned_reason(k)} {v}" for k, v in
                                              sorted(p["unplanned_by_reason"].items())) or "0")]
    if q.get("capacity_used") is not None:
        inv = q["priority_inversions"]
        lines.append(f"  dùng {q['capacity_used']:.0%} công suất các buổi, {q['own_commune_share']:.0%} tiêm tại xã "
                     f"mình, ưu tiên đảo ngược không giải thích: {inv['unexplained']}")
    for d in summary["districts"]:
        un = ", ".join(f"{unplanned_reason(k)} {v}" for k, v in sorted(d["unplanned"].items()))
        lines.append(f"  {d['district']} {d.get('name') or ''}: {d['planned']} người, {d['sessions']} buổi, "
                     f"{d['vials']} lọ{'; chưa xếp: ' + un if un else ''}")
    return "\n".join(lines)
