"""The report as a Word document (.docx) an official edits and signs, laid out (loosely) like a Vietnamese
administrative document under Nghị định 30/2020/NĐ-CP:

- A4 portrait, margins 2 cm (left 3 cm), Times New Roman 13 pt (also for East Asian text, so Vietnamese
  renders), body justified;
- the heading block: issuer on the left, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM / Độc lập - Tự do - Hạnh phúc"
  on the right (a borderless table), then the place and date, right-aligned in italics;
- the title, the unit and the version; then every section with Word's built-in Heading 1/2/3 (so the
  navigation pane works): its warnings (bold, red), paragraphs, tables ("Table Grid", header row repeated
  on every page, numbers right-aligned in the Vietnamese style 12.345 / 0,5) and charts (PNG, 16 cm);
- "Phụ lục: Dữ liệu nguồn" with the submissions every figure comes from; then the signature block;
- "Trang X/Y" in the footer (PAGE / NUMPAGES fields).

Tables are written as XML text, parsed once per table: python-docx's cell API is far too slow for
thousands of cells.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Cm, Pt, RGBColor
from docx.table import Table as DocxTable
from docx.text.paragraph import Paragraph

from campaign.reports.model import DRAFTED_LABEL, Chart, Report, Section, Table
from campaign.reports.present import is_number, vn_number

FONT = "Times New Roman"
BODY_PT = 13
TABLE_PT = 11
TEXT_WIDTH = Cm(16)                     # A4 21 cm - 3 cm left - 2 cm right
PICTURE_WIDTH = Cm(16)
WARNING_RGB = RGBColor(0xC0, 0x00, 0x00)
HEADER_FILL = "D9D9D9"
TABLE_STYLE = "Table Grid"
TABLE_TEXT_STYLE = "Table Text"         # a paragraph style for cells: 11 pt, no spacing

NATION = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập - Tự do - Hạnh phúc"
APPENDIX_HEADING = "Phụ lục: Dữ liệu nguồn"
EMPTY_TABLE = "Không có dữ liệu"

# Characters XML 1.0 cannot hold (lxml refuses them): dropped from every text written.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _clean(text: str) -> str:
    return _XML_INVALID.sub("", text)


def render_docx(report: Report, path: Path) -> Path:
    """Write `report` to `path` as .docx (atomically: a temp file beside it, then os.replace)."""
    path = Path(path)
    doc = Document()
    _setup_page(doc)
    _setup_styles(doc)
    _heading_block(doc, report)
    _title(doc, report)
    for section in report.sections:
        _section(doc, section, depth=1)
    _appendix(doc, report.appendix)
    _signature(doc, report)
    _footer(doc)
    _properties(doc, report)
    _save_atomic(doc, path)
    return path


# --- page and styles ---------------------------------------------------------------------------------

def _setup_page(doc: DocxDocument) -> None:
    s = doc.sections[0]
    s.orientation = WD_ORIENT.PORTRAIT
    s.page_width, s.page_height = Cm(21), Cm(29.7)
    s.top_margin = s.bottom_margin = Cm(2)
    s.left_margin, s.right_margin = Cm(3), Cm(2)
    s.header_distance = s.footer_distance = Cm(1)


def _set_fonts(rpr: Any) -> None:
    """Times New Roman for every script on an rPr element (theme fonts removed: they win otherwise)."""
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = parse_xml(f"<w:rFonts {nsdecls('w')}/>")
        rpr.insert(0, rfonts)
    for attr in ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme"):
        rfonts.attrib.pop(qn(f"w:{attr}"), None)
    for attr in ("ascii", "hAnsi", "eastAsia", "cs"):
        rfonts.set(qn(f"w:{attr}"), FONT)


def _setup_styles(doc: DocxDocument) -> None:
    styles = doc.styles
    # Document defaults: the template's theme fonts (Calibri/Cambria) replaced, Vietnamese language.
    rpr_default = styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _set_fonts(rpr_default)
    lang = rpr_default.find(qn("w:lang"))
    if lang is not None:
        lang.set(qn("w:val"), "vi-VN")

    normal = styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(BODY_PT)
    _set_fonts(normal.element.get_or_add_rPr())
    pf = normal.paragraph_format
    pf.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    pf.space_before, pf.space_after = Pt(0), Pt(6)
    pf.line_spacing = 1.0

    for level, size, before, italic in ((1, 13, 12, False), (2, 13, 9, False), (3, 13, 6, True)):
        for name in (f"Heading {level}", f"Heading {level} Char"):   # the paragraph style and its linked
            if name not in styles:                                   # character style
                continue
            style = styles[name]
            rpr = style.element.get_or_add_rPr()
            _set_fonts(rpr)
            style.font.bold = True
            style.font.italic = italic
            style.font.size = Pt(size)
            style.font.color.rgb = RGBColor(0, 0, 0)
            for sz_cs in rpr.findall(qn("w:szCs")):
                sz_cs.set(qn("w:val"), str(2 * size))
        style = styles[f"Heading {level}"]
        style.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.LEFT
        style.paragraph_format.space_before = Pt(before)
        style.paragraph_format.space_after = Pt(6)
        style.paragraph_format.keep_with_next = True

    cell = styles.add_style(TABLE_TEXT_STYLE, WD_STYLE_TYPE.PARAGRAPH)
    cell.base_style = normal
    cell.font.size = Pt(TABLE_PT)
    cpf = cell.paragraph_format
    cpf.alignment = WD_ALIGN_PARAGRAPH.LEFT
    cpf.space_before = cpf.space_after = Pt(0)
    cpf.line_spacing = 1.0


# --- small paragraph helpers -------------------------------------------------------------------------

def _para(container: Any, text: str = "", *, bold: bool = False, italic: bool = False,
          underline: bool = False, align: WD_ALIGN_PARAGRAPH | None = None, size: float | None = None,
          color: RGBColor | None = None, space_after: float | None = None) -> Paragraph:
    p = container.add_paragraph()
    if text:
        run = p.add_run(_clean(text))
        run.bold = bold or None
        run.italic = italic or None
        run.underline = underline or None
        if size is not None:
            run.font.size = Pt(size)
        if color is not None:
            run.font.color.rgb = color
    if align is not None:
        p.alignment = align
    if space_after is not None:
        p.paragraph_format.space_after = Pt(space_after)
    return p


def _borderless(table: DocxTable, widths: Sequence[int]) -> None:
    """No borders, fixed column widths (EMU), and cell paragraphs without the body's spacing."""
    tbl_pr = table._tbl.tblPr
    tbl_pr.insert_element_before(parse_xml(
        f"<w:tblBorders {nsdecls('w')}>"
        + "".join(f'<w:{side} w:val="nil"/>' for side in ("top", "left", "bottom", "right", "insideH", "insideV"))
        + "</w:tblBorders>"), "w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook", "w:tblCaption",
        "w:tblDescription", "w:tblPrChange")
    table.autofit = False
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for col, width in zip(table.columns, widths, strict=True):
        col.width = width
        for cell in col.cells:
            cell.width = width


