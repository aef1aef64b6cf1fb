"""Export the standardized target list of one district in the national platform's subject-list import
layout (issue 5: `campaign export --kind target_list --district D --out FILE`), ready to upload upstream.

What the file looks like (DOMAIN.md, "The national platform's subject-list import template"; the same
layout `campaign.synth` writes as `xlsx_national` and `campaign.io.reader` reads back):

    row 1-3   instruction lines (`TITLE_LINES`), row 4 blank
    row 5-6   the two-row header: single columns merged over both rows; "Nơi ở tạm trú (hiện tại)",
              "Mũi 1" and "Mũi 2" merged over their sub-columns in row 5, the sub-headers in row 6
    row 7...  one row per person of the district, in invitation order (`invite_rank`, then person id);
              ineligible people (no rank) only with `include_ineligible=True`, after the others
    columns   `COLUMNS`: #, Họ và tên (*), Ngày sinh dạng dd/mm/yyyy (*), Giới tính (*) (0: nam, 1: nữ),
              Mã nhóm đối tượng ưu tiên (*), Đơn vị công tác, Số điện thoại (*), Số CMT/CCCD, Số thẻ bảo
              hiểm y tế, Nơi ở tạm trú (hiện tại): Tỉnh/Thành phố, Mã Tỉnh (*), Quận/Huyện, Mã Quận/Huyện
              (*), Xã/Phường, Mã Xã/Phường (*), Địa chỉ chi tiết; Mũi 1 and Mũi 2: Tên vắc xin, Ngày tiêm,
              Lô vắc xin, Địa điểm tiêm; Ghi chú; Kết quả import (left empty: the platform fills it)

Values come from the person's canonical source row (`master_persons.submission_id/row_number` ->
`target_list_rows`) with the person's effective priority group (the master list's, e.g. moved to the
age group). Cells:
- text cells (number format "@") for everything but `#`, sex and priority: phones in the national
  10-digit form (`+84912345678` -> `0912345678`), CMND/CCCD, BHYT, GSO codes, lots, facility codes keep
  their leading zeros; dates as `dd/mm/yyyy` text; vaccine products by their label (input_kinds.yaml
  enum `vaccine_product`, "AstraZeneca");
- `#` (1..n), sex (0 nam, 1 nữ) and the priority group (1..16) as numbers;
- the place columns from the GSO codes: the person's commune code, its district and province (official
  names from `campaign.domain.admin_units`); the row's own names only where a code is unknown;
- every text through `write_string` (never a formula); a text starting with a formula character
  (= + - @, tab, CR and their full-width forms) also gets Excel's quote prefix, so that editing the cell
  in Excel does not turn it into a formula either;
- with `include_ineligible=True` an ineligible person's "Ghi chú" starts with the reason in Vietnamese
  ("Chưa đủ điều kiện mời tiêm: chưa đủ 18 tuổi"), before the district's own note.

Reading: the district's people (one query, a small tuple each), then one streamed pass over the rows of
their submissions, looked up by (submission_id, row_number) in a dict. Not an SQL join: target_list_rows
is indexed by submission_id alone, and SQLite then probes the whole submission for every person
(quadratic: 100,000 people took over ten minutes). At most `BUFFER_PERSONS` rendered rows are held at
once; a larger district takes one more pass over its rows per `BUFFER_PERSONS` people.

Writing: xlsxwriter in constant-memory mode (rows strictly in order; the merged header cells are
registered, not written with `merge_range`, which loses cells in that mode), to a temporary file beside
the target that replaces it only once complete, mode 0600 (it holds personal data). The creation date is
the master list's `as_of`: the same list gives the same bytes. Measured on the shared 2-core machine:
100,000 people in ~16 s (SQLite and PostgreSQL alike), ~175 MiB above the process's baseline, 8 MB file;
xlsxwriter's cell API is ~80% of the time.

Core code: no Prefect. Errors (all `ExportError`, each with `exit_code` for the CLI): `ExportUsageError`
and its `UnknownDistrictError` (2), `NoMasterListError` and `NoPersonsError` (3),
`InconsistentMasterListError` (1).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import xlsxwriter
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaign.config import CampaignConfig
from campaign.config_kinds import load_input_kinds
from campaign.districts import DistrictError, resolve_district
from campaign.domain.admin_units import AdminUnits, get_admin_units
from campaign.domain.standardize.phones import load_phone_rules
from campaign.io.safety import starts_formula
from campaign.io.xlsx import write_atomically
from campaign.store.current import current_submission_ids
from campaign.store.models import KIND_TABLES, MasterListRun, MasterPerson
from campaign.vocabulary import kind_label

__all__ = [
    "COLUMNS",
    "EXPORT_KINDS",
    "FIRST_DATA_ROW",
    "HEADER_ROWS",
    "INELIGIBLE_NOTES",
    "SHEET_NAME",
    "TITLE_LINES",
    "ExportColumn",
    "ExportError",
    "ExportResult",
    "ExportUsageError",
    "InconsistentMasterListError",
    "NoMasterListError",
    "NoPersonsError",
    "UnknownDistrictError",
    "export_target_list",
    "national_phone",
]

log = logging.getLogger(__name__)

EXPORT_KINDS = ("target_list",)
KIND = "target_list"
SHEET_NAME = "Sheet1"

# The instruction lines above the header (the last one blank), as the template has them.
TITLE_LINES: tuple[str, ...] = (
    "DANH SÁCH ĐỐI TƯỢNG TIÊM CHỦNG VẮC XIN COVID-19",
    "Lưu ý: Các cột có dấu (*) là bắt buộc nhập. Ngày sinh nhập theo định dạng dd/mm/yyyy. "
    "Giới tính: 0 - Nam, 1 - Nữ.",
    "Mã nhóm đối tượng ưu tiên theo Quyết định 3355/QĐ-BYT (từ 1 đến 16). "
    "Số điện thoại ít nhất 10 số. Không sửa, xóa các dòng tiêu đề.",
    "",
)
HEADER_ROWS: tuple[int, int] = (len(TITLE_LINES) + 1, len(TITLE_LINES) + 2)  # 1-based, as Excel shows them
FIRST_DATA_ROW = HEADER_ROWS[1] + 1                                           # 1-based

PLACE = "Nơi ở tạm trú (hiện tại)"
DOSE1, DOSE2 = "Mũi 1", "Mũi 2"
IMPORT_RESULT = "Kết quả import"

CellKind = Literal["seq", "text", "number", "date"]


@dataclass(frozen=True)
class ExportColumn:
    """One column of the national layout: the canonical value it shows (`key`), its header (the
    sub-header when `group` is set) and how its cells are written."""

    key: str
    header: str
    group: str | None = None
    cell: CellKind = "text"
    width: float = 16
    required: bool = False  # marked (*): the platform refuses a row without it


COLUMNS: tuple[ExportColumn, ...] = (
    ExportColumn("#", "#", cell="seq", width=6),
    ExportColumn("full_name", "Họ và tên (*)", width=28, required=True),
    ExportColumn("birth_date", "Ngày sinh dạng dd/mm/yyyy (*)", cell="date", width=14, required=True),
    ExportColumn("sex", "Giới tính (*)\n(0: nam, 1: nữ)", cell="number", width=10, required=True),
    ExportColumn("priority_group", "Mã nhóm đối tượng ưu tiên (*)", cell="number", width=12, required=True),
    ExportColumn("workplace", "Đơn vị công tác", width=24),
    ExportColumn("phone", "Số điện thoại (*)\n(ít nhất 10 số)", width=14, required=True),
    ExportColumn("id_number", "Số CMT/CCCD\n(8/9/12 số)", width=15),
    ExportColumn("insurance_number", "Số thẻ bảo hiểm y tế\n(10/15 ký tự)", width=18),
    ExportColumn("province_name", "Tỉnh/Thành phố", PLACE, width=14),
    ExportColumn("province_code", "Mã Tỉnh (*)", PLACE, width=8, required=True),
    ExportColumn("district_name", "Quận/Huyện", PLACE, width=16),
    ExportColumn("district_code", "Mã Quận/Huyện (*)", PLACE, width=10, required=True),
    ExportColumn("commune_name", "Xã/Phường", PLACE, width=18),
    ExportColumn("commune_code", "Mã Xã/Phường (*)", PLACE, width=10, required=True),
    ExportColumn("address_detail", "Địa chỉ chi tiết", PLACE, width=24),
    ExportColumn("dose1_product", "Tên vắc xin", DOSE1, width=14),
    ExportColumn("dose1_date", "Ngày tiêm", DOSE1, cell="date", width=12),
    ExportColumn("dose1_lot", "Lô vắc xin", DOSE1, width=12),
    ExportColumn("dose1_site", "Địa điểm tiêm", DOSE1, width=14),
    ExportColumn("dose2_product", "Tên vắc xin", DOSE2, width=14),
    ExportColumn("dose2_date", "Ngày tiêm", DOSE2, cell="date", width=12),
    ExportColumn("dose2_lot", "Lô vắc xin", DOSE2, width=12),
    ExportColumn("dose2_site", "Địa điểm tiêm", DOSE2, width=14),
    ExportColumn("note", "Ghi chú", width=24),
    ExportColumn("import_result", IMPORT_RESULT, width=20),
)

# The source columns read from `target_list_rows` (besides the provenance ones).
ROW_COLUMNS = ("full_name", "birth_date", "sex", "priority_group", "workplace", "phone", "id_number",
               "insurance_number", "province_name", "province_code", "district_name", "district_code",
               "commune_name", "commune_code", "address_detail", "dose1_product", "dose1_date", "dose1_lot",
               "dose1_site", "dose2_product", "dose2_date", "dose2_lot", "dose2_site", "note")

SEX_CODES = {"male": 0, "female": 1}

# master_persons.ineligible_reason -> the note an exported ineligible person gets ({min_age}: config).
INELIGIBLE_NOTES = {
    "under_age": "chưa đủ {min_age} tuổi",
    "fully_vaccinated": "đã tiêm đủ liều",
    "contraindicated": "chống chỉ định tiêm",
    "deferred": "đang hoãn tiêm",
}
INELIGIBLE_PREFIX = "Chưa đủ điều kiện mời tiêm"

FETCH_ROWS = 5_000          # rows per round trip when streaming target_list_rows
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


# ---------------------------------------------------------------------------------------------------------
# Values -> cells
# ---------------------------------------------------------------------------------------------------------


def national_phone(phone: str | None, country_code: str = "84") -> str | None:
    """E.164 numbers of the country in the national form: "+84912345678" -> "0912345678". Other values
    (a foreign number, something intake kept as is) are returned unchanged."""
    if not phone:
        return None
    phone = phone.strip()
    prefix = "+" + country_code
    if phone.startswith(prefix) and phone[len(prefix):].isdigit():
        return "0" + phone[len(prefix):]
    return phone or None


def _vn_date(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value[:10])
        except ValueError:
            return value
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class _Places:
    """Province, district and commune (code, official name) of a person, from the GSO codes; cached."""

    def __init__(self, units: AdminUnits, province_code: str):
        self.units = units
        self.province_code = province_code
        self._communes: dict[str, Any] = {}
        self._districts: dict[str, Any] = {}

    def commune(self, code: str | None) -> Any:
        if not code:
            return None
        if code not in self._communes:
            self._communes[code] = self.units.commune(code)
        return self._communes[code]

    def district(self, code: str | None) -> Any:
        if not code:
            return None
        if code not in self._districts:
            self._districts[code] = self.units.district(code)
        return self._districts[code]

    def resolve(self, person_district: str, commune_code: str | None, row: dict[str, Any]) -> dict[str, Any]:
        commune = self.commune(commune_code)
        district = self.district(commune.parent_code if commune is not None else person_district)
        province = self.units.province(district.parent_code if district is not None else self.province_code)
        return {
            "province_code": province.code if province is not None else self.province_code,
            "province_name": province.name if province is not None else _text(row.get("province_name")),
            "district_code": district.code if district is not None else person_district,
            "district_name": district.name if district is not None else _text(row.get("district_name")),
            "commune_code": commune.code if commune is not None else _text(commune_code),
            "commune_name": commune.name if commune is not None else _text(row.get("commune_name")),
        }


def _product_labels() -> dict[str, str]:
    return {key: v.label for key, v in load_input_kinds().enums["vaccine_product"].items()}


def _ineligible_note(reason: str | None, min_age: int) -> str:
    what = INELIGIBLE_NOTES.get(reason or "", reason or "không rõ lý do").format(min_age=min_age)
    return f"{INELIGIBLE_PREFIX}: {what}"


def _render(person: _Person, row: dict[str, Any], places: _Places, products: dict[str, str],
            min_age: int, country_code: str) -> dict[str, Any]:
    """The cells of one person, by column key (None = empty cell)."""
    out: dict[str, Any] = {
        "full_name": _text(row.get("full_name")),
        "birth_date": _vn_date(row.get("birth_date")),
        "sex": SEX_CODES.get(row.get("sex") or ""),
        "priority_group": _int(person.priority_group) if person.priority_group is not None
        else _int(row.get("priority_group")),
        "workplace": _text(row.get("workplace")),
        "phone": national_phone(row.get("phone"), country_code),
        "id_number": _text(row.get("id_number")),
        "insurance_number": _text(row.get("insurance_number")),
        "address_detail": _text(row.get("address_detail")),
        "note": _text(row.get("note")),
        "import_result": None,
    }
    out.update(places.resolve(person.district, person.commune_code or row.get("commune_code"), row))
    for dose in ("dose1", "dose2"):
        product = _text(row.get(f"{dose}_product"))
        out[f"{dose}_product"] = products.get(product, product) if product else None
        out[f"{dose}_date"] = _vn_date(row.get(f"{dose}_date"))
        out[f"{dose}_lot"] = _text(row.get(f"{dose}_lot"))
        out[f"{dose}_site"] = _text(row.get(f"{dose}_site"))
    if not person.eligible:
        flag = _ineligible_note(person.ineligible_reason, min_age)
        out["note"] = f"{flag}; {out['note']}" if out["note"] else flag
    return out


# ---------------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------------


def _resolve_district(district: str, campaign: CampaignConfig, units: AdminUnits) -> Any:
    try:
        return resolve_district(district, campaign, units)
    except DistrictError as exc:
        raise UnknownDistrictError(str(exc)) from exc


def _changed_submissions(session: Session, run: MasterListRun) -> list[int]:
    """Target-list submissions current now but not read by the run, and read by it but no longer current."""
    current = set(current_submission_ids(session, KIND))
    used = {int(i) for i in (run.inputs or [])}
    return sorted(current ^ used)


class _Person(NamedTuple):
    person_id: str
    run_id: int
    submission_id: int
    row_number: int
    district: str
    commune_code: str | None
    priority_group: int | None
    eligible: bool
    ineligible_reason: str | None


def _persons(session: Session, district: str) -> list[_Person]:
    """Every person of the district, in invitation order: ranked people by rank, then the others
    (ineligible, no rank) by person id."""
    mp = MasterPerson.__table__
    stmt = (select(*(mp.c[f] for f in _Person._fields)).where(mp.c.district == district)
            .order_by(mp.c.invite_rank.is_(None), mp.c.invite_rank, mp.c.person_id))
    return [_Person(*rec) for rec in session.execute(stmt)]


def _source_rows(session: Session, submissions: list[int]) -> Iterable[tuple[tuple[int, int], tuple[Any, ...]]]:
    """((submission_id, row_number), values of ROW_COLUMNS) of the submissions' loaded rows, in load
    order, streamed.

    Not joined to master_persons in SQL: target_list_rows is indexed by submission_id alone, so SQLite
    (without statistics) probes every row of the submission for each person, quadratic in the district's
    size (100,000 people: many minutes). One pass over the rows and a dict look-up is linear."""
    t = KIND_TABLES[KIND]
    stmt = (select(t.c.submission_id, t.c.row_number, *(t.c[c] for c in ROW_COLUMNS))
            .where(t.c.submission_id.in_(submissions)).order_by(t.c.id)
            .execution_options(yield_per=FETCH_ROWS))
    for rec in session.execute(stmt):
        yield (rec[0], rec[1]), tuple(rec[2:])


# ---------------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------------


class _Sheet:
    """The national layout on one xlsxwriter worksheet, written strictly row by row (constant memory)."""

    def __init__(self, wb: xlsxwriter.Workbook):
        self.ws = wb.add_worksheet(SHEET_NAME)
        self.f_title = wb.add_format({"bold": True, "font_size": 13})
        self.f_note = wb.add_format({"italic": True})
        head = {"bold": True, "text_wrap": True, "border": 1, "align": "center", "valign": "vcenter",
                "bg_color": "#DDEBF7", "num_format": "@"}
        self.f_head = wb.add_format(head)
        self.f_text = wb.add_format({"num_format": "@"})
        self.f_text_quoted = wb.add_format({"num_format": "@", "quote_prefix": True})
        self.f_number = wb.add_format({"num_format": "0"})
        merges = getattr(self.ws, "merge", None)
        if not isinstance(merges, list):  # pragma: no cover - guards an xlsxwriter internals change
            raise RuntimeError("xlsxwriter: worksheet.merge is not a list; cannot register merged header cells")
        self._merges: list[list[int]] = merges
        for j, col in enumerate(COLUMNS):
            fmt = self.f_number if col.cell in ("seq", "number") else self.f_text
            self.ws.set_column(j, j, col.width, fmt)

    def merge(self, r0: int, c0: int, r1: int, c1: int) -> None:
        """Register a merged range whose cells are (or will be) written in row order. xlsxwriter's
        `merge_range` writes the padding cells of every row at once, which constant-memory mode drops
        for all but the last merge of a two-row header."""
        self._merges.append([r0, c0, r1, c1])

    def write_titles(self) -> None:
        for r, line in enumerate(TITLE_LINES):
            if line:
                self.ws.write_string(r, 0, line, self.f_title if r == 0 else self.f_note)

    def write_header(self) -> None:
        top, sub = HEADER_ROWS[0] - 1, HEADER_ROWS[1] - 1  # 0-based
        j = 0
        while j < len(COLUMNS):  # row 5: single headers and group names
            col = COLUMNS[j]
            if col.group is None:
                self.ws.write_string(top, j, col.header, self.f_head)
                self.merge(top, j, sub, j)
                j += 1
                continue
            k = j
            while k + 1 < len(COLUMNS) and COLUMNS[k + 1].group == col.group:
                k += 1
            self.ws.write_string(top, j, col.group, self.f_head)
            for c in range(j + 1, k + 1):
                self.ws.write_blank(top, c, None, self.f_head)
            if k > j:
                self.merge(top, j, top, k)
            j = k + 1
        for j, col in enumerate(COLUMNS):  # row 6: sub-headers; formatted blanks under merged singles
            if col.group is None:
                self.ws.write_blank(sub, j, None, self.f_head)
            else:
                self.ws.write_string(sub, j, col.header, self.f_head)
        self.ws.set_row(top, 30)
        self.ws.set_row(sub, 45)
        self.ws.freeze_panes(sub + 1, 2)

    def write_row(self, r: int, cells: list[Any]) -> None:
        ws = self.ws
        for j, v in enumerate(cells):
            if v is None:
                continue
            if type(v) is int:
                ws.write_number(r, j, v)
            elif v:
                ws.write_string(r, j, v, self.f_text_quoted if starts_formula(v) else self.f_text)


def _properties(unit: Any, code: str, run: MasterListRun, campaign: CampaignConfig) -> dict[str, Any]:
    """Workbook properties; created = the master list's as_of, so the same list gives the same bytes."""
    return {"title": f"{kind_label(KIND)} - {unit.name}", "subject": KIND,
            "author": "campaign-readiness", "company": campaign.campaign.name,
            "comments": f"master list run {run.id}; district {code}",
            "created": run.as_of.astimezone(dt.UTC).replace(tzinfo=None)}


