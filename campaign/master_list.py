"""The province's master target list (issue 5): one clean list of people from every district's list.

Core, no Prefect: `build` reads the current accepted `target_list` submissions of all districts, links
the rows that are the same person (`campaign.dedupe`: exact keys, the Splink model, rules outside the
model, reviewers' decisions), gives every person a stable id, judges eligibility and priority, orders the
invitations, and replaces the current master list in one transaction, with the run's figures per
district. The trained model is stored (`linkage_models`) and reused until `retrain=True`.

The review workflow lives here too: `open_pairs`, `decide`, `reverse`.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from campaign.config import CampaignConfig
from campaign.dedupe import model as linkage
from campaign.dedupe.clusters import Thresholds, active_decisions, assign_person_ids, cluster, pair_key
from campaign.dedupe.eligibility import PriorityRules, people
from campaign.dedupe.records import DOB_DOUBTS, ID_DOUBTS, INSURANCE_DOUBTS, RECORD_COLUMNS, build_records
from campaign.domain.text import fold_series
from campaign.store.current import current_submission_ids, current_submissions, frame_of
from campaign.store.models import (
    KIND_TABLES,
    LinkageModel,
    MasterListRun,
    MasterPerson,
    MasterRecord,
    PersonKey,
    ReviewDecision,
    ReviewPair,
    RowIssue,
)
from campaign.timing import Stopwatch

KIND = "target_list"
ROW_COLUMNS = ["submission_id", "sheet", "row_number", "district", "full_name", "birth_date", "sex", "phone",
               "id_number", "insurance_number", "commune_code", "workplace", "priority_group", "dose1_date",
               "dose1_product", "dose2_date"]
# The stored model is trained again once the list has grown this much since (a model fitted to one district's
# first upload must not judge the province); otherwise it is reused until `--retrain`.
RETRAIN_GROWTH = 4
CSV_COLUMNS = ["person_id", "submission_id", "row_number", "district", "status"]


class ReviewError(ValueError):
    """A review command that cannot apply (unknown pair or decision, already reversed): exit code 2."""


@dataclass
class MasterListResult:
    run_id: int
    as_of: dt.datetime
    trained: bool
    model_id: int
    rows: int
    persons: int
    review_pairs: int
    inputs: list[int]
    stats: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)
    peak_mib: float = 0.0
    submissions_reused: int = 0


# ---------------------------------------------------------------------------------------------------------
# Reading the inputs
# ---------------------------------------------------------------------------------------------------------


def load_rows(session: Session, only: list[int] | None = None
              ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The current target-list submissions, their loaded rows (with `received_at`; of the submissions
    `only` when given), the warnings intake found on them that matter for linkage, and the current
    vaccination records."""
    subs = current_submissions(session, KIND)
    ids = subs["submission_id"].tolist() if only is None else list(only)
    table = KIND_TABLES[KIND]
    if ids:
        rows = frame_of(session, select(*(table.c[c] for c in ROW_COLUMNS))
                        .where(table.c.submission_id.in_(ids)).order_by(table.c.id), ROW_COLUMNS)
        doubts = frame_of(session, select(RowIssue.submission_id, RowIssue.row_number, RowIssue.code)
                          .where(RowIssue.submission_id.in_(ids),
                                 RowIssue.code.in_(ID_DOUBTS + INSURANCE_DOUBTS + DOB_DOUBTS)),
                          ["submission_id", "row_number", "code"])
    else:
        rows = pd.DataFrame(columns=ROW_COLUMNS)
        doubts = pd.DataFrame(columns=["submission_id", "row_number", "code"])
    rows["received_at"] = rows["submission_id"].map(subs.set_index("submission_id")["received_at"])
    vsubs = current_submission_ids(session, "vaccinations")
    vt = KIND_TABLES["vaccinations"]
    vcols = ["district", "full_name", "birth_date", "id_number", "session_date", "screening_result", "vaccinated",
             "dose_number", "product"]
    events = frame_of(session, select(*(vt.c[c] for c in vcols)).where(vt.c.submission_id.in_(vsubs)), vcols) \
        if vsubs else pd.DataFrame(columns=vcols)
    return subs, rows, doubts, events


