"""The master list's scaling (issue 21, part 3): time, peak memory and accuracy of a full build at growing
sizes on each engine Splink can run on (DuckDB in process; Spark in local mode), and the curve through them.

Per size, the synthetic province's target lists (`generate_province_target_lists`: one CSV per district,
within- and cross-district repeats, 2.5% cell defects, the truth in the manifest) are generated and loaded
through `run_intake` into a SQLite database, once (kept under `--work`, reused by later runs, never part of
the figures; `_master_list_child.py load`). Then per engine and per run, in a fresh process on a fresh copy
of the loaded database: `master_list.build(retrain=True, linkage=<engine>)`, the full build (read, prepare,
train the model on that engine, score, cluster, eligibility, write).

Measured per build: the wall time of the build call (`seconds`, and its stages) and of the whole process
(`process_seconds`: with Python's imports and, for Spark, the JVM's start); the peak memory of the process
**and its children** (`peak_tree_mib`: the sum of the resident sets of the process and every descendant,
sampled every 0.2 s: Spark's JVM is a child process, which `wait4`'s figure, the largest single process,
would leave out; `peak_wait4_mib` is reported beside it). Accuracy on the first run of each engine:
pairwise precision and recall of "these two rows are one person" against the generator's truth
(`_master_list_child.py eval`; review pairs left apart).

Each figure is the median of `--runs` runs (peak memory: the largest). Per engine, a power law
t = a * n^b (and the same for memory) is fitted by least squares on log-log through the sizes' medians,
n in rows; its extrapolation to a 7.5M-row province and a 70M-row country is written beside it, marked as
the single-machine extrapolation it is (docs/scaling.md says how to read it). Raw figures:
`benchmarks/results/scale.json`.

    uv run python benchmarks/bench_scale.py [--sizes 250000,500000,1000000,2000000] [--runs 3]
        [--engines duckdb,spark] [--seed 2021] [--work /tmp/bench-scale] [--spark-master local[2]]
        [--driver-memory 8g] [--shuffle-partitions 8] [--fresh]

Sizes are people of the generator; rows come out ~0.5% more (the planted repeats), and the fit uses rows.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import machine, report

HERE = Path(__file__).parent
ROOT = HERE.parent
CHILD = str(HERE / "_master_list_child.py")
TARGETS_ROWS = {"province_7_5m": 7_500_000, "country_70m": 70_000_000}
PAGE = os.sysconf("SC_PAGE_SIZE")


# ---------------------------------------------------------------------------------------------------------
# Measuring a process tree
# ---------------------------------------------------------------------------------------------------------


def _children_of() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        out.setdefault(ppid, []).append(int(d))
    return out


def tree_rss_mib(pid: int) -> float:
    """The resident set of `pid` and all its descendants, summed (MiB)."""
    children = _children_of()
    todo, total = [pid], 0
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
        except OSError:
            pass
        todo.extend(children.get(p, []))
    return total / 2**20


def run_tree_measured(cmd: list[str], env: dict[str, str], interval: float = 0.2) -> dict[str, Any]:
    """Wall seconds, the peak of the summed RSS of the process tree (sampled), wait4's peak, stdout."""
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=ROOT, stdout=out_file, stderr=err_file)
        peak = [0.0]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], tree_rss_mib(proc.pid))
                done.wait(interval)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _pid, status, usage = os.wait4(proc.pid, 0)
        done.set()
        sampler.join()
        wall = time.perf_counter() - started
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read().decode(), err_file.read().decode()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.stderr.write(err[-4000:])
        raise SystemExit(f"{cmd} exited {code}")
    return {"seconds": wall, "peak_tree_mib": peak[0], "peak_wait4_mib": usage.ru_maxrss / 1024,
            "cpu_seconds": usage.ru_utime + usage.ru_stime, "stdout": out}


