#!/usr/bin/env bash
# README command 2: run the test suite. PostgreSQL tests run when CAMPAIGN_TEST_DATABASE_URL is set
# (.ci/run sets it); without it they are skipped, except under CI=true where they fail.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec uv run --frozen pytest "$@"
