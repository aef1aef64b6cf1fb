"""Building the master list (what the Prefect task calls): read the current target lists, link the rows
that are the same person (`dedupe`: exact keys, the Splink model, rules outside the model, reviewers'
decisions), give every person a stable id, judge eligibility and priority, order the invitations, and
replace the current list in one transaction, with the run's figures per district. The trained model is
stored (`linkage_models`) and reused until `retrain=True` (or the list has grown `RETRAIN_GROWTH` times).
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from campaign.config import CampaignConfig
from campaign.master_list import store
from campaign.master_list.dedupe import model as linkage_model
from campaign.master_list.dedupe.clusters import Thresholds, active_decisions, assign_person_ids, cluster
from campaign.master_list.dedupe.eligibility import PriorityRules, people
from campaign.master_list.dedupe.engines import LinkageEngine, from_settings
from campaign.master_list.rules import (
    RETRAIN_GROWTH,
    MasterListResult,
    district_stats,
    link_events,
    next_person_number,
    statuses,
)
from campaign.timing import Stopwatch


def build(engine: Engine, campaign: CampaignConfig, *, as_of: dt.datetime, flow_run_id: str | None = None,
          retrain: bool = False, cache_dir: Path | None = None, cache_key: bytes | None = None,
          linkage: LinkageEngine | None = None) -> MasterListResult:
    """Build the master list from the current target lists and make it the current one (with
    `cache_dir`, the records of submissions prepared by an earlier run are reused; sealed with `cache_key`,
    by default the settings' `campaign.files.cache_key`). Splink runs on `linkage`, by default the campaign
    YAML's `master_list.engine` placed by the settings (`engines.from_settings`); nothing else depends on it."""
    rules = campaign.master_list
    linkage = linkage if linkage is not None else _engine_of(campaign)
    watch = Stopwatch()
    with Session(engine) as session, session.begin():
        with watch.stage("records"):   # read and prepared, or reused per submission
            subs, records, events, reuse = store.current_records(session, cache_dir, cache_key)
        with watch.stage("read"):
            decisions = store.read_decisions(session)
            known = store.known_keys(session)
        stored = None if retrain else store.current_model(session)
        if stored is not None and len(records) > RETRAIN_GROWTH * max(stored.trained_rows, 1):
            stored = None   # trained on a much smaller list (say, the first district's): train again
        trained = stored is None
        if trained:
            with watch.stage("train"):
                started = time.perf_counter()
                t = rules.training
                training = linkage_model.Training(u_max_pairs=t.u_max_pairs, em_max_pairs=t.em_max_pairs,
                                                  seed=t.seed, m_floor=t.m_floor)
                model = linkage_model.train(records, training, linkage) if len(records) > 1 else {}
                stored = store.add_model(session, model, trained_rows=len(records),
                                         seconds=time.perf_counter() - started)
        with watch.stage("score"):
            thresholds = Thresholds(match=rules.match_threshold, review=rules.review_threshold)
            pairs = linkage_model.score(records, stored.model, min_probability=thresholds.review,
                                        engine=linkage) if len(records) > 1 else linkage_model.empty_pairs()
        with watch.stage("cluster"):
            clustering = cluster(records, pairs, active_decisions(decisions), thresholds)
            labels = clustering.cluster
            person_of_record, remember, _ = assign_person_ids(
                records, labels, known, next_person_number(known["person_id"], rules.person_id_prefix),
                prefix=rules.person_id_prefix)
        with watch.stage("eligibility"):
            prio = PriorityRules(order=tuple(rules.priority_order), age_group=rules.age_group,
                                 age_group_min_age=rules.age_group_min_age,
                                 outbreak_communes=frozenset(campaign.outbreak_communes),
                                 product_doses={k: v.doses for k, v in campaign.vaccine_products.items()})
            persons = people(records, person_of_record, link_events(records, events),
                             campaign_date=campaign.campaign.campaign_date,
                             min_age=campaign.campaign.min_age_years, rules=prio)
            sizes = np.bincount(labels)[labels] if len(labels) else np.array([], dtype=np.int64)
            review = clustering.review
            in_review = np.zeros(len(records), dtype=bool)
            in_review[review["record_id_l"].to_numpy()] = True
            in_review[review["record_id_r"].to_numpy()] = True
            status = statuses(persons, person_of_record, sizes, in_review)
            stats = district_stats(records, labels, status, persons)
        with watch.stage("write"):
            run = store.add_run(session, flow_run_id=flow_run_id, as_of=as_of, model_id=stored.id, trained=trained,
                                rows=len(records), persons=len(persons), review_pairs=len(review),
                                inputs=[int(i) for i in subs["submission_id"]], stats=stats)
            store.write_list(session, run.id, records, person_of_record, status, sizes, persons, review, remember,
                             known)
        run.seconds = {k: round(v, 3) for k, v in watch.seconds.items()}
        result = MasterListResult(run_id=run.id, as_of=as_of, trained=trained, model_id=stored.id,
                                  rows=len(records), persons=len(persons), review_pairs=len(review),
                                  inputs=list(run.inputs), stats=stats, seconds=dict(watch.seconds),
                                  peak_mib=max(watch.peak_mib.values(), default=0.0),
                                  submissions_reused=reuse["reused"], engine=linkage.name)
    return result


def _engine_of(campaign: CampaignConfig) -> LinkageEngine:
    name = campaign.master_list.engine
    if name == "duckdb":
        return from_settings(name, None)
    from campaign.settings import get_settings

    return from_settings(name, get_settings())
