"""Sections II.3/II.4's campaign-day parts, pure: the figures `campaign.reports.during.load_during` read once
(each item's own function) in, a unit's tables and lines out. Nothing is counted here: every figure is a
row of an item's frame or the output of the item's own summary function on a slice of it (count once), so
the report shows the numbers of `campaign results-daily|doses|stock|aefi --json`.

    parts(during, level, unit, districts, facility, names, facility_names) -> DuringParts
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from campaign import clock
from campaign.aefi import present as aefi_present
from campaign.aefi import rules as aefi_rules
from campaign.daily_results import present as daily_present
from campaign.daily_results.rules import DailyFigures
from campaign.doses import present as doses_present
from campaign.reports.model import Table
from campaign.stock import present as stock_present
from campaign.stock import rules as stock_rules
from campaign.vocabulary import campaign_days_columns, campaign_days_word, level_label

STOCK_LINES_SHOWN = 50   # discrepancy lines printed in a report; the rest are counted in a note


@dataclass
class DuringParts:
    ii3_paragraphs: list[str] = field(default_factory=list)
    ii3_tables: list[Table] = field(default_factory=list)
    ii4_paragraphs: list[str] = field(default_factory=list)
    ii4_tables: list[Table] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)   # report.figures["during"]


def _pct(v: Any) -> str:
    return "-" if v is None else f"{v * 100:.1f}%".replace(".", ",")


def _num(v: Any) -> Any:
    return None if v is None or (isinstance(v, float) and pd.isna(v)) else v


def _scoped(frame: pd.DataFrame, districts: list[str], facility: str | None) -> pd.DataFrame:
    if frame is None or frame.empty:
        return frame
    out = frame[frame["district"].isin(districts)] if "district" in frame else frame
    if facility is not None and "facility_code" in out:
        out = out[out["facility_code"] == facility]
    return out


# ---------------------------------------------------------------------------------------------------------
# Daily results (campaign.daily_results): completeness, timeliness, vaccinated vs invited, no-shows, walk-ins
# ---------------------------------------------------------------------------------------------------------


def daily_part(fig: DailyFigures | None, days: list, level: str, unit: str, districts: list[str],
               facility: str | None, names: dict[str, str], facility_names: dict[str, str], as_of: Any,
               ) -> tuple[Table | None, list[dict[str, Any]]]:
    """The daily results table of the unit and its figures per day (the same dicts as
    `campaign results-daily --json`: the province's, the district's or the facility's row)."""
    if fig is None or not days:
        return None, []
    # a facility's report needs no district totals (and ~300 of them are built from one read)
    scoped = DailyFigures(facilities=_scoped(fig.facilities, districts, facility),
                          districts=fig.districts.iloc[0:0] if facility is not None
                          else fig.districts[fig.districts["district"].isin(districts)])
    if level == "province":
        table = daily_present.report_table(scoped, names, level="province")
    else:
        table = daily_present.report_table(scoped, facility_names, level="district", unit=districts[0])
    doc = daily_present.figures_json(scoped, as_of, days)
    key = {"province": "province", "district": "districts", "facility": "facilities"}[level]
    per_day = []
    for day in doc["days"]:
        row = day[key] if level == "province" else (day[key][0] if day[key] else None)
        if row:        # a day without a session or result of the unit has no figures (as the command's JSON)
            per_day.append({"date": day["date"], **row})
    return Table(table["title"], table["columns"], table["rows"], table.get("note")), per_day


# ---------------------------------------------------------------------------------------------------------
# Doses linked to people (campaign.doses): linked / unlinked / ambiguous / conflicts per district
# ---------------------------------------------------------------------------------------------------------

DOSE_COLUMNS = ["rows", "linked", "linked_by_id", "linked_by_model", "unlinked", "ambiguous", "conflicts"]


def doses_part(stats: dict[str, Any], level: str, districts: list[str], names: dict[str, str],
               ) -> tuple[Table | None, dict[str, Any]]:
    if not stats:
        return None, {}
    s = doses_present.summary(stats, names)
    rows = [r for r in s["districts"] if r["district"] in districts]
    figure = s["province"] if level == "province" else (rows[0] if rows else {})
    table = Table(campaign_days_word("doses_title")
                  + (campaign_days_word("doses_title_facility") if level == "facility" else ""),
                  [campaign_days_word("district"), *campaign_days_columns("doses_columns")],
                  [[f"{r.get('name') or r['district']} ({r['district']})", *[int(r.get(c, 0) or 0) for c in DOSE_COLUMNS]]
                   for r in rows])
    return table, {k: v for k, v in figure.items() if k not in ("name",)}


# ---------------------------------------------------------------------------------------------------------
# Stock reconciliation (campaign.stock): balance, discrepancies (file and row), wastage, stock-out, days left
# ---------------------------------------------------------------------------------------------------------



def _stock_row(block: dict[str, Any], days_left: Any) -> list[Any]:
    return [block["facilities"], block["doses_supplied"], block["doses_given"], _pct(block["wastage_rate"]),
            block["closing_vials"], block["usable_doses"], block["stockout_days"],
            "-" if _num(days_left) is None else round(float(days_left), 1), block["discrepancies"]]


def stock_part(rec: stock_rules.Reconciliation, level: str, districts: list[str], facility: str | None,
               names: dict[str, str]) -> tuple[list[Table], list[str], dict[str, Any]]:
    """Per district (province) or per facility (district, facility): the stock summary's blocks
    (`campaign.stock.rules.summarize` on the unit's slice), and one line per discrepancy naming its file
    (submission) and row."""
    # summarize reads the indicators and findings only: the day rows are not sliced
    scoped = stock_rules.Reconciliation(days=rec.days.iloc[0:0],
                                        findings=_scoped(rec.findings, districts, facility),
                                        indicators=_scoped(rec.indicators, districts, facility))
    if scoped.indicators.empty and scoped.findings.empty:
        return [], [], {}
    summary = stock_rules.summarize(scoped)
    ind = scoped.indicators
    key = "district" if level == "province" else "facility_code"
    units = sorted(set(ind[key].dropna()) | set(scoped.findings[key].dropna()))
    rows = []
    for u in units:
        part = stock_rules.Reconciliation(days=scoped.days,
                                          findings=scoped.findings[scoped.findings[key] == u],
                                          indicators=ind[ind[key] == u])
        block = stock_rules.summarize(part)["province"]
        left = ind[ind[key] == u]["days_left"].min() if len(ind) else None
        rows.append([f"{names.get(u, u)} ({u})" if key == "district" else u, *_stock_row(block, left)])
    table = Table(campaign_days_word("stock_title").format(unit=_unit_kind(key)),
                  [campaign_days_word("unit"), *campaign_days_columns("stock_columns")], rows)
    lines = stock_present.finding_lines(scoped.findings)
    # the unit's block: the province's, the district's (as `campaign stock --json -d`), or the facility slice's
    figure = summary["districts"].get(districts[0], summary["province"]) if level == "district" else summary["province"]
    found = [Table(campaign_days_word("stock_findings_title"), [campaign_days_word("stock_findings_column")],
                   [[x] for x in lines[:STOCK_LINES_SHOWN]],
                   None if len(lines) <= STOCK_LINES_SHOWN
                   else campaign_days_word("stock_findings_more").format(n=len(lines) - STOCK_LINES_SHOWN))] if lines else []
    return [table, *found], lines, {**figure, "lines": lines}


# ---------------------------------------------------------------------------------------------------------
# AEFI (campaign.aefi): cases, serious per the AEFI rules, investigations by state, rates, flagged lots
# ---------------------------------------------------------------------------------------------------------

def _unit_kind(key: str) -> str:
    """"huyện" or "cơ sở": the unit a table has a row per (the vocabulary's short level names)."""
    return level_label("district" if key == "district" else "facility", form="short")


def _aefi_slice(a: Any, districts: list[str], facility: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    return _scoped(a.cases, districts, facility), _scoped(a.investigations, districts, facility)


def _aefi_row(summary: dict[str, Any]) -> list[int]:
    inv = summary["investigations"]
    return [summary["cases"], summary["serious"], inv[aefi_rules.OPEN], inv[aefi_rules.ON_TIME],
            inv[aefi_rules.LATE], inv[aefi_rules.OVERDUE_CASE]]


def aefi_part(a: Any, level: str, districts: list[str], facility: str | None, names: dict[str, str],
              ) -> tuple[list[Table], list[str], dict[str, Any]]:
    """`campaign.aefi.rules.summary` of the unit (the figures of `campaign aefi --json`), per district or
    facility, the serious cases with their 24-hour clock (case id, facility, lot: no personal data) and the
    rates per 100,000 doses."""
    if a is None:
        return [], [], {}
    cases, inv = _aefi_slice(a, districts, facility)
    summary = aefi_rules.summary(cases, inv, a.rates, None)
    key = "district" if level == "province" else "facility_code"
    units = sorted(set(cases[key].dropna())) if len(cases) else []
    rows = []
    for u in units:
        s = aefi_rules.summary(cases[cases[key] == u], inv[inv[key] == u] if len(inv) else inv, a.rates, None)
        rows.append([f"{names.get(u, u)} ({u})" if key == "district" else u, *_aefi_row(s)])
    tables = [Table(campaign_days_word("aefi_title").format(unit=_unit_kind(key)),
                    [campaign_days_word("unit"), *campaign_days_columns("aefi_columns")], rows)] if rows else []
    if len(inv):
        tables.append(Table(campaign_days_word("aefi_investigations_title"),
                            campaign_days_columns("aefi_investigations_columns"),
                            [[r["case_id"], r["district"], r["facility_code"] or "-",
                              f"{r['product'] or '-'}/{r['lot'] or '-'}", _case_source(cases, r),
                              f"{clock.local(pd.Timestamp(r['due_at']).to_pydatetime()):%d/%m/%Y %H:%M}",
                              aefi_present.STATE_WORDS[r["state"]]] for r in inv.to_dict("records")]))
    by_product = a.rates.get("by_product", pd.DataFrame())
    if len(by_product) and summary["cases"]:
        tables.append(Table(campaign_days_word("aefi_rates_title"), campaign_days_columns("aefi_rates_columns"),
                            [[r["product"], int(r["doses"]), int(r["cases"]), int(r["serious"]), _num(r["per_100k"]),
                              _num(r["serious_per_100k"])] for r in by_product.to_dict("records")]))
    return tables, aefi_present.report_lines(summary), summary


def _case_source(cases: pd.DataFrame, inv: dict[str, Any]) -> str:
    """Where an investigation's case came from (file and row); a cluster's: each member's."""
    hit = cases[cases["case_id"].isin(list(inv.get("members") or [inv["case_id"]]))] if len(cases) else cases
    if hit.empty:
        return "-"
    where = "; ".join(campaign_days_word("source_row").format(submission=int(r["submission_id"]), row=int(r["row_number"]))
                      for r in hit.sort_values(["submission_id", "row_number"]).to_dict("records"))
    if inv.get("kind") == "cluster":
        return campaign_days_word("cluster_members").format(n=len(hit), members=where)
    return where


# ---------------------------------------------------------------------------------------------------------
# The unit's parts
# ---------------------------------------------------------------------------------------------------------


def parts(during: Any, *, level: str, unit: str, districts: list[str], facility: str | None,
          names: dict[str, str], facility_names: dict[str, str], as_of: Any) -> DuringParts:
    out = DuringParts()
    if during is None:
        return out
    daily, per_day = daily_part(during.daily, during.days, level, unit, districts, facility, names,
                                facility_names, as_of)
    doses, dose_fig = doses_part(during.doses, level, districts, names)
    stock_tables, stock_lines, stock_fig = stock_part(during.stock, level, districts, facility, names)
    aefi_tables, aefi_lines, aefi_fig = aefi_part(during.aefi, level, districts, facility, names)
    if daily is not None:
        out.ii4_tables.append(daily)
    else:
        out.ii4_paragraphs.append(campaign_days_word("no_session_day"))
    if doses is not None:
        out.ii3_tables.append(doses)
    else:
        out.ii3_paragraphs.append(campaign_days_word("no_dose_link"))
    out.ii3_paragraphs += aefi_lines
    out.ii3_tables += aefi_tables
    if stock_fig:
        out.ii4_paragraphs += stock_present.summary_lines(stock_fig, _unit_word(level, unit, names))
        out.ii4_tables += stock_tables
    else:
        out.ii4_paragraphs.append(campaign_days_word("no_stock_ledger"))
    out.figures = {"daily_results": per_day, "doses": dose_fig, "stock": {k: v for k, v in stock_fig.items()},
                   "aefi": aefi_fig}
    return out


def _unit_word(level: str, unit: str, names: dict[str, str]) -> str:
    return {"province": campaign_days_word("whole_province"), "district": names.get(unit, unit)}.get(level, unit)



def aefi_by_unit(during: Any, key: str, districts: list[str], facility: str | None) -> dict[str, tuple[int, int]]:
    """Per district or facility (`key`): (cases, serious) from `campaign.aefi.rules.summary` (the progress
    table's AEFI columns; serious per the AEFI rules, not the file's own «Tai biến nặng» cell)."""
    if during is None or during.aefi is None:
        return {}
    cases, inv = _aefi_slice(during.aefi, districts, facility)
    out = {}
    for u in sorted(set(cases[key].dropna())) if len(cases) else []:
        s = aefi_rules.summary(cases[cases[key] == u], inv.iloc[0:0] if inv is None or inv.empty else inv[inv[key] == u],
                               during.aefi.rates, None)
        out[u] = (s["cases"], s["serious"])
    return out
