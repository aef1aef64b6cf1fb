"""Printable invitation lists (danh sách mời tiêm) of a vaccination session plan: one .xlsx workbook per
facility, one worksheet per session, for the district's staff to print and work from on the day.

Files: `out_dir / "moi-tiem-<facility code>.xlsx"` for every facility with at least one session or one
invitation. Facility codes are untrusted text: only [A-Za-z0-9_.-] is kept in the file name; any other
character becomes "_" and the name then also gets 8 hex digits of the code's SHA-256, so that two codes
never share a file ("../x" -> "moi-tiem-.._x-<hash>.xlsx", always inside `out_dir`).

Worksheets: one per session (facility, date, part) found in `sessions`, `invitations` or `standby`, by date
then part (the order of `part_labels`), named "dd-mm <part label>" ("29-07 Sáng"; at most 31 characters,
none of []:*?/\\, unique: " (2)" on a repeat). What a sheet looks like (columns A..O, `COLUMNS`):

    title rows   the title; "Cơ sở tiêm chủng: <name> — Mã cơ sở: <code>"; "Ngày: 29/07/2021 — Buổi: Sáng
                 (07:30–11:30)"; per product of the session "Vắc xin: AstraZeneca — Lô: A1, A2 — Số lọ cần
                 mở: 5 — Số người mời: 48"; "Ê kíp trực: <team>"; with team_source "standing" the note
                 `STANDING_NOTE`; then a blank row (each line merged across A..O)
    invitations  the header row (`COLUMNS`: STT, Giờ hẹn, Mã đối tượng, Họ và tên, Ngày sinh, Giới tính,
                 Số điện thoại, Số CMT/CCCD, Xã/Phường, Nhóm ưu tiên, Mũi số, Vắc xin, Lô vắc xin, Hẹn mũi
                 2, Ký nhận / Ghi chú), then one row per invited person by slot ("HH:MM") then the order
                 given; `NO_INVITATIONS` instead when the session has nobody
    standby      after a blank row, `STANDBY_TITLE` and its table (STT = `order`; the identity columns at the
                 same places as above, STT over A..B and "Ký nhận / Ghi chú" over K..O; Số CMT/CCCD only if
                 the standby frame has an `id_number` column), or the line `NO_STANDBY`
    signatures   after a blank row, "Người lập danh sách" (B..E) and "Phụ trách cơ sở tiêm chủng" (K..O),
                 "(Ký, ghi rõ họ tên)" under each

Cells: everything is text (number format "@") but STT, Nhóm ưu tiên and Mũi số (numbers): phones in the
national form (`national_phone`: "+84912345678" -> "0912345678"), ID numbers, person ids and lots keep
their leading zeros; dates dd/mm/yyyy as text; sex as Nam/Nữ; products by their label (input_kinds.yaml
enum `vaccine_product`). Every text goes through `write_string`; one starting with a formula character
(`campaign.io.safety.starts_formula`, as in `campaign.master_list.export`) also gets Excel's quote prefix. Table cells
have borders, so the sheet prints as a table.

Printing: A4 landscape, 1 page wide (as many pages tall as needed), the invitation header row repeated
on every page (it also tops the standby rows of a later page), panes frozen below it, "Trang &P/&N" in
the page footer, centred horizontally.

Writing: `campaign.io.xlsx.write_atomically` with `SAFE_OPTIONS` (xlsxwriter constant-memory mode: each
sheet is written strictly row by row, one sheet after the other; merged cells are single-row ranges
registered beside their written cells as `campaign.master_list.export` does); mode 0600, a file is only replaced
once complete. Personal data goes only into the workbooks: the log has counts and facility codes.

Core code: no Prefect, no database. A missing column or a part not in `part_labels` raises ValueError.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from campaign.config_kinds import load_input_kinds
from campaign.io.safety import starts_formula
from campaign.io.xlsx import write_atomically
from campaign.master_list.export.rules import national_phone
from campaign.vocabulary import level_label

__all__ = [
    "COLUMNS",
    "DEFAULT_TITLE",
    "NO_INVITATIONS",
    "NO_STANDBY",
    "SIGNATURES",
    "STANDBY_TITLE",
    "STANDING_NOTE",
    "file_name",
    "sheet_name",
    "write_invitation_lists",
]

log = logging.getLogger(__name__)

DEFAULT_TITLE = "DANH SÁCH MỜI TIÊM VẮC XIN PHÒNG COVID-19"
STANDING_NOTE = "Ê kíp theo danh sách gần nhất, cần xác nhận lại"
NO_TEAM = "chưa có danh sách"
NO_INVITATIONS = "Không có người được mời trong buổi này"
STANDBY_TITLE = "DANH SÁCH DỰ PHÒNG"
NO_STANDBY = "Không có danh sách dự phòng"
SIGNATURES = ("Người lập danh sách", "Phụ trách cơ sở tiêm chủng")
SIGN_HINT = "(Ký, ghi rõ họ tên)"
PAGE_FOOTER = "&CTrang &P/&N"
FILE_PREFIX = "moi-tiem-"

SEX_LABELS = {"male": "Nam", "female": "Nữ"}
A4 = 9

SESSION_COLUMNS = ("facility_code", "district", "date", "part", "product", "lots", "vials", "invited", "team",
                   "team_source")
INVITATION_COLUMNS = ("facility_code", "date", "part", "slot", "person_id", "full_name", "birth_date", "sex",
                      "phone", "id_number", "commune_name", "priority_group", "dose", "product", "lot",
                      "dose2_due")
STANDBY_COLUMNS = ("facility_code", "date", "part", "order", "person_id", "full_name", "birth_date", "sex",
                   "phone", "commune_name", "priority_group")


@dataclass(frozen=True)
class Column:
    """One column of the invitation table: the value it shows (`key`), its header and its look."""

    key: str
    header: str
    width: float
    number: bool = False
    center: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("stt", "STT", 5, number=True, center=True),
    Column("slot", "Giờ hẹn", 7, center=True),
    Column("person_id", "Mã đối tượng", 12),
    Column("full_name", "Họ và tên", 24),
    Column("birth_date", "Ngày sinh", 11, center=True),
    Column("sex", "Giới tính", 7, center=True),
    Column("phone", "Số điện thoại", 12),
    Column("id_number", "Số CMT/CCCD", 14),
    Column("commune_name", "Xã/Phường", 16),
    Column("priority_group", "Nhóm ưu tiên", 8, number=True, center=True),
    Column("dose", "Mũi số", 5, number=True, center=True),
    Column("product", "Vắc xin", 13),
    Column("lot", "Lô vắc xin", 10),
    Column("dose2_due", "Hẹn mũi 2", 12, center=True),
    Column("sign", "Ký nhận / Ghi chú", 18),
)
LAST_COL = len(COLUMNS) - 1
_COL = {c.key: j for j, c in enumerate(COLUMNS)}
_TOTAL_WIDTH = sum(c.width for c in COLUMNS)

# The standby table over the same columns: (first, last column, key); a key "" is an empty cell.
STANDBY_LAYOUT: tuple[tuple[int, int, str], ...] = (
    (0, 1, "stt"),
    *((_COL[k], _COL[k], k) for k in ("person_id", "full_name", "birth_date", "sex", "phone", "id_number",
                                      "commune_name", "priority_group")),
    (_COL["dose"], LAST_COL, "sign"),
)
SIGNATURE_SPANS = ((1, 4), (_COL["dose"], LAST_COL))

_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")
_FILE_BAD = re.compile(r"[^A-Za-z0-9_.-]")


# ---------------------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------------------


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or other non-scalar: not "missing"
        return False


def _text(value: Any) -> str | None:
    if _missing(value):
        return None
    text = str(value).strip()
    return text or None


def _int(value: Any) -> int | None:
    if _missing(value) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if math.isfinite(number) and number == int(number) else None


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):  # pd.Timestamp too
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value.strip()[:10])
    raise ValueError(f"not a date: {value!r}")


def _dmy(day: dt.date) -> str:
    return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


def _slot_key(slot: str | None) -> tuple[int, int, str]:
    """"7:30" before "10:00"; an unreadable or missing slot after the others."""
    if slot:
        hours, _, minutes = slot.partition(":")
        if hours.strip().isdigit() and minutes.strip().isdigit():
            return int(hours), int(minutes), ""
    return 99, 99, slot or ""


def _product_labels() -> dict[str, str]:
    return {key: v.label for key, v in load_input_kinds().enums["vaccine_product"].items()}


def file_name(facility_code: str) -> str:
    """The workbook's file name for a facility code: never a path, never shared by two codes."""
    code = str(facility_code).strip()
    if not code:
        raise ValueError("an empty facility code has no invitation list file")
    safe = _FILE_BAD.sub("_", code)
    if safe != code:
        safe += "-" + hashlib.sha256(code.encode("utf-8")).hexdigest()[:8]
    return f"{FILE_PREFIX}{safe}.xlsx"


