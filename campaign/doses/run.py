"""Doses linked to people, the step a Prefect task calls (after the intake of results and backfill, after
the master list, before planning): read, link (ID first, then the master list's model), build each
person's dose history, find its conflicts, set the master list's dose fields (eligibility, next dose, the
dose it counts from), record it all in one transaction with the figures per district."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from campaign.config import CampaignConfig
from campaign.doses import fuzzy, rules, store
from campaign.store.db import write_session
from campaign.timing import Stopwatch


@dataclass
class DoseLinkResult:
    run_id: int
    as_of: dt.datetime
    master_run_id: int | None
    rows: int
    linked: int
    unlinked: int
    ambiguous: int
    conflicts: int
    persons_changed: int
    stats: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)
    peak_mib: float = 0.0


def _with_communes(back: pd.DataFrame) -> pd.DataFrame:
    """Backfill rows name their commune: its code, resolved within the row's district (else none)."""
    from campaign.domain.admin_units import get_admin_units

    back = back.assign(commune_code=None)
    if back.empty or "commune_name" not in back:
        return back
    units = get_admin_units()
    codes = pd.Series(None, index=back.index, dtype=object)
    for district, g in back.groupby("district"):
        found = units.lookup_communes(g["commune_name"], district)
        codes.loc[g.index] = found["code"].astype(object).where(found["code"].notna(), None).to_numpy(dtype=object)
    back["commune_code"] = codes.where(codes.notna(), None)
    return back


def link_frames(inputs: store.Inputs, campaign: CampaignConfig) -> tuple[pd.DataFrame, pd.DataFrame,
                                                                         pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The work on frames (no database): dose rows, their links, the history, its conflicts and the
    persons whose dose fields change."""
    ml = campaign.master_list
    thresholds = rules.Thresholds(match=ml.match_threshold, review=ml.review_threshold)
    doses = rules.dose_rows(inputs.vaccinations, _with_communes(inputs.backfill))
    records = inputs.records
    by_id = rules.id_candidates(doses, records) if len(records) else pd.DataFrame(columns=["dose", "person_id"])
    single = by_id.groupby("dose")["person_id"].nunique() if len(by_id) else pd.Series(dtype=int)
    rest = np.setdiff1d(np.arange(len(doses)), single.index.to_numpy(dtype=np.int64))
    pairs = pd.DataFrame(columns=["dose", "person_id", "match_probability", "given_disagrees", "cccd_differs"])
    if len(rest) and len(records) and inputs.model:
        sub = doses.iloc[rest].reset_index(drop=True)
        mine = fuzzy.dose_records(sub, rules.normalize_ids(sub["id_number"]))
        scored = fuzzy.score(records, mine, inputs.model, min_probability=thresholds.review)
        pairs = pd.DataFrame({"dose": rest[scored["dose"].to_numpy(dtype=np.int64)],
                              "person_id": records["person_id"].to_numpy(dtype=object)[scored["record"].to_numpy(dtype=np.int64)],
                              "match_probability": scored["match_probability"].to_numpy(),
                              "given_disagrees": scored["given_disagrees"].to_numpy(),
                              "cccd_differs": scored["cccd_differs"].to_numpy()})
        # one person's several records: the best pair per (row, person)
        pairs = pairs.sort_values("match_probability", ascending=False).drop_duplicates(["dose", "person_id"])
    links = rules.decide(len(doses), by_id, pairs, thresholds)
    listed = rules.target_doses(inputs.target, inputs.target["person_id"].to_numpy(dtype=object)) \
        if len(inputs.target) else pd.DataFrame(columns=rules.HISTORY_COLUMNS)
    history = rules.history(doses, links, listed)
    found = rules.conflicts(history)
    products = campaign.vaccine_products
    course = rules.courses(history, found, {k: v.doses for k, v in products.items()},
                           {k: tuple(v.interval_days) for k, v in products.items()})
    changes = rules.apply(inputs.persons, course) if len(inputs.persons) else inputs.persons.iloc[0:0]
    return doses, links, history, found, changes


def link(engine: Engine, campaign: CampaignConfig, *, as_of: dt.datetime, flow_run_id: str | None = None,
         cache_dir: Path | None = None, cache_key: bytes | None = None) -> DoseLinkResult:
    """Link the current results and backfill rows to the current master list and record it (see module)."""
    watch = Stopwatch()
    with write_session(engine) as session:
        with watch.stage("read"):
            inputs = store.load_inputs(session, campaign.district_codes, cache_dir, cache_key, as_of=as_of)
        with watch.stage("link"):
            doses, links, history, found, changes = link_frames(inputs, campaign)
            stats = rules.district_summary(doses, links, found)
        p = stats["province"]
        with watch.stage("write"):
            run = store.record(session, {
                "flow_run_id": flow_run_id, "as_of": as_of, "master_run_id": inputs.master_run_id,
                "rows": p["rows"], "linked": p["linked"], "unlinked": p["unlinked"], "ambiguous": p["ambiguous"],
                "conflicts": p["conflicts"], "persons_changed": int(len(changes)), "inputs": inputs.inputs,
                "stats": stats}, doses, links, history, found, changes)
        run.seconds = {k: round(v, 3) for k, v in watch.seconds.items()}
        return DoseLinkResult(run_id=run.id, as_of=as_of, master_run_id=inputs.master_run_id, rows=p["rows"],
                              linked=p["linked"], unlinked=p["unlinked"], ambiguous=p["ambiguous"],
                              conflicts=p["conflicts"], persons_changed=int(len(changes)), stats=stats,
                              seconds=dict(watch.seconds), peak_mib=max(watch.peak_mib.values(), default=0.0))
