"""Hostile files (issue 18): tiny files that asked the reader for gigabytes, values longer than their
columns, mixed encodings, names with emoji, BOMs and full-width letters.

The workbooks are built byte by byte (zipfile, BIFF records) so that each holds exactly the hostile part;
a read that could exhaust memory runs in a child process under an address-space cap (RLIMIT_AS) and a
timeout: before the fix these children aborted (SIGABRT: "memory allocation of 549755813888 bytes
failed") or died of MemoryError instead of answering with a refusal.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import struct
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from campaign.config import load_campaign
from campaign.domain.standardize import clean_names, clean_text
from campaign.intake.rules import IntakeRequest, UsageError
from campaign.intake.run import run_intake
from campaign.io.reader import ReadError, read_submission
from campaign.io.sniff import ReadError as SniffReadError
from campaign.settings import Settings
from campaign.store.models import KIND_TABLES, QuarantineRow, RowIssue, StoredFile, Submission
from tests.test_reader import _biff8_workbook, _biff_record, _ole2_file

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
LIMITS = {"max_bytes": 50 * MB, "max_rows": 1_000_000}
HEADER = ["STT", "Họ và tên", "Ngày sinh", "Giới tính", "Mã nhóm đối tượng ưu tiên", "Số điện thoại", "Xã/Phường"]
ROW = ["1", "Nguyễn Văn An", "25/05/1980", "0", "9", "0912345678", "Ia Blang"]
NOW = dt.datetime(2021, 7, 28, 8, tzinfo=dt.timezone(dt.timedelta(hours=7)))


# ---------------------------------------------------------------------------------------------------------
# Builders: the smallest files that hold the hostile part
# ---------------------------------------------------------------------------------------------------------


def col_name(j: int) -> str:
    s, j = "", j + 1
    while j:
        j, r = divmod(j - 1, 26)
        s = chr(65 + r) + s
    return s


def inline_cell(ref: str | None, text: str) -> str:
    r = f' r="{ref}"' if ref else ""
    return f'<c{r} t="inlineStr"><is><t>{escape(text)}</t></is></c>'


def sheet_xml(rows: list[list[str]], *, extra_rows: str = "", dimension: str | None = None) -> str:
    body = "".join(f'<row r="{i + 1}">' + "".join(inline_cell(f"{col_name(j)}{i + 1}", v) for j, v in enumerate(r))
                   + "</row>" for i, r in enumerate(rows))
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
            f'spreadsheetml/2006/main">{dim}<sheetData>{body}{extra_rows}</sheetData></worksheet>')


def xlsx_file(path: Path, sheet: str, *, name: str = "DS") -> Path:
    """A workbook of one sheet whose XML is `sheet`: content types, the two relationship parts, the
    workbook and the sheet, nothing else (~1.7 KB)."""
    return xlsx_sheets(path, [(name, sheet)])


def xlsx_sheets(path: Path, sheets: list[tuple[str, str]], *, parts: dict[str, str] | None = None) -> Path:
    """A workbook of the sheets (name, XML) in order, and any other `parts` (member: text)."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006"
    entries = "".join(f'<sheet name="{escape(name)}" sheetId="{i + 1}" r:id="rId{i + 1}"/>'
                      for i, (name, _xml) in enumerate(sheets))
    targets = "".join(f'<Relationship Id="rId{i + 1}" Type="{rel}/worksheet" Target="worksheets/sheet{i + 1}.xml"/>'
                      for i in range(len(sheets)))
    members = {
        "[Content_Types].xml": f'<?xml version="1.0"?><Types xmlns="{pkg}/content-types"><Default Extension="rels" '
                               'ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default '
                               'Extension="xml" ContentType="application/xml"/></Types>',
        "_rels/.rels": f'<?xml version="1.0"?><Relationships xmlns="{pkg}/relationships"><Relationship Id="rId1" '
                       f'Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<?xml version="1.0"?><workbook xmlns="{main}" xmlns:r="{rel}"><sheets>{entries}</sheets>'
                           '</workbook>',
        "xl/_rels/workbook.xml.rels": f'<?xml version="1.0"?><Relationships xmlns="{pkg}/relationships">{targets}'
                                      '</Relationships>',
        **{f"xl/worksheets/sheet{i + 1}.xml": xml for i, (_name, xml) in enumerate(sheets)},
        **(parts or {}),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for member, text in members.items():
            z.writestr(member, text)
    return path


def far_cell(ref: str) -> str:
    """One more row holding one cell at `ref` (its row element says row 3: the cell's own reference is
    what a reader follows)."""
    return f'<row r="3">{inline_cell(ref, "x")}</row>'


def xls_with_far_cell(path: Path, row: int, col: int) -> Path:
    stream = _biff8_workbook("DS", [HEADER, ROW])
    label = _biff_record(0x0204, struct.pack("<HHH", row, col, 15) + struct.pack("<HB", 1, 1) + "x".encode("utf-16-le"))
    path.write_bytes(_ole2_file(stream[:-4] + label + stream[-4:]))   # before the sheet's EOF
    return path


def _varint(n: int) -> bytes:
    out = b""
    while True:
        n, low = n >> 7, n & 0x7F
        out += bytes([low | (0x80 if n else 0)])
        if not n:
            return out


def _record(rtype: int, data: bytes = b"") -> bytes:
    return _varint(rtype) + _varint(len(data)) + data


def _wide(text: str) -> bytes:
    return struct.pack("<I", len(text)) + text.encode("utf-16-le")


def xlsb_file(path: Path, rows: list[list[str]], *, far: tuple[int, int] | None = None) -> Path:
    """A binary workbook (BIFF12 records): the sheet list, one sheet of string cells, and optionally one
    more cell at `far` (0-based row, column)."""
    cells = [(r, c, v) for r, row in enumerate(rows) for c, v in enumerate(row)] + ([(*far, "x")] if far else [])
    sheet_data = b""
    for r, c, v in cells:   # a row header (BrtRowHdr) before each cell (BrtCellSt) keeps it simple
        sheet_data += _record(0, struct.pack("<IIH", r, 0, 0x12C) + b"\0\0\0" + struct.pack("<I", 0))
        sheet_data += _record(6, struct.pack("<I", c) + b"\0" * 4 + _wide(v))
    dim = struct.pack("<IIII", 0, len(rows) - 1, 0, len(rows[0]) - 1)
    sheet = _record(129) + _record(148, dim) + _record(145) + sheet_data + _record(146) + _record(130)
    book = (_record(131) + _record(143) + _record(156, struct.pack("<II", 0, 1) + _wide("rId1") + _wide("DS"))
            + _record(144) + _record(132))
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    rels = ('<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
            'relationships"><Relationship Id="rId1" Type="{}" Target="{}"/></Relationships>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("_rels/.rels", rels.format(f"{rel}/officeDocument", "xl/workbook.bin"))
        z.writestr("xl/workbook.bin", book)
        z.writestr("xl/_rels/workbook.bin.rels", rels.format(f"{rel}/worksheet", "worksheets/sheet1.bin"))
        z.writestr("xl/worksheets/sheet1.bin", sheet)
    return path


def ods_file(path: Path, extra_rows: str = "", rows: tuple[list[str], ...] = (HEADER, ROW), *,
             more_tables: str = "") -> Path:
    def cell(v: str) -> str:
        return f'<table:table-cell office:value-type="string"><text:p>{escape(v)}</text:p></table:table-cell>'

    table = "".join("<table:table-row>" + "".join(map(cell, r)) + "</table:table-row>" for r in rows)
    content = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content '
               'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body>'
               f'<office:spreadsheet><table:table table:name="DS">{table}{extra_rows}</table:table>{more_tables}'
               '</office:spreadsheet></office:body></office:document-content>')
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                '<manifest:file-entry manifest:full-path="/" '
                'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/></manifest:manifest>')
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
    return path


