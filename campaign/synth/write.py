"""Files of the synthetic campaign: every district's uploads in varied, realistic layouts, the planted
defects, the truth about duplicate people, the upload schedule, and `manifest.json` beside them.

Layouts (see docs/synthetic-data.md): xlsx with agency/title/instruction rows, `STT`/`#` columns,
`(*)` and noted headers, the national platform's two-row subject-list header, Nam/Nữ mark columns,
blank rows, repeated headers, totals and signature rows, an instruction sheet; CSV in UTF-8 with or
without BOM and in Windows-1258 (decomposed diacritics). Target lists also come with the headings real
clerks type (`CLERK_HEADINGS`: `NAM/NỮ`, `NS`, `GT`, `ĐT`, `Số CCCD/CMND`, split names `Họ và tên đệm` +
`Tên`, unknown columns holding data), and every file's manifest entry says how each heading must be read. Dates as date cells, text or serial numbers;
IDs and phones as numbers in some files. xlsx is written with xlsxwriter in constant-memory mode and a
fixed creation date, so the same seed gives byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from campaign.config import CampaignConfig, load_campaign
from campaign.config_kinds import ColumnSpec, KindSpec, load_input_kinds
from campaign.domain.admin_units import get_admin_units
from campaign.domain.text import fold
from campaign.synth import defects as dfx
from campaign.synth import generate as gen
from campaign.synth.names import map_distinct, strip_diacritics

TZ = gen.TZ
FIXED_CREATED = dt.datetime(2021, 7, 20, 8, 0, 0)
SNAPSHOT_KINDS = ["facilities", "infrastructure", "training", "communication", "staff", "target_list", "vaccine_stock"]
EVENT_KINDS = ["vaccinations", "aefi", "backfill"]
ALL_KINDS = SNAPSHOT_KINDS + EVENT_KINDS


# ---------------------------------------------------------------------------------------------------------
# Layouts
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    name: str
    fmt: str  # xlsx | csv
    encoding: str | None = None  # csv: utf-8-sig | utf-8 | cp1258
    title: str | None = None  # official | short | national | None
    header_style: str = "template"  # template | plain | noted | folded | folded_lower | upper | english | national
    stt: str | None = None  # "STT" | "#" | None
    numbering_row: bool = False
    blank_rows: int = 0
    header_repeat: bool = False
    totals: bool = False
    footer: bool = False
    instruction_sheet: bool = False
    date_style: str = "date_cell"  # date_cell | text | serial (xlsx); CSV dates are always text
    numeric_ids: bool = False
    numeric_phones: bool = False
    sex_style: str = "label"  # label | code | marks
    commune_style: str = "full"  # full | short | lower
    ascii_text: bool = False
    drop_optional: float = 0.0
    extra_column: bool = False
    sheet: str = "Sheet1"
    line_end: str = "\r\n"
    headings: str | None = None  # header_style "clerk": a key of CLERK_HEADINGS (the columns, in order)
    priority_style: str = "code"  # code: 9 | nhom: "Nhóm 9"

    @property
    def effective_date_style(self) -> str:
        return "text" if self.fmt == "csv" else self.date_style


# Target-list headings as clerks really type them (header_style "clerk"): each set is the file's columns
# in order, as (what the column holds, heading). What it holds: a target-list column, "stt" (numbering),
# "name_family" / "name_given" (the name split in two: "Nguyễn Văn" | "An", read back as full_name), or
# "extra:<fill>" (a column no field means, holding data: ethnic | allergy | import_result).
CLERK_HEADINGS: dict[str, tuple[tuple[str, str], ...]] = {
    # a commune's form typed in capitals, the ID column for any paper, the phone "to contact"
    "caps": (("stt", "STT"), ("full_name", "HỌ VÀ TÊN"), ("birth_date", "NGÀY SINH"), ("sex", "NAM/NỮ"),
             ("id_number", "SỐ CMND/CCCD/HỘ CHIẾU"), ("phone", "ĐIỆN THOẠI LIÊN HỆ"),
             ("priority_group", "ĐỐI TƯỢNG ƯU TIÊN"), ("commune_name", "XÃ/PHƯỜNG/THỊ TRẤN")),
    # abbreviations (NS, GT, ĐT holding phones), columns in another order, the ethnicity kept
    "short": (("stt", "TT"), ("commune_name", "Phường/Xã"), ("full_name", "Họ và tên người được tiêm"),
              ("sex", "GT"), ("birth_date", "NS"), ("priority_group", "Nhóm"), ("phone", "ĐT"),
              ("id_number", "Số CCCD/CMND"), ("extra:ethnic", "Dân tộc")),
    # a health station's own sheet: no numbering, where people work and live, the allergy history and the
    # national platform's import result pasted back
    "mobile": (("full_name", "Họ tên"), ("birth_date", "Ngày tháng năm sinh"), ("sex", "Giới"),
               ("phone", "Số điện thoại di động"), ("priority_group", "Đối tượng"), ("workplace", "Nơi công tác"),
               ("commune_name", "Xã"), ("address_detail", "Thôn/Tổ"), ("extra:allergy", "Tiền sử dị ứng"),
               ("extra:import_result", "Kết quả import")),
    # the name in two columns
    "split": (("stt", "STT"), ("name_family", "Họ và tên đệm"), ("name_given", "Tên"), ("birth_date", "Ngày sinh"),
              ("sex", "Giới tính"), ("phone", "SĐT"), ("id_number", "CCCD"), ("priority_group", "Nhóm ưu tiên"),
              ("commune_name", "Xã/Phường"), ("address_detail", "Địa chỉ")),
}
# What the unknown columns hold (never anything a field's content detection could take for its own:
# no digits, no Nam/Nữ, no commune names).
EXTRA_VALUES = {
    "allergy": ("Không", "Không", "Không", "Không", "Hải sản", "Thuốc kháng sinh", "Phấn hoa", "Chưa rõ", ""),
    "import_result": ("Thành công", "Thành công", "Thành công", "Lỗi", "Chưa nhập", ""),
}

LAYOUTS: dict[str, Layout] = {lay.name: lay for lay in [
    Layout("xlsx_official", "xlsx", title="official", header_style="template", stt="STT", numbering_row=True,
           blank_rows=2, totals=True, footer=True, date_style="date_cell", sheet="Danh sách"),
    Layout("xlsx_national", "xlsx", title="national", header_style="national", stt="#", date_style="text",
           sex_style="code", commune_style="short", extra_column=True, sheet="Sheet1"),
    Layout("xlsx_noted", "xlsx", title="short", header_style="noted", stt="STT", blank_rows=3, totals=True,
           instruction_sheet=True, date_style="serial", numeric_phones=True, drop_optional=0.3,
           extra_column=True, sheet="DS"),
    Layout("xlsx_plain", "xlsx", header_style="folded", date_style="text", numeric_ids=True, numeric_phones=True,
           sex_style="code", commune_style="short", drop_optional=0.4, sheet="Sheet1"),
    Layout("xlsx_english", "xlsx", header_style="english", stt="#", date_style="date_cell", header_repeat=True,
           drop_optional=0.2, sheet="Data"),
    Layout("xlsx_upper", "xlsx", title="official", header_style="upper", stt="STT", totals=True, footer=True,
           date_style="text", numeric_phones=True, commune_style="lower", sheet="Sheet1"),
    Layout("xlsx_sexmarks", "xlsx", title="short", header_style="plain", stt="STT", sex_style="marks",
           date_style="text", totals=True, commune_style="lower", sheet="Danh sach"),
    Layout("csv_bom", "csv", encoding="utf-8-sig", header_style="template", stt="STT", blank_rows=2, totals=True),
    Layout("csv_utf8", "csv", encoding="utf-8", header_style="folded_lower", numeric_phones=True, sex_style="code",
           commune_style="short", drop_optional=0.3, line_end="\n"),
    Layout("csv_1258", "csv", encoding="cp1258", header_style="plain", stt="STT", blank_rows=2, header_repeat=True),
    Layout("csv_ascii", "csv", encoding="utf-8", header_style="folded", ascii_text=True, numeric_ids=True,
           drop_optional=0.3, line_end="\n"),
    # clerks' headings (target lists only), each set as xlsx, CSV UTF-8 and CSV Windows-1258
    Layout("xlsx_clerk_caps", "xlsx", title="official", header_style="clerk", headings="caps", stt="STT",
           totals=True, footer=True, date_style="date_cell", numeric_phones=True, sheet="Danh sách"),
    Layout("csv_clerk_caps", "csv", encoding="utf-8-sig", header_style="clerk", headings="caps", stt="STT",
           blank_rows=1),
    Layout("csv1258_clerk_caps", "csv", encoding="cp1258", header_style="clerk", headings="caps", stt="STT",
           totals=True),
    Layout("xlsx_clerk_short", "xlsx", title="short", header_style="clerk", headings="short", stt="TT",
           blank_rows=2, date_style="text", commune_style="short", sheet="DS"),
    Layout("csv_clerk_short", "csv", encoding="utf-8", header_style="clerk", headings="short", stt="TT",
           commune_style="short", line_end="\n"),
    Layout("csv1258_clerk_short", "csv", encoding="cp1258", header_style="clerk", headings="short", stt="TT",
           commune_style="short", blank_rows=1),
    Layout("xlsx_clerk_mobile", "xlsx", header_style="clerk", headings="mobile", date_style="date_cell",
           commune_style="lower", sheet="Sheet1"),
    Layout("csv_clerk_mobile", "csv", encoding="utf-8-sig", header_style="clerk", headings="mobile",
           commune_style="lower", priority_style="nhom"),
    Layout("csv1258_clerk_mobile", "csv", encoding="cp1258", header_style="clerk", headings="mobile",
           commune_style="lower", priority_style="nhom"),
    Layout("xlsx_clerk_split", "xlsx", title="short", header_style="clerk", headings="split", stt="STT",
           date_style="text", totals=True, sheet="Danh sach"),
    Layout("csv_clerk_split", "csv", encoding="utf-8-sig", header_style="clerk", headings="split", stt="STT"),
    Layout("csv1258_clerk_split", "csv", encoding="cp1258", header_style="clerk", headings="split", stt="STT"),
]}
CLERK_LAYOUTS = [name for name, lay in LAYOUTS.items() if lay.header_style == "clerk"]

# One target-list layout per district (shuffled): every variant at least once, the national one often,
# four districts with clerks' headings (the split-name sets are for the heading tests: one name column
# per file keeps the demo's per-cell accounting simple).
TARGET_LIST_LAYOUTS = ["xlsx_national", "xlsx_national", "xlsx_national", "xlsx_official", "xlsx_official",
                       "xlsx_noted", "xlsx_clerk_mobile", "xlsx_plain", "xlsx_english", "xlsx_sexmarks", "xlsx_upper",
                       "csv_bom", "csv_clerk_short", "csv_utf8", "csv1258_clerk_caps", "csv_1258", "xlsx_clerk_caps"]
OTHER_LAYOUTS = ["xlsx_official", "xlsx_noted", "xlsx_plain", "xlsx_english", "xlsx_upper", "csv_bom", "csv_utf8",
                 "csv_1258", "csv_ascii"]
SEX_KINDS = {"vaccinations", "aefi", "backfill"}

NOTES = {
    "birth_date": "dd/mm/yyyy", "phone": "10 số", "priority_group": "từ 1 đến 16", "id_number": "8, 9 hoặc 12 số",
    "insurance_number": "10 hoặc 15 ký tự", "vaccination_tables": "bàn", "training_date": "ngày/tháng/năm",
    "completed": "Có/Không", "session_date": "dd/mm/yyyy", "session_part": "Sáng/Chiều", "expiry_date": "dd/mm/yyyy",
    "doses_per_vial": "liều", "latitude": "độ thập phân", "longitude": "độ thập phân", "internet_available": "Có/Không",
    "phone_in_charge": "di động", "full_name": "viết có dấu", "vaccinated_at": "giờ:phút",
}
NATIONAL_GROUPS = {
    "province_name": "Nơi ở tạm trú (hiện tại)", "province_code": "Nơi ở tạm trú (hiện tại)",
    "district_name": "Nơi ở tạm trú (hiện tại)", "district_code": "Nơi ở tạm trú (hiện tại)",
    "commune_name": "Nơi ở tạm trú (hiện tại)", "commune_code": "Nơi ở tạm trú (hiện tại)",
    "address_detail": "Nơi ở tạm trú (hiện tại)",
    "dose1_product": "Mũi 1", "dose1_date": "Mũi 1", "dose1_lot": "Mũi 1", "dose1_site": "Mũi 1",
    "dose2_product": "Mũi 2", "dose2_date": "Mũi 2", "dose2_lot": "Mũi 2", "dose2_site": "Mũi 2",
}
NATIONAL_HEADERS = {
    "full_name": "Họ và tên (*)", "birth_date": "Ngày sinh dạng dd/mm/yyyy (*)", "sex": "Giới tính (*)\n(0: nam, 1: nữ)",
    "priority_group": "Mã nhóm đối tượng ưu tiên (*)", "workplace": "Đơn vị công tác",
    "phone": "Số điện thoại (*)\n(ít nhất 10 số)", "id_number": "Số CMT/CCCD\n(8/9/12 số)",
    "insurance_number": "Số thẻ bảo hiểm y tế\n(10/15 ký tự)", "province_name": "Tỉnh/Thành phố", "province_code": "Mã Tỉnh (*)",
    "district_name": "Quận/Huyện", "district_code": "Mã Quận/Huyện (*)", "commune_name": "Xã/Phường",
    "commune_code": "Mã Xã/Phường (*)", "address_detail": "Địa chỉ chi tiết", "dose1_product": "Tên vắc xin",
    "dose1_date": "Ngày tiêm", "dose1_lot": "Lô vắc xin", "dose1_site": "Địa điểm tiêm", "dose2_product": "Tên vắc xin",
    "dose2_date": "Ngày tiêm", "dose2_lot": "Lô vắc xin", "dose2_site": "Địa điểm tiêm", "note": "Ghi chú",
}
# Columns a district never leaves out (keeps commune codes where names can collide).
KEEP = {"commune_code"}


@dataclass
class OutCol:
    name: str | None  # canonical column, or None for STT / extra columns
    header: str
    group: str | None = None
    role: str = "data"  # data | stt | extra | sex_male | sex_female | name_family | name_given
    fill: str | None = None  # extra columns: what they hold (ethnic | allergy | import_result; None: empty)

    @property
    def heading(self) -> str:
        """The heading as a reader shows it back: one line, single spaces, NFC; "group - child" under a
        two-row header."""
        def clean(s: str) -> str:
            return " ".join(unicodedata.normalize("NFC", s).split())
        return f"{clean(self.group)} - {clean(self.header)}" if self.group and self.group != self.header \
            else clean(self.header)


def _break(text: str) -> str:
    """A line break in the middle of a long header, as people press Alt+Enter."""
    if len(text) < 14 or " " not in text:
        return text
    mid = len(text) // 2
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    cut = min(spaces, key=lambda i: abs(i - mid))
    return text[:cut] + "\n" + text[cut + 1:]


def header_text(col: ColumnSpec, style: str, layout: Layout) -> str:
    if style == "template":
        return col.template_header
    if style == "plain":
        return col.header
    if style == "noted":
        note = NOTES.get(col.name)
        if col.name == "sex":
            note = "0: nam, 1: nữ" if layout.sex_style == "code" else "Nam/Nữ"
        text = _break(col.header) if note is None or note in col.header else f"{col.header}\n({note})"
        return text + (" (*)" if col.required else "")
    if style == "folded":
        return strip_diacritics(col.header)
    if style == "folded_lower":
        return strip_diacritics(col.header).lower()
    if style == "upper":
        return (col.aliases[0] if col.aliases else col.header).upper()
    if style == "english":
        ascii_aliases = [a for a in col.aliases if a.isascii()]
        return ascii_aliases[-1] if ascii_aliases else strip_diacritics(col.header)
    if style == "national":
        return NATIONAL_HEADERS.get(col.name, col.template_header)
    if style == "clerk":  # a field the set leaves out (or splits in two): the plain header
        return next((h for what, h in CLERK_HEADINGS[layout.headings] if what == col.name), col.header)
    raise ValueError(style)


def _clerk_columns(spec: KindSpec, layout: Layout) -> list[OutCol]:
    if spec.name != "target_list":
        raise ValueError(f"layout {layout.name} is for target lists only, not {spec.name}")
    cols: list[OutCol] = []
    for what, heading in CLERK_HEADINGS[layout.headings]:
        if what == "stt":
            cols.append(OutCol(None, heading, role="stt"))
        elif what.startswith("extra:"):
            cols.append(OutCol(None, heading, role="extra", fill=what.removeprefix("extra:")))
        elif what in ("name_family", "name_given"):
            cols.append(OutCol("full_name", heading, role=what))
        else:
            spec.column(what)  # a KeyError names a set that lost its column
            cols.append(OutCol(what, heading))
    return cols


def choose_columns(spec: KindSpec, layout: Layout, rng: np.random.Generator) -> list[OutCol]:
    if layout.header_style == "clerk":
        return _clerk_columns(spec, layout)
    cols: list[OutCol] = []
    if layout.stt:
        cols.append(OutCol(None, layout.stt, role="stt"))
    for c in spec.columns:
        if not c.required and c.name not in KEEP and layout.header_style != "national" \
                and rng.random() < layout.drop_optional:
            continue
        if c.name == "sex" and layout.sex_style == "marks":
            group = "Năm sinh" if "birth_date" in {x.name for x in spec.columns} else None
            cols.append(OutCol("sex", "Nam", group=group, role="sex_male"))
            cols.append(OutCol("sex", "Nữ", group=group, role="sex_female"))
            continue
        if c.name == "birth_date" and layout.sex_style == "marks":
            continue  # the birth date sits under Nam / Nữ
        group = NATIONAL_GROUPS.get(c.name) if layout.header_style == "national" else None
        cols.append(OutCol(c.name, header_text(c, layout.header_style, layout), group=group))
    if layout.extra_column:
        national = layout.header_style == "national"
        cols.append(OutCol(None, "Kết quả import" if national else "Dân tộc", role="extra",
                           fill=None if national else "ethnic"))
    if layout.sex_style == "marks":  # sex columns right after the name, as the classic form has them
        marks = [c for c in cols if c.role in ("sex_male", "sex_female")]
        rest = [c for c in cols if c.role not in ("sex_male", "sex_female")]
        at = next((i for i, c in enumerate(rest) if c.name == "full_name"), 0) + 1
        cols = rest[:at] + marks + rest[at:]
    return cols


# ---------------------------------------------------------------------------------------------------------
# Rendering canonical values into cells
# ---------------------------------------------------------------------------------------------------------


def _enum_labels(enum: str, layout: Layout) -> dict[Any, str]:
    values = load_input_kinds().enums[enum]
    out: dict[Any, str] = {}
    for key, v in values.items():
        label = strip_diacritics(v.label) if layout.ascii_text else v.label
        out[key] = label
    if enum == "yes_no":
        out[True], out[False] = out["yes"], out["no"]
    return out


def _empty(n: int) -> np.ndarray:
    return np.full(n, "", dtype=object)


def render_column(values: pd.Series, col: ColumnSpec, layout: Layout) -> np.ndarray:
    """Canonical values -> cell values of this file (python str/int/float/date/datetime; "" = blank)."""
    n = len(values)
    xlsx = layout.fmt == "xlsx"
    style = layout.effective_date_style
    t = col.type
    if t in ("date", "datetime"):
        unit = "D" if t == "date" else "m"
        arr = values.to_numpy().astype(f"datetime64[{unit}]")
        nat = np.isnat(arr)
        out = _empty(n)
        ok = ~nat
        if not ok.any():
            return out
        if style == "text":
            fmt = "%d/%m/%Y" if t == "date" else "%d/%m/%Y %H:%M"
            codes, uniq = pd.factorize(arr[ok])  # birth dates repeat: format each once
            out[ok] = pd.Series(uniq).dt.strftime(fmt).to_numpy(dtype=object)[codes]
        elif style == "serial":
            days = (arr[ok].astype("datetime64[m]") - gen.EXCEL_EPOCH).astype(np.int64) / 1440.0
            out[ok] = (np.round(days, 6) if t == "datetime" else days.astype(np.int64)).astype(object)
        else:
            s = pd.Series(arr[ok])
            out[ok] = s.dt.date.to_numpy(dtype=object) if t == "date" else np.array(s.dt.to_pydatetime(), dtype=object)
        return out
    if t == "enum":
        labels = _enum_labels(col.enum, layout)
        if col.enum == "sex" and layout.sex_style == "code":
            labels = {"male": 0 if xlsx else "0", "female": 1 if xlsx else "1"}
        raw = values.to_numpy(dtype=object)
        mapped = pd.Series(raw).map(labels).to_numpy(dtype=object)  # a dict lookup in C per cell
        missing = pd.isna(mapped)
        if missing.any():
            mapped[missing] = [("" if v is None or v == "" or (isinstance(v, float) and np.isnan(v)) else v)
                               for v in raw[missing]]
        return mapped
    if t == "integer":
        arr = values.to_numpy().astype(np.int64)
        if col.name == "priority_group" and layout.priority_style == "nhom":
            return np.array([f"Nhóm {i}" for i in range(int(arr.max()) + 1)], dtype=object)[arr] if len(arr) \
                else _empty(0)
        if xlsx:
            return arr.astype(object)
        if len(arr) and arr.min() >= 0 and arr.max() < 10_000:  # small codes: a lookup table of strings
            return np.array([str(i) for i in range(int(arr.max()) + 1)], dtype=object)[arr]
        return arr.astype(str).astype(object)
    if t == "decimal":
        arr = values.to_numpy(dtype=float)
        return arr.astype(object) if xlsx else np.char.mod("%.6f", arr).astype(object)
    s = values.to_numpy(dtype=object, copy=True)  # defects are planted into it: never the frame's own
    gaps = values.isna().to_numpy()
    if gaps.any():
        s[gaps] = ""
    numeric = (t == "phone" and layout.numeric_phones) or (t in ("id_number", "admin_code") and layout.numeric_ids)
    if numeric:
        digits = np.fromiter((v.isdigit() and v.isascii() for v in s), dtype=bool, count=len(s))
        if digits.any():
            if xlsx:
                s = s.copy()
                s[digits] = pd.Series(s[digits]).astype(np.int64).to_numpy().astype(object)
            else:
                s = s.copy()
                s[digits] = pd.Series(s[digits]).str.lstrip("0").to_numpy(dtype=object)
        return s
    if t == "text" and layout.ascii_text:
        return map_distinct(s, strip_diacritics)
    return s


# ---------------------------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Written:
    sheet: str | None
    header_rows: list[int]
    data_rows: np.ndarray  # row number of every data row (1-based, as Excel shows it / CSV line)
    structure: list[tuple[str, int, str]]  # (code, row_number, note)


def _insert_plan(rng: np.random.Generator, n: int, layout: Layout) -> dict[int, list[str]]:
    """Non-data rows inside the data: {data index before which they go: [kinds]}."""
    plan: dict[int, list[str]] = {}
    if n < 4:
        return plan
    for _ in range(layout.blank_rows):
        plan.setdefault(int(rng.integers(1, n)), []).append("blank")
    if layout.header_repeat:
        plan.setdefault(int(rng.integers(n // 3, max(n // 3 + 1, 2 * n // 3))), []).append("header_repeat")
    return plan


def _title_lines(layout: Layout, kind_label: str, district_name: str, district_type: str) -> list[list[tuple[int, str]]]:
    """Title rows as [(column, text)] per row ([] = blank row)."""
    upper_district = f"{district_type} {district_name}".upper()
    if layout.title == "official":
        return [[(0, "SỞ Y TẾ TỈNH GIA LAI"), (4, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")],
                [(0, f"TRUNG TÂM Y TẾ {upper_district}"), (4, "Độc lập - Tự do - Hạnh phúc")],
                [],
                [(0, f"{kind_label.upper()} PHÒNG COVID-19")],
                [(0, "(Kèm theo Công văn số 1038/UBND-KGVX ngày 18/7/2021 của UBND tỉnh Gia Lai)")],
                []]
    if layout.title == "short":
        return [[(0, f"{kind_label.upper()} - {upper_district}")],
                [(0, "Ghi chú: các cột có dấu (*) là bắt buộc")]]
    if layout.title == "national":
        return [[(0, "DANH SÁCH ĐỐI TƯỢNG TIÊM CHỦNG VẮC XIN COVID-19")],
                [(0, "Lưu ý: Các cột có dấu (*) là bắt buộc nhập. Ngày sinh nhập theo định dạng dd/mm/yyyy. "
                     "Giới tính: 0 - Nam, 1 - Nữ.")],
                [(0, "Mã nhóm đối tượng ưu tiên theo Quyết định 3355/QĐ-BYT (từ 1 đến 16). "
                     "Số điện thoại ít nhất 10 số. Không sửa, xóa các dòng tiêu đề.")],
                []]
    return []


def _footer_lines(district_name: str, when: dt.date) -> list[list[tuple[int, str]]]:
    return [[], [(4, f"{district_name}, ngày {when.day} tháng {when.month} năm {when.year}")],
            [(1, "NGƯỜI LẬP BIỂU"), (4, "GIÁM ĐỐC")], [(1, "(Ký, ghi rõ họ tên)"), (4, "(Ký tên, đóng dấu)")]]


def _totals(cols: list[OutCol], cells: list[np.ndarray], n: int, fmt: str, spec: KindSpec) -> list[Any]:
    row: list[Any] = [""] * len(cols)
    row[0] = "Tổng cộng"
    types = {c.name: c.type for c in spec.columns}
    summed = False
    for j, c in enumerate(cols):
        if c.role == "data" and types.get(c.name) == "integer" and c.name not in ("priority_group", "team_no", "dose_number", "doses_per_vial"):
            vals = [v for v in cells[j] if isinstance(v, (int, np.integer)) or (isinstance(v, str) and v.isdigit())]
            total = int(sum(int(v) for v in vals))
            row[j] = total if fmt == "xlsx" else str(total)
            summed = True
    if not summed and len(cols) > 1:
        row[1] = f"{n} người" if spec.name == "target_list" else f"{n} dòng"
    return row


def write_xlsx(path: Path, cols: list[OutCol], cells: list[np.ndarray], n: int, layout: Layout, spec: KindSpec,
               rng: np.random.Generator, titles: list[list[tuple[int, str]]],
               footer: list[list[tuple[int, str]]]) -> Written:
    # Constant-memory mode streams rows to temporary files: worth it for big sheets only (a small one
    # is faster in memory, where xlsxwriter skips the temporary files altogether).
    big = n * len(cols) > 400_000
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": big, "in_memory": not big, "strings_to_urls": False,
                                         "strings_to_formulas": False, "strings_to_numbers": False})
    wb.set_properties({"created": FIXED_CREATED, "author": "Trung tâm Y tế", "title": spec.label})
    f_title = wb.add_format({"bold": True, "font_name": "Times New Roman", "font_size": 13})
    f_head = wb.add_format({"bold": True, "text_wrap": True, "border": 1, "align": "center", "valign": "vcenter",
                            "font_name": "Times New Roman"})
    f_date = wb.add_format({"num_format": "dd/mm/yyyy"})
    f_dt = wb.add_format({"num_format": "dd/mm/yyyy hh:mm"})
    f_bold = wb.add_format({"bold": True})
    if layout.instruction_sheet:
        ws0 = wb.add_worksheet("Hướng dẫn")
        for i, line in enumerate([f"HƯỚNG DẪN NHẬP {spec.label.upper()}",
                                  "1. Nhập dữ liệu ở trang tính thứ hai, không thay đổi dòng tiêu đề.",
                                  "2. Các cột có dấu (*) là bắt buộc.",
                                  "3. Ngày tháng nhập theo dạng dd/mm/yyyy."]):
            ws0.write_string(i, 0, line)
    ws = wb.add_worksheet(layout.sheet)
    width = len(cols)
    for j, c in enumerate(cols):
        ws.set_column(j, j, 6 if c.role == "stt" else 18)
    structure: list[tuple[str, int, str]] = []
    r = 0
    for line in titles:
        if line:
            for col, text in line:
                if col < width:
                    ws.write_string(r, col, text, f_title)
            structure.append(("title_rows", r + 1, ""))
        r += 1
    # header (one or two rows)
    two_rows = any(c.group for c in cols)
    header_rows = [r + 1, r + 2] if two_rows else [r + 1]
    if two_rows:
        # Cells strictly row by row and the merged ranges registered on the sheet: `merge_range` writes
        # the padding cells of both rows at once, which constant-memory mode (big files) drops.
        merges = ws.merge
        j = 0
        while j < width:
            g = cols[j].group
            if g:
                k = j
                while k + 1 < width and cols[k + 1].group == g:
                    k += 1
                ws.write_string(r, j, g, f_head)
                for m in range(j + 1, k + 1):
                    ws.write_blank(r, m, None, f_head)
                if k > j:
                    merges.append([r, j, r, k])
                j = k + 1
            else:
                ws.write_string(r, j, cols[j].header, f_head)
                merges.append([r, j, r + 1, j])
                j += 1
        r += 1
        for j, c in enumerate(cols):
            if c.group:
                ws.write_string(r, j, c.header, f_head)
            else:
                ws.write_blank(r, j, None, f_head)
        structure.append(("two_row_header", header_rows[0], ""))
    else:
        for j, c in enumerate(cols):
            ws.write_string(r, j, c.header, f_head)
    r += 1
    if layout.numbering_row:
        for j in range(width):
            ws.write_string(r, j, f"({j + 1})", f_head)
        structure.append(("numbering_row", r + 1, ""))
        r += 1
    plan = _insert_plan(rng, n, layout)
    rows = np.empty(n, dtype=np.int64)
    ws_s, ws_n, ws_d = ws.write_string, ws.write_number, ws.write_datetime
    col_iter = list(enumerate(cells))
    for i in range(n):
        for what in plan.get(i, ()):
            if what == "header_repeat":
                for j, c in enumerate(cols):
                    ws_s(r, j, c.header)
            structure.append((what if what != "blank" else "blank_rows", r + 1, ""))
            r += 1
        rows[i] = r + 1
        for j, col in col_iter:
            v = col[i]
            tv = type(v)
            if tv is str:
                if v:
                    ws_s(r, j, v)
            elif tv is int or tv is float:
                ws_n(r, j, v)
            elif tv is dt.date:
                ws_d(r, j, v, f_date)
            elif tv is dt.datetime:
                ws_d(r, j, v, f_dt)
            elif v is not None:
                ws_s(r, j, str(v))
        r += 1
    if layout.totals:
        for j, v in enumerate(_totals(cols, cells, n, "xlsx", spec)):
            if isinstance(v, str):
                if v:
                    ws.write_string(r, j, v, f_bold)
            else:
                ws.write_number(r, j, v, f_bold)
        structure.append(("totals_row", r + 1, ""))
        r += 1
    if layout.footer:
        for line in footer:
            if line:
                for col, text in line:
                    if col < width:
                        ws.write_string(r, col, text, f_bold)
                structure.append(("footer_rows", r + 1, ""))
            r += 1
    wb.close()
    return Written(layout.sheet, header_rows, rows, structure)


def _encode(text: str, encoding: str | None) -> bytes:
    if encoding == "cp1258":  # Windows-1258 with decomposed tone marks, as Windows writes it
        from campaign.domain.vn_legacy import encode_cp1258

        return encode_cp1258(text)
    return text.encode("utf-8")


_SPECIAL = (",", '"', "\n", "\r")
_SPECIAL_RE = re.compile('[,"\r\n]')


def _csv_quoted(col: np.ndarray, only: np.ndarray | None = None) -> np.ndarray:
    """RFC 4180 quoting: only the cells holding a comma, quote or line break are quoted. Most columns
    have none: one C-level join of the whole column tells, before any per-cell look. `only`: the cells
    that may hold one (a column of digits or dates can only where a defect was planted)."""
    if only is not None:
        out = col
        for i in only:
            v = col[i]
            if isinstance(v, str) and any(ch in v for ch in _SPECIAL):
                out = out.copy() if out is col else out
                out[i] = '"' + v.replace('"', '""') + '"'
        return out
    big = "\x00".join(col)
    if not any(ch in big for ch in _SPECIAL):
        return col
    # cells holding one: map the character positions in the joined string back to cell indices
    ends = np.cumsum(np.fromiter(map(len, col), dtype=np.int64, count=len(col)) + 1)
    hits = np.unique(np.searchsorted(ends, [m.start() for m in _SPECIAL_RE.finditer(big)], side="right"))
    out = col.copy()
    for i in hits:  # a handful of cells
        out[i] = '"' + col[i].replace('"', '""') + '"'
    return out


CSV_CHUNK = 100_000
SAFE_CSV_TYPES = {"phone", "id_number", "insurance_number", "date", "datetime", "integer", "decimal", "admin_code",
                  "facility_code"}


def _merge_constant_runs(columns: list[np.ndarray]) -> list[np.ndarray]:
    """Adjacent columns holding one value each (province, district, empty dose-2 columns) are joined
    once, so the per-line join has fewer fields."""
    out: list[np.ndarray] = []
    run: list[str] = []
    for col in columns:
        first = col[0] if len(col) else ""
        # cheap probes first: most columns differ at their ends or middle
        if len(col) and col[-1] == first and col[len(col) // 2] == first and (col == first).all():
            run.append(first)
            continue
        if run:
            out.append(np.full(len(col), ",".join(run), dtype=object))
            run = []
        out.append(col)
    if run:
        out.append(np.full(len(columns[0]), ",".join(run), dtype=object))
    return out


def write_csv(path: Path, cols: list[OutCol], cells: list[np.ndarray], n: int, layout: Layout, spec: KindSpec,
              rng: np.random.Generator, check: list[np.ndarray | None] | None = None) -> Written:
    """CSV written in chunks: each line is a C-level join of already quoted cells (~3x faster than the
    csv module on a million rows, and the file never sits whole in memory). `check[j]`: the cells of
    column j that may need quoting (None: all)."""
    end = layout.line_end
    header_cells = _csv_quoted(np.array([c.header for c in cols], dtype=object))
    header = ",".join(header_cells)
    structure: list[tuple[str, int, str]] = []
    plan = _insert_plan(rng, n, layout)
    rows = np.empty(n, dtype=np.int64)
    check = check or [None] * len(cells)
    quoted = [_csv_quoted(np.asarray(c, dtype=object), only) for c, only in zip(cells, check, strict=True)]
    if n:
        quoted = _merge_constant_runs(quoted)
    cuts = sorted(set(plan) | set(range(CSV_CHUNK, n, CSV_CHUNK)))
    with path.open("wb") as fh:
        if layout.encoding == "utf-8-sig":
            fh.write(b"\xef\xbb\xbf")
        fh.write(_encode(header + end, layout.encoding))
        line, start = 2, 0
        for cut in cuts + [n]:
            if cut > start:
                text = end.join(map(",".join, zip(*[c[start:cut] for c in quoted], strict=True))) + end
                fh.write(_encode(text, layout.encoding))
                rows[start:cut] = np.arange(line, line + (cut - start))
                line += cut - start
            extra = []
            for what in plan.get(cut, ()) if cut < n else ():
                extra.append(header if what == "header_repeat" else "," * (len(cols) - 1))
                structure.append((what if what != "blank" else "blank_rows", line, ""))
                line += 1
            if extra:
                fh.write(_encode(end.join(extra) + end, layout.encoding))
            start = cut
        if layout.totals:
            tot = np.array([str(v) for v in _totals(cols, cells, n, "csv", spec)], dtype=object)
            fh.write(_encode(",".join(_csv_quoted(tot)) + end, layout.encoding))
            structure.append(("totals_row", line, ""))
    return Written(None, [1], rows, structure)


# ---------------------------------------------------------------------------------------------------------
# Manifest
# ---------------------------------------------------------------------------------------------------------


@dataclass
class FileEntry:
    path: str
    district: str
    kind: str
    facility: str | None
    format: str
    encoding: str | None
    layout: str
    sheet: str | None
    header_rows: list[int]
    first_data_row: int | None
    rows: int
    planned_upload_at: str | None
    status: str  # on_time | last_minute | late | rejected_version | event | event_late
    version: int = 1
    sha256: str = ""
    # how the file's columns must be read (what `campaign intake --json` says): {heading as the reader
    # shows it (one line, NFC; "group - child" under a two-row header): field}, numbering columns left out
    columns: dict[str, str] = field(default_factory=dict)
    columns_ignored: list[str] = field(default_factory=list)  # headings no field means
    columns_ignored_with_data: list[str] = field(default_factory=list)  # those holding data: `column_ignored`


@dataclass
class DefectRecord:
    code: str
    category: str
    reason: str | None
    district: str
    kind: str
    file: str | None
    sheet: str | None = None
    row_number: int | None = None
    column: str | None = None
    col_number: int | None = None
    cell: str | None = None
    value: str | None = None
    note: str = ""
    rows_affected: int | None = None


@dataclass
class ScheduleEntry:
    district: str
    kind: str
    file: str | None
    planned_upload_at: str | None
    status: str
    deadline: str | None
    due_at: str | None
    on_time: bool | None


@dataclass
class Manifest:
    seed: int
    people: int
    defect_rate: float
    campaign: str
    files: list[FileEntry] = field(default_factory=list)
    defects: list[DefectRecord] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)
    schedule: list[ScheduleEntry] = field(default_factory=list)
    catalogue: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1, sort_keys=False)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        d = json.loads(text)
        return cls(seed=d["seed"], people=d["people"], defect_rate=d["defect_rate"], campaign=d["campaign"],
                   files=[FileEntry(**f) for f in d["files"]], defects=[DefectRecord(**x) for x in d["defects"]],
                   duplicates=d["duplicates"], schedule=[ScheduleEntry(**s) for s in d["schedule"]],
                   catalogue=d.get("catalogue", []))

    def file(self, path: str) -> FileEntry:
        return next(f for f in self.files if f.path == path)



def _show(v: Any) -> str:
    if isinstance(v, dt.datetime):
        return v.strftime("%d/%m/%Y %H:%M")
    if isinstance(v, dt.date):
        return v.strftime("%d/%m/%Y")
    return str(v)


# ---------------------------------------------------------------------------------------------------------
# Emitting one file
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Job:
    """One file to write: a kind's canonical rows for one district (or facility) and its layout."""

    district: str
    kind: str
    frame: pd.DataFrame
    layout: Layout
    path: Path
    facility: str | None = None
    planned: dt.datetime | None = None
    status: str = "on_time"
    version: int = 1
    drop_column: str | None = None  # a required column left out (the rejected first upload)
    cols: list[OutCol] | None = None  # chosen beforehand when the defect plan depends on them