def prepare(rows: pd.DataFrame, doubts: pd.DataFrame) -> pd.DataFrame:
    """The records of loaded rows (`records.build_records`) with what eligibility needs beside them."""
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in [*RECORD_COLUMNS, "received_at", "dose2_date",
                                                                    "dose1_product"]})
    records = build_records(rows, doubts)
    records["received_at"] = rows["received_at"].to_numpy()
    records["dose2_date"] = pd.to_datetime(rows["dose2_date"], errors="coerce").to_numpy()
    records["dose1_product"] = rows["dose1_product"].to_numpy(dtype=object)
    return records


# A submission's rows never change (a correction is a new submission): its prepared records are kept per
# submission and reused by later runs, as long as the code that prepares them is the same. They hold names,
# birth dates, IDs and phones: each file is sealed (AES-256-GCM, campaign.files.seal) with a key kept
# outside the cache (CAMPAIGN_CACHE_KEY or CAMPAIGN_HOME/keys/cache.key), so a copy of the cache alone
# reveals nothing and a changed file is refused before it is unpickled (docs/data-protection.md).
RECORDS_CACHE_VERSION = hashlib.sha1(
    Path(sys.modules[build_records.__module__].__file__).read_bytes()   # type: ignore[arg-type]
    + repr(ROW_COLUMNS).encode()).hexdigest()[:12]


def _cached(cache_dir: Path, submission_id: int) -> Path:
    return cache_dir / f"records-{RECORDS_CACHE_VERSION}-{int(submission_id)}.pkl"


def cache_files_of(cache_dir: Path, submission_ids: list[int]) -> list[Path]:
    """The cache files of these submissions, of any preparation (what a purge of them deletes)."""
    wanted = {str(int(i)) for i in submission_ids}
    return sorted(p for p in cache_dir.glob("records-*-*.pkl") if p.stem.rsplit("-", 1)[-1] in wanted)


def _read_cached(path: Path, key: bytes) -> pd.DataFrame | None:
    """A submission's sealed records; None when there are none this key opens (not prepared yet, another
    key, a file from before sealing or changed since): the submission is prepared again."""
    import pickle

    from campaign.files import SealError, unseal

    try:
        return pickle.loads(unseal(path.read_bytes(), key, context=path.name.encode()))
    except (FileNotFoundError, SealError):
        return None


def _write_cached(path: Path, frame: pd.DataFrame, key: bytes) -> None:
    import pickle

    from campaign.files import seal, write_private

    write_private(path, seal(pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL), key,
                             context=path.name.encode()))


