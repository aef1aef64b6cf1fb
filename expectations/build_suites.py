"""Write the Great Expectations suites, one JSON file per input kind, from the column spec.

    uv run python -m expectations.build_suites            # write expectations/<kind>.json
    uv run python -m expectations.build_suites --check    # exit 1 when a file is out of date

The JSON files are what the gate runs and what a DoH data steward reads; they are generated from
`config/input_kinds.yaml` and `config/reasons.yaml` (change those, then run this).
"""

from __future__ import annotations

import argparse
import os
import sys

from campaign.config_kinds import load_input_kinds


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    from expectations.suites import dumps, suite_json, suite_path, write_suites

    parser = argparse.ArgumentParser(prog="python -m expectations.build_suites", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report files that differ from the spec")
    parser.add_argument("kinds", nargs="*", help="kinds to build (default: every kind)")
    args = parser.parse_args(argv)
    kinds = args.kinds or load_input_kinds().names
    if args.check:
        stale = [k for k in kinds
                 if not suite_path(k).exists() or suite_path(k).read_text(encoding="utf-8") != dumps(suite_json(k))]
        for k in stale:
            print(f"out of date: {suite_path(k)}", file=sys.stderr)
        return 1 if stale else 0
    for path in write_suites(kinds):
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
