"""The province's master target list (issue 5) at 100k, 300k and 1M people: time, memory and accuracy.

Per size, the synthetic province's target lists (`generate_province_target_lists`: one CSV per district,
within- and cross-district repeats, 2.5% cell defects, the truth in the manifest) are loaded through
`run_intake` into a fresh SQLite database, once: the loaded database is kept under `--work` and reused
by later runs (loading is reported, never part of the master-list figures). Then, in fresh processes
(wall and peak RSS of the child via `wait4`), per run on a fresh copy of the loaded database:

- (a) full build: `master_list.build(retrain=True)` (read, prepare, train the Splink model, score,
  cluster, eligibility, write);
- (b) rebuild after one district's new upload: that district's list again with 20 phones corrected and
  10 new people (through `run_intake`, reported apart), then `build(retrain=False)` with the stored model;
- (c) baseline: reading the same current target-list rows into pandas (the I/O floor any build pays)
  plus an exact-key dedupe (same ID number, or same name as written + birth date + sex: what a
  spreadsheet VLOOKUP does). Its accuracy is reported too: what the model buys over exact keys.

Accuracy (on the first run's full build, and again after the rebuild): pairwise precision and recall of
"these two source rows are one person" against the manifest's duplicate clusters, restricted to the rows
intake loaded (quarantined rows are not in the truth); the share of records in review. Two lines: the
automatic merges alone (review pairs stay apart), and with every review pair resolved as the truth says
(oracle). With 5-10 false positives/negatives side by side (IDs and phones masked).

    uv run python benchmarks/bench_master_list.py [--sizes 100000,300000,1000000] [--runs 3]
        [--large-runs 3] [--seed 2021] [--district 622] [--work /tmp/bench-master-list] [--fresh]

`--large-runs`: runs for sizes of 1,000,000 and more (default: `--runs`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import machine, report, run_measured

HERE = Path(__file__).parent
CHILD = str(HERE / "_master_list_child.py")
ROOT = HERE.parent
TARGETS = {"precision": 0.995, "recall": 0.98, "review_share": 0.01, "build_seconds_1m": 300,
           "build_peak_mib_1m": 8192, "rebuild_seconds": 60}


def _child(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    measured = run_measured([sys.executable, CHILD, *args], env=env, cwd=ROOT)
    out = json.loads(measured["stdout"].strip().splitlines()[-1])
    out["process_seconds"] = measured["seconds"]
    out["process_peak_mib"] = measured["peak_mib"]
    return out


def _fresh_copy(src: Path, dst: Path) -> None:
    for p in dst.parent.glob(dst.name + "*"):
        p.unlink()
    shutil.copyfile(src, dst)


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of the runs' seconds (and of each stage), the largest peak, the runs themselves."""
    out: dict[str, Any] = {
        "seconds": round(statistics.median(r["seconds"] for r in runs), 2),
        "process_seconds": round(statistics.median(r["process_seconds"] for r in runs), 2),
        "peak_mib": round(max(r["process_peak_mib"] for r in runs), 1),
        "runs": [round(r["seconds"], 2) for r in runs],
    }
    if "stages" in runs[0]:
        out["stages"] = {k: round(statistics.median(r["stages"].get(k, 0.0) for r in runs), 2)
                         for k in runs[0]["stages"]}
    if runs[0].get("stage_peak_mib"):
        out["stage_peak_mib"] = {k: max(r["stage_peak_mib"][k] for r in runs) for k in runs[0]["stage_peak_mib"]}
    for key in ("read_seconds", "dedupe_seconds"):
        if key in runs[0]:
            out[key] = round(statistics.median(r[key] for r in runs), 3)
    for key in ("rows", "persons", "review_pairs", "review_rows", "trained", "clusters_across_districts"):
        if key in runs[0]:
            out[key] = runs[0][key]
    return out


def _accuracy_line(e: dict[str, Any]) -> dict[str, Any]:
    return {"precision": round(e["auto"]["precision"], 5), "recall": round(e["auto"]["recall"], 5),
            "precision_oracle": round(e["oracle"]["precision"], 5), "recall_oracle": round(e["oracle"]["recall"], 5),
            "review_share": round(e["review_share"], 5)}