def current_records(session: Session, cache_dir: Path | None = None, cache_key: bytes | None = None
                    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """The current submissions, their records (record_id = position, in submission order) and the
    vaccination records. With `cache_dir`, only submissions not prepared before are read and prepared
    (a rebuild after one district's upload reads one district). Also how many submissions were reused.
    `cache_key`: the cache's key (default: `campaign.files.cache_key` of the settings)."""
    subs = current_submissions(session, KIND)
    ids = [int(i) for i in subs["submission_id"]]
    if cache_dir is not None and cache_key is None:
        from campaign.files import cache_key as settings_cache_key
        from campaign.settings import get_settings

        cache_key = settings_cache_key(get_settings())
    cached: dict[int, pd.DataFrame] = {}
    if cache_dir is not None and cache_key is not None:
        for i in ids:
            if (frame := _read_cached(_cached(cache_dir, i), cache_key)) is not None:
                cached[i] = frame
    fresh_ids = [i for i in ids if i not in cached]
    _, rows, doubts, events = load_rows(session, only=fresh_ids)
    fresh = prepare(rows, doubts)
    parts = {int(k): g for k, g in fresh.groupby("submission_id", sort=False)}
    if cache_dir is not None and cache_key is not None:
        for sid in fresh_ids:
            _write_cached(_cached(cache_dir, sid), parts.get(sid, fresh.iloc[0:0]), cache_key)
        keep = {_cached(cache_dir, i).name for i in ids}
        for old in cache_dir.glob("records-*"):   # superseded submissions, an older preparation, clear ones
            if old.name not in keep:
                old.unlink(missing_ok=True)
    frames = [cached[i] if i in cached else parts.get(i, fresh.iloc[0:0]) for i in ids]
    records = pd.concat(frames, ignore_index=True) if frames else fresh
    records["record_id"] = np.arange(len(records), dtype=np.int64)
    return subs, records, events, {"reused": len(cached), "prepared": len(fresh_ids)}


def link_events(records: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Vaccination records -> target-list records, by exact identity only: the same CMND/CCCD, or the same
    folded name and birth date in the same district. (`record_id` and the event's columns.)"""
    cols = ["record_id", "session_date", "screening_result", "vaccinated", "dose_number", "product"]
    if events.empty or records.empty:
        return pd.DataFrame(columns=cols)
    ev = events.copy()
    ev["event"] = np.arange(len(ev))
    ev["name_folded"] = fold_series(ev["full_name"]).astype(object)
    ev["birth_date"] = pd.to_datetime(ev["birth_date"], errors="coerce").dt.strftime("%Y-%m-%d").astype(object)
    ident = records[["record_id", "cccd", "cmnd"]].melt("record_id", value_name="id_number").dropna()
    by_id = ev.dropna(subset=["id_number"]).merge(ident[["record_id", "id_number"]], on="id_number")
    by_name = ev.dropna(subset=["name_folded", "birth_date"]).merge(
        records[["record_id", "district", "name_folded", "birth_date"]].dropna(),
        on=["district", "name_folded", "birth_date"])
    linked = pd.concat([by_id, by_name], ignore_index=True).drop_duplicates(["event", "record_id"])
    return linked[cols]


# ---------------------------------------------------------------------------------------------------------
# Building the list
# ---------------------------------------------------------------------------------------------------------


def _current_model(session: Session) -> LinkageModel | None:
    model = session.execute(select(LinkageModel).order_by(LinkageModel.id.desc()).limit(1)).scalar_one_or_none()
    return model if model is not None and linkage.model_is_current(model.model) else None


def _next_person_number(person_ids: pd.Series, prefix: str) -> int:
    """One more than the highest number of the ids given so far (vectorised: a million ids at a rebuild)."""
    ids = pd.Series(person_ids.drop_duplicates().to_numpy(dtype=object), dtype=object)
    tail = ids.str.slice(len(prefix))
    ours = ids.str.startswith(prefix) & tail.str.fullmatch(r"\d+")
    return int(pd.to_numeric(tail[ours.fillna(False).astype(bool)]).max()) + 1 if ours.any() else 1


def _statuses(persons: pd.DataFrame, person_of_record: np.ndarray, sizes: np.ndarray,
              in_review: np.ndarray) -> np.ndarray:
    ineligible = pd.Series(person_of_record).map(persons.set_index("person_id")["eligible"]).eq(False).to_numpy()
    # precedence (DESIGN.md): review > ineligible > merged/unique
    return np.select([in_review, ineligible, sizes > 1], ["review", "ineligible", "merged"], default="unique")


def district_stats(records: pd.DataFrame, labels: np.ndarray, status: np.ndarray,
                   persons: pd.DataFrame) -> dict[str, Any]:
    """Per district: rows in, persons, duplicate rows within the district and across districts, rows
    for review, ineligible rows; and the province's totals."""
    f = pd.DataFrame({"district": records["district"].to_numpy(), "cluster": labels, "status": status})
    districts_per_cluster = f.groupby("cluster")["district"].nunique()
    f["across"] = f["cluster"].map(districts_per_cluster).to_numpy() > 1
    out: dict[str, Any] = {}
    persons_by_district = persons.groupby("district").size()
    eligible_by_district = persons[persons["eligible"]].groupby("district").size()
    for d, g in f.groupby("district", sort=True):
        out[str(d)] = {
            "rows": int(len(g)),
            "persons": int(persons_by_district.get(d, 0)),
            "eligible_persons": int(eligible_by_district.get(d, 0)),
            "duplicates_within": int(len(g) - g["cluster"].nunique()),
            "rows_in_clusters_across_districts": int(g["across"].sum()),
            "review": int((g["status"] == "review").sum()),
            "ineligible": int((g["status"] == "ineligible").sum()),
            "merged": int((g["status"] == "merged").sum()),
        }
    province = {k: int(sum(v[k] for v in out.values())) for k in
                ("rows", "duplicates_within", "rows_in_clusters_across_districts", "review", "ineligible", "merged")}
    province["persons"] = int(len(persons))
    province["eligible_persons"] = int(persons["eligible"].sum()) if len(persons) else 0
    province["clusters_across_districts"] = int((districts_per_cluster > 1).sum())
    return {"province": province, "districts": out}


def build(engine: Engine, campaign: CampaignConfig, *, as_of: dt.datetime, flow_run_id: str | None = None,
          retrain: bool = False, cache_dir: Path | None = None, cache_key: bytes | None = None) -> MasterListResult:
    """Build the master list from the current target lists and make it the current one (with
    `cache_dir`, the records of submissions prepared by an earlier run are reused; sealed with `cache_key`,
    by default the settings' `campaign.files.cache_key`)."""
    rules = campaign.master_list
    watch = Stopwatch()
    with Session(engine) as session, session.begin():
        with watch.stage("records"):   # read and prepared, or reused per submission
            subs, records, events, reuse = current_records(session, cache_dir, cache_key)
        with watch.stage("read"):
            decisions = pd.DataFrame(session.execute(select(
                ReviewDecision.id, ReviewDecision.pair_key, ReviewDecision.fingerprint_a,
                ReviewDecision.fingerprint_b, ReviewDecision.decision, ReviewDecision.decided_at,
                ReviewDecision.reversed_at)).all(),
                columns=["id", "pair_key", "fingerprint_a", "fingerprint_b", "decision", "decided_at", "reversed_at"])
            known = frame_of(session, select(PersonKey.key, PersonKey.person_id), ["key", "person_id"])
        stored = None if retrain else _current_model(session)
        if stored is not None and len(records) > RETRAIN_GROWTH * max(stored.trained_rows, 1):
            stored = None   # trained on a much smaller list (say, the first district's): train again
        trained = stored is None
        if trained:
            with watch.stage("train"):
                started = time.perf_counter()
                t = rules.training
                model = linkage.train(records, linkage.Training(u_max_pairs=t.u_max_pairs, em_max_pairs=t.em_max_pairs,
                                                                seed=t.seed, m_floor=t.m_floor)) \
                    if len(records) > 1 else {}
                stored = LinkageModel(version=linkage.MODEL_VERSION, trained_rows=len(records),
                                      seconds=time.perf_counter() - started, model=model)
                session.add(stored)
                session.flush()
        with watch.stage("score"):
            thresholds = Thresholds(match=rules.match_threshold, review=rules.review_threshold)
            pairs = linkage.score(records, stored.model, min_probability=thresholds.review) if len(records) > 1 \
                else linkage.empty_pairs()
        with watch.stage("cluster"):
            clustering = cluster(records, pairs, active_decisions(decisions), thresholds)
            labels = clustering.cluster
            person_of_record, remember, _ = assign_person_ids(
                records, labels, known, _next_person_number(known["person_id"], rules.person_id_prefix),
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
            status = _statuses(persons, person_of_record, sizes, in_review)
            stats = district_stats(records, labels, status, persons)
        with watch.stage("write"):
            run = MasterListRun(flow_run_id=flow_run_id, as_of=as_of, model_id=stored.id, trained=trained,
                                rows=len(records), persons=len(persons), review_pairs=len(review),
                                inputs=[int(i) for i in subs["submission_id"]], stats=stats)
            session.add(run)
            session.flush()
            _write(session, run.id, records, person_of_record, status, sizes, persons, review, remember, known)
        run.seconds = {k: round(v, 3) for k, v in watch.seconds.items()}
        result = MasterListResult(run_id=run.id, as_of=as_of, trained=trained, model_id=stored.id,
                                  rows=len(records), persons=len(persons), review_pairs=len(review),
                                  inputs=list(run.inputs), stats=stats, seconds=dict(watch.seconds),
                                  peak_mib=max(watch.peak_mib.values(), default=0.0),
                                  submissions_reused=reuse["reused"])
    return result


def _write(session: Session, run_id: int, records: pd.DataFrame, person_of_record: np.ndarray, status: np.ndarray,
           sizes: np.ndarray, persons: pd.DataFrame, review: pd.DataFrame, remember: pd.DataFrame,
           known: pd.DataFrame) -> None:
    from campaign.store.bulk import insert_frame

    conn = session.connection()
    # The current list is replaced whole: telling changed rows from unchanged ones (reading a million rows
    # back and comparing) cost more than writing them again (35 s against 26 s at 1M rows).
    for model in (MasterRecord, MasterPerson, ReviewPair):
        conn.execute(delete(model.__table__))
    insert_frame(conn, MasterRecord.__table__, pd.DataFrame({
        "run_id": run_id, "submission_id": records["submission_id"].to_numpy(),
        "sheet": records["sheet"].to_numpy(dtype=object), "row_number": records["row_number"].to_numpy(),
        "district": records["district"].to_numpy(dtype=object), "fingerprint": records["fingerprint"].to_numpy(),
        "person_id": person_of_record, "status": status, "cluster_size": sizes}))
    canon = records.set_index("record_id").loc[persons["record_id"].to_numpy()]
    insert_frame(conn, MasterPerson.__table__, pd.DataFrame({
        "person_id": persons["person_id"].to_numpy(dtype=object), "run_id": run_id,
        "submission_id": canon["submission_id"].to_numpy(), "row_number": canon["row_number"].to_numpy(),
        "district": persons["district"].to_numpy(dtype=object),
        "commune_code": persons["commune_code"].to_numpy(dtype=object),
        "rows": persons["rows"].to_numpy(), "districts": persons["districts"].to_numpy(dtype=object),
        "priority_group": persons["priority_group"], "priority_note": persons["priority_note"].to_numpy(dtype=object),
        "eligible": persons["eligible"].to_numpy(dtype=bool),
        "ineligible_reason": persons["ineligible_reason"].to_numpy(dtype=object),
        "next_dose": persons["next_dose"].to_numpy(), "outbreak": persons["outbreak"].to_numpy(dtype=bool),
        "invite_rank": persons["invite_rank"], "dose1_product": persons["dose1_product"].to_numpy(dtype=object),
        "dose1_date": persons["dose1_date"].to_numpy(dtype=object),
        "deferred_on": persons["deferred_on"].to_numpy(dtype=object),
        "referred": (persons["referred"].fillna(False).to_numpy(dtype=bool) if "referred" in persons
                     else False)}))
    if not review.empty:
        rec = records.set_index("record_id")
        a, b = rec.loc[review["record_id_l"].to_numpy()], rec.loc[review["record_id_r"].to_numpy()]
        keys = [pair_key(x, y) for x, y in zip(a["fingerprint"], b["fingerprint"], strict=True)]
        frame = pd.DataFrame({
            "pair_key": keys, "run_id": run_id,
            "fingerprint_a": a["fingerprint"].to_numpy(), "fingerprint_b": b["fingerprint"].to_numpy(),
            "submission_a": a["submission_id"].to_numpy(), "row_a": a["row_number"].to_numpy(),
            "submission_b": b["submission_id"].to_numpy(), "row_b": b["row_number"].to_numpy(),
            "match_probability": review["match_probability"].to_numpy(), "reason": review["reason"].to_numpy()})
        insert_frame(conn, ReviewPair.__table__, frame.drop_duplicates("pair_key"))
    # Person keys: new keys inserted, keys whose person changed (a merge, a split) updated.
    old = pd.Series(known["person_id"].to_numpy(dtype=object), index=pd.Index(known["key"].to_numpy(dtype=object)))
    remember = remember.set_index(pd.Index(remember["key"].to_numpy(dtype=object), name="key")).drop(columns="key")
    is_new = ~remember.index.isin(old.index)  # object indexes: a hash join (arrow strings iterate in Python)
    new = remember[is_new].reset_index()
    insert_frame(conn, PersonKey.__table__, new[["key", "person_id", "kind"]])
    seen = remember[~is_new]
    changed = seen[seen["person_id"].to_numpy() != old.reindex(seen.index).to_numpy()]
    if len(changed):
        table = PersonKey.__table__
        conn.execute(update(table).where(table.c.key == bindparam("k")).values(person_id=bindparam("p")),
                     [{"k": k, "p": p} for k, p in zip(changed.index, changed["person_id"], strict=True)])


# ---------------------------------------------------------------------------------------------------------
# Reading the current list
# ---------------------------------------------------------------------------------------------------------


def latest_run(session: Session) -> MasterListRun | None:
    return session.execute(select(MasterListRun).order_by(MasterListRun.id.desc()).limit(1)).scalar_one_or_none()


def result_of(run: MasterListRun) -> MasterListResult:
    """A stored run as a result (for `campaign master-list --latest`)."""
    return MasterListResult(run_id=run.id, as_of=run.as_of, trained=run.trained, model_id=run.model_id,
                            rows=run.rows, persons=run.persons, review_pairs=run.review_pairs,
                            inputs=list(run.inputs), stats=run.stats, seconds=dict(run.seconds))


def quality_against(session: Session, duplicates: list[dict[str, Any]]) -> dict[str, Any]:
    """Pairwise precision and recall of the current list against a known truth (a generator manifest's
    `duplicates`): for the demo and the benchmarks; real lists have no truth."""
    from campaign.dedupe.evaluate import manifest_truth, pairwise_quality, row_key

    recs = frame_of(session, select(MasterRecord.submission_id, MasterRecord.district, MasterRecord.sheet,
                                    MasterRecord.row_number, MasterRecord.person_id),
                    ["submission_id", "district", "sheet", "row_number", "person_id"])
    key = {(int(s), int(r)): row_key(d, sh, r) for s, d, sh, r in
           zip(recs["submission_id"], recs["district"], recs["sheet"], recs["row_number"], strict=True)}
    review = [(key[(p.submission_a, p.row_a)], key[(p.submission_b, p.row_b)])
              for p in session.execute(select(ReviewPair)).scalars()]
    return pairwise_quality(recs, manifest_truth(duplicates), review)


def write_csv(session: Session, path: Path) -> int:
    """The current master list, one line per source row (DESIGN.md: person_id, submission_id, row_number,
    district, status). Returns the number of lines written."""
    result = session.execute(select(MasterRecord.person_id, MasterRecord.submission_id, MasterRecord.row_number,
                                    MasterRecord.district, MasterRecord.status)
                             .order_by(MasterRecord.submission_id, MasterRecord.row_number))
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for chunk in iter(lambda: result.fetchmany(50_000), []):
            writer.writerows(chunk)
            n += len(chunk)
    return n


def to_json(result: MasterListResult, *, district: str | None = None,
            names: dict[str, str] | None = None) -> dict[str, Any]:
    districts = result.stats.get("districts", {})
    rows = [{"district": d, "name": (names or {}).get(d), **v} for d, v in sorted(districts.items())
            if district is None or d == district]
    return {"run_id": result.run_id, "as_of": result.as_of.isoformat(), "model_trained": result.trained,
            "model_id": result.model_id, "rows": result.rows, "persons": result.persons,
            "review_pairs": result.review_pairs, "inputs": result.inputs,
            "province": result.stats.get("province", {}), "districts": rows,
            "seconds": {k: round(v, 2) for k, v in result.seconds.items()}}


def render_text(summary: dict[str, Any]) -> str:
    p = summary["province"]
    lines = [f"Master list (run {summary['run_id']}): {summary['rows']} rows -> {summary['persons']} people, "
             f"{p.get('eligible_persons', 0)} eligible; {summary['review_pairs']} pairs to review"
             f"{' (model trained in this run)' if summary['model_trained'] else ''}",
             f"  {'district':<24} {'rows':>8} {'people':>8} {'dup.in':>7} {'dup.across':>10} {'review':>7} "
             f"{'inelig.':>7}"]
    for d in summary["districts"]:
        label = f"{d['district']} {d.get('name') or ''}".strip()
        lines.append(f"  {label:<24} {d['rows']:>8} {d['persons']:>8} {d['duplicates_within']:>7} "
                     f"{d['rows_in_clusters_across_districts']:>10} {d['review']:>7} {d['ineligible']:>7}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------
# Review
# ---------------------------------------------------------------------------------------------------------

SIDE_COLUMNS = ["full_name", "birth_date", "sex", "priority_group", "phone", "id_number", "insurance_number",
                "commune_code", "workplace", "district"]


def _row(session: Session, submission_id: int, row_number: int) -> dict[str, Any]:
    t = KIND_TABLES[KIND]
    r = session.execute(select(*(t.c[c] for c in SIDE_COLUMNS)).where(
        t.c.submission_id == submission_id, t.c.row_number == row_number)).mappings().first()
    out = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in (r or {}).items()}
    return {"submission_id": submission_id, "row_number": row_number, **out}


def mask_digits(value: Any, keep_start: int = 3, keep_end: int = 2) -> Any:
    """"064185001234" -> "064*******34": enough to tell two documents apart in an artifact, not to use one."""
    if value is None or not isinstance(value, str) or len(value) <= keep_start + keep_end:
        return value if value is None else "*" * len(str(value))
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[-keep_end:]


def masked(side: dict[str, Any]) -> dict[str, Any]:
    """A record for Prefect artifacts and logs: initials instead of the name, IDs and phones masked."""
    out = dict(side)
    name = side.get("full_name") or ""
    out["full_name"] = " ".join(w[0] + "." for w in name.split()) if name else name
    for key in ("id_number", "insurance_number"):
        out[key] = mask_digits(side.get(key))
    out["phone"] = mask_digits(side.get("phone"), keep_start=5, keep_end=2)
    out.pop("address_detail", None)
    return out


def side_text(side: dict[str, Any]) -> str:
    """One line per record for the review artifact (already masked)."""
    return (f"{side.get('full_name')} · {side.get('birth_date')} · {side.get('sex')} · group "
            f"{side.get('priority_group')} · {side.get('commune_code')} ({side.get('district')}) · "
            f"{side.get('phone')} · {side.get('id_number') or '-'}")


def pairs_to_review(session: Session) -> int:
    """How many candidate pairs wait for a person's decision (every district)."""
    return session.scalar(select(func.count()).select_from(ReviewPair)) or 0


def open_pairs(session: Session, *, district: str | None = None, limit: int | None = None,
               mask: bool = False) -> list[dict[str, Any]]:
    """The pairs still to review, most probable first, with both records side by side (`mask`: for
    artifacts, see `masked`)."""
    pairs = session.execute(select(ReviewPair).order_by(ReviewPair.match_probability.desc(),
                                                        ReviewPair.pair_key)).scalars().all()
    out = []
    for p in pairs:
        a, b = _row(session, p.submission_a, p.row_a), _row(session, p.submission_b, p.row_b)
        if district is not None and district not in (a.get("district"), b.get("district")):
            continue
        if mask:
            a, b = masked(a), masked(b)
        out.append({"pair": p.pair_key, "match_probability": round(p.match_probability, 4), "reason": p.reason,
                    "a": a, "b": b})
        if limit is not None and len(out) >= limit:
            break
    return out


def decide(session: Session, pair: str, decision: str, *, by: str, at: dt.datetime,
           note: str | None = None) -> ReviewDecision:
    """Record a decision on a pair under review (or on a pair decided before, to change it)."""
    if decision not in ("same", "different"):
        raise ReviewError(f"decision must be 'same' or 'different', not {decision!r}")
    p = session.get(ReviewPair, pair)
    if p is None:
        earlier = session.execute(select(ReviewDecision).where(ReviewDecision.pair_key == pair)
                                  .order_by(ReviewDecision.id.desc()).limit(1)).scalar_one_or_none()
        if earlier is None:
            raise ReviewError(f"no pair {pair!r} in the review list (see `campaign review`)")
        fa, fb = earlier.fingerprint_a, earlier.fingerprint_b
    else:
        fa, fb = p.fingerprint_a, p.fingerprint_b
    made = ReviewDecision(pair_key=pair, fingerprint_a=fa, fingerprint_b=fb, decision=decision, decided_by=by,
                          decided_at=at, note=note)
    session.add(made)
    session.flush()
    return made


def reverse(session: Session, decision_id: int, *, by: str, at: dt.datetime) -> ReviewDecision:
    """Take a decision back: from the next run on, the pair is judged by the model again."""
    made = session.get(ReviewDecision, decision_id)
    if made is None:
        raise ReviewError(f"no decision {decision_id}")
    if made.reversed_at is not None:
        raise ReviewError(f"decision {decision_id} was already reversed")
    made.reversed_at, made.reversed_by = at, by
    session.flush()
    return made


def decisions(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(select(ReviewDecision).order_by(ReviewDecision.id)).scalars().all()
    return [{"id": d.id, "pair": d.pair_key, "decision": d.decision, "decided_by": d.decided_by,
             "decided_at": d.decided_at.isoformat(), "note": d.note,
             "reversed_at": d.reversed_at.isoformat() if d.reversed_at else None, "reversed_by": d.reversed_by}
            for d in rows]


__all__ = ["CSV_COLUMNS", "MasterListResult", "ReviewError", "build", "decide", "decisions", "district_stats",
           "latest_run", "link_events", "load_rows", "mask_digits", "masked", "open_pairs", "quality_against",
           "result_of", "reverse", "side_text", "to_json", "write_csv"]
