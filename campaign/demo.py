"""The demo's core: which generated files are "uploaded" by the logical now, and the closing summary."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from campaign import clock
from campaign.demo_days import campaign_days_digest, campaign_days_lines
from campaign.store.models import Submission

KIND_ORDER = ["facilities", "infrastructure", "training", "communication", "staff", "target_list",
              "vaccine_stock", "vaccinations", "aefi", "backfill", "stock_ledger"]   # a day's ledger after its results


@dataclass(frozen=True)
class PlannedUpload:
    path: str
    district: str
    kind: str
    facility: str | None
    planned_at: str   # ISO 8601 with offset


def planned_uploads(manifest_path: Path, now: dt.datetime) -> tuple[list[PlannedUpload], list[PlannedUpload]]:
    """(uploaded by `now`, still to come) from the generator's manifest, in upload order.

    At the same instant, facilities go first so later kinds can be checked against the facility list.
    """
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    base = manifest_path.parent
    items = []
    for f in manifest["files"]:
        items.append(PlannedUpload(str((base / f["path"]).resolve()), f["district"], f["kind"],
                                   f.get("facility"), f["planned_upload_at"]))
    items.sort(key=lambda u: (clock.parse_instant(u.planned_at), KIND_ORDER.index(u.kind), u.district))
    done = [u for u in items if clock.parse_instant(u.planned_at) <= now]
    later = [u for u in items if clock.parse_instant(u.planned_at) > now]
    return done, later


def campaign_day_ends(manifest_path: Path, day_end: str = "21:00") -> list[tuple[str, dt.datetime]]:
    """Each campaign day of a `campaign_days.json` with its logical end (Gia Lai time): when the day's
    steps and the deadline watch run."""
    days = json.loads(manifest_path.read_text(encoding="utf-8"))["days"]
    return [(d, clock.parse_instant(f"{d}T{day_end}:00")) for d in days]


def summarize(engine: Engine, outcomes: list[dict[str, Any]], *, later: list[PlannedUpload],
              manifest: dict[str, Any], paths: dict[str, str], now: dt.datetime, seconds: float,
              readiness: dict[str, Any] | None = None, deadlines: dict[str, Any] | None = None,
              master_list: dict[str, Any] | None = None, plan: dict[str, Any] | None = None,
              reports: list[dict[str, Any]] | None = None, portal: dict[str, Any] | None = None,
              campaign_days: dict[str, Any] | None = None) -> dict[str, Any]:
    statuses = Counter(o["status"] for o in outcomes)
    reasons: Counter[str] = Counter()
    for o in outcomes:
        reasons.update(o["reasons"])
    with engine.connect() as conn:
        current = conn.execute(
            select(Submission.district_code, Submission.kind, func.sum(Submission.rows_loaded))
            .where(Submission.is_current.is_(True)).group_by(Submission.district_code, Submission.kind)
        ).all()
    by_district: dict[str, dict[str, int]] = {}
    for district, kind, rows in current:
        by_district.setdefault(district, {})[kind] = int(rows or 0)
    missing = [{"district": s["district"], "kind": s["kind"], "deadline": s.get("deadline")}
               for s in manifest.get("schedule", []) if s.get("status") == "missing"]
    return {
        "now": now.isoformat(),
        "seconds": round(seconds, 1),
        "people": manifest.get("people"),
        "files_generated": len(manifest["files"]),
        "submissions": {"total": len(outcomes), **dict(statuses)},
        "rows": {
            "total": sum(o["rows_total"] for o in outcomes),
            "loaded": sum(o["rows_loaded"] for o in outcomes),
            "quarantined": sum(o["rows_quarantined"] for o in outcomes),
            "skipped": sum(o["rows_skipped"] for o in outcomes),
            "with_warnings": sum(o["rows_with_warnings"] for o in outcomes),
        },
        "reasons": dict(reasons.most_common()),
        "columns": _columns_digest(outcomes),
        "not_yet_uploaded": [{"district": u.district, "kind": u.kind, "planned_at": u.planned_at} for u in later],
        "never_uploaded": missing,
        "current_rows_by_district": by_district,
        "readiness": _readiness_digest(readiness) if readiness else None,
        "deadlines": deadlines_digest(deadlines) if deadlines else None,
        "master_list": _master_list_digest(master_list) if master_list else None,
        "plan": _plan_digest(plan) if plan else None,
        "reports": _reports_digest(reports) if reports else None,
        "portal": portal,
        "campaign_days": campaign_days_digest(campaign_days) if campaign_days else None,
        "outputs": paths,
    }


def _columns_digest(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    """How the files' columns were read: headings not the template's own that were understood, and the
    columns holding data that nothing read (each also a `column_ignored` warning to its district)."""
    from campaign.config_kinds import load_input_kinds

    kinds = load_input_kinds()
    read, ignored = Counter(), Counter()
    for o in outcomes:
        spec = kinds.kinds.get(o.get("kind", ""))
        own = {c.template_header for c in spec.columns} | {c.header for c in spec.columns} if spec else set()
        for heading, fld in (o.get("columns") or {}).items():
            if heading not in own:
                read[f"{heading} -> {fld}"] += 1
        for heading in o.get("columns_ignored") or []:
            ignored[heading] += 1
    return {"headings_read": dict(read.most_common()), "ignored": dict(ignored.most_common())}


def deadlines_digest(summary: dict[str, Any]) -> dict[str, Any]:
    """Per deadline, how many parties are in each state; the escalations written and their delivery."""
    states: dict[str, Counter[str]] = {}
    for d in summary["deliverables"]:
        states.setdefault(d["deadline"], Counter())[d["state"]] += 1
    upcoming: Counter[tuple[str, str, str]] = Counter()
    for d in summary["deliverables"]:
        if d.get("next_step"):
            upcoming[(d["deadline"], d["next_step"]["step"], d["next_step"]["at"])] += 1
    return {"states": {k: dict(v) for k, v in states.items()},
            "next_steps": [{"deadline": k[0], "step": k[1], "at": k[2], "parties": n}
                           for k, n in sorted(upcoming.items(), key=lambda kv: kv[0][2])],
            "escalations_written": len(summary.get("written_now", [])),
            "messages": Counter(e["status"] for e in summary["escalations_sent"]),
            "delivery": summary.get("delivery")}


def _master_list_digest(summary: dict[str, Any]) -> dict[str, Any]:
    """The province's figures of `campaign master-list --json`, and the quality against the truth."""
    q = summary.get("quality") or {}
    return {"run_id": summary["run_id"], "rows": summary["rows"], "persons": summary["persons"],
            "review_pairs": summary["review_pairs"], "province": summary["province"],
            "quality": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in q.items()},
            "exported_districts": summary.get("exported_districts"), "exported_people": summary.get("exported_people"),
            "seconds": summary.get("seconds")}


