"""Intake: a district file becomes a submission: read, standardize, gate, load (one transaction).

The stages are plain functions so that the Prefect flow (flows/intake.py) stays wiring only and the
tests can run the whole path without Prefect. A submission is immutable: snapshot kinds supersede the
district's current one, event kinds append; a rejected file loads no row but keeps its reasons.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Column, String, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from campaign import clock
from campaign.config import CampaignConfig
from campaign.config_kinds import load_input_kinds
from campaign.config_reasons import load_reasons
from campaign.districts import DistrictError, resolve_district
from campaign.domain.admin_units import get_admin_units
from campaign.files import StoredOriginal, store_original
from campaign.settings import Settings
from campaign.store.bulk import insert_frame
from campaign.store.current import current_submission_records
from campaign.store.db import write_lock
from campaign.store.models import (
    KIND_TABLES,
    PROVENANCE_COLUMNS,
    QuarantineRow,
    RowIssue,
    StoredFile,
    Submission,
)

ACCEPTED, REJECTED, DUPLICATE, WITHDRAWN = "accepted", "rejected", "duplicate", "withdrawn"
REPEAT_CODE = "repeat_of_earlier_submission"


class Stopwatch:
    """Wall seconds per intake stage (read, standardize, gate, load, feedback...), for the run's artifact
    and the benchmarks: where the time of a slow upload went."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mib: dict[str, float] = {}   # the process's peak resident memory when the stage ended

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
            self.peak_mib[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class UsageError(ValueError):
    """The request itself is wrong (unknown district or kind): exit code 2, nothing stored."""


@dataclass
class IntakeRequest:
    path: Path
    district: str                 # GSO code or name, with or without diacritics
    kind: str
    facility: str | None = None
    channel: str = "cli"
    submitted_by: str = "cli"
    received_at: dt.datetime | None = None   # logical time; default: the logical clock
    original_filename: str | None = None     # the name the user's file had (the portal stores uploads by hash)
    flow_run_id: str | None = None           # the Prefect flow run taking it in, for the coordinators' links
    columns: dict[str, str | None] = field(default_factory=dict)  # headings read as given: {heading: field|None}

    @property
    def display_name(self) -> str:
        return self.original_filename or self.path.name


@dataclass
class IntakeOutcome:
    submission_id: int
    district: str
    kind: str
    status: str
    rows_total: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_skipped: int = 0
    rows_with_warnings: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    feedback_file: str | None = None
    data_docs: str | None = None
    facility: str | None = None
    version: int | None = None
    message: str | None = None
    columns: dict[str, str] = field(default_factory=dict)        # {heading as written: field} of columns used
    columns_ignored: list[str] = field(default_factory=list)     # headings of the columns not used
    column_readings: list[dict[str, Any]] = field(default_factory=list)  # ColumnReading.to_json() per column

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("column_readings")   # the JSON says it as `columns` / `columns_ignored`
        return out

    def set_readings(self, readings: list[dict[str, Any]] | None) -> None:
        from campaign.io.columns import ColumnReading, columns_ignored, columns_used

        rs = [ColumnReading.from_json(r) for r in readings or []]
        self.column_readings = [r.to_json() for r in rs]
        self.columns, self.columns_ignored = columns_used(rs), columns_ignored(rs)

    @property
    def exit_code(self) -> int:
        return 3 if self.status == REJECTED else 0


def resolve_request(request: IntakeRequest, campaign: CampaignConfig) -> tuple[str, str]:
    """The district's GSO code and the kind, or a UsageError naming what is wrong."""
    kinds = load_input_kinds()
    if request.kind not in kinds.kinds:
        raise UsageError(f"unknown kind {request.kind!r}; expected one of: {', '.join(kinds.names)}")
    # who and how it was sent are the operator's words, not the district's: a usage error, nothing stored
    for what, value, column in (("submitted by", request.submitted_by, Submission.__table__.c.submitted_by),
                                ("channel", request.channel, Submission.__table__.c.channel)):
        limit = text_limit(column)
        if limit is not None and len(value) > limit:
            raise UsageError(f"{what} is {len(value)} characters long; at most {limit}")
    try:
        district = resolve_district(request.district, campaign)
    except DistrictError as exc:
        raise UsageError(str(exc)) from exc
    if not request.path.is_file():
        raise UsageError(f"no such file: {request.path}")
    return district.code, request.kind


# ---------------------------------------------------------------------------------------------------------
# Bounded columns: every text intake writes into a String(n) column fits, known before anything is written
# (SQLite would store a longer one, PostgreSQL refuses the whole transaction). The bounds are the tables'.
# ---------------------------------------------------------------------------------------------------------


def text_limit(*columns: Column[Any]) -> int | None:
    """The characters the tightest of these String(n) columns holds (None: unbounded)."""
    return min((c.type.length for c in columns if isinstance(c.type, String) and c.type.length), default=None)


@functools.cache
def value_limits(kind: str) -> dict[str, int]:
    """{column of the kind: characters its `<kind>_rows` column holds}; the standardizer refuses longer
    values as row reasons (checked per distinct value: a pass over every cell of a million rows cost ~3 s)."""
    return {c.name: limit for c in KIND_TABLES[kind].c
            if c.name not in PROVENANCE_COLUMNS and (limit := text_limit(c)) is not None}


def _shown(text: str, at_most: int = 40) -> str:
    return text if len(text) <= at_most else text[:at_most] + "…"


def file_value_refusal(kind: str, *, facility: str | None = None, sheet: str | None = None):  # noqa: ANN201
    """The ReadError refusing a file whose file-level value cannot be stored (a sheet name every row of
    it carries, the facility code of the submission), or None."""
    from campaign.io.sniff import refusal

    if facility is not None:
        limit = text_limit(Submission.__table__.c.facility_code)
        if limit is not None and len(facility) > limit:
            return refusal("facility_code_too_long", facility=_shown(facility), length=len(facility), limit=limit)
    if sheet is not None:
        limit = text_limit(KIND_TABLES[kind].c.sheet, RowIssue.__table__.c.sheet, QuarantineRow.__table__.c.sheet)
        if limit is not None and len(sheet) > limit:
            return refusal("sheet_name_too_long", sheet=_shown(sheet), length=len(sheet), limit=limit)
    return None


def fit_file_name(name: str, limit: int | None) -> tuple[str, bool]:
    """The name as stored: cut to `limit` characters when longer, its extension kept after "…" (the name
    is a label; refusing a good file for it would help no one). Returns (name, whether it was cut)."""
    if limit is None or len(name) <= limit:
        return name, False
    stem, dot, ext = name.rpartition(".")
    ext = f".{ext}" if dot and stem and len(ext) <= 10 else ""
    return name[:max(limit - len(ext) - 1, 0)] + "…" + ext, True


FILE_NAME_SHORTENED = "file_name_shortened"


# ---------------------------------------------------------------------------------------------------------
# Database look-ups
# ---------------------------------------------------------------------------------------------------------


def find_duplicate(session: Session, district: str, kind: str, facility: str | None, checksum: str) -> Submission | None:
    """An accepted, not withdrawn submission of the same file for the same district and kind."""
    return session.scalars(
        select(Submission)
        .where(Submission.district_code == district, Submission.kind == kind,
               Submission.facility_code.is_(None) if facility is None else Submission.facility_code == facility,
               Submission.checksum == checksum, Submission.status == ACCEPTED)
        .order_by(Submission.id)
        .limit(1)
    ).first()


def known_facility_codes(session: Session, district: str) -> set[str] | None:
    """Facility codes of the district's current `facilities` submission; None when it has none yet."""
    subs = current_submission_records(session, district, "facilities")
    if not subs:
        return None
    table = KIND_TABLES["facilities"]
    rows = session.execute(select(table.c.facility_code).where(table.c.submission_id.in_([s.id for s in subs])))
    return {r[0] for r in rows if r[0]}


def _next_version(session: Session, district: str, kind: str, facility: str | None) -> int:
    stmt = select(Submission.version).where(Submission.district_code == district, Submission.kind == kind)
    stmt = stmt.where(Submission.facility_code.is_(None) if facility is None else Submission.facility_code == facility)
    versions = list(session.scalars(stmt))
    return max(versions, default=0) + 1


def _inputs_state(session: Session, district: str, kind: str) -> tuple[int | None, ...]:
    """What a check of a (district, kind) file depends on in the database: the submissions of that kind
    (repeats of event rows, the version) and of the district's facilities (known facility codes), as the
    latest id and the number withdrawn."""
    state = []
    for k in (kind, "facilities"):
        mine = (Submission.district_code == district, Submission.kind == k)
        # a new submission raises the max id; a withdrawal changes which one is current, not the max
        state += [session.scalar(select(func.max(Submission.id)).where(*mine)),
                  session.scalar(select(func.count(Submission.withdrawn_at)).where(*mine))]
    return tuple(state)


def _existing_event_keys(session: Session, district: str, kind: str, key: list[str],
                         exclude: int | None = None) -> pd.DataFrame:
    table = KIND_TABLES[kind]
    subs = [s.id for s in current_submission_records(session, district, kind) if s.id != exclude]
    if not subs:
        return pd.DataFrame(columns=key)
    rows = session.execute(select(*[table.c[k] for k in key]).where(table.c.submission_id.in_(subs))).all()
    return pd.DataFrame(rows, columns=key)


# ---------------------------------------------------------------------------------------------------------
# The pipeline
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Checked:
    """What the read/standardize/gate stages produced, ready to load."""
    read: Any                      # campaign.io.reader.ReadResult
    clean: pd.DataFrame            # typed canonical columns, one row per data row
    issues: pd.DataFrame           # row, column, code, severity
    quarantined: pd.Series         # bool per row
    blocking: list[tuple[str, str]]  # (code, Vietnamese detail) that reject the whole submission
    data_docs_index: Path | None = None
    file_reasons: dict[str, int] = field(default_factory=dict)  # column_ignored / column_guessed: columns each


def content_hints(district: str, known_facilities: set[str] | None, today: dt.date):  # noqa: ANN201
    """What the reader may use to read a column from its cells: the district's communes and facilities."""
    from campaign.io.content import ContentHints

    units = get_admin_units()

    def is_commune(text: str) -> bool:
        return units.lookup(text, "commune", district).status in ("found", "ambiguous")

    return ContentHints(is_commune=is_commune, facility_codes=frozenset(known_facilities or ()), today=today)


def check_rows(path: Path, kind: str, district: str, *, campaign: CampaignConfig, today: dt.date,
               known_facilities: set[str] | None,
               existing_keys: Callable[[list[str]], pd.DataFrame] | None = None,
               docs_dir: Path | None = None, label: str = "submission", watch: Stopwatch | None = None,
               overrides: dict | None = None) -> Checked:
    """Read, standardize and gate one file. Raises ReadError for a file that cannot be read at all.
    `overrides` ({heading_key: ColumnOverride}): headings read as the district said."""
    from campaign.domain.standardize import standardize
    from campaign.io.columns import guessed, ignored_with_data
    from campaign.io.reader import read_submission

    watch = watch or Stopwatch()
    spec = load_input_kinds()[kind]
    reasons_cat = load_reasons()
    with watch.stage("read"):
        read = read_submission(path, kind, max_bytes=int(campaign.intake.max_file_mb * 1024 * 1024),
                               max_rows=campaign.intake.max_rows, overrides=overrides,
                               hints=content_hints(district, known_facilities, today))
    if (too_long := file_value_refusal(kind, sheet=read.sheet)) is not None:
        raise too_long
    with watch.stage("standardize"):
        std = standardize(read.frame, kind, district_code=district, campaign_date=campaign.campaign.campaign_date,
                          min_age_years=campaign.campaign.min_age_years, today=today, known_facilities=known_facilities, max_lengths=value_limits(kind))
    issues = std.issues
    # A formula the file holds no value for is not a missing value: the clerk sees one in Excel.
    formula_rows = pd.Series(False, index=std.quarantined.index)
    for column, mask in read.formula_cells.items():
        rows = std.quarantined.index[mask]
        if not len(rows):
            continue
        formula_rows.loc[rows] = True
        if len(issues):
            issues = issues[~(issues["row"].isin(rows) & (issues["column"] == column))]
        issues = pd.concat([issues, pd.DataFrame({"row": rows, "column": column, "code": "formula_not_calculated",
                                                  "severity": reasons_cat.severity("formula_not_calculated")})],
                           ignore_index=True)
    file_reasons: dict[str, int] = {}
    if ignored := ignored_with_data(read.column_readings):
        file_reasons["column_ignored"] = len(ignored)
    if guesses := guessed(read.column_readings):
        file_reasons["column_guessed"] = len(guesses)
    # Legacy TCVN3/VNI text the reader converted is a repair the district should hear about.
    if len(read.reencoded):
        reenc = pd.DataFrame({"row": read.reencoded["row_index"].to_numpy(), "column": read.reencoded["column"].to_numpy(),
                              "code": "text_reencoded", "severity": load_reasons().severity("text_reencoded")})
        issues = pd.concat([issues, reenc], ignore_index=True)
    quarantined = std.quarantined.copy() | formula_rows

    # Event kinds: rows already received in an earlier submission are repeats, not new events.
    repeats = pd.Series(False, index=quarantined.index)
    if spec.mode == "event" and existing_keys is not None and len(std.clean):
        existing = existing_keys(spec.natural_key)
        if len(existing):
            left = std.clean[spec.natural_key].astype("string").fillna("\x00")
            right = existing.astype("string").fillna("\x00").drop_duplicates()
            marker = left.merge(right.assign(_seen=True), how="left", on=spec.natural_key)["_seen"]
            repeats = pd.Series(marker.fillna(False).to_numpy(dtype=bool), index=quarantined.index) & ~quarantined
            if repeats.any():
                extra = pd.DataFrame({"row": repeats.index[repeats], "column": pd.NA, "code": REPEAT_CODE,
                                      "severity": load_reasons().severity(REPEAT_CODE)})
                issues = pd.concat([issues, extra], ignore_index=True)
                quarantined = quarantined | repeats

    # The gate (GX suite of the kind) decides what blocks the whole submission; rows' reasons come from
    # the standardizer. Repeats are not errors: a cumulative re-upload must not be rejected for them.
    with watch.stage("gate_import"):
        from expectations.gate import run_gate, warm_up

        warm_up()   # importing GX and building its context, once per process
    with watch.stage("gate"):
        gate = run_gate(std, kind, max_rejected_share=campaign.intake.max_rejected_share, data_docs_dir=docs_dir,
                        submission_label=label, repeats=repeats.to_numpy(),
                        campaign_date=campaign.campaign.campaign_date)
    blocking = list(gate.blocking)
    return Checked(read, std.clean, issues, quarantined, blocking, gate.data_docs_index, file_reasons)


def _count_reasons(issues: pd.DataFrame) -> dict[str, int]:
    if issues.empty:
        return {}
    counts = issues.drop_duplicates(["row", "code"]).groupby("code").size().sort_values(ascending=False)
    return {str(k): int(v) for k, v in counts.items()}


def _original_values(read: Any, positions: list[int]) -> list[dict[str, Any]]:
    original = getattr(read, "original_rows", None)
    if original is None or not positions:
        return [{} for _ in positions]
    subset = original.iloc[positions].astype(object).where(original.iloc[positions].notna(), None)
    return subset.to_dict(orient="records")


def load_checked(session: Session, *, district: str, kind: str, facility: str | None, stored: StoredOriginal,
                 original_name: str, checked: Checked | None, blocking: list[tuple[str, str]],
                 request: IntakeRequest, received_at: dt.datetime, now_real: dt.datetime,
                 notes: dict[str, int] | None = None) -> IntakeOutcome:
    """Write the submission, its rows or quarantine, and its issues. The caller owns the transaction.
    `notes`: file-level reasons about the upload itself (its name shortened), counted once each."""
    from campaign.feedback import blocking_text

    spec = load_input_kinds()[kind]
    if session.get(StoredFile, stored.sha256) is None:
        session.add(StoredFile(sha256=stored.sha256, size_bytes=stored.size_bytes, original_filename=original_name,
                               media_type=None, relative_path=stored.relative_path, first_seen_at=now_real))
    status = REJECTED if blocking else ACCEPTED
    rows_total = len(checked.clean) if checked else 0
    quarantined = checked.quarantined if checked else pd.Series(dtype=bool)
    reasons = _count_reasons(checked.issues) if checked else {}
    for code, _detail in blocking:
        reasons.setdefault(code, 1)  # a file-level reason counts once
    for code, n in (checked.file_reasons if checked else {}).items():
        reasons[code] = n            # file-level reasons about columns count the columns
    reasons.update(notes or {})
    severities = checked.issues if checked else pd.DataFrame(columns=["row", "severity"])
    warned_rows = set(severities.loc[severities["severity"] == "warning", "row"].tolist()) if len(severities) else set()
    loaded_mask = ~quarantined if checked else pd.Series(dtype=bool)
    rows_with_warnings = int(sum(1 for r in warned_rows if r in loaded_mask.index and bool(loaded_mask.loc[r])))

    superseded: list[int] = []
    if status == ACCEPTED and spec.mode == "snapshot":
        # Snapshots replace the district's current one (same facility scope); nothing is deleted. The old one
        # stops being current before the new one is inserted: at most one current snapshot (unique index).
        scope = Submission.facility_code.is_(None) if facility is None else Submission.facility_code == facility
        superseded = list(session.scalars(select(Submission.id).where(
            Submission.district_code == district, Submission.kind == kind, Submission.is_current.is_(True), scope)))
        if superseded:
            session.execute(update(Submission).where(Submission.id.in_(superseded)).values(is_current=False))

    sub = Submission(
        district_code=district, kind=kind, facility_code=facility,
        version=_next_version(session, district, kind, facility), status=status,
        is_current=status == ACCEPTED, checksum=stored.sha256, original_filename=original_name,
        channel=request.channel,
        submitted_by=request.submitted_by, created_at=now_real, received_at=received_at,
        flow_run_id=request.flow_run_id,
        rows_total=rows_total, rows_loaded=0 if blocking else int(loaded_mask.sum()),
        rows_quarantined=int(quarantined.sum()) if checked else 0,
        rows_skipped=len(checked.read.skipped_rows) if checked else 0,
        rows_with_warnings=rows_with_warnings, reasons=reasons,
        message=blocking_text(blocking, kind),
        columns=[r.to_json() for r in checked.read.column_readings] if checked else None,
    )
    session.add(sub)
    session.flush()

    if superseded:
        session.execute(update(Submission).where(Submission.id.in_(superseded)).values(superseded_by_id=sub.id))

    if checked is not None:
        read = checked.read
        row_numbers = pd.Series(read.row_numbers, index=checked.clean.index)
        conn = session.connection()
        if status == ACCEPTED and loaded_mask.any():
            # every row loads in most files: no boolean take (a copy of the frame); a shallow copy suffices,
            # since pandas' copy-on-write keeps the key columns inserted below out of `checked.clean`
            rows = (checked.clean if loaded_mask.all() else checked.clean.loc[loaded_mask]).copy(deep=False)
            rows.insert(0, "row_number", row_numbers.loc[loaded_mask].to_numpy())
            rows.insert(0, "sheet", read.sheet)
            rows.insert(0, "district", district)
            rows.insert(0, "submission_id", sub.id)
            insert_frame(conn, KIND_TABLES[kind], rows)
        if checked.issues is not None and len(checked.issues):
            iss = checked.issues
            frame = pd.DataFrame({
                "submission_id": sub.id, "sheet": read.sheet,
                "row_number": row_numbers.loc[iss["row"].to_numpy()].to_numpy(),
                "column": iss["column"].to_numpy(), "code": iss["code"].to_numpy(),
                "severity": iss["severity"].to_numpy(), "detail": None,
            })
            insert_frame(conn, RowIssue.__table__, frame)
        q_positions = [int(i) for i in quarantined.index[quarantined]] if len(quarantined) else []
        if q_positions:
            codes_by_row = (checked.issues[checked.issues["severity"].isin(["row", "warning"])]
                            .groupby("row")["code"].apply(lambda s: sorted(set(s))).to_dict())
            originals = _original_values(read, [checked.clean.index.get_loc(i) for i in q_positions])
            frame = pd.DataFrame({
                "submission_id": sub.id, "sheet": read.sheet,
                "row_number": row_numbers.loc[q_positions].to_numpy(),
                "original": originals, "reasons": [codes_by_row.get(i, []) for i in q_positions],
            })
            insert_frame(conn, QuarantineRow.__table__, frame)

    outcome = IntakeOutcome(
        submission_id=sub.id, district=district, kind=kind, status=status, rows_total=sub.rows_total,
        rows_loaded=sub.rows_loaded, rows_quarantined=sub.rows_quarantined, rows_skipped=sub.rows_skipped,
        rows_with_warnings=sub.rows_with_warnings, reasons=reasons, facility=facility, version=sub.version,
        message=sub.message,
    )
    outcome.set_readings(sub.columns)
    return outcome


def run_intake(request: IntakeRequest, *, engine: Engine, settings: Settings, campaign: CampaignConfig,
               now_real: dt.datetime | None = None, watch: Stopwatch | None = None) -> IntakeOutcome:
    """The whole intake of one file, without Prefect (the flow calls the same stages as tasks).
    `watch` (optional) collects the seconds spent in each stage."""
    from campaign.io.reader import ReadError

    district, kind = resolve_request(request, campaign)
    received_at = clock.to_utc(request.received_at or clock.now())
    now_real = now_real or dt.datetime.now(dt.UTC)
    facility = request.facility.strip().upper() if request.facility else None
    # values of the upload itself that its columns cannot hold: a facility code is refused (it cannot be
    # stored, the refusal names it), a file name is shortened (a label: the file is not at fault)
    early = file_value_refusal(kind, facility=facility)
    if early is not None:
        facility = None
    name, cut = fit_file_name(request.display_name, text_limit(Submission.__table__.c.original_filename,
                                                               StoredFile.__table__.c.original_filename))
    if cut:
        request = dataclasses.replace(request, original_filename=name)
    notes = {FILE_NAME_SHORTENED: 1} if cut else None
    watch = watch or Stopwatch()
    with watch.stage("store_original"):
        stored = store_original(request.path, settings.files_dir)

    def overrides_of(session: Session) -> dict:
        """The district's saved readings of its headings, then those given with this upload."""
        from campaign.column_mappings import load_mappings
        from campaign.io.columns import GIVEN, ColumnOverride
        from campaign.io.headers import heading_key

        out = dict(load_mappings(session, district, kind))
        for heading, fld in request.columns.items():
            out[heading_key(heading)] = ColumnOverride(fld or None, GIVEN)
        return out

    def duplicate_of(session: Session) -> IntakeOutcome | None:
        if early is not None:   # refused for the upload's own values: a new (rejected) submission
            return None
        dup = find_duplicate(session, district, kind, facility, stored.sha256)
        if dup is None or not _read_alike(dup, overrides_of(session)):
            return None
        out = IntakeOutcome(submission_id=dup.id, district=district, kind=kind, status=DUPLICATE,
                            rows_total=dup.rows_total, rows_loaded=dup.rows_loaded,
                            rows_quarantined=dup.rows_quarantined, rows_skipped=dup.rows_skipped,
                            rows_with_warnings=dup.rows_with_warnings, reasons=dict(dup.reasons or {}),
                            feedback_file=dup.feedback_path, data_docs=dup.data_docs_path, facility=facility,
                            version=dup.version)
        out.set_readings(dup.columns)
        return out

    def check(session: Session, exclude: int | None = None) -> tuple[Checked | None, list[tuple[str, str]],
                                                                    Exception | None]:
        if early is not None:
            return None, [(early.code, early.detail_vi)], early
        try:
            checked = check_rows(
                request.path, kind, district, campaign=campaign, today=clock.local(received_at).date(),
                known_facilities=known_facility_codes(session, district),
                existing_keys=lambda key: _existing_event_keys(session, district, kind, key, exclude=exclude),
                docs_dir=settings.home / "data_docs" / district / kind / stored.sha256[:16],
                label=f"{district}-{kind}-{stored.sha256[:12]}", watch=watch,
                overrides=overrides_of(session),
            )
            return checked, checked.blocking, None
        except ReadError as exc:
            return None, [(exc.code, exc.detail_vi)], exc

    # Check without holding the write lock (the slow part: read, standardize, gate), so that districts'
    # uploads are checked side by side; then write under the lock, checking again only if what the check
    # read (the district's earlier submissions of this kind, its facilities) changed meanwhile.
    with Session(engine) as session:
        if (dup := duplicate_of(session)) is not None:
            if dup.feedback_file and Path(dup.feedback_file).is_file():
                return dup
            # the run that loaded it stopped before writing its feedback (a worker killed after the
            # commit): the district's annotated file is written now, from the same file (its own rows are
            # not repeats of themselves)
            checked, blocking, read_error = check(session, exclude=dup.submission_id)
        else:
            seen = _inputs_state(session, district, kind)
            checked, blocking, read_error = check(session)
    if dup is not None:
        return _complete_feedback(dup, checked, blocking, read_error, request, settings, engine)
    with Session(engine.execution_options(sqlite_begin="IMMEDIATE")) as session, session.begin():
        write_lock(session, f"intake:{district}:{kind}")
        if (dup := duplicate_of(session)) is not None:
            return dup
        if _inputs_state(session, district, kind) != seen:
            checked, blocking, read_error = check(session)
        with watch.stage("load"):
            outcome = load_checked(session, district=district, kind=kind, facility=facility, stored=stored,
                                   original_name=request.display_name, checked=checked, blocking=blocking,
                                   request=request, received_at=received_at, now_real=now_real, notes=notes)
    # The submission stands once committed; the feedback file is written after it and linked to it.
    with watch.stage("feedback"):
        feedback = write_submission_feedback(outcome, checked, blocking, request, settings,
                                             refused=read_error is not None)
    with Session(engine.execution_options(sqlite_begin="IMMEDIATE")) as session, session.begin():
        sub = session.get(Submission, outcome.submission_id)
        sub.feedback_path = str(feedback)
        if checked is not None and checked.data_docs_index is not None:
            sub.data_docs_path = str(checked.data_docs_index)
    outcome.feedback_file = str(feedback)
    outcome.data_docs = str(checked.data_docs_index) if checked and checked.data_docs_index else None
    return outcome


def _read_alike(earlier: Submission, overrides: dict) -> bool:
    """Would the same file be read as the earlier submission read it? Not when a heading is now to be read
    otherwise (the district corrected it): then sending the same file again is a new submission."""
    from campaign.io.columns import GIVEN, SAVED, ColumnReading

    if earlier.columns is None:
        return not overrides
    readings = list(map(ColumnReading.from_json, earlier.columns))
    if any(r.how in (SAVED, GIVEN) and r.key not in overrides for r in readings):
        return False   # read by a correction since reset: read afresh
    read_as = {r.key: r.field for r in readings}
    return all(read_as.get(key, o.field) == o.field for key, o in overrides.items())


def _complete_feedback(dup: IntakeOutcome, checked: Checked | None, blocking: list[tuple[str, str]],
                       read_error: Exception | None, request: IntakeRequest, settings: Settings,
                       engine: Engine) -> IntakeOutcome:
    """An accepted submission without its feedback file gets it (the answer stays `duplicate`)."""
    original = IntakeOutcome(**{**dup.to_json(), "status": ACCEPTED})
    feedback = write_submission_feedback(original, checked, blocking, request, settings,
                                         refused=read_error is not None)
    with Session(engine.execution_options(sqlite_begin="IMMEDIATE")) as session, session.begin():
        sub = session.get(Submission, dup.submission_id)
        if sub.feedback_path is None:   # filled once; a file that vanished is written again at its path
            sub.feedback_path = str(feedback)
        if sub.data_docs_path is None and checked is not None and checked.data_docs_index is not None:
            sub.data_docs_path = str(checked.data_docs_index)
        dup.feedback_file, dup.data_docs = sub.feedback_path, sub.data_docs_path
    return dup


def write_submission_feedback(outcome: IntakeOutcome, checked: Checked | None, blocking: list[tuple[str, str]],
                              request: IntakeRequest, settings: Settings, *, refused: bool) -> Path:
    """The district's own file back with a result per row (or, for an unreadable file, the reason). A CSV
    upload's is a CSV, with the workbook of its summary and problem rows beside it
    (`campaign.feedback.problems_workbook_path`); the path returned is the annotated copy's."""
    from campaign.feedback import blocking_text, row_messages, row_statuses, write_feedback, write_refusal

    kind = outcome.kind
    out = settings.outputs_dir / "feedback" / outcome.district / f"{outcome.submission_id}-{kind}.xlsx"
    out.parent.mkdir(parents=True, exist_ok=True)
    info = {"submission_id": outcome.submission_id, "district": outcome.district, "kind": kind,
            "status": outcome.status, "rows_total": outcome.rows_total, "rows_loaded": outcome.rows_loaded,
            "rows_quarantined": outcome.rows_quarantined, "rows_skipped": outcome.rows_skipped}
    message = blocking_text(blocking, kind)
    if refused or checked is None:
        return write_refusal(out, message, kind=kind, source_name=request.display_name, info=info)
    n = len(checked.clean)
    messages = row_messages(checked.issues, n, kind, checked.read.column_headers, quarantined=checked.quarantined)
    statuses = row_statuses(checked.issues, n, quarantined=checked.quarantined)
    return write_feedback(checked.read, messages, statuses, out, blocking_message=message, source=request.path,
                          source_name=request.display_name,
                          issues=checked.issues, info=info)


def withdraw(session: Session, submission_id: int, *, reason: str, by: str, at: dt.datetime) -> Submission:
    """Mark a submission withdrawn and make the one it superseded current again. Nothing is deleted."""
    sub = session.get(Submission, submission_id)
    if sub is None:
        raise UsageError(f"no submission {submission_id}")
    # one writer per district and kind, as intake: a withdrawal racing an upload must not leave two current
    write_lock(session, f"intake:{sub.district_code}:{sub.kind}")
    session.refresh(sub)
    if sub.status == WITHDRAWN:
        raise UsageError(f"submission {submission_id} is already withdrawn")
    if sub.status != ACCEPTED:   # a rejected file loaded nothing: there is nothing to take back
        raise UsageError(f"submission {submission_id} was {sub.status}, not accepted: nothing to withdraw")
    was_current = sub.is_current
    sub.status, sub.is_current = WITHDRAWN, False
    sub.withdrawn_at, sub.withdrawn_by, sub.withdrawn_reason = at, by, reason
    if was_current:
        for previous in session.scalars(
                select(Submission).where(Submission.superseded_by_id == sub.id, Submission.status == ACCEPTED)):
            previous.is_current, previous.superseded_by_id = True, None
    return sub