# ---------------------------------------------------------------------------------------------------------
# A read in a child process with a memory cap
# ---------------------------------------------------------------------------------------------------------

CAPPED_READ = r"""
import json, resource, sys
cap = int(float(sys.argv[2]) * 2**30)
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
from campaign.io.reader import ReadError, read_submission
try:
    res = read_submission(sys.argv[1], "target_list", max_bytes=50 * 2**20, max_rows=1_000_000)
    print(json.dumps({"read": len(res.frame)}))
except ReadError as exc:
    print(json.dumps({"code": exc.code, "detail": exc.detail_vi}))
"""


def read_capped(path: Path, cap_gb: float = 1.5, timeout: float = 90) -> dict:
    """The read's answer from a child process limited to `cap_gb` of address space; a crash fails."""
    proc = subprocess.run([sys.executable, "-c", CAPPED_READ, str(path), str(cap_gb)], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, f"the read crashed ({proc.returncode}): {proc.stderr[-1500:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def read(path: Path, kind: str = "target_list"):
    return read_submission(path, kind, **LIMITS)


# ---------------------------------------------------------------------------------------------------------
# 1. A sheet that reaches far: refused from its own bytes before any reader builds it
# ---------------------------------------------------------------------------------------------------------

FAR = {
    # the 1.9 KB file that asked for 512 GB (SIGABRT), and the one that took 4.6 GB and 13 s
    "xfd1048576": (far_cell("XFD1048576"), None, "XFD1048576"),
    "zz200000": (far_cell("ZZ200000"), None, "ZZ200000"),
    # a row element far below, its cell placed by position (no r): 1M x 7 empty cells, 6 s and 630 MB
    "row-without-cell-refs": ('<row r="1048576"><c t="inlineStr"><is><t>x</t></is></c></row>', None, "G1048576"),
    # beyond Excel's last row / column: 8.5 s and 1.2 GB, then 42 s for ZZZZ3
    "past-the-last-row": (far_cell("A5000000"), None, "G5000000"),
    "past-the-last-column": (far_cell("ZZZZ3"), None, "ZZZZ3"),
}

# What Excel writes for formatting alone, which calamine does not lay out (it spans the cells holding
# something, and ignores <dimension>): ordinary files that must read as the data they hold. A reviewer found
# each refused as "too large" by a measure that counted them.
FORMATTED_ONLY = {
    "dimension-of-the-whole-sheet": ("", "A1:XFD1048576"),
    "formatted-empty-cell-at-xfd1048576": ('<row r="1048576"><c r="XFD1048576" s="1"/></row>', "A1:XFD1048576"),
    "custom-height-last-row": ('<row r="1048576" ht="30" customHeight="1"/>', None),
    "template-bordered-to-row-200000": ("".join(f'<row r="{r}"><c r="A{r}" s="2"/><c r="B{r}" s="2"/></row>'
                                                for r in range(3, 60_000, 7)) + '<row r="200000"><c r="AD200000" s="2"/></row>',
                                        "A1:AD200000"),
}


@pytest.mark.parametrize("case", list(FORMATTED_ONLY))
def test_formatting_far_from_the_data_is_not_a_sheet_too_large(tmp_path, case):
    extra, dimension = FORMATTED_ONLY[case]
    path = xlsx_file(tmp_path / f"{case}.xlsx", sheet_xml([HEADER, ROW], extra_rows=extra, dimension=dimension))
    got = read_capped(path)
    assert got == {"read": 1}, got


@pytest.mark.parametrize("case", list(FAR))
def test_a_sheet_reaching_far_is_refused_naming_the_cell_without_building_it(tmp_path, case):
    extra, dimension, corner = FAR[case]
    path = xlsx_file(tmp_path / f"{case}.xlsx", sheet_xml([HEADER, ROW], extra_rows=extra, dimension=dimension))
    assert path.stat().st_size < 2500
    got = read_capped(path)
    assert got.get("code") == "unreadable_file", got
    detail = got["detail"]
    assert f"trang «DS» kéo dài tới ô {corner}" in detail
    assert "xoá các dòng và cột trống thừa" in detail and "chép phần dữ liệu sang một trang mới" in detail


def test_cells_placed_by_position_are_measured_as_the_reader_places_them(tmp_path):
    # A writer that omits every reference: a sheet of ordinary size reads; 20,000 cells in one row (past
    # Excel's 16,384 columns, 5 s of per-column work before) is refused with the cell it reaches.
    plain = "".join("<row>" + "".join(inline_cell(None, v) for v in r) + "</row>" for r in (HEADER, ROW))
    ok = xlsx_file(tmp_path / "plain.xlsx", sheet_xml([], extra_rows=plain))
    assert read(ok).frame["full_name"].tolist() == ["Nguyễn Văn An"]
    wide = plain + "<row>" + inline_cell(None, "y") * 20_000 + "</row>"
    got = read_capped(xlsx_file(tmp_path / "wide.xlsx", sheet_xml([], extra_rows=wide)))
    assert "kéo dài tới ô ACOF3" in got["detail"], got


def test_an_ordinary_workbook_reads_as_before_and_knows_it_holds_no_formula(tmp_path):
    path = xlsx_file(tmp_path / "ok.xlsx", sheet_xml([HEADER, ROW, ["2", "Ksor H'Blang", "15/03/1975", "1", "10",
                                                                   "0351234567", "Ia Blang"]]))
    res = read(path)
    assert res.frame["full_name"].tolist() == ["Nguyễn Văn An", "Ksor H'Blang"]
    assert res.row_numbers.tolist() == [2, 3] and not res.formula_cells


def test_an_xls_cell_at_iv65536_is_refused_before_the_workbook_opens(tmp_path):
    # calamine lays out every sheet of an .xls when it opens it: 16.7M cells, 1.2 GB and 4 s for 4 KB
    got = read_capped(xls_with_far_cell(tmp_path / "far.xls", 65535, 255))
    assert "trang «DS» kéo dài tới ô IV65536" in got.get("detail", ""), got
    assert read(xls_with_far_cell(tmp_path / "near.xls", 3, 2)).frame["full_name"].tolist()[0] == "Nguyễn Văn An"


def test_an_xlsb_cell_at_xfd1048576_is_refused_before_the_sheet_is_built(tmp_path):
    got = read_capped(xlsb_file(tmp_path / "far.xlsb", [HEADER, ROW], far=(1_048_575, 16_383)))
    assert "trang «DS» kéo dài tới ô XFD1048576" in got.get("detail", ""), got
    assert read(xlsb_file(tmp_path / "ok.xlsb", [HEADER, ROW])).frame["full_name"].tolist() == ["Nguyễn Văn An"]


def test_an_ods_row_repeated_past_the_last_column_is_refused(tmp_path):
    cells = ('<table:table-row><table:table-cell office:value-type="string" '
             'table:number-columns-repeated="20000"><text:p>x</text:p></table:table-cell></table:table-row>')
    got = read_capped(ods_file(tmp_path / "wide.ods", cells))
    assert "trang «DS» kéo dài tới ô ACOF3" in got.get("detail", ""), got
    assert read(ods_file(tmp_path / "ok.ods")).frame["full_name"].tolist() == ["Nguyễn Văn An"]


def test_an_ods_cell_repeated_into_millions_is_measured_as_the_one_cell_it_is(tmp_path):
    # found by tests/test_fuzz_reader.py: 1 KB of XML, one cell repeated 16,000 times on 1,000 rows; the
    # reader expands it to 16 million cells (calamine aborted under the cap: "memory allocation failed")
    bomb = ('<table:table-row table:number-rows-repeated="1000"><table:table-cell office:value-type="string" '
            'table:number-columns-repeated="16000"><text:p>x</text:p></table:table-cell></table:table-row>')
    got = read_capped(ods_file(tmp_path / "bomb.ods", bomb))
    assert "trang «DS» kéo dài tới ô WQJ1002" in got.get("detail", ""), got


def test_a_csv_line_with_thousands_of_fields_is_refused_not_a_memory_error(tmp_path):
    # 100,000 ordinary records and one of 16,001 fields at the end: pandas was asked for a frame of
    # 100,001 x 16,001 cells and died of MemoryError
    path = tmp_path / "wide.csv"
    lines = [",".join(HEADER)] + [",".join([str(i), *ROW[1:]]) for i in range(100_000)] + ["," * 16_000 + "x"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    got = read_capped(path)
    assert got.get("code") == "unreadable_file", got
    assert "dòng 100.002 của tệp CSV có tới 16.001 cột (tới cột WQK)" in got["detail"]
    assert "dấu phân cách" in got["detail"]


def test_a_csv_header_wider_than_a_sheet_is_refused_before_reading_its_header(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(",".join(HEADER) + "\n" + ",".join(ROW) + "\n" + "," * 20_000 + "x\n", encoding="utf-8")
    with pytest.raises(ReadError) as info:
        read(path)
    assert "dòng 3 của tệp CSV có tới 20.001 cột" in info.value.detail_vi


# ---------------------------------------------------------------------------------------------------------
# 1b. The measure itself fooled (review of issue 18): every reader path, as its parser reads the file
# ---------------------------------------------------------------------------------------------------------

def cell_row(tag_attrs: str, row_attrs: str = "") -> str:
    """One more row holding one inline-string cell whose tag is `<c{tag_attrs}>`."""
    return f'<row{row_attrs}><c{tag_attrs} t="inlineStr"><is><t>x</t></is></c></row>'


def refused_at(path: Path, corner: str, cap_gb: float = 1.5) -> dict:
    got = read_capped(path, cap_gb)
    assert got.get("code") == "unreadable_file", got
    assert f"trang «DS» kéo dài tới ô {corner} (" in got["detail"], got
    return got


QUOTED = {
    # calamine (quick-xml) ends a tag at its first `>` outside quotes: `x="a>b"` hid the `r` from a
    # `[^>]*` regex, the cell was placed by position, calamine read XFD1048576: 512 GB, SIGABRT
    "quoted-gt": cell_row(' x="a>b" r="XFD1048576"'),
    # a tag naming `r` twice: calamine takes the last; the byte scan read the first
    "second-r": cell_row(' r="A3" x="a>b" r="XFD1048576"', ' r="3"'),
    "no-space-between-attributes": cell_row(' r="A3"t="s"r="XFD1048576"', ' r="3"'),
}


@pytest.mark.parametrize("case", list(QUOTED))
def test_a_quoted_gt_or_a_second_r_does_not_hide_where_a_cell_is(tmp_path, case):
    refused_at(xlsx_file(tmp_path / f"{case}.xlsx", sheet_xml([HEADER, ROW], extra_rows=QUOTED[case])), "XFD1048576")


def test_cells_with_a_long_prefix_placed_by_position_are_measured(tmp_path):
    # calamine reads `<abcdefgh:c>` as a cell (the name after the first colon); the byte scan looked for
    # prefixes of up to 7 letters: 16,000 such cells after row 200,000 were 3.2 billion cells to build
    cells = "<abcdefgh:c><abcdefgh:v>1</abcdefgh:v></abcdefgh:c>" * 16_000
    path = xlsx_file(tmp_path / "prefix.xlsx", sheet_xml([HEADER, ROW], extra_rows=f'<row r="200000">{cells}</row>'))
    assert path.stat().st_size < 5000
    refused_at(path, "WQJ200000")


PADDED = {
    # more than 9 digits: calamine reads leading zeros; the tokenizer's `\d{1,9}` placed the cell by
    # position (512 GB, SIGABRT) and the byte scan named a row past 10^12
    "tokenizer": (cell_row(' r="XFD0000000001048576"'), "XFD1048576"),
    "byte-scan": (cell_row(' r="ZZ0000000000200000"', ' r="3"'), "ZZ200000"),
    # 140 million cells built (4.4 GB) before the late backstop refused them, "0 ô có nội dung"
    "small": (cell_row(' r="ZZ0000000000200000"'), "ZZ200000"),
}


@pytest.mark.parametrize("case", list(PADDED))
def test_a_zero_padded_reference_is_read_as_calamine_reads_it(tmp_path, case):
    extra, corner = PADDED[case]
    got = refused_at(xlsx_file(tmp_path / f"{case}.xlsx", sheet_xml([HEADER, ROW], extra_rows=extra)), corner)
    assert "15 ô có nội dung" in got["detail"]


def test_a_cell_reference_that_is_no_reference_refuses_the_sheet_as_damaged(tmp_path):
    got = read_capped(xlsx_file(tmp_path / "bad.xlsx", sheet_xml([HEADER, ROW], extra_rows=cell_row(' r="A1x"'))))
    assert got["detail"].startswith("trang «DS» bị hỏng: một ô có địa chỉ «A1x» không phải địa chỉ ô (dòng 3)"), got
    assert "xin mở tệp bằng Excel, lưu lại" in got["detail"]


def test_the_late_backstop_does_not_claim_a_cell_count_it_does_not_know(tmp_path, monkeypatch):
    import campaign.io.workbook as workbook

    monkeypatch.setattr(workbook, "MAX_CELLS", 10)   # the grid calamine built is "too large": 2 x 7
    with pytest.raises(ReadError) as info:
        read(xlsx_file(tmp_path / "ok.xlsx", sheet_xml([HEADER, ROW])))
    assert "trang «DS» kéo dài tới ô G2 (2 dòng × 7 cột), quá lớn để đọc" in info.value.detail_vi
    assert "ô có nội dung" not in info.value.detail_vi


def xls_with(path: Path, *, dimensions: tuple[int, int, int, int] | None = None, extra: bytes = b"",
             boundsheet_at: int | None = None) -> Path:
    """The .xls of HEADER and ROW, its DIMENSIONS record replaced, `extra` records before the sheet's EOF,
    its BOUNDSHEET pointing at `boundsheet_at` (an offset into `extra`) when given."""
    stream = _biff8_workbook("DS", [HEADER, ROW])
    if dimensions is not None:
        i = stream.find(struct.pack("<HH", 0x0200, 14))
        stream = stream[:i] + _biff_record(0x0200, struct.pack("<IIHHH", *dimensions, 0)) + stream[i + 18:]
    extra_at = len(stream) - 4
    stream = stream[:-4] + extra + stream[-4:]
    if boundsheet_at is not None:
        i = stream.find(struct.pack("<H", 0x0085))
        stream = stream[:i + 4] + struct.pack("<I", extra_at + boundsheet_at) + stream[i + 8:]
    path.write_bytes(_ole2_file(stream))
    return path


DIMENSIONS = {
    # calamine reserves (last - first) rows x columns cells from the DIMENSIONS record before reading any
    "2^31-rows": ((0, 0x7FFFFFFF, 0, 255), "trang «DS» kéo dài tới ô IU2147483647 ("),   # 21 TB, SIGABRT
    "3-million-rows": ((0, 3_000_000, 0, 255), "trang «DS» kéo dài tới ô IU3000000 ("),  # 30 GB
    "first-row-after-the-last": ((10, 5, 0, 7), "trang «DS» bị hỏng: kích thước khai báo của trang (bản ghi "
                                                 "DIMENSIONS) có dòng đầu 11 sau dòng cuối 5"),  # u32 wraps
}


@pytest.mark.parametrize("case", list(DIMENSIONS))
def test_an_xls_dimensions_record_is_measured_before_calamine_reserves_it(tmp_path, case):
    dims, says = DIMENSIONS[case]
    got = read_capped(xls_with(tmp_path / f"{case}.xls", dimensions=dims))
    assert got.get("code") == "unreadable_file" and got["detail"].startswith(says), got
    # Excel 97's own limit is the limit: 65,536 rows x 256 columns
    assert read(xls_with(tmp_path / "ok.xls", dimensions=(0, 2, 0, 7))).frame["full_name"].tolist() == ["Nguyễn Văn An"]


def test_an_xls_sheet_is_measured_from_where_its_boundsheet_points(tmp_path):
    # calamine reads a sheet from the BOUNDSHEET's offset on, record by record: pointing it into the text
    # of a LABEL cell makes calamine read records the stream's own walk never sees
    forged = _biff_record(0x0200, struct.pack("<IIHHH", 0, 0x7FFFFFFF, 0, 255, 0)) + _biff_record(0x000A)
    label = _biff_record(0x0204, struct.pack("<HHH", 5, 0, 15) + struct.pack("<HB", len(forged), 0) + forged)
    got = read_capped(xls_with(tmp_path / "forged.xls", extra=label, boundsheet_at=4 + 9))
    assert "trang «DS» kéo dài tới ô IU2147483647 (" in got.get("detail", ""), got


def test_a_record_that_makes_calamine_panic_is_read_by_xlrd_not_a_crash(tmp_path):
    # a MERGECELLS record shorter than its count: calamine panics; pyo3 raises PanicException, a
    # BaseException no `except Exception` caught, and the read died with an English traceback. It is what
    # calamine raises on a file it cannot read: an .xls goes to xlrd, which reads this one
    got = read_capped(xls_with(tmp_path / "merge.xls", extra=_biff_record(0x00E5, struct.pack("<H", 100))))
    assert got == {"read": 1}, got


def shared_strings(head: str, items: int = 1) -> dict[str, str]:
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rels = ('<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats'
            '.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
    return {"xl/sharedStrings.xml": f'<?xml version="1.0"?><sst xmlns="{main}" {head}>' + "<si><t>a</t></si>" * items
            + "</sst>", "xl/_rels/workbook.xml.rels": rels}


def test_shared_strings_announcing_more_than_their_part_holds_refuse_the_file(tmp_path):
    # calamine reserves 24 bytes per string the uniqueCount announces, before reading one: 96 GB
    path = xlsx_sheets(tmp_path / "sst.xlsx", [("DS", sheet_xml([HEADER, ROW]))],
                       parts=shared_strings('count="4000000000" uniqueCount="4000000000"'))
    assert path.stat().st_size < 2500
    got = read_capped(path)
    assert got.get("detail", "").startswith("tệp bị hỏng: bảng chữ dùng chung (xl/sharedStrings.xml) khai báo "
                                            "4.000.000.000 chuỗi chữ nhưng chỉ đủ chỗ cho khoảng"), got
    # `count` (the cells using a string) may rightly be far larger than the part: calamine does not use it
    ok = xlsx_sheets(tmp_path / "ok.xlsx", [("DS", sheet_xml([HEADER, ROW]))],
                     parts=shared_strings('count="4000000000" uniqueCount="1"'))
    assert read(ok).frame["full_name"].tolist() == ["Nguyễn Văn An"]


def repeated_rows(row_attrs: str, cell: str | None = None) -> str:
    cell = cell or ('<table:table-cell office:value-type="string" table:number-columns-repeated="100">'
                    '<text:p>x</text:p></table:table-cell>')
    return f"<table:table-row{row_attrs}>{cell}</table:table-row>"


ODS = {
    # 990,000 rows x 100 columns (99 million cells, under calamine's own limit of 100 million): 5 GB
    "decoy-prefix": repeated_rows(' x:number-rows-repeated="1" table:number-rows-repeated="990000"'),
    "quoted-gt": repeated_rows(' x:a="&gt;>" table:number-rows-repeated="990000"'),
    "plus-sign": repeated_rows(' table:number-rows-repeated="+990000"'),
    "entity": repeated_rows(' table:number-rows-repeated="&#57;90000"'),
    # a formula without a value: calamine lays out the formulas too (24 bytes a cell)
    "formula-only": repeated_rows(' table:number-rows-repeated="990000"',
                                  '<table:table-cell table:formula="of:=1" table:number-columns-repeated="100"/>'),
}


@pytest.mark.parametrize("case", list(ODS))
def test_an_ods_repeat_is_read_as_calamine_reads_it(tmp_path, case):
    path = ods_file(tmp_path / f"{case}.ods", ODS[case])
    with zipfile.ZipFile(path) as z:   # the decoys' prefix declared
        members = {n: z.read(n) for n in z.namelist()}
    members["content.xml"] = members["content.xml"].replace(b"xmlns:text=", b'xmlns:x="urn:x" xmlns:text=')
    with zipfile.ZipFile(path, "w") as z:
        for name, member in members.items():
            z.writestr(name, member)
    refused_at(path, "CV990002")


def test_an_ods_repeat_count_that_is_no_number_refuses_the_sheet_as_damaged(tmp_path):
    got = read_capped(ods_file(tmp_path / "bad.ods", repeated_rows(' table:number-rows-repeated="12x"')))
    assert got.get("detail", "").startswith("trang «DS» bị hỏng: số lần lặp «12x» của một dòng hoặc ô không phải "
                                            "một số"), got


def hollow_sheet() -> str:
    """A sheet under the floor of 4 million cells (3,999 x 702) holding two."""
    return sheet_xml([["a"]], extra_rows='<row r="3999"><c r="ZZ3999" t="inlineStr"><is><t>x</t></is></c></row>')


def test_many_sheets_each_under_the_floor_are_not_all_built(tmp_path):
    # 40 sheets of 2.8 million cells in 1.8 KB (one part named 40 times): each candidate kept its grid
    # alive until the sheet was chosen, 3.5 GB (3,000 sheets: 23 GB)
    sheets = [(f"S{i}", hollow_sheet()) for i in range(40)]
    got = read_capped(xlsx_sheets(tmp_path / "many.xlsx", sheets))
    assert got.get("detail", "").startswith("tệp có 40 trang tính; đã đọc 28 trang đầu (78.604.344 ô) mà chưa "
                                            "thấy trang nào có đủ các cột của mẫu, và đọc tiếp thì vượt giới hạn "
                                            "100 trang hoặc 80.000.000 ô cho cả tệp"), got


def test_the_list_on_a_later_sheet_reads_and_an_earlier_candidate_is_built_again(tmp_path):
    from campaign.config_kinds import load_input_kinds
    from campaign.io.workbook import workbook_candidates

    path = xlsx_sheets(tmp_path / "three.xlsx", [("Ghi chú", sheet_xml([["Ghi chú"], ["dòng 2"]])),
                                                 ("Nháp", hollow_sheet()), ("DS", sheet_xml([HEADER, ROW]))])
    res = read(path)
    assert res.sheet == "DS" and res.frame["full_name"].tolist() == ["Nguyễn Văn An"]
    # every candidate keeps only its top rows: the first is built again when its body is asked for
    candidates = list(workbook_candidates(path, "xlsx", load_input_kinds(), []))
    assert [c.name for c in candidates] == ["Ghi chú", "Nháp", "DS"]
    assert candidates[0].load_body(1).columns[0].tolist() == ["dòng 2"]


def test_an_ods_whose_tables_together_are_too_large_is_refused_before_it_opens(tmp_path):
    # calamine lays out every table when it opens the file: 30 tables of 3 million cells each
    table = ('<table:table table:name="T{}">' + repeated_rows(' table:number-rows-repeated="29999"')
             + "</table:table>")
    got = read_capped(ods_file(tmp_path / "tables.ods", more_tables="".join(table.format(i) for i in range(30))))
    assert got.get("detail", "").startswith("tệp có 31 trang tính, cộng lại 89.997.014 ô phải dựng"), got


def test_a_csv_ending_its_lines_with_cr_alone_is_held_to_the_row_limit(tmp_path):
    # a header, one row and 4 MB of "\r": pandas and the csv module split records at a bare CR, the row
    # count saw one line (40 MB: a MemoryError at 5.2 GB)
    path = tmp_path / "cr.csv"
    path.write_bytes((",".join(HEADER) + "\n" + ",".join(ROW) + "\n").encode() + b"\r" * (4 << 20))
    got = read_capped(path)
    assert got.get("detail") == "tệp có quá nhiều dòng dữ liệu (4.194.305 dòng, giới hạn 1.000.000); xin chia nhỏ tệp"
    # old Mac line ends read as lines
    mac = tmp_path / "mac.csv"
    mac.write_bytes("\r".join(",".join(r) for r in (HEADER, ROW, ["2", *ROW[1:]])).encode() + b"\r")
    assert read(mac).row_numbers.tolist() == [2, 3]


def test_the_row_limit_of_a_csv_is_checked_before_arrays_as_long_as_its_lines(tmp_path):
    # 40 MB of "\n": arrays of 8 bytes per line end were built first (1.4 GB) and the file refused after
    path = tmp_path / "lf.csv"
    path.write_bytes((",".join(HEADER) + "\n" + ",".join(ROW) + "\n").encode() + b"\n" * (40 << 20))
    got = read_capped(path, cap_gb=0.8)
    assert got.get("detail", "").startswith("tệp có quá nhiều dòng dữ liệu (41.943.041 dòng"), got


def test_a_csv_row_padded_with_empty_fields_is_read_not_refused_as_too_wide(tmp_path):
    # Excel's export of a sheet once used far to the right: one row with 16,000 trailing commas
    path = tmp_path / "padded.csv"
    rows = [",".join(HEADER), ",".join(ROW) + "," * 16_000] + [",".join([str(i), *ROW[1:]]) for i in range(2, 252)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    res = read(path)
    assert len(res.frame) == 251 and res.row_numbers.tolist()[:2] == [2, 3]
    assert res.frame["phone"].tolist()[0] == "0912345678"


# ---------------------------------------------------------------------------------------------------------
# 3. Encodings
# ---------------------------------------------------------------------------------------------------------


def test_a_file_mixing_utf8_and_windows_1258_says_so_and_names_the_lines(tmp_path):
    from campaign.domain.vn_legacy import encode_cp1258

    path = tmp_path / "mixed.csv"
    second = ["2", "Trần Thị Hường", "15/03/1975", "1", "10", "0351234567", "Ia Blang"]
    path.write_bytes((",".join(HEADER) + "\n" + ",".join(ROW) + "\n").encode("utf-8")
                     + encode_cp1258(",".join(second) + "\n"))
    with pytest.raises(ReadError) as info:
        read(path)
    detail = info.value.detail_vi   # was: "không tìm thấy dòng tiêu đề cột"
    assert "tệp lẫn nhiều bảng mã" in detail and "dòng 1 viết theo UTF-8 nhưng dòng 3 thì không" in detail
    assert "Windows-1258" in detail and "CSV UTF-8" in detail
    # the same rows in one encoding read as before
    path.write_bytes(encode_cp1258(",".join(HEADER) + "\n" + ",".join(ROW) + "\n" + ",".join(second) + "\n"))
    assert read(path).frame["full_name"].tolist() == ["Nguyễn Văn An", "Trần Thị Hường"]


def test_a_utf8_file_with_a_bom_and_a_broken_line_is_refused_naming_it(tmp_path):
    path = tmp_path / "broken.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (",".join(HEADER) + "\n" + ",".join(ROW) + "\n").encode()
                     + b"2,Nguy\xe1\xbb n,25/05/1980,0,9,0912345678,Ia Blang\n")
    with pytest.raises(SniffReadError) as info:
        read(path)
    assert "dòng 3 thì không" in info.value.detail_vi


# ---------------------------------------------------------------------------------------------------------
# 3. Names: full-width letters, word breaks, emoji; Vietnamese diacritics untouched
# ---------------------------------------------------------------------------------------------------------


def names(*values: str) -> list:
    import pandas as pd

    r = clean_names(pd.Series(list(values), dtype=object), max_length=100)
    return [(v if isinstance(v, str) else None, c if isinstance(c, str) else None)
            for v, c in zip(r.value.tolist(), r.reason.tolist(), strict=True)]


def test_full_width_and_font_letters_become_plain_letters():
    assert names("Ｎｇｕｙễｎ Ｖăｎ Ａｎ", "𝐍𝐠𝐮𝐲ễ𝐧 𝐀𝐧", "ＴＲẦＮ　ＴＨỊ") == [
        ("Nguyễn Văn An", None), ("Nguyễn An", None), ("Trần Thị", None)]


def test_a_bom_or_zero_width_space_between_words_is_a_space_not_a_join():
    assert names("Nguyễn\ufeffVăn An", "Nguyễn\u200bVăn An", "\ufeffNguyễn Văn An", "Ng\u00adu\u200dyễn An") == [
        ("Nguyễn Văn An", None), ("Nguyễn Văn An", None), ("Nguyễn Văn An", None), ("Nguyễn An", None)]
    text = clean_text(__import__("pandas").Series(["Thôn 5\ufeffxã Ia Blang"], dtype=object), max_length=300)
    assert text.value.tolist() == ["Thôn 5 xã Ia Blang"]


def test_emoji_and_symbols_in_a_name_are_a_row_reason_of_their_own():
    got = names("Nguyễn Văn An 😀", "Nguyễn Văn An ❤️", "Lê Thị ★ Hoa", "Phạm Văn B!", "Rơ Châm ´Thuận",
                "Ksor H'Blang", "Nguyễn T. An", "Y-Blang Êban")
    assert [c for _v, c in got[:5]] == ["name_has_symbols"] * 5
    assert got[5:] == [("Ksor H'Blang", None), ("Nguyễn T. An", None), ("Y-Blang Êban", None)]
    from campaign.config_reasons import load_reasons

    reason = load_reasons()["name_has_symbols"]
    assert reason.severity == "row" and "biểu tượng" in reason.message


VIETNAMESE = "aàáảãạăằắẳẵặâầấẩẫậeèéẻẽẹêềếểễệiìíỉĩịoòóỏõọôồốổỗộơờớởỡợuùúủũụưừứửữựyỳýỷỹỵđ"


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.text(alphabet=VIETNAMESE + VIETNAMESE.upper(), min_size=1, max_size=8), min_size=1, max_size=4),
       st.sampled_from(["NFC", "NFD"]))
def test_vietnamese_letters_come_out_as_they_went_in_whatever_their_normal_form(words, form):
    name = " ".join(w[0].upper() + w[1:].lower() for w in words)
    value, code = names(unicodedata.normalize(form, name))[0]
    assert code is None and value == unicodedata.normalize("NFC", name)


# ---------------------------------------------------------------------------------------------------------
# 2. Values longer than their columns: refused (or cut) before anything is written, on both databases
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture()
def intake(migrated_engine, tmp_path):
    settings_ = Settings(home=tmp_path / "home")
    campaign = load_campaign()

    def run(path: Path, kind: str = "target_list", **kw):
        request = IntakeRequest(path=path, district="633", kind=kind, received_at=NOW, **kw)
        return run_intake(request, engine=migrated_engine, settings=settings_, campaign=campaign)

    run.engine = migrated_engine
    return run


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def nothing_loaded(engine) -> bool:
    return all(count(engine, t) == 0 for t in (KIND_TABLES["target_list"], RowIssue.__table__,
                                               QuarantineRow.__table__))


def test_a_sheet_name_longer_than_its_column_refuses_the_file_and_loads_nothing(intake, tmp_path):
    # 155 characters (Excel allows 31; a file written by other software can hold any): was a
    # BulkInsertError "exceeds the column's 100", exit 1 and no submission at all
    path = xlsx_file(tmp_path / "long.xlsx", sheet_xml([HEADER, ROW]), name="S" * 155)
    out = intake(path)
    assert out.status == "rejected" and out.reasons == {"sheet_name_too_long": 1}
    assert "dài 155 ký tự, quá 100 ký tự" in out.message and "đổi tên trang" in out.message
    assert count(intake.engine, Submission.__table__) == 1 and nothing_loaded(intake.engine)


def test_a_facility_code_longer_than_its_column_is_a_refusal_not_a_database_error(intake, tmp_path):
    path = tmp_path / "tl.csv"
    path.write_text(",".join(HEADER) + "\n" + ",".join(ROW) + "\n", encoding="utf-8")
    out = intake(path, facility="F" * 40)   # PostgreSQL: DataError, value too long for varchar(32)
    assert out.status == "rejected" and out.reasons == {"facility_code_too_long": 1}
    assert "dài 40 ký tự, quá 32 ký tự" in out.message
    with Session(intake.engine) as s:
        assert s.scalars(sa.select(Submission.facility_code)).all() == [None]
    assert nothing_loaded(intake.engine)


def test_a_long_original_file_name_is_cut_keeping_its_extension(intake, tmp_path):
    path = tmp_path / "tl.csv"
    path.write_text(",".join(HEADER) + "\n" + ",".join(ROW) + "\n", encoding="utf-8")
    out = intake(path, original_filename="danh sách " * 60 + ".csv")   # 604 characters
    assert out.status == "accepted" and out.rows_loaded == 1
    assert out.reasons.get("file_name_shortened") == 1
    with Session(intake.engine) as s:
        stored = s.scalars(sa.select(Submission.original_filename)).one()
        first_seen = s.scalars(sa.select(StoredFile.original_filename)).one()
    assert len(stored) == 512 and stored.endswith("….csv") and stored == first_seen


def test_a_code_longer_than_its_column_is_a_row_reason_and_the_other_rows_load(intake, tmp_path):
    # a facility list (its codes have no list to be checked against yet): 40 characters into varchar(32)
    header = "Mã cơ sở tiêm chủng,Tên cơ sở tiêm chủng,Xã/Phường/Thị trấn,Số bàn tiêm,Người phụ trách,Số điện thoại\n"
    rows = ["TYT-IABLANG,Trạm Y tế xã Ia Blang,Ia Blang,2,Nguyễn Văn An,0912345678\n",
            f"{'X' * 40},Trạm Y tế xã Ia Glai,Ia Glai,1,Trần Thị Hoa,0912345679\n"]
    path = tmp_path / "fac.csv"
    path.write_text(header + "".join(rows), encoding="utf-8")
    out = intake(path, kind="facilities")
    assert out.status == "accepted" and (out.rows_loaded, out.rows_quarantined) == (1, 1)
    assert out.reasons.get("value_too_long") == 1
    with Session(intake.engine) as s:
        loaded = s.execute(sa.select(KIND_TABLES["facilities"].c.facility_code)).scalars().all()
        issue = s.execute(sa.select(RowIssue.row_number, RowIssue.column, RowIssue.code)).all()
    assert loaded == ["TYT-IABLANG"] and (3, "facility_code", "value_too_long") in issue


def test_who_submits_longer_than_its_column_is_a_usage_error_and_stores_nothing(intake, tmp_path):
    path = tmp_path / "tl.csv"
    path.write_text(",".join(HEADER) + "\n" + ",".join(ROW) + "\n", encoding="utf-8")
    with pytest.raises(UsageError, match="at most 128"):
        intake(path, submitted_by="x" * 200)
    assert count(intake.engine, Submission.__table__) == 0


def test_free_text_starting_with_a_formula_is_stored_as_written_and_quoted_in_the_feedback(intake, tmp_path):
    # Stored as the district wrote it (a note "-" or "+84..." is not a formula; neutralising in the
    # database would put an apostrophe in every export); every spreadsheet output escapes it instead.
    header = "STT,Họ và tên,Ngày sinh,Giới tính,Mã nhóm đối tượng ưu tiên,Số điện thoại,Xã/Phường,Đơn vị công tác\n"
    path = tmp_path / "tl.csv"
    path.write_text(header + ",".join(ROW) + ',"=HYPERLINK(""http://x"",""bấm"")"\n', encoding="utf-8")
    out = intake(path)
    assert out.status == "accepted" and out.rows_loaded == 1
    with Session(intake.engine) as s:
        assert s.scalars(sa.select(KIND_TABLES["target_list"].c.workplace)).one() == '=HYPERLINK("http://x","bấm")'
    feedback = Path(out.feedback_file).read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in feedback and ",=HYPERLINK" not in feedback


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=60) | st.from_regex(r"\+?[0-9 .\-]{0,40}"),
                min_size=1, max_size=20))
def test_fixed_width_columns_fit_their_storage_whatever_the_cells(cells):
    # phones, IDs and insurance numbers are not checked against their column (no pass over every value):
    # their cleaners build them at a fixed width, and this holds them to the tables' bounds
    import pandas as pd

    from campaign.domain.standardize import clean_id_numbers, clean_insurance_numbers, clean_phones
    from campaign.intake.rules import value_limits

    limits = value_limits("target_list")
    raw = pd.Series(cells, dtype=object)
    for column, result in (("phone", clean_phones(raw)), ("id_number", clean_id_numbers(raw)),
                           ("insurance_number", clean_insurance_numbers(raw))):
        values = [v for v in result.value.tolist() if isinstance(v, str)]
        assert all(len(v) <= limits[column] for v in values), (column, values)