def _plan_digest(summary: dict[str, Any]) -> dict[str, Any]:
    """The province's figures of `campaign plan --json`, its quality, and how many lists were printed."""
    return {"run_id": summary["run_id"], "from": summary["from"], "days": summary["days"],
            "published": summary["published"], "province": summary["province"], "quality": summary["quality"],
            "invitation_lists": len(summary.get("invitation_lists", [])), "seconds": summary.get("seconds")}


def _reports_digest(built: list[dict[str, Any]]) -> dict[str, Any]:
    """How many reports of each level, the province's key figures and files."""
    province = next((b for b in built if b["level"] == "province"), None)
    return {"built": {lvl: sum(1 for b in built if b["level"] == lvl) for lvl in ("district", "province")},
            "with_missing_data": sum(1 for b in built if b["warnings"]),
            "province": {"version": province["version"], "files": province["files"], "figures": province["figures"]}
            if province else None}


def _reports_lines(reports: dict[str, Any] | None) -> list[str]:
    if not reports or not reports.get("province"):
        return []
    p = reports["province"]
    f = p["figures"]
    return [f"Reports: the province's (version {p['version']}) and {reports['built']['district']} districts', DOCX and "
            f"PDF; {reports['with_missing_data']} say on their pages which data are still missing. Approve and send "
            f"with `campaign report approve` and `campaign report --submit` (outputs: reports).",
            f"  the province's report: {f.get('facilities_ready')}/{f.get('facilities_total')} facilities ready, "
            f"{f.get('people_total')} people on the master list ({f.get('people_eligible')} eligible)."]