# ---------------------------------------------------------------------------------------------------------
# The export
# ---------------------------------------------------------------------------------------------------------


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

    everyone = _persons(session, code)
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

    places = _Places(units, campaign.province.code)
    products = _product_labels()
    min_age = campaign.campaign.min_age_years
    country_code = load_phone_rules().country_code
    keys = [c.key for c in COLUMNS]
    required = [c.key for c in COLUMNS if c.required]
    missing_required = dict.fromkeys(required, 0)
    outside = 0

    def batch(lo: int, hi: int) -> list[list[Any]]:
        """The cells of chosen[lo:hi], from one pass over the source rows."""
        nonlocal outside
        cells: list[list[Any] | None] = [None] * (hi - lo)
        for key, values in _source_rows(session, submissions):
            i = position.get(key)
            if i is None or not lo <= i < hi or cells[i - lo] is not None:
                continue  # another person's row, a later pass's, or a second sheet's row of the same number
            row = dict(zip(ROW_COLUMNS, values, strict=True))
            out = _render(chosen[i], row, places, products, min_age, country_code)
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
        sheet = _Sheet(wb)
        sheet.write_titles()
        sheet.write_header()
        r = FIRST_DATA_ROW - 1
        for lo in range(0, len(chosen), BUFFER_PERSONS):
            for cells in batch(lo, min(lo + BUFFER_PERSONS, len(chosen))):
                sheet.write_row(r, cells)
                r += 1
        wb.set_properties(_properties(unit, code, run, campaign))

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, fill, prefix=".export-")

    changed = _changed_submissions(session, run)
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