def measure_size(people: int, runs: int, args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    work = Path(args.work) / f"p{people}-s{args.seed}"
    if args.fresh:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    loaded_json = work / "load.json"
    if loaded_json.exists() and (work / "loaded.sqlite3").exists():
        loaded = json.loads(loaded_json.read_text())
        loaded["cached"] = True
    else:
        print(f"[{people}] generating and loading ...", flush=True)
        loaded = _child(["load", str(work), str(people), str(args.seed)], env)
        loaded_json.write_text(json.dumps(loaded))
        loaded["cached"] = False
    if not (work / "reupload" / "target_list.csv").exists():
        _child(["modify", str(work), args.district], env)
    modified = work / "reupload" / "target_list.csv"
    db = work / "run.sqlite3"
    full, rebuild, reupload, base = [], [], [], []
    accuracy: dict[str, Any] = {}
    for k in range(runs):
        print(f"[{people}] run {k + 1}/{runs}: baseline", flush=True)
        base.append(_child(["baseline", str(work / "loaded.sqlite3")], env))
        _fresh_copy(work / "loaded.sqlite3", db)
        home = work / "home-run"
        shutil.rmtree(home, ignore_errors=True)
        cache = work / "cache-run"   # the full build starts cold; the rebuild reuses what it prepared
        shutil.rmtree(cache, ignore_errors=True)
        print(f"[{people}] run {k + 1}/{runs}: full build", flush=True)
        full.append(_child(["build", str(db), "--retrain", "--cache", str(cache)], env))
        print(f"[{people}]   {full[-1]['seconds']:.1f} s, {full[-1]['process_peak_mib']:.0f} MiB", flush=True)
        if k == 0:
            accuracy["full_build"] = _child(["eval", str(db), str(work / "inputs" / "manifest.json"),
                                             str(args.examples)], env)
        reupload.append(_child(["reupload", str(db), str(modified), args.district, str(home)], env))
        print(f"[{people}] run {k + 1}/{runs}: rebuild", flush=True)
        rebuild.append(_child(["build", str(db), "--cache", str(cache)], env))
        print(f"[{people}]   {rebuild[-1]['seconds']:.1f} s, {rebuild[-1]['process_peak_mib']:.0f} MiB", flush=True)
        if k == 0:
            accuracy["rebuild"] = _child(["eval", str(db), str(work / "inputs" / "manifest.json"), "0"], env)
    full_s, rebuild_s, base_s = _summary(full), _summary(rebuild), _summary(base)
    return {
        "people": people, "runs": runs,
        "loading": {k: loaded[k] for k in ("cached", "generate_seconds", "gx_warm_up_seconds", "load_seconds",
                                           "process_seconds", "process_peak_mib", "files", "rows_in_files",
                                           "rows_loaded", "rows_quarantined", "truth_clusters",
                                           "truth_cross_district_clusters", "db_mib")},
        "full_build": full_s, "rebuild": rebuild_s,
        "reupload": {"district": args.district, "rows_loaded": reupload[0]["rows_loaded"],
                     **{k: round(statistics.median(r[k] for r in reupload), 2)
                        for k in ("seconds", "seconds_through_load")},
                     "peak_mib": round(max(r["process_peak_mib"] for r in reupload), 1)},
        "baseline": base_s,
        "ratios": {"full_build_over_baseline": round(full_s["seconds"] / base_s["seconds"], 1),
                   "rebuild_over_baseline": round(rebuild_s["seconds"] / base_s["seconds"], 1),
                   "full_build_over_read": round(full_s["seconds"] / base_s["read_seconds"], 1)},
        "accuracy": {"full_build": _accuracy_line(accuracy["full_build"]),
                     "rebuild": _accuracy_line(accuracy["rebuild"]),
                     "baseline_exact_keys": {
                         "precision": round(accuracy["full_build"]["baseline_exact_keys"]["precision"], 5),
                         "recall": round(accuracy["full_build"]["baseline_exact_keys"]["recall"], 5)}},
        "accuracy_detail": accuracy,
    }


def _targets(sizes: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for s in sizes:
        a = s["accuracy"]["full_build"]
        out[str(s["people"])] = {
            "precision>=0.995": a["precision"] >= TARGETS["precision"],
            "recall>=0.98": a["recall"] >= TARGETS["recall"],
            "review<1%": a["review_share"] < TARGETS["review_share"],
            "rebuild<60s": s["rebuild"]["seconds"] < TARGETS["rebuild_seconds"],
        }
        if s["people"] >= 1_000_000:
            out[str(s["people"])]["build<5min"] = s["full_build"]["seconds"] < TARGETS["build_seconds_1m"]
            out[str(s["people"])]["build<8GB"] = s["full_build"]["peak_mib"] < TARGETS["build_peak_mib_1m"]
    return out


def _scaling(sizes: list[dict[str, Any]]) -> dict[str, Any]:
    if len(sizes) < 2:
        return {}
    a, b = sizes[0], sizes[-1]
    rows = b["full_build"]["rows"] / a["full_build"]["rows"]
    return {"from": a["people"], "to": b["people"], "rows_ratio": round(rows, 2),
            "full_build_seconds_ratio": round(b["full_build"]["seconds"] / a["full_build"]["seconds"], 2),
            "full_build_peak_ratio": round(b["full_build"]["peak_mib"] / a["full_build"]["peak_mib"], 2),
            "rebuild_seconds_ratio": round(b["rebuild"]["seconds"] / a["rebuild"]["seconds"], 2),
            "rebuild_peak_ratio": round(b["rebuild"]["peak_mib"] / a["rebuild"]["peak_mib"], 2)}


def _print(result: dict[str, Any]) -> None:
    print("\npeople | rows | full build s (runs) | peak MiB | rebuild s (runs) | peak MiB | baseline s | ratio | "
          "P / R / review (auto) | P / R (oracle) | exact keys P / R | load s")
    for s in result["sizes"]:
        f, r, b, a = s["full_build"], s["rebuild"], s["baseline"], s["accuracy"]
        fa, ba = a["full_build"], a["baseline_exact_keys"]
        print(f"{s['people']} | {f['rows']} | {f['seconds']} {f['runs']} | {f['peak_mib']} | {r['seconds']} {r['runs']}"
              f" | {r['peak_mib']} | {b['seconds']} | {s['ratios']['full_build_over_baseline']} | "
              f"{fa['precision']:.4f} / {fa['recall']:.4f} / {fa['review_share']:.4%} | "
              f"{fa['precision_oracle']:.4f} / {fa['recall_oracle']:.4f} | {ba['precision']:.4f} / {ba['recall']:.4f}"
              f" | {s['loading']['load_seconds']:.0f}")
        print(f"    full build stages: {f['stages']}")
        print(f"    rebuild stages:    {r['stages']}")
    print("targets:", json.dumps(result["targets"]))
    print("scaling:", json.dumps(result["scaling"]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--large-runs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--district", default="622")
    parser.add_argument("--examples", type=int, default=10)
    parser.add_argument("--work", default="/tmp/bench-master-list")
    parser.add_argument("--fresh", action="store_true", help="generate and load again even if cached")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    env = {"CAMPAIGN_HOME": str(Path(args.work) / "home-env"), "CAMPAIGN_NOW": "2021-07-28T08:00"}
    started = time.perf_counter()
    results = []
    for people in sizes:
        runs = args.large_runs if (args.large_runs is not None and people >= 1_000_000) else args.runs
        results.append(measure_size(people, runs, args, env))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = sorted(line[3:] for line in subprocess.run(["git", "status", "--porcelain", "--", "campaign", "config"],
                                                         cwd=ROOT, capture_output=True, text=True).stdout.splitlines())
    result = {"machine": machine(), "commit": commit + (f" + uncommitted: {', '.join(dirty)}" if dirty else ""),
              "command": " ".join(["uv run python benchmarks/bench_master_list.py", *sys.argv[1:]]),
              "targets_set": TARGETS, "sizes": results, "targets": _targets(results), "scaling": _scaling(results),
              "bench_seconds": round(time.perf_counter() - started, 1)}
    report("master_list", result)
    _print(result)


if __name__ == "__main__":
    main()
