"""Readiness shown to people: the summary as JSON (`campaign readiness --json`, the portal, the demo), as
text (the CLI), the Prefect artifacts of a run (read back from its records), and the districts' names.

    summary = to_json(result, district=None, names=district_names(campaign.district_codes))
    print(render_text(summary))
    tables, markdown = readiness_artifacts(records, names)

The figures are the ones `assess` counted (`campaign.readiness.status`); nothing is counted here. Status
words come from `campaign.vocabulary`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from campaign import clock
from campaign.readiness.rules import BLOCKING, WARNING, Assessment, gap_dicts
from campaign.store.models import ReadinessRecord
from campaign.vocabulary import status_label


def district_names(codes: Iterable[str]) -> dict[str, str]:
    """GSO district code -> name (GSO 2021), for summaries."""
    from campaign.domain.admin_units import district_name

    return {c: name for c in codes if (name := district_name(c)) is not None}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for r in frame.to_dict("records"):
        out.append({k: (v.isoformat() if isinstance(v, dt.date) else None if _missing(v) else
                        int(v) if isinstance(v, np.integer) else bool(v) if isinstance(v, np.bool_) else v)
                    for k, v in r.items()})
    return out


def _missing(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def to_json(result: Assessment, *, district: str | None = None, names: dict[str, str] | None = None) -> dict[str, Any]:
    """The readiness summary (docs/contracts.md): `province`, `districts` [{district, status, facilities_total,
    facilities_ready, gaps (blocking), warnings, ...}]; with `district`, that district only, with its
    facilities, sessions, training coverage and training still to be held."""
    names = names or {}
    gaps = result.gaps
    rows = []
    for d in result.districts.to_dict("records"):
        if district and d["district"] != district:
            continue
        mine = gaps[gaps["district"] == d["district"]]
        rows.append({
            "district": d["district"], "name": names.get(d["district"]), "status": d["status"],
            "facilities_total": int(d["facilities_total"]), "facilities_ready": int(d["facilities_ready"]),
            "facilities_by_status": {s: int(n) for s, n in d["facilities_by_status"].items()},
            "communication": d["communication"],
            # who works with the district on each dimension (directive section 4: Viettel trains the facilities)
            "partners": {dim: list(names) for dim, names in result.partners.items()},
            "gaps": [{"facility": g["facility"], "item": g["item"], "missing": g["missing"], "owner": g["owner"],
                      "detail": g["detail"]} for g in gap_dicts(mine[mine["severity"] == BLOCKING])],
            "warnings": [{"facility": g["facility"], "item": g["item"], "missing": g["missing"], "owner": g["owner"],
                          "detail": g["detail"]} for g in gap_dicts(mine[mine["severity"] == WARNING])],
        })
    out: dict[str, Any] = {"as_of": result.as_of.isoformat(), "province": dict(result.province), "districts": rows}
    if district:
        def pick(frame: pd.DataFrame) -> pd.DataFrame:
            return frame[frame["district"] == district]

        out["facilities"] = _records(pick(result.facilities))
        out["sessions"] = _records(pick(result.sessions))
        out["training"] = _records(pick(result.training))
        out["training_to_hold"] = _records(pick(result.training_to_hold))
        out["communication"] = _records(pick(result.communication))
    return out


def _dimension_of(item: str) -> str:
    """The dimension a gap item belongs to ("trained:vaccinator" -> training)."""
    head = item.split(":", 1)[0]
    return {"trained": "training", "training_not_completed": "training", "team": "teams",
            "team_not_updated": "teams", "communication": "communication"}.get(head, "infrastructure")


def render_text(summary: dict[str, Any]) -> str:
    p = summary["province"]
    lines = [f"Readiness as of {summary['as_of']}: province {p['status']} - {p['facilities_ready']}/"
             f"{p['facilities_total']} facilities ready, {p['districts_ready']}/{p['districts_total']} districts ready"]
    for d in summary["districts"]:
        lines.append(f"  {d['district']} {d.get('name') or ''}: {d['status']} - {d['facilities_ready']}/"
                     f"{d['facilities_total']} facilities ready, communication {d['communication']}, "
                     f"{len(d['gaps'])} blocking gaps, {len(d['warnings'])} warnings"
                     + "".join(f"; {dim} with {', '.join(names)}" for dim, names in d.get("partners", {}).items()
                               if any(_dimension_of(g["item"]) == dim for g in d["gaps"] + d["warnings"])))
        if "facilities" in summary:
            for g in d["gaps"]:
                lines.append(f"      ! {g['facility'] or '(district)'} {g['item']} x{g['missing']} "
                             f"[{g['owner']}]: {g['detail']}")
    for f in summary.get("facilities", []):
        lines.append(f"    {f['facility_code']} {f.get('facility_name') or ''}: {f['status']} (infrastructure "
                     f"{f['infrastructure']}, training {f['training']}, teams {f['teams']})")
    return "\n".join(lines)


def readiness_artifacts(records: list[ReadinessRecord], names: dict[str, str]
                        ) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The artifacts' content, from one run's records (the counts `assess` made, nothing counted here):
    ([{key, table, description}] one per district, {markdown, description} of the province)."""
    province = next(r for r in records if r.level == "province")
    districts = [r for r in records if r.level == "district"]
    tables = []
    for d in districts:
        facilities = [r for r in records if r.level == "facility" and r.district == d.district]
        table = [{"facility": f.facility_code, "status": f.status, **{k: f.details.get(k) for k in
                  ("infrastructure", "training", "teams")},
                  "blocking_gaps": sum(1 for g in f.details["gaps"] if g["severity"] == "blocking"),
                  "warnings": sum(1 for g in f.details["gaps"] if g["severity"] == "warning"),
                  "first_gap": next((f"{g['item']} x{g['missing']}: {g['detail']}" for g in f.details["gaps"]), "")}
                 for f in facilities]
        for g in d.details.get("gaps", []):
            table.append({"facility": "(district)", "status": g["severity"], "infrastructure": "", "training": "",
                          "teams": "", "blocking_gaps": int(g["severity"] == "blocking"),
                          "warnings": int(g["severity"] == "warning"), "first_gap": f"{g['item']}: {g['detail']}"})
        tables.append(dict(
            key=f"readiness-{d.district}", table=table or [{"facility": "-", "status": d.status}],
            description=f"{d.district} {names.get(d.district, '')}: {d.status} "
                        f"({status_label(d.status, capitalized=False)}), "
                        f"{d.facilities_ready}/{d.facilities_total} facilities ready, communication "
                        f"{d.details.get('communication')}; as of {clock.local(province.as_of):%d/%m/%Y %H:%M}"))
    lines = [f"# Readiness of the province as of {clock.local(province.as_of):%d/%m/%Y %H:%M}",
             "", f"**{province.status}** ({status_label(province.status, capitalized=False)}): "
             f"{province.facilities_ready}/"
             f"{province.facilities_total} facilities ready, {province.details.get('districts_ready', 0)}/"
             f"{province.details.get('districts_total', 0)} districts ready.", "",
             f"| district | status | facilities ready | {status_label('not_ready', 'en')} | "
             f"{status_label('unknown', 'en')} | communication |",
             "| --- | --- | --- | --- | --- | --- |"]
    for d in districts:
        by = d.details.get("by_status", {})
        lines.append(f"| {d.district} {names.get(d.district, '')} | {d.status} | {d.facilities_ready}/"
                     f"{d.facilities_total} | {by.get('not_ready', 0)} | {by.get('unknown', 0)} | "
                     f"{d.details.get('communication')} |")
    return tables, {"markdown": "\n".join(lines), "description": f"Province readiness: {province.status}"}