def _cell_lines(cell: Any, lines: list[tuple[str, dict[str, Any]]]) -> None:
    """Fill a cell (which starts with one empty paragraph) with one paragraph per line."""
    first = True
    for text, fmt in lines:
        p = cell.paragraphs[0] if first else cell.add_paragraph()
        first = False
        p.alignment = fmt.get("align", WD_ALIGN_PARAGRAPH.CENTER)
        p.paragraph_format.space_after = Pt(0)
        if text:
            run = p.add_run(_clean(text))
            run.bold = fmt.get("bold") or None
            run.italic = fmt.get("italic") or None
            run.underline = fmt.get("underline") or None
            if "size" in fmt:
                run.font.size = Pt(fmt["size"])


# --- blocks ------------------------------------------------------------------------------------------

def _heading_block(doc: DocxDocument, report: Report) -> None:
    table = doc.add_table(rows=1, cols=2)
    _borderless(table, (Cm(6.5), Cm(9.5)))
    left, right = table.rows[0].cells
    issuer = [line.strip() for line in report.issuer.splitlines() if line.strip()] or [""]
    # Nghị định 30: the parent authority (if any) in plain type, the issuing body in bold.
    _cell_lines(left, [(line, {"bold": i == len(issuer) - 1, "size": 13}) for i, line in enumerate(issuer)])
    _cell_lines(right, [(NATION, {"bold": True, "size": 13}),
                        (MOTTO, {"bold": True, "underline": True, "size": 13})])
    p = _para(doc, report.place_date, italic=True, align=WD_ALIGN_PARAGRAPH.RIGHT)
    p.paragraph_format.space_before = Pt(12)


def _title(doc: DocxDocument, report: Report) -> None:
    p = _para(doc, report.title, bold=True, size=14, align=WD_ALIGN_PARAGRAPH.CENTER, space_after=3)
    p.paragraph_format.space_before = Pt(18)
    _para(doc, f"{report.unit_name} – Phiên bản {report.version}", italic=True,
          align=WD_ALIGN_PARAGRAPH.CENTER, space_after=12)