def _plan_lines(plan: dict[str, Any] | None) -> list[str]:
    if not plan:
        return []
    p, q = plan["province"], plan["quality"]
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(p["unplanned_by_reason"].items())) or "none"
    lines = [f"Plan {plan['run_id']} ({plan['days']} days from {plan['from']}"
             f"{', published' if plan['published'] else ''}): {p['planned']} people invited to {p['sessions']} "
             f"sessions ({p['dose2_planned']} dose-2 invitations), {p['vials']} vials to open; not planned: {reasons}."]
    if q.get("capacity_used") is not None:
        lines.append(f"  capacity used {q['capacity_used']:.1%}, own commune {q['own_commune_share']:.1%}, planned "
                     f"wastage {q['wasted_doses']} doses (lower bound {q['wastage_lower_bound']}), priority "
                     f"inversions unexplained {q['priority_inversions']['unexplained']}; "
                     f"{plan['invitation_lists']} invitation lists (outputs: invitation_lists)")
    return lines


def _readiness_digest(summary: dict[str, Any]) -> dict[str, Any]:
    """The province line and one line per district of `campaign readiness --json`."""
    return {"province": summary["province"],
            "districts": {d["district"]: {"status": d["status"], "facilities_ready": d["facilities_ready"],
                                          "facilities_total": d["facilities_total"],
                                          "communication": d["communication"], "blocking_gaps": len(d["gaps"]),
                                          "warnings": len(d["warnings"])}
                          for d in summary["districts"]}}


def render_text(summary: dict[str, Any]) -> str:
    """The human summary printed on stderr."""
    s, r = summary["submissions"], summary["rows"]
    lines = [
        f"Demo as of {summary['now']} ({summary['seconds']} s): {summary['people']} people, "
        f"{summary['files_generated']} district files generated.",
        f"Submissions: {s['total']} ({', '.join(f'{k} {v}' for k, v in s.items() if k != 'total')}).",
        f"Rows: {r['total']} read, {r['loaded']} loaded, {r['quarantined']} quarantined, {r['skipped']} skipped, "
        f"{r['with_warnings']} loaded with warnings.",
        "Top reasons: " + ", ".join(f"{k} {v}" for k, v in list(summary["reasons"].items())[:8]),
        *_columns_lines(summary.get("columns")),
        f"Still to come after now: {len(summary['not_yet_uploaded'])} files; never sent: "
        + (", ".join(f"{m['district']}/{m['kind']}" for m in summary["never_uploaded"]) or "none"),
        *_readiness_lines(summary.get("readiness")),
        *_deadline_lines(summary.get("deadlines")),
        *_master_list_lines(summary.get("master_list")),
        *_plan_lines(summary.get("plan")),
        *_reports_lines(summary.get("reports")),
        *_portal_lines(summary.get("portal")),
        *campaign_days_lines(summary.get("campaign_days")),
        "Outputs:",
        *[f"  {k}: {v}" for k, v in summary["outputs"].items()],
    ]
    return "\n".join(lines)


def _columns_lines(columns: dict[str, Any] | None) -> list[str]:
    if not columns:
        return []
    read = columns["headings_read"]
    lines = [f"Columns: {len(read)} headings other than the templates' read as their fields, e.g. "
             + ", ".join(list(read)[:6])] if read else []
    if columns["ignored"]:
        lines.append("Columns not read (each file says so): "
                     + ", ".join(f"{h} ({n} files)" for h, n in list(columns["ignored"].items())[:8]))
    return lines


