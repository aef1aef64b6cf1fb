"""How a district's file looks: the layouts, the headers each style writes, the columns a file of each
layout shows, and which layout each district's files get.

Layouts (see docs/synthetic-data.md): xlsx with agency/title/instruction rows, `STT`/`#` columns,
`(*)` and noted headers, the national platform's two-row subject-list header, Nam/Nữ mark columns,
blank rows, repeated headers, totals and signature rows, an instruction sheet; CSV in UTF-8 with or
without BOM and in Windows-1258 (decomposed diacritics). Target lists also come with the headings real
clerks type (`CLERK_HEADINGS`: `NAM/NỮ`, `NS`, `GT`, `ĐT`, `Số CCCD/CMND`, split names `Họ và tên đệm` +
`Tên`, unknown columns holding data)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

from campaign.config_kinds import ColumnSpec, KindSpec
from campaign.synth.names import strip_diacritics


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

# What header style "noted" adds below a heading, as templates explain a column to the clerk.
NOTES = {
    "birth_date": "dd/mm/yyyy", "phone": "10 số", "priority_group": "từ 1 đến 16", "id_number": "8, 9 hoặc 12 số",
    "insurance_number": "10 hoặc 15 ký tự", "vaccination_tables": "bàn", "training_date": "ngày/tháng/năm",
    "completed": "Có/Không", "session_date": "dd/mm/yyyy", "session_part": "Sáng/Chiều", "expiry_date": "dd/mm/yyyy",
    "doses_per_vial": "liều", "latitude": "độ thập phân", "longitude": "độ thập phân", "internet_available": "Có/Không",
    "phone_in_charge": "di động", "full_name": "viết có dấu", "vaccinated_at": "giờ:phút",
}
# The national platform's template: the group over each column of its two-row header, then the headings.
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


# One target-list layout per district (shuffled): every variant at least once, the national one often,
# four districts with clerks' headings (the split-name sets are for the heading tests: one name column
# per file keeps the demo's per-cell accounting simple).
TARGET_LIST_LAYOUTS = ["xlsx_national", "xlsx_national", "xlsx_national", "xlsx_official", "xlsx_official",
                       "xlsx_noted", "xlsx_clerk_mobile", "xlsx_plain", "xlsx_english", "xlsx_sexmarks", "xlsx_upper",
                       "csv_bom", "csv_clerk_short", "csv_utf8", "csv1258_clerk_caps", "csv_1258", "xlsx_clerk_caps"]
OTHER_LAYOUTS = ["xlsx_official", "xlsx_noted", "xlsx_plain", "xlsx_english", "xlsx_upper", "csv_bom", "csv_utf8",
                 "csv_1258", "csv_ascii"]
# Kinds with a sex column: only they may come with Nam / Nữ mark columns.
SEX_KINDS = {"vaccinations", "aefi", "backfill"}


def choose_target_layouts(rng: np.random.Generator, districts: list[str], colliding_districts: set[str]) -> dict[str, Layout]:
    """Each district's target-list layout, shuffled from `TARGET_LIST_LAYOUTS`."""
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


def other_layout(rng: np.random.Generator, kind: str, district: str, colliding_districts: set[str]) -> Layout:
    """A layout for any other kind's file (no ASCII-only file where commune names collide without diacritics)."""
    pool = OTHER_LAYOUTS + (["xlsx_sexmarks"] if kind in SEX_KINDS else [])
    name = pool[int(rng.integers(0, len(pool)))]
    if name == "csv_ascii" and district in colliding_districts:
        name = "csv_utf8"
    return LAYOUTS[name]
