#!/usr/bin/env bash
# README command 2: run the test suite. PostgreSQL tests run when CAMPAIGN_TEST_DATABASE_URL is set
# (.ci/run sets it); without it they are skipped, except under CI=true where they fail.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
# The portal's browser tests drive Debian's Chromium through Playwright (no browser download).
if ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing Debian's chromium for the browser tests..." >&2
    { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
      || echo "could not install chromium: the browser tests will fail under CI=true, skip otherwise" >&2
  else
    echo "note: chromium is not installed; the portal's browser tests need it (apt-get install chromium)" >&2
  fi
fi
# The whole suite runs on two processes (CI has 2 cores), a test file kept on one (its module fixtures are
# built once); a command with arguments (one file, -k ...) runs as given.
if [ $# -eq 0 ]; then
  set -- -n "${CAMPAIGN_TEST_WORKERS:-2}" --dist loadfile
fi
exec uv run --frozen pytest "$@"
