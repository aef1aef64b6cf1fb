"""The report as PDF (reportlab platypus): the same content and order as the DOCX, A4 portrait, DejaVu Sans
from matplotlib's data directory (Vietnamese diacritics, extractable text, no system font needed).

Every text from the model is escaped before it reaches a Paragraph (district uploads may hold `<` and `&`);
table cells that fit their column are drawn as plain strings (never parsed as markup, and ~10x cheaper than
Paragraphs), only the ones that need wrapping become Paragraphs. The file is written atomically."""

from __future__ import annotations

import contextlib
import io
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from campaign.reports.charts import chart_png
from campaign.reports.model import DRAFTED_LABEL, Chart, Report, Section
from campaign.reports.model import Table as ReportTable
from campaign.reports.present import is_number, vn_number

__all__ = ["render_pdf"]

FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"
FONT_ITALIC = "DejaVuSans-Oblique"
FONT_BOLD_ITALIC = "DejaVuSans-BoldOblique"
_FONT_FILES = {
    FONT: "DejaVuSans.ttf",
    FONT_BOLD: "DejaVuSans-Bold.ttf",
    FONT_ITALIC: "DejaVuSans-Oblique.ttf",
    FONT_BOLD_ITALIC: "DejaVuSans-BoldOblique.ttf",
}

PAGE = A4
LEFT, RIGHT, TOP, BOTTOM = 2.5 * cm, 2 * cm, 2 * cm, 2 * cm
FRAME_WIDTH = PAGE[0] - LEFT - RIGHT

NATIONAL_LINE_1 = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
NATIONAL_LINE_2 = "Độc lập - Tự do - Hạnh phúc"
APPENDIX_HEADING = "Phụ lục: Dữ liệu nguồn"
WARNING_PREFIX = "Lưu ý: "

# Tables: body font size, padding (each side) and colours.
CELL_SIZE = 8.0
CELL_PAD = 3.0
GRID = colors.HexColor("#7f7f7f")
HEADER_BG = colors.HexColor("#e6e6e6")
WARN_FG = colors.HexColor("#8b0000")
WARN_BG = colors.HexColor("#fdecea")
# Room kept on the page for a heading (up to 2 lines), with what follows it: a table's start (caption,
# header, 3 rows), a chart, or text (3 lines); if less is left, the heading starts a new page. CondPageBreak,
# not keepWithNext: a KeepTogether group that does not fit moves whole, leaving the page empty before a long
# table.
KEEP_HEADING = 2 * cm
KEEP_TABLE_START = 3 * cm
KEEP_TEXT = 1.5 * cm
CHART_RATIO = 2.8 / 6.3          # chart_png's default height / width


# --- numbers ------------------------------------------------------------------------------------------

# --- fonts and styles (once per process) --------------------------------------------------------------

_font_lock = threading.Lock()
_fonts_ready = False


def _font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def register_fonts() -> None:
    """Register DejaVu Sans (4 faces) and its family mapping, so <b>/<i> pick the right face. Idempotent."""
    global _fonts_ready
    if _fonts_ready:
        return
    with _font_lock:
        if _fonts_ready:
            return
        registered = set(pdfmetrics.getRegisteredFontNames())
        folder = _font_dir()
        for name, file in _FONT_FILES.items():
            if name not in registered:
                pdfmetrics.registerFont(TTFont(name, str(folder / file)))
        pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT_ITALIC,
                                      boldItalic=FONT_BOLD_ITALIC)
        # Streams zlib-compressed only, without the ASCII85 layer: binary PDF is valid everywhere, and the
        # pure-Python ASCII85 encoder was ~10% of a long report's time (files are also ~20% smaller).
        # Process-wide reportlab setting, read when a stream is written; set once, before any build.
        rl_config.useA85 = 0
        _fonts_ready = True


@dataclass(frozen=True)
class _Styles:
    body: ParagraphStyle
    issuer: ParagraphStyle
    national: ParagraphStyle
    place_date: ParagraphStyle
    title: ParagraphStyle
    subtitle: ParagraphStyle
    headings: tuple[ParagraphStyle, ...]
    warning: ParagraphStyle
    caption: ParagraphStyle
    note: ParagraphStyle
    cell: ParagraphStyle
    cell_header: ParagraphStyle
    sign_role: ParagraphStyle
    sign_hint: ParagraphStyle


