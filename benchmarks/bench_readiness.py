"""Readiness for the full province: ~300 facilities, ~10,000 team assignments, ~3,500 training rows.

The synthetic campaign's readiness files (facilities, infrastructure, training, staff, communication of
all 17 districts) are loaded once through intake into a fresh SQLite database (not measured). Then:

- core: `load_inputs` + `assess` + `record` in-process, several times (median), against a baseline that
  reads the same current rows from the database with pandas (the I/O floor of any assessment);
- flow: `campaign readiness --json` in a fresh process (the Prefect flow run, its tasks and artifacts),
  against a fresh process running a trivial flow (Prefect's fixed start-up); and the number of task runs
  and artifacts the flow made, read back from the Prefect API.

    uv run python benchmarks/bench_readiness.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from _common import machine, median_of, report, run_measured
from bench_demo import TRIVIAL_FLOW

KINDS = ("facilities", "infrastructure", "training", "communication", "staff")

LOAD = """
import sys, datetime as dt
from pathlib import Path
from campaign.demo import planned_uploads
from campaign.intake.rules import IntakeRequest
from campaign.intake.run import run_intake
from campaign.resources import get_resources
from campaign.synth import generate_campaign
out = Path(sys.argv[1]); generate_campaign(out, people=2000, seed=2021)
res = get_resources()
uploads, _later = planned_uploads(out / "manifest.json", dt.datetime(2099, 1, 1, tzinfo=dt.UTC))
for u in uploads:
    if u.kind in {kinds!r}:
        run_intake(IntakeRequest(Path(u.path), u.district, u.kind, u.facility,
                                 received_at=dt.datetime.fromisoformat(u.planned_at)),
                   engine=res.engine, settings=res.settings, campaign=res.campaign)
""".replace("{kinds!r}", repr(KINDS))

CORE = """
import json, sys, time, statistics, uuid, datetime as dt
import pandas as pd
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from campaign.readiness.rules import ReadinessRules, assess
from campaign.readiness.store import load_inputs, record
from campaign.resources import get_resources
from campaign.store.models import KIND_TABLES, Submission
res = get_resources(); rules = ReadinessRules.from_config(res.campaign)
today = dt.date(2021, 7, 28); runs = int(sys.argv[1])
core, base, sizes = [], [], {}
for _ in range(runs):
    t = time.perf_counter()
    with Session(res.engine) as s, s.begin():
        inputs = load_inputs(s, res.campaign.district_codes)
        result = assess(inputs, rules, today=today)
        record(s, result, run_id=str(uuid.uuid4()), as_of=dt.datetime(2021, 7, 28, 1, tzinfo=dt.UTC))
    core.append(time.perf_counter() - t)
    t = time.perf_counter()
    with res.engine.connect() as c:
        for kind in ("facilities", "infrastructure", "training", "staff", "communication"):
            ids = select(Submission.id).where(Submission.kind == kind, Submission.is_current.is_(True))
            table = KIND_TABLES[kind]
            sizes[kind] = len(pd.read_sql(select(table).where(table.c.submission_id.in_(ids)), c))
    base.append(time.perf_counter() - t)
print(json.dumps({"core_runs": core, "baseline_read_runs": base, "rows": sizes,
                  "facilities": len(result.facilities), "sessions": len(result.sessions),
                  "gaps": len(result.gaps), "province": result.province["status"]}))
"""

COUNT = """
import asyncio, json
from campaign.runtime import configure_environment
from campaign.settings import Settings
configure_environment(Settings())   # the same Prefect home as the commands
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName
async def main():
    async with get_client() as client:
        ff = FlowFilter(name=FlowFilterName(any_=["readiness"]))
        runs = await client.read_flow_runs(flow_filter=ff)
        tasks = await client.read_task_runs(flow_filter=ff)
        arts = await client.read_artifacts()
        keys = sorted({a.key for a in arts if a.key and a.key.startswith("readiness-")})
        print(json.dumps({"flow_runs": len(runs), "task_runs": len(tasks), "artifact_keys": len(keys)}))
asyncio.run(main())
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-readiness-"))
    try:
        env = {"CAMPAIGN_HOME": str(tmp / "home"), "CAMPAIGN_NOW": "2021-07-28T08:00"}
        loaded = run_measured([sys.executable, "-c", LOAD, str(tmp / "inputs")], env=env)
        core = json.loads(run_measured([sys.executable, "-c", CORE, str(args.runs)], env=env)["stdout"]
                          .strip().splitlines()[-1])
        cli = str(Path(sys.executable).parent / "campaign")
        flow_runs, base_runs = [], []
        for _ in range(max(1, args.runs // 2)):
            base_runs.append(run_measured([sys.executable, "-c", TRIVIAL_FLOW], env=env))
            flow_runs.append(run_measured([cli, "readiness", "--json"], env=env))
        counts = json.loads(run_measured([sys.executable, "-c", COUNT], env=env)["stdout"].strip().splitlines()[-1])
        flow, base = median_of(flow_runs), median_of(base_runs)
        core_s = statistics.median(core["core_runs"])
        base_s = statistics.median(core["baseline_read_runs"])
        report("readiness", {
            "machine": machine(),
            "command": " ".join(["uv run python benchmarks/bench_readiness.py", *sys.argv[1:]]),
            "load_seconds_not_measured": round(loaded["seconds"], 1),
            "rows": core["rows"], "facilities": core["facilities"], "sessions": core["sessions"],
            "gaps": core["gaps"], "province_status": core["province"],
            "core_seconds_median": round(core_s, 3), "core_runs": [round(x, 3) for x in core["core_runs"]],
            "baseline_read_seconds_median": round(base_s, 3),
            "ratio_core_over_read": round(core_s / base_s, 1),
            "flow_cli": flow, "baseline_trivial_flow": base,
            "ratio_flow_over_trivial_flow": round(flow["seconds"] / base["seconds"], 2),
            "prefect_counts": counts,
        })
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
