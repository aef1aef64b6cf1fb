"""AEFI's steps (store -> rules -> words): the intake's row checks of the `aefi` and `aefi_investigation`
kinds, the assessment of the cases in force at a moment, the watch's provider of investigation
deliverables, and the one summary the report, the board and the CLI show.

    intake_checks(session, district, campaign, clean)          # campaign.intake.run.ROW_CHECKS["aefi"]
    investigation_checks(session, district, campaign, clean)   # ROW_CHECKS["aefi_investigation"]
    assess(session, campaign, now)                             # Assessment: cases, investigations, rates
    provide(session, campaign, now)                            # campaign.deadlines.run.PROVIDERS
    aefi_summary(session, campaign, now, districts=None)       # the figures of reports II.3/II.4 and the board
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from campaign.aefi import rules, store
from campaign.config import CampaignConfig
from campaign.deadlines.rules import Deliverable
from campaign.timing import Stopwatch

_NO_ISSUES = pd.DataFrame({"row": pd.Series([], dtype="int64"), "column": pd.Series([], dtype=object),
                           "code": pd.Series([], dtype=object)})


def intake_checks(session: Session, district: str, campaign: CampaignConfig, clean: pd.DataFrame) -> pd.DataFrame:
    """The WHO core variables of an AEFI file's rows (`rules.intake_issues`), against the doses given in the
    whole province (a person may have been vaccinated in another district)."""
    if campaign.aefi is None or not len(clean):
        return _NO_ISSUES
    doses = store.doses_given(session, campaign.district_codes)
    return rules.intake_issues(clean, doses, campaign.aefi.seriousness)


def investigation_checks(session: Session, district: str, campaign: CampaignConfig,
                         clean: pd.DataFrame) -> pd.DataFrame:
    """An investigation names a serious case of its own district (else a row error on the case id)."""
    if campaign.aefi is None or not len(clean):
        return _NO_ISSUES
    cases = rules.cases(store.aefi_rows(session, [district]), campaign.aefi)
    known = set(cases.loc[cases["serious"].astype(bool), "case_id"]) if len(cases) else set()
    given = clean["case_id"].astype("string").str.strip().str.upper()
    unknown = (given.notna() & ~given.isin(known)).to_numpy(dtype=bool)
    rows = pd.Series(range(len(clean)))[unknown].to_numpy()
    return pd.DataFrame({"row": rows, "column": "case_id", "code": "aefi_case_unknown"})


@dataclass
class Assessment:
    now: dt.datetime
    cases: pd.DataFrame            # rules.CASE_COLUMNS
    investigations: pd.DataFrame   # one per serious case, its clock and state at `now`
    rates: dict[str, pd.DataFrame]  # by_product, by_lot (flagged)
    timings: dict[str, float]

    def summary(self, districts: list[str] | None = None) -> dict[str, Any]:
        return rules.summary(self.cases, self.investigations, self.rates, districts)


def assess(session: Session, campaign: CampaignConfig, now: dt.datetime) -> Assessment:
    """Cases, their investigations at `now` and the rates, from the rows in force (the province's)."""
    watch = Stopwatch()
    districts = list(campaign.district_codes)
    with watch.stage("read"):
        rows, done = store.aefi_rows(session, districts), store.investigation_rows(session, districts)
        doses = store.doses_given(session, districts, as_of=now)
    with watch.stage("rules"):
        if campaign.aefi is None:   # a campaign without the block chases nothing
            rows, done, doses = rows.iloc[0:0], done.iloc[0:0], doses.iloc[0:0]
            return Assessment(now, pd.DataFrame({c: [] for c in rules.CASE_COLUMNS}), pd.DataFrame(),
                              {"by_product": pd.DataFrame(), "by_lot": pd.DataFrame()}, watch.seconds)
        case_frame = rules.cases(rows, campaign.aefi)
        inv = rules.investigations(case_frame, done, campaign.aefi.investigation, now)
        per_lot = doses.assign(doses=1).groupby(["product", "lot"], dropna=False, as_index=False)["doses"].sum() \
            if len(doses) else pd.DataFrame({"product": [], "lot": [], "doses": []})
        rate = rules.rates(case_frame, per_lot, campaign.aefi.lot_flag)
    return Assessment(now, case_frame, inv, rate, watch.seconds)


def provide(session: Session, campaign: CampaignConfig, now: dt.datetime,
            ) -> list[tuple[Deliverable, dt.datetime | None, list[str]]]:
    """The generated deliverables of AEFI (campaign.deadlines.run.PROVIDERS): one investigation report per
    serious case, owed by its district within 24 hours (Decree 104/2016), the DoH told at once."""
    if campaign.aefi is None:
        return []
    a = assess(session, campaign, now)
    inv = campaign.aefi.investigation
    return rules.deliverables(a.investigations, inv, source_text=inv.source.label(campaign.campaign.directive))


def aefi_summary(session: Session, campaign: CampaignConfig, now: dt.datetime,
                 districts: list[str] | None = None) -> dict[str, Any]:
    """The AEFI figures every output shows (`rules.summary`): the report's II.3/II.4 lines, the board,
    `campaign aefi`."""
    return assess(session, campaign, now).summary(districts)
