"""The DOCX renderer (campaign.reports.render_docx): a hand-built Report (fake data) rendered, then read
back with python-docx."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import docx
import pytest
from docx.document import Document as DocxDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from campaign.reports.model import Chart, Report, Section, Table
from campaign.reports.present import vn_number
from campaign.reports.render_docx import render_docx

ISSUER = "SỞ Y TẾ TỈNH THỬ NGHIỆM"
TITLE = "KẾ HOẠCH TRIỂN KHAI TIÊM CHỦNG COVID-19 (THỬ NGHIỆM)"
PLACE_DATE = "Thử Nghiệm, ngày 28 tháng 7 năm 2021"
WARNING = "Chưa có báo cáo từ huyện B."
APPENDIX_HEADING = "Phụ lục: Dữ liệu nguồn"


# --- vn_number ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    (0, "0"),
    (1234567, "1.234.567"),
    (12345, "12.345"),
    (999, "999"),
    (-5, "-5"),
    (-12345, "-12.345"),
    (2.5, "2,5"),
    (0.5, "0,5"),
    (1234.5, "1.234,5"),
    (-1234.25, "-1.234,25"),
    (2.0, "2"),
    (1 / 3, "0,33"),
    (-0.001, "0"),
    (math.nan, "-"),
    (None, "-"),
    ("abc", "abc"),
    ("12345", "12345"),       # text is never reformatted
    (True, "Có"),
    (dt.date(2021, 7, 28), "28/07/2021"),
])
def test_vn_number(value: object, expected: str) -> None:
    assert vn_number(value) == expected


def test_vn_number_decimals() -> None:
    assert vn_number(95.456, decimals=1) == "95,5"
    assert vn_number(95.456, decimals=0) == "95"


# --- the document ------------------------------------------------------------------------------------

def _report() -> Report:
    table = Table(
        title="Bảng 1. Số mũi tiêm theo huyện",
        columns=["Huyện", "Số mũi", "Tỷ lệ (%)", "Ghi chú"],
        rows=[["Huyện A", 12345, 0.5, None],
              ["Huyện B", None, 97.25, "chưa báo cáo"],
              ["Huyện C", 7]],                             # a short row: padded with "-"
        note="Số liệu thử nghiệm.",
    )
    chart = Chart(title="Biểu đồ 1. Số mũi tiêm theo huyện", kind="bar", labels=["Huyện A", "Huyện C"],
                  series={"Số mũi": [12345.0, 7.0]}, y_label="mũi")
    deep = Section(number="II.1.a", title="Chi tiết điểm tiêm", paragraphs=["Đoạn chi tiết."])
    sub = Section(number="II.1", title="Nhân lực", paragraphs=["Đoạn về nhân lực."], warnings=[WARNING],
                  subsections=[deep])
    sections = [
        Section(number="I", title="Tổng quan", paragraphs=["Đoạn mở đầu.", "Đoạn thứ hai."],
                tables=[table], charts=[chart]),
        Section(number="II", title="Kế hoạch", paragraphs=["Đoạn kế hoạch."], subsections=[sub]),
    ]
    appendix = Table(title="Các báo cáo đã nhận", columns=["Huyện", "Loại", "Phiên bản", "Thời điểm"],
                     rows=[["Huyện A", "nhân lực", 2, "27/07/2021 08:00"],
                           ["Huyện B", "vật tư", 1, "27/07/2021 09:30"]])
    return Report(level="province", unit="99", unit_name="Tỉnh Thử Nghiệm", issuer=ISSUER, title=TITLE,
                  place_date=PLACE_DATE, as_of=dt.datetime(2021, 7, 28, 1, 0, tzinfo=dt.UTC), version=3,
                  sections=sections, appendix=appendix,
                  signature=("KT. GIÁM ĐỐC", "(Ký, ghi rõ họ tên, đóng dấu)"))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DocxDocument]:
    path = tmp_path_factory.mktemp("docx") / "bao-cao.docx"
    out = render_docx(_report(), path)
    assert out == path
    return path, docx.Document(str(path))


def _texts(doc: DocxDocument, style: str) -> list[str]:
    return [p.text for p in doc.paragraphs if p.style is not None and p.style.name == style]


def _rows(table) -> list[list[str]]:
    return [[c.text for c in row.cells] for row in table.rows]


def _data_table(doc: DocxDocument, first_header: str, second_header: str):
    for t in doc.tables:
        if _rows(t)[0][:2] == [first_header, second_header]:
            return t
    raise AssertionError(f"no table with headers {first_header!r}, {second_header!r}")


def test_headings_use_the_builtin_heading_styles(rendered) -> None:
    _, doc = rendered
    assert _texts(doc, "Heading 1") == ["I. Tổng quan", "II. Kế hoạch", APPENDIX_HEADING]
    assert _texts(doc, "Heading 2") == ["II.1. Nhân lực"]
    assert _texts(doc, "Heading 3") == ["II.1.a. Chi tiết điểm tiêm"]
    h1 = doc.styles["Heading 1"]
    assert h1.font.name == "Times New Roman" and h1.font.bold
    assert str(h1.font.color.rgb) == "000000"
    rfonts = h1.element.rPr.find(qn("w:rFonts"))
    assert rfonts.get(qn("w:asciiTheme")) is None   # a theme font would override Times New Roman


def test_content_order_is_depth_first(rendered) -> None:
    _, doc = rendered
    texts = [p.text for p in doc.paragraphs]
    order = ["I. Tổng quan", "Đoạn mở đầu.", "Bảng 1. Số mũi tiêm theo huyện", "Số liệu thử nghiệm.",
             "Biểu đồ 1. Số mũi tiêm theo huyện", "II. Kế hoạch", "II.1. Nhân lực", "⚠ " + WARNING,
             "Đoạn về nhân lực.", "II.1.a. Chi tiết điểm tiêm", APPENDIX_HEADING]
    positions = [texts.index(t) for t in order]
    assert positions == sorted(positions)


def test_normal_style_is_times_new_roman_13(rendered) -> None:
    _, doc = rendered
    normal = doc.styles["Normal"]
    assert normal.font.name == "Times New Roman"
    assert normal.font.size == Pt(13)
    assert normal.element.rPr.find(qn("w:rFonts")).get(qn("w:eastAsia")) == "Times New Roman"


def test_page_is_a4_with_official_margins(rendered) -> None:
    _, doc = rendered
    s = doc.sections[0]
    assert (round(s.page_width.cm, 1), round(s.page_height.cm, 1)) == (21.0, 29.7)
    assert round(s.left_margin.cm, 1) == 3.0
    assert [round(m.cm, 1) for m in (s.right_margin, s.top_margin, s.bottom_margin)] == [2.0, 2.0, 2.0]


def test_heading_block_title_and_place_date(rendered) -> None:
    _, doc = rendered
    issuer, nation = doc.tables[0].rows[0].cells
    assert issuer.text == ISSUER
    assert issuer.paragraphs[0].runs[0].bold
    assert [p.text for p in nation.paragraphs] == ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                                                   "Độc lập - Tự do - Hạnh phúc"]
    assert nation.paragraphs[1].runs[0].underline
    assert doc.tables[0]._tbl.tblPr.find(qn("w:tblBorders")).find(qn("w:top")).get(qn("w:val")) == "nil"

    place = next(p for p in doc.paragraphs if p.text == PLACE_DATE)
    assert place.alignment == WD_ALIGN_PARAGRAPH.RIGHT and place.runs[0].italic
    title = next(p for p in doc.paragraphs if p.text == TITLE)
    assert title.alignment == WD_ALIGN_PARAGRAPH.CENTER and title.runs[0].bold
    assert "Tỉnh Thử Nghiệm – Phiên bản 3" in [p.text for p in doc.paragraphs]


def test_warning_is_bold_red(rendered) -> None:
    _, doc = rendered
    warning = next(p for p in doc.paragraphs if WARNING in p.text)
    assert warning.text == "⚠ " + WARNING
    run = warning.runs[0]
    assert run.bold and run.font.color.rgb is not None and run.font.color.rgb[0] > 0x80


def test_table_cells_are_formatted_the_vietnamese_way(rendered) -> None:
    _, doc = rendered
    table = _data_table(doc, "Huyện", "Số mũi")
    assert table.style.name == "Table Grid"
    assert _rows(table) == [["Huyện", "Số mũi", "Tỷ lệ (%)", "Ghi chú"],
                            ["Huyện A", "12.345", "0,5", "-"],
                            ["Huyện B", "-", "97,25", "chưa báo cáo"],
                            ["Huyện C", "7", "-", "-"]]
    header = table.rows[0]
    assert header._tr.trPr.find(qn("w:tblHeader")) is not None          # repeated on each page
    assert all(r.bold for c in header.cells for r in c.paragraphs[0].runs)
    assert table.rows[1]._tr.trPr.find(qn("w:tblHeader")) is None
    a = table.rows[1].cells
    assert a[1].paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.RIGHT     # numbers right-aligned
    assert a[2].paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.RIGHT
    assert a[0].paragraphs[0].alignment != WD_ALIGN_PARAGRAPH.RIGHT     # text is not
    caption = next(p for p in doc.paragraphs if p.text == "Bảng 1. Số mũi tiêm theo huyện")
    assert caption.runs[0].bold
    note = next(p for p in doc.paragraphs if p.text == "Số liệu thử nghiệm.")
    assert note.runs[0].italic


def test_one_picture_per_chart(rendered) -> None:
    _, doc = rendered
    assert len(doc.inline_shapes) == 1
    assert abs(doc.inline_shapes[0].width - Cm(16)) < Cm(0.01)


def test_appendix_and_signature(rendered) -> None:
    _, doc = rendered
    appendix = _data_table(doc, "Huyện", "Loại")
    assert _rows(appendix)[1:] == [["Huyện A", "nhân lực", "2", "27/07/2021 08:00"],
                                   ["Huyện B", "vật tư", "1", "27/07/2021 09:30"]]
    heading = next(p for p in doc.paragraphs if p.text == APPENDIX_HEADING)
    assert heading.paragraph_format.page_break_before

    signature = doc.tables[-1]
    right = signature.rows[0].cells[1]
    assert right.paragraphs[0].text == "KT. GIÁM ĐỐC" and right.paragraphs[0].runs[0].bold
    assert right.paragraphs[1].text == "(Ký, ghi rõ họ tên, đóng dấu)" and right.paragraphs[1].runs[0].italic
    assert len(right.paragraphs) >= 4                                     # room to sign


def test_footer_numbers_pages(rendered) -> None:
    _, doc = rendered
    footer = doc.sections[0].footer.paragraphs[0]
    instr = [f.get(qn("w:instr")).strip() for f in footer._p.iter(qn("w:fldSimple"))]
    assert instr == ["PAGE", "NUMPAGES"]
    assert footer.text.startswith("Trang ")


def test_core_properties(rendered) -> None:
    _, doc = rendered
    cp = doc.core_properties
    assert (cp.title, cp.subject, cp.author) == (TITLE, "Tỉnh Thử Nghiệm", ISSUER)


def test_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bao-cao.docx"
    path.write_bytes(b"old")
    report = _report()
    report.sections[0].charts = []            # no matplotlib needed here

    def broken_save(self, stream) -> None:
        stream.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(DocxDocument, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        render_docx(report, path)
    assert path.read_bytes() == b"old"        # the old file is untouched
    assert list(tmp_path.iterdir()) == [path]  # and the temp file removed

    monkeypatch.undo()
    assert render_docx(report, path) == path
    assert docx.Document(str(path)).core_properties.title == TITLE
    assert list(tmp_path.iterdir()) == [path]


def test_edge_tables(tmp_path: Path) -> None:
    report = _report()
    report.sections[0].charts = []
    report.sections[0].tables = [Table(title="Bảng rỗng", columns=["A", "B"], rows=[]),
                                 Table(title="Ký tự lạ", columns=["A"], rows=[["x\x07y <&> z\ndòng 2"]])]
    doc = docx.Document(str(render_docx(report, tmp_path / "r.docx")))
    empty = _data_table(doc, "A", "B")
    assert [c.text for c in empty.rows[1].cells][0] == "Không có dữ liệu"
    odd = next(t for t in doc.tables if _rows(t)[0] == ["A"])
    assert _rows(odd)[1] == ["xy <&> z\ndòng 2"]

    report.sections[0].tables = [Table(title="Quá dài", columns=["A"], rows=[[1, 2]])]
    with pytest.raises(ValueError, match="Quá dài"):
        render_docx(report, tmp_path / "bad.docx")
    assert not (tmp_path / "bad.docx").exists()