def _section(doc: DocxDocument, section: Section, *, depth: int) -> None:
    doc.add_heading(_clean(f"{section.number}. {section.title}"), level=min(depth, 3))
    for warning in section.warnings:
        _para(doc, f"⚠ {warning}", bold=True, color=WARNING_RGB)
    for text in section.paragraphs:
        p = _para(doc, text)
        p.paragraph_format.first_line_indent = Cm(1)
    for table in section.tables:
        _table(doc, table)
    for chart in section.charts:
        _chart(doc, chart)
    for sub in section.subsections:
        _section(doc, sub, depth=depth + 1)


def _chart(doc: DocxDocument, chart: Chart) -> None:
    from campaign.reports.charts import chart_png  # matplotlib: imported only when there is a chart

    p = doc.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p.paragraph_format.keep_with_next = True
    p.paragraph_format.space_before = Pt(6)
    p.paragraph_format.space_after = Pt(0)
    p.add_run().add_picture(io.BytesIO(chart_png(chart)), width=PICTURE_WIDTH)
    _para(doc, chart.title, italic=True, align=WD_ALIGN_PARAGRAPH.CENTER, size=12)


def _appendix(doc: DocxDocument, table: Table) -> None:
    heading = doc.add_heading(APPENDIX_HEADING, level=1)
    heading.paragraph_format.page_break_before = True
    _table(doc, table)


def _signature(doc: DocxDocument, report: Report) -> None:
    role, hint = report.signature
    p = doc.add_paragraph()           # a gap between the last table and the block
    p.paragraph_format.keep_with_next = True
    table = doc.add_table(rows=1, cols=2)
    _borderless(table, (Cm(7), Cm(9)))
    table.rows[0]._tr.get_or_add_trPr().append(parse_xml(f"<w:cantSplit {nsdecls('w')}/>"))
    left, right = table.rows[0].cells
    # "Nơi nhận": the report's recipients only; the drafter (the district's health centre) is no recipient
    _cell_lines(left, [("Nơi nhận:", {"bold": True, "italic": True, "size": 12,
                                      "align": WD_ALIGN_PARAGRAPH.LEFT}),
                       *[(f"- {name};", {"size": 11, "align": WD_ALIGN_PARAGRAPH.LEFT}) for name in report.recipients],
                       ("- Lưu: VT.", {"size": 11, "align": WD_ALIGN_PARAGRAPH.LEFT})])
    _cell_lines(right, [(role, {"bold": True}), (hint, {"italic": True})] + [("", {})] * 4)
    if report.drafted_by:   # under the signature, outside the recipients
        p = _para(doc, f"{DRAFTED_LABEL}: {report.drafted_by}", italic=True, size=11)
        p.paragraph_format.space_before = Pt(6)


def _footer(doc: DocxDocument) -> None:
    footer = doc.sections[0].footer
    p = footer.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    size = f'<w:rPr><w:sz w:val="{2 * TABLE_PT}"/></w:rPr>'
    xml = (f"<w:r {nsdecls('w')}>{size}<w:t xml:space=\"preserve\">Trang </w:t></w:r>",
           f"<w:fldSimple {nsdecls('w')} w:instr=\" PAGE \"><w:r>{size}<w:t>1</w:t></w:r></w:fldSimple>",
           f"<w:r {nsdecls('w')}>{size}<w:t>/</w:t></w:r>",
           f"<w:fldSimple {nsdecls('w')} w:instr=\" NUMPAGES \"><w:r>{size}<w:t>1</w:t></w:r></w:fldSimple>")
    for part in xml:
        p._p.append(parse_xml(part))


def _properties(doc: DocxDocument, report: Report) -> None:
    cp = doc.core_properties
    issuer = " ".join(report.issuer.split())
    cp.title = _clean(report.title)
    cp.subject = _clean(report.unit_name)
    cp.author = cp.last_modified_by = _clean(issuer)
    cp.comments = f"Phiên bản {report.version}"
    cp.language = "vi-VN"
    cp.revision = 1
    as_of = report.as_of
    # python-docx writes the time with a "Z" as it is: give it UTC (naive times are UTC in this project).
    as_of = as_of.astimezone(dt.UTC).replace(tzinfo=None) if as_of.tzinfo else as_of
    cp.created = cp.modified = as_of


