"""AEFI's steps (store -> rules -> words): the intake's row checks of the `aefi` and `aefi_investigation`
kinds, the assessment of the cases in force at a moment, the watch's provider of investigation
deliverables, and the one summary the report, the board and the CLI show.

    intake_checks(session, district, campaign, clean)          # campaign.intake.run.ROW_CHECKS["aefi"]
    investigation_checks(session, district, campaign, clean)   # ROW_CHECKS["aefi_investigation"]
    assess(session, campaign, as_of=None)                      # Assessment: cases, investigations, rates
    provide(session, campaign, now)                            # campaign.deadlines.run.PROVIDERS
    aefi_summary(session, campaign, as_of=None, districts=None)  # the figures of reports II.3/II.4 and the board
    with assessed_once(session, campaign, as_of) as a: ...     # one computation for a whole page (the board)

`as_of` (None: now): only the submissions received by then are read, and the clocks are read at then.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from campaign.aefi import present, rules, store
from campaign.config import CampaignConfig
from campaign.deadlines.rules import Deliverable
from campaign.timing import Stopwatch

_NO_ISSUES = pd.DataFrame({"row": pd.Series([], dtype="int64"), "column": pd.Series([], dtype=object),
                           "code": pd.Series([], dtype=object)})
_PINNED = "campaign.aefi.assessment"    # session.info key of `assessed_once`


def _moment(as_of: dt.datetime | None) -> dt.datetime:
    return dt.datetime.now(dt.UTC) if as_of is None else as_of


def intake_checks(session: Session, district: str, campaign: CampaignConfig, clean: pd.DataFrame) -> pd.DataFrame:
    """The WHO core variables of an AEFI file's rows (`rules.intake_issues`), against the doses given in the
    whole province (a person may have been vaccinated in another district)."""
    if campaign.aefi is None or not len(clean):
        return _NO_ISSUES
    doses = store.doses_given(session, campaign.district_codes)
    return rules.intake_issues(clean, doses, campaign.aefi.seriousness)


def investigation_checks(session: Session, district: str, campaign: CampaignConfig,
                         clean: pd.DataFrame) -> pd.DataFrame:
    """An investigation names what its district investigates: a case of the district serious on its own, or
    a cluster of it (its `AEFI-C-` id), or one of their ids from before the keyed hash; else a row error on
    the case id."""
    if campaign.aefi is None or not len(clean):
        return _NO_ISSUES
    # the province's cases: a cluster is found among them all (a lot crosses districts), then the district's
    cases = rules.cases(store.aefi_rows(session, list(campaign.district_codes)), campaign.aefi,
                        secret=store.case_secret())
    subjects = rules.subjects(cases)
    mine = set(subjects.loc[subjects["district"] == district, "case_id"]) if len(subjects) else set()
    known = mine | {old for old, new in rules.id_aliases(cases).items() if new in mine}
    given = clean["case_id"].astype("string").str.strip().str.upper()
    unknown = (given.notna() & ~given.isin(known)).to_numpy(dtype=bool)
    rows = pd.Series(range(len(clean)))[unknown].to_numpy()
    return pd.DataFrame({"row": rows, "column": "case_id", "code": "aefi_case_unknown"})


@dataclass
class Assessment:
    now: dt.datetime
    cases: pd.DataFrame            # rules.CASE_COLUMNS
    investigations: pd.DataFrame   # rules.INVESTIGATION_COLUMNS: one per case serious on its own, one per cluster
    rates: dict[str, pd.DataFrame]  # by_product, by_lot (flagged)
    timings: dict[str, float]

    def summary(self, districts: list[str] | None = None) -> dict[str, Any]:
        return rules.summary(self.cases, self.investigations, self.rates, districts)


def assess(session: Session, campaign: CampaignConfig, as_of: dt.datetime | None = None) -> Assessment:
    """Cases, their investigations at `as_of` and the rates, from the rows in force (the province's)
    received by `as_of` (None: now). Inside `assessed_once` for the same moment, the assessment made there."""
    now = _moment(as_of)
    pinned = session.info.get(_PINNED)
    if pinned is not None and pinned[0] is campaign and pinned[1] == now:
        return pinned[2]  # type: ignore[no-any-return]
    return compute(session, campaign, now)


def compute(session: Session, campaign: CampaignConfig, now: dt.datetime) -> Assessment:
    """The assessment itself (what `assess` gives, never reused)."""
    watch = Stopwatch()
    districts = list(campaign.district_codes)
    with watch.stage("read"):
        rows = store.aefi_rows(session, districts, now)
        done = store.investigation_rows(session, districts, now)
        doses = store.doses_given(session, districts, now)
    with watch.stage("rules"):
        if campaign.aefi is None:   # a campaign without the block chases nothing
            return Assessment(now, pd.DataFrame({c: [] for c in rules.CASE_COLUMNS}),
                              pd.DataFrame({c: [] for c in rules.INVESTIGATION_COLUMNS}),
                              {"by_product": pd.DataFrame(), "by_lot": pd.DataFrame()}, watch.seconds)
        case_frame = rules.cases(rows, campaign.aefi, secret=store.case_secret())
        inv = rules.investigations(case_frame, done, campaign.aefi.investigation, now)
        per_lot = doses.assign(doses=1).groupby(["product", "lot"], dropna=False, as_index=False)["doses"].sum() \
            if len(doses) else pd.DataFrame({"product": [], "lot": [], "doses": []})
        rate = rules.rates(case_frame, per_lot, campaign.aefi.lot_flag)
    return Assessment(now, case_frame, inv, rate, watch.seconds)


@contextlib.contextmanager
def assessed_once(session: Session, campaign: CampaignConfig, as_of: dt.datetime | None = None,
                  ) -> Iterator[Assessment]:
    """One assessment for everything read in this block with this session at this moment (a page that
    shows the AEFI figures and the deadline board, whose provider assesses too): computed here, handed to
    every `assess(session, campaign, as_of)` of the block, forgotten after it."""
    now = _moment(as_of)
    a = compute(session, campaign, now)
    before = session.info.get(_PINNED)
    session.info[_PINNED] = (campaign, now, a)
    try:
        yield a
    finally:
        if before is None:
            session.info.pop(_PINNED, None)
        else:
            session.info[_PINNED] = before


def provide(session: Session, campaign: CampaignConfig, now: dt.datetime,
            ) -> list[tuple[Deliverable, dt.datetime | None, list[str]]]:
    """The generated deliverables of AEFI (campaign.deadlines.run.PROVIDERS): one investigation report per
    case serious on its own and one per cluster, owed by its district within 24 hours (Decree 104/2016),
    the DoH told at opening. A deliverable the outbox already escalated under a case's old id (before the
    keyed hash) keeps that id, so nothing is told twice."""
    if campaign.aefi is None:
        return []
    a = assess(session, campaign, now)
    inv = campaign.aefi.investigation
    keys: dict[str, str] = {}
    sent = store.escalated_keys(session, rules.TEMPLATE)
    if sent and len(a.cases):
        for old, new in rules.id_aliases(a.cases).items():
            if old in sent and new not in sent:
                keys.setdefault(new, old)
    return rules.deliverables(a.investigations, inv, source_text=inv.source.label(campaign.campaign.directive),
                              keys=keys, subject=present.subject_words)


def aefi_summary(session: Session, campaign: CampaignConfig, as_of: dt.datetime | None = None,
                 districts: list[str] | None = None) -> dict[str, Any]:
    """The AEFI figures every output shows (`rules.summary`): the report's II.3/II.4 lines, the board,
    `campaign aefi`."""
    return assess(session, campaign, as_of).summary(districts)
