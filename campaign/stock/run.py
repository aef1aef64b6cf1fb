"""Stock's steps: reconcile what is in force (for the CLI, the report and the board) and check an incoming
stock file at intake against what is already in force."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from campaign import clock
from campaign.config import CampaignConfig
from campaign.stock import present, rules, store

# a new file's rows win over what is stored for the same facility, lot and day (the sort key's last)
_NEW = 10**12


def per_vial(campaign: CampaignConfig) -> dict[str, int]:
    return {p: v.doses_per_vial for p, v in campaign.vaccine_products.items()}


def cutoff(as_of: dt.datetime | dt.date | None) -> dt.datetime:
    """The instant a read counts submissions up to: `as_of` (timezone-aware), a day's end in
    Asia/Ho_Chi_Minh for a plain date, or the logical now (`campaign.clock.now`) for None."""
    if as_of is None:
        return clock.now()
    if not isinstance(as_of, dt.datetime):
        return clock.parse_instant(f"{as_of.isoformat()}T23:59:59.999999")
    return as_of


def reconcile_current(session: Session, campaign: CampaignConfig, as_of: dt.datetime | dt.date | None = None, *,
                      districts: list[str] | None = None) -> rules.Reconciliation:
    """The reconciliation of the ledgers in force against the results in force, reading only submissions
    received by `as_of` (None: now). Always the PROVINCE's run (count once: every output reads this): the
    days of stock left count from the province's last ledger day; `districts` gives that run's slice
    (`rules.slice_units`), so `campaign stock -d X` shows the figures a province report or the board shows
    for X."""
    at = cutoff(as_of)
    everywhere = list(campaign.district_codes)
    ledger = store.load_ledger(session, everywhere, as_of=at)
    if ledger.empty:   # no ledger in force: nothing to reconcile (rules.reconcile cannot key an empty frame)
        return _nothing(ledger)
    when = pd.to_datetime(ledger["report_date"]).max().date()
    rec = rules.reconcile(ledger, store.doses_given(session, everywhere, as_of=at), per_vial(campaign),
                          pace=store.planned_pace(session, everywhere, when), as_of=when,
                          sessions_per_day=len(campaign.teams.sessions),
                          reported=store.results_days(session, everywhere, as_of=at),
                          opening=store.latest_counts(session, everywhere, as_of=at))
    return rec if districts is None else rules.slice_units(rec, districts)


# rules._indicators' columns (an empty reconciliation keeps the shape its readers expect)
_INDICATOR_COLUMNS = ["district", "facility_code", "product", "days", "first_day", "last_day", "vials_received",
                      "vials_issued", "vials_used", "vials_damaged", "vials_expired", "capacity", "doses_supplied",
                      "doses_given", "wasted_open", "wasted_closed", "wastage_rate", "open_vial_rate", "closed_vial_rate",
                      "stockout_days", "closing_vials", "usable_doses", "pace", "days_left", "discrepancy_days",
                      "pending_days"]


def _nothing(ledger: pd.DataFrame) -> rules.Reconciliation:
    """The reconciliation of no ledger (added by `reports`: a report or board before any ledger arrived)."""
    return rules.Reconciliation(days=ledger, findings=pd.DataFrame({c: pd.Series(dtype=object)
                                                                    for c in rules.FINDING_COLUMNS}),
                                indicators=pd.DataFrame({c: pd.Series(dtype=object) for c in _INDICATOR_COLUMNS}))


def summary_current(session: Session, campaign: CampaignConfig, as_of: dt.datetime | dt.date | None = None, *,
                    districts: list[str] | None = None) -> dict:
    """The pure summary the report (II.3/II.4) and the board show, with its discrepancy lines."""
    rec = reconcile_current(session, campaign, as_of, districts=districts)
    out = rules.summarize(rec)
    out["lines"] = present.finding_lines(rec.findings)
    return out


def planner_stock(session: Session, campaign: CampaignConfig, districts: list[str], snapshot: pd.DataFrame,
                  as_of: dt.datetime | dt.date | None = None) -> pd.DataFrame:
    """The stock the planner plans from: the reconciled balance where a facility keeps a ledger (submissions
    received by `as_of`, None: now)."""
    at = cutoff(as_of)
    ledger = store.load_ledger(session, districts, as_of=at)
    if ledger.empty:
        return snapshot
    rec = rules.reconcile(ledger, store.doses_given(session, districts, as_of=at), per_vial(campaign),
                          sessions_per_day=len(campaign.teams.sessions),
                          reported=store.results_days(session, districts, as_of=at),
                          opening=store.latest_counts(session, districts, as_of=at))
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
    # what is in force at the moment of intake (every stored submission); a day whose results are not in
    # yet is pending (no warning): the report and the CLI reconcile it once they arrive
    rec = rules.reconcile(both, store.doses_given(session, [district]), per_vial(campaign),
                          sessions_per_day=len(campaign.teams.sessions),
                          reported=store.results_days(session, [district]),
                          opening=store.latest_counts(session, [district]))
    finds = rec.findings[rec.findings["submission_id"] == _NEW]
    return present.finding_issues(finds)


def intake_check(session: Session, district: str, campaign: CampaignConfig, clean: pd.DataFrame,
                 loaded: pd.Series | np.ndarray, *, kind: str, today: dt.date) -> pd.DataFrame:
    """The stock kinds' after-gate check of the intake registry (`campaign.intake.run.KIND_CHECKS`):
    `intake_issues` in the registry's signature."""
    return intake_issues(session, campaign, district, kind, clean, np.asarray(loaded, dtype=bool), today)
