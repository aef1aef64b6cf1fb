"""`campaign intake` of a 1M-row CSV as a new user runs it, against a naive pandas load of the same file.

- the file: one district's target list of N people (default 1,000,000) in 9 columns headed as the
  template heads them (`Họ và tên (*)`, `Ngày sinh dạng dd/mm/yyyy (*)`, ... `Mã Xã/Phường`), UTF-8 with
  BOM, no title, blank or totals rows, no planted defect: a file with no problem row;
- intake: `campaign intake FILE --district 622 --kind target_list --json` in a fresh process with a fresh
  `CAMPAIGN_HOME` (its SQLite database, Prefect's ephemeral API, the flow run, its tasks and artifacts,
  the feedback files): the whole call, wall time and peak resident memory (`wait4`);
- baseline, in the same run: a fresh process running `pandas.read_csv(dtype=str)` + `DataFrame.to_sql`
  of the same file into a new SQLite file (`sqlite3`, pandas' own defaults);
- Prefect's start-up, in the same run and reported apart: a fresh process running a trivial one-task flow
  with a fresh `CAMPAIGN_HOME` (the fixed cost every `campaign` command pays, `bench_demo.TRIVIAL_FLOW`).

    uv run python benchmarks/bench_intake_cli.py [--rows 1000000] [--runs 3]

Runs alternate (baseline, trivial flow, intake, baseline, ...) so that all see the same load of the machine.
The intake limits of `config/gia_lai_2021.yaml` (50 MB per file) are raised in a copy of the config.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import config_for_big_files, machine, report, run_measured
from bench_demo import TRIVIAL_FLOW

HERE = Path(__file__).parent
ROOT = HERE.parent

# The 9 columns (canonical names), in the template's order.
COLUMNS = ["full_name", "birth_date", "sex", "priority_group", "phone", "id_number", "insurance_number",
           "commune_name", "commune_code"]

GENERATE = """
import sys
from pathlib import Path
import numpy as np
import pandas as pd
from campaign.config import load_campaign
from campaign.config_kinds import load_input_kinds
from campaign.synth.files.cells import render_column
from campaign.synth.files.layouts import LAYOUTS
from campaign.synth.world.admin import prepare_admin
from campaign.synth.world.people import draw_people

out, rows, district, columns = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4].split(",")
campaign = load_campaign()
rng = np.random.Generator(np.random.PCG64(2021))
districts, communes = prepare_admin(campaign)
one = districts[districts.code == district].reset_index(drop=True)
comm = communes[communes.district_code == district].reset_index(drop=True)
people = draw_people(rng, rows, one, comm, None, campaign.campaign.campaign_date)
people["sex"] = np.where(people["female"].to_numpy(dtype=bool), "female", "male").astype(object)
spec = load_input_kinds()["target_list"]
layout = LAYOUTS["csv_bom"]
frame = pd.DataFrame({spec.column(c).template_header: render_column(people[c], spec.column(c), layout)
                      for c in columns})
frame.to_csv(out, index=False, encoding="utf-8-sig", lineterminator="\\r\\n")
"""

NAIVE = """
import sqlite3, sys
import pandas as pd
frame = pd.read_csv(sys.argv[1], dtype=str, encoding="utf-8-sig")
with sqlite3.connect(sys.argv[2]) as conn:
    frame.to_sql("target_list", conn, index=False)
