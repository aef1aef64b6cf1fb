"""The master list shown to people: a run as JSON (per district, with names) and as text, and one record
of a pair under review as a line of the review artifact.
"""

from __future__ import annotations

from typing import Any

from campaign.master_list.rules import MasterListResult


def to_json(result: MasterListResult, *, district: str | None = None,
            names: dict[str, str] | None = None) -> dict[str, Any]:
    districts = result.stats.get("districts", {})
    rows = [{"district": d, "name": (names or {}).get(d), **v} for d, v in sorted(districts.items())
            if district is None or d == district]
    return {"run_id": result.run_id, "as_of": result.as_of.isoformat(), "model_trained": result.trained,
            "model_id": result.model_id, "rows": result.rows, "persons": result.persons,
            "review_pairs": result.review_pairs, "inputs": result.inputs,
            "province": result.stats.get("province", {}), "districts": rows,
            "seconds": {k: round(v, 2) for k, v in result.seconds.items()}, "engine": result.engine}


def render_text(summary: dict[str, Any]) -> str:
    p = summary["province"]
    lines = [f"Master list (run {summary['run_id']}): {summary['rows']} rows -> {summary['persons']} people, "
             f"{p.get('eligible_persons', 0)} eligible; {summary['review_pairs']} pairs to review"
             f"{' (model trained in this run)' if summary['model_trained'] else ''}",
             f"  {'district':<24} {'rows':>8} {'people':>8} {'dup.in':>7} {'dup.across':>10} {'review':>7} "
             f"{'inelig.':>7}"]
    for d in summary["districts"]:
        label = f"{d['district']} {d.get('name') or ''}".strip()
        lines.append(f"  {label:<24} {d['rows']:>8} {d['persons']:>8} {d['duplicates_within']:>7} "
                     f"{d['rows_in_clusters_across_districts']:>10} {d['review']:>7} {d['ineligible']:>7}")
    return "\n".join(lines)


def side_text(side: dict[str, Any]) -> str:
    """One line per record for the review artifact (already masked)."""
    return (f"{side.get('full_name')} · {side.get('birth_date')} · {side.get('sex')} · group "
            f"{side.get('priority_group')} · {side.get('commune_code')} ({side.get('district')}) · "
            f"{side.get('phone')} · {side.get('id_number') or '-'}")
