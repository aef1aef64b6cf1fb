"""Blank Excel templates, one per input kind, generated from the column specification.

What a district clerk gets: a title, one instruction line, the header row (required columns marked
`(*)`), dropdowns for coded columns, ID and phone columns formatted as text so Excel keeps their leading
zeros, date columns as dd/mm/yyyy, and a second sheet that explains every column.
"""

from __future__ import annotations

from pathlib import Path

import xlsxwriter

from campaign.config import load_campaign
from campaign.config_kinds import ColumnSpec, InputKinds, KindSpec, load_input_kinds
from campaign.vocabulary import kind_label

TEXT_TYPES = {"phone", "id_number", "insurance_number", "facility_code", "admin_code"}
HEADER_ROW = 3  # 0-based: title, instruction, blank, header
EXPECTED_FORM = {
    "text": "chữ",
    "integer": "số nguyên",
    "decimal": "số (dấu chấm thập phân)",
    "date": "ngày dạng dd/mm/yyyy",
    "datetime": "ngày giờ dạng dd/mm/yyyy hh:mm",
    "boolean": "Có / Không",
    "enum": "một giá trị trong danh sách",
    "phone": "số di động 10 chữ số, ví dụ 0912345678",
    "id_number": "CMND 9 số hoặc CCCD 12 số",
    "insurance_number": "mã thẻ BHYT 15 ký tự hoặc 10 chữ số",
    "facility_code": "mã cơ sở tiêm chủng",
    "admin_code": "mã đơn vị hành chính (GSO)",
}


def expected_form(column: ColumnSpec, kinds: InputKinds) -> str:
    if column.name == "sex":
        return "0 (nam) hoặc 1 (nữ), hoặc Nam / Nữ"
    if column.name == "priority_group":
        return "mã nhóm ưu tiên từ 1 đến 16"
    if column.type == "enum" and column.enum:
        labels = [v.label for v in kinds.enums[column.enum].values()]
        return "một trong: " + ", ".join(labels)
    return EXPECTED_FORM[column.type]


def write_template(kind: KindSpec, kinds: InputKinds, path: Path, *, rows: int = 2000) -> Path:
    campaign = load_campaign()
    wb = xlsxwriter.Workbook(str(path))
    try:
        title = wb.add_format({"bold": True, "font_size": 14})
        note = wb.add_format({"italic": True, "font_color": "#555555"})
        header = wb.add_format({"bold": True, "text_wrap": True, "valign": "vcenter", "border": 1, "bg_color": "#DDEBF7"})
        required = wb.add_format({"bold": True, "text_wrap": True, "valign": "vcenter", "border": 1, "bg_color": "#FCE4D6"})
        as_text = wb.add_format({"num_format": "@"})
        as_date = wb.add_format({"num_format": "dd/mm/yyyy"})
        as_datetime = wb.add_format({"num_format": "dd/mm/yyyy hh:mm"})

        ws = wb.add_worksheet("Du lieu")
        lists = wb.add_worksheet("Danh muc")
        lists.hide()
        ws.write(0, 0, f"{kind_label(kind.name).upper()} ({campaign.province.name}, {campaign.campaign.directive}, mục {kind.section})", title)
        ws.write(1, 0, "Cột có dấu (*) là bắt buộc. Không sửa tên cột. Ngày ghi dạng dd/mm/yyyy. "
                       "Xem giải thích từng cột ở trang «Huong dan».", note)
        ws.write(HEADER_ROW, 0, "STT", header)
        ws.set_column(0, 0, 6)
        list_col = 0
        for i, col in enumerate(kind.columns, start=1):
            ws.write(HEADER_ROW, i, col.template_header, required if col.required else header)
            width = 14 if col.type in {"date", "integer", "decimal", "enum"} else 22
            fmt = as_text if col.type in TEXT_TYPES else as_date if col.type == "date" else (
                as_datetime if col.type == "datetime" else None)
            ws.set_column(i, i, width, fmt)
            first, last = HEADER_ROW + 1, HEADER_ROW + rows
            if col.type == "enum" and col.enum:
                labels = [v.label for v in kinds.enums[col.enum].values()]
                if col.name == "sex":
                    labels = ["0", "1", *labels]
                for r, label in enumerate(labels):
                    lists.write_string(r, list_col, label)
                letter = xlsxwriter.utility.xl_col_to_name(list_col)
                ws.data_validation(first, i, last, i, {
                    "validate": "list", "source": f"='Danh muc'!${letter}$1:${letter}${len(labels)}",
                    "error_title": "Giá trị không hợp lệ", "error_message": expected_form(col, kinds)[:255],
                })
                list_col += 1
            elif col.name == "priority_group":
                ws.data_validation(first, i, last, i, {"validate": "integer", "criteria": "between",
                                                       "minimum": 1, "maximum": 16,
                                                       "error_message": "Mã nhóm ưu tiên từ 1 đến 16"})
        ws.set_row(HEADER_ROW, 36)
        ws.freeze_panes(HEADER_ROW + 1, 1)

        guide = wb.add_worksheet("Huong dan")
        guide.write_row(0, 0, ["Cột", "Bắt buộc", "Cách ghi"], header)
        guide.set_column(0, 0, 36)
        guide.set_column(1, 1, 10)
        guide.set_column(2, 2, 80)
        for r, col in enumerate(kind.columns, start=1):
            guide.write_row(r, 0, [col.header, "Có" if col.required else "", expected_form(col, kinds)])
    finally:
        wb.close()
    return path


def write_templates(directory: Path) -> list[Path]:
    """One template per input kind, named `<kind>.xlsx`."""
    directory.mkdir(parents=True, exist_ok=True)
    kinds = load_input_kinds()
    return [write_template(spec, kinds, directory / f"{name}.xlsx") for name, spec in kinds.kinds.items()]