print(len(frame))
"""






def _naive(csv_file: Path, tmp: Path) -> dict[str, Any]:
    db = tmp / "naive.sqlite3"
    db.unlink(missing_ok=True)
    measured = run_measured([sys.executable, "-c", NAIVE, str(csv_file), str(db)], cwd=ROOT)
    rows = int(measured["stdout"].strip().splitlines()[-1])
    db.unlink(missing_ok=True)
    return {"seconds": measured["seconds"], "peak_mib": measured["peak_mib"], "cpu_seconds": measured["cpu_seconds"],
            "rows": rows}


def _trivial_flow(tmp: Path) -> dict[str, Any]:
    home = tmp / "home-trivial"
    shutil.rmtree(home, ignore_errors=True)
    measured = run_measured([sys.executable, "-c", TRIVIAL_FLOW], cwd=ROOT, env={"CAMPAIGN_HOME": str(home)})
    shutil.rmtree(home, ignore_errors=True)
    return {"seconds": measured["seconds"], "peak_mib": measured["peak_mib"], "cpu_seconds": measured["cpu_seconds"]}


def _intake(csv_file: Path, tmp: Path, config: Path) -> dict[str, Any]:
    home = tmp / "home"
    shutil.rmtree(home, ignore_errors=True)
    env = {"CAMPAIGN_HOME": str(home), "CAMPAIGN_CONFIG": str(config), "CAMPAIGN_NOW": "2021-07-28T08:00"}
    cli = str(Path(sys.executable).parent / "campaign")
    measured = run_measured([cli, "intake", str(csv_file), "--district", "622", "--kind", "target_list", "--json"],
                            cwd=ROOT, env=env)
    outcome = json.loads(measured["stdout"].strip().splitlines()[-1])
    feedback = {p.name: round(p.stat().st_size / 2**20, 2)
                for p in (home / "outputs" / "feedback").rglob("*") if p.is_file()}
    shutil.rmtree(home, ignore_errors=True)
    return {"seconds": measured["seconds"], "peak_mib": measured["peak_mib"], "cpu_seconds": measured["cpu_seconds"],
            "status": outcome["status"],
            "rows_total": outcome["rows_total"], "rows_loaded": outcome["rows_loaded"],
            "rows_quarantined": outcome["rows_quarantined"], "rows_skipped": outcome["rows_skipped"],
            "reasons": outcome["reasons"], "stage_seconds": outcome.get("stage_seconds"),
            "feedback_files": feedback}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="Generate the file here and keep it (reused if present).")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-intake-cli-"))
    try:
        config = config_for_big_files(ROOT, tmp)
        csv_file = args.keep or tmp / "target_list.csv"
        if not csv_file.is_file():
            generated = run_measured([sys.executable, "-c", GENERATE, str(csv_file), str(args.rows), "622",
                                      ",".join(COLUMNS)], cwd=ROOT)
            print(f"generated {csv_file} in {generated['seconds']:.1f} s", file=sys.stderr)
        naive_runs, trivial_runs, intake_runs = [], [], []
        for i in range(args.runs):
            naive_runs.append(_naive(csv_file, tmp))
            trivial_runs.append(_trivial_flow(tmp))
            intake_runs.append(_intake(csv_file, tmp, config))
            print(f"run {i + 1}: naive {naive_runs[-1]['seconds']:.1f} s, trivial flow "
                  f"{trivial_runs[-1]['seconds']:.1f} s, intake {intake_runs[-1]['seconds']:.1f} s "
                  f"({intake_runs[-1]['peak_mib']:.0f} MiB; CPU {naive_runs[-1]['cpu_seconds']:.1f} / "
                  f"{trivial_runs[-1]['cpu_seconds']:.1f} / {intake_runs[-1]['cpu_seconds']:.1f} s) "
                  f"{intake_runs[-1]['stage_seconds']}", file=sys.stderr)
        naive_s = statistics.median(r["seconds"] for r in naive_runs)
        intake_s = statistics.median(r["seconds"] for r in intake_runs)
        trivial_s = statistics.median(r["seconds"] for r in trivial_runs)
        after = [r["seconds"] - t["seconds"] for r, t in zip(intake_runs, trivial_runs, strict=True)]

        def cpu(runs: list[dict[str, Any]]) -> float:
            return round(statistics.median(r["cpu_seconds"] for r in runs), 2)
        stage_keys = intake_runs[0].get("stage_seconds") or {}
        result = {
            "machine": machine(),
            "command": " ".join(["uv run python benchmarks/bench_intake_cli.py", *sys.argv[1:]]),
            "file": {"rows": args.rows, "columns": len(COLUMNS), "mib": round(csv_file.stat().st_size / 2**20, 1)},
            "intake_cli": {"seconds": round(intake_s, 2), "runs": [round(r["seconds"], 2) for r in intake_runs],
                           "peak_mib": round(max(r["peak_mib"] for r in intake_runs), 1),
                           "stage_seconds": {k: round(statistics.median((r["stage_seconds"] or {}).get(k, 0.0)
                                                                         for r in intake_runs), 2)
                                             for k in stage_keys},
                           "last_run": intake_runs[-1]},
            "naive_pandas": {"seconds": round(naive_s, 2), "runs": [round(r["seconds"], 2) for r in naive_runs],
                             "peak_mib": round(max(r["peak_mib"] for r in naive_runs), 1)},
            "prefect_startup_trivial_flow": {"seconds": round(trivial_s, 2),
                                             "runs": [round(r["seconds"], 2) for r in trivial_runs]},
            "intake_after_prefect_startup": {"seconds": round(statistics.median(after), 2),
                                             "runs": [round(a, 2) for a in after]},
            "ratio": round(intake_s / naive_s, 2),
            "ratio_after_prefect_startup": round(statistics.median(after) / naive_s, 2),
            "cpu_seconds": {"naive_pandas": cpu(naive_runs), "prefect_startup_trivial_flow": cpu(trivial_runs),
                            "intake_cli": cpu(intake_runs),
                            "ratio_after_prefect_startup": round((cpu(intake_runs) - cpu(trivial_runs))
                                                                 / cpu(naive_runs), 2)},
        }
        report("intake_cli", result)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
