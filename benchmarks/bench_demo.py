"""Demo wall time and peak memory at demo size, against a baseline measured in the same run.

Baseline: a fresh process that imports Prefect and runs one trivial flow on the ephemeral API (the fixed
cost every `campaign` command pays). The ratio demo/baseline is what to compare between machines.

    uv run python benchmarks/bench_demo.py [--people 50000] [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from _common import machine, median_of, report, run_measured

TRIVIAL_FLOW = """
from campaign.runtime import configure_environment
from campaign.settings import Settings
configure_environment(Settings())
from prefect import flow, task
@task
def one(): return 1
@flow
def trivial(): return one()
trivial()
from prefect.events.worker import EventsWorker
EventsWorker.drain_all(timeout=30)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    campaign_bin = str(Path(sys.executable).parent / "campaign")
    demo_runs, base_runs = [], []
    for _ in range(args.runs):
        home = Path(tempfile.mkdtemp(prefix="bench-demo-"))
        try:
            env = {"CAMPAIGN_HOME": str(home)}
            base_runs.append(run_measured([sys.executable, "-c", TRIVIAL_FLOW], env=env))
            demo_runs.append(run_measured([campaign_bin, "demo", "--people", str(args.people), "--json"], env=env))
        finally:
            shutil.rmtree(home, ignore_errors=True)
    demo, base = median_of(demo_runs), median_of(base_runs)
    report("demo", {
        "machine": machine(), "command": f"uv run python benchmarks/bench_demo.py --people {args.people} --runs {args.runs}",
        "people": args.people, "demo": demo, "baseline_trivial_flow": base,
        "ratio_demo_over_baseline": round(demo["seconds"] / base["seconds"], 1),
    })


if __name__ == "__main__":
    main()
