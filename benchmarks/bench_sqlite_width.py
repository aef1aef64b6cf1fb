"""How the raw sqlite3 insert rate depends on the row's width: 1,000,000 rows of 9-digit text values,
`executemany` of pre-built tuples in 50,000-row chunks, WAL, synchronous=NORMAL, one index, with and
without foreign-key checks. The floor under any loader that binds Python values.

    uv run python benchmarks/bench_sqlite_width.py [--rows 1000000] [--widths 10 24 27]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import machine, report


def rate(rows: int, width: int, foreign_keys: bool, path: Path) -> float:
    rng = np.random.default_rng(1)
    cols = [rng.integers(10**8, 10**9, rows).astype(str).tolist() for _ in range(width)]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA foreign_keys={int(foreign_keys)}")
    conn.execute("CREATE TABLE s (id INTEGER PRIMARY KEY)")
    conn.execute("INSERT INTO s VALUES (1)")
    names = ",".join(f"c{i}" for i in range(width))
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, sid INTEGER NOT NULL REFERENCES s(id), "
                 + ",".join(f"c{i} VARCHAR(50)" for i in range(width)) + ")")
    conn.execute("CREATE INDEX ix_t_sid ON t (sid)")
    sid = [1] * rows
    sql = f"INSERT INTO t (sid,{names}) VALUES (?,{','.join('?' * width)})"
    conn.execute("BEGIN")
    started = time.perf_counter()
    for s in range(0, rows, 50_000):
        conn.executemany(sql, zip(sid[s:s + 50_000], *[c[s:s + 50_000] for c in cols], strict=True))
    conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return rows / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--widths", type=int, nargs="+", default=[10, 24, 27])
    args = parser.parse_args()
    out = {"machine": machine(), "rows": args.rows, "rows_per_second": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for width in args.widths:
            for fk in (False, True):
                path = Path(tmp) / f"w{width}_{fk}.db"
                out["rows_per_second"][f"{width} columns, foreign_keys={fk}"] = round(rate(args.rows, width, fk, path))
    report("sqlite_width", out)


if __name__ == "__main__":
    main()
