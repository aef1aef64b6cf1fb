#!/usr/bin/env bash
# README command 1: install everything (locked) and run the demo. Extra arguments go to `campaign demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec uv run --frozen campaign demo "$@"
