"""Shared helpers for the benchmark scripts: run a child process N times, report median wall and peak RSS."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem_gb, 1), "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d %H:%M %Z")}


def run_measured(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> dict[str, Any]:
    """Wall seconds and peak RSS (MiB) of one child process (and its children), via wait4()."""
    # Output goes to files, not pipes: a child that prints more than a pipe holds (64 KiB) would block
    # while we wait for it in wait4().
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, cwd=cwd, stdout=out_file, stderr=err_file)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read().decode(), err_file.read().decode()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.stderr.write(err[-4000:])
        raise SystemExit(f"{cmd} exited {code}")
    # CPU seconds (user + system) of the process and the children it waited for: on a shared machine the
    # wall time also measures the neighbours
    return {"seconds": wall, "peak_mib": usage.ru_maxrss / 1024, "stdout": out,
            "cpu_seconds": usage.ru_utime + usage.ru_stime}


def config_for_big_files(root: Path, tmp: Path) -> Path:
    """The campaign configuration with the upload size limit raised (the benchmarks' files exceed 50 MB)."""
    text = (root / "config" / "gia_lai_2021.yaml").read_text(encoding="utf-8")
    if "max_file_mb: 50" not in text:
        raise SystemExit("config/gia_lai_2021.yaml: intake.max_file_mb is no longer 50; update the benchmark")
    path = tmp / "campaign.yaml"
    path.write_text(text.replace("max_file_mb: 50", "max_file_mb: 2000"), encoding="utf-8")
    return path


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {"seconds": statistics.median(r["seconds"] for r in runs),
            "peak_mib": max(r["peak_mib"] for r in runs),
            "runs": [round(r["seconds"], 2) for r in runs]}


def self_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(name: str, result: dict[str, Any]) -> None:
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(json.dumps(result, indent=1, ensure_ascii=False))