@dataclass
class Context:
    out_dir: Path
    campaign: CampaignConfig
    districts: pd.DataFrame
    communes: pd.DataFrame
    colliding: set[str]
    self_ambiguous: set[str]
    unknown_communes: list[str]
    manifest: Manifest
    # where target-list entries landed: (file, sheet, entry ids, row numbers, is_copy)
    placements: list[tuple[str, str | None, np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)


def _district_info(ctx: Context, code: str) -> tuple[str, str, str]:
    d = ctx.districts.set_index("code").loc[code]
    return str(d["name"]), str(d["short_name"]), str(d["type"])


def _other_communes(ctx: Context, district: str) -> list[tuple[str, str, str]]:
    own = {fold(s) for s in ctx.communes.loc[ctx.communes.district_code == district, "short_name"]}
    others = ctx.communes[(ctx.communes.district_code != district)]
    return [(r.code, r.name, r.short_name) for r in others.itertuples() if fold(r.short_name) not in own]


def emit(ctx: Context, job: Job, rng: np.random.Generator) -> FileEntry:
    """Render, damage, write and record one file."""
    spec = load_input_kinds()[job.kind]
    layout = job.layout
    frame = job.frame.reset_index(drop=True)
    cols = job.cols if job.cols is not None else choose_columns(spec, layout, rng)
    if job.drop_column:
        cols = [c for c in cols if c.name != job.drop_column]
    n0 = len(frame)
    xlsx = layout.fmt == "xlsx"
    canon = {c.name: c for c in spec.columns}

    # cells per output column, in canonical order of the frame
    rendered: dict[str, np.ndarray] = {}
    for c in cols:
        if c.role == "data" and c.name not in rendered:
            rendered[c.name] = render_column(frame[c.name] if c.name in frame else pd.Series([""] * n0), canon[c.name], layout)
    overridden: dict[str, np.ndarray] = {k: np.zeros(n0, dtype=bool) for k in rendered}
    cell_records: list[tuple[int, str, str | None, str, str]] = []  # (frame row, code, column, value, note)

    # cell defects (target lists: `_defect` column chosen beforehand)
    if "_defect" in frame:
        dctx = dfx.Ctx(fmt=layout.fmt, date_style=layout.effective_date_style,
                       campaign_date=ctx.campaign.campaign.campaign_date, commune_style=layout.commune_style,
                       district=job.district, other_communes=_other_communes(ctx, job.district),
                       unknown_communes=ctx.unknown_communes)
        todo = np.flatnonzero(frame["_defect"].to_numpy(dtype=object) != "")
        need = [c for c in ("full_name", "phone", "id_number", "birth_date", "female", "social_insurance",
                            "commune_name", "commune_short", "commune_code", "_defect") if c in frame]
        records = frame.iloc[todo][need].to_dict("records")
        for i, e in zip(todo, records, strict=True):  # the defect rows only (~2.5%)
            code = e["_defect"]
            if code == "duplicate_row":
                continue
            changes, note = dfx.plant(code, e, rng, dctx)
            main = dfx.CATALOGUE[code].column
            for colname, value in changes.items():
                if colname not in rendered:
                    continue
                rendered[colname][i] = value
                overridden[colname][i] = True
            shown = changes.get(main, "")
            cell_records.append((int(i), code, main, _show(shown), note))

    # event repeats / unknown facility (vaccinations): flagged in the frame
    if "_event_defect" in frame:
        for i in np.flatnonzero(frame["_event_defect"].to_numpy(dtype=object) != ""):
            code = frame.at[i, "_event_defect"]
            main = dfx.CATALOGUE[code].column
            cell_records.append((int(i), code, main, _show(rendered[main][i]) if main in rendered else "", ""))

    # exact copies of rows (duplicate_row): inserted a few rows after their original
    src = np.arange(n0)
    copy_of = np.full(n0, -1)
    if "_defect" in frame:
        dups = np.flatnonzero(frame["_defect"].to_numpy(dtype=object) == "duplicate_row")
        if len(dups):
            offsets = rng.integers(1, 8, len(dups))
            positions = np.minimum(dups + offsets, n0)
            order = np.argsort(np.concatenate([np.arange(n0) * 2.0, positions * 2.0 - 1.0]), kind="stable")
            src = np.concatenate([np.arange(n0), dups])[order]
            copy_of = np.concatenate([np.full(n0, -1), dups])[order]
    n = len(src)

    # assemble output columns
    out_cells: list[np.ndarray] = []
    for c in cols:
        if c.role == "stt":
            out_cells.append(np.arange(1, n + 1).astype(object) if xlsx else np.arange(1, n + 1).astype(str).astype(object))
        elif c.role == "extra":
            if c.fill == "ethnic" and "ethnic" in frame:
                eth = np.array(["Kinh", "Jrai", "Ba Na"], dtype=object)[frame["ethnic"].to_numpy(dtype=int)]
                out_cells.append(eth[src])
            elif c.fill in EXTRA_VALUES and "entry_id" in frame:  # drawn from the entry: no rng consumed
                pool = np.array(EXTRA_VALUES[c.fill], dtype=object)
                out_cells.append(pool[(frame["entry_id"].to_numpy(dtype=np.int64) * 7919 + len(c.header)) % len(pool)][src])
            else:
                out_cells.append(_empty(n))
        elif c.role in ("name_family", "name_given"):  # "Nguyễn Văn" | "An"
            parts = frame["full_name"].fillna("").astype(str).str.strip().str.rpartition(" ")
            out_cells.append(parts[0 if c.role == "name_family" else 2].to_numpy(dtype=object)[src])
        elif c.role in ("sex_male", "sex_female"):
            female = frame["sex"].to_numpy(dtype=object) == "female"
            want = female if c.role == "sex_female" else ~female
            birth = render_column(frame["birth_date"], canon["birth_date"], layout) if "birth_date" in frame else \
                np.full(n0, "x", dtype=object)
            out_cells.append(np.where(want, birth, "").astype(object)[src])
        else:
            out_cells.append(rendered[c.name][src])

    # write
    job.path.parent.mkdir(parents=True, exist_ok=True)
    d_name, d_short, d_type = _district_info(ctx, job.district)
    if xlsx:
        titles = _title_lines(layout, spec.label, d_short, d_type)
        when = (job.planned or dt.datetime(2021, 7, 25, tzinfo=TZ)).date()
        written = write_xlsx(job.path, cols, out_cells, n, layout, spec, rng, titles, _footer_lines(d_short, when))
    else:
        # columns of digits, dates and numbers need a quoting look only where a defect was planted
        check: list[np.ndarray | None] = []
        for c in cols:
            if c.role == "stt" or (c.role == "data" and canon[c.name].type in SAFE_CSV_TYPES):
                touched = overridden.get(c.name, np.zeros(n0, dtype=bool))[src] if c.role == "data" else np.zeros(n, bool)
                check.append(np.flatnonzero(touched))
            else:
                check.append(None)
        written = write_csv(job.path, cols, out_cells, n, layout, spec, rng, check)

    rel = job.path.relative_to(ctx.out_dir).as_posix()
    row_no = written.data_rows
    read_as = {c.heading: c.name for c in cols if c.role not in ("stt", "extra")}
    ignored = [c.heading for c in cols if c.role == "extra"]
    ignored_data = [c.heading for c, cells_j in zip(cols, out_cells, strict=True)
                    if c.role == "extra" and any(v not in ("", None) for v in cells_j)]
    entry = FileEntry(path=rel, district=job.district, kind=job.kind, facility=job.facility, format=layout.fmt,
                      encoding=layout.encoding if layout.fmt == "csv" else None, layout=layout.name, sheet=written.sheet,
                      header_rows=written.header_rows, first_data_row=int(row_no[0]) if n else None, rows=n,
                      planned_upload_at=job.planned.isoformat() if job.planned else None, status=job.status,
                      version=job.version, sha256=hashlib.sha256(job.path.read_bytes()).hexdigest(),
                      columns=read_as, columns_ignored=ignored, columns_ignored_with_data=ignored_data)
    ctx.manifest.files.append(entry)

    # --- records
    pos_of_frame = np.full(n0, -1, dtype=np.int64)
    orig = copy_of < 0
    pos_of_frame[src[orig]] = np.flatnonzero(orig)
    col_index = {}
    for j, c in enumerate(cols):
        if c.role == "data" and c.name not in col_index:
            col_index[c.name] = j

    def rec(code: str, row_number: int | None, column: str | None, value: str | None = None, note: str = "",
            rows_affected: int | None = None, reason: str | None = None) -> None:
        spec_d = dfx.CATALOGUE[code]
        j = col_index.get(column) if column else None
        ctx.manifest.defects.append(DefectRecord(
            code=code, category=spec_d.category, reason=reason or spec_d.reason, district=job.district, kind=job.kind,
            file=rel,
            sheet=written.sheet, row_number=row_number, column=column, col_number=None if j is None else j + 1,
            cell=(f"{xl_col_to_name(j)}{row_number}" if (xlsx and j is not None and row_number) else None),
            value=value, note=note, rows_affected=rows_affected))

    for i, code, column, value, note in cell_records:
        rec(code, int(row_no[pos_of_frame[i]]), column, value, note)
    for p in np.flatnonzero(~orig):
        original_row = int(row_no[pos_of_frame[copy_of[p]]])
        rec("duplicate_row", int(row_no[p]), None, None, f"copy of row {original_row}")
    # structure
    seen_titles = False
    for code, rown, note in written.structure:
        if code == "title_rows":
            if not seen_titles:
                rows_t = [r for c2, r, _ in written.structure if c2 == "title_rows"]
                rec("title_rows", rows_t[0], None, None, "rows " + ",".join(map(str, rows_t)))
                seen_titles = True
            continue
        rec(code if code in dfx.CATALOGUE else "blank_rows", rown, None, None, note)
    header_row = written.header_rows[0]
    if layout.header_style in ("template", "noted", "national"):
        rec("header_notes", header_row, None, None, layout.header_style)
    if layout.header_style in ("folded", "folded_lower", "upper", "english", "plain", "clerk"):
        rec("header_variants", header_row, None, None, layout.header_style)
    stt = next((c.header for c in cols if c.role == "stt"), None)
    if stt:
        rec("numbering_column", header_row, None, None, stt)
    if layout.instruction_sheet:
        rec("instruction_sheet", None, None, None, "first sheet: Hướng dẫn")
    for c in cols:
        if c.role == "extra":
            rec("extra_column", header_row, None, None, c.header)
    if layout.sex_style == "marks" and any(c.role == "sex_male" for c in cols):
        rec("sex_mark_columns", header_row, "sex", None, "Nam | Nữ")
    if layout.ascii_text:
        rec("text_without_diacritics", None, None, None, "")
    if job.drop_column:
        rec("required_column_missing", None, job.drop_column, None, f"column «{canon[job.drop_column].header}» left out")

    # whole columns as Excel leaves them
    for name in rendered:
        t = canon[name].type
        clean = ~overridden[name]
        if t == "id_number" and layout.numeric_ids:
            k = int((clean & pd.Series(frame[name].astype(str)).str.startswith("0").to_numpy()).sum())
            if k:
                rec("ids_as_numbers", None, name, None, "", k)
        if t == "phone" and layout.numeric_phones:
            k = int((clean & pd.Series(frame[name].astype(str)).str.startswith("0").to_numpy()).sum())
            if k:
                rec("phones_as_numbers", None, name, None, "", k)
        if t in ("date", "datetime") and layout.effective_date_style == "serial":
            k = int((clean & ~pd.isna(frame[name]).to_numpy()).sum())
            if k:
                rec("dates_as_serial", None, name, None, "", k)
        # a text column that shows it writes the day first (a day above 12) gets no ambiguity warning
        if name == "birth_date" and layout.effective_date_style == "text" and not dfx.day_first_shown(rendered[name]):
            b = frame[name].to_numpy().astype("datetime64[D]")
            month = b.astype("datetime64[M]").astype(int) % 12 + 1
            day = (b - b.astype("datetime64[M]")).astype(int) + 1
            k = int((clean & (day <= 12) & (month <= 12) & (day != month)).sum())
            if k:
                rec("dob_as_text", None, name, None, "", k)
    # a target list without the commune-code column: intake fills the code from the name on every row
    # whose commune resolves (not the rows whose commune cell carries a defect of its own)
    if job.kind == "target_list" and "commune_name" in rendered and "commune_code" not in rendered \
            and "commune_code" in frame:
        named = frame["commune_name"].fillna("").astype(str).str.strip().ne("").to_numpy()
        own = ~frame["commune_code"].isin(ctx.self_ambiguous).to_numpy()
        k = int((~overridden["commune_name"] & named & own).sum())
        if k:
            rec("commune_code_absent", None, "commune_code", None, "", k)
    if (layout.sex_style == "marks" and "birth_date" in frame and layout.effective_date_style == "text"
            and not dfx.day_first_shown(render_column(frame["birth_date"], canon["birth_date"], layout))):
        b = frame["birth_date"].to_numpy().astype("datetime64[D]")
        month = b.astype("datetime64[M]").astype(int) % 12 + 1
        day = (b - b.astype("datetime64[M]")).astype(int) + 1
        k = int(((day <= 12) & (month <= 12) & (day != month)).sum())
        if k:
            rec("dob_as_text", None, "birth_date", None, "under Nam / Nữ", k)

    # readiness truths carried by rows
    if "_anomaly" in frame:
        an = frame["_anomaly"].to_numpy(dtype=object)
        notes = frame["_note"].to_numpy(dtype=object) if "_note" in frame else np.full(n0, "", dtype=object)
        column_of = {c: dfx.CATALOGUE[c].column for c in set(an) if c}
        for i in np.flatnonzero(an != ""):
            # the same person twice in one session of one facility repeats the staff natural key
            reason = "duplicate_in_file" if an[i] == "staff_double_booked" and notes[i] == "same_facility" else None
            rec(an[i], int(row_no[pos_of_frame[i]]), column_of[an[i]], None, str(notes[i]), reason=reason)

    # where each target-list entry landed (for the duplicate truth)
    if "entry_id" in frame:
        ids = frame["entry_id"].to_numpy()
        ctx.placements.append((rel, written.sheet, ids[src], row_no, ~orig))
    return entry


# ---------------------------------------------------------------------------------------------------------
# Kind frames (canonical columns for one district)
# ---------------------------------------------------------------------------------------------------------


def _commune_cells(names: pd.Series, shorts: pd.Series, style: str) -> np.ndarray:
    """Commune names as this file writes them (a few hundred distinct pairs: format those, map back)."""
    names = np.asarray(names, dtype=object)
    shorts = np.asarray(shorts, dtype=object)
    codes, uniq = pd.factorize(names)  # a full name determines its short name
    if not len(codes):
        return np.array([], dtype=object)
    first = np.zeros(len(uniq), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    table = np.array([dfx.commune_text(a, shorts[i], style) if a else "" for a, i in zip(uniq, first, strict=True)],
                     dtype=object)
    out = np.full(len(codes), "", dtype=object)
    ok = codes >= 0
    out[ok] = table[codes[ok]]
    return out


def target_list_frame(ctx: Context, entries: pd.DataFrame, district: str, layout: Layout) -> pd.DataFrame:
    d_name, d_short, _ = _district_info(ctx, district)
    e = entries
    n = len(e)
    f = gen.object_frame({
        "entry_id": e["entry_id"].to_numpy(), "person_key": e["person_key"].to_numpy(),
        "full_name": e["full_name"].to_numpy(dtype=object), "birth_date": e["birth_date"].to_numpy(),
        "sex": np.where(e["female"].to_numpy(dtype=bool), "female", "male").astype(object),
        "female": e["female"].to_numpy(dtype=bool), "ethnic": e["ethnic"].to_numpy(),
        "priority_group": e["priority_group"].to_numpy(), "workplace": e["workplace"].to_numpy(dtype=object),
        "phone": e["phone"].to_numpy(dtype=object), "id_number": e["id_number"].to_numpy(dtype=object),
        "insurance_number": e["insurance_number"].to_numpy(dtype=object),
        "social_insurance": e["social_insurance"].to_numpy(dtype=object),
        "province_name": np.full(n, "Gia Lai" if layout.commune_style == "short" else "Tỉnh Gia Lai", dtype=object),
        "province_code": np.full(n, "64", dtype=object),
        "district_name": np.full(n, d_short if layout.commune_style == "short" else d_name, dtype=object),
        "district_code": np.full(n, district, dtype=object),
        "commune_name": e["commune_name"].to_numpy(dtype=object), "commune_short": e["commune_short"].to_numpy(dtype=object),
        "commune_code": e["commune_code"].to_numpy(dtype=object),
        "address_detail": e["address_detail"].to_numpy(dtype=object),
        "dose1_product": e["dose1_product"].to_numpy(dtype=object), "dose1_date": e["dose1_date"].to_numpy(),
        "dose1_lot": e["dose1_lot"].to_numpy(dtype=object), "dose1_site": e["dose1_site"].to_numpy(dtype=object),
        "dose2_product": np.full(n, "", dtype=object), "dose2_date": np.full(n, np.datetime64("NaT"), dtype="datetime64[D]"),
        "dose2_lot": np.full(n, "", dtype=object), "dose2_site": np.full(n, "", dtype=object),
        "note": np.where(e["priority_group"].to_numpy() == 11, "Hộ nghèo", "").astype(object),
        "_dup": e["_dup"].to_numpy(dtype=object), "_defect": e["_defect"].to_numpy(dtype=object),
    })
    f["commune_name"] = _commune_cells(f["commune_name"], f["commune_short"], layout.commune_style)
    return f


def _facility_frame(ctx: Context, fac: pd.DataFrame, layout: Layout) -> pd.DataFrame:
    f = fac.copy()
    f["commune_name"] = _commune_cells(f["commune_name"], f["commune_short"], layout.commune_style)
    return f


def _blank_self_ambiguous(ctx: Context, frame: pd.DataFrame, code_col: str, name_col: str) -> pd.DataFrame:
    """Kinds without a commune-code column: leave the (optional) commune empty where the official name
    alone is ambiguous (Xã Ia Bang), so no row carries a reason nobody planted."""
    if code_col in frame and ctx.self_ambiguous:
        m = frame[code_col].isin(ctx.self_ambiguous).to_numpy()
        frame.loc[m, name_col] = ""
    return frame


# ---------------------------------------------------------------------------------------------------------
# The upload plan and schedule
# ---------------------------------------------------------------------------------------------------------


def _at(day: dt.date, minutes: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=TZ) + dt.timedelta(minutes=int(minutes))


def _office_time(rng: np.random.Generator, first: dt.date, last: dt.date) -> dt.datetime:
    days = (last - first).days + 1
    day = first + dt.timedelta(days=int(rng.integers(0, days)))
    if rng.random() < 0.1:  # some upload in the evening
        return _at(day, int(rng.integers(19 * 60, 22 * 60 + 30)))
    return _at(day, int(rng.integers(7 * 60 + 30, 17 * 60)))


@dataclass
class Behaviour:
    last_minute: list[str]
    late: list[str]
    missing: tuple[str, str]
    rejected: str
    per_facility_staff: list[str]
    repeat_events: list[str]
    unknown_facility: list[str]


def plan_behaviour(rng: np.random.Generator, districts: list[str]) -> Behaviour:
    perm = [str(x) for x in rng.permutation(districts)]
    prep_kinds = ["infrastructure", "communication", "training"]
    return Behaviour(last_minute=sorted(perm[0:3]), late=sorted(perm[3:5]),
                     missing=(perm[5], prep_kinds[int(rng.integers(0, len(prep_kinds)))]), rejected=perm[6],
                     per_facility_staff=sorted(perm[7:9]), repeat_events=sorted(perm[9:11]),
                     unknown_facility=sorted(perm[11:14]))


def _deadline_of(campaign: CampaignConfig) -> dict[str, tuple[str, dt.datetime]]:
    out: dict[str, tuple[str, dt.datetime]] = {}
    for d in campaign.deadlines:
        for k in d.requires.kinds:
            out[k] = (d.id, d.due_at)
    return out


def snapshot_times(rng: np.random.Generator, b: Behaviour, district: str) -> dict[str, tuple[dt.datetime, str]]:
    out: dict[str, tuple[dt.datetime, str]] = {}
    for kind in SNAPSHOT_KINDS:
        out[kind] = (_office_time(rng, dt.date(2021, 7, 22), dt.date(2021, 7, 27)), "on_time")
    if district in b.last_minute:
        kinds = ["target_list", "staff", "vaccine_stock", "training"]
        for kind in kinds[: int(rng.integers(2, 4))]:
            out[kind] = (_at(dt.date(2021, 7, 28), int(rng.integers(8 * 60 + 5, 23 * 60 + 30))), "last_minute")
    if district in b.late:
        kinds = ["target_list", "communication", "staff", "infrastructure"]
        for kind in kinds[: int(rng.integers(2, 5))]:
            day = dt.date(2021, 7, 29) + dt.timedelta(days=int(rng.integers(0, 2)))
            out[kind] = (_at(day, int(rng.integers(7 * 60, 22 * 60))), "late")
    return out


# ---------------------------------------------------------------------------------------------------------
# The whole campaign
# ---------------------------------------------------------------------------------------------------------


def _slug(text: str) -> str:
    return "-".join(fold(text).replace("'", "").split())


def _admin_sets(communes: pd.DataFrame) -> tuple[set[str], set[str], list[str]]:
    """Communes that collide once diacritics are dropped, those ambiguous even as officially written,
    and invented names that are no commune of the province."""
    units = get_admin_units()
    colliding, self_amb = set(), set()
    for c in communes.itertuples():
        if units.lookup(strip_diacritics(c.name), "commune", c.district_code).status == "ambiguous":
            colliding.add(c.code)
        if units.lookup(c.name, "commune", c.district_code).status == "ambiguous":
            self_amb.add(c.code)
    province = {fold(s) for s in communes["short_name"]} | {fold(s) for s in communes["name"]}
    unknown = []
    for name in dfx.NOT_A_COMMUNE:
        short = name.split(" ", 1)[1] if name.split(" ", 1)[0] in ("Xã", "Phường") else name
        if fold(name) not in province and fold(short) not in province:
            unknown.append(name)
    return colliding, self_amb, unknown


def _choose_target_layouts(rng: np.random.Generator, districts: list[str], colliding_districts: set[str]) -> dict[str, Layout]:
    names = list(TARGET_LIST_LAYOUTS)
    while len(names) < len(districts):
        names.append(names[len(names) % len(TARGET_LIST_LAYOUTS)])
    names = [str(x) for x in rng.permutation(names[: len(districts)])]
    chosen = dict(zip(districts, names, strict=True))
    # Districts whose commune names collide need the commune-code column (official or national layout).
    for d in sorted(colliding_districts):
        if chosen.get(d) not in ("xlsx_official", "xlsx_national"):
            swap = next(k for k, v in chosen.items() if v in ("xlsx_official", "xlsx_national") and k not in colliding_districts)
            chosen[d], chosen[swap] = chosen[swap], chosen[d]
    return {d: LAYOUTS[n] for d, n in chosen.items()}


def _other_layout(rng: np.random.Generator, kind: str, district: str, colliding_districts: set[str]) -> Layout:
    pool = OTHER_LAYOUTS + (["xlsx_sexmarks"] if kind in SEX_KINDS else [])
    name = pool[int(rng.integers(0, len(pool)))]
    if name == "csv_ascii" and district in colliding_districts:
        name = "csv_utf8"
    return LAYOUTS[name]


def _plant_target_defects(rng: np.random.Generator, entries: pd.DataFrame, layouts: dict[str, Layout],
                          columns: dict[str, list[OutCol]], colliding: set[str], self_amb: set[str],
                          rate: float) -> np.ndarray:
    codes, uniques = pd.factorize(entries["_listed_district"].to_numpy(dtype=object))

    def per_row(f) -> np.ndarray:
        """A per-file trait spread over the file's rows (computed per district, taken by index)."""
        table = np.array([f(layouts[d], {c.name for c in columns[d] if c.role == "data"}) for d in uniques],
                         dtype=object)
        return table[codes]

    traits = pd.DataFrame({
        "fmt": per_row(lambda lay, cols: lay.fmt), "encoding": per_row(lambda lay, cols: lay.encoding or ""),
        "numeric_ids": per_row(lambda lay, cols: lay.numeric_ids).astype(bool),
        "numeric_phones": per_row(lambda lay, cols: lay.numeric_phones).astype(bool),
        "date_style": per_row(lambda lay, cols: lay.effective_date_style),
        "has_commune_code": per_row(lambda lay, cols: "commune_code" in cols).astype(bool),
        "sex_marks": per_row(lambda lay, cols: lay.sex_style == "marks").astype(bool),
        "has_insurance": per_row(lambda lay, cols: "insurance_number" in cols).astype(bool),
    })
    traits.attrs["colliding"] = colliding
    traits.attrs["self_ambiguous"] = self_amb
    eligible = dfx.eligibility(entries, traits)
    # a defect needs its column in the file (optional columns are left out of some layouts)
    for code in list(eligible):
        for col in (dfx.CATALOGUE[code].column, *dfx.ALSO_NEEDS.get(code, ())):
            if col:
                eligible[code] = eligible[code] & per_row(lambda lay, cols, col=col: col in cols).astype(bool)
    total = max(len(dfx.TARGET_LIST_CELL_CODES), int(round(rate * len(entries))))
    return dfx.choose(rng, eligible, total, entries["full_name"].to_numpy(dtype=object))


def generate_campaign(out_dir: Path, *, people: int = 50_000, seed: int = 2021, defect_rate: float = 0.025,
                      campaign: CampaignConfig | None = None) -> Manifest:
    """Write a whole synthetic campaign under `out_dir` and return its manifest (also `manifest.json`).

    Same seed, people, rate and campaign -> byte-identical files and manifest."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    campaign = campaign or load_campaign()
    rng = np.random.Generator(np.random.PCG64(seed))
    world = gen.build_world(people, seed, campaign, rng=rng)
    colliding, self_amb, unknown = _admin_sets(world.communes)
    colliding_districts = set(world.communes.loc[world.communes.code.isin(colliding), "district_code"])
    manifest = Manifest(seed=seed, people=people, defect_rate=defect_rate, campaign=campaign.campaign.id,
                        catalogue=[asdict(s) for s in dfx.CATALOGUE.values()])
    ctx = Context(out_dir, campaign, world.districts, world.communes, colliding, self_amb, unknown, manifest)
    districts = list(world.districts["code"])
    behaviour = plan_behaviour(rng, districts)
    deadline_of = _deadline_of(campaign)

    # target-list layouts first: the defect plan depends on them
    tl_layouts = _choose_target_layouts(rng, districts, colliding_districts)
    tl_spec = load_input_kinds()["target_list"]
    tl_columns = {d: choose_columns(tl_spec, tl_layouts[d], rng) for d in districts}
    entries = world.entries
    entries["_defect"] = _plant_target_defects(rng, entries, tl_layouts, tl_columns, colliding, self_amb, defect_rate)

    for d in districts:
        d_name, d_short, _ = _district_info(ctx, d)
        base = out_dir / "districts" / f"{d}-{_slug(d_short)}"
        times = snapshot_times(rng, behaviour, d)
        fac = world.facilities[world.facilities.district_code == d]
        for kind in SNAPSHOT_KINDS:
            planned, status = times[kind]
            due = deadline_of.get(kind)
            if behaviour.missing == (d, kind):
                manifest.schedule.append(ScheduleEntry(d, kind, None, None, "missing", due[0] if due else None,
                                                       due[1].isoformat() if due else None, False))
                continue
            layout = tl_layouts[d] if kind == "target_list" else _other_layout(rng, kind, d, colliding_districts)
            ext = "xlsx" if layout.fmt == "xlsx" else "csv"
            jobs: list[Job] = []
            if kind == "facilities":
                frame = _facility_frame(ctx, fac, layout)
                if d == behaviour.rejected:
                    first = planned - dt.timedelta(days=2)
                    jobs.append(Job(d, kind, frame, layout, base / f"facilities.v1.{ext}", planned=first,
                                    status="rejected_version", version=1, drop_column="vaccination_tables"))
                    jobs.append(Job(d, kind, frame, layout, base / f"facilities.v2.{ext}", planned=planned,
                                    status=status, version=2))
                else:
                    jobs.append(Job(d, kind, frame, layout, base / f"facilities.{ext}", planned=planned, status=status))
            elif kind == "infrastructure":
                infra = world.infrastructure[world.infrastructure.district_code == d]
                for r in infra[infra["_missing"]].itertuples():
                    manifest.defects.append(DefectRecord("infrastructure_missing_facility", "readiness", None, d, kind,
                                                         None, note=f"facility {r.facility_code} not in the file"))
                jobs.append(Job(d, kind, infra[~infra["_missing"]], layout, base / f"infrastructure.{ext}",
                                planned=planned, status=status))
            elif kind == "training":
                jobs.append(Job(d, kind, world.training[world.training.district_code == d], layout,
                                base / f"training.{ext}", planned=planned, status=status))
            elif kind == "communication":
                comm = world.communication[world.communication.district_code == d].copy()
                names = comm["commune_name"]
                comm["commune_name"] = _commune_cells(names, comm["_commune_short"], layout.commune_style)
                comm = _blank_self_ambiguous(ctx, comm, "_commune_code", "commune_name")
                jobs.append(Job(d, kind, comm, layout, base / f"communication.{ext}", planned=planned, status=status))
            elif kind == "staff":
                st = world.staff[world.staff.district_code == d]
                if d in behaviour.per_facility_staff:
                    for f_code, part in st.groupby("facility_code", sort=True):
                        jobs.append(Job(d, kind, part, replace(layout, sheet=f_code), base / "staff" / f"{f_code}.{ext}",
                                        facility=str(f_code), planned=planned, status=status))
                else:
                    jobs.append(Job(d, kind, st, layout, base / f"staff.{ext}", planned=planned, status=status))
            elif kind == "target_list":
                e = entries[entries["_listed_district"] == d]
                jobs.append(Job(d, kind, target_list_frame(ctx, e, d, layout), layout, base / f"target_list.{ext}",
                                planned=planned, status=status, cols=tl_columns[d]))
            elif kind == "vaccine_stock":
                jobs.append(Job(d, kind, world.stock[world.stock.district_code == d], layout,
                                base / f"vaccine_stock.{ext}", planned=planned, status=status))
            for job in jobs:
                entry = emit(ctx, job, rng)
                on_time = None if not due else job.planned < due[1]
                manifest.schedule.append(ScheduleEntry(d, kind, entry.path, entry.planned_upload_at, job.status,
                                                       due[0] if due else None, due[1].isoformat() if due else None,
                                                       on_time if job.status != "rejected_version" else False))
        # events: vaccinations in two files (days 1-2, day 3), AEFI and backfill once
        _emit_events(ctx, world, d, base, behaviour, rng, colliding_districts)

    for a in world.anomalies:  # truths without a row to point at
        f = next((x.path for x in manifest.files if x.district == a["district"] and x.kind == a["kind"]), None)
        manifest.defects.append(DefectRecord(a["code"], "readiness", None, a["district"], a["kind"], f,
                                             note=a.get("note", "") + (f" ({a['facility']})" if a.get("facility") else "")))
    manifest.duplicates = _duplicate_truth(ctx, entries)
    manifest.schedule.sort(key=lambda s: (s.planned_upload_at or "9999", s.district, s.kind))
    (out_dir / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def _emit_events(ctx: Context, world: gen.World, d: str, base: Path, b: Behaviour, rng: np.random.Generator,
                 colliding_districts: set[str]) -> None:
    days = world.session_days
    vac = world.vaccinations[world.vaccinations.district_code == d].copy()
    vac["_event_defect"] = ""
    part1 = vac[vac["_day"] <= 1].reset_index(drop=True)
    part2 = vac[vac["_day"] == 2].reset_index(drop=True)
    if d in b.unknown_facility and len(part1):
        i = int(rng.integers(0, len(part1)))
        part1.loc[i, "facility_code"] = f"64{d}-TYT-99"
        part1.loc[i, "_event_defect"] = "facility_code_unknown"
    if d in b.repeat_events and len(part1) >= 3:
        again = part1[part1["_event_defect"] == ""].sample(n=min(5, len(part1) - 1), random_state=rng).copy()
        again["_event_defect"] = "event_repeat_row"
        part2 = pd.concat([again, part2], ignore_index=True)
    layout = _other_layout(rng, "vaccinations", d, colliding_districts)
    ext = "xlsx" if layout.fmt == "xlsx" else "csv"
    for k, (part, day) in enumerate([(part1, days[1]), (part2, days[2])], start=1):
        planned = _at(day, int(rng.integers(18 * 60, 22 * 60 + 30)))
        if d in b.late:
            planned += dt.timedelta(days=1)
        entry = emit(ctx, Job(d, "vaccinations", part, layout, base / f"vaccinations-{k}.{ext}", planned=planned,
                              status="event_late" if d in b.late else "event"), rng)
        ctx.manifest.schedule.append(ScheduleEntry(d, "vaccinations", entry.path, entry.planned_upload_at, entry.status,
                                                   None, None, None))
    after = days[-1] + dt.timedelta(days=1)
    aefi = world.aefi[world.aefi.district_code == d]
    layout = _other_layout(rng, "aefi", d, colliding_districts)
    ext = "xlsx" if layout.fmt == "xlsx" else "csv"
    entry = emit(ctx, Job(d, "aefi", aefi, layout, base / f"aefi.{ext}", planned=_at(after, int(rng.integers(8 * 60, 17 * 60))),
                          status="event"), rng)
    ctx.manifest.schedule.append(ScheduleEntry(d, "aefi", entry.path, entry.planned_upload_at, "event", None, None, None))
    back = _blank_self_ambiguous(ctx, world.backfill[world.backfill.district_code == d].copy(), "_commune_code", "commune_name")
    layout = _other_layout(rng, "backfill", d, colliding_districts)
    ext = "xlsx" if layout.fmt == "xlsx" else "csv"
    back["commune_name"] = _commune_cells(back["commune_name"], back["_commune_short"], layout.commune_style)
    entry = emit(ctx, Job(d, "backfill", back, layout, base / f"backfill.{ext}",
                          planned=_at(after + dt.timedelta(days=1), int(rng.integers(8 * 60, 17 * 60))), status="event"), rng)
    ctx.manifest.schedule.append(ScheduleEntry(d, "backfill", entry.path, entry.planned_upload_at, "event", None, None, None))


def _duplicate_truth(ctx: Context, entries: pd.DataFrame) -> list[dict]:
    """Which target-list rows are the same person: listed twice in a district, by two districts, or an
    exact copy of a row. Each cluster: the person, how it arose, and every row (file, sheet, row)."""
    if not ctx.placements:
        return []
    dup = entries["_dup"].to_numpy(dtype=object) != ""
    copied = np.concatenate([ids[cp] for _, _, ids, _, cp in ctx.placements])
    eid = entries["entry_id"].to_numpy()
    pk = entries["person_key"].to_numpy()
    people = np.unique(pk[dup | np.isin(eid, copied)])
    wanted = eid[np.isin(pk, people)]  # integer isin: cheap even on a million rows
    place = pd.concat([pd.DataFrame({"entry_id": ids[m], "file": f, "sheet": sh, "row_number": rn[m], "copy": cp[m]})
                       for f, sh, ids, rn, cp in ctx.placements for m in [np.isin(ids, wanted)]], ignore_index=True)
    ent = entries.loc[np.isin(pk, people), ["entry_id", "person_key", "_dup", "_listed_district", "_variation"]]
    rows = ent.merge(place, on="entry_id")
    rows["variation"] = np.where(rows["copy"], "exact_copy", rows["_variation"].fillna(""))
    rows["how"] = np.where(rows["copy"], "exact_copy",
                           np.where(rows["_dup"].str.startswith("cross"), "cross_district",
                                    np.where(rows["_dup"].eq("within"), "within_district", "")))
    rows = rows.sort_values(["person_key", "file", "row_number"], kind="stable")
    out = []
    for person, g in rows.groupby("person_key", sort=True):  # a few thousand clusters at most
        if len(g) < 2:
            continue
        out.append({"person": f"P{int(person):07d}", "kinds": sorted({h for h in g["how"] if h}),
                    "rows": [{"file": f, "sheet": None if pd.isna(sh) else sh, "row_number": int(r), "district": str(d),
                              "variation": v or None}
                             for f, sh, r, d, v in zip(g["file"], g["sheet"], g["row_number"], g["_listed_district"],
                                                       g["variation"], strict=True)]})
    return out


# ---------------------------------------------------------------------------------------------------------
# One big target list, fast (benchmarks)
# ---------------------------------------------------------------------------------------------------------


def generate_target_list_file(path: Path, rows: int, seed: int = 2021, *, district: str = "622",
                              defect_rate: float = 0.025, layout: str = "csv_bom",
                              campaign: CampaignConfig | None = None) -> Manifest:
    """One district's target list of `rows` people as one file in any layout of `LAYOUTS` (default: CSV,
    UTF-8 with BOM; "xlsx_official" etc. for a workbook, up to Excel's 1,048,576 rows), with the same
    cell defects and within-district duplicates as the demo; returns its manifest (not written)."""
    path = Path(path)
    campaign = campaign or load_campaign()
    rng = np.random.Generator(np.random.PCG64(seed))
    districts, communes = gen._prepare_admin(campaign)
    one = districts[districts.code == district].reset_index(drop=True)
    comm = communes[communes.district_code == district].reset_index(drop=True)
    people = gen._people(rng, rows, one, comm, None, campaign.campaign.campaign_date)
    entries = gen._entries(rng, people, one, comm, rate_cross=0.0)
    del people  # a million rows: keep one copy of the columns, not two
    colliding, self_amb, unknown = _admin_sets(communes)
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {sorted(LAYOUTS)}")
    lay = LAYOUTS[layout]
    cols = choose_columns(load_input_kinds()["target_list"], lay, rng)
    entries["_defect"] = _plant_target_defects(rng, entries, {district: lay}, {district: cols}, colliding, self_amb,
                                               defect_rate)
    manifest = Manifest(seed=seed, people=rows, defect_rate=defect_rate, campaign=campaign.campaign.id)
    ctx = Context(path.parent, campaign, districts, communes, colliding, self_amb, unknown, manifest)
    frame = target_list_frame(ctx, entries, district, lay)
    entries = entries[["entry_id", "person_key", "_dup", "_listed_district", "_variation"]]  # all the truth needs
    emit(ctx, Job(district, "target_list", frame, lay, path, planned=None, status="benchmark", cols=cols), rng)
    del frame
    manifest.duplicates = _duplicate_truth(ctx, entries)
    return manifest


def generate_province_target_lists(out_dir: Path, people: int, seed: int = 2021, *, defect_rate: float = 0.025,
                                   layout: str = "csv_bom", campaign: CampaignConfig | None = None) -> Manifest:
    """The whole province's target lists, fast: one file per district in one layout of `LAYOUTS`
    (default: CSV, UTF-8 with BOM) at `out_dir/districts/<code>-<slug>/target_list.<ext>`, as
    `generate_campaign` names them, with the same people, within- and cross-district duplicates and cell
    defects as the demo, and nothing else (no other kind, no schedule). Returns the manifest (`files`,
    `defects`, `duplicates`), also written to `out_dir/manifest.json`. Same arguments -> same bytes."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    campaign = campaign or load_campaign()
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {sorted(LAYOUTS)}")
    lay = LAYOUTS[layout]
    rng = np.random.Generator(np.random.PCG64(seed))
    districts, communes = gen._prepare_admin(campaign)
    ppl = gen._people(rng, people, districts, communes, None, campaign.campaign.campaign_date)
    entries = gen._entries(rng, ppl, districts, communes)  # the demo's within- and cross-district rates
    del ppl  # a million rows: keep one copy of the columns, not two
    colliding, self_amb, unknown = _admin_sets(communes)
    codes = [str(d) for d in districts["code"]]
    spec = load_input_kinds()["target_list"]
    cols = {d: choose_columns(spec, lay, rng) for d in codes}
    entries["_defect"] = _plant_target_defects(rng, entries, dict.fromkeys(codes, lay), cols, colliding, self_amb,
                                               defect_rate)
    manifest = Manifest(seed=seed, people=people, defect_rate=defect_rate, campaign=campaign.campaign.id,
                        catalogue=[asdict(s) for s in dfx.CATALOGUE.values()])
    ctx = Context(out_dir, campaign, districts, communes, colliding, self_amb, unknown, manifest)
    ext = "xlsx" if lay.fmt == "xlsx" else "csv"
    listed = entries["_listed_district"].to_numpy(dtype=object)
    for d in codes:
        _, d_short, _ = _district_info(ctx, d)
        frame = target_list_frame(ctx, entries[listed == d], d, lay)
        path = out_dir / "districts" / f"{d}-{_slug(d_short)}" / f"target_list.{ext}"
        emit(ctx, Job(d, "target_list", frame, lay, path, planned=None, status="benchmark", cols=cols[d]), rng)
        del frame
    entries = entries[["entry_id", "person_key", "_dup", "_listed_district", "_variation"]]  # all the truth needs
    manifest.duplicates = _duplicate_truth(ctx, entries)
    (out_dir / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
    return manifest