@lru_cache(maxsize=1)
def _styles() -> _Styles:
    register_fonts()
    body = ParagraphStyle("body", fontName=FONT, fontSize=10.5, leading=14, alignment=TA_JUSTIFY,
                          spaceAfter=5)
    centered_bold = ParagraphStyle("centered_bold", parent=body, fontName=FONT_BOLD, alignment=TA_CENTER,
                                   spaceAfter=0)
    cell = ParagraphStyle("cell", fontName=FONT, fontSize=CELL_SIZE, leading=CELL_SIZE * 1.2,
                          alignment=TA_LEFT, splitLongWords=1)
    return _Styles(
        body=body,
        issuer=ParagraphStyle("issuer", parent=centered_bold, fontSize=10.5, leading=13.5),
        national=ParagraphStyle("national", parent=centered_bold, fontSize=10.5, leading=13.5),
        place_date=ParagraphStyle("place_date", parent=body, fontName=FONT_ITALIC, alignment=TA_RIGHT,
                                  spaceBefore=8, spaceAfter=10),
        title=ParagraphStyle("title", parent=centered_bold, fontSize=14, leading=18, spaceBefore=6,
                             spaceAfter=4),
        subtitle=ParagraphStyle("subtitle", parent=body, alignment=TA_CENTER, spaceAfter=14),
        headings=(
            ParagraphStyle("h1", parent=body, fontName=FONT_BOLD, fontSize=13, leading=17, alignment=TA_LEFT,
                           spaceBefore=12, spaceAfter=6),
            ParagraphStyle("h2", parent=body, fontName=FONT_BOLD, fontSize=11.5, leading=15,
                           alignment=TA_LEFT, spaceBefore=9, spaceAfter=5),
            ParagraphStyle("h3", parent=body, fontName=FONT_BOLD_ITALIC, fontSize=10.5, leading=14,
                           alignment=TA_LEFT, spaceBefore=7, spaceAfter=4),
        ),
        warning=ParagraphStyle("warning", parent=body, fontName=FONT_BOLD, textColor=WARN_FG,
                               backColor=WARN_BG, borderColor=WARN_FG, borderWidth=0.5, borderPadding=4,
                               alignment=TA_LEFT, spaceBefore=6, spaceAfter=10),
        caption=ParagraphStyle("caption", parent=body, fontName=FONT_BOLD, fontSize=10, leading=13,
                               alignment=TA_LEFT, spaceBefore=6, spaceAfter=4),
        note=ParagraphStyle("note", parent=body, fontName=FONT_ITALIC, fontSize=8.5, leading=11,
                            alignment=TA_LEFT, spaceBefore=3, spaceAfter=6),
        cell=cell,
        cell_header=ParagraphStyle("cell_header", parent=cell, fontName=FONT_BOLD, alignment=TA_CENTER),
        sign_role=ParagraphStyle("sign_role", parent=centered_bold, fontSize=11, leading=14),
        sign_hint=ParagraphStyle("sign_hint", parent=body, fontName=FONT_ITALIC, fontSize=9.5, leading=12,
                                 alignment=TA_CENTER, spaceAfter=0),
    )


# --- text ---------------------------------------------------------------------------------------------

# C0 controls (except tab and newline) break the PDF text operators or the paragraph parser.
_CONTROLS = {c: None for c in range(32) if c not in (9, 10)} | {0x7F: None, 13: None}


def _clean(text: Any) -> str:
    return str(text).translate(_CONTROLS)


def _markup(text: Any) -> str:
    """Plain text as Paragraph markup: escaped (`<`, `>`, `&`), newlines kept as line breaks."""
    return escape(_clean(text)).replace("\t", " ").replace("\n", "<br/>")


def _para(text: Any, style: ParagraphStyle, *, prefix: str = "") -> Paragraph:
    """A Paragraph of plain text; `prefix` is trusted markup put in front (e.g. a bold label)."""
    return Paragraph(prefix + _markup(text), style)


# --- tables -------------------------------------------------------------------------------------------

@lru_cache(maxsize=65536)
def _width(text: str, font: str, size: float) -> float:
    return pdfmetrics.stringWidth(text, font, size)


def _text_width(text: str, font: str = FONT, size: float = CELL_SIZE) -> float:
    """The width of the widest line of `text` (widths are cached: district names repeat)."""
    return max(_width(line, font, size) for line in text.split("\n"))


