#!/usr/bin/env bash
# Creates .venv with the exact locked dependencies (uv.lock). Idempotent and quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check "uv>=0.5"
fi
# The master list on Spark (`master_list: engine: spark`, the extra `spark`) needs Java 17: Debian's JRE,
# installed when missing and we are root (as scripts/test.sh does for chromium); otherwise a note.
if ! command -v java >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing Debian's openjdk-17-jre-headless for the master list on Spark..." >&2
    { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; } \
      || echo "could not install Java: the Spark engine's tests will fail under CI=true, skip otherwise" >&2
  else
    echo "note: Java is not installed; the master list on Spark needs it (apt-get install openjdk-17-jre-headless)" >&2
  fi
fi
uv sync --frozen --python 3.11 --extra spark --quiet
