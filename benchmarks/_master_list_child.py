"""One step of the master-list benchmark in a fresh process (called by bench_master_list.py; prints one
JSON object on its last line).

    python benchmarks/_master_list_child.py load WORK PEOPLE SEED      generate the province's target lists
                                                                       under WORK/inputs, load every district
                                                                       through run_intake into WORK/loaded.sqlite3
    python benchmarks/_master_list_child.py modify WORK DISTRICT       WORK/reupload/target_list.csv: the
                                                                       district's list with 20 phones corrected
                                                                       and 10 people added
    python benchmarks/_master_list_child.py build DB [--retrain] [--cache DIR]   master_list.build (the measured
                                                                       figure; DIR: the prepared records' cache)
    python benchmarks/_master_list_child.py reupload DB FILE DISTRICT HOME   run_intake of one district's list
    python benchmarks/_master_list_child.py baseline DB                read the current target-list rows into
                                                                       pandas + an exact-key dedupe
    python benchmarks/_master_list_child.py eval DB MANIFEST [EXAMPLES]     precision / recall / review share
                                                                       against the manifest's truth

The campaign config is `config/gia_lai_2021.yaml` with the per-file size limit raised (a district's list
of a 1M-people province is ~32 MB, close to the 50 MB limit).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

AS_OF = dt.datetime(2021, 7, 28, 1, 0, tzinfo=dt.UTC)
FIRST_UPLOAD = dt.datetime(2021, 7, 25, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
REUPLOAD = dt.datetime(2021, 7, 27, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
CHANGED_ROWS, ADDED_ROWS = 20, 10


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _campaign():
    from campaign.config import load_campaign

    c = load_campaign()
    return c.model_copy(update={"intake": c.intake.model_copy(update={"max_file_mb": 2000.0})})


def _engine(db: Path):
    from campaign.store.db import make_engine, migrate

    engine = make_engine(f"sqlite:///{db}")
    migrate(engine)
    return engine


def _checkpoint(engine) -> None:
    """Fold the WAL into the database file, so that copying the one file copies everything."""
    from sqlalchemy import text

    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute(text("SELECT 1"))
    engine.dispose()


# ---------------------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------------------


def load(work: Path, people: int, seed: int) -> dict[str, Any]:
    from campaign.intake.rules import IntakeRequest
    from campaign.intake.run import run_intake
    from campaign.settings import Settings
    from campaign.synth import generate_province_target_lists

    started = time.perf_counter()
    manifest = generate_province_target_lists(work / "inputs", people, seed=seed)
    generate_seconds = time.perf_counter() - started
    db = work / "loaded.sqlite3"
    for p in work.glob("loaded.sqlite3*"):
        p.unlink()
    engine = _engine(db)
    settings, campaign = Settings(home=work / "home"), _campaign()
    from expectations.gate import warm_up

    started = time.perf_counter()
    warm_up()
    warm_up_seconds = time.perf_counter() - started
    started = time.perf_counter()
    outcomes = []
    for f in sorted(manifest.files, key=lambda f: f.district):
        o = run_intake(IntakeRequest(path=work / "inputs" / f.path, district=f.district, kind="target_list",
                                     received_at=FIRST_UPLOAD), engine=engine, settings=settings, campaign=campaign)
        outcomes.append({"district": f.district, "status": o.status, "rows_total": o.rows_total,
                         "rows_loaded": o.rows_loaded, "rows_quarantined": o.rows_quarantined})
    load_seconds = time.perf_counter() - started
    _checkpoint(engine)
    return {"people": people, "seed": seed, "generate_seconds": generate_seconds, "gx_warm_up_seconds": warm_up_seconds,
            "load_seconds": load_seconds, "files": len(manifest.files),
            "rows_in_files": sum(f.rows for f in manifest.files),
            "rows_loaded": sum(o["rows_loaded"] for o in outcomes),
            "rows_quarantined": sum(o["rows_quarantined"] for o in outcomes),
            "truth_clusters": len(manifest.duplicates),
            "truth_cross_district_clusters": sum("cross_district" in c["kinds"] for c in manifest.duplicates),
            "db_mib": db.stat().st_size / 2**20, "districts": outcomes, "peak_mib": peak_mib()}


def _data_rows(lines: list[list[str]]) -> list[int]:
    return [i for i, r in enumerate(lines) if i > 0 and r and r[0].isdigit()]


def modify(work: Path, district: str) -> dict[str, Any]:
    """The district's list again as it would be re-sent: 20 phones corrected (last digit), 10 people
    added at the end (new people, drawn with another seed for the same district and layout)."""
    from campaign.config_kinds import load_input_kinds
    from campaign.synth import LAYOUTS, generate_target_list_file
    from campaign.synth.files.layouts import header_text

    manifest = json.loads((work / "inputs" / "manifest.json").read_text(encoding="utf-8"))
    entry = next(f for f in manifest["files"] if f["district"] == district)
    src = work / "inputs" / entry["path"]
    lines = list(csv.reader(io.StringIO(src.read_bytes().decode("utf-8-sig"), newline="")))
    spec = load_input_kinds()["target_list"]
    phone_header = header_text(next(c for c in spec.columns if c.name == "phone"), "template", LAYOUTS["csv_bom"])
    phone = lines[0].index(phone_header)
    rows = _data_rows(lines)
    rng = np.random.Generator(np.random.PCG64(5))
    changed = 0
    for i in rng.permutation(rows):
        value = lines[i][phone]
        if len(value) == 10 and value.isdigit():
            lines[i][phone] = value[:-1] + str((int(value[-1]) + 1) % 10)
            changed += 1
            if changed == CHANGED_ROWS:
                break
    extra_path = work / "reupload" / "new_people.csv"
    extra_path.parent.mkdir(parents=True, exist_ok=True)
    drawn = generate_target_list_file(extra_path, 300, seed=99, district=district)
    # new people only: no row of a repeated person, no planted defect (the truth knows nothing of them)
    skip = {r["row_number"] for c in drawn.duplicates for r in c["rows"]} | \
        {d.row_number for d in drawn.defects if d.row_number is not None}
    extra = list(csv.reader(io.StringIO(extra_path.read_bytes().decode("utf-8-sig"), newline="")))
    if extra[0] != lines[0]:
        raise SystemExit("the added rows' header differs from the district's file")
    new = [extra[i] for i in _data_rows(extra) if i + 1 not in skip][:ADDED_ROWS]
    stt = int(lines[rows[-1]][0])
    for k, r in enumerate(new, start=1):
        r[0] = str(stt + k)
    at = rows[-1] + 1  # after the last data row: every earlier row keeps its row number
    lines[at:at] = new
    out = work / "reupload" / "target_list.csv"
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n").writerows(lines)
    out.write_bytes(b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8"))
    return {"district": district, "file": str(out), "rows": len(rows) + len(new), "changed": changed,
            "added": len(new), "peak_mib": peak_mib()}


def reupload(db: Path, file: Path, district: str, home: Path) -> dict[str, Any]:
    from campaign.intake.rules import IntakeRequest
    from campaign.intake.run import run_intake
    from campaign.settings import Settings
    from campaign.timing import Stopwatch

    engine = _engine(db)
    watch = Stopwatch()
    started = time.perf_counter()
    o = run_intake(IntakeRequest(path=file, district=district, kind="target_list", received_at=REUPLOAD),
                   engine=engine, settings=Settings(home=home), campaign=_campaign(), watch=watch)
    seconds = time.perf_counter() - started
    if o.status != "accepted":
        raise SystemExit(f"re-upload of {district}: {o.status}")
    return {"district": district, "status": o.status, "rows_loaded": o.rows_loaded, "seconds": seconds,
            "seconds_through_load": sum(v for k, v in watch.seconds.items() if k != "feedback"),
            "stages": {k: round(v, 3) for k, v in watch.seconds.items()}, "peak_mib": peak_mib()}


# ---------------------------------------------------------------------------------------------------------
# The measured steps
# ---------------------------------------------------------------------------------------------------------


def build(db: Path, retrain: bool, cache_dir: Path | None = None) -> dict[str, Any]:
    from campaign.master_list import run as ml_run
    from campaign.timing import Stopwatch

    watches: list[Stopwatch] = []

    def watch() -> Stopwatch:  # keep build's stopwatch: the peak RSS at the end of each stage
        watches.append(Stopwatch())
        return watches[-1]

    ml_run.Stopwatch = watch
    started = time.perf_counter()
    engine = _engine(db)
    campaign = _campaign()
    setup = time.perf_counter() - started
    started = time.perf_counter()
    r = ml_run.build(engine, campaign, as_of=AS_OF, retrain=retrain, cache_dir=cache_dir)
    seconds = time.perf_counter() - started
    province = r.stats.get("province", {})
    return {"retrain": retrain, "trained": r.trained, "seconds": seconds, "setup_seconds": setup,
            "stages": {k: round(v, 3) for k, v in r.seconds.items()}, "rows": r.rows, "persons": r.persons,
            "submissions_reused": r.submissions_reused,
            "review_pairs": r.review_pairs, "review_rows": province.get("review"),
            "clusters_across_districts": province.get("clusters_across_districts"),
            "build_peak_mib": r.peak_mib, "peak_mib": peak_mib(),
            "stage_peak_mib": {k: round(v) for k, v in watches[0].peak_mib.items()} if watches else {}}


def current_rows(engine):
    """The current accepted target-list rows, as `master_list.load_rows` selects them, into pandas."""
    import pandas as pd
    from sqlalchemy import select

    from campaign.master_list.rules import ROW_COLUMNS
    from campaign.store.models import KIND_TABLES, Submission

    table = KIND_TABLES["target_list"]
    ids = select(Submission.id).where(Submission.kind == "target_list", Submission.status == "accepted",
                                      Submission.is_current.is_(True))
    with engine.connect() as conn:
        return pd.read_sql(select(*(table.c[c] for c in ROW_COLUMNS)).where(table.c.submission_id.in_(ids))
                           .order_by(table.c.id), conn)


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of n nodes joined by edges (a[i], b[i]): each node's smallest member."""
    labels = np.arange(n)
    if len(a) == 0:
        return labels
    while True:
        m = np.minimum(labels[a], labels[b])
        before = labels.copy()
        np.minimum.at(labels, a, m)
        np.minimum.at(labels, b, m)
        labels = labels[labels]
        if np.array_equal(labels, before):
            return labels