def _save_atomic(doc: DocxDocument, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            doc.save(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- data tables -------------------------------------------------------------------------------------

_W = nsdecls("w")


def _run_xml(text: str, rpr: str = "") -> str:
    """A run, line breaks kept as <w:br/>."""
    if "\n" not in text and not _XML_INVALID.search(text):
        return f'<w:r>{rpr}<w:t xml:space="preserve">{escape(text)}</w:t></w:r>'
    parts = []
    for i, line in enumerate(_clean(text).split("\n")):
        if i:
            parts.append("<w:br/>")
        if line:
            parts.append(f'<w:t xml:space="preserve">{escape(line)}</w:t>')
    return f"<w:r>{rpr}{''.join(parts)}</w:r>"


def _column_widths(columns: list[str], body: list[list[str]]) -> list[int]:
    """Twips per column, proportional to the text each needs (long headers wrap at word boundaries)."""
    needs = []
    for j, name in enumerate(columns):
        longest_word = max((len(w) for w in name.split()), default=0)
        longest_cell = max((len(row[j]) for row in body), default=0)
        needs.append(min(40, max(4, longest_word + 1, longest_cell + 1, min(len(name), 14))))
    total = int(TEXT_WIDTH.twips)
    widths = [total * n // sum(needs) for n in needs]
    widths[-1] += total - sum(widths)
    return widths


def _table(doc: DocxDocument, table: Table) -> None:
    n = len(table.columns)
    caption = _para(doc, table.title, bold=True, align=WD_ALIGN_PARAGRAPH.LEFT, space_after=3)
    caption.paragraph_format.space_before = Pt(9)
    caption.paragraph_format.keep_with_next = True
    if n == 0:
        _para(doc, EMPTY_TABLE, italic=True, size=TABLE_PT)
        return

    body: list[list[str]] = []
    right: list[list[bool]] = []
    for i, row in enumerate(table.rows):
        if len(row) > n:
            raise ValueError(f"table {table.title!r}: row {i} has {len(row)} cells for {n} columns")
        texts, aligns = [], []
        for c in (row if len(row) == n else list(row) + [None] * (n - len(row))):
            kind = type(c)
            if kind is str:
                texts.append(c)
                aligns.append(False)
            else:
                texts.append(vn_number(c))
                aligns.append(kind is int or kind is float
                              or is_number(c))
        body.append(texts)
        right.append(aligns)
    widths = _column_widths(table.columns, body)

    style = doc.styles[TABLE_TEXT_STYLE].style_id
    p_left = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>'
    p_right = f'<w:pPr><w:pStyle w:val="{style}"/><w:jc w:val="right"/></w:pPr>'
    p_center = f'<w:pPr><w:pStyle w:val="{style}"/><w:keepNext/><w:jc w:val="center"/></w:pPr>'
    bold = "<w:rPr><w:b/><w:bCs/></w:rPr>"
    parts = [f"<w:tbl {_W}>",
             '<w:tr><w:trPr><w:cantSplit/><w:tblHeader/></w:trPr>']
    for name, width in zip(table.columns, widths, strict=True):
        parts.append(f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/>'
                     f'<w:shd w:val="clear" w:color="auto" w:fill="{HEADER_FILL}"/><w:vAlign w:val="center"/>'
                     f"</w:tcPr><w:p>{p_center}{_run_xml(name, bold)}</w:p></w:tc>")
    parts.append("</w:tr>")
    for texts, aligns in zip(body, right, strict=True):
        parts.append("<w:tr><w:trPr><w:cantSplit/></w:trPr>")
        for text, numeric in zip(texts, aligns, strict=True):
            parts.append(f"<w:tc><w:p>{p_right if numeric else p_left}{_run_xml(text)}</w:p></w:tc>")
        parts.append("</w:tr>")
    if not body:
        parts.append(f'<w:tr><w:tc><w:tcPr><w:gridSpan w:val="{n}"/></w:tcPr><w:p>'
                     f'<w:pPr><w:pStyle w:val="{style}"/><w:jc w:val="center"/></w:pPr>'
                     f"{_run_xml(EMPTY_TABLE, '<w:rPr><w:i/></w:rPr>')}</w:p></w:tc></w:tr>")
    parts.append("</w:tbl>")
    rows = parse_xml("".join(parts))

    docx_table = doc.add_table(rows=0, cols=n, style=TABLE_STYLE)
    tbl = docx_table._tbl
    tbl.tblPr.find(qn("w:tblW")).set(qn("w:type"), "dxa")
    tbl.tblPr.find(qn("w:tblW")).set(qn("w:w"), str(sum(widths)))
    for col, width in zip(tbl.tblGrid.findall(qn("w:gridCol")), widths, strict=True):
        col.set(qn("w:w"), str(width))
    tbl.extend(list(rows))

    if table.note:
        _para(doc, table.note, italic=True, size=TABLE_PT).paragraph_format.space_before = Pt(3)
