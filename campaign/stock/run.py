"""Stock's steps: reconcile what is in force (for the CLI, the report and the board) and check an incoming
stock file at intake against what is already in force."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from campaign.config import CampaignConfig
from campaign.stock import present, rules, store

# a new file's rows win over what is stored for the same facility, lot and day (the sort key's last)
_NEW = 10**12


def per_vial(campaign: CampaignConfig) -> dict[str, int]:
    return {p: v.doses_per_vial for p, v in campaign.vaccine_products.items()}


def reconcile_current(session: Session, campaign: CampaignConfig, *, districts: list[str] | None = None,
                      as_of: dt.date | None = None) -> rules.Reconciliation:
    """The reconciliation of the ledgers in force against the results in force (count once: every output
    reads this)."""
    districts = districts or campaign.district_codes
    ledger = store.load_ledger(session, districts)
    if ledger.empty:   # no ledger in force: nothing to reconcile (rules.reconcile cannot key an empty frame)
        return _nothing(ledger)
    given = store.doses_given(session, districts)
    when = as_of or (pd.to_datetime(ledger["report_date"]).max().date() if len(ledger) else dt.date.today())
    pace = store.planned_pace(session, districts, when)
    return rules.reconcile(ledger, given, per_vial(campaign), pace=pace, as_of=when,
                           sessions_per_day=len(campaign.teams.sessions))


# rules._indicators' columns (an empty reconciliation keeps the shape its readers expect)
_INDICATOR_COLUMNS = ["district", "facility_code", "product", "days", "first_day", "last_day", "vials_received",
                      "vials_issued", "vials_used", "vials_damaged", "vials_expired", "capacity", "doses_supplied",
                      "doses_given", "wasted_open", "wasted_closed", "wastage_rate", "open_vial_rate", "closed_vial_rate",
                      "stockout_days", "closing_vials", "usable_doses", "pace", "days_left", "discrepancy_days"]


def _nothing(ledger: pd.DataFrame) -> rules.Reconciliation:
    """The reconciliation of no ledger (added by `reports`: a report or board before any ledger arrived)."""
    return rules.Reconciliation(days=ledger, findings=pd.DataFrame({c: pd.Series(dtype=object)
                                                                    for c in rules.FINDING_COLUMNS}),
                                indicators=pd.DataFrame({c: pd.Series(dtype=object) for c in _INDICATOR_COLUMNS}))


def summary_current(session: Session, campaign: CampaignConfig, *, districts: list[str] | None = None,
                    as_of: dt.date | None = None) -> dict:
    """The pure summary the report (II.3/II.4) and the board show, with its discrepancy lines."""
    rec = reconcile_current(session, campaign, districts=districts, as_of=as_of)
    out = rules.summarize(rec)
    out["lines"] = present.finding_lines(rec.findings)
    return out


def planner_stock(session: Session, campaign: CampaignConfig, districts: list[str], snapshot: pd.DataFrame
                  ) -> pd.DataFrame:
    """The stock the planner plans from: the reconciled balance where a facility keeps a ledger."""
    ledger = store.load_ledger(session, districts)
    if ledger.empty:
        return snapshot
    rec = rules.reconcile(ledger, store.doses_given(session, districts), per_vial(campaign),
                          sessions_per_day=len(campaign.teams.sessions))
    return rules.replace_stock(snapshot, rules.balance_for_plan(rec.days))


def intake_issues(session: Session, campaign: CampaignConfig, district: str, kind: str, clean: pd.DataFrame,
                  loaded: np.ndarray, today: dt.date) -> pd.DataFrame:
    """Warnings (row, column, code, severity, detail) about an incoming stock file's rows that load
    (`loaded`: per row of `clean`): a ledger is reconciled with the district's ledger in force (earlier days
    of the same facilities) and the results in force; a snapshot row against its own figures."""
    new = clean.assign(district=district, row=np.arange(len(clean)), submission_id=_NEW)[np.asarray(loaded, bool)]
    if new.empty:
        return present.finding_issues(rules.reconcile(new, None, per_vial(campaign)).findings)
    if kind == rules.SNAPSHOT:
        rec = rules.reconcile(rules.ledger_of_snapshot(new, today), None, per_vial(campaign))
        finds = rec.findings[~rec.findings["code"].isin([rules.DOSES, rules.OPENING])]
        return present.finding_issues(finds)
    earlier = store.load_ledger(session, [district], sorted(set(new["facility_code"].dropna())))
    earlier = earlier.assign(row=-1)
    both = pd.concat([earlier, new[[c for c in new.columns if c in {*earlier.columns, "row", "submission_id"}]]],
                     ignore_index=True)
    rec = rules.reconcile(both, store.doses_given(session, [district]), per_vial(campaign),
                          sessions_per_day=len(campaign.teams.sessions))
    finds = rec.findings[rec.findings["submission_id"] == _NEW]
    return present.finding_issues(finds)
