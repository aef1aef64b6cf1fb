"""The master list's database side: reading the current target lists (with the encrypted cache of their
prepared records), the reviewers' decisions, the known person keys and the stored linkage model, and
writing a run (the list replaced whole); reading the current list back (latest run, CSV, quality).
"""

from __future__ import annotations

import csv
import hashlib
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from campaign.master_list.dedupe import model as linkage
from campaign.master_list.dedupe.clusters import pair_key
from campaign.master_list.dedupe.records import DOB_DOUBTS, ID_DOUBTS, INSURANCE_DOUBTS, build_records
from campaign.master_list.rules import CSV_COLUMNS, KIND, ROW_COLUMNS, MasterListResult, prepare
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
    # people vaccinated but never recorded (backfill, issue 20): doses given, exactly as results are; the
    # fuller linking (model, history, conflicts) is `campaign.doses`, run after the list
    bsubs = current_submission_ids(session, "backfill")
    if bsubs:
        bt = KIND_TABLES["backfill"]
        bcols = ["district", "full_name", "birth_date", "id_number", "vaccinated_on", "dose_number", "product"]
        back = frame_of(session, select(*(bt.c[c] for c in bcols)).where(bt.c.submission_id.in_(bsubs)), bcols)
        back = back.rename(columns={"vaccinated_on": "session_date"}).assign(screening_result=None, vaccinated="yes")
        events = pd.concat([events, back[vcols]], ignore_index=True) if len(events) else back[vcols]
    return subs, rows, doubts, events


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


def read_decisions(session: Session) -> pd.DataFrame:
    """Every reviewer's decision (reversed ones too: `clusters.active_decisions` picks)."""
    return pd.DataFrame(session.execute(select(
        ReviewDecision.id, ReviewDecision.pair_key, ReviewDecision.fingerprint_a,
        ReviewDecision.fingerprint_b, ReviewDecision.decision, ReviewDecision.decided_at,
        ReviewDecision.reversed_at)).all(),
        columns=["id", "pair_key", "fingerprint_a", "fingerprint_b", "decision", "decided_at", "reversed_at"])


def known_keys(session: Session) -> pd.DataFrame:
    """The person keys given so far (`key`, `person_id`): what keeps a person's id stable across runs."""
    return frame_of(session, select(PersonKey.key, PersonKey.person_id), ["key", "person_id"])


def current_model(session: Session) -> LinkageModel | None:
    model = session.execute(select(LinkageModel).order_by(LinkageModel.id.desc()).limit(1)).scalar_one_or_none()
    return model if model is not None and linkage.model_is_current(model.model) else None


def add_model(session: Session, model: dict[str, Any], *, trained_rows: int, seconds: float) -> LinkageModel:
    """Store a model trained in this run (reused by later runs)."""
    stored = LinkageModel(version=linkage.MODEL_VERSION, trained_rows=trained_rows, seconds=seconds, model=model)
    session.add(stored)
    session.flush()
    return stored


# ---------------------------------------------------------------------------------------------------------
# Writing a run
# ---------------------------------------------------------------------------------------------------------


def add_run(session: Session, **values: Any) -> MasterListRun:
    """The run's row (its figures per district, the submissions read), flushed for its id."""
    run = MasterListRun(**values)
    session.add(run)
    session.flush()
    return run


def write_list(session: Session, run_id: int, records: pd.DataFrame, person_of_record: np.ndarray,
               status: np.ndarray, sizes: np.ndarray, persons: pd.DataFrame, review: pd.DataFrame,
               remember: pd.DataFrame, known: pd.DataFrame) -> None:
    """Replace the current list (records, persons, pairs to review) by this run's; new person keys
    inserted, keys whose person changed updated."""
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
    from campaign.master_list.dedupe.evaluate import manifest_truth, pairwise_quality, row_key

    recs = frame_of(session, select(MasterRecord.submission_id, MasterRecord.district, MasterRecord.sheet,
                                    MasterRecord.row_number, MasterRecord.person_id),
                    ["submission_id", "district", "sheet", "row_number", "person_id"])
    key = {(int(s), int(r)): row_key(d, sh, r) for s, d, sh, r in
           zip(recs["submission_id"], recs["district"], recs["sheet"], recs["row_number"], strict=True)}
    review = [(key[(p.submission_a, p.row_a)], key[(p.submission_b, p.row_b)])
              for p in session.execute(select(ReviewPair)).scalars()]
    return pairwise_quality(recs, manifest_truth(duplicates), review)


def write_csv(session: Session, path: Path) -> int:
    """The current master list, one line per source row (docs/contracts.md: person_id, submission_id, row_number,
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
