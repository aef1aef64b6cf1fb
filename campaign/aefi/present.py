"""What AEFI shows: the JSON of `campaign aefi --json` (and the board's AEFI part), its text lines, the
Vietnamese words of a case's criteria and states, and the lines of the report's sections II.3/II.4. No
personal data: a case is its id, facility, product, lot and times, never a name."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd

from campaign.aefi.rules import (
    CLUSTER,
    LATE,
    ON_TIME,
    OPEN,
    OUTCOME,
    OVERDUE_CASE,
    REPORTED,
    SYMPTOM,
)
from campaign.clock import local
from campaign.config_kinds import load_input_kinds

CRITERION_WORDS = {REPORTED: "cơ sở ghi tai biến nặng", OUTCOME: "kết quả xử trí nặng (tử vong, nhập viện, di chứng)",
                   SYMPTOM: "triệu chứng nặng (sốc phản vệ, khó thở, co giật...)", CLUSTER: "thuộc một cụm ca"}
STATE_WORDS = {OPEN: "đang điều tra (trong hạn 24 giờ)", ON_TIME: "đã điều tra đúng hạn",
               LATE: "đã điều tra nhưng quá hạn", OVERDUE_CASE: "quá hạn, chưa có báo cáo điều tra"}


def subject_words(r: dict[str, Any]) -> str:
    """What an investigation is of, in its deliverable's name: "ca AEFI-..., <facility>" or "cụm 3 ca
    AEFI-C-..., <facility>" (config/vocabulary.yaml `campaign_days`)."""
    from campaign.vocabulary import campaign_days_word

    where = r.get("facility_code") or "-"
    if r.get("kind") == "cluster":
        return campaign_days_word("aefi_cluster_subject").format(n=len(r["members"]), id=r["case_id"], facility=where)
    return campaign_days_word("aefi_case_subject").format(id=r["case_id"], facility=where)


def _label(enum: str, code: Any) -> str | None:
    if code is None or (isinstance(code, float) and math.isnan(code)):
        return None
    values = load_input_kinds().enums.get(enum, {})
    return values[code].label if code in values else str(code)


def _iso(v: Any) -> str | None:
    if v is None or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return None
    return pd.Timestamp(v).isoformat()


def _num(v: Any) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def assessment_json(a: Any, district: str | None = None) -> dict[str, Any]:
    """`campaign aefi --json` (docs/contracts.md): `summary` (rules.summary), `cases` [{case_id, district,
    facility_code, product, lot, onset_at, serious, criteria, cluster_id}], `investigations` [{case_id, district,
    kind (case | cluster), members, opens_at, due_at, completed_at, state, state_text, hours_left, causality,
    causality_text}]: one per case serious on its own and one per cluster (its id `AEFI-C-...`), `rates`
    {by_product, by_lot} and `lots_flagged`. `district`: only its cases and investigations (the rates stay the
    province's: a lot crosses districts)."""
    from campaign.aefi.rules import criteria_of

    if district is not None:
        a = type(a)(a.now, a.cases[a.cases["district"] == district] if len(a.cases) else a.cases,
                    a.investigations[a.investigations["district"] == district] if len(a.investigations)
                    else a.investigations, a.rates, a.timings)

    cases = [{"case_id": c["case_id"], "district": c["district"], "facility_code": c["facility_code"],
              "product": c["product"], "lot": c["lot"], "outcome": c["outcome"], "onset_at": _iso(c["onset_at"]),
              "received_at": _iso(c["received_at"]), "serious": bool(c["serious"]), "criteria": criteria_of(c),
              "cluster_id": c["cluster_id"] if isinstance(c["cluster_id"], str) else None,
              "cluster_case_id": c["cluster_case_id"] if isinstance(c["cluster_case_id"], str) else None,
              "submission_id": int(c["submission_id"]), "row_number": int(c["row_number"])}
             for c in a.cases.to_dict("records")]
    inv = [{"case_id": r["case_id"], "kind": r["kind"], "members": list(r["members"]), "district": r["district"],
            "facility_code": r["facility_code"],
            "product": r["product"], "lot": r["lot"], "criteria": list(r["criteria"]),
            "opens_at": _iso(r["opens_at"]), "due_at": _iso(r["due_at"]), "completed_at": _iso(r["completed_at"]),
            "state": r["state"], "state_text": STATE_WORDS[r["state"]], "hours_left": r["hours_left"],
            "causality": r["causality"], "causality_text": _label("aefi_causality", r["causality"])}
           for r in a.investigations.to_dict("records")]
    rates = {level: [{**{k: (None if isinstance(v, float) and math.isnan(v) else v)
                         for k, v in row.items() if k not in ("per_100k", "serious_per_100k", "flagged")},
                      "per_100k": _num(row["per_100k"]), "serious_per_100k": _num(row["serious_per_100k"]),
                      **({"flagged": bool(row["flagged"])} if "flagged" in row else {})}
                     for row in frame.to_dict("records")] for level, frame in a.rates.items()}
    summary = a.summary()
    return {"now": a.now.isoformat(), "district": district, "summary": summary, "cases": cases, "investigations": inv, "rates": rates,
            "lots_flagged": summary["lots_flagged"]}


