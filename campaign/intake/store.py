"""Intake's database reads and writes: duplicates, versions, what a check depends on, loading a checked
file as a submission (its rows, quarantine and issues), withdrawal. The caller owns the transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from campaign.config_kinds import load_input_kinds
from campaign.files import StoredOriginal
from campaign.intake.present import IntakeOutcome
from campaign.intake.rules import ACCEPTED, REJECTED, WITHDRAWN, Checked, IntakeRequest, UsageError
from campaign.store.bulk import insert_frame
from campaign.store.current import current_submission_records
from campaign.store.db import write_lock
from campaign.store.models import KIND_TABLES, QuarantineRow, RowIssue, StoredFile, Submission


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


def inputs_state(session: Session, district: str, kind: str) -> tuple[int | None, ...]:
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


def existing_event_keys(session: Session, district: str, kind: str, key: list[str],
                         exclude: int | None = None) -> pd.DataFrame:
    table = KIND_TABLES[kind]
    subs = [s.id for s in current_submission_records(session, district, kind) if s.id != exclude]
    if not subs:
        return pd.DataFrame(columns=key)
    rows = session.execute(select(*[table.c[k] for k in key]).where(table.c.submission_id.in_(subs))).all()
    return pd.DataFrame(rows, columns=key)



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
    from campaign.intake.feedback import blocking_text

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
                "severity": iss["severity"].to_numpy(),
                "detail": iss["detail"].to_numpy(dtype=object) if "detail" in iss.columns else None,
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