def _wrap(text: str, room: float, font: str = FONT, size: float = CELL_SIZE) -> str:
    """`text` broken into lines no wider than `room` (greedy, at spaces; a word wider than the room is cut
    between characters). Table cells stay plain strings: a Paragraph per wrapped cell costs ~10x more
    (it is re-wrapped at every page split of a long table) and would need markup escaping."""
    space = _width(" ", font, size)
    lines: list[str] = []
    for source in text.split("\n"):
        line: list[str] = []
        used = 0.0
        for word in source.split():
            w = _width(word, font, size)
            if w > room:                                   # cut a too-long word into pieces that fit
                if line:
                    lines.append(" ".join(line))
                    line, used = [], 0.0
                piece = ""
                for ch in word:
                    if piece and _width(piece + ch, font, size) > room:
                        lines.append(piece)
                        piece = ""
                    piece += ch
                line, used = [piece], _width(piece, font, size)
                continue
            if line and used + space + w > room:
                lines.append(" ".join(line))
                line, used = [], 0.0
            used += (space if line else 0.0) + w
            line.append(word)
        lines.append(" ".join(line))
    return "\n".join(lines)


def _longest_word(text: str, font: str = FONT, size: float = CELL_SIZE) -> float:
    words = text.split()
    if not words:
        return 0.0
    longest = sorted(words, key=len, reverse=True)[:3]
    return max(_width(w, font, size) for w in longest)


def _column_widths(header: list[str], texts: list[list[str]], frame: float) -> list[float]:
    """Widths that fill the frame: columns narrower than their fair share keep their natural width, the
    others share what is left in proportion to theirs (never below their longest word, if it fits)."""
    n = len(header)
    pad = 2 * CELL_PAD
    natural = []
    minimum = []
    for c in range(n):
        column = [row[c] for row in texts]
        # The widest cells are among the longest strings: measure only the 12 longest.
        longest = sorted(column, key=len, reverse=True)[:12]
        body = max((_text_width(t) for t in longest), default=0.0)
        head_word = _longest_word(header[c], FONT_BOLD)
        head_full = _text_width(header[c], FONT_BOLD)
        natural.append(max(body, min(head_full, max(head_word, 40.0))) + pad)
        minimum.append(max([_longest_word(t) for t in longest] + [head_word]) + pad)
    total = sum(natural)
    if total <= frame:
        return [w * frame / total for w in natural]
    widths: list[float | None] = [None] * n
    left = frame
    while True:
        open_cols = [c for c in range(n) if widths[c] is None]
        if not open_cols:
            break
        share = left / len(open_cols)
        narrow = [c for c in open_cols if natural[c] <= share]
        if not narrow:
            wide_total = sum(natural[c] for c in open_cols)
            for c in open_cols:
                widths[c] = left * natural[c] / wide_total
            break
        for c in narrow:
            widths[c] = natural[c]
            left -= natural[c]
    out = [float(w) for w in widths]  # type: ignore[arg-type]
    # Raise columns below their longest word, taking the room from the others in proportion to what
    # they have above theirs (only if that is enough: otherwise long words are split).
    short = sum(max(0.0, minimum[c] - out[c]) for c in range(n))
    spare = sum(max(0.0, out[c] - minimum[c]) for c in range(n))
    if 0 < short <= spare:
        out = [minimum[c] if out[c] < minimum[c] else out[c] - short * (out[c] - minimum[c]) / spare
               for c in range(n)]
    return out


