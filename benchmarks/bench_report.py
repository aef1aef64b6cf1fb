"""Reports (issue 8): every facility's report (~300), every district's and the province's, as DOCX and PDF.

The database is the demo's at `--people` people (`campaign demo`, prepared once under `--work`, not
measured): 298 facilities, the 17 districts' files of every kind, the master list, a published plan.
Each run, in a fresh process (wall and peak RSS via wait4), on a fresh copy of that database:

- reports: `campaign.reports.run.compile_reports` for the facility, district and province levels with
  the province's data read once (`load_data`), DOCX and PDF for each report;
- baseline: `load_data` alone (what any report pays before writing a line) plus the HTML of the
  province's report.

    uv run python benchmarks/bench_report.py [--people 50000] [--runs 3] [--work /tmp/bench-report]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from _common import machine, report, run_measured

HERE = Path(__file__).parent
ROOT = HERE.parent
CHILD = """
import datetime as dt, json, sys, time
from pathlib import Path
from sqlalchemy.orm import Session
from campaign.config import load_campaign
from campaign.reports import rules, run as reports, store
from campaign.store.db import make_engine
mode, db, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
engine = make_engine(f"sqlite:///{db}")
campaign = load_campaign()
at = dt.datetime(2021, 7, 28, 1, tzinfo=dt.UTC)
t = time.perf_counter()
with Session(engine) as s:
    data = store.load_data(s, campaign, at)
read = time.perf_counter() - t
result = {"read": read, "levels": {}}
if mode == "reports":
    for level in ("facility", "district", "province"):
        t = time.perf_counter()
        built = reports.compile_reports(engine, campaign, level=level, as_of=at, out_dir=out, data=data).built
        result["levels"][level] = {"reports": len(built), "seconds": time.perf_counter() - t,
                                   "pdf_bytes": sum(Path(b.files["pdf"]).stat().st_size for b in built)}
else:
    from campaign.reports.render_html import render_html
    t = time.perf_counter()
    html = render_html(rules.build_report(data, "province"))
    result["levels"]["province_html"] = {"seconds": time.perf_counter() - t, "bytes": len(html)}
print(json.dumps(result))
"""


def _run(mode: str, db: Path, out: Path) -> dict[str, Any]:
    measured = run_measured([sys.executable, "-c", CHILD, mode, str(db), str(out)], cwd=ROOT)
    result = json.loads(measured["stdout"].strip().splitlines()[-1])
    result["process_seconds"], result["process_peak_mib"] = measured["seconds"], measured["peak_mib"]
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--work", default="/tmp/bench-report")
    args = ap.parse_args()
    work = Path(args.work)
    home = work / f"home-{args.people}"
    prepared = home / "campaign.sqlite3"
    if not prepared.exists():
        env = {**os.environ, "CAMPAIGN_HOME": str(home)}
        subprocess.run(["uv", "run", "--frozen", "campaign", "demo", "--people", str(args.people),
                        "--out", str(work / f"in-{args.people}")], check=True, env=env, cwd=ROOT,
                       stdout=subprocess.DEVNULL)
    runs, bases = [], []
    for _ in range(args.runs):
        for mode, sink in (("reports", runs), ("baseline", bases)):
            db = work / "run.sqlite3"
            shutil.copyfile(prepared, db)
            out = work / "out"
            shutil.rmtree(out, ignore_errors=True)
            sink.append(_run(mode, db, out))
    median = statistics.median(r["process_seconds"] for r in runs)
    base = statistics.median(r["process_seconds"] for r in bases)
    results = {
        "machine": machine(), "command": " ".join(sys.argv), "people": args.people,
        "reports": {"median_seconds": round(median, 2), "runs": [round(r["process_seconds"], 2) for r in runs],
                    "peak_mib": round(max(r["process_peak_mib"] for r in runs)),
                    "per_level_first_run": {k: {kk: round(vv, 2) if isinstance(vv, float) else vv
                                                for kk, vv in v.items()} for k, v in runs[0]["levels"].items()},
                    "read_seconds_first_run": round(runs[0]["read"], 2)},
        "baseline": {"median_seconds": round(base, 2), "runs": [round(r["process_seconds"], 2) for r in bases],
                     "peak_mib": round(max(r["process_peak_mib"] for r in bases))},
        "ratio_reports_to_baseline": round(median / base, 2),
    }
    report("reports", results)


if __name__ == "__main__":
    main()
