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
from campaign.aefi.present import STATE_WORDS
from campaign.vocabulary import campaign_days_text as text


def campaign_days_digest(run: dict[str, Any]) -> dict[str, Any]:
    """`run`: what flows.campaign_days.run_campaign_days returns."""
    from campaign.demo import _reports_digest, deadlines_digest

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
            "figures": day_figures(d["date"], watch, steps),
            "steps": steps,
            "truth": manifest["truth"]["per_day"].get(d["date"]),
        })
    return {"plan_run": manifest["plan_run"], "files_generated": len(manifest["files"]), "days": days,
            "later": [{"district": u["district"], "kind": u["kind"], "planned_at": u["planned_at"]} for u in run["later"]],
            "behaviour": manifest["behaviour"], "backfill": manifest["truth"]["backfill"],
            "reports": _reports_digest(run["reports"]) if run.get("reports") else None,
            "manifest": run["manifest"]}


def day_figures(day: str, watch: dict[str, Any] | None, steps: dict[str, Any]) -> dict[str, Any]:
    """The day's figures as each item's step returned them (count once: nothing is counted here): the daily
    results of the province for `day` (campaign.daily_results), doses linked (campaign.doses), the stock
    ledgers reconciled (campaign.stock) and AEFI (campaign.aefi), as of the day's end."""
    watch = watch or {}
    daily = next((x["province"] for x in (watch.get("daily_results") or {}).get("days", []) if x["date"] == day), None)
    keys = ("completeness_pct", "timeliness_pct", "invited", "vaccinated", "vaccinated_invited", "no_shows",
            "walk_ins", "reports_expected", "on_time", "late", "missing", "pending")
    stock = (watch.get("stock") or {}).get("province")
    aefi = watch.get("aefi") or {}
    return {
        "results": {k: daily.get(k) for k in keys} if daily else None,
        "doses": steps.get("doses"),
        "stock": {k: stock[k] for k in ("facilities", "discrepancies", "by_code", "closing_vials", "stockout_days",
                                        "wastage_rate")} if stock else None,
        "aefi": {k: aefi[k] for k in ("cases", "serious", "investigations", "lots_flagged")} if aefi else None,
    }


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
    lines += during_lines(days)
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
    if (r := days.get("reports")) and r.get("province"):
        f = r["province"]["figures"]
        lines.append(f"  reports after the days: the province's version {r['province']['version']} and "
                     f"{r['built']['district']} districts' (vaccinated {f.get('vaccinated')}, AEFI {f.get('aefi')}).")
    if days["later"]:
        lines.append(f"  still to come after the last day: {len(days['later'])} files")
    return lines


def _v(v: Any) -> str:
    return "—" if v is None else str(v).replace(".", ",") if isinstance(v, float) else str(v)


def during_lines(days: dict[str, Any]) -> list[str]:
    """The short "Trong đợt tiêm" block: per day, the figures of `day_figures`."""
    lines = [text("demo_heading")]
    for d in days["days"]:
        f = d.get("figures") or {}
        parts = [f"  {clock.local(clock.parse_instant(d['now'])):%d/%m}:"]
        if r := f.get("results"):
            parts.append(text("demo_results", completeness=_v(r["completeness_pct"]), timeliness=_v(r["timeliness_pct"]),
                              vaccinated=_v(r["vaccinated"]), vaccinated_invited=_v(r["vaccinated_invited"]),
                              invited=_v(r["invited"]), no_shows=_v(r["no_shows"]), walk_ins=_v(r["walk_ins"])))
        if x := f.get("doses"):
            parts.append(text("demo_doses", linked=_v(x["linked"]), rows=_v(x["rows"]), unlinked=_v(x["unlinked"]),
                              conflicts=_v(x["conflicts"])))
        if s := f.get("stock"):
            parts.append(text("demo_stock", discrepancies=_v(s["discrepancies"])))
        if a := f.get("aefi"):
            states = ", ".join(f"{STATE_WORDS[k]} {n}" for k, n in a["investigations"].items() if n)
            parts.append(text("demo_aefi_serious", cases=a["cases"], serious=a["serious"], states=states)
                         if a["serious"] else text("demo_aefi", cases=a["cases"]))
        lines.append(" ".join(parts))
    return lines
