"""The demo's campaign days after the plan (issue 20.5): the summary's `campaign_days` block and its lines.

The block counts, per day, the files taken in by kind and status (accepted / rejected / duplicate, and
`not_taken_in` for a kind this checkout has no intake for), their rows, the day's steps (the deadline watch
at the day's end, and the new steps of issue 20), with the generator's truth beside them (who was invited,
came, was vaccinated; who sent late or nothing; the serious AEFI; the stock ledger that does not balance)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from campaign import clock


def campaign_days_digest(run: dict[str, Any]) -> dict[str, Any]:
    """`run`: what flows.campaign_days.run_campaign_days returns."""
    from campaign.demo import deadlines_digest

    manifest = json.loads(Path(run["manifest"]).read_text(encoding="utf-8"))
    days = []
    for d in run["days"]:
        mine = [o for o in run["outcomes"] if o["day"] == d["date"]]
        files: dict[str, Counter[str]] = {}
        for o in mine:
            files.setdefault(o["kind"], Counter())[o["status"]] += 1
        for u in run.get("not_taken_in", []):
            if u["day"] == d["date"]:
                files.setdefault(u["kind"], Counter())["not_taken_in"] += 1
        steps = dict(d.get("steps") or {})
        watch = steps.pop("deadlines", None)
        days.append({
            "date": d["date"], "now": d["now"],
            "files": {k: dict(v) for k, v in sorted(files.items())},
            "rows": {"loaded": sum(o["rows_loaded"] for o in mine), "quarantined": sum(o["rows_quarantined"] for o in mine),
                     "with_warnings": sum(o["rows_with_warnings"] for o in mine)},
            "deadlines": _watch_digest(deadlines_digest(watch)) if watch else None,
            "steps": steps,
            "truth": manifest["truth"]["per_day"].get(d["date"]),
        })
    return {"plan_run": manifest["plan_run"], "files_generated": len(manifest["files"]), "days": days,
            "later": [{"district": u["district"], "kind": u["kind"], "planned_at": u["planned_at"]} for u in run["later"]],
            "behaviour": manifest["behaviour"], "backfill": manifest["truth"]["backfill"],
            "manifest": run["manifest"]}


def _watch_digest(digest: dict[str, Any]) -> dict[str, Any]:
    return {"states": digest["states"], "escalations_written": digest["escalations_written"],
            "messages": dict(digest["messages"])}


def campaign_days_lines(days: dict[str, Any] | None) -> list[str]:
    if not days:
        return []
    lines = [f"Campaign days after plan {days['plan_run']}: {days['files_generated']} files generated "
             f"({len(days['days'])} days; per day the files taken in by kind, then the deadline watch at the day's end)."]
    for d in days["days"]:
        files = "; ".join(f"{k} " + ", ".join(f"{s} {n}" for s, n in sorted(v.items())) for k, v in d["files"].items())
        t = d.get("truth") or {}
        lines.append(f"  {clock.local(clock.parse_instant(d['now'])):%d/%m %H:%M}: {files or 'no file'}; "
                     f"{d['rows']['loaded']} rows loaded, {d['rows']['quarantined']} quarantined. Truth: "
                     f"{t.get('invited', 0)} invited, {t.get('no_shows', 0)} no-shows, {t.get('vaccinated', 0)} "
                     f"vaccinated, {t.get('walk_ins', 0)} walk-ins (+{t.get('unlisted', 0)} on no list), "
                     f"{t.get('aefi', 0)} AEFI ({t.get('aefi_serious', 0)} serious)")
        if d.get("deadlines"):
            w = d["deadlines"]
            lines.append("    deadlines: " + "; ".join(f"{k}: " + ", ".join(f"{s} {n}" for s, n in sorted(v.items()))
                                                   for k, v in w["states"].items())
                         + f"; {w['escalations_written']} escalations written")
    b = days["behaviour"]
    who = []
    if b.get("late"):
        who.append(f"{b['late']['facility']} sends its results of {b['late']['date']} the next morning")
    if b.get("silent"):
        who.append(f"{b['silent']['facility']} sends nothing on {b['silent']['date']}")
    if b.get("serious_aefi"):
        who.append(f"one serious AEFI (anaphylaxis, hospitalised) at {b['serious_aefi']['facility']} on "
                   f"{b['serious_aefi']['date']}")
    if b.get("stock_discrepancy"):
        s = b["stock_discrepancy"]
        who.append(f"the stock ledger of {s['facility']} ({s['product']} {s['lot']}, {s['date']}) is off by {s['vials']} vials")
    if who:
        lines.append("  planted: " + "; ".join(who) + ".")
    if days.get("backfill"):
        lines.append("  backfill rows: " + ", ".join(f"{k} {v}" for k, v in days["backfill"].items()))
    if days["later"]:
        lines.append(f"  still to come after the last day: {len(days['later'])} files")
    return lines
