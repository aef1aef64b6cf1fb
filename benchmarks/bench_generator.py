"""Synthetic data generator rate at full province size, against a same-shape baseline in the same run.

- `generate_target_list_file`: 1,000,000 target-list rows (names, dates, CCCD, phones, planted defects),
  against a baseline that writes the same number of rows of random digits with pandas' to_csv (the cost
  of the CSV writer alone): the ratio is the price of realism.
- `generate_campaign(people=1_000_000)`: the whole province, every kind, every district (xlsx included).

    uv run python benchmarks/bench_generator.py [--rows 1000000] [--runs 3] [--full-campaign]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile

from _common import machine, median_of, report, run_measured

TARGET_LIST = """
import sys
from pathlib import Path
from campaign.synth import generate_target_list_file
generate_target_list_file(Path(sys.argv[1]) / "target_list.csv", rows=int(sys.argv[2]), seed=2021)
"""
BASELINE = """
import sys
import numpy as np, pandas as pd
from pathlib import Path
n = int(sys.argv[2]); rng = np.random.default_rng(2021)
cols = {f"c{i}": rng.integers(10**8, 10**9, n).astype(str) for i in range(20)}
pd.DataFrame(cols).to_csv(Path(sys.argv[1]) / "baseline.csv", index=False)
"""
CAMPAIGN = """
import sys
from pathlib import Path
from campaign.synth import generate_campaign
generate_campaign(Path(sys.argv[1]), people=int(sys.argv[2]), seed=2021)
"""


def _measure(code: str, rows: int, runs: int) -> dict:
    results = []
    for _ in range(runs):
        out = tempfile.mkdtemp(prefix="bench-gen-")
        try:
            results.append(run_measured([sys.executable, "-c", code, out, str(rows)]))
        finally:
            shutil.rmtree(out, ignore_errors=True)
    return median_of(results)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--full-campaign", action="store_true", help="also the whole province, every kind (slow)")
    args = parser.parse_args()
    target = _measure(TARGET_LIST, args.rows, args.runs)
    baseline = _measure(BASELINE, args.rows, args.runs)
    result = {
        "machine": machine(),
        "command": " ".join(["uv run python benchmarks/bench_generator.py", *sys.argv[1:]]),
        "rows": args.rows,
        "target_list_csv": {**target, "rows_per_second": round(args.rows / target["seconds"])},
        "baseline_random_digits_to_csv": baseline,
        "ratio_generator_over_baseline": round(target["seconds"] / baseline["seconds"], 2),
    }
    if args.full_campaign:
        full = _measure(CAMPAIGN, args.rows, 1)
        result["full_campaign"] = {**full, "people_per_second": round(args.rows / full["seconds"])}
    report("generator", result)


if __name__ == "__main__":
    main()