def _table_flowables(table: ReportTable, styles: _Styles, frame: float = FRAME_WIDTH) -> list[Flowable]:
    # A new page only if the caption, the header and a few rows would not fit (keepWithNext would move
    # the caption and the whole long table to the next page, leaving this one empty).
    out: list[Flowable] = [CondPageBreak(KEEP_TABLE_START)]
    if table.title:
        out.append(_para(table.title, styles.caption))
    n = len(table.columns)
    if n == 0:
        return out
    rows = [list(r[:n]) + [None] * (n - len(r)) for r in table.rows]
    texts = [[_clean(vn_number(v)).replace("\t", " ") for v in row] for row in rows]
    header = [_clean(c) for c in table.columns]
    widths = _column_widths(header, texts, frame)
    numeric = [[is_number(v) or v is None for v in row] for row in rows]
    numeric_cols = [all(row[c] for row in numeric) and any(is_number(r[c]) for r in rows) for c in range(n)]

    data: list[list[Any]] = [[_para(h, styles.cell_header) for h in header]]
    commands: list[tuple] = [
        ("FONT", (0, 0), (-1, -1), FONT, CELL_SIZE, CELL_SIZE * 1.2),
        ("GRID", (0, 0), (-1, -1), 0.5, GRID),
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG),
        ("VALIGN", (0, 0), (-1, 0), "MIDDLE"),
        ("VALIGN", (0, 1), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), CELL_PAD),
        ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PAD),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    for c in range(n):
        if numeric_cols[c]:
            commands.append(("ALIGN", (c, 1), (c, -1), "RIGHT"))
    for r, (row, text_row) in enumerate(zip(rows, texts, strict=True), start=1):
        cells: list[Any] = []
        for c, text in enumerate(text_row):
            right = is_number(row[c])
            if right and not numeric_cols[c]:
                commands.append(("ALIGN", (c, r), (c, r), "RIGHT"))
            room = widths[c] - 2 * CELL_PAD
            # No glyph is wider than 1 em: a short string fits without measuring it.
            if len(text) * CELL_SIZE <= room or _text_width(text) <= room:
                cells.append(text)
            else:
                cells.append(_wrap(text, room))
        data.append(cells)
    # splitInRow: a row taller than a page (a very long note in an upload) is split across pages instead
    # of failing the whole report; ordinary rows are never split (splitByRow is tried first).
    flow = Table(data, colWidths=widths, repeatRows=1, splitInRow=30, style=TableStyle(commands),
                 hAlign="LEFT")
    out.append(flow)
    if table.note:
        out.append(_para(table.note, styles.note))
    else:
        out.append(Spacer(1, 6))
    return out


# --- charts -------------------------------------------------------------------------------------------

_chart_cache: OrderedDict[str, bytes] = OrderedDict()
_chart_lock = threading.Lock()
CHART_CACHE_SIZE = 16


def chart_png_cached(chart: Chart) -> bytes:
    """chart_png, remembered for the last few charts (by value): the PDF and the HTML of a report draw the
    same charts, ~0.1 s each."""
    key = repr(chart)
    with _chart_lock:
        png = _chart_cache.get(key)
        if png is not None:
            _chart_cache.move_to_end(key)
            return png
    png = chart_png(chart)
    with _chart_lock:
        _chart_cache[key] = png
        while len(_chart_cache) > CHART_CACHE_SIZE:
            _chart_cache.popitem(last=False)
    return png


def _chart_flowable(chart: Chart, frame: float = FRAME_WIDTH) -> Flowable:
    from reportlab.lib.utils import ImageReader

    png = chart_png_cached(chart)
    w, h = ImageReader(io.BytesIO(png)).getSize()
    img = Image(io.BytesIO(png), width=frame, height=frame * h / w)
    img.hAlign = "CENTER"
    return KeepTogether([img, Spacer(1, 8)])


# --- document -----------------------------------------------------------------------------------------

def _header_block(report: Report, styles: _Styles) -> list[Flowable]:
    left = [_para(line.strip(), styles.issuer) for line in report.issuer.splitlines() if line.strip()] or \
        [_para("", styles.issuer)]
    right = [_para(NATIONAL_LINE_1, styles.national),
             Paragraph("<u>" + _markup(NATIONAL_LINE_2) + "</u>", styles.national)]
    block = Table([[left, right]], colWidths=[FRAME_WIDTH * 0.42, FRAME_WIDTH * 0.58], hAlign="CENTER")
    block.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT),                 # the cell default would be Helvetica
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("RIGHTPADDING", (0, 0), (-1, -1), 0),
    ]))
    return [
        block,
        _para(report.place_date, styles.place_date),
        _para(report.title, styles.title),
        _para(f"{report.unit_name} - Phiên bản {report.version}", styles.subtitle),
    ]


def _walk(sections: list[Section], depth: int = 0) -> Iterator[tuple[Section, int]]:
    for s in sections:
        yield s, depth
        yield from _walk(s.subsections, depth + 1)


def _heading_keep(section: Section) -> float:
    """The room a section's heading needs below it so that it does not stay alone at the page's foot."""
    if section.warnings or section.paragraphs:
        return KEEP_HEADING + KEEP_TEXT
    if section.tables:
        return KEEP_HEADING + KEEP_TABLE_START
    if section.charts:
        return KEEP_HEADING + FRAME_WIDTH * CHART_RATIO + 8
    if section.subsections:
        return KEEP_HEADING + _heading_keep(section.subsections[0])
    return KEEP_HEADING