def _portal_lines(portal: dict[str, Any] | None) -> list[str]:
    if not portal:
        return []
    lines = [f"Portal: {portal['accounts_created']} account(s) created (a coordinator `dieuphoi` and `huyen<code>` per "
             f"district; passwords in {portal['accounts_file']}, a demo secret: plain text, owner-only 0600, "
             f"delete it when done); start it with `campaign serve`."]
    up = portal.get("upload")
    if up:
        lines.append(f"  {up['district']} uploaded its {up['kind']} file through the portal: {up.get('status', up.get('error'))}, "
                     f"feedback page {up.get('page', '-')} after {up.get('seconds', '-')} s.")
        if up.get("tampering"):
            t = up["tampering"]
            lines.append(f"  it then asked for another district's submission ({t['page']}): HTTP {t['status']}, "
                         "recorded as access_denied.")
        if up.get("hostile_file"):
            h = up["hostile_file"]
            lines.append(f"  then a {h['bytes']:,}-byte workbook with one stray cell at XFD1048576 ({h['file']}): {h['status']}, "
                         f"measured before any grid was built: «{h['message'][:160]}»")
        if up.get("audit"):
            lines.append("  audit log of that clerk: " + ", ".join(f"{a} {n}" for a, n in sorted(up["audit"].items()))
                         + " (all of it: `campaign audit show`, or the page /tinh/nhat-ky).")
    return lines


def _master_list_lines(master: dict[str, Any] | None) -> list[str]:
    if not master:
        return []
    p, q = master["province"], master.get("quality") or {}
    lines = [f"Master list: {master['rows']} rows -> {master['persons']} people ({p.get('eligible_persons', 0)} "
             f"eligible), {p.get('duplicates_within', 0)} duplicate rows within districts, "
             f"{p.get('clusters_across_districts', 0)} people listed by two districts, "
             f"{master['review_pairs']} pairs to review (`campaign review`)."]
    if q:
        lines.append(f"  against the generator's truth: precision {q['precision']:.4f}, recall {q['recall']:.4f} "
                     f"({q['correct_pairs']}/{q['true_pairs']} duplicate pairs), {q['review_share']:.2%} of rows "
                     f"in review; once reviewed: recall {q['recall_reviewed']:.4f}")
    if master.get("exported_districts"):
        lines.append(f"  {master['exported_people']} eligible people of {master['exported_districts']} districts "
                     "exported in the national platform's import layout (outputs: national_exports)")
    return lines


def _readiness_lines(readiness: dict[str, Any] | None) -> list[str]:
    if not readiness:
        return []
    p = readiness["province"]
    lines = [f"Readiness: province {p['status']}, {p['facilities_ready']}/{p['facilities_total']} facilities and "
             f"{p['districts_ready']}/{p['districts_total']} districts ready."]
    for code, d in readiness["districts"].items():
        lines.append(f"  {code}: {d['status']} ({d['facilities_ready']}/{d['facilities_total']} facilities, "
                     f"communication {d['communication']}, {d['blocking_gaps']} blocking gaps)")
    return lines


def _deadline_lines(deadlines: dict[str, Any] | None) -> list[str]:
    if not deadlines:
        return []
    lines = ["Deadlines (state: parties):"]
    for deadline, states in deadlines["states"].items():
        lines.append(f"  {deadline}: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())))
    for n in deadlines.get("next_steps", []):
        when = clock.local(clock.parse_instant(n["at"]))
        lines.append(f"  next: {n['step']} of {n['deadline']} at {when:%H:%M %d/%m/%Y} for {n['parties']} parties")
    m = deadlines["messages"]
    lines.append(f"Escalations written by now: {deadlines['escalations_written']}; messages "
                 + (", ".join(f"{k} {v}" for k, v in m.items()) or "none")
                 + " (pending ones are retried by `campaign watch` / the served deadline watch; set "
                   "CAMPAIGN_SMTP_HOST/PORT for a mail server)")
    return lines