def sheet_name(day: dt.date, part_label: str, taken: set[str] | None = None) -> str:
    """"29-07 Sáng": a legal worksheet name (≤ 31 characters, none of []:*?/\\, not starting or ending
    with an apostrophe), unique (case-insensitively) among `taken`, which it is added to."""
    taken = taken if taken is not None else set()
    base = f"{day.day:02d}-{day.month:02d} {_SHEET_BAD.sub('', part_label)}".strip().strip("'").strip()
    base = base[:31].rstrip("'").rstrip()
    name, n = base, 1
    while name.casefold() in taken:
        n += 1
        suffix = f" ({n})"
        name = base[:31 - len(suffix)].rstrip("'") + suffix
    taken.add(name.casefold())
    return name


# ---------------------------------------------------------------------------------------------------------
# Grouping the frames by facility and session
# ---------------------------------------------------------------------------------------------------------


@dataclass
class _Session:
    day: dt.date
    part: str
    products: list[dict[str, Any]] = field(default_factory=list)
    invitations: list[dict[str, Any]] = field(default_factory=list)
    standby: list[dict[str, Any]] = field(default_factory=list)


def _records(frame: pd.DataFrame, required: Sequence[str], optional: Sequence[str] = (),
             what: str = "") -> Iterable[dict[str, Any]]:
    if frame is None or len(frame) == 0:
        return []
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {', '.join(missing)}")
    columns = [*required, *(c for c in optional if c in frame.columns)]
    return frame[columns].to_dict("records")


