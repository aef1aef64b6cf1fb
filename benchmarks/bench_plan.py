"""Session planning (issue 6): a 30-day plan for the full province (1,000,000 people, ~300 facilities).

Once per size, a fresh SQLite database is prepared (`_plan_child.py prepare`, not measured): the
generator's 298 facilities of Gia Lai with their tables and GPS, its team rosters (two session days,
moved to the plan's first days; the latest roster stands for the other sessions), stock (AstraZeneca in
two lots at every facility with tables, Pfizer at a third of them), and a master list of N people in the
facilities' communes (10% due a dose 2 of AstraZeneca, 2% deferred earlier, 5% not eligible). Two
scenarios: `short` stock, doses for 60% of the people (supply was short in 2021: the vaccine binds), and
`ample` stock, doses for 150% (the sessions' capacity binds, and whole vials matter in every session).

Then, each in a fresh process (wall and peak RSS via wait4), per run on a fresh copy:
- plan: `campaign.planning.run.make_plan(days=30)`: read (master list, facilities, readiness teams,
  stock, published plan), plan, write (sessions, invitations, standby lists, the people left out);
- baseline: read the same people, sort them in the order of invitation and write one row per person
  back: the I/O floor of any planner. The ratio plan/baseline is reported.

Quality (from the plan itself): capacity used, share served in their own commune, planned open-vial
wastage against its lower bound for the same doses (one partly used vial per facility and product),
priority inversions.

    uv run python benchmarks/bench_plan.py [--sizes 100000,1000000] [--stock short=0.6,ample=1.5] [--runs 3]
        [--days 30] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

from _common import machine, report, run_measured

HERE = Path(__file__).parent
CHILD = str(HERE / "_plan_child.py")
ROOT = HERE.parent
START = "2021-07-29"
TARGETS = {"plan_seconds_1m": 60, "plan_peak_mib_1m": 4096, "wastage_above_bound_share": 0.01,
           "unexplained_inversions": 0}


def _child(args: list[str]) -> dict[str, Any]:
    measured = run_measured([sys.executable, CHILD, *args], cwd=ROOT)
    out = json.loads(measured["stdout"].strip().splitlines()[-1])
    out["process_seconds"] = measured["seconds"]
    out["process_peak_mib"] = measured["peak_mib"]
    return out


def _copy(src: Path, dst: Path) -> None:
    for p in dst.parent.glob(dst.name + "*"):
        p.unlink()
    shutil.copyfile(src, dst)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=2021)
    ap.add_argument("--work", default="/tmp/bench-plan")
    ap.add_argument("--stock", default="short=0.6,ample=1.5")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"machine": machine(), "command": " ".join(sys.argv), "days": args.days,
                               "targets": TARGETS, "sizes": {}}
    scenarios = {k: float(v) for k, v in (x.split("=") for x in args.stock.split(","))}
    for size in (int(x) for x in args.sizes.split(",")):
        for scenario, share in scenarios.items():
            key = f"{size}-{scenario}"
            prepared = work / f"p{size}-s{args.seed}-{scenario}.sqlite3"
            if not prepared.exists():
                info = _child(["prepare", str(prepared), str(size), str(args.seed), START, str(share)])
            else:
                info = {"reused": str(prepared)}
            plans, bases = [], []
            db = work / f"run-{key}.sqlite3"
            for _ in range(args.runs):
                _copy(prepared, db)
                plans.append(_child(["plan", str(db), START, str(args.days)]))
                _copy(prepared, db)
                bases.append(_child(["baseline", str(db)]))
            plan_s = statistics.median(p["process_seconds"] for p in plans)
            base_s = statistics.median(b["process_seconds"] for b in bases)
            results["sizes"][key] = {
                "people": size, "stock_share": share, "prepared": info,
                "plan": {"median_seconds": round(plan_s, 2), "runs": [round(p["process_seconds"], 2) for p in plans],
                         "peak_mib": round(max(p["process_peak_mib"] for p in plans)),
                         "stages_first_run": plans[0]["stages"]},
                "baseline": {"median_seconds": round(base_s, 2),
                             "runs": [round(b["process_seconds"], 2) for b in bases],
                             "peak_mib": round(max(b["process_peak_mib"] for b in bases))},
                "ratio_plan_to_baseline": round(plan_s / base_s, 2),
                "province": plans[0]["province"], "quality": plans[0]["quality"],
            }
            print(json.dumps({key: results["sizes"][key]["plan"]}), file=sys.stderr)
    report("plan", results)


if __name__ == "__main__":
    main()
