"""The export of one district (`export_target_list`): what the CLI and the Prefect task call; its errors
(all `ExportError`, each with `exit_code` for the CLI) and its result.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import xlsxwriter
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaign.config import CampaignConfig
from campaign.districts import DistrictError, resolve_district
from campaign.domain.admin_units import AdminUnits, get_admin_units
from campaign.domain.standardize.phones import load_phone_rules
from campaign.io.xlsx import write_atomically
from campaign.master_list.export.rules import (
    COLUMNS,
    FIRST_DATA_ROW,
    HEADER_ROWS,
    ROW_COLUMNS,
    SHEET_NAME,
    Places,
    product_labels,
    render,
)
from campaign.master_list.export.sheet import Sheet, properties
from campaign.master_list.export.store import changed_submissions, dose_columns, persons, source_rows
from campaign.store.models import MasterListRun

log = logging.getLogger(__name__)

BUFFER_PERSONS = 100_000    # rendered rows held at once: more people take one more pass over the rows


# ---------------------------------------------------------------------------------------------------------
# Errors and result
# ---------------------------------------------------------------------------------------------------------


class ExportError(Exception):
    """The export cannot be made. `exit_code` follows the CLI contract (3: refused by a rule)."""

    exit_code = 3


class ExportUsageError(ExportError, ValueError):
    """A request that cannot be right (bad output path, unknown kind): exit code 2."""

    exit_code = 2


class UnknownDistrictError(ExportUsageError):
    """The district is not one of the campaign's (or its name is ambiguous)."""


class NoMasterListError(ExportError):
    """No master list has been built yet (`campaign master-list` first)."""


class InconsistentMasterListError(ExportError):
    """The master list points at source rows that do not exist (or two people at one row): rebuild it.
    Not a rule refusing the request but a broken invariant: exit code 1."""

    exit_code = 1


class NoPersonsError(ExportError):
    """The district has no person in the current master list (or, by default, no eligible one)."""

    def __init__(self, message: str, *, persons: int = 0, ineligible: int = 0):
        super().__init__(message)
        self.persons = persons
        self.ineligible = ineligible


@dataclass
class ExportResult:
    """What was written. `missing_required`: written rows lacking a value the platform requires
    ({column: rows}); `commune_outside_district`: written rows whose commune code belongs to another
    district (the place columns follow the commune; intake never lets this happen); `stale`: the master list was built before the current target lists (re-uploads or
    withdrawals since, listed in `changed_submissions`): run `campaign master-list` for an up-to-date file."""

    path: Path
    district: str
    district_name: str
    persons_written: int
    ineligible_excluded: int
    ineligible_included: int
    persons_in_district: int
    master_list_run_id: int
    master_list_as_of: dt.datetime
    stale: bool
    changed_submissions: list[int] = field(default_factory=list)
    commune_outside_district: int = 0
    missing_required: dict[str, int] = field(default_factory=dict)
    sheet: str = SHEET_NAME
    header_rows: list[int] = field(default_factory=lambda: list(HEADER_ROWS))
    first_data_row: int = FIRST_DATA_ROW
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["path"] = str(self.path)
        out["master_list_as_of"] = self.master_list_as_of.isoformat()
        out["seconds"] = round(self.seconds, 3)
        return out


def _resolve_district(district: str, campaign: CampaignConfig, units: AdminUnits) -> Any:
    try:
        return resolve_district(district, campaign, units)
    except DistrictError as exc:
        raise UnknownDistrictError(str(exc)) from exc


