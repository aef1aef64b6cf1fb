"""Commands with `campaign serve` running (issue 22): the flow goes to its server instead of an ephemeral API.

The province's readiness inputs (facilities, infrastructure, training, staff, communication of the 17
districts of a 2,000-person synthetic campaign, as `bench_readiness.py` loads them) are taken in once into
a fresh `CAMPAIGN_HOME` (not measured). `campaign serve --prefect-port P --port Q` is started on it. Then,
in rounds, each a fresh process measured with `wait4` (wall, peak RSS of it and its children):

- cold: `campaign readiness --json` as without a server: `serve`'s note (run/prefect-server.json) moved
  aside for the call and a Prefect home of its own, so the command starts its ephemeral API as it did;
- served: `campaign readiness --json` with the note in place (the command finds the server; stderr says
  "dùng máy chủ Prefect tại ...");
- read: `campaign deadlines --json` (the board; a read, no flow, no Prefect import).

Targets (issue 22, "Done when"): served <= 1/3 of cold, read <= 1/3 of cold, medians of the same run.

    uv run python benchmarks/bench_cli_server.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine, median_of, report, run_measured
from bench_readiness import LOAD


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(log: Path, text: str, proc: subprocess.Popen, timeout: float = 600) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise SystemExit(f"campaign serve exited {proc.returncode}: {log.read_text(errors='replace')[-3000:]}")
        time.sleep(1)
    raise SystemExit(f"campaign serve did not start: {log.read_text(errors='replace')[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--note", default="", help="what else ran on the machine meanwhile")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-cli-server-"))
    cli = str(Path(sys.executable).parent / "campaign")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"CAMPAIGN_HOME": str(tmp / "home"), "CAMPAIGN_NOW": "2021-07-28T08:00"})
    env.pop("CAMPAIGN_DATABASE_URL", None)
    serve = None
    try:
        loaded = run_measured([sys.executable, "-c", LOAD, str(tmp / "inputs")], env=env)
        port, portal_port = _free_port(), _free_port()
        log = tmp / "serve.log"
        with log.open("wb") as out:
            serve = subprocess.Popen([cli, "serve", "--prefect-port", str(port), "--port", str(portal_port)],
                                     env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        started = time.monotonic()
        _wait_for(log, "automations:", serve)
        serve_start_s = time.monotonic() - started
        note = tmp / "home" / "run" / "prefect-server.json"
        aside = note.with_suffix(".aside")
        cold_env = {**env, "PREFECT_HOME": str(tmp / "cold-prefect")}
        cold, served, read = [], [], []
        for _ in range(args.runs):
            note.rename(aside)
            try:
                cold.append(run_measured([cli, "readiness", "--json"], env=cold_env))
            finally:
                aside.rename(note)
            run = run_measured([cli, "readiness", "--json"], env={**env, "PREFECT_HOME": str(tmp / "unused-prefect")})
            served.append(run)
            read.append(run_measured([cli, "deadlines", "--json"], env=env))
        assert not (tmp / "unused-prefect" / "prefect.db").exists(), "a served run started an ephemeral API"
        c, s, r = median_of(cold), median_of(served), median_of(read)
        report("cli_server", {
            "machine": {**machine(), **({"note": args.note} if args.note else {})},
            "command": " ".join(["uv run python benchmarks/bench_cli_server.py", *sys.argv[1:]]),
            "load_seconds_not_measured": round(loaded["seconds"], 1),
            "serve_start_seconds": round(serve_start_s, 1),
            "readiness_cold": {**c, "cpu_seconds_median": round(sorted(x["cpu_seconds"] for x in cold)[len(cold) // 2], 2)},
            "readiness_served": {**s, "cpu_seconds_median": round(sorted(x["cpu_seconds"] for x in served)[len(served) // 2], 2)},
            "deadlines_read": {**r, "cpu_seconds_median": round(sorted(x["cpu_seconds"] for x in read)[len(read) // 2], 2)},
            "ratio_served_over_cold": round(s["seconds"] / c["seconds"], 3),
            "ratio_read_over_cold": round(r["seconds"] / c["seconds"], 3),
            "targets_met": {"served_le_third_of_cold": s["seconds"] <= c["seconds"] / 3,
                            "read_le_third_of_cold": r["seconds"] <= c["seconds"] / 3},
        })
    finally:
        if serve is not None and serve.poll() is None:
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(180)
            except subprocess.TimeoutExpired:
                os.killpg(serve.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