def _section_flowables(section: Section, depth: int, styles: _Styles) -> list[Flowable]:
    heading_style = styles.headings[min(depth, len(styles.headings) - 1)]
    out: list[Flowable] = [CondPageBreak(_heading_keep(section)),
                           _para(f"{section.number}. {section.title}", heading_style)]
    for w in section.warnings:
        out.append(_para(w, styles.warning, prefix=escape(WARNING_PREFIX)))
    for p in section.paragraphs:
        out.append(_para(p, styles.body))
    for t in section.tables:
        out.extend(_table_flowables(t, styles))
    for ch in section.charts:
        out.append(_chart_flowable(ch))
    return out


def _signature_block(report: Report, styles: _Styles) -> Flowable:
    role, hint = report.signature
    right = [_para(role, styles.sign_role), _para(hint, styles.sign_hint), Spacer(1, 2.5 * cm)]
    # "Nơi nhận": the report's recipients only; the drafter (the district's health centre) is no recipient
    to_style = ParagraphStyle("to", parent=styles.body, fontSize=9.5, leading=12, alignment=TA_LEFT, spaceAfter=0)
    left = [_para("Nơi nhận:", ParagraphStyle("to_head", parent=to_style, fontName=FONT_BOLD_ITALIC, fontSize=10.5)),
            *[_para(f"- {name};", to_style) for name in report.recipients], _para("- Lưu: VT.", to_style)]
    block = Table([[left, right]], colWidths=[FRAME_WIDTH * 0.45, FRAME_WIDTH * 0.55])
    block.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), FONT),
                               ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    drafted = [_para(f"{DRAFTED_LABEL}: {report.drafted_by}",   # under the signature, outside the recipients
                     ParagraphStyle("drafted", parent=styles.sign_hint, alignment=TA_LEFT, spaceBefore=6))
               ] if report.drafted_by else []
    return KeepTogether([Spacer(1, 14), block, *drafted])


def build_story(report: Report) -> list[Flowable]:
    """The flowables of the whole report, in the model's order."""
    styles = _styles()
    story = _header_block(report, styles)
    for section, depth in _walk(report.sections):
        story.extend(_section_flowables(section, depth, styles))
    story.append(CondPageBreak(KEEP_HEADING + KEEP_TABLE_START))
    story.append(_para(APPENDIX_HEADING, styles.headings[0]))
    story.extend(_table_flowables(report.appendix, styles))
    story.append(_signature_block(report, styles))
    return story


def _numbered_canvas(footer_title: str):
    """A canvas that holds every page until save(), then stamps "Trang X/Y" and the title on each."""

    class NumberedCanvas(rl_canvas.Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 (reportlab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self._footer(total)
                super().showPage()
            super().save()

        def _footer(self, total: int) -> None:
            self.saveState()
            y = BOTTOM - 0.9 * cm
            self.setStrokeColor(GRID)
            self.setLineWidth(0.4)
            self.line(LEFT, y + 10, PAGE[0] - RIGHT, y + 10)
            self.setFillColor(colors.HexColor("#404040"))
            self.setFont(FONT, 7.5)
            label = f"Trang {self._pageNumber}/{total}"
            room = FRAME_WIDTH - pdfmetrics.stringWidth(label, FONT, 7.5) - 12
            title = footer_title
            if pdfmetrics.stringWidth(title, FONT, 7.5) > room:
                while title and pdfmetrics.stringWidth(title + "…", FONT, 7.5) > room:
                    title = title[:-1]
                title = title.rstrip() + "…"
            self.drawString(LEFT, y, title)
            self.drawRightString(PAGE[0] - RIGHT, y, label)
            self.restoreState()

    return NumberedCanvas


def render_pdf(report: Report, path: Path) -> Path:
    """Render `report` to `path` (A4 PDF), atomically: a temporary file in the same directory, then
    os.replace. Returns `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    story = build_story(report)
    # A unique name beside the target (not mkstemp: its 0600 mode would survive the rename).
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        doc = SimpleDocTemplate(
            str(tmp), pagesize=PAGE, leftMargin=LEFT, rightMargin=RIGHT, topMargin=TOP,
            bottomMargin=BOTTOM, title=_clean(report.title), author=_clean(" ".join(report.issuer.split())),
            subject=_clean(report.unit_name), creator="campaign-readiness", lang="vi",
            initialFontName=FONT, initialFontSize=10.5, initialLeading=14,   # no Helvetica resource
        )
        doc.build(story, canvasmaker=_numbered_canvas(_clean(report.title).replace("\n", " ")))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path
