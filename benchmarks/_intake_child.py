"""One measured intake in a fresh process (called by bench_intake.py; prints one JSON object).

    python benchmarks/_intake_child.py intake FILE          run_intake into CAMPAIGN_DATABASE_URL
    python benchmarks/_intake_child.py plain-gx FILE        baseline (a): a plain GX validation of the raw frame
    python benchmarks/_intake_child.py pandas FILE          baseline (b): the same 11 rules as vectorised pandas
    python benchmarks/_intake_child.py load FILE            insert_frame vs raw DB-API / SQLAlchemy Core

Each mode reads the file with the reader first (not timed) where it needs rows, so that every figure is
about the stage it names. Settings come from the environment (CAMPAIGN_HOME, CAMPAIGN_CONFIG,
CAMPAIGN_DATABASE_URL), as for the `campaign` command.
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

DISTRICT = "622"
KIND = "target_list"


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _read(path: Path) -> Any:
    from campaign.io.reader import read_submission

    return read_submission(path, KIND, max_bytes=1 << 40, max_rows=10_000_000)


def raw_frame(path: Path):
    """The raw frame as a pipeline without a standardizer would validate it: the reader's text columns,
    the birth date parsed with one format (pandas' default resolution)."""
    import pandas as pd

    frame = _read(path).frame
    frame = frame.assign(birth_date=pd.to_datetime(frame["birth_date"], format="%d/%m/%Y", errors="coerce"))
    return frame


# The 11 rules of baselines (a) and (b): what a first version of a target-list check would hold.
NAME_RE = r"^[^0-9=+@<>]+$"
PHONE_RE = r"^0[35789][0-9]{8}$"
ID_RE = r"^([0-9]{8}|[0-9]{9}|[0-9]{12})$"
BHYT_RE = r"^([A-Z]{2}[0-9]{13}|[0-9]{10})$"
SEX_VALUES = ["Nam", "Nữ", "nam", "nữ", "0", "1"]
GROUPS = [str(i) for i in range(1, 17)]
DOB_MIN, DOB_MAX = dt.datetime(1900, 1, 1), dt.datetime(2003, 7, 28)


def plain_gx(path: Path) -> dict[str, Any]:
    import os

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    started = time.perf_counter()
    import great_expectations as gx
    import great_expectations.expectations as gxe

    imported = time.perf_counter() - started
    frame = raw_frame(path)
    context = gx.get_context(mode="ephemeral")
    batch_definition = (context.data_sources.add_pandas("raw").add_dataframe_asset("target_list")
                        .add_batch_definition_whole_dataframe("whole"))
    suite = context.suites.add(gx.ExpectationSuite(name="plain", expectations=[
        gxe.ExpectColumnValuesToNotBeNull(column="full_name"),
        gxe.ExpectColumnValuesToMatchRegex(column="full_name", regex=NAME_RE),
        gxe.ExpectColumnValuesToNotBeNull(column="birth_date"),
        gxe.ExpectColumnValuesToBeBetween(column="birth_date", min_value=DOB_MIN, max_value=DOB_MAX),
        gxe.ExpectColumnValuesToBeInSet(column="sex", value_set=SEX_VALUES),
        gxe.ExpectColumnValuesToBeInSet(column="priority_group", value_set=GROUPS),
        gxe.ExpectColumnValuesToMatchRegex(column="phone", regex=PHONE_RE),
        gxe.ExpectColumnValuesToMatchRegex(column="id_number", regex=ID_RE),
        gxe.ExpectColumnValuesToBeUnique(column="id_number"),
        gxe.ExpectColumnValuesToMatchRegex(column="insurance_number", regex=BHYT_RE),
        gxe.ExpectColumnValuesToNotBeNull(column="commune_name"),
    ]))
    validation = context.validation_definitions.add(gx.ValidationDefinition(name="plain", data=batch_definition,
                                                                            suite=suite))
    started = time.perf_counter()
    result = validation.run(batch_parameters={"dataframe": frame})   # GX's default result format
    seconds = time.perf_counter() - started
    failed = sum(1 for r in result.results if not r.success)
    return {"rows": len(frame), "rules": len(suite.expectations), "seconds": seconds, "gx_import_seconds": imported,
            "failed_rules": failed, "peak_mib": peak_mib()}


def pandas_rules(path: Path) -> dict[str, Any]:
    import numpy as np

    frame = raw_frame(path)
    started = time.perf_counter()
    bad: dict[str, np.ndarray] = {}

    def matches(column: str, pattern: str) -> np.ndarray:
        s = frame[column]
        present = s.notna().to_numpy()
        # pandas 3: str methods give False (not NA) for missing values; the rule ignores them as GX does
        return ~present | s.str.fullmatch(pattern).fillna(False).to_numpy(dtype=bool)

    bad["full_name_null"] = frame["full_name"].isna().to_numpy()
    bad["full_name_form"] = ~matches("full_name", NAME_RE)
    bad["birth_date_null"] = frame["birth_date"].isna().to_numpy()
    dob = frame["birth_date"]
    bad["birth_date_range"] = (dob.notna() & ((dob < DOB_MIN) | (dob > DOB_MAX))).to_numpy()
    bad["sex_set"] = (frame["sex"].notna() & ~frame["sex"].isin(SEX_VALUES)).to_numpy()
    bad["group_set"] = (frame["priority_group"].notna() & ~frame["priority_group"].isin(GROUPS)).to_numpy()
    bad["phone_form"] = ~matches("phone", PHONE_RE)
    bad["id_form"] = ~matches("id_number", ID_RE)
    ids = frame["id_number"]
    bad["id_unique"] = (ids.notna() & ids.duplicated(keep=False)).to_numpy()
    bad["bhyt_form"] = ~matches("insurance_number", BHYT_RE)
    bad["commune_null"] = frame["commune_name"].isna().to_numpy()
    counts = {k: int(v.sum()) for k, v in bad.items()}
    seconds = time.perf_counter() - started
    return {"rows": len(frame), "rules": len(bad), "seconds": seconds, "failing_rows_per_rule": counts,
            "peak_mib": peak_mib()}


def intake(path: Path) -> dict[str, Any]:
    from campaign.intake.rules import IntakeRequest
    from campaign.intake.run import run_intake
    from campaign.resources import get_resources
    from campaign.timing import Stopwatch

    started = time.perf_counter()
    res = get_resources()   # engine and migrations
    setup = time.perf_counter() - started
    started = time.perf_counter()
    from expectations.gate import warm_up

    warm_up()   # a worker does this once at start; reported apart, like Prefect's start-up
    gx_import = time.perf_counter() - started
    watch = Stopwatch()
    started = time.perf_counter()
    outcome = run_intake(IntakeRequest(path=path, district=DISTRICT, kind=KIND), engine=res.engine,
                         settings=res.settings, campaign=res.campaign, watch=watch)
    total = time.perf_counter() - started
    stages = {k: round(v, 3) for k, v in watch.seconds.items()}
    through_load = sum(v for k, v in watch.seconds.items() if k != "feedback")
    return {
        "status": outcome.status, "rows_total": outcome.rows_total, "rows_loaded": outcome.rows_loaded,
        "rows_quarantined": outcome.rows_quarantined, "database": res.engine.dialect.name,
        "setup_seconds": setup, "gx_import_seconds": gx_import,
        "seconds_through_load": through_load, "seconds_with_feedback": total, "stages": stages,
        "peak_mib_through_load": watch.peak_mib.get("load", 0.0), "peak_mib": peak_mib(),
        "feedback_file": outcome.feedback_file,
        "feedback_mib": Path(outcome.feedback_file).stat().st_size / 2**20 if outcome.feedback_file else None,
    }


def load(path: Path) -> dict[str, Any]:
    """insert_frame of the standardized rows into a fresh kind table, against the raw DB-API executemany
    (SQLite) of the same values and SQLAlchemy Core's executemany on a slice."""
    from sqlalchemy import insert

    from campaign.domain.standardize import standardize
    from campaign.resources import get_resources
    from campaign.store import bulk
    from campaign.store.models import KIND_TABLES

    res = get_resources()
    std = standardize(_read(path).frame, KIND, district_code=DISTRICT, today=dt.date(2021, 7, 28),
                      campaign_date=res.campaign.campaign.campaign_date, known_facilities=None,
                      min_age_years=res.campaign.campaign.min_age_years)
    rows = std.clean.copy()
    rows.insert(0, "row_number", range(2, len(rows) + 2))
    rows.insert(0, "district", DISTRICT)
    rows.insert(0, "submission_id", 1)
    table = KIND_TABLES[KIND]
    engine = res.engine
    from sqlalchemy.orm import Session

    from campaign.store.models import StoredFile, Submission

    with Session(engine) as session, session.begin():
        if session.get(Submission, 1) is None:
            now = dt.datetime.now(dt.UTC)
            session.add(StoredFile(sha256="0" * 64, size_bytes=0, original_filename="bench", media_type=None,
                                   relative_path="bench", first_seen_at=now))
            session.flush()
            session.add(Submission(id=1, district_code=DISTRICT, kind=KIND, version=1, status="accepted",
                                   is_current=False, checksum="0" * 64, original_filename="bench", channel="cli",
                                   submitted_by="bench", created_at=now, received_at=now, rows_total=0,
                                   rows_loaded=0, rows_quarantined=0, rows_skipped=0, rows_with_warnings=0,
                                   reasons={}))
    out: dict[str, Any] = {"rows": len(rows), "columns": len(rows.columns), "database": engine.dialect.name}

    def timed(fn) -> float:
        with engine.begin() as conn:
            started = time.perf_counter()
            fn(conn)
            seconds = time.perf_counter() - started
            conn.rollback()   # every variant loads into the same empty table
        return seconds

    out["insert_frame_seconds"] = timed(lambda conn: bulk.insert_frame(conn, table, rows))
    # The values insert_frame binds, converted beforehand: what the driver alone costs.
    target = "sqlite" if engine.dialect.name == "sqlite" else "copy"
    converted: list[tuple[Any, list[list[Any]]]] = []
    for start in range(0, len(rows), bulk.CHUNK_ROWS):
        chunk = rows.iloc[start:start + bulk.CHUNK_ROWS]
        cols = [table.c[n] for n in chunk.columns]
        values = [bulk._convert(chunk[c.name], c, target, None) for c in cols]
        keep = [i for i, v in enumerate(values) if any(x is not None for x in v)]
        converted.append(([cols[i] for i in keep], [values[i] for i in keep]))
    writer = bulk._write_sqlite if target == "sqlite" else bulk._write_postgresql_copy
    out["driver_only_seconds"] = timed(lambda conn: [writer(conn, table, c, v) for c, v in converted])
    sample = rows.iloc[:100_000].astype(object).where(rows.iloc[:100_000].notna(), None).to_dict("records")
    out["core_executemany_rows"] = len(sample)
    out["core_executemany_seconds"] = timed(lambda conn: conn.execute(insert(table), sample))
    out["peak_mib"] = peak_mib()
    return out


MODES = {"intake": intake, "plain-gx": plain_gx, "pandas": pandas_rules, "load": load}

if __name__ == "__main__":
    mode, file = sys.argv[1], Path(sys.argv[2])
    print(json.dumps(MODES[mode](file), default=str))
