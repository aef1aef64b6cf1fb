"""The layout holds itself (issue 19): the import contracts in pyproject.toml (`lint-imports`), ruff, and
no Python file grown past what one reader takes in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MAX_LINES = 600
# Alembic migrations are a record, not a place anyone reads top to bottom. Test files are not held to the
# budget (several are long tables of cases); the code is.
EXEMPT = ("campaign/store/migrations/versions/",)
PACKAGES = ("campaign", "faces", "flows", "tasks", "expectations", "benchmarks", "scripts")


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / tool), *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})


def test_import_contracts_are_kept():
    done = _run("lint-imports")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout


def test_ruff_finds_nothing():
    done = _run("ruff", "check", ".")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


def test_no_python_file_is_over_the_line_budget():
    too_long = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(EXEMPT):
                continue
            lines = path.read_text(encoding="utf-8").count("\n")
            if lines > MAX_LINES:
                too_long[rel] = lines
    assert not too_long, f"over {MAX_LINES} lines: {too_long}"
