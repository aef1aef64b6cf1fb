"""Workbooks as districts send them: agency and title rows, one- or two-row (merged) headers, a numbering
row, blank rows, totals and signature rows, an instruction sheet. Written with xlsxwriter and a fixed
creation date, so the same seed gives byte-identical files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import xlsxwriter

from campaign.config_kinds import KindSpec
from campaign.synth.files.layouts import Layout, OutCol
from campaign.synth.files.structure import Written, insert_plan, totals_row
from campaign.vocabulary import kind_label

FIXED_CREATED = dt.datetime(2021, 7, 20, 8, 0, 0)


def title_lines(layout: Layout, kind_label: str, district_name: str, district_type: str) -> list[list[tuple[int, str]]]:
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


def footer_lines(district_name: str, when: dt.date) -> list[list[tuple[int, str]]]:
    return [[], [(4, f"{district_name}, ngày {when.day} tháng {when.month} năm {when.year}")],
            [(1, "NGƯỜI LẬP BIỂU"), (4, "GIÁM ĐỐC")], [(1, "(Ký, ghi rõ họ tên)"), (4, "(Ký tên, đóng dấu)")]]


def write_xlsx(path: Path, cols: list[OutCol], cells: list[np.ndarray], n: int, layout: Layout, spec: KindSpec,
               rng: np.random.Generator, titles: list[list[tuple[int, str]]],
               footer: list[list[tuple[int, str]]]) -> Written:
    # Constant-memory mode streams rows to temporary files: worth it for big sheets only (a small one
    # is faster in memory, where xlsxwriter skips the temporary files altogether).
    big = n * len(cols) > 400_000
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": big, "in_memory": not big, "strings_to_urls": False,
                                         "strings_to_formulas": False, "strings_to_numbers": False})
    wb.set_properties({"created": FIXED_CREATED, "author": "Trung tâm Y tế", "title": kind_label(spec.name)})
    f_title = wb.add_format({"bold": True, "font_name": "Times New Roman", "font_size": 13})
    f_head = wb.add_format({"bold": True, "text_wrap": True, "border": 1, "align": "center", "valign": "vcenter",
                            "font_name": "Times New Roman"})
    f_date = wb.add_format({"num_format": "dd/mm/yyyy"})
    f_dt = wb.add_format({"num_format": "dd/mm/yyyy hh:mm"})
    f_bold = wb.add_format({"bold": True})
    if layout.instruction_sheet:
        ws0 = wb.add_worksheet("Hướng dẫn")
        for i, line in enumerate([f"HƯỚNG DẪN NHẬP {kind_label(spec.name).upper()}",
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
    plan = insert_plan(rng, n, layout)
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
        for j, v in enumerate(totals_row(cols, cells, n, "xlsx", spec)):
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