def exact_dedupe(rows) -> np.ndarray:
    """The dedupe a spreadsheet would do: rows are one person when they share an ID number (8, 9 or 12
    digits), or the same full name as written (intake's NFC, single spaces), birth date and sex.
    Returns a cluster label per row."""
    import pandas as pd

    n = len(rows)
    a_parts, b_parts = [], []
    ids = rows["id_number"].where(rows["id_number"].astype("string").str.fullmatch(r"\d{8,9}|\d{12}").fillna(False))
    name_dob = rows["full_name"].astype("string") + "|" + rows["birth_date"].astype("string") + "|" \
        + rows["sex"].astype("string")
    for key in (ids, name_dob):
        codes = pd.factorize(key, use_na_sentinel=True)[0]
        ok = np.flatnonzero(codes >= 0)
        if not len(ok):
            continue
        first = pd.Series(ok).groupby(codes[ok]).transform("min").to_numpy()
        keep = first != ok
        a_parts.append(ok[keep])
        b_parts.append(first[keep])
    a = np.concatenate(a_parts) if a_parts else np.array([], dtype=np.int64)
    b = np.concatenate(b_parts) if b_parts else np.array([], dtype=np.int64)
    return _components(n, a, b)


def baseline(db: Path) -> dict[str, Any]:
    from campaign.store.db import make_engine

    engine = make_engine(f"sqlite:///{db}")
    started = time.perf_counter()
    rows = current_rows(engine)
    read = time.perf_counter() - started
    started = time.perf_counter()
    labels = exact_dedupe(rows)
    dedupe = time.perf_counter() - started
    return {"rows": len(rows), "read_seconds": read, "dedupe_seconds": dedupe, "seconds": read + dedupe,
            "persons": int(len(np.unique(labels))), "peak_mib": peak_mib()}


