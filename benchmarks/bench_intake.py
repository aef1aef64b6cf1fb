"""Intake end to end at province scale, with the same rows through two baselines, in one run.

- a 1,000,000-row `target_list` CSV and a 200,000-row `target_list` xlsx (generated: names, CCCD,
  phones, planted defects), each through `run_intake` (read, standardize, gate, load, feedback file) in
  a fresh process, into SQLite and into PostgreSQL (a fresh database per run);
- baseline (a): a plain GX validation (11 rules, GX's defaults) of the raw frame of the 1M rows;
- baseline (b): the same 11 rules as vectorised pandas on the same frame;
- loading alone: `insert_frame` of the standardized 1M rows against the driver alone (the same values,
  converted beforehand: raw `executemany` on SQLite, `COPY` on PostgreSQL) and SQLAlchemy Core's
  executemany on 100,000 of them;
- Prefect's fixed start-up (a fresh process running a trivial flow), reported apart, and one
  `campaign intake` of the xlsx as a district would run it (a fresh process, the Prefect flow included).

    uv run python benchmarks/bench_intake.py [--rows 1000000] [--xlsx-rows 200000] [--runs 3]
                                             [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/campaign_bench]
                                             [--no-pg]

The intake limits of `config/gia_lai_2021.yaml` (50 MB per file) are raised for the run in a copy of the
config: a 1M-row CSV is ~180 MB.
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
CHILD = str(HERE / "_intake_child.py")
ROOT = HERE.parent


def _generate(out: Path, rows: int, layout: str) -> Path:
    code = ("import sys; from pathlib import Path; from campaign.synth import generate_target_list_file; "
            "generate_target_list_file(Path(sys.argv[1]), int(sys.argv[2]), seed=2021, layout=sys.argv[3])")
    run_measured([sys.executable, "-c", code, str(out), str(rows), layout])
    return out




def _fresh_pg(url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    with psycopg.connect(host=u.host or "127.0.0.1", port=u.port or 5432, user=u.username or "postgres",
                         password=u.password, dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{u.database}"')


def _child(mode: str, file: Path, env: dict[str, str]) -> dict[str, Any]:
    measured = run_measured([sys.executable, CHILD, mode, str(file)], env=env, cwd=ROOT)
    result = json.loads(measured["stdout"].strip().splitlines()[-1])
    result["process_seconds"] = measured["seconds"]
    result["process_peak_mib"] = measured["peak_mib"]
    return result


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of every number over the runs (peaks: the largest), plus the runs' key figure."""
    out: dict[str, Any] = {}
    for key, value in runs[0].items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            if isinstance(value, dict):
                out[key] = _median([r[key] for r in runs])
            else:
                out[key] = value
            continue
        values = [r[key] for r in runs]
        out[key] = round(max(values) if "peak" in key else statistics.median(values), 3)
    return out


def _runs(n: int, fn) -> dict[str, Any]:
    runs = [fn() for _ in range(n)]
    summary = _median(runs)
    key = "seconds_through_load" if "seconds_through_load" in runs[0] else "seconds"
    if key in runs[0]:
        summary["runs"] = [round(r[key], 2) for r in runs]
    return summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--xlsx-rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/campaign_bench")
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-intake-"))
    try:
        config = config_for_big_files(ROOT, tmp)
        csv_file = _generate(tmp / "target_list_1m.csv", args.rows, "csv_bom")
        xlsx_file = _generate(tmp / "target_list_200k.xlsx", args.xlsx_rows, "xlsx_official")
        databases = {"sqlite": None} if args.no_pg else {"sqlite": None, "postgresql": args.pg_url}

        def env_for(db_url: str | None) -> dict[str, str]:
            home = tmp / "home"
            shutil.rmtree(home, ignore_errors=True)
            env = {"CAMPAIGN_HOME": str(home), "CAMPAIGN_CONFIG": str(config), "CAMPAIGN_NOW": "2021-07-28T08:00"}
            if db_url:
                _fresh_pg(db_url)
                env["CAMPAIGN_DATABASE_URL"] = db_url
            return env

        result: dict[str, Any] = {
            "machine": machine(),
            "command": " ".join(["uv run python benchmarks/bench_intake.py", *sys.argv[1:]]),
            "files": {"csv": {"rows": args.rows, "mib": round(csv_file.stat().st_size / 2**20, 1)},
                      "xlsx": {"rows": args.xlsx_rows, "mib": round(xlsx_file.stat().st_size / 2**20, 1)}},
            "intake": {},
        }
        for name, url in databases.items():
            for label, file in (("csv", csv_file), ("xlsx", xlsx_file)):
                result["intake"][f"{label}_{name}"] = _runs(args.runs, lambda f=file, u=url: _child("intake", f, env_for(u)))
        base_env = env_for(None)
        result["baseline_plain_gx"] = _runs(args.runs, lambda: _child("plain-gx", csv_file, base_env))
        result["baseline_pandas"] = _runs(args.runs, lambda: _child("pandas", csv_file, base_env))
        result["load"] = {name: _runs(args.runs, lambda u=url: _child("load", csv_file, env_for(u)))
                          for name, url in databases.items()}
        result["prefect_startup_trivial_flow"] = _runs(args.runs, lambda: {
            k: v for k, v in run_measured([sys.executable, "-c", TRIVIAL_FLOW], env=env_for(None)).items()
            if k != "stdout"})
        cli = str(Path(sys.executable).parent / "campaign")
        result["campaign_intake_cli_xlsx_sqlite"] = {
            k: v for k, v in run_measured([cli, "intake", str(xlsx_file), "--district", "622", "--kind",
                                           "target_list", "--json"], env=env_for(None)).items() if k != "stdout"}

        gate = result["intake"]["csv_sqlite"]["stages"]["gate"]
        result["ratios"] = {
            "gate_over_plain_gx": round(gate / result["baseline_plain_gx"]["seconds"], 2),
            "gate_over_pandas": round(gate / result["baseline_pandas"]["seconds"], 2),
            **{f"insert_frame_over_driver_{n}": round(v["insert_frame_seconds"] / v["driver_only_seconds"], 2)
               for n, v in result["load"].items()},
        }
        report("intake", result)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
