#!/usr/bin/env bash
# Creates .venv with the exact locked dependencies (uv.lock). Idempotent and quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check "uv>=0.5"
fi
uv sync --frozen --python 3.11 --quiet