def _group(sessions: pd.DataFrame, invitations: pd.DataFrame, standby: pd.DataFrame,
           part_order: dict[str, int]) -> dict[str, dict[tuple[dt.date, str], _Session]]:
    facilities: dict[str, dict[tuple[dt.date, str], _Session]] = {}
    standby_only: dict[str, dict[tuple[dt.date, str], _Session]] = {}

    def session_of(target: dict[str, dict[tuple[dt.date, str], _Session]], rec: dict[str, Any],
                   what: str) -> _Session:
        code = _text(rec["facility_code"])
        if code is None:
            raise ValueError(f"{what}: a row without facility_code")
        part = _text(rec["part"]) or ""
        if part not in part_order:
            raise ValueError(f"{what}: part {part!r} of facility {code} is not one of {list(part_order)}")
        key = (_date(rec["date"]), part)
        by_key = target.setdefault(code, {})
        if key not in by_key:
            by_key[key] = _Session(*key)
        return by_key[key]

    for rec in _records(sessions, SESSION_COLUMNS, what="sessions"):
        session_of(facilities, rec, "sessions").products.append(rec)
    for rec in _records(invitations, INVITATION_COLUMNS, what="invitations"):
        session_of(facilities, rec, "invitations").invitations.append(rec)
    for rec in _records(standby, STANDBY_COLUMNS, ("id_number",), what="standby"):
        code = _text(rec["facility_code"])
        target = facilities if code in facilities else standby_only
        session_of(target, rec, "standby").standby.append(rec)
    # A facility with standby people only gets no file (it has nothing planned): counted, not written.
    dropped = sum(len(s.standby) for by_key in standby_only.values() for s in by_key.values())
    if dropped:
        log.warning("invitation lists: %d standby rows of %d facilities without sessions or invitations "
                    "were left out", dropped, len(standby_only))
    return facilities


