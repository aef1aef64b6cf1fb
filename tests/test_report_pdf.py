"""The report's PDF (reportlab) and HTML (Jinja2) renderings, from a small hand-built Report (fake data)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest

from campaign.reports.model import Chart, Report, Section, Table
from campaign.reports.present import vn_number
from campaign.reports.render_html import render_html
from campaign.reports.render_pdf import render_pdf

pypdf = pytest.importorskip("pypdf")
pdfium = pytest.importorskip("pypdfium2")

TITLE = "KẾ HOẠCH TRIỂN KHAI NỀN TẢNG QUẢN LÝ TIÊM CHỦNG COVID-19"
HOSTILE = "Điểm <b>&amp; <script>alert(1)</script> & Co"
WARNING = "Chưa nhận được danh sách của xã Ia Phìn"
PARAGRAPH_HOSTILE = "Tỷ lệ < 50% & cần bổ sung <i>nhân lực</i>"


def _chart(title: str) -> Chart:
    return Chart(title, "bar", ["Xã A", "Xã B", "Xã C"], {"Mũi 1": [120.0, 80.0, 45.5], "Mũi 2": [60, 10, 0]},
                 y_label="người")


def make_report() -> Report:
    figures = Table(
        "Bảng 1. Số liệu chính",
        ["Chỉ tiêu", "Số lượng", "Tỷ lệ (%)"],
        [
            ["Dân số từ 18 tuổi", 12345, 0.5],
            ["Đã đăng ký tiêm", 1234567, 87.25],
            ["Chưa có số liệu", None, None],
            [HOSTILE, 7, 12.0],
        ],
        note="Nguồn: báo cáo của các trạm y tế",
    )
    long_table = Table(
        "Bảng 2. Danh sách điểm tiêm theo thôn",
        ["STT", "Thôn, làng", "Số người dự kiến", "Ghi chú"],
        [[i + 1, f"Thôn Plei Ơi số {i + 1}", 100 + i * 37,
          "Cần thêm bàn tiêm lưu động và cán bộ hỗ trợ nhập liệu" if i % 5 == 0 else ""]
         for i in range(120)],
    )
    preparation = Section(
        "I", "Chuẩn bị tiêm chủng",
        paragraphs=["Công tác chuẩn bị tại các điểm tiêm.", PARAGRAPH_HOSTILE],
        tables=[figures],
        subsections=[Section("I.1", "Nhân lực và điểm tiêm", warnings=[WARNING], tables=[long_table])],
    )
    vaccination = Section(
        "II", "Tiêm chủng theo ngày",
        paragraphs=["Tiến độ tiêm chủng theo xã."],
        charts=[_chart("Số mũi tiêm theo xã")],
    )
    appendix = Table("Các báo cáo nguồn", ["Huyện", "Loại", "Phiên bản", "Thời điểm"],
                     [["Chư Prông", "Danh sách", 2, "28/07/2021 10:00"], ["Đức Cơ", "Nhân lực", 1, "27/07/2021"]])
    return Report(
        level="district", unit="622", unit_name="Huyện Chư Prông", issuer="TRUNG TÂM Y TẾ HUYỆN CHƯ PRÔNG",
        title=TITLE, place_date="Gia Lai, ngày 28 tháng 7 năm 2021", as_of=dt.datetime(2021, 7, 28, 8),
        version=3, sections=[preparation, vaccination], appendix=appendix,
    )


@pytest.fixture(scope="module")
def report() -> Report:
    return make_report()


@pytest.fixture(scope="module")
def pdf_path(report: Report, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_pdf(report, tmp_path_factory.mktemp("pdf") / "bao-cao.pdf")


@pytest.fixture(scope="module")
def pdf_text(pdf_path: Path) -> str:
    reader = pypdf.PdfReader(pdf_path)
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def _flat(text: str) -> str:
    """Extracted text with whitespace runs as one space (extraction splits lines where it likes)."""
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize(("value", "expected"), [
    (12345, "12.345"), (1234567, "1.234.567"), (0, "0"), (-1234, "-1.234"), (0.5, "0,5"), (87.25, "87,25"),
    (12345.678, "12.345,68"), (12.0, "12"), (-0.001, "0"), (float("nan"), "-"), (None, "-"),
    ("12345", "12345"), ("", ""), (Decimal("1234.50"), "1.234,5"), (Decimal("2000"), "2.000"),
    (float("inf"), "-"), (True, "Có"), (False, "Không"), (dt.date(2021, 7, 28), "28/07/2021"),
    (dt.datetime(2021, 7, 28, 14, 5), "28/07/2021 14:05"),
])
def test_vn_number(value: object, expected: str) -> None:
    assert vn_number(value) == expected


def test_pdf_written_atomically_and_multi_page(pdf_path: Path) -> None:
    assert pdf_path.is_file() and pdf_path.name == "bao-cao.pdf"
    assert pdf_path.read_bytes().startswith(b"%PDF-")
    assert [p.name for p in pdf_path.parent.iterdir()] == ["bao-cao.pdf"]     # no temp file left behind
    assert len(pypdf.PdfReader(pdf_path).pages) > 1


def test_pdf_text_vietnamese_and_structure(pdf_text: str) -> None:
    flat = _flat(pdf_text)
    for expected in (TITLE, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
                     "TRUNG TÂM Y TẾ HUYỆN CHƯ PRÔNG", "Gia Lai, ngày 28 tháng 7 năm 2021",
                     "Huyện Chư Prông - Phiên bản 3", "I. Chuẩn bị tiêm chủng", "I.1. Nhân lực và điểm tiêm",
                     "II. Tiêm chủng theo ngày", "Bảng 2. Danh sách điểm tiêm theo thôn",
                     "Phụ lục: Dữ liệu nguồn", "Các báo cáo nguồn", "GIÁM ĐỐC",
                     "(Ký, ghi rõ họ tên, đóng dấu)", "Nguồn: báo cáo của các trạm y tế"):
        assert expected in flat, expected
    # The model's order: header, sections depth first, appendix, signature.
    order = [flat.index(s) for s in ("CỘNG HÒA", "Chuẩn bị tiêm chủng", "Nhân lực và điểm tiêm",
                                     "Tiêm chủng theo ngày", "Phụ lục: Dữ liệu nguồn", "GIÁM ĐỐC")]
    assert order == sorted(order)


def test_pdf_numbers_warning_and_hostile_text(pdf_text: str) -> None:
    flat = _flat(pdf_text)
    assert "12.345" in flat and "1.234.567" in flat and "0,5" in flat and "87,25" in flat
    assert "Lưu ý: " + WARNING in flat
    assert HOSTILE in flat                       # drawn literally, not parsed as markup
    assert PARAGRAPH_HOSTILE in flat             # a Paragraph: escaped, so shown as typed
    assert "Thôn Plei Ơi số 120" in flat         # the long table's last row


def test_pdf_footer_and_header_row_repeated(pdf_path: Path) -> None:
    reader = pypdf.PdfReader(pdf_path)
    n = len(reader.pages)
    texts = [_flat(p.extract_text()) for p in reader.pages]
    for i, text in enumerate(texts, start=1):
        assert f"Trang {i}/{n}" in text
        assert TITLE in text
    # The 120-row table goes over a page break: its header row is printed again on the next page.
    pages_with_rows = [t for t in texts if "Thôn Plei Ơi số" in t]
    assert len(pages_with_rows) >= 2
    assert all("Số người dự kiến" in t for t in pages_with_rows)


def test_pdf_metadata(pdf_path: Path) -> None:
    meta = pypdf.PdfReader(pdf_path).metadata
    assert meta.title == TITLE
    assert meta.author == "TRUNG TÂM Y TẾ HUYỆN CHƯ PRÔNG"
    assert meta.subject == "Huyện Chư Prông"


def test_pdf_fonts_embedded(pdf_path: Path) -> None:
    reader = pypdf.PdfReader(pdf_path)
    fonts = set()
    for page in reader.pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            fonts.add(str(font.get_object()["/BaseFont"]))
    assert fonts and all("DejaVuSans" in f for f in fonts), fonts
    assert any(f.endswith("DejaVuSans-Bold") for f in fonts)


def test_pdf_first_page_not_blank_and_has_chart(pdf_path: Path) -> None:
    doc = pdfium.PdfDocument(str(pdf_path))
    try:
        image = doc[0].render(scale=1).to_pil().convert("L")
        dark = sum(1 for v in image.tobytes() if v < 128)
        assert dark > 2000, dark                 # text and table lines, not a white page
        # The chart is an embedded image somewhere in the document.
        images = sum(1 for page in doc for obj in page.get_objects()
                     if obj.type == pdfium.raw.FPDF_PAGEOBJ_IMAGE)
        assert images == 1
    finally:
        doc.close()


def test_pdf_replaces_existing_file(report: Report, tmp_path: Path) -> None:
    target = tmp_path / "r.pdf"
    target.write_bytes(b"old")
    assert render_pdf(report, target) == target
    assert target.read_bytes().startswith(b"%PDF-")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.pdf"]


def test_pdf_failure_leaves_no_temp_file(report: Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import campaign.reports.render_pdf as module

    class Failing(module.SimpleDocTemplate):
        def build(self, *args, **kwargs):
            Path(self.filename).write_bytes(b"%PDF-partial")      # half written, then the build fails
            raise RuntimeError("disk full")

    target = tmp_path / "r.pdf"
    target.write_bytes(b"previous version")
    monkeypatch.setattr(module, "SimpleDocTemplate", Failing)
    with pytest.raises(RuntimeError, match="disk full"):
        render_pdf(report, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.pdf"]
    assert target.read_bytes() == b"previous version"            # the old file is untouched


def test_pdf_row_taller_than_a_page(tmp_path: Path) -> None:
    """A cell from an upload can be very long: the row is split across pages, the report still renders."""
    tall = make_report()
    tall.sections[0].tables[0].rows.append(["\n".join(f"dòng {i}" for i in range(200)), 1, 2])
    tall.sections[0].tables[0].rows.append(["Ghi chú rất dài của huyện " * 300, 3, 4])
    text = _flat(" ".join(p.extract_text() for p in pypdf.PdfReader(render_pdf(tall, tmp_path / "t.pdf")).pages))
    assert "dòng 0" in text and "dòng 199" in text


def test_a_large_report_renders_every_table_across_pages(tmp_path: Path) -> None:
    """10 sections, 15 tables of 300 rows, 4 charts (its speed is measured by benchmarks/bench_report.py)."""
    base = make_report()
    rows = [[i + 1, f"Xã Ia Hrú {i} - thôn Plei Kép", 1000 + i, i * 3.5, None] for i in range(300)]
    table = Table("Bảng", ["STT", "Xã", "Dân số", "Tỷ lệ", "Ghi chú"], rows)
    sections = [Section(str(i + 1), f"Phần {i + 1}", paragraphs=["Nội dung."],
                        tables=[table] * (2 if i < 5 else 1), charts=[_chart(f"Biểu đồ {i}")] if i < 4 else [])
                for i in range(10)]
    big = Report(**{**base.__dict__, "sections": sections})
    render_pdf(big, tmp_path / "big.pdf")
    pages = pypdf.PdfReader(tmp_path / "big.pdf").pages
    assert len(pages) > 50
    assert sum(page.extract_text().count("Ia Hrú 299") for page in pages) == 15   # every table's last row


# --- HTML ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def html(report: Report) -> str:
    return render_html(report)


def test_html_structure(html: str, report: Report) -> None:
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert '<html lang="vi">' in html and '<meta charset="utf-8">' in html
    for expected in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", f"<h1>{TITLE}</h1>",
                     "<h2>I. Chuẩn bị tiêm chủng</h2>", "<h3>I.1. Nhân lực và điểm tiêm</h3>",
                     "<h2>II. Tiêm chủng theo ngày</h2>", "<h2>Phụ lục: Dữ liệu nguồn</h2>",
                     "Huyện Chư Prông - Phiên bản 3", "GIÁM ĐỐC", f"Lưu ý: {WARNING}",
                     '<td class="num">12.345</td>', '<td class="num">0,5</td>', '<td class="none">-</td>'):
        assert expected in html, expected
    order = [html.index(s) for s in ("CỘNG HÒA", "Chuẩn bị tiêm chủng", "Nhân lực và điểm tiêm",
                                     "Tiêm chủng theo ngày", "Phụ lục", "GIÁM ĐỐC")]
    assert order == sorted(order)
    assert html.count("<tr>") == 1 + 4 + 1 + 120 + 1 + 2    # header + rows of the three tables


def test_html_escapes_everything(html: str) -> None:
    assert "<script>" not in html and "<b>" not in html and "<i>nhân" not in html
    assert "Điểm &lt;b&gt;&amp;amp; &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
    assert "Tỷ lệ &lt; 50% &amp; cần bổ sung &lt;i&gt;nhân lực&lt;/i&gt;" in html


def test_html_charts_embedded(html: str, report: Report) -> None:
    charts = [c for s in report.all_sections() for c in s.charts]
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)">', html)
    assert len(images) == len(charts) == 1
    assert images[0][1] == "Số mũi tiêm theo xã"
    import base64
    assert base64.b64decode(images[0][0]).startswith(b"\x89PNG")
