"""The intake step: a district file becomes a submission: read, standardize, gate, load (one transaction).

The stages are plain functions so that the Prefect flow (flows/intake.py) stays wiring only and the
tests can run the whole path without Prefect. A submission is immutable: snapshot kinds supersede the
district's current one, event kinds append; a rejected file loads no row but keeps its reasons.
`check_rows` reads, standardizes and gates one file; `run_intake` composes it with the store
(`campaign.intake.store`) and writes the district's feedback (`campaign.intake.feedback`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from campaign import clock
from campaign.config import CampaignConfig
from campaign.config_kinds import load_input_kinds
from campaign.config_reasons import load_reasons
from campaign.districts import DistrictError, resolve_district
from campaign.files import store_original
from campaign.intake.present import IntakeOutcome
from campaign.intake.rules import (
    ACCEPTED,
    CORRECTION_CODE,
    DUPLICATE,
    FILE_NAME_SHORTENED,
    REPEAT_CODE,
    Checked,
    IntakeRequest,
    UsageError,
    content_hints,
    file_value_refusal,
    fit_file_name,
    text_limit,
    value_limits,
)
from campaign.intake.store import (
    existing_event_keys,
    find_duplicate,
    inputs_state,
    known_facility_codes,
    load_checked,
)
from campaign.settings import Settings
from campaign.store.db import write_lock, write_session
from campaign.store.models import StoredFile, Submission
from campaign.timing import Stopwatch

# A kind's own checks at intake (issue 20), ONE registry by kind: each check names its phase and its
# "module:function", imported when that kind is taken in.
# - "before_gate": `fn(session, district, campaign, clean) -> DataFrame[row, column, code]` (reasons of
#   config/reasons.yaml), merged into the standardizer's issues (`rules.with_row_checks`): a code of
#   severity `row` quarantines its row, so the gate and the repeats see it;
# - "after_gate": `fn(session, district, campaign, clean, loaded, *, kind, today) -> DataFrame[row, column,
#   code, severity, detail]`, once the rows' fate is known (row checks, formulas, repeats: `loaded`): warnings
#   with their figures about the rows that load (a stock balance needs to know which rows load); they never
#   change which rows load. `today`: the day the file came in (received_at, Asia/Ho_Chi_Minh).
PHASES = ("before_gate", "after_gate")


@dataclass(frozen=True)
class KindCheck:
    phase: Literal["before_gate", "after_gate"]
    target: str   # "module:function"


KIND_CHECKS: dict[str, tuple[KindCheck, ...]] = {
    "aefi": (KindCheck("before_gate", "campaign.aefi.run:intake_checks"),),
    "aefi_investigation": (KindCheck("before_gate", "campaign.aefi.run:investigation_checks"),),
    "vaccine_stock": (KindCheck("after_gate", "campaign.stock.run:intake_check"),),
    "stock_ledger": (KindCheck("after_gate", "campaign.stock.run:intake_check"),),
}
# the registry's before-gate part by kind, as it was named before the registry (read-only view)
ROW_CHECKS: dict[str, str] = {k: c.target for k, cs in KIND_CHECKS.items() for c in cs if c.phase == "before_gate"}


def _target(path: str) -> Callable[..., pd.DataFrame]:
    import importlib

    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def checks_of(kind: str, phase: str, session: Session, district: str, campaign: CampaignConfig,
              today: dt.date) -> Callable[..., pd.DataFrame] | None:
    """The kind's checks of `phase` bound to this session, district and day, as one callable (their issues
    concatenated, in the registry's order), or None (most kinds have none). Before the gate it takes
    `clean`; after it `clean, loaded`."""
    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r}; expected one of {PHASES}")
    fns = [_target(c.target) for c in KIND_CHECKS.get(kind, ()) if c.phase == phase]
    if not fns:
        return None

    def run(clean: pd.DataFrame, *loaded: Any) -> pd.DataFrame:
        if phase == "before_gate":
            parts = [fn(session, district, campaign, clean) for fn in fns]
        else:
            parts = [fn(session, district, campaign, clean, *loaded, kind=kind, today=today) for fn in fns]
        parts = [x for x in parts if x is not None and len(x)]
        return parts[0] if len(parts) == 1 else (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame())

    return run




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



def check_rows(path: Path, kind: str, district: str, *, campaign: CampaignConfig, today: dt.date,
               known_facilities: set[str] | None,
               existing_keys: Callable[[list[str]], pd.DataFrame] | None = None,
               docs_dir: Path | None = None, label: str = "submission", watch: Stopwatch | None = None,
               overrides: dict | None = None,
               before_gate: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
               after_gate: Callable[[pd.DataFrame, pd.Series], pd.DataFrame] | None = None) -> Checked:
    """Read, standardize and gate one file. Raises ReadError for a file that cannot be read at all.
    `overrides` ({heading_key: ColumnOverride}): headings read as the district said; `before_gate`, `after_gate`:
    the kind's own checks of that phase (`checks_of`, registry `KIND_CHECKS`): before the gate merged into
    the standardizer's issues (they may quarantine a row), after it warnings with their figures about the
    rows that load (`campaign.stock.run.intake_check`: a balance needs to know which rows load)."""
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
        if before_gate is not None:
            from campaign.intake.rules import with_row_checks

            std = with_row_checks(std, before_gate(std.clean))
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
        # a kind read as "latest version of a key" compares every value: the same row is a repeat, a row
        # with news (a follow-up, a corrected day) loads as a correction
        compared = [c.name for c in spec.columns] if spec.corrections == "latest" else list(spec.natural_key)
        existing = existing_keys(compared)
        if len(existing):
            left = _comparable_text(std.clean[compared], spec)
            right = _comparable_text(existing[compared], spec)
            same = left.merge(right.drop_duplicates().assign(_seen=True), how="left", on=compared)["_seen"]
            repeats = pd.Series(same.fillna(False).to_numpy(dtype=bool), index=quarantined.index) & ~quarantined
            if spec.corrections == "latest":
                key_seen = left[spec.natural_key].merge(right[spec.natural_key].drop_duplicates().assign(_seen=True),
                                                        how="left", on=spec.natural_key)["_seen"]
                news = pd.Series(key_seen.fillna(False).to_numpy(dtype=bool), index=quarantined.index) \
                    & ~repeats & ~quarantined
                if news.any():
                    issues = pd.concat([issues, pd.DataFrame({
                        "row": news.index[news], "column": pd.NA, "code": CORRECTION_CODE,
                        "severity": load_reasons().severity(CORRECTION_CODE)})], ignore_index=True)
            if repeats.any():
                extra = pd.DataFrame({"row": repeats.index[repeats], "column": pd.NA, "code": REPEAT_CODE,
                                      "severity": load_reasons().severity(REPEAT_CODE)})
                issues = pd.concat([issues, extra], ignore_index=True)
                quarantined = quarantined | repeats

    # The kind's after-gate checks (stock: the balance, expiry, doses per vial and doses given, with the
    # figures, issue 20.3) about the rows that load.
    if after_gate is not None and len(std.clean):
        extra = after_gate(std.clean, ~quarantined)
        if len(extra):
            issues = pd.concat([issues, extra], ignore_index=True)

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



def _comparable_text(frame: pd.DataFrame, spec) -> pd.DataFrame:  # noqa: ANN001
    """Values as comparable text: a datetime as its UTC instant (the file's are local times, the store gives
    them back in UTC, or as text on SQLite), a date as YYYY-MM-DD, a number without its type (5, 5.0, "5"),
    missing as a sentinel."""
    out = frame.copy()
    for name in frame.columns:
        kind = spec.column(name).type
        if kind == "date":
            out[name] = pd.to_datetime(frame[name].astype("string"), errors="coerce").dt.strftime("%Y-%m-%d")
        elif kind in ("integer", "number"):
            num = pd.to_numeric(frame[name], errors="coerce")
            out[name] = num.map(lambda v: None if pd.isna(v) else f"{v:.6g}")
        if kind == "datetime":
            col = frame[name]
            if col.dtype == object:
                col = pd.Series([v.isoformat() if isinstance(v, dt.datetime) else v for v in col], index=col.index)
            out[name] = pd.to_datetime(col, utc=True, errors="coerce", format="mixed").dt.strftime("%Y-%m-%dT%H:%M:%S")
    return out.astype("string").fillna("\x00")


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
        from campaign.intake.columns import load_mappings
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
                existing_keys=lambda key: existing_event_keys(session, district, kind, key, exclude=exclude),
                docs_dir=settings.home / "data_docs" / district / kind / stored.sha256[:16],
                label=f"{district}-{kind}-{stored.sha256[:12]}", watch=watch,
                overrides=overrides_of(session),
                before_gate=checks_of(kind, "before_gate", session, district, campaign, clock.local(received_at).date()),
                after_gate=checks_of(kind, "after_gate", session, district, campaign, clock.local(received_at).date()),
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
            seen = inputs_state(session, district, kind)
            checked, blocking, read_error = check(session)
    if dup is not None:
        return _complete_feedback(dup, checked, blocking, read_error, request, settings, engine)
    with write_session(engine) as session:
        write_lock(session, f"intake:{district}:{kind}")
        if (dup := duplicate_of(session)) is not None:
            return dup
        if inputs_state(session, district, kind) != seen:
            checked, blocking, read_error = check(session)
        with watch.stage("load"):
            outcome = load_checked(session, district=district, kind=kind, facility=facility, stored=stored,
                                   original_name=request.display_name, checked=checked, blocking=blocking,
                                   request=request, received_at=received_at, now_real=now_real, notes=notes)
    # The submission stands once committed; the feedback file is written after it and linked to it.
    with watch.stage("feedback"):
        feedback = write_submission_feedback(outcome, checked, blocking, request, settings,
                                             refused=read_error is not None)
    with write_session(engine) as session:
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
    with write_session(engine) as session:
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
    (`campaign.intake.feedback.problems_workbook_path`); the path returned is the annotated copy's."""
    from campaign.intake.feedback import (
        blocking_text,
        row_messages,
        row_statuses,
        write_feedback,
        write_refusal,
    )

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