# ---------------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------------


_BORDER = {"border": 1, "valign": "vcenter", "text_wrap": True}
_FORMATS: dict[str, dict[str, Any]] = {
    "title": {"bold": True, "font_size": 14, "align": "center", "valign": "vcenter"},
    "subtitle": {"bold": True, "font_size": 12, "align": "center", "valign": "vcenter"},
    "line": {"valign": "vcenter", "text_wrap": True},
    "note": {"italic": True, "bold": True, "font_color": "#C00000", "valign": "vcenter", "text_wrap": True},
    "section": {"bold": True, "font_size": 12, "valign": "vcenter"},
    "plain": {"italic": True, "valign": "vcenter"},
    "head": {"bold": True, "text_wrap": True, "border": 1, "align": "center", "valign": "vcenter",
             "bg_color": "#DDEBF7", "num_format": "@"},
    "text": {**_BORDER, "num_format": "@"},
    "text_center": {**_BORDER, "num_format": "@", "align": "center"},
    "number": {**_BORDER, "num_format": "0", "align": "center"},
    "sign": {"bold": True, "align": "center", "valign": "vcenter"},
    "sign_hint": {"italic": True, "align": "center", "valign": "vcenter"},
}


class _Formats:
    """The workbook's formats by name, with a quote-prefixed twin for texts that start like a formula."""

    def __init__(self, wb: xlsxwriter.Workbook):
        self.wb = wb
        self._made: dict[tuple[str, bool], Format] = {}

    def get(self, name: str, quoted: bool = False) -> Format:
        key = (name, quoted)
        if key not in self._made:
            props = dict(_FORMATS[name])
            if quoted:
                props["quote_prefix"] = True
            self._made[key] = self.wb.add_format(props)
        return self._made[key]


class _Sheet:
    """One session's worksheet, written strictly row by row (constant memory)."""

    def __init__(self, wb: xlsxwriter.Workbook, formats: _Formats, name: str):
        self.ws: Worksheet = wb.add_worksheet(name)
        self.f = formats
        self.row = 0
        merges = getattr(self.ws, "merge", None)
        if not isinstance(merges, list):  # pragma: no cover - guards an xlsxwriter internals change
            raise RuntimeError("xlsxwriter: worksheet.merge is not a list; cannot register merged cells")
        self._merges: list[list[int]] = merges
        for j, col in enumerate(COLUMNS):
            self.ws.set_column(j, j, col.width)

    def text(self, col: int, value: str | None, fmt: str) -> None:
        if value:
            self.ws.write_string(self.row, col, value, self.f.get(fmt, starts_formula(value)))
        else:
            self.ws.write_blank(self.row, col, None, self.f.get(fmt))

    def cell(self, col: int, value: Any, fmt: str) -> None:
        """A number (in the "number" format) or a text (in `fmt`) in the current row."""
        if type(value) is int:
            self.ws.write_number(self.row, col, value, self.f.get("number"))
        else:
            self.text(col, value, fmt)

    def span(self, c0: int, c1: int, value: Any, fmt: str) -> None:
        """A cell over columns c0..c1 of the current row: written, padded with formatted blanks, then
        registered as merged (`merge_range` would not write the text with write_string)."""
        self.cell(c0, value, fmt)
        pad = self.f.get("number" if type(value) is int else fmt)
        for c in range(c0 + 1, c1 + 1):
            self.ws.write_blank(self.row, c, None, pad)
        if c1 > c0:
            self._merges.append([self.row, c0, self.row, c1])

    def line(self, value: str, fmt: str = "line", height: float | None = None) -> None:
        """A text line across the whole table width; a long one gets the height of its wrapped lines
        (Excel does not fit the height of merged cells)."""
        self.span(0, LAST_COL, value, fmt)
        lines = max(1, math.ceil(len(value) * 1.1 / _TOTAL_WIDTH))
        if height or lines > 1:
            self.ws.set_row(self.row, height or 15 * lines)
        self.next()

    def next(self, rows: int = 1) -> None:
        self.row += rows


