"""Build config/admin_units/gso_2021.csv.gz from the GSO export of 3 Feb 2021.

The source is `vietnam_provinces/data/nested-divisions.json` inside the PyPI wheel vietnam-provinces==0.4.3
(GPL-3.0). We do not depend on that package: this script reads its JSON once and writes the public codes
and names as a small CSV, one row per commune (a district without communes, such as the island districts,
gets one row with empty commune fields). Codes are zero-padded: province 2, district 3, commune 5 digits.

    pip download --no-deps vietnam-provinces==0.4.3 -d /tmp/vp && cd /tmp/vp && unzip -o '*.whl'
    uv run python scripts/build_admin_units.py /tmp/vp/vietnam_provinces/data/nested-divisions.json

The output is byte-for-byte reproducible (sorted rows, gzip without a timestamp or file name).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import sys
import unicodedata
from pathlib import Path

COLUMNS = [
    "province_code", "province_name", "province_type",
    "district_code", "district_name", "district_type",
    "commune_code", "commune_name", "commune_type",
]  # fmt: skip
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "config" / "admin_units" / "gso_2021.csv.gz"
# What the 3 Feb 2021 export holds; anything else means the wrong input file.
EXPECTED = {"provinces": 63, "districts": 705, "communes": 10_603}


def _text(value: object) -> str:
    return " ".join(unicodedata.normalize("NFC", str(value)).split())


def build_rows(divisions: list[dict]) -> list[list[str]]:
    """Flatten the nested province -> districts -> wards JSON into sorted, zero-padded rows."""
    rows: list[list[str]] = []
    for p in divisions:
        prov = [f"{int(p['code']):02d}", _text(p["name"]), _text(p["division_type"])]
        for d in p.get("districts") or []:
            dist = [f"{int(d['code']):03d}", _text(d["name"]), _text(d["division_type"])]
            wards = d.get("wards") or []
            if not wards:
                rows.append(prov + dist + ["", "", ""])
            for w in wards:
                rows.append(
                    prov + dist + [f"{int(w['code']):05d}", _text(w["name"]), _text(w["division_type"])]
                )
    rows.sort(key=lambda r: (r[0], r[3], r[6]))
    return rows


def check_counts(rows: list[list[str]]) -> dict[str, int]:
    counts = {
        "provinces": len({r[0] for r in rows}),
        "districts": len({r[3] for r in rows}),
        "communes": len({r[6] for r in rows if r[6]}),
    }
    if counts != EXPECTED:
        raise SystemExit(f"unexpected counts {counts}, expected {EXPECTED}: is this vietnam-provinces 0.4.3?")
    return counts


def write_csv_gz(rows: list[list[str]], out: Path) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    with (
        out.open("wb") as fh,
        gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9) as gz,
    ):
        gz.write(buf.getvalue().encode("utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json_path", type=Path, help="vietnam_provinces/data/nested-divisions.json (0.4.3)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}")
    args = parser.parse_args(argv)
    divisions = json.loads(args.json_path.read_text(encoding="utf-8"))
    rows = build_rows(divisions)
    counts = check_counts(rows)
    write_csv_gz(rows, args.out)
    print(f"wrote {args.out}: {counts}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
