"""AEFI's rules at province scale (issue 20.4), in process, without a database: the intake check of one
AEFI file (1,500 rows) against 1,000,000 doses given (the vaccination record of each person), and the whole
assessment (cases, clusters, 24-hour investigations, rates per 100,000 by product and lot) of 15,000 cases
(~1.5% of the doses, the synthetic rate) against the same doses. Baseline, same run: the one groupby the
rates need at least (doses per product and lot over the 1,000,000 rows).

    uv run python benchmarks/bench_aefi.py [--doses 1000000] [--cases 15000] [--runs 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import machine  # noqa: E402
from campaign.aefi import rules  # noqa: E402
from campaign.config import load_campaign  # noqa: E402

PRODUCTS = np.array(["astrazeneca", "pfizer", "moderna", "vero_cell"], dtype=object)


def frames(n_doses: int, n_cases: int, seed: int = 20) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    person = np.arange(n_doses)
    lots = np.array([f"L{i:03d}" for i in range(200)], dtype=object)
    doses = pd.DataFrame({"id_number": pd.Series([f"0640{i:08d}" for i in person], dtype=object),
                          "full_name": [f"Người {chr(65 + i % 26)}{chr(65 + (i // 26) % 26)}{chr(65 + (i // 676) % 26)}"
                                        for i in person],
                          "birth_date": pd.to_datetime("1960-01-01") + pd.to_timedelta(person % 20000, unit="D"),
                          "product": PRODUCTS[person % 4], "lot": lots[rng.integers(0, 200, n_doses)],
                          "facility_code": [f"64633-TYT-{i % 300:03d}" for i in person]})
    pick = rng.choice(n_doses, n_cases, replace=False)
    given = pd.Timestamp("2021-08-01 01:00", tz="UTC") + pd.to_timedelta(rng.integers(0, 30 * 24, n_cases), unit="h")
    cases = doses.iloc[pick].reset_index(drop=True).assign(
        district="633", submission_id=rng.integers(1, 60, n_cases), row_number=np.arange(n_cases) + 2,
        received_at=given + pd.Timedelta(hours=12), dose_number=1, vaccinated_at=given,
        onset_at=given + pd.to_timedelta(rng.integers(-2, 48, n_cases), unit="h"),
        symptoms=np.where(rng.random(n_cases) < 0.02, "Sốc phản vệ", "Sốt, đau tại chỗ tiêm"),
        serious="no", outcome=np.where(rng.random(n_cases) < 0.005, "death", "recovered"))
    return doses, cases


def timed(fn, runs: int) -> tuple[float, list[float], object]:
    walls, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        walls.append(round(time.perf_counter() - t, 3))
    return statistics.median(walls), walls, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--doses", type=int, default=1_000_000)
    ap.add_argument("--cases", type=int, default=15_000)
    ap.add_argument("--file-rows", type=int, default=1_500)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    campaign = load_campaign()
    doses, cases = frames(args.doses, args.cases)
    per_lot = doses.assign(doses=1).groupby(["product", "lot"], as_index=False)["doses"].sum()
    now = dt.datetime(2021, 9, 1, tzinfo=dt.UTC)

    base, base_runs, _ = timed(lambda: doses.groupby(["product", "lot"]).size(), args.runs)
    file = cases.iloc[: args.file_rows]
    check, check_runs, issues = timed(lambda: rules.intake_issues(file, doses, campaign.aefi.seriousness), args.runs)

    def assess():
        c = rules.cases(cases, campaign.aefi, secret=b"bench-key-of-case-ids-32-bytes!!")
        inv = rules.investigations(c, pd.DataFrame(), campaign.aefi.investigation, now)
        r = rules.rates(c, per_lot, campaign.aefi.lot_flag)
        return rules.summary(c, inv, r)

    whole, whole_runs, summary = timed(assess, args.runs)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"machine": machine(), "doses": args.doses, "cases": args.cases, "file_rows": args.file_rows,
              "baseline_groupby_s": base, "baseline_runs": base_runs,
              "intake_check_s": check, "intake_check_runs": check_runs, "intake_issues": int(len(issues)),
              "assess_s": whole, "assess_runs": whole_runs, "peak_mib": round(peak),
              "ratio_check": round(check / base, 1), "ratio_assess": round(whole / base, 1),
              "summary": {k: v for k, v in summary.items() if k != "lots_flagged"},
              "lots_flagged": len(summary["lots_flagged"])}
    out = Path(__file__).resolve().parent / "results" / "aefi.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
