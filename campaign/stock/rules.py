"""Stock that reconciles (issue 20.3), the pure part: frames in, frames out, no database.

One function, `reconcile`, computes everything once: per facility, product, lot and day the balance
  Tồn đầu + Nhập − Xuất − Đã sử dụng − Hủy/Hư hỏng − Hết hạn = Tồn cuối
(opening + received − issued to other sites − vials opened − wasted closed vials = closing), the doses the
opened vials held against the doses the results say were given, the row checks, and per facility and
product the indicators: WHO wastage rate over the period ((doses supplied − doses given) / doses supplied,
split into opened-vial and closed-vial wastage; see `_indicators`), stock-out days (a facility+product day
with nothing usable across all its lots) and days of stock left at the planned pace.
Every report, board, CLI and intake figure about stock is read from its result (count once).

A day whose results are not in yet (no `vaccinations` row of that facility and day: `reported`) is not
reconciled against doses: it is *pending* (`days.doses_status`, `pending_days`), not a mismatch, and stays
out of the wastage rate until its results arrive; every read reconciles again (the report, the CLI, intake).
A lot's first day without a Tồn đầu opens from the latest `vaccine_stock` count of that facility, product
and lot taken on or before that day (`opening`), else 0.

Rules and why each is a warning, not a row error (the row loads and is reported):
- the balance does not add up, or a day's Tồn đầu is not the previous day's Tồn cuối: the clerk's counts are
  the only record of the stock; refusing the row would drop real vials and break the next day's opening;
- the balance goes negative (more vials out than the facility had): the movements happened (people were
  vaccinated from them); rejecting the row would hide doses already given; the planner counts zero;
- a lot past its expiry on the report date (a snapshot's: the day the file came in, Asia/Ho_Chi_Minh): the
  vials exist and must be counted to be destroyed; the planner never uses them;
- doses per vial differ from the product's (Pfizer-BioNTech: 6, `vaccine_products` of the campaign file):
  the product's figure is used for the doses, the file's is quoted back.
A negative count itself is a row error already (the column's `min: 0` in config/input_kinds.yaml).
The reconciled balance the planner uses is min(Tồn cuối counted, balance computed), never below 0: it never
plans doses the books cannot account for, nor vials the count did not find.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

LEDGER = "stock_ledger"
SNAPSHOT = "vaccine_stock"
KEY = ["district", "facility_code", "product", "lot"]
MOVES = ["vials_received", "vials_issued", "vials_used", "vials_damaged", "vials_expired"]
# codes of config/reasons.yaml, all warnings (see the module's docstring)
BALANCE, OPENING, NEGATIVE, DOSES, EXPIRED, PER_VIAL = (
    "stock_balance_mismatch", "stock_opening_mismatch", "stock_negative_balance", "stock_doses_mismatch",
    "stock_lot_expired", "stock_doses_per_vial_mismatch")
FINDING_CODES = (BALANCE, OPENING, NEGATIVE, DOSES, EXPIRED, PER_VIAL)
# a day's doses against its results (`days.doses_status`): no vial opened, reconciled (results in), or
# pending (vials opened, the facility's results of that day not in yet: not a finding)
NO_DOSES, RECONCILED, PENDING = "none", "reconciled", "pending"
# the column each finding is about (the feedback names it as the district headed it)
FINDING_COLUMN = {BALANCE: "vials_closing", OPENING: "vials_opening", NEGATIVE: "vials_closing",
                  DOSES: "vials_used", EXPIRED: "expiry_date", PER_VIAL: "doses_per_vial"}
FIGURES = ["opening", "vials_received", "vials_issued", "vials_used", "vials_damaged", "vials_expired", "book",
           "vials_closing", "prev_closing", "doses_given", "capacity", "dpv", "dpv_file", "expiry_date"]
FINDING_COLUMNS = ["code", "column", "row", "submission_id", *KEY, "report_date", *FIGURES]


@dataclass
class Reconciliation:
    """What `reconcile` found. `days`: one row per facility, product, lot and day (the ledger's row with
    `opening`, `book`, `closing` reconciled, `doses_given`, `capacity` = vials opened × doses per vial);
    `findings`: the discrepancies (FINDING_COLUMNS), each pointing at its source row; `indicators`: per
    district, facility and product."""
    days: pd.DataFrame
    findings: pd.DataFrame
    indicators: pd.DataFrame


def _num(frame: pd.DataFrame, col: str, fill: float | None = 0.0) -> pd.Series:
    if col not in frame.columns:
        return pd.Series(np.nan if fill is None else fill, index=frame.index, dtype=float)
    out = pd.to_numeric(frame[col], errors="coerce").astype(float)
    return out if fill is None else out.fillna(fill)


def _date(frame: pd.DataFrame, col: str) -> pd.Series:
    if col not in frame.columns:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    return pd.to_datetime(frame[col], errors="coerce").astype("datetime64[ns]")


def ledger_of_snapshot(stock: pd.DataFrame, today: dt.date) -> pd.DataFrame:
    """A `vaccine_stock` snapshot read as a one-day ledger counted on `today`, the day the file came in (the
    submission's received_at in Asia/Ho_Chi_Minh): its lots' expiry is checked against that day, never
    against `received_date` (the day the vials arrived, which may be weeks before the count). Tồn đầu is 0
    (Nhập is everything received); `vials_issued` is the snapshot's one outflow column ("Số lọ đã sử
    dụng/cấp": issued or used); the count `vials_on_hand` is the closing."""
    out = stock.copy()
    out["report_date"] = pd.Series(pd.Timestamp(today), index=out.index, dtype="datetime64[ns]")
    out["vials_damaged"] = _num(out, "vials_wasted")
    out["vials_expired"] = 0.0
    out["vials_closing"] = _num(out, "vials_on_hand", None)
    if "vials_opening" not in out.columns:
        out["vials_opening"] = np.nan
    out["vials_opening"] = _num(out, "vials_opening").where(_num(out, "vials_opening", None).notna(), 0.0)
    return out


def reconcile(ledger: pd.DataFrame, given: pd.DataFrame | None, per_vial: Mapping[str, int], *,
              pace: pd.DataFrame | None = None, as_of: dt.date | None = None, sessions_per_day: int = 2,
              reported: pd.DataFrame | None = None, opening: pd.DataFrame | None = None) -> Reconciliation:
    """The whole reconciliation, once. `ledger`: rows of `stock_ledger` (canonical columns, plus `district`
    and optionally `row` / `submission_id` pointing at the source row); `given`: doses the results say were
    given, `facility_code, product, lot, session_date, doses` (lot may be blank); `per_vial`: {product: doses
    per vial}; `pace`: planned doses per day `facility_code, product, doses_per_day`; `as_of`: the day the
    days of stock left count from (default: the last ledger day). A day may open one vial per session part
    more than its doses need (an opened vial is discarded after the session: `sessions_per_day`).
    `reported`: the facility-days whose results are in (`facility_code, session_date`; default: the days
    `given` has a row for): a day with vials opened and no results is pending, not a doses mismatch.
    `opening`: the latest `vaccine_stock` count per lot (`facility_code, product, lot, vials_on_hand,
    counted_on`): a lot's first ledger day without a Tồn đầu opens from it when it was counted on or before
    that day (else 0)."""
    d = ledger.copy()
    if "district" not in d.columns:
        d["district"] = ""
    for c in ("row", "submission_id"):
        if c not in d.columns:
            d[c] = np.arange(len(d)) if c == "row" else -1
    d["lot"] = d["lot"].astype(object).where(d["lot"].notna(), "").astype(str)
    d["report_date"] = _date(d, "report_date")
    d["expiry_date"] = _date(d, "expiry_date")
    for c in MOVES:
        d[c] = _num(d, c)
    d["vials_closing"] = _num(d, "vials_closing")
    d["dpv_file"] = _num(d, "doses_per_vial", None)
    d["dpv"] = d["product"].map(dict(per_vial)).astype(float).fillna(d["dpv_file"]).fillna(1.0)
    d = d.sort_values([*KEY, "report_date", "submission_id", "row"], kind="stable")
    d = d.drop_duplicates([*KEY, "report_date"], keep="last").reset_index(drop=True)

    # integer ids once (grouping on four text columns again and again costs more than the arithmetic)
    d["_lot"] = d.groupby(KEY, sort=False).ngroup()
    d["_fp"] = d.groupby(["district", "facility_code", "product"], sort=False).ngroup()
    d["_pd"] = d.groupby(["_fp", "report_date"], sort=False).ngroup()
    prev = d.groupby("_lot", sort=False)["vials_closing"].shift(1)
    d["prev_closing"] = prev
    reported_opening = _num(d, "vials_opening", None)
    d["opening"] = reported_opening.fillna(prev).fillna(_snapshot_opening(d, opening)).fillna(0.0)
    d["book"] = d["opening"] + d["vials_received"] - d["vials_issued"] - d["vials_used"] - d["vials_damaged"] \
        - d["vials_expired"]
    d["closing"] = np.maximum(0.0, np.minimum(d["vials_closing"], d["book"]))
    d["capacity"] = d["vials_used"] * d["dpv"]

    # doses given: per lot where the results name it; results without a lot count for the product-day
    g = given.copy() if given is not None and len(given) else pd.DataFrame(
        {"facility_code": [], "product": [], "lot": [], "session_date": [], "doses": []})
    g["lot"] = g["lot"].astype(object).where(g["lot"].notna(), "").astype(str)
    g["report_date"] = _date(g, "session_date")
    g["doses"] = _num(g, "doses")
    day = ["facility_code", "product", "report_date"]
    by_lot = g[g["lot"] != ""].groupby([*day, "lot"], sort=False)["doses"].sum().rename("doses_given")
    d = d.merge(by_lot, how="left", left_on=[*day, "lot"], right_index=True)
    d["doses_given"] = d["doses_given"].fillna(0.0)
    unlotted = g[g["lot"] == ""].groupby(day, sort=False)["doses"].sum().rename("unlotted")
    all_given = g.groupby(day, sort=False)["doses"].sum().rename("day_given")
    d = d.merge(unlotted, how="left", left_on=day, right_index=True).merge(
        all_given, how="left", left_on=day, right_index=True)
    d[["unlotted", "day_given"]] = d[["unlotted", "day_given"]].fillna(0.0)
    # the facility-days whose results are in: a day with vials opened and no results yet is pending
    if reported is None:
        reported = pd.DataFrame({"facility_code": g["facility_code"], "session_date": g["report_date"]})
    days_in = pd.DataFrame({"facility_code": reported["facility_code"].astype(str).to_numpy() if len(reported) else [],
                            "report_date": _date(reported, "session_date").to_numpy() if len(reported) else []}
                           ).drop_duplicates().assign(_in=True)
    days_in["report_date"] = days_in["report_date"].astype("datetime64[ns]")
    d = d.merge(days_in, how="left", on=["facility_code", "report_date"])
    results_in = d.pop("_in").fillna(False).astype(bool)
    opened = d.groupby("_pd", sort=False)["vials_used"].transform("sum") > 0
    d["doses_status"] = np.where(~opened, NO_DOSES, np.where(results_in, RECONCILED, PENDING))

    findings = _findings(d, sessions_per_day)
    indicators = _indicators(d, pace, as_of)
    keep = [c for c in d.columns if c not in ("unlotted", "_lot", "_fp", "_pd")]
    return Reconciliation(days=d[keep], findings=findings, indicators=indicators)


def _snapshot_opening(d: pd.DataFrame, opening: pd.DataFrame | None) -> pd.Series:
    """Each lot's first ledger day: the vials of the latest `vaccine_stock` count of that facility, product and
    lot taken on or before that day (NaN elsewhere: the previous day's closing or 0 applies)."""
    out = pd.Series(np.nan, index=d.index, dtype=float)
    if opening is None or opening.empty or d.empty:
        return out
    snap = opening.assign(lot=opening["lot"].astype(object).where(opening["lot"].notna(), "").astype(str),
                          counted_on=_date(opening, "counted_on"), vials=_num(opening, "vials_on_hand"))
    snap = snap.sort_values("counted_on", kind="stable")
    first = d.groupby("_lot", sort=False).cumcount() == 0
    heads = d.loc[first, ["facility_code", "product", "lot", "report_date"]].reset_index()
    got = heads.merge(snap[["facility_code", "product", "lot", "counted_on", "vials"]], how="inner",
                      on=["facility_code", "product", "lot"])
    got = got[got["counted_on"].isna() | (got["counted_on"] <= got["report_date"])]
    got = got.groupby("index", sort=False).tail(1)   # the latest count (sorted by counted_on)
    out.loc[got["index"].to_numpy()] = got["vials"].to_numpy(dtype=float)
    return out


def _doses_off(given: pd.Series, used: pd.Series, capacity: pd.Series, dpv: pd.Series, allowance: int) -> pd.Series:
    """More doses given than the opened vials held, or more vials opened than the doses needed plus one per
    session part."""
    needed = np.ceil(given / dpv)
    return (given > capacity) | (used - needed > allowance)


def _findings(d: pd.DataFrame, sessions_per_day: int) -> pd.DataFrame:
    parts: list[pd.DataFrame] = []

    def add(code: str, mask: pd.Series, frame: pd.DataFrame | None = None) -> None:
        src = d if frame is None else frame
        if mask.any():
            parts.append(src.loc[mask].assign(code=code, column=FINDING_COLUMN[code]))

    negative = d["book"] < 0
    add(NEGATIVE, negative)
    add(BALANCE, ~negative & (d["book"] != d["vials_closing"]))
    reported_opening = _num(d, "vials_opening", None)
    add(OPENING, reported_opening.notna() & d["prev_closing"].notna() & (reported_opening != d["prev_closing"]))
    held = (d["opening"] + d["vials_received"] + d["vials_closing"] + d["vials_used"]) > 0
    add(EXPIRED, held & d["expiry_date"].notna() & (d["expiry_date"] < d["report_date"]))
    add(PER_VIAL, d["dpv_file"].notna() & (d["dpv_file"] != d["dpv"]))
    # doses: per lot when every dose of the product-day names its lot, else per product-day (its first row)
    lotted = d["unlotted"] == 0
    pending = d["doses_status"] == PENDING      # no results yet: not reconciled, not a mismatch
    per_lot = lotted & ~pending & _doses_off(d["doses_given"], d["vials_used"], d["capacity"], d["dpv"], sessions_per_day)
    add(DOSES, per_lot)
    day = ["district", "facility_code", "product", "report_date"]
    grouped = d[~lotted & ~pending].groupby(day, sort=False)
    if len(grouped):
        agg = grouped.agg(row=("row", "first"), submission_id=("submission_id", "first"), lot=("lot", "first"),
                          vials_used=("vials_used", "sum"), capacity=("capacity", "sum"), dpv=("dpv", "first"),
                          doses_given=("day_given", "first")).reset_index()
        agg["lot"] = ""   # the whole product that day
        add(DOSES, _doses_off(agg["doses_given"], agg["vials_used"], agg["capacity"], agg["dpv"], sessions_per_day),
            agg)
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in FINDING_COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    for c in FINDING_COLUMNS:
        if c not in out.columns:
            out[c] = np.nan
    return out[FINDING_COLUMNS].sort_values(["row", "code"], kind="stable", ignore_index=True)


def _stockout_days(x: pd.DataFrame) -> pd.Series:
    """Per product-day (`_pd`): True when the facility held nothing usable that day across ALL its lots of the
    product. A lot absent from a day's ledger keeps its latest closing before that day (a lot left out of a
    file is not a lot at zero); a lot past its expiry that day is not usable."""
    pdays = x.drop_duplicates("_pd")[["_pd", "_fp", "report_date"]]
    lots = x.drop_duplicates("_lot")[["_lot", "_fp"]]
    grid = pdays.merge(lots, on="_fp").sort_values("report_date", kind="stable")
    known = x[["_lot", "report_date", "closing", "expiry_date"]].sort_values("report_date", kind="stable")
    held = pd.merge_asof(grid, known, on="report_date", by="_lot", direction="backward")
    usable = held["closing"].fillna(0.0).where(held["expiry_date"].isna() | (held["expiry_date"] >= held["report_date"]),
                                               0.0)
    return usable.groupby(held["_pd"].to_numpy()).sum().le(0)


def _indicators(d: pd.DataFrame, pace: pd.DataFrame | None, as_of: dt.date | None) -> pd.DataFrame:
    """Per district, facility and product. Wastage follows WHO, *Monitoring vaccine wastage at country level:
    guidelines for programme managers* (WHO/V&B/03.18): wastage rate = (doses supplied − doses administered)
    / doses supplied, over the PERIOD (here: the facility's reconciled ledger days), never day by day clipped
    at zero: a day that gives more doses than its vials held (vials opened late the day before, a clerk's
    day boundary) offsets another day's leftovers, as in WHO's cumulative opened-vial monitoring. Doses
    supplied = doses of the vials opened (capacity) + doses of the closed vials wasted (Hủy/Hư hỏng, Hết hạn);
    opened-vial wastage = capacity − doses given, closed-vial wastage = closed vials × doses per vial, kept
    apart. Pending days (results not in yet) are left out of the rate until their results arrive.
    (/work/shared/DOMAIN.md gives no wastage definition; docs/domain.md "Vaccine stock and wastage".)"""
    fp = ["district", "facility_code", "product"]
    cols = [*fp, "days", "first_day", "last_day", "vials_received", "vials_issued", "vials_used", "vials_damaged",
            "vials_expired", "capacity", "doses_supplied", "doses_given", "wasted_open", "wasted_closed", "wastage_rate",
            "open_vial_rate", "closed_vial_rate", "stockout_days", "closing_vials", "usable_doses", "pace",
            "days_left", "discrepancy_days", "pending_days"]
    if d.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    when = pd.Timestamp(as_of) if as_of is not None else d["report_date"].max()
    x = d.assign(closed=(d["vials_damaged"] + d["vials_expired"]) * d["dpv"],
                 usable=np.where(d["expiry_date"].isna() | (d["expiry_date"] >= when), d["closing"] * d["dpv"], 0.0),
                 off=(d["book"] != d["vials_closing"]), pending=(d["doses_status"] == PENDING))
    pday = x.groupby("_pd", sort=False).agg(
        _fp=("_fp", "first"), capacity=("capacity", "sum"), given=("day_given", "first"), closed=("closed", "sum"),
        off=("off", "any"), pending=("pending", "any"))
    # the period's figures: pending days wait for their results (their vials' doses are not wasted yet)
    pday["capacity_in"] = pday["capacity"].where(~pday["pending"], 0.0)
    pday["given_in"] = pday["given"].where(~pday["pending"], 0.0)
    pday["stockout"] = _stockout_days(x).reindex(pday.index).fillna(False).astype(bool)
    last = x.groupby("_lot", sort=False).tail(1)   # each lot's latest day
    ind = x.groupby("_fp", sort=False).agg(
        district=("district", "first"), facility_code=("facility_code", "first"), product=("product", "first"),
        days=("_pd", "nunique"), first_day=("report_date", "min"), last_day=("report_date", "max"),
        vials_received=("vials_received", "sum"), vials_issued=("vials_issued", "sum"),
        vials_used=("vials_used", "sum"), vials_damaged=("vials_damaged", "sum"),
        vials_expired=("vials_expired", "sum"))
    per_day = pday.groupby("_fp", sort=False).agg(
        capacity=("capacity_in", "sum"), doses_given=("given_in", "sum"), wasted_closed=("closed", "sum"),
        stockout_days=("stockout", "sum"), discrepancy_days=("off", "sum"), pending_days=("pending", "sum"))
    bal = last.groupby("_fp", sort=False).agg(closing_vials=("closing", "sum"), usable_doses=("usable", "sum"))
    ind = ind.join(per_day).join(bal).reset_index(drop=True)
    ind["wasted_open"] = ind["capacity"] - ind["doses_given"]      # over the period, not clipped day by day
    ind["doses_supplied"] = ind["capacity"] + ind["wasted_closed"]
    wasted = ind["wasted_open"] + ind["wasted_closed"]
    ind["wastage_rate"] = (wasted / ind["doses_supplied"]).where(ind["doses_supplied"] > 0)
    ind["open_vial_rate"] = (ind["wasted_open"] / ind["capacity"]).where(ind["capacity"] > 0)
    ind["closed_vial_rate"] = (ind["wasted_closed"] / ind["doses_supplied"]).where(ind["doses_supplied"] > 0)
    if pace is not None and len(pace):
        p = pace.groupby(["facility_code", "product"])["doses_per_day"].sum().rename("pace")
        ind = ind.merge(p, how="left", left_on=["facility_code", "product"], right_index=True)
    else:
        ind["pace"] = np.nan
    ind["days_left"] = (ind["usable_doses"] / ind["pace"]).where(ind["pace"] > 0)
    for c in ("first_day", "last_day"):
        ind[c] = ind[c].dt.date
    return ind[cols].sort_values(fp, ignore_index=True)


def balance_for_plan(days: pd.DataFrame) -> pd.DataFrame:
    """Each lot's reconciled closing on its latest ledger day, as the planner reads stock: `facility_code,
    product, lot, expiry, doses_per_vial, vials_on_hand` (vials_on_hand = the reconciled balance)."""
    cols = ["facility_code", "product", "lot", "expiry", "doses_per_vial", "vials_on_hand"]
    if days.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    last = days.sort_values([*KEY, "report_date"], kind="stable").groupby(KEY, sort=False).tail(1)
    return pd.DataFrame({
        "facility_code": last["facility_code"].to_numpy(dtype=object), "product": last["product"].to_numpy(dtype=object),
        "lot": last["lot"].to_numpy(dtype=object),
        "expiry": last["expiry_date"].dt.date.astype(object).where(last["expiry_date"].notna(), None).to_numpy(),
        "doses_per_vial": last["dpv"].astype(int).to_numpy(), "vials_on_hand": last["closing"].astype(int).to_numpy()})


def replace_stock(snapshot: pd.DataFrame, ledger_balance: pd.DataFrame) -> pd.DataFrame:
    """The planner's stock: a facility with a ledger is planned from its reconciled balance (a lot without
    an expiry in the ledger takes the snapshot's), the others from their snapshot count."""
    if ledger_balance.empty:
        return snapshot
    with_ledger = set(ledger_balance["facility_code"])
    bal = ledger_balance.copy()
    known = snapshot.drop_duplicates(["facility_code", "lot"]).set_index(["facility_code", "lot"])["expiry"]
    missing = bal["expiry"].isna()
    if missing.any():
        keys = list(zip(bal.loc[missing, "facility_code"], bal.loc[missing, "lot"], strict=True))
        bal.loc[missing, "expiry"] = [known.get(k) for k in keys]
    bal = bal[bal["expiry"].notna()]
    rest = snapshot[~snapshot["facility_code"].isin(with_ledger)]
    return pd.concat([rest, bal[snapshot.columns]], ignore_index=True)


def summarize(rec: Reconciliation, low_days: float = 3.0) -> dict:
    """The figures a report (sections II.3/II.4), the board and the CLI show, per district and province, from
    one reconciliation (count once). Plain numbers; words are `campaign.stock.present`'s."""
    ind = rec.indicators

    def block(frame: pd.DataFrame, finds: pd.DataFrame) -> dict:
        supplied = float(frame["doses_supplied"].sum()) if len(frame) else 0.0
        given = float(frame["doses_given"].sum()) if len(frame) else 0.0
        wasted_open = float(frame["wasted_open"].sum()) if len(frame) else 0.0
        wasted_closed = float(frame["wasted_closed"].sum()) if len(frame) else 0.0
        low = frame[frame["days_left"].notna() & (frame["days_left"] < low_days)] if len(frame) else frame
        return {
            "facilities": int(frame["facility_code"].nunique()) if len(frame) else 0,
            "doses_supplied": int(supplied), "doses_given": int(given),
            "wasted_open": int(wasted_open), "wasted_closed": int(wasted_closed),
            "wastage_rate": round((wasted_open + wasted_closed) / supplied, 4) if supplied else None,
            "open_vial_rate": round(wasted_open / float(frame["capacity"].sum()), 4)
            if len(frame) and float(frame["capacity"].sum()) else None,
            "closed_vial_rate": round(wasted_closed / supplied, 4) if supplied else None,
            "stockout_days": int(frame["stockout_days"].sum()) if len(frame) else 0,
            "pending_days": int(frame["pending_days"].sum()) if len(frame) and "pending_days" in frame else 0,
            "closing_vials": int(frame["closing_vials"].sum()) if len(frame) else 0,
            "usable_doses": int(frame["usable_doses"].sum()) if len(frame) else 0,
            "low_stock": [{"facility_code": r.facility_code, "product": r.product, "days_left": round(float(r.days_left), 1)}
                          for r in low.itertuples()] if len(low) else [],
            "discrepancies": int(len(finds)),
            "by_code": {str(k): int(v) for k, v in finds["code"].value_counts().sort_index().items()} if len(finds) else {},
        }

    finds = rec.findings
    out = {"province": block(ind, finds), "districts": {}}
    for district in sorted(set(ind["district"]) | set(finds["district"].dropna())) if len(ind) or len(finds) else []:
        out["districts"][str(district)] = block(ind[ind["district"] == district], finds[finds["district"] == district])
    return out


def slice_units(rec: Reconciliation, districts: list[str] | None = None, facility: str | None = None
                ) -> Reconciliation:
    """The part of one reconciliation (the province's run) that belongs to `districts` (and `facility`): its
    days, findings and indicators, figures unchanged. THE district view: `campaign stock -d X`
    (`campaign.stock.run.reconcile_current(districts=[X])`) and a report or board of district X show this
    slice of the same province run, so the days of stock left count from the same day."""
    def part(frame: pd.DataFrame) -> pd.DataFrame:
        if frame is None or frame.empty:
            return frame
        out = frame[frame["district"].isin(list(districts))] if districts is not None and "district" in frame else frame
        if facility is not None and "facility_code" in out:
            out = out[out["facility_code"] == facility]
        return out.reset_index(drop=True)

    return Reconciliation(days=part(rec.days), findings=part(rec.findings), indicators=part(rec.indicators))
