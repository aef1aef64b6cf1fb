"""Stock reconciliation for the province: ~300 facilities over 30 days (issue 20.3).

A generated province ledger (`--facilities` facilities × 30 days × 2 products × 2 lots, in vials, with a
few discrepancies) and the doses the results give per facility, product, lot and day. Measured in the same
run, each the median of `--runs`, with the peak memory the call allocated (tracemalloc) and the process's
peak RSS:

- `campaign.stock.rules.reconcile`: the whole reconciliation (balance chain, doses given against vials
  opened, row checks, indicators) and `summarize`;
- baseline: a naive pandas groupby-cumsum of the balance (opening + cumulative movements vs the count),
  the least any reconciliation must do, with no doses, checks nor indicators;
- end to end on SQLite: the ledger and ~`--doses` vaccination rows stored as accepted submissions, then
  `campaign.stock.run.reconcile_current` (reads through campaign.store.current + reconcile).

    uv run python benchmarks/bench_stock.py [--runs 5] [--facilities 300]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import machine, report, self_peak_mib  # noqa: E402

START = dt.date(2021, 7, 29)
DISTRICTS = ["622", "623", "624", "625", "633", "634", "635", "637", "638", "639", "640", "641", "642", "643",
             "644", "645", "646"]


def province(facilities: int, days: int, seed: int = 2021) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ledger rows and doses given (aggregated per facility, product, lot, day), balanced except ~1%."""
    rng = np.random.default_rng(seed)
    per_vial = {"astrazeneca": 10, "pfizer": 6}
    ledger_parts, given_parts = [], []
    for f in range(facilities):
        district = DISTRICTS[f % len(DISTRICTS)]
        code = f"64{district}-TYT-{f:03d}"
        for product, dpv in per_vial.items():
            for lot in (f"{product[:2].upper()}{f:03d}A", f"{product[:2].upper()}{f:03d}B"):
                doses = rng.integers(0, 60, days) * (np.arange(days) % 7 != 6)
                used = -(-doses // dpv)
                received = np.zeros(days, dtype=np.int64)
                received[0] = used.sum() // 2 + 20
                received[days // 2] = used.sum() // 2 + 20
                damaged = (rng.random(days) < 0.03).astype(np.int64)
                closing = np.cumsum(received - used - damaged)
                opening = np.r_[0, closing[:-1]]
                off = rng.random(days) < 0.01
                closing_reported = closing + off * rng.integers(-3, 4, days)
                dates = pd.to_datetime([START + dt.timedelta(days=i) for i in range(days)])
                ledger_parts.append(pd.DataFrame({
                    "district": district, "facility_code": code, "product": product, "lot": lot, "report_date": dates,
                    "expiry_date": pd.Timestamp("2021-12-31"), "doses_per_vial": dpv, "vials_opening": opening,
                    "vials_received": received, "vials_issued": 0, "vials_used": used, "vials_damaged": damaged,
                    "vials_expired": 0, "vials_closing": closing_reported, "row": np.arange(days) + 2,
                    "submission_id": f + 1}))
                given_parts.append(pd.DataFrame({"facility_code": code, "product": product, "lot": lot,
                                                 "session_date": dates.date, "doses": doses}))
    given = pd.concat(given_parts, ignore_index=True)
    return pd.concat(ledger_parts, ignore_index=True), given[given["doses"] > 0].reset_index(drop=True)


def naive(ledger: pd.DataFrame) -> pd.DataFrame:
    """Baseline: per lot, the first opening plus the cumulative net movement, against the count."""
    d = ledger.sort_values(["district", "facility_code", "product", "lot", "report_date"])
    net = d["vials_received"] - d["vials_issued"] - d["vials_used"] - d["vials_damaged"] - d["vials_expired"]
    key = [d["district"], d["facility_code"], d["product"], d["lot"]]
    first = d.groupby(key)["vials_opening"].transform("first")
    book = first + net.groupby(key).cumsum()
    return d.assign(book=book, off=book != d["vials_closing"])


def timed(fn, runs: int) -> dict:
    """Median wall seconds of `runs` calls, then one more call under tracemalloc for the peak it allocates
    (tracemalloc slows pandas several times: never timed)."""
    secs, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        secs.append(time.perf_counter() - t)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return {"seconds": statistics.median(secs), "runs": [round(s, 3) for s in secs],
            "alloc_peak_mib": round(peak, 1), "result": out}


def end_to_end(ledger: pd.DataFrame, given: pd.DataFrame, runs: int) -> dict:
    """Store the ledger and one vaccination row per dose in a fresh SQLite database, then reconcile."""
    import os

    tmp = Path(tempfile.mkdtemp(prefix="bench_stock_"))
    os.environ["CAMPAIGN_HOME"] = str(tmp)
    os.environ.pop("CAMPAIGN_DATABASE_URL", None)
    from sqlalchemy.orm import Session

    from campaign.resources import get_resources
    from campaign.stock.run import reconcile_current
    from campaign.store.bulk import insert_frame
    from campaign.store.models import KIND_TABLES, StoredFile, Submission

    res = get_resources()
    when = dt.datetime(2021, 8, 30, tzinfo=dt.UTC)
    vacc = given.loc[given.index.repeat(given["doses"])].reset_index(drop=True)
    vacc = vacc.assign(full_name="x", birth_date=dt.date(1980, 1, 1), sex="male", screening_result="eligible",
                       vaccinated="yes", dose_number=1).drop(columns=["doses"])
    district_of = ledger.drop_duplicates("facility_code").set_index("facility_code")["district"]
    vacc["district"] = vacc["facility_code"].map(district_of)
    t = time.perf_counter()
    with Session(res.engine) as s, s.begin():
        for kind, frame in (("stock_ledger", ledger), ("vaccinations", vacc)):
            for district, part in frame.groupby("district"):
                sha = f"{kind}-{district}".ljust(64, "0")
                s.add(StoredFile(sha256=sha, size_bytes=1, original_filename="x", media_type=None, relative_path=sha,
                                 first_seen_at=when))
                sub = Submission(district_code=district, kind=kind, version=1, status="accepted", is_current=True,
                                 checksum=sha, original_filename="x", channel="cli", submitted_by="bench",
                                 received_at=when)
                s.add(sub)
                s.flush()
                cols = [c.name for c in KIND_TABLES[kind].columns if c.name in part.columns and c.name != "id"]
                rows = part[cols].assign(submission_id=sub.id, row_number=np.arange(len(part)) + 2, sheet=None)
                if "report_date" in rows:
                    rows["report_date"] = rows["report_date"].dt.date
                    rows["expiry_date"] = rows["expiry_date"].dt.date
                insert_frame(s.connection(), KIND_TABLES[kind], rows)
    load_seconds = time.perf_counter() - t

    def run():
        with Session(res.engine) as s:
            return reconcile_current(s, res.campaign, as_of=when)   # every submission (received at `when`)

    out = timed(run, runs)
    return {"vaccination_rows": len(vacc), "load_seconds_not_measured_below": round(load_seconds, 1), **out}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--facilities", type=int, default=300)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--no-db", action="store_true", help="skip the end-to-end SQLite measure")
    args = parser.parse_args(argv)
    from campaign.stock.rules import reconcile, summarize

    ledger, given = province(args.facilities, args.days)
    per_vial = {"astrazeneca": 10, "pfizer": 6}
    full = timed(lambda: summarize(reconcile(ledger, given, per_vial, as_of=START)), args.runs)
    base = timed(lambda: naive(ledger), args.runs)
    rec = reconcile(ledger, given, per_vial, as_of=START)
    agree = int(naive(ledger)["off"].sum()), int((rec.days["book"] != rec.days["vials_closing"]).sum())
    result = {
        "machine": machine(), "facilities": args.facilities, "days": args.days, "ledger_rows": len(ledger),
        "doses_rows": len(given), "doses": int(given["doses"].sum()),
        "reconcile": {k: v for k, v in full.items() if k != "result"},
        "baseline_groupby_cumsum": {k: v for k, v in base.items() if k != "result"},
        "ratio": round(full["seconds"] / base["seconds"], 1),
        "unbalanced_rows_baseline_vs_reconcile": agree, "findings": full["result"]["province"]["by_code"],
        "wastage_rate": full["result"]["province"]["wastage_rate"],
    }
    if not args.no_db:
        e2e = end_to_end(ledger, given, args.runs)
        result["end_to_end_sqlite"] = {k: v for k, v in e2e.items() if k != "result"}
    result["process_peak_rss_mib"] = round(self_peak_mib(), 1)
    report("stock", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