def _hours(part: str, part_labels: dict[str, str], part_hours: dict[str, tuple[str, str]]) -> str:
    label = part_labels.get(part, part)
    hours = part_hours.get(part)
    return f"{label} ({hours[0]}–{hours[1]})" if hours else label


def _invitation_cells(rec: dict[str, Any], stt: int, products: dict[str, str]) -> list[Any]:
    product = _text(rec.get("product"))
    values: dict[str, Any] = {
        "stt": stt,
        "slot": _text(rec.get("slot")),
        "person_id": _text(rec.get("person_id")),
        "full_name": _text(rec.get("full_name")),
        "birth_date": _birth(rec.get("birth_date")),
        "sex": SEX_LABELS.get(_text(rec.get("sex")) or "", _text(rec.get("sex"))),
        "phone": national_phone(_text(rec.get("phone"))),
        "id_number": _text(rec.get("id_number")),
        "commune_name": _text(rec.get("commune_name")),
        "priority_group": _int(rec.get("priority_group")),
        "dose": _int(rec.get("dose")),
        "product": products.get(product, product) if product else None,
        "lot": _text(rec.get("lot")),
        "dose2_due": _text(rec.get("dose2_due")),
        "sign": None,
    }
    return [values[c.key] for c in COLUMNS]


def _birth(value: Any) -> str | None:
    if isinstance(value, dt.date):
        return _dmy(_date(value))
    return _text(value)


def _write_session(sheet: _Sheet, s: _Session, *, code: str, facility_name: str | None, title: str,
                   part_labels: dict[str, str], part_hours: dict[str, tuple[str, str]],
                   products: dict[str, str]) -> None:
    # Title rows.
    sheet.line(title, "title", height=22)
    place = (f"{level_label('facility', capitalized=True)}: {facility_name} — Mã cơ sở: {code}" if facility_name
             else f"Mã cơ sở: {code}")
    sheet.line(place, "subtitle", height=18)
    sheet.line(f"Ngày: {_dmy(s.day)} — Buổi: {_hours(s.part, part_labels, part_hours)}")
    for rec in s.products:
        product = _text(rec["product"])
        label = products.get(product, product) if product else "(chưa rõ)"
        vials, invited = _int(rec["vials"]), _int(rec["invited"])
        sheet.line(f"Vắc xin: {label} — Lô: {_text(rec['lots']) or '(chưa có)'} — Số lọ cần mở: "
                   f"{vials if vials is not None else '?'} — Số người mời: {invited if invited is not None else '?'}")
    if s.products:
        teams = list(dict.fromkeys(t for t in (_text(r["team"]) for r in s.products) if t))
        sheet.line(f"Ê kíp trực: {'; '.join(teams) if teams else NO_TEAM}")
        if any(_text(r["team_source"]) == "standing" for r in s.products):
            sheet.line(STANDING_NOTE, "note")
    sheet.next()

    # The invitation table.
    header_row = sheet.row
    for j, col in enumerate(COLUMNS):
        sheet.text(j, col.header, "head")
    sheet.ws.set_row(header_row, 32)
    sheet.next()
    invited = sorted(s.invitations, key=lambda r: _slot_key(_text(r.get("slot"))))  # stable: given order
    if not invited:
        sheet.line(NO_INVITATIONS, "plain")
    for i, rec in enumerate(invited, start=1):
        for j, (col, value) in enumerate(zip(COLUMNS, _invitation_cells(rec, i, products), strict=True)):
            sheet.cell(j, value, "text_center" if col.center else "text")
        sheet.next()
    sheet.next()

    # The standby table.
    sheet.line(STANDBY_TITLE, "section")
    standby = sorted(s.standby, key=lambda r: (_int(r.get("order")) is None, _int(r.get("order")) or 0))
    if not standby:
        sheet.line(NO_STANDBY, "plain")
    else:
        headers = {c.key: c.header for c in COLUMNS}
        for c0, c1, key in STANDBY_LAYOUT:
            sheet.span(c0, c1, headers[key], "head")
        sheet.ws.set_row(sheet.row, 32)
        sheet.next()
        for i, rec in enumerate(standby, start=1):
            order = _int(rec.get("order"))
            values = _invitation_cells(rec, order if order is not None else i, products)
            for c0, c1, key in STANDBY_LAYOUT:
                sheet.span(c0, c1, values[_COL[key]], "text_center" if COLUMNS[_COL[key]].center else "text")
            sheet.next()
    sheet.next()

    # Signatures.
    for (c0, c1), who in zip(SIGNATURE_SPANS, SIGNATURES, strict=True):
        sheet.span(c0, c1, who, "sign")
    sheet.next()
    for c0, c1 in SIGNATURE_SPANS:
        sheet.span(c0, c1, SIGN_HINT, "sign_hint")
    sheet.next()

    ws = sheet.ws
    ws.freeze_panes(header_row + 1, 0)
    ws.repeat_rows(header_row)
    ws.set_landscape()
    ws.set_paper(A4)
    ws.fit_to_pages(1, 0)
    ws.center_horizontally()
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    ws.set_footer(PAGE_FOOTER)


