"""Retention and deletion of personal data (issue 18, docs/data-protection.md): a district's data, or every
submission received before a date (age-based retention, `Settings.retention_days`).

What goes (`PURGED_TABLES`): the submissions in scope and everything read from them or derived from their
rows: the loaded rows of every kind, row issues, quarantined rows, the portal's jobs that carried them,
the master list's records, people, pairs under review, person keys and review decisions of their rows, the
plans' invitations, standby lists and left-out lists of their people, the names of the teams in the
district's planned sessions, and the stored originals no remaining submission or job references. Files:
those originals, the feedback files, the Data Docs sites, the master list's cache files, the district's
national export and invitation lists, the province's master-list CSV when it lists a purged row, and (a
whole district) the demo's generated inputs. What stays (`KEPT_TABLES`, each with why): aggregates and
official records without anyone's personal data (readiness history, reports, escalations, runs' figures).

People linked across districts: a person of the master list is one cluster of rows, possibly from several
districts (`MasterPerson.districts`), and what the list says of them (canonical row, priority, eligibility,
dose 1, rank) is derived from all those rows. A person with a row in scope is therefore taken off the list
whole: the person, their records in every district, the pairs under review of those records, the person
keys that give their id (the id is retired) and their plan entries, with the files that name them (the
invitation lists of their facilities, the national export of their district). The other districts' rows
stay loaded; they are off the master list until the next `campaign master-list` run lists them again
(`PurgeReport.unlisted` counts them, `master_list_rebuild` says a run is due).

All or nothing: one database transaction; the files are first moved aside (renamed `.purge-<token>-<name>`
in their own directory, before the commit), put back if anything fails, and deleted only after the
commit. A dry run does the same deletes in its transaction and rolls it back: its counts are the ones
a real run would give (it holds the write lock for that time), and no file is touched.

Core only: the CLI (`campaign data purge`) resolves the district and asks for confirmation.
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, delete, or_, select, update
from sqlalchemy.orm import Session

from campaign.clock import local
from campaign.settings import Settings
from campaign.store.current import in_force
from campaign.store.db import write_engine, write_lock
from campaign.store.models import (
    KIND_TABLES,
    DoseConflict,
    DoseLink,
    DoseRecord,
    MasterPerson,
    MasterRecord,
    PersonKey,
    PlanInvitation,
    PlanSession,
    PlanStandby,
    PlanUnplanned,
    PortalJob,
    QuarantineRow,
    ReviewDecision,
    ReviewPair,
    RowIssue,
    StoredFile,
    Submission,
    kind_table_name,
)

# Every table of the application's database is in exactly one of these (tests/test_retention.py checks it,
# so a new table must be classified here before it ships).
PURGED_TABLES: dict[str, str] = {
    "submissions": "the uploads in scope: file names, who sent them, how their columns were read",
    "row_issues": "the issues found on their rows",
    "quarantine_rows": "the rows not loaded, as read: names, IDs, phones",
    "stored_files": "an original no remaining submission or portal job references (and its bytes)",
    "portal_jobs": "the portal's jobs that carried them (file name, outcome); a whole district: all its uploads",
    "master_records": "the master list's records of their rows, and every record of a person linked to one",
    "master_persons": "the people with one of their rows (a whole district: all its people), wherever listed",
    "review_pairs": "the pairs under review that involve one of their rows or a record taken off with its person",
    "person_keys": "the fingerprints and soft keys of their rows (hashes of name, birth date, IDs), and the keys "
                   "of the people taken off the list (their ids are retired)",
    "review_decisions": "the reviewers' decisions on pairs that involve one of their rows",
    "plan_invitations": "the invitations of their people",
    "plan_standby": "the standby places of their people",
    "plan_unplanned": "the left-out entries of their people",
    "plan_sessions": "not deleted: the team's names (staff) of the district's sessions are cleared",
    "dose_links": "the links of their dose rows (results, backfill) and of their people",
    "dose_history": "the doses of their people and the doses read from their rows",
    "dose_conflicts": "the conflicts of their people's dose histories",
    **{kind_table_name(kind): "the loaded rows" for kind in KIND_TABLES},
}
KEPT_TABLES: dict[str, str] = {
    "readiness_records": "statuses, counts and gaps per facility and district: no personal data",
    "reports": "official reports (approved, sent): figures, and the names of facility heads as officials",
    "escalations": "deadline steps sent to parties (official contacts from the configuration)",
    "outbox_messages": "the messages of those escalations, to official contacts",
    "deadline_extensions": "deadlines moved by coordinators",
    "master_list_runs": "counts per district and the ids of the submissions read (ids only)",
    "linkage_models": "the trained model's probabilities: no record in it",
    "dose_link_runs": "a dose linking's counts per district and the ids of the submissions read (ids only)",
    "plan_runs": "a plan's scope and counts per district",
    "column_mappings": "how a district's headings are read: headings, no cell values",
    "portal_users": "accounts are disabled, never deleted: every upload keeps who made it",
    "portal_sessions": "sign-in sessions of accounts (token hashes)",
    "audit_events": "the audit log holds ids, codes and counts only; it records the purge itself",
    "alembic_version": "the schema's version",
}

FEEDBACK = "feedback"
STAGED_PREFIX = ".purge-"
DATA_DOCS = "data_docs"
MASTER_LIST_CACHE = ("cache", "master_list")
CHUNK = 5000
# not a deletion: the count of planned sessions whose team (staff names) was cleared
TEAMS_CLEARED = "plan_sessions.team"


class PurgeError(ValueError):
    """A purge that cannot be asked for (no scope, an unknown district): exit code 2."""


@dataclass(frozen=True)
class PurgeScope:
    """What to purge: a district's data (`district`), the submissions received before `before` (of the
    district, or of every district when `district` is None), or both."""

    district: str | None = None
    before: dt.datetime | None = None

    def __post_init__(self) -> None:
        if self.district is None and self.before is None:
            raise PurgeError("give a district, a date (--before) or --expired: a purge never means everything")
        if self.before is not None and (self.before.tzinfo is None or self.before.utcoffset() is None):
            raise PurgeError("the date to purge before needs a UTC offset")

    @property
    def whole_district(self) -> bool:
        return self.district is not None and self.before is None

    def to_json(self) -> dict[str, Any]:
        return {"district": self.district, "before": self.before.isoformat() if self.before else None}


@dataclass
class PurgeReport:
    """What a purge deleted (or, dry, would delete): rows per table, files and directories."""

    scope: PurgeScope
    dry_run: bool
    submissions: list[int] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    # files moved aside but not deleted after the commit (a disk error): their place, to remove by hand
    left_behind: list[Path] = field(default_factory=list)
    # rows of submissions not purged taken off the master list with a person linked to a purged row: the
    # next `campaign master-list` run lists them again (counted in rows["master_records"] too)
    unlisted: int = 0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def master_list_rebuild(self) -> bool:
        """Rows still loaded are off the master list until it is built again."""
        return self.unlisted > 0

    def to_json(self) -> dict[str, Any]:
        return {"scope": self.scope.to_json(), "dry_run": self.dry_run, "submissions": self.submissions,
                "rows": dict(sorted(self.rows.items())), "total_rows": self.total_rows,
                "files": [str(p) for p in self.files], "left_behind": [str(p) for p in self.left_behind],
                "unlisted": self.unlisted, "master_list_rebuild": self.master_list_rebuild, "kept": KEPT_TABLES}


def expired_before(now: dt.datetime, retention_days: int) -> dt.datetime:
    """The age-based cutoff: submissions received before this are past their retention."""
    if retention_days < 1:
        raise PurgeError("the retention must be at least one day")
    return now - dt.timedelta(days=retention_days)


# ---------------------------------------------------------------------------------------------------------
# The purge
# ---------------------------------------------------------------------------------------------------------


def purge(engine: Engine, settings: Settings, scope: PurgeScope, *, dry_run: bool = False,
          district_codes: Iterable[str] = (),
          record: Callable[[Session, PurgeReport], None] | None = None) -> PurgeReport:
    """Delete the personal data in `scope` (see the module's docstring) in one transaction; files after
    the commit. `dry_run`: the same, rolled back, no file touched. `district_codes`: the province's
    districts (their intake locks are taken). `record(session, report)`: called inside the transaction
    before the commit (the audit log), so the record and the deletion stand or fall together."""
    report = PurgeReport(scope=scope, dry_run=dry_run)
    staged: list[tuple[Path, Path]] = []
    session = Session(write_engine(engine))
    try:
        session.begin()
        _lock(session, scope, district_codes)
        paths = _delete_rows(session, settings, scope, report)
        report.files = _outermost(p for p in paths if p.exists() or p.is_symlink())
        if dry_run:
            session.rollback()
            return report
        staged = _stage(report.files)
        if record is not None:
            record(session, report)
        session.commit()
    except BaseException as exc:
        session.rollback()
        for original, moved in _unstage(staged):
            exc.add_note(f"could not put {original} back: it is at {moved}")
        raise
    finally:
        session.close()
    # committed: what was moved aside is deleted for good
    report.left_behind = _delete_staged(staged)
    return report


AUDIT_ACTION = "data_purge"


def record_in_audit_log(session: Session, report: PurgeReport) -> None:
    """The purge in the audit log (campaign.audit), in the purge's own transaction: counts and the scope,
    never what was deleted."""
    from campaign import audit

    scope = report.scope
    audit.record(session, AUDIT_ACTION, actor=audit.cli_actor(), target_type="district",
                 target_label=scope.district, details={
                     "district": scope.district, "before": scope.before.isoformat() if scope.before else None,
                     "submissions": len(report.submissions), "rows": report.total_rows, "files": len(report.files),
                     "unlisted": report.unlisted})


def _lock(session: Session, scope: PurgeScope, district_codes: Iterable[str]) -> None:
    # SQLite: the IMMEDIATE transaction is the one writer. PostgreSQL: the intakes of the districts in scope
    # wait for the purge (an upload landing in the middle would keep rows of a half-purged district).
    districts = [scope.district] if scope.district else sorted(set(district_codes))
    for district in districts:
        for kind in KIND_TABLES:
            write_lock(session, f"intake:{district}:{kind}")


def _chunks(values: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    items = sorted(set(values), key=str)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _delete_in(session: Session, table: Table, column: str, values: Iterable[Any]) -> int:
    """DELETE ... WHERE column IN values, in chunks (SQLite caps a statement's parameters)."""
    n = 0
    for chunk in _chunks(values):
        n += session.execute(delete(table).where(table.c[column].in_(chunk))).rowcount or 0
    return n


def _count(report: PurgeReport, table: str, n: int) -> None:
    report.rows[table] = report.rows.get(table, 0) + n


def _delete_rows(session: Session, settings: Settings, scope: PurgeScope, report: PurgeReport) -> list[Path]:
    """Every delete of the purge, in foreign-key order; returns the files and directories that belong to
    what was deleted (deleted by the caller after the commit)."""
    where = []
    if scope.district is not None:
        where.append(Submission.district_code == scope.district)
    if scope.before is not None:
        where.append(Submission.received_at < scope.before)
    subs = session.execute(
        select(Submission.id, Submission.district_code, Submission.kind, Submission.checksum,
               Submission.is_current, Submission.feedback_path, Submission.data_docs_path).where(*where)).all()
    ids = [int(r.id) for r in subs]
    report.submissions = sorted(ids)

    # What the rows in scope gave the master list and the plans, read before anything is deleted.
    lists = [r for r in subs if r.kind == "target_list"]
    keys = _record_keys(session, [r.id for r in lists])
    if keys and not scope.whole_district:
        # a key the district's current list still gives stays: its people keep their ids (a corrected list
        # repeats most rows of the one it replaced; a key holds its district, so no other list shares it)
        in_use = session.execute(select(Submission.id).where(
            *in_force(kinds="target_list", districts=sorted({r.district_code for r in lists})),
            Submission.id.not_in(ids))).scalars()
        keys -= _record_keys(session, list(in_use))
    listed = bool(ids) and session.execute(
        select(MasterRecord.id).where(MasterRecord.submission_id.in_(ids)).limit(1)).first() is not None
    person_where = [MasterPerson.submission_id.in_(ids)] if ids else []
    if scope.whole_district:
        person_where.append(MasterPerson.district == scope.district)
    persons = set(session.execute(select(MasterPerson.person_id).where(or_(*person_where))).scalars()) \
        if person_where else set()
    # a person is one cluster of rows, possibly of several districts: one row in scope takes them off whole
    for chunk in _chunks(ids):
        persons |= set(session.execute(select(MasterRecord.person_id).where(MasterRecord.submission_id.in_(chunk)))
                       .scalars())
    if scope.whole_district:
        for table in (PlanInvitation, PlanUnplanned):
            persons |= set(session.execute(select(table.person_id).where(table.district == scope.district))
                           .scalars())
    facilities = _facilities_of(session, scope, ids, persons)
    # the districts whose national export lists one of those people (under their canonical row's district)
    exported = {str(d) for chunk in _chunks(persons) for d in session.execute(
        select(MasterPerson.district).where(MasterPerson.person_id.in_(chunk)).distinct()).scalars()}
    staff_districts = {r.district_code for r in subs if r.kind == "staff"}
    if scope.whole_district:
        staff_districts.add(scope.district)

    # The portal's jobs first (they reference submissions), keeping the uploads they carried in mind.
    job_where = [PortalJob.submission_id.in_(ids)] if ids else []
    if scope.whole_district:
        job_where.append((PortalJob.district_code == scope.district) & (PortalJob.action == "intake"))
    elif scope.before is not None:   # uploads that never became a submission (refused, failed), as old
        failed = (PortalJob.action == "intake") & PortalJob.submission_id.is_(None) & \
            (PortalJob.received_at < scope.before)
        job_where.append(failed & (PortalJob.district_code == scope.district) if scope.district else failed)
    job_rows = session.execute(select(PortalJob.id, PortalJob.checksum).where(or_(*job_where))).all() \
        if job_where else []
    _count(report, "portal_jobs", _delete_in(session, PortalJob.__table__, "id", [j.id for j in job_rows]))

    # The master list: records, pairs, people, keys and decisions of the rows in scope; the people taken off
    # whole (see the module's docstring) with their records, pairs and keys in the other districts.
    others = _records_of(session, persons, exclude=ids)
    report.unlisted = len(others)
    _count(report, "master_records", _delete_in(session, MasterRecord.__table__, "submission_id", ids)
           + _delete_in(session, MasterRecord.__table__, "person_id", persons))
    pairs = 0
    if ids:
        pairs += session.execute(delete(ReviewPair).where(
            or_(ReviewPair.submission_a.in_(ids), ReviewPair.submission_b.in_(ids)))).rowcount or 0
    pairs += _delete_in(session, ReviewPair.__table__, "pair_key", _pairs_of(session, others))
    _count(report, "review_pairs", pairs)
    _count(report, "master_persons", _delete_in(session, MasterPerson.__table__, "person_id", persons))
    _count(report, "person_keys", _delete_in(session, PersonKey.__table__, "key", keys)
           + _delete_in(session, PersonKey.__table__, "person_id", persons))
    decisions = _delete_in(session, ReviewDecision.__table__, "fingerprint_a", keys)
    decisions += _delete_in(session, ReviewDecision.__table__, "fingerprint_b", keys)
    _count(report, "review_decisions", decisions)

    # Doses linked to people (issue 20.1): the links of the rows in scope and of the people taken off, their
    # dose history (and the doses read from the rows in scope) and conflicts.
    for model, name in ((DoseLink, "dose_links"), (DoseRecord, "dose_history")):
        _count(report, name, _delete_in(session, model.__table__, "submission_id", ids)
               + _delete_in(session, model.__table__, "person_id", persons))
    _count(report, "dose_conflicts", _delete_in(session, DoseConflict.__table__, "person_id", persons))

    # The plans: the invitations, standby places and left-out entries of those people; the teams' names.
    for model, name in ((PlanInvitation, "plan_invitations"), (PlanStandby, "plan_standby"),
                        (PlanUnplanned, "plan_unplanned")):
        n = _delete_in(session, model.__table__, "person_id", persons)
        if scope.whole_district and model is not PlanStandby:
            n += session.execute(delete(model).where(model.district == scope.district)).rowcount or 0
        _count(report, name, n)
    if staff_districts:
        teams = update(PlanSession).where(PlanSession.district.in_(sorted(staff_districts)),
                                          PlanSession.team.is_not(None), PlanSession.team != "")
        if scope.before is not None:   # the sessions held before the date (a day in Gia Lai's time)
            teams = teams.where(PlanSession.date < local(scope.before).date())
        _count(report, TEAMS_CLEARED, session.execute(teams.values(team=None)).rowcount or 0)

    # The rows themselves, then the submissions (a kept one superseded by a purged one forgets it).
    _count(report, "row_issues", _delete_in(session, RowIssue.__table__, "submission_id", ids))
    _count(report, "quarantine_rows", _delete_in(session, QuarantineRow.__table__, "submission_id", ids))
    for kind, table in KIND_TABLES.items():
        _count(report, kind_table_name(kind), _delete_in(session, table, "submission_id", ids))
    for chunk in _chunks(ids):   # first, so that deleting in chunks never leaves a reference behind
        session.execute(update(Submission).where(Submission.superseded_by_id.in_(chunk))
                        .values(superseded_by_id=None))
    _count(report, "submissions", _delete_in(session, Submission.__table__, "id", ids))

    # Stored originals nothing references any more.
    candidates = {r.checksum for r in subs} | {j.checksum for j in job_rows if j.checksum}
    still = set()
    for chunk in _chunks(candidates):
        still |= set(session.execute(select(Submission.checksum).where(Submission.checksum.in_(chunk))).scalars())
        still |= set(session.execute(select(PortalJob.checksum).where(PortalJob.checksum.in_(chunk))).scalars())
    orphans = candidates - still
    originals = [settings.files_dir / rel for chunk in _chunks(orphans) for rel in session.execute(
        select(StoredFile.relative_path).where(StoredFile.sha256.in_(chunk))).scalars()]
    _count(report, "stored_files", _delete_in(session, StoredFile.__table__, "sha256", orphans))

    remaining_docs = {Path(p) for p in session.execute(select(Submission.data_docs_path).where(
        Submission.data_docs_path.is_not(None))).scalars()}
    paths = [*originals, *_outputs(settings, scope, subs, facilities, exported, listed, remaining_docs)]
    return [p for p in paths if _inside(p, settings.home)]   # a path from the database: only inside the home


def _records_of(session: Session, persons: set[str], exclude: list[int]) -> set[tuple[int, int]]:
    """The master list's records (submission, row) of these people outside the submissions `exclude`."""
    out: set[tuple[int, int]] = set()
    for chunk in _chunks(persons):
        statement = select(MasterRecord.submission_id, MasterRecord.row_number).where(
            MasterRecord.person_id.in_(chunk))
        if exclude:
            statement = statement.where(MasterRecord.submission_id.not_in(exclude))
        out |= {(int(s), int(r)) for s, r in session.execute(statement).tuples()}
    return out


def _pairs_of(session: Session, records: set[tuple[int, int]]) -> set[str]:
    """The pairs under review with one of these records (submission, row) on either side."""
    out: set[str] = set()
    for chunk in _chunks({s for s, _ in records}):
        for key, sa, ra, sb, rb in session.execute(
                select(ReviewPair.pair_key, ReviewPair.submission_a, ReviewPair.row_a, ReviewPair.submission_b,
                       ReviewPair.row_b).where(or_(ReviewPair.submission_a.in_(chunk),
                                                   ReviewPair.submission_b.in_(chunk)))).tuples():
            if (int(sa), int(ra)) in records or (int(sb), int(rb)) in records:
                out.add(str(key))
    return out


def _record_keys(session: Session, target_ids: list[int]) -> set[str]:
    """The person keys (fingerprints and soft keys) the master list gives these target-list rows."""
    if not target_ids:
        return set()
    from campaign.master_list.dedupe.records import build_records
    from campaign.master_list.rules import ROW_COLUMNS
    from campaign.store.current import frame_of

    table = KIND_TABLES["target_list"]
    keys: set[str] = set()
    for chunk in _chunks(target_ids, 200):
        rows = frame_of(session, select(*(table.c[c] for c in ROW_COLUMNS)).where(table.c.submission_id.in_(chunk)),
                        ROW_COLUMNS)
        if len(rows):
            records = build_records(rows)
            keys |= set(records["fingerprint"].dropna()) | set(records["soft_key"].dropna())
    return keys


def _facilities_of(session: Session, scope: PurgeScope, ids: list[int], persons: set[str]) -> set[str]:
    """The facilities whose invitation lists name someone purged (a whole district: all its facilities)."""
    out: set[str] = set()
    for chunk in _chunks(persons):
        for model in (PlanInvitation, PlanStandby):
            out |= set(session.execute(select(model.facility_code).where(model.person_id.in_(chunk))).scalars())
    if scope.whole_district:
        out |= set(session.execute(select(PlanSession.facility_code)
                                   .where(PlanSession.district == scope.district)).scalars())
        table = KIND_TABLES["facilities"]
        for chunk in _chunks(ids):
            out |= set(session.execute(select(table.c.facility_code).where(table.c.submission_id.in_(chunk),
                                                                          table.c.facility_code.is_not(None)))
                       .scalars())
    return {str(f) for f in out if f}


def _outputs(settings: Settings, scope: PurgeScope, subs: list[Any], facilities: set[str], exported: set[str],
             listed: bool, remaining_docs: set[Path]) -> list[Path]:
    """The files written from what is purged."""
    from campaign.intake.feedback import problems_workbook_path
    from campaign.planning.invitations import file_name

    home = settings.home
    out: list[Path] = []
    for sub in subs:
        # the annotated copy (.xlsx, or .csv with its problems workbook beside it): "<id>-<kind>.*"
        out += (settings.outputs_dir / FEEDBACK / sub.district_code).glob(f"{int(sub.id)}-*")
        if sub.feedback_path:
            feedback = Path(sub.feedback_path)
            out += [feedback, problems_workbook_path(feedback)]
        out += _cache_files(settings, [int(sub.id)])
        site = _docs_site(home, sub.data_docs_path)
        if site is not None and not any(p.is_relative_to(site) for p in remaining_docs):
            out.append(site)
    national = settings.outputs_dir / "master_list" / "national"
    current_lists = {s.district_code for s in subs if s.kind == "target_list" and s.is_current}
    for district in sorted(current_lists | exported | ({scope.district} if scope.whole_district else set())):
        out.append(national / f"{district}.xlsx")
    if listed:   # the province's CSV names their rows: the next master-list run writes it again
        out.append(settings.outputs_dir / "master_list" / "master_list.csv")
    invitations = settings.outputs_dir / "plans" / "invitations"
    for code in sorted(facilities):
        try:
            out.append(invitations / file_name(code))
        except ValueError:   # an empty code has no file
            continue
    if scope.whole_district:
        out += [settings.outputs_dir / FEEDBACK / scope.district, home / DATA_DOCS / scope.district,
                *sorted((home / "demo" / "inputs" / "districts").glob(f"{scope.district}-*"))]
    return out


def _cache_files(settings: Settings, ids: list[int]) -> list[Path]:
    from campaign.master_list.store import cache_files_of

    cache = settings.home.joinpath(*MASTER_LIST_CACHE)
    return cache_files_of(cache, ids) if cache.is_dir() else []


def _docs_site(home: Path, index: str | None) -> Path | None:
    """A submission's Data Docs site: data_docs/<district>/<kind>/<file hash>/ (its page is inside)."""
    if not index:
        return None
    root = home / DATA_DOCS
    path = Path(index)
    if not _inside(path, root):
        return None
    parts = path.resolve().relative_to(root.resolve()).parts
    return root.joinpath(*parts[:3]) if len(parts) > 3 else None


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root.resolve()) and path.resolve() != root.resolve()
    except OSError:
        return False


def _outermost(paths: Iterable[Path]) -> list[Path]:
    """Distinct paths, without those inside another one listed (a directory takes its files along)."""
    unique = sorted({p.resolve() for p in paths}, key=lambda p: (len(p.parts), str(p)))
    out: list[Path] = []
    for p in unique:
        if not any(p.is_relative_to(q) for q in out):
            out.append(p)
    return sorted(out)


# ---------------------------------------------------------------------------------------------------------
# Files: moved aside before the commit, put back on failure, deleted after
# ---------------------------------------------------------------------------------------------------------


def _stage(paths: list[Path]) -> list[tuple[Path, Path]]:
    """Rename every path to a hidden name beside it (the same directory: one file system, an atomic
    rename). On the first failure, everything moved so far is put back and the error raised: the purge
    then rolls back with every file in place."""
    token = uuid.uuid4().hex[:12]
    staged: list[tuple[Path, Path]] = []
    try:
        for path in paths:
            moved = path.with_name(f"{STAGED_PREFIX}{token}-{path.name}")
            path.rename(moved)
            staged.append((path, moved))
    except BaseException as exc:
        for original, moved in _unstage(staged):
            exc.add_note(f"could not put {original} back: it is at {moved}")
        raise
    return staged


def _unstage(staged: list[tuple[Path, Path]]) -> list[tuple[Path, Path]]:
    """Put moved files back; returns those that could not be (none, unless the disk fails meanwhile)."""
    failed = []
    for original, moved in reversed(staged):
        try:
            moved.rename(original)
        except OSError:
            failed.append((original, moved))
    return failed


def _delete_staged(staged: list[tuple[Path, Path]]) -> list[Path]:
    """Delete the moved files for good; returns what could not be deleted (to remove by hand)."""
    failed: list[Path] = []
    for _original, moved in staged:
        try:
            if moved.is_dir() and not moved.is_symlink():
                shutil.rmtree(moved, onerror=lambda _f, path, _e: failed.append(Path(path)))
            else:
                moved.unlink()
        except OSError:
            failed.append(moved)
    return failed


__all__ = ["AUDIT_ACTION", "KEPT_TABLES", "PURGED_TABLES", "TEAMS_CLEARED", "PurgeError", "PurgeReport", "PurgeScope",
           "expired_before", "purge", "record_in_audit_log"]