def render_text(js: dict[str, Any]) -> str:
    """The human lines of `campaign aefi` (stderr)."""
    s = js["summary"]
    inv = s["investigations"]
    lines = [f"AEFI as of {local(dt.datetime.fromisoformat(js['now'])):%d/%m/%Y %H:%M}: {s['cases']} cases, "
             f"{s['serious']} serious, {s['clusters']} clusters; investigations: {inv[OPEN]} open, "
             f"{inv[ON_TIME]} on time, {inv[LATE]} late, {inv[OVERDUE_CASE]} overdue; {s['doses']} doses given"]
    for r in js["investigations"]:
        due = local(dt.datetime.fromisoformat(r["due_at"]))
        members = f" [{len(r['members'])}: {', '.join(r['members'])}]" if r.get("kind") == "cluster" else ""
        lines.append(f"  {r['case_id']}{members} {r['district']} {r['facility_code'] or '-':<12} "
                     f"{r['product'] or '-'}/{r['lot'] or '-'} "
                     f"{r['state']:<21} due {due:%d/%m/%Y %H:%M} ({', '.join(r['criteria'])})"
                     + (f" causality: {r['causality']}" if r["causality"] else ""))
    for r in js["rates"].get("by_lot", []):
        rate = "-" if r["per_100k"] is None else f"{r['per_100k']:g}"
        mark = "  FLAGGED" if r.get("flagged") else ""
        lines.append(f"  lot {r['product']}/{r['lot']}: {r['cases']} cases ({r['serious']} serious) / {r['doses']} doses"
                     f" = {rate} per 100,000{mark}")
    return "\n".join(lines)


def report_lines(summary: dict[str, Any]) -> list[str]:
    """The report's AEFI sentences (sections II.3/II.4), in Vietnamese, from `rules.summary`."""
    inv = summary["investigations"]
    lines = [f"Phản ứng sau tiêm chủng: {summary['cases']} trường hợp, trong đó {summary['serious']} tai biến nặng"
             + (f" ({summary['clusters']} cụm ca)" if summary["clusters"] else "") + "."]
    if summary["serious"]:
        lines.append(f"Điều tra tai biến nặng (trong 24 giờ): {inv[ON_TIME]} đúng hạn, {inv[LATE]} quá hạn, "
                     f"{inv[OPEN]} đang điều tra, {inv[OVERDUE_CASE]} quá hạn chưa có báo cáo.")
    if summary["lots_flagged"]:
        lines.append("Lô vắc xin có tỷ lệ phản ứng vượt ngưỡng, cần rà soát: " + ", ".join(summary["lots_flagged"]) + ".")
    return lines


def artifact_rows(js: dict[str, Any]) -> list[dict[str, Any]]:
    """The watch's AEFI table (a Prefect artifact): one row per serious case and per lot flagged; case ids,
    codes and times only (no personal data)."""
    rows = [{"ca": r["case_id"], "huyện": r["district"], "cơ sở": r["facility_code"] or "-",
             "vắc xin/lô": f"{r['product'] or '-'}/{r['lot'] or '-'}", "tiêu chí": ", ".join(r["criteria"]),
             "hạn điều tra": f"{local(dt.datetime.fromisoformat(r['due_at'])):%d/%m/%Y %H:%M}",
             "tình trạng": STATE_WORDS[r["state"]]} for r in js["investigations"]]
    rows += [{"ca": "-", "huyện": "-", "cơ sở": "-", "vắc xin/lô": f"{r['product']}/{r['lot']}",
              "tiêu chí": f"{r['cases']} ca ({r['serious']} nặng) / {r['doses']} liều",
              "hạn điều tra": "-", "tình trạng": "lô vượt ngưỡng, cần rà soát"}
             for r in js["rates"].get("by_lot", []) if r.get("flagged")]
    return rows