def write_invitation_lists(out_dir: Path, sessions: pd.DataFrame, invitations: pd.DataFrame,
                           standby: pd.DataFrame, *, facility_names: dict[str, str],
                           part_labels: dict[str, str], part_hours: dict[str, tuple[str, str]],
                           title: str = DEFAULT_TITLE) -> list[Path]:
    """Write one invitation-list workbook per facility with a session or an invitation into `out_dir`
    (created if needed; see the module doc for the layout) and return their paths, sorted. Each file is
    replaced only by a complete one. Raises ValueError on a missing column, an empty facility code or a
    part that is not a key of `part_labels`."""
    out_dir = Path(out_dir)
    part_order = {part: i for i, part in enumerate(part_labels)}
    facilities = _group(sessions, invitations, standby, part_order)
    if not facilities:
        return []
    products = _product_labels()

    targets: dict[str, Path] = {}
    for code in facilities:
        path = out_dir / file_name(code)
        if path.parent != out_dir or path in targets.values():  # a "safe" code equal to a hashed one
            raise ValueError(f"facility code {code!r} gives an unsafe or shared file name {path.name!r}")
        targets[code] = path
    out_dir.mkdir(parents=True, exist_ok=True)

    written: list[Path] = []
    for code, by_key in facilities.items():
        ordered = sorted(by_key.values(), key=lambda s: (s.day, part_order[s.part]))
        facility_name = _text(facility_names.get(code))

        def fill(wb: xlsxwriter.Workbook, ordered: list[_Session] = ordered, code: str = code,
                 facility_name: str | None = facility_name) -> None:
            formats = _Formats(wb)
            taken: set[str] = set()
            for s in ordered:
                sheet = _Sheet(wb, formats, sheet_name(s.day, part_labels.get(s.part, s.part), taken))
                _write_session(sheet, s, code=code, facility_name=facility_name, title=title,
                               part_labels=part_labels, part_hours=part_hours, products=products)
            wb.set_properties({"title": f"Danh sách mời tiêm - {facility_name or code}",
                               "subject": "invitation_list", "author": "campaign-readiness",
                               "comments": f"facility {code}"})

        written.append(write_atomically(targets[code], fill, prefix=".invitations-"))
        log.info("invitation list of facility %s: %d sessions, %d invitations", code, len(ordered),
                 sum(len(s.invitations) for s in ordered))
    return sorted(written)
