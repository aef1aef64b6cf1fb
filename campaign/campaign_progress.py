"""The campaign's progress columns beside the report's daily progress table (issue 20.5): per district (the
province's table) or per facility (a district's table), the day's completeness and timeliness of results
(`campaign.daily_results`), the stock ledgers reconciled (`campaign.stock`) and AEFI (`campaign.aefi`).
Every figure comes from the item's own function, the same one its CLI's `--json` prints (count once); this
module only puts them side by side."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from campaign import clock
from campaign.config import CampaignConfig
from campaign.vocabulary import campaign_days_text
from campaign.vocabulary import campaign_days_word as _word

DASH = "—"
# the columns' titles: config/vocabulary.yaml, `campaign_days.progress_*`
DAILY = {"completeness_pct": _word("progress_completeness"), "timeliness_pct": _word("progress_timeliness")}
STOCK = {"closing_vials": _word("progress_closing_vials"), "discrepancies": _word("progress_discrepancies"),
         "stockout_days": _word("progress_stockout_days")}
AEFI = {"cases": _word("progress_aefi_cases"), "serious": _word("progress_aefi_serious"),
        "overdue": _word("progress_aefi_overdue")}


@dataclass(frozen=True)
class Figures:
    day: dt.date
    daily: pd.DataFrame          # daily_results DailyFigures.districts of `day`
    daily_facilities: pd.DataFrame
    stock: dict[str, Any]        # stock.rules.summarize
    stock_facilities: pd.DataFrame
    aefi: Any                    # aefi.run.assess (its .summary(districts) = aefi_summary)


def stock_reconciled(session: Session, campaign: CampaignConfig, as_of: dt.datetime | None = None
                     ) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """`campaign stock --json`'s reconciliation and summary (`stock.run.reconcile_current`, `rules.summarize`):
    (summary, indicators, findings). A ledger without results yet is still reconciled (its balance, expiry,
    stock-out days); with no ledger in force the reconciliation is empty."""
    from campaign.stock import rules as stock_rules
    from campaign.stock.run import reconcile_current

    rec = reconcile_current(session, campaign, as_of=as_of)
    return stock_rules.summarize(rec), rec.indicators, rec.findings


def read(session: Session, campaign: CampaignConfig, at: dt.datetime) -> Figures:
    """The figures of the day of `at` (Gia Lai time), as of `at`."""
    from campaign.aefi.run import assess
    from campaign.daily_results import run as daily

    day = clock.local(at).date()
    if campaign.daily_results is not None:
        fig = daily.figures(session, campaign, at, [day])
        districts, facilities = fig.districts, fig.facilities
    else:
        districts = facilities = pd.DataFrame(columns=["district", "facility_code", "date"])
    summary, indicators, findings = stock_reconciled(session, campaign, at)
    per_facility = pd.DataFrame(columns=["facility_code", "closing_vials", "discrepancies", "stockout_days"])
    if len(indicators):
        per_facility = indicators.groupby("facility_code")[["closing_vials", "stockout_days"]].sum()
        finds = findings.groupby("facility_code").size() if len(findings) else pd.Series(dtype="int64")
        per_facility = per_facility.assign(discrepancies=finds.reindex(per_facility.index).fillna(0).astype(int))
    return Figures(day, districts, facilities, summary, per_facility,
                   assess(session, campaign, at) if campaign.aefi is not None else None)


def _pct(v: Any) -> Any:
    return DASH if v is None or (isinstance(v, float) and pd.isna(v)) else v


def district_columns(f: Figures, district: str) -> dict[str, Any]:
    """The columns of one district's row in the province's progress table."""
    out: dict[str, Any] = {}
    mine = f.daily[f.daily["district"] == district] if len(f.daily) else f.daily
    for k, label in DAILY.items():
        out[label] = _pct(mine.iloc[0][k]) if len(mine) else DASH
    block = f.stock["districts"].get(district)
    for k, label in STOCK.items():
        out[label] = block[k] if block else DASH
    s = f.aefi.summary([district]) if f.aefi is not None else None
    out[AEFI["cases"]] = s["cases"] if s else DASH
    out[AEFI["serious"]] = s["serious"] if s else DASH
    out[AEFI["overdue"]] = s["investigations"]["overdue"] if s else DASH
    return out


def facility_columns(f: Figures, facility: str) -> dict[str, Any]:
    """The columns of one facility's row in a district's progress table (AEFI is the district's: see the
    table's description)."""
    out: dict[str, Any] = {}
    mine = f.daily_facilities[f.daily_facilities["facility_code"] == facility] if len(f.daily_facilities) else f.daily_facilities
    out[_word("progress_daily_state")] = mine.iloc[0]["state"] if len(mine) else DASH
    for k, label in DAILY.items():
        out[label] = _pct(mine.iloc[0][k]) if len(mine) else DASH
    row = f.stock_facilities.loc[facility] if facility in f.stock_facilities.index else None
    for k, label in STOCK.items():
        out[label] = int(row[k]) if row is not None else DASH
    return out


def aefi_words(f: Figures, district: str) -> str:
    if f.aefi is None:
        return ""
    s = f.aefi.summary([district])
    return campaign_days_text("progress_aefi_words", cases=s["cases"], serious=s["serious"],
                              overdue=s["investigations"]["overdue"])