def _last_json(text: str) -> dict[str, Any]:
    return json.loads(text.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------------------
# The measured step, in a fresh process: `bench_scale.py child-build DB ENGINE HOME MASTER MEMORY`
# ---------------------------------------------------------------------------------------------------------


def child_build(db: Path, engine_name: str, home: Path, master: str, memory: str,
                partitions: int) -> dict[str, Any]:
    from _master_list_child import AS_OF, _campaign, _engine

    from campaign.master_list import run as ml_run
    from campaign.master_list.dedupe import engines
    from campaign.settings import Settings

    started = time.perf_counter()
    settings = Settings(home=home, spark_master=master, spark_driver_memory=memory,
                        spark_shuffle_partitions=partitions)
    linkage = engines.from_settings(engine_name, settings)
    db_engine = _engine(db)
    campaign = _campaign()
    setup = time.perf_counter() - started
    started = time.perf_counter()
    r = ml_run.build(db_engine, campaign, as_of=AS_OF, retrain=True, linkage=linkage)
    seconds = time.perf_counter() - started
    engines.stop_spark()
    return {"engine": r.engine, "seconds": seconds, "setup_seconds": setup, "trained": r.trained,
            "stages": {k: round(v, 3) for k, v in r.seconds.items()}, "rows": r.rows, "persons": r.persons,
            "review_pairs": r.review_pairs}


# ---------------------------------------------------------------------------------------------------------
# Sizes, engines, runs
# ---------------------------------------------------------------------------------------------------------


def _load(people: int, args: argparse.Namespace, env: dict[str, str]) -> tuple[Path, dict[str, Any]]:
    work = Path(args.work) / f"p{people}-s{args.seed}"
    if args.fresh:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    loaded_json = work / "load.json"
    if loaded_json.exists() and (work / "loaded.sqlite3").exists():
        return work, {**json.loads(loaded_json.read_text()), "cached": True}
    print(f"[{people}] generating and loading ...", flush=True)
    measured = run_tree_measured([sys.executable, CHILD, "load", str(work), str(people), str(args.seed)], env)
    loaded = _last_json(measured["stdout"])
    loaded_json.write_text(json.dumps(loaded))
    return work, {**loaded, "cached": False}


def measure(people: int, engine: str, work: Path, args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    runs, accuracy = [], None
    for k in range(args.runs):
        db = work / f"run-{engine}.sqlite3"
        for p in work.glob(db.name + "*"):
            p.unlink()
        shutil.copyfile(work / "loaded.sqlite3", db)
        home = work / f"home-{engine}"
        shutil.rmtree(home, ignore_errors=True)
        print(f"[{people}] {engine} run {k + 1}/{args.runs} ...", flush=True)
        m = run_tree_measured([sys.executable, __file__, "child-build", str(db), engine, str(home),
                               args.spark_master, args.driver_memory, str(args.shuffle_partitions)],
                              {**env, "CAMPAIGN_HOME": str(home)})
        r = {**_last_json(m["stdout"]), "process_seconds": m["seconds"], "cpu_seconds": m["cpu_seconds"],
             "peak_tree_mib": m["peak_tree_mib"], "peak_wait4_mib": m["peak_wait4_mib"]}
        print(f"[{people}]   {r['seconds']:.1f} s (process {m['seconds']:.1f} s), "
              f"{m['peak_tree_mib']:.0f} MiB tree", flush=True)
        runs.append(r)
        if k == 0:
            e = run_tree_measured([sys.executable, CHILD, "eval", str(db), str(work / "inputs" / "manifest.json"),
                                   "0"], env)
            ev = _last_json(e["stdout"])
            accuracy = {"precision": round(ev["auto"]["precision"], 5), "recall": round(ev["auto"]["recall"], 5),
                        "review_share": round(ev["review_share"], 5), "records": ev["records"],
                        "persons": ev["persons"]}
    return {
        "engine": engine, "people": people, "rows": runs[0]["rows"], "runs": len(runs),
        "seconds": round(statistics.median(r["seconds"] for r in runs), 2),
        "seconds_runs": [round(r["seconds"], 2) for r in runs],
        "process_seconds": round(statistics.median(r["process_seconds"] for r in runs), 2),
        "cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in runs), 2),
        "peak_tree_mib": round(max(r["peak_tree_mib"] for r in runs), 1),
        "peak_wait4_mib": round(max(r["peak_wait4_mib"] for r in runs), 1),
        "stages": {s: round(statistics.median(r["stages"].get(s, 0.0) for r in runs), 2) for s in runs[0]["stages"]},
        "persons": runs[0]["persons"], "review_pairs": runs[0]["review_pairs"], "accuracy": accuracy,
    }


def fit_power_law(points: list[tuple[float, float]]) -> dict[str, Any] | None:
    """y = a * n^b by least squares on (log n, log y); None with fewer than two sizes."""
    pts = [(n, y) for n, y in points if n > 0 and y > 0]
    if len({n for n, _ in pts}) < 2:
        return None
    xs, ys = [math.log(n) for n, _ in pts], [math.log(y) for _, y in pts]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    log_a = my - b * mx
    residual = [y - (log_a + b * x) for x, y in zip(xs, ys, strict=True)]
    ss_tot = sum((y - my) ** 2 for y in ys)
    r2 = 1 - sum(e * e for e in residual) / ss_tot if ss_tot > 0 else 1.0
    return {"a": math.exp(log_a), "b": round(b, 4), "r2": round(r2, 4), "points": len(pts),
            "n_range": [min(n for n, _ in pts), max(n for n, _ in pts)]}


def _extrapolate(fit: dict[str, Any] | None, unit: str) -> dict[str, Any]:
    """The fit at 7.5M and 70M rows, flagged: an exponent at or below 0 means fixed costs dominate the
    sizes measured (no curve to extend), and beyond 10x the largest size it is no plan either."""
    if fit is None:
        return {}
    if fit["b"] <= 0:
        return {"note": "exponent <= 0: fixed costs dominate the measured sizes; no extrapolation"}
    out: dict[str, Any] = {}
    for name, n in TARGETS_ROWS.items():
        beyond = n / fit["n_range"][1]
        out[name] = {unit: round(fit["a"] * n ** fit["b"], 1), "times_beyond_largest_measured": round(beyond, 1),
                     "usable": beyond <= 10}
    return out


def curves(points: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for engine in sorted({p["engine"] for p in points}):
        mine = sorted((p for p in points if p["engine"] == engine), key=lambda p: p["rows"])
        t = fit_power_law([(p["rows"], p["seconds"]) for p in mine])
        m = fit_power_law([(p["rows"], p["peak_tree_mib"]) for p in mine])
        out[engine] = {"seconds": t, "peak_tree_mib": m,
                       "single_machine_extrapolation": {"seconds": _extrapolate(t, "seconds"),
                                                        "peak_tree_mib": _extrapolate(m, "mib")}}
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "child-build":
        db, engine, home, master, memory, partitions = sys.argv[2:8]
        print(json.dumps(child_build(Path(db), engine, Path(home), master, memory, int(partitions)), default=str))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="250000,500000,1000000,2000000")
    parser.add_argument("--engines", default="duckdb,spark")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--work", default="/tmp/bench-scale")
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--driver-memory", default="8g")
    parser.add_argument("--shuffle-partitions", type=int, default=8, help="Spark's (CAMPAIGN_SPARK_SHUFFLE_PARTITIONS)")
    parser.add_argument("--fresh", action="store_true", help="generate and load again even if cached")
    args = parser.parse_args()
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    engine_names = [e.strip() for e in args.engines.split(",") if e.strip()]
    env = {"CAMPAIGN_HOME": str(Path(args.work) / "home-env"), "CAMPAIGN_NOW": "2021-07-28T08:00"}
    started = time.perf_counter()
    points, loading = [], {}
    for people in sizes:
        work, loaded = _load(people, args, env)
        loading[str(people)] = {k: loaded.get(k) for k in ("cached", "generate_seconds", "load_seconds", "rows_loaded",
                                                           "rows_quarantined", "truth_clusters")}
        for engine in engine_names:
            points.append(measure(people, engine, work, args, env))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    dirty = sorted(line[3:] for line in subprocess.run(["git", "status", "--porcelain", "--", "campaign", "config"],
                                                         cwd=ROOT, capture_output=True, text=True).stdout.splitlines())
    result = {"machine": machine(), "load_average_at_start": os.getloadavg(),
              "commit": commit + (f" + uncommitted: {', '.join(dirty)}" if dirty else ""),
              "command": " ".join(["uv run python benchmarks/bench_scale.py", *sys.argv[1:]]),
              "spark": {"master": args.spark_master, "driver_memory": args.driver_memory,
                        "shuffle_partitions": args.shuffle_partitions},
              "loading": loading, "points": points, "curves": curves(points),
              "bench_seconds": round(time.perf_counter() - started, 1)}
    report("scale", result)
    print("\nengine | people | rows | build s (runs) | tree peak MiB | P / R / review | train / score s")
    for p in points:
        a = p["accuracy"] or {}
        print(f"{p['engine']} | {p['people']} | {p['rows']} | {p['seconds']} {p['seconds_runs']} | "
              f"{p['peak_tree_mib']} | {a.get('precision')} / {a.get('recall')} / {a.get('review_share')} | "
              f"{p['stages'].get('train')} / {p['stages'].get('score')}")


if __name__ == "__main__":
    main()