def export_target_list(session: Session, district: str, path: Path, *, include_ineligible: bool = False,
                       campaign: CampaignConfig) -> ExportResult:
    """Write the current master list's people of `district` (GSO code or name) to `path` (.xlsx) in the
    national platform's subject-list import layout (see the module doc). Reads only; the caller owns
    the session. Raises UnknownDistrictError, ExportUsageError, NoMasterListError, NoPersonsError,
    InconsistentMasterListError (all ExportError); the target is only replaced by a complete file."""
    started = time.perf_counter()
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise ExportUsageError(f"the national import layout is an .xlsx file: {path.name!r} does not end in .xlsx")
    if path.is_dir():
        raise ExportUsageError(f"{path} is a directory")
    units = get_admin_units()
    unit = _resolve_district(district, campaign, units)
    code = unit.code

    latest = session.execute(select(MasterListRun).order_by(MasterListRun.id.desc()).limit(1)).scalar_one_or_none()
    if latest is None:
        raise NoMasterListError("no master list has been built yet: run `campaign master-list` first")

    everyone = persons(session, code)
    chosen = everyone if include_ineligible else [p for p in everyone if p.eligible]
    if not chosen:
        if not everyone:
            raise NoPersonsError(f"district {code} ({unit.name}) has no person in the current master list "
                                 f"(run {latest.id})")
        raise NoPersonsError(
            f"district {code} ({unit.name}) has {len(everyone)} people in the current master list, none "
            f"eligible; include the ineligible ones to export them anyway",
            persons=len(everyone), ineligible=len(everyone))
    position: dict[tuple[int, int], int] = {}
    for i, p in enumerate(chosen):
        first = position.setdefault((p.submission_id, p.row_number), i)
        if first != i:
            raise InconsistentMasterListError(
                f"people {chosen[first].person_id} and {p.person_id} share one source row: the master list is "
                f"inconsistent; rebuild it")
    submissions = sorted({p.submission_id for p in chosen})
    run_ids = {p.run_id for p in everyone}
    run = latest if run_ids <= {latest.id} else (session.get(MasterListRun, max(run_ids)) or latest)

    places = Places(units, campaign.province.code)
    products = product_labels()
    min_age = campaign.campaign.min_age_years
    country_code = load_phone_rules().country_code
    keys = [c.key for c in COLUMNS]
    history = dose_columns(session, [p.person_id for p in chosen])   # issue 20.1: doses from the history
    required = [c.key for c in COLUMNS if c.required]
    missing_required = dict.fromkeys(required, 0)
    outside = 0

    def batch(lo: int, hi: int) -> list[list[Any]]:
        """The cells of chosen[lo:hi], from one pass over the source rows."""
        nonlocal outside
        cells: list[list[Any] | None] = [None] * (hi - lo)
        for key, values in source_rows(session, submissions):
            i = position.get(key)
            if i is None or not lo <= i < hi or cells[i - lo] is not None:
                continue  # another person's row, a later pass's, or a second sheet's row of the same number
            row = dict(zip(ROW_COLUMNS, values, strict=True))
            row.update(history.get(chosen[i].person_id, {}))
            out = render(chosen[i], row, places, products, min_age, country_code)
            out["#"] = i + 1
            if out["district_code"] != code:
                outside += 1
            for k in required:
                if out[k] is None:
                    missing_required[k] += 1
            cells[i - lo] = [out[k] for k in keys]
        lost = [chosen[lo + j].person_id for j, c in enumerate(cells) if c is None]
        if lost:
            raise InconsistentMasterListError(f"{len(lost)} people of district {code} have no source row in target_list_rows "
                              f"(first: {lost[0]}): the master list is inconsistent; rebuild it")
        return [c for c in cells if c is not None]

    def fill(wb: xlsxwriter.Workbook) -> None:
        sheet = Sheet(wb)
        sheet.write_titles()
        sheet.write_header()
        r = FIRST_DATA_ROW - 1
        for lo in range(0, len(chosen), BUFFER_PERSONS):
            for cells in batch(lo, min(lo + BUFFER_PERSONS, len(chosen))):
                sheet.write_row(r, cells)
                r += 1
        wb.set_properties(properties(unit, code, run, campaign))

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, fill, prefix=".export-")

    changed = changed_submissions(session, run)
    if changed:
        log.warning("export of district %s: the master list (run %d) predates target-list submissions %s",
                    code, run.id, changed)
    included = sum(1 for p in chosen if not p.eligible)
    return ExportResult(
        path=path, district=code, district_name=unit.name, persons_written=len(chosen),
        ineligible_excluded=len(everyone) - len(chosen), ineligible_included=included,
        persons_in_district=len(everyone), master_list_run_id=run.id, master_list_as_of=run.as_of,
        stale=bool(changed), changed_submissions=changed, commune_outside_district=outside,
        missing_required={k: v for k, v in missing_required.items() if v},
        seconds=time.perf_counter() - started)
