"""Child process of bench_plan.py (one measured unit of work per process).

    python benchmarks/_plan_child.py prepare DB PEOPLE SEED START STOCK   a migrated SQLite database with
        the synthetic province's facilities, team rosters and stock for STOCK x PEOPLE doses, and a
        master list of PEOPLE people
    python benchmarks/_plan_child.py plan DB START DAYS               campaign.planning.run.make_plan
    python benchmarks/_plan_child.py baseline DB                      read the people, sort them in the order
        of invitation, write one row per person back (the I/O floor of any planner)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _engine(db: Path):
    from campaign.store.db import make_engine

    return make_engine(f"sqlite:///{db}")


def _submission(session, district: str, kind: str, at: dt.datetime) -> int:
    from campaign.store.models import StoredFile, Submission

    sha = hashlib.sha256(f"{district}{kind}".encode()).hexdigest()
    session.add(StoredFile(sha256=sha, size_bytes=1, original_filename=f"{kind}.xlsx", media_type=None,
                           relative_path=sha, first_seen_at=at))
    session.flush()
    sub = Submission(district_code=district, kind=kind, version=1, status="accepted", is_current=True, checksum=sha,
                     original_filename=f"{kind}.xlsx", channel="cli", submitted_by="bench", received_at=at)
    session.add(sub)
    session.flush()
    return sub.id


def prepare(db: Path, people: int, seed: int, start: dt.date, stock_share: float) -> dict[str, Any]:
    from sqlalchemy.orm import Session

    from campaign.store.bulk import insert_frame
    from campaign.store.db import migrate
    from campaign.store.models import KIND_TABLES, LinkageModel, MasterListRun, MasterPerson
    from campaign.synth import build_world

    rng = np.random.default_rng(seed)
    world = build_world(people=2000, seed=seed)
    fac = world.facilities.rename(columns={"district_code": "district"})
    engine = _engine(db)
    migrate(engine)
    at = dt.datetime(2021, 7, 28, 1, tzinfo=dt.UTC)
    with Session(engine) as s, s.begin():
        conn = s.connection()
        for district, part in fac.groupby("district"):
            sid = _submission(s, district, "facilities", at)
            cols = [c.name for c in KIND_TABLES["facilities"].c if c.name not in ("id",)]
            frame = part.assign(submission_id=sid, row_number=np.arange(len(part)) + 2, sheet=None)
            insert_frame(conn, KIND_TABLES["facilities"], frame[[c for c in cols if c in frame.columns]])
        # the generator's rosters (two session days), moved to the plan's first days; a standing roster
        # covers the rest of the horizon
        staff = world.staff.rename(columns={"district_code": "district"})
        first = pd.to_datetime(staff["session_date"]).min()
        staff["session_date"] = (pd.Timestamp(start) + (pd.to_datetime(staff["session_date"]) - first)).dt.date
        staff["updated_on"] = pd.to_datetime(staff["session_date"]).dt.date - dt.timedelta(days=1)
        for district, part in staff.groupby("district"):
            sid = _submission(s, district, "staff", at)
            cols = [c.name for c in KIND_TABLES["staff"].c if c.name not in ("id",)]
            frame = part.assign(submission_id=sid, row_number=np.arange(len(part)) + 2, sheet=None)
            insert_frame(conn, KIND_TABLES["staff"], frame[[c for c in cols if c in frame.columns]])
        # stock: every facility with tables has AstraZeneca (two lots), a third also Pfizer; doses for
        # `stock_share` of the people, spread unevenly
        usable = fac[fac["vaccination_tables"] > 0]
        rows = []
        per_facility = stock_share * people / len(usable)
        for f in usable.itertuples(index=False):
            share = rng.uniform(0.5, 1.5) * per_facility
            rows.append((f.district, f.facility_code, "astrazeneca", f"ABV{rng.integers(1000, 9999)}",
                         start + dt.timedelta(days=int(rng.integers(10, 25))), 10, int(share * 0.3 / 10)))
            rows.append((f.district, f.facility_code, "astrazeneca", f"ABV{rng.integers(1000, 9999)}",
                         start + dt.timedelta(days=int(rng.integers(60, 120))), 10, int(share * 0.4 / 10)))
            if rng.random() < 0.35:
                rows.append((f.district, f.facility_code, "pfizer", f"FD{rng.integers(1000, 9999)}",
                             start + dt.timedelta(days=int(rng.integers(30, 90))), 6, int(share * 0.3 / 6)))
        stock = pd.DataFrame(rows, columns=["district", "facility_code", "product", "lot", "expiry_date",
                                            "doses_per_vial", "vials_on_hand"])
        stock["vials_received"], stock["vials_issued"] = stock["vials_on_hand"], 0
        for district, part in stock.groupby("district"):
            sid = _submission(s, district, "vaccine_stock", at)
            frame = part.assign(submission_id=sid, row_number=np.arange(len(part)) + 2, sheet=None)
            insert_frame(conn, KIND_TABLES["vaccine_stock"], frame)
        # the master list: people in the facilities' communes (all 17 districts), priorities, 10% due a
        # dose 2 of AstraZeneca, 2% deferred, 5% not eligible
        communes = fac.drop_duplicates("commune_code")
        pick = rng.integers(0, len(communes), people)
        district = communes["district"].to_numpy(dtype=object)[pick]
        weights = np.r_[[0.05] * 4, [0.01] * 4, [0.2], [0.04] * 4, [0.1], [0.09], [0.14]]
        priority = rng.choice(np.arange(1, 17), people, p=weights / weights.sum())
        model = LinkageModel(version="bench", trained_rows=0, seconds=0.0, model={})
        s.add(model)
        s.flush()
        run = MasterListRun(as_of=at, model_id=model.id, trained=False, rows=people, persons=people, review_pairs=0,
                            inputs=[], stats={})
        s.add(run)
        s.flush()
        target_subs = {d: _submission(s, d, "target_list", at) for d in sorted(set(district))}
        ineligible = rng.random(people) < 0.05
        deferred = ~ineligible & (rng.random(people) < 0.02)
        second = rng.random(people) < 0.10
        persons = pd.DataFrame({
            "person_id": [f"GL{i:08d}" for i in range(1, people + 1)], "run_id": run.id,
            "submission_id": pd.Series(district).map(target_subs).to_numpy(), "row_number": np.arange(people) + 2,
            "district": district, "commune_code": communes["commune_code"].to_numpy(dtype=object)[pick],
            "rows": 1, "districts": district, "priority_group": priority, "priority_note": None,
            "eligible": ~ineligible & ~deferred,
            "ineligible_reason": np.where(ineligible, "under_age", np.where(deferred, "deferred", None)),
            "next_dose": np.where(second, 2, 1), "outbreak": False,
            "dose1_product": np.where(second, "astrazeneca", None),
            "dose1_date": np.where(second, pd.Series(pd.Timestamp(start) - pd.to_timedelta(rng.integers(30, 90, people), unit="D"))
                                   .dt.date.to_numpy(dtype=object), None),
            "deferred_on": np.where(deferred, start - dt.timedelta(days=3), None)})
        persons["deferred_on"] = persons["deferred_on"].astype(object)
        order = persons[~ineligible].sort_values(["district", "priority_group"], kind="stable")
        persons["invite_rank"] = order.groupby("district").cumcount().reindex(persons.index).add(1).astype("Int64")
        insert_frame(conn, MasterPerson.__table__, persons)
    return {"facilities": int(len(fac)), "facilities_with_tables": int(len(usable)),
            "stock_doses": int((stock["vials_on_hand"] * stock["doses_per_vial"]).sum()), "people": people,
            "staff_rows": int(len(staff))}


def plan(db: Path, start: dt.date, days: int) -> dict[str, Any]:
    from campaign.config import load_campaign
    from campaign.planning import run as planning

    t = time.perf_counter()
    result = planning.make_plan(_engine(db), load_campaign(), start=start, days=days,
                                as_of=dt.datetime(2021, 7, 28, 1, tzinfo=dt.UTC))
    return {"seconds": time.perf_counter() - t, "stages": {k: round(v, 2) for k, v in result.seconds.items()},
            "province": result.summary["province"], "quality": result.quality}


def baseline(db: Path) -> dict[str, Any]:
    from sqlalchemy import Column, Integer, MetaData, String, Table, select
    from sqlalchemy.orm import Session

    from campaign.store.bulk import insert_frame
    from campaign.store.current import frame_of
    from campaign.store.models import MasterPerson

    engine = _engine(db)
    t = time.perf_counter()
    with Session(engine) as s, s.begin():
        cols = ["person_id", "district", "commune_code", "invite_rank"]
        people = frame_of(s, select(*(getattr(MasterPerson, c) for c in cols)), cols)
        people = people.sort_values(["district", "invite_rank"], kind="stable")
        table = Table("baseline_rows", MetaData(), Column("id", Integer, primary_key=True),
                      Column("person_id", String(16)), Column("commune_code", String(5)))
        table.create(s.connection())
        insert_frame(s.connection(), table, people[["person_id", "commune_code"]])
    return {"seconds": time.perf_counter() - t, "rows": int(len(people))}


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "prepare":
        out = prepare(Path(args[0]), int(args[1]), int(args[2]), dt.date.fromisoformat(args[3]), float(args[4]))
    elif mode == "plan":
        out = plan(Path(args[0]), dt.date.fromisoformat(args[1]), int(args[2]))
    elif mode == "baseline":
        out = baseline(Path(args[0]))
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(out, default=str))