# ---------------------------------------------------------------------------------------------------------
# Precision and recall against the manifest
# ---------------------------------------------------------------------------------------------------------


def _pairs(*labels: np.ndarray) -> int:
    """Pairs of rows sharing every label given: sum over groups of n(n-1)/2."""
    import pandas as pd

    sizes = pd.DataFrame({f"l{i}": x for i, x in enumerate(labels)}).value_counts().to_numpy(dtype=np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


def scores(pred: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    predicted, true, tp = _pairs(pred), _pairs(truth), _pairs(pred, truth)
    return {"predicted_pairs": predicted, "true_pairs": true, "true_positive_pairs": tp,
            "false_positive_pairs": predicted - tp, "false_negative_pairs": true - tp,
            "precision": tp / predicted if predicted else 1.0, "recall": tp / true if true else 1.0}


def _mask(v: Any) -> Any:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    s = str(v)
    return s if len(s) <= 6 else s[:3] + "*" * (len(s) - 6) + s[-3:]


def evaluate(db: Path, manifest_path: Path, examples: int = 10) -> dict[str, Any]:
    import pandas as pd
    from sqlalchemy import select

    from campaign.store.db import make_engine
    from campaign.store.models import MasterRecord, ReviewPair

    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        rec = pd.read_sql(select(MasterRecord.submission_id, MasterRecord.sheet, MasterRecord.row_number,
                                 MasterRecord.district, MasterRecord.person_id, MasterRecord.status), conn)
        review = pd.read_sql(select(ReviewPair.submission_a, ReviewPair.row_a, ReviewPair.submission_b,
                                    ReviewPair.row_b, ReviewPair.match_probability, ReviewPair.reason), conn)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    truth_rows = [(r["district"], r["sheet"] or "", int(r["row_number"]), k, c["kinds"], r["variation"])
                  for k, c in enumerate(manifest["duplicates"]) for r in c["rows"]]
    truth = pd.DataFrame(truth_rows, columns=["district", "sheet", "row_number", "cluster", "kinds", "variation"])
    rec["sheet"] = rec["sheet"].fillna("")
    rec = rec.merge(truth, on=["district", "sheet", "row_number"], how="left", validate="one_to_one")
    n = len(rec)
    in_truth = rec["cluster"].notna().to_numpy()
    truth_label = np.where(in_truth, rec["cluster"].fillna(-1).to_numpy(dtype=np.int64), -1 - np.arange(n))
    pred = pd.factorize(rec["person_id"])[0]

    # the oracle: every review pair decided as the truth says ("same" joins, "different" keeps apart)
    key = pd.Series(np.arange(n), index=pd.MultiIndex.from_arrays([rec["submission_id"], rec["row_number"]]))
    ia = key.reindex(pd.MultiIndex.from_arrays([review["submission_a"], review["row_a"]])).to_numpy()
    ib = key.reindex(pd.MultiIndex.from_arrays([review["submission_b"], review["row_b"]])).to_numpy()
    if np.isnan(ia.astype(float)).any() or np.isnan(ib.astype(float)).any():
        raise SystemExit("a review pair names a row that is not in master_records")
    ia, ib = ia.astype(np.int64), ib.astype(np.int64)
    same = truth_label[ia] == truth_label[ib]
    persons = int(pred.max()) + 1 if n else 0
    oracle = _components(persons, pred[ia[same]], pred[ib[same]])[pred]  # persons joined by the true pairs

    status = rec["status"].to_numpy(dtype=object)
    loaded_truth_rows = int(in_truth.sum())
    manifest_truth_rows = len(truth)
    result: dict[str, Any] = {
        "records": n, "persons": int(pred.max() + 1) if n else 0,
        "truth_clusters_loaded": int(rec.loc[in_truth, "cluster"].nunique()),
        "truth_rows_in_manifest": manifest_truth_rows, "truth_rows_loaded": loaded_truth_rows,
        "truth_rows_not_loaded": manifest_truth_rows - loaded_truth_rows,
        "status_counts": {str(k): int(v) for k, v in pd.Series(status).value_counts().items()},
        "review_records": int((status == "review").sum()), "review_share": float((status == "review").mean()),
        "review_pairs": len(review), "review_pairs_truly_same": int(same.sum()),
        "auto": scores(pred, truth_label), "oracle": scores(oracle, truth_label),
    }
    # recall by how the truth arose (pairs inside truth clusters of each kind)
    by_kind = {}
    for kind in ("within_district", "cross_district", "exact_copy"):
        m = in_truth & rec["kinds"].map(lambda k, kind=kind: isinstance(k, list) and kind in k).to_numpy(dtype=bool)
        t = _pairs(truth_label[m])
        by_kind[kind] = {"true_pairs": t, "recall_auto": _pairs(truth_label[m], pred[m]) / t if t else None,
                         "recall_oracle": _pairs(truth_label[m], oracle[m]) / t if t else None}
    result["recall_by_kind"] = by_kind

    # the exact-key baseline's accuracy on the same rows
    rows = current_rows(engine)
    labels = exact_dedupe(rows)
    rows = rows[["district", "sheet", "row_number"]].assign(sheet=rows["sheet"].fillna(""), pos=np.arange(len(rows)))
    order = rows.merge(rec[["district", "sheet", "row_number"]].assign(i=np.arange(n)),
                       on=["district", "sheet", "row_number"], validate="one_to_one")
    if len(order) != n:
        raise SystemExit("the current rows and master_records differ")
    base = np.empty(n, dtype=np.int64)
    base[order["i"].to_numpy()] = labels[order["pos"].to_numpy()]
    result["baseline_exact_keys"] = scores(base, truth_label)

    if examples:
        result["examples"] = _examples(engine, rec, pred, truth_label, in_truth, review, ia, ib, examples, manifest)
    result["peak_mib"] = peak_mib()
    return result


def _examples(engine, rec, pred, truth_label, in_truth, review, ia, ib, k, manifest) -> dict[str, list]:
    """Up to k false positives (one person, truly two) and k false negatives (truly one, two persons),
    with both rows' fields side by side, the truth's variation and the defects planted on each row."""
    import pandas as pd
    from sqlalchemy import select

    from campaign.master_list.rules import SIDE_COLUMNS
    from campaign.store.models import KIND_TABLES

    rng = np.random.Generator(np.random.PCG64(1))
    frame = pd.DataFrame({"i": np.arange(len(rec)), "pred": pred, "truth": truth_label})
    fp, fn = [], []
    for _, g in frame[frame.duplicated("pred", keep=False)].groupby("pred"):
        if g["truth"].nunique() > 1:
            x = g.drop_duplicates("truth")["i"].to_numpy()
            fp.append((int(x[0]), int(x[1])))
    for _, g in frame[in_truth].groupby("truth"):
        if g["pred"].nunique() > 1:
            x = g.drop_duplicates("pred")["i"].to_numpy()
            fn.append((int(x[0]), int(x[1])))
    counts = {"false_positive_persons": len(fp), "false_negative_truth_clusters": len(fn)}
    fp = [fp[i] for i in sorted(rng.permutation(len(fp))[:k])]
    fn = [fn[i] for i in sorted(rng.permutation(len(fn))[:k])]
    prob = {(int(a), int(b)): (float(p), r) for a, b, p, r in
            zip(ia, ib, review["match_probability"], review["reason"], strict=True)}
    prob.update({(b, a): v for (a, b), v in list(prob.items())})
    defects: dict[tuple[str, int], list[str]] = {}
    district_of_file = {f["path"]: f["district"] for f in manifest["files"]}
    for d in manifest["defects"]:
        if d["row_number"] is not None and d["file"] in district_of_file:
            defects.setdefault((district_of_file[d["file"]], int(d["row_number"])), []).append(d["code"])
    table = KIND_TABLES["target_list"]
    wanted = sorted({i for pair in fp + fn for i in pair})
    keys = rec.iloc[wanted]
    fields: dict[int, dict[str, Any]] = {}
    with engine.connect() as conn:
        for i, s, r in zip(wanted, keys["submission_id"], keys["row_number"], strict=True):
            row = conn.execute(select(*(table.c[c] for c in SIDE_COLUMNS)).where(
                table.c.submission_id == int(s), table.c.row_number == int(r))).mappings().first()
            out = {c: (v.isoformat() if isinstance(v, dt.date) else v) for c, v in dict(row).items()}
            for c in ("phone", "id_number", "insurance_number"):
                out[c] = _mask(out[c])
            out["row_number"] = int(r)
            out["status"] = rec.at[i, "status"]
            out["truth_variation"] = rec.at[i, "variation"] if isinstance(rec.at[i, "variation"], str) else None
            out["planted_defects"] = defects.get((str(rec.at[i, "district"]), int(r)), [])
            fields[i] = out

    def show(a: int, b: int) -> dict[str, Any]:
        p = prob.get((a, b))
        return {"review_pair": None if p is None else {"match_probability": round(p[0], 4), "reason": p[1]},
                "a": fields[a], "b": fields[b]}

    return {**counts, "false_positives": [show(a, b) for a, b in fp], "false_negatives": [show(a, b) for a, b in fn]}


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "load":
        out = load(Path(args[0]), int(args[1]), int(args[2]))
    elif mode == "modify":
        out = modify(Path(args[0]), args[1])
    elif mode == "build":
        out = build(Path(args[0]), "--retrain" in args,
                    Path(args[args.index("--cache") + 1]) if "--cache" in args else None)
    elif mode == "reupload":
        out = reupload(Path(args[0]), Path(args[1]), args[2], Path(args[3]))
    elif mode == "baseline":
        out = baseline(Path(args[0]))
    elif mode == "eval":
        out = evaluate(Path(args[0]), Path(args[1]), int(args[2]) if len(args) > 2 else 10)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    print(json.dumps(out, default=str))
