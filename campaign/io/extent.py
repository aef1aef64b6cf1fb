"""How far a sheet reaches, read from the file's own bytes before any reader lays it out.

python-calamine (and xlrd) build a sheet as a dense grid from its first to its last cell, and only then
can the reader ask how big it is: a 1.9 KB xlsx holding a header and one cell at XFD1048576 asked for
17 billion cells (512 GB: the process aborted); one at ZZ200000 for 140 million (4.6 GB, 13 s). So the
size is measured here first, streaming, and the reader refuses a sheet whose grid is far larger than what
it holds (`oversized`, a pure rule) before the sheet is built:

- xlsx: the sheet's XML, inflated 1 MiB at a time: its `<dimension ref>` (which may lie or be absent) and
  the rows and columns its cells and rows really name. A sheet written the usual way (every `<c>` and
  `<row>` with its `r="..."` first, and no other `r` attribute anywhere) is measured with numpy on the
  bytes (~0.2 s for 84 MB of XML); any other spelling (cells without `r`, single quotes, prefixed tags, an
  `r` further on in a tag) goes through a tokenizer that reads the XML as the reader's parser (quick-xml)
  does: every tag up to its first `>` outside quotes, comments, CDATA and processing instructions whole,
  the cells one by one placed as the reader places them (by their `r`, the last one when a tag repeats
  it, else after the previous cell). An `r` that is not a cell reference refuses the sheet as damaged
  (`Unmeasurable`): nothing is guessed. The same pass notes whether the sheet holds a formula.
  The shared strings (`xl/sharedStrings.xml`) are checked too: calamine reserves a slot for every string
  the `uniqueCount` of their root tag announces (24 bytes each, before reading one), so a count the part
  is far too small to hold refuses the file as damaged (`xlsx_shared_strings`).
- xls: the BIFF records of the workbook stream, per worksheet, walked from where each BOUNDSHEET record
  says the sheet starts up to its EOF, as calamine walks them: cells, MULRK/MULBLANK runs, and the
  DIMENSIONS record, from which calamine reserves rows × columns cells before reading any (a 5 KB file
  declaring 2^31 rows asked for 21 TB). Past Excel 97's 65,536 rows × 256 columns a sheet is refused.
- ods: content.xml's `table:` rows and cells (the prefix calamine reads) with their repeat counts, parsed
  as calamine parses them (the repeat counts unescaped, quoted `>` inside tags); a cell holding a value,
  a formula or content reaches the extent.
- xlsb: the BIFF12 records of each sheet part (row headers, cells).

CSV is measured by the reader (records × fields) with the same rule.
"""

from __future__ import annotations

import html
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from xlsxwriter.utility import xl_col_to_name

EXCEL_ROWS, EXCEL_COLUMNS = 1_048_576, 16_384
XLS_ROWS, XLS_COLUMNS = 65_536, 256    # Excel 97-2003 (.xls): what a BIFF8 sheet can hold
MAX_CELLS = 80_000_000     # a grid larger than this is refused whatever it holds (~2.5 GB in calamine alone)
HOLLOW_FLOOR = 4_000_000   # a grid this small is read whatever it holds (~0.2 GB, a few seconds)
HOLLOW_RATIO = 16          # above the floor, the grid may be at most this many times the cells held
WORKBOOK_CELLS = MAX_CELLS # the grids a reader builds for one workbook, all sheets together
MAX_SHEETS = 100           # sheets a reader lays out looking for the list (a district file has a few)
SST_ITEM_BYTES = 5         # the shortest shared string calamine counts (`<si/>`)
SST_TRUSTED = 1_000_000    # a uniqueCount this small reserves at most 24 MB: not checked against the part

_CHUNK = 1 << 20
_OVERLAP = 64              # longer than any pattern looked for: a match cut by a chunk's end is seen whole
_MAX_TAG = 1 << 20         # a start tag longer than this is no spreadsheet's


class Unmeasurable(Exception):
    """The part cannot be measured (not XML/BIFF as expected, or it says something no reader should
    follow): the reader refuses it as damaged. `vi` says what is wrong and where, in Vietnamese, when
    known ("ô có địa chỉ «XFD00000001048576x» không phải địa chỉ ô (dòng 3)")."""

    def __init__(self, what: str = "", vi: str | None = None, sheet: str | None = None):
        super().__init__(what or vi or "")
        self.vi = vi
        self.sheet = sheet


# what reading a damaged zip member or record stream raises (a flipped byte in a deflate stream is a
# zlib.error, a cut one an EOFError, an unknown compression method NotImplementedError)
DAMAGE = (Unmeasurable, KeyError, OSError, ValueError, SyntaxError, EOFError, NotImplementedError, RuntimeError,
          zipfile.BadZipFile, zlib.error, struct.error)


@dataclass(frozen=True)
class Extent:
    """How far a sheet reaches. `rows` / `columns`: the last row and column any cell, row or declared
    dimension names (1-based; a grid of rows × columns is what a reader builds); `cells`: the cells the
    file really holds (repeats counted); `formulas`: whether it holds a formula element (xlsx)."""

    rows: int = 0
    columns: int = 0
    cells: int = 0
    formulas: bool = False

    @property
    def grid(self) -> int:
        return self.rows * self.columns

    @property
    def corner(self) -> str:
        """The last cell of the grid as Excel names it ("XFD1048576")."""
        return f"{xl_col_to_name(max(self.columns, 1) - 1)}{max(self.rows, 1)}"


def oversized(extent: Extent, *, row_limit: int | None = EXCEL_ROWS, column_limit: int = EXCEL_COLUMNS) -> bool:
    """Would laying the sheet out as a grid cost far more than it holds, or is it beyond what a sheet can be?

    A sheet past its format's last row or column (Excel's, or Excel 97's for an .xls) is damaged or
    forged; a grid above MAX_CELLS is too large to build; above HOLLOW_FLOOR, a grid more than
    HOLLOW_RATIO times the cells held is mostly empty space (a stray cell far below or to the right of the
    data) and costs memory for nothing."""
    if (row_limit is not None and extent.rows > row_limit) or extent.columns > column_limit:
        return True
    grid = extent.grid
    return grid > MAX_CELLS or grid > max(HOLLOW_FLOOR, HOLLOW_RATIO * extent.cells)


# ---------------------------------------------------------------------------------------------------------
# XML as quick-xml (calamine's parser) reads it
# ---------------------------------------------------------------------------------------------------------

# A start tag runs to its first `>` outside quotes (`x="a>b"` does not end it), an end tag to its first `>`;
# comments, CDATA sections and processing instructions are opaque. Possessive throughout: a tag that never
# closes fails in linear time.
_TAG_BODY = rb"""[^>"']*+(?:(?:"[^"]*+"|'[^']*+')[^>"']*+)*+"""
_OPAQUE = rb"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>"
_ATTR = re.compile(rb"""([^\s=<>"'/]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_HAS_R = re.compile(rb"""(?:^|[\s"'])r\s*=""").search


def _scanner(elements: bytes, *, closings: bool) -> re.Pattern[bytes]:
    """A pattern for `findall` reading markup in document order, one tag of `elements` per match: groups
    ("/" of an end tag, the qualified name, the attributes up to `>` with a trailing "/" when empty, the
    rest). Everything before the tag (text, other tags, opaque sections) is skipped inside the match, so
    that a quoted attribute never starts a tag. Where neither a tag nor something to skip starts, the
    item is incomplete (cut by the chunk's end) or malformed: "the rest" takes everything from there, for
    the caller to carry to the next chunk. End tags of `elements` are reported when `closings`."""
    element = rb"(?:" + elements + rb")(?=[\s/>])"
    if closings:
        end_tags, wanted = rb"</(?!" + element + rb")[^>]*+>", rb"<(/?+)(" + element + rb")(" + _TAG_BODY + rb")>"
    else:
        end_tags, wanted = rb"</[^>]*+>", rb"<()(" + element + rb")(" + _TAG_BODY + rb")>"
    skip = rb"(?:[^<]++|" + end_tags + rb"|<(?![!?/]|" + element + rb")" + _TAG_BODY + rb">|" + _OPAQUE + rb")++"
    return re.compile(rb"(?:" + skip + rb")?+(?:" + wanted + rb"|(<(?s:.)*+)|\Z)", re.DOTALL)


def _attributes(body: bytes) -> list[tuple[bytes, bytes]]:
    """(name, raw value) of every attribute of a tag, in order (a value is never searched for names)."""
    return [(name, a if a or not b else b) for name, a, b in _ATTR.findall(body)]


def _vi(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def _local(name: bytes) -> bytes:
    return name.rpartition(b":")[2]


def _shown(raw: bytes, limit: int = 40) -> str:
    """A raw value as a message shows it, cut."""
    text = raw.decode("utf-8", errors="replace")
    return text if len(text) <= limit else text[:limit] + "…"


# ---------------------------------------------------------------------------------------------------------
# xlsx
# ---------------------------------------------------------------------------------------------------------

_F_ANY = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")
_CELL_REF = re.compile(rb"\$?([A-Za-z]+)\$?(\d+)")
_FAR = 1 << 40             # a row or column written with more digits or letters than any sheet has


def _ref(text: bytes) -> tuple[int, int] | None:
    """(row, column), 1-based, of an A1 reference; None when it is not one. Leading zeros and any number
    of digits are read as calamine reads them ("XFD0000000001048576" is row 1,048,576)."""
    m = _CELL_REF.fullmatch(text.strip())
    if m is None:
        return None
    letters, digits = m.group(1).upper(), m.group(2).lstrip(b"0")
    col = 0
    for ch in letters[:8]:
        col = col * 26 + ch - 64
    row = int(digits) if 0 < len(digits) <= 12 else (0 if not digits else _FAR)
    return row, (col if len(letters) <= 8 else _FAR)


def _row_number(text: bytes) -> int | None:
    text = text.strip()
    if not text.isdigit():
        return None
    digits = text.lstrip(b"0")
    return int(digits) if len(digits) <= 12 else _FAR


def _digits(a: np.ndarray, at: np.ndarray, width: int = 9) -> tuple[np.ndarray, bool]:
    """The number written at each position, and whether every one is a plain reference's: one to `width`
    - 1 digits closed by the attribute's quote (else the tokenizer reads them exactly, or refuses them)."""
    value = np.zeros(len(at), dtype=np.int64)
    count = np.zeros(len(at), dtype=np.int64)
    run = np.ones(len(at), dtype=bool)
    for k in range(width):
        d = a[at + k].astype(np.int64) - 48
        run &= (d >= 0) & (d <= 9)
        value = np.where(run, value * 10 + d, value)
        count += run
    plain = (count > 0) & (count < width) & (a[at + np.minimum(count, width)] == 34)
    return value, bool(plain.all())


def _table(chars: bytes) -> np.ndarray:
    out = np.zeros(256, dtype=bool)
    out[list(chars)] = True
    return out


_NAME_END = _table(b" \t\n\r>/")
_PREFIXED = re.compile(rb"<[A-Za-z_][\w.-]*:(c|row|f)(?=[\s/>])")
_PREFIX_HINT = re.compile(rb":(?:c|row|f)[\s/>]")   # a quick look first: most chunks have none
_R_FIRST = np.frombuffer(b' r="', dtype="<u4")[0]
_BEFORE_ATTR = _table(b" \t\n\r\"'")   # quick-xml reads `t="s"r="B2"` as two attributes
_AFTER_NAME = _table(b"= \t\n\r")


def _u32(a: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The four bytes at each position as one little-endian uint32."""
    return (a[at].astype(np.uint32) | (a[at + 1].astype(np.uint32) << 8) | (a[at + 2].astype(np.uint32) << 16)
            | (a[at + 3].astype(np.uint32) << 24))


class _ByteMeasure:
    """Rows, columns and cells of a sheet written the usual way, with numpy on the bytes: every tag start
    ('<') is classified once; `<c r="B7"` and `<row r="7"` are read where they stand. Anything else
    (a cell or row without its `r` first, a prefixed tag, an `r` attribute anywhere but first in a cell
    or row tag: calamine takes a cell's last `r`) makes `feed` answer False: the tokenizer then follows
    the sheet instead."""

    def __init__(self) -> None:
        self.rows = self.columns = self.cells = 0
        self.formulas = False
        self.first = True

    def feed(self, buf: bytes, end: int) -> bool:
        """Measure the tags starting in buf[:end] (the caller keeps 64 bytes after `end` in buf)."""
        n = len(buf)
        a = np.frombuffer(buf if end + _OVERLAP <= n else buf + b"\0" * _OVERLAP, dtype=np.uint8)
        lt_all = np.flatnonzero(a[:n] == 60)
        lt = lt_all[:np.searchsorted(lt_all, end)]
        n1 = a[lt + 1]
        # a prefixed element name (<x:c ...>, any prefix: calamine reads the name after the first colon):
        # a cell or row is followed by the tokenizer; a formula (Excel's <xm:f> of list validations, in
        # extLst) only says the sheet may hold one
        for m in _PREFIXED.finditer(buf) if _PREFIX_HINT.search(buf) else ():
            if m.group(1) != b"f":
                return False
            self.formulas = True
        name_end2 = _NAME_END[a[lt + 2]]
        self.formulas = self.formulas or bool(((n1 == 102) & name_end2).any())
        cells = lt[(n1 == 99) & name_end2]
        rows = lt[(n1 == 114) & (a[lt + 2] == 111) & (a[lt + 3] == 119) & _NAME_END[a[lt + 4]]]
        if not ((_u32(a, cells + 2) == _R_FIRST).all() and (_u32(a, rows + 4) == _R_FIRST).all()):
            return False
        if not self._r_only_first(a, n, end, lt_all, cells, rows):
            return False
        held = self._held(a, n, lt_all, cells)
        if held is None:
            return False
        refs = cells + 6
        if len(refs):
            if not ((a[refs] - 65) < 26).all():   # uint8 arithmetic wraps: one comparison per range
                return False
            l1 = (a[refs + 1] - 65) < 26
            l2 = l1 & ((a[refs + 2] - 65) < 26)
            l3 = l2 & ((a[refs + 3] - 65) < 26)
            if (l3 & ((a[refs + 4] - 65) < 26)).any():   # five letters or more: the tokenizer reads them
                return False
            col = a[refs].astype(np.int64) - 64
            col = np.where(l1, col * 26 + a[refs + 1] - 64, col)
            col = np.where(l2, col * 26 + a[refs + 2] - 64, col)
            col = np.where(l3, col * 26 + a[refs + 3] - 64, col)   # four letters: past XFD, named as written
            row, plain = _digits(a, refs + 1 + l1 + l2 + l3)
            if not plain:
                return False
            if held.any():   # calamine's grid spans the cells holding something: an empty styled one is skipped
                self.columns = max(self.columns, int(col[held].max()))
                self.rows = max(self.rows, int(row[held].max()))
        if len(rows):
            _row, plain = _digits(a, rows + 8)
            if not plain:
                return False   # the tokenizer says which row number is no number
        self.cells += int(held.sum())
        self.first = False
        return True

    @staticmethod
    def _held(a: np.ndarray, n: int, lt_all: np.ndarray, cells: np.ndarray) -> np.ndarray | None:
        """Which cell tags may hold something: all but the self-closed ones (`<c r="Z9" s="3"/>`, a
        formatted empty cell, which calamine skips). None when a tag's end cannot be found safely with
        bytes alone (a quote, or a '<', inside it): the tokenizer reads those. A tag running past the
        buffer counts as holding something."""
        held = np.ones(len(cells), dtype=bool)
        if not len(cells):
            return held
        gt = np.flatnonzero(a[:n] == 62)
        k = np.searchsorted(gt, cells)
        inside = k < len(gt)
        ends = gt[k[inside]]
        starts = cells[inside]
        following = np.searchsorted(lt_all, starts, side="right")
        next_lt = np.where(following < len(lt_all), lt_all[np.minimum(following, len(lt_all) - 1)], n)
        if (next_lt < ends).any():
            return None
        if len(ends):
            dq = np.concatenate(([0], np.cumsum(a[:n] == 34)))
            sq = np.concatenate(([0], np.cumsum(a[:n] == 39)))
            if ((dq[ends] - dq[starts]) % 2).any() or (sq[ends] - sq[starts]).any():
                return None
            held[inside] = a[ends - 1] != 47   # "/>": empty
        return held

    def _r_only_first(self, a: np.ndarray, n: int, end: int, lt_all: np.ndarray, cells: np.ndarray,
                      rows: np.ndarray) -> bool:
        """Is every attribute named `r` in the tags starting before `end` the first attribute of a cell or
        row tag (where it was read)? An `r` is owned by the last '<' before it; one owned by a tag starting
        at or after `end` is the next chunk's; one with no '<' before it in buf belongs to a tag of the
        previous chunk, which saw it when it stands in the 64 bytes they share."""
        rs = np.flatnonzero(a[1:n] == 114) + 1
        if not len(rs):
            return True
        after = np.ones(len(rs), dtype=bool)
        inside = rs < n - 1
        after[inside] = _AFTER_NAME[a[rs[inside] + 1]]
        rs = rs[_BEFORE_ATTR[a[rs - 1]] & after]
        owner = np.searchsorted(lt_all, rs) - 1
        orphan = owner < 0
        if orphan.any() and (self.first or (rs[orphan] >= _OVERLAP).any()):
            return False
        mine = rs[~orphan][lt_all[owner[~orphan]] < end]
        expected = np.zeros(n + 8, dtype=bool)
        expected[cells + 3] = True
        expected[rows + 5] = True
        return bool(expected[mine].all())


_XLSX_SCAN = _scanner(rb"(?:[A-Za-z_][\w.-]*:)?(?:row|c)", closings=False)


class _Tokenizer:
    """Cells and rows one by one, placed as calamine places them: a cell by its `r` (the last one when the
    tag has several: the largest row and column are taken), else after the previous cell; a row by its
    `r`, else after the previous row."""

    def __init__(self) -> None:
        self.rows = self.columns = self.cells = 0
        self.row = 0
        self.col = 0

    def feed(self, buf: bytes) -> int:
        """Measure the markup of buf; answer where the incomplete rest (to carry to the next chunk) starts."""
        for _closing, name, body, rest in _XLSX_SCAN.findall(buf):
            if name:
                rs = [value for attr, value in _attributes(body) if attr == b"r"] if _HAS_R(body) else []
                if name[-1] == 99:   # c
                    self._cell(rs, held=not body.endswith(b"/"))
                else:
                    self._row(rs)
            elif rest:
                return len(buf) - len(rest)
        return len(buf)

    def _row(self, rs: list[bytes]) -> None:
        if rs:
            numbers = [_row_number(v) for v in rs]
            if None in numbers:
                bad = rs[numbers.index(None)]
                raise Unmeasurable("row r", vi=f"một dòng có số dòng «{_shown(bad)}» không phải một số "
                                               f"(sau dòng {self.row})")
            self.row = max(n for n in numbers if n is not None)
        else:
            self.row += 1
        self.col = 0   # a row alone (a custom height) is no part of calamine's grid: only its cells are

    def _cell(self, rs: list[bytes], held: bool = True) -> None:
        if rs:
            where = [_ref(v) for v in rs]
            if None in where:
                bad = rs[where.index(None)]
                raise Unmeasurable("cell r", vi=f"một ô có địa chỉ «{_shown(bad)}» không phải địa chỉ ô "
                                                f"(dòng {max(self.row, 1)})")
            row = max(w[0] for w in where if w is not None)
            self.col = max(w[1] for w in where if w is not None)
        else:
            self.col += 1
            row = max(self.row, 1)
        if held:   # an empty cell (`<c r="Z9" s="3"/>`, formatted) still places the next one, nothing more
            self.cells += 1
            self.rows, self.columns = max(self.rows, row), max(self.columns, self.col)


def _chunks(stream) -> Iterator[bytes]:
    return iter(lambda: stream.read(_CHUNK), b"")


def xlsx_sheet_extent(z: zipfile.ZipFile, member: str) -> Extent:
    """The extent of one worksheet part of an xlsx, streaming: the grid calamine builds, from the first row
    and column to the last cell holding something. Neither the `<dimension>` (Excel counts formatted empty
    cells in it; calamine ignores it), nor rows without cells, nor self-closed empty cells widen it: a
    template bordered down to row 200,000 or one formatted cell at XFD1048576 reads as the data it holds."""
    fast = _ByteMeasure()
    tail = b""
    with z.open(member) as f:
        for chunk in _chunks(f):
            buf = tail + chunk
            end = max(len(buf) - _OVERLAP, 0)
            if not fast.feed(buf, end):
                return _tokenized(z, member)
            tail = buf[end:]
    if tail and not fast.feed(tail, len(tail)):
        return _tokenized(z, member)
    return Extent(fast.rows, fast.columns, fast.cells, fast.formulas)


def _tokenized(z: zipfile.ZipFile, member: str) -> Extent:
    tok = _Tokenizer()
    formulas = False
    carry = b""
    with z.open(member) as f:
        for chunk in _chunks(f):
            buf = carry + chunk
            formulas = formulas or _F_ANY.search(buf) is not None
            carry = buf[tok.feed(buf):]
            if len(carry) > _MAX_TAG:
                raise Unmeasurable(member, vi="một thẻ XML dài quá 1 MB hoặc không bao giờ đóng")
    if carry:   # a tag, comment or section that never ends: the sheet is cut short or is not XML
        raise Unmeasurable(member, vi="trang kết thúc giữa chừng một thẻ XML (tệp bị cắt cụt hoặc hỏng)")
    return Extent(tok.rows, tok.columns, tok.cells, formulas)


_SST_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?sst(?=[\s/>])(" + _TAG_BODY + rb")>")
_COUNT = re.compile(rb"\s*\+?(\d+)\s*")


def _count(raw: bytes) -> int | None:
    m = _COUNT.fullmatch(raw)
    if m is None:
        return None
    digits = m.group(1).lstrip(b"0")
    return int(digits) if len(digits) <= 15 else 10**15


def xlsx_shared_strings(z: zipfile.ZipFile) -> None:
    """Raise Unmeasurable when the shared strings announce more strings than their part can hold.

    calamine reads `xl/sharedStrings.xml` when it opens the workbook and reserves one slot (24 bytes) per
    string the `uniqueCount` of its root tag announces, before reading any: a 1.8 KB file announcing 4
    billion asked for 96 GB. Every string takes at least SST_ITEM_BYTES of the part's XML, so a count above
    the part's real (inflated) size / SST_ITEM_BYTES is a lie. (`count`, the cells using a string, may
    rightly be far larger than the part: calamine does not use it.)"""
    for member in [n for n in z.namelist() if n.lower().lstrip("/") == "xl/sharedstrings.xml"]:
        head = b""
        with z.open(member) as f:
            while (m := _SST_ROOT.search(head)) is None and len(head) <= _MAX_TAG:
                chunk = f.read(1 << 16)
                if not chunk:
                    break
                head += chunk
        if m is None:
            continue   # no root tag to read a count from: calamine reserves nothing either
        counts = [c for name, value in _attributes(m.group(1)) if _local(name) == b"uniqueCount"
                  and (c := _count(value)) is not None]
        unique = max(counts, default=0)
        if unique <= SST_TRUSTED:
            continue
        need = unique * SST_ITEM_BYTES
        size = 0
        if z.getinfo(member).file_size >= need:
            with z.open(member) as f:   # the declared size may lie: count the bytes really there
                for chunk in _chunks(f):
                    size += len(chunk)
                    if size >= need:
                        break
        if size < need:
            room = max(size, min(z.getinfo(member).file_size, need)) // SST_ITEM_BYTES
            raise Unmeasurable(member, vi=f"bảng chữ dùng chung (xl/sharedStrings.xml) khai báo {_vi(unique)} "
                                          f"chuỗi chữ nhưng chỉ đủ chỗ cho khoảng {_vi(room)} chuỗi")


_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


def _part(names: set[str], base: str, target: str) -> str | None:
    """The zip member a relationship target names (relative to `base`'s folder, or absolute)."""
    path = target.lstrip("/") if target.startswith("/") else str(PurePosixPath(base).parent / target)
    parts: list[str] = []
    for p in path.split("/"):
        if p == "..":
            if parts:
                parts.pop()
        elif p and p != ".":
            parts.append(p)
    path = "/".join(parts)
    if path in names:
        return path
    lower = {n.lower(): n for n in names}
    return lower.get(path.lower())


def workbook_parts(z: zipfile.ZipFile, workbook: str = "xl/workbook.xml") -> dict[str, str]:
    """{sheet name: zip member} of an xlsx (or {sheet name: part} of an xlsb with workbook.bin)."""
    from xml.etree.ElementTree import iterparse

    names = set(z.namelist())
    rels_name = str(PurePosixPath(workbook).parent / "_rels" / (PurePosixPath(workbook).name + ".rels"))
    rels: dict[str, str] = {}
    if rels_name in names:
        for _ev, el in iterparse(z.open(rels_name)):
            if el.tag.endswith("Relationship") and el.get("Id"):
                rels[el.get("Id", "")] = el.get("Target", "")
    out: dict[str, str] = {}
    if workbook.endswith(".bin"):
        for name, rel in _xlsb_sheets(z.read(workbook)):
            member = _part(names, workbook, rels.get(rel, ""))
            if member:
                out[name] = member
        return out
    for _ev, el in iterparse(z.open(workbook)):
        if el.tag == f"{_NS_MAIN}sheet" or el.tag.endswith("}sheet") or el.tag == "sheet":
            rel = el.get(f"{_NS_REL}id") or next((v for k, v in el.attrib.items() if k.endswith("}id")), "")
            member = _part(names, workbook, rels.get(rel, ""))
            if member and el.get("name") is not None:
                out[el.get("name", "")] = member
    return out


# ---------------------------------------------------------------------------------------------------------
# xlsb (BIFF12 records)
# ---------------------------------------------------------------------------------------------------------


def _records(data: bytes) -> Iterator[tuple[int, int, int]]:
    """(type, start of data, size) of each BIFF12 record (type: 1-2 bytes, size: 1-4 bytes, 7 bits each)."""
    pos, n = 0, len(data)
    while pos < n:
        rtype = data[pos]
        pos += 1
        if rtype & 0x80:
            if pos >= n:
                return
            rtype = (rtype & 0x7F) | ((data[pos] & 0x7F) << 7)
            pos += 1
        size, shift = 0, 0
        for _ in range(4):
            if pos >= n:
                return
            b = data[pos]
            pos += 1
            size |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        yield rtype, pos, size
        pos += size


def _wide_string(data: bytes, pos: int) -> tuple[str, int]:
    (n,) = struct.unpack_from("<I", data, pos)
    end = pos + 4 + 2 * n
    if end > len(data):
        raise Unmeasurable("xlsb string")
    return data[pos + 4:end].decode("utf-16-le", errors="replace"), end


def _xlsb_sheets(data: bytes) -> Iterator[tuple[str, str]]:
    """(name, relationship id) of each BrtBundleSh record of workbook.bin."""
    for rtype, pos, size in _records(data):
        if rtype == 156 and size >= 8:   # BrtBundleSh: hsState, iTabID, strRelID, strName
            try:
                rel, at = _wide_string(data, pos + 8)
                name, _ = _wide_string(data, at)
            except struct.error:
                continue
            yield name, rel


_XLSB_CELLS = frozenset(range(1, 14))   # BrtCellBlank .. BrtFmlaError, BrtShortCell*: column first


def xlsb_sheet_extent(data: bytes) -> Extent:
    rows = cols = cells = 0
    row = 0
    for rtype, pos, size in _records(data):
        if rtype == 0 and size >= 4:                # BrtRowHdr: the row of the cells that follow
            (row,) = struct.unpack_from("<I", data, pos)
            rows = max(rows, row + 1)
        elif rtype in _XLSB_CELLS and size >= 4:
            (col,) = struct.unpack_from("<I", data, pos)
            cells += 1
            cols, rows = max(cols, col + 1), max(rows, row + 1)
        elif rtype == 148 and size >= 16:           # BrtWsDim: the declared bounds
            _r0, r1, _c0, c1 = struct.unpack_from("<IIII", data, pos)
            rows, cols = max(rows, r1 + 1), max(cols, c1 + 1)
    return Extent(rows, cols, cells)


# ---------------------------------------------------------------------------------------------------------
# xls (BIFF2-8 records in the compound file's Workbook/Book stream)
# ---------------------------------------------------------------------------------------------------------

_BIFF_CELLS = frozenset({0x0001, 0x0002, 0x0003, 0x0004, 0x0005, 0x0006, 0x0201, 0x0203, 0x0204, 0x0205,
                         0x0206, 0x0406, 0x027E, 0x00FD, 0x00D6})
_BIFF_RUNS = {0x00BD: 6, 0x00BE: 2}    # MULRK, MULBLANK: row, first column, 6- or 2-byte cells, last column
_BOF = frozenset({0x0809, 0x0409, 0x0209, 0x0009})
_EOF = 0x000A


def _biff_sheet(data: bytes, start: int, *, nested: bool) -> Extent:
    """The extent of the records from `start` to the sheet's EOF.

    `nested=False` reads them as calamine does, from where a BOUNDSHEET record points (even into the
    middle of another record) to the first EOF; `nested=True` from a BOF to its matching EOF, an embedded
    chart's BOF ... EOF included (xlrd reads on after it). The DIMENSIONS record (BIFF8: first row u32,
    last row + 1 u32, first column u16, last column + 1 u16; BIFF5: all u16; BIFF2: record 0x0000) counts:
    calamine reserves (last - first) rows × columns of cells from it before reading any (u32 arithmetic:
    a first row past the last wraps around to 4 billion rows)."""
    rows = cols = cells = depth = 0
    pos, n = start, len(data)
    while pos + 4 <= n:
        rtype, size = struct.unpack_from("<HH", data, pos)
        body = pos + 4
        if body + size > n:
            break
        if rtype in _BOF:
            depth += 1
        elif rtype == _EOF:
            depth -= 1
            if not nested or depth <= 0:
                break
        elif rtype in _BIFF_CELLS and size >= 4:
            r, c = struct.unpack_from("<HH", data, body)
            cells += 1
            rows, cols = max(rows, r + 1), max(cols, c + 1)
        elif rtype in _BIFF_RUNS and size >= 6:
            r, c0 = struct.unpack_from("<HH", data, body)
            (c1,) = struct.unpack_from("<H", data, body + size - 2)
            count = (size - 6) // _BIFF_RUNS[rtype]
            cells += count
            rows, cols = max(rows, r + 1), max(cols, c0 + max(count, 1), c1 + 1)
        elif (rtype == 0x0200 and size in (10, 14)) or (rtype == 0x0000 and size == 8):
            r0, r1, c0, c1 = struct.unpack_from("<IIHH" if size == 14 else "<HHHH", data, body)
            if r1 >= 1 and c1 >= 1:
                if r0 > r1 or c0 > c1:
                    raise Unmeasurable("DIMENSIONS", vi=(
                        f"kích thước khai báo của trang (bản ghi DIMENSIONS) có dòng đầu {_vi(r0 + 1)} sau dòng "
                        f"cuối {_vi(r1)} hoặc cột đầu {_vi(c0 + 1)} sau cột cuối {_vi(c1)}"))
                rows, cols = max(rows, r1), max(cols, c1)
        pos = body + size
    return Extent(rows, cols, cells)


def xls_sheet_extent(data: bytes, start: int) -> Extent:
    """The extent of the sheet a BOUNDSHEET record says starts at `start`, read as calamine reads it."""
    return _biff_sheet(data, start, nested=False)


def xls_extents(data: bytes, starts: Sequence[int] = ()) -> dict[int, Extent]:
    """{offset in the stream: Extent} of every BOF ... EOF substream of a BIFF stream (records walked in
    order from its start), and of the sheets starting at `starts` (the BOUNDSHEET offsets, read as
    calamine reads them): the larger of the two where both start at one offset."""
    out: dict[int, Extent] = {}
    for start in starts:
        out[start] = _biff_sheet(data, start, nested=False)
    pos, n, depth = 0, len(data), 0
    while pos + 4 <= n:
        rtype, size = struct.unpack_from("<HH", data, pos)
        if rtype in _BOF:
            if depth == 0:
                ext = _biff_sheet(data, pos, nested=True)
                seen = out.get(pos)
                out[pos] = ext if seen is None else Extent(max(ext.rows, seen.rows), max(ext.columns, seen.columns),
                                                           max(ext.cells, seen.cells))
            depth += 1
        elif rtype == _EOF:
            depth = max(depth - 1, 0)
        pos += 4 + size
    return out


def xls_stream(path: Path) -> bytes:
    """The workbook stream of an .xls (BIFF8 "Workbook", BIFF5 "Book"), via xlrd's compound-file reader."""
    import xlrd.compdoc

    try:
        doc = xlrd.compdoc.CompDoc(path.read_bytes(), logfile=_Silent())
        for name in ("Workbook", "Book", "WORKBOOK", "BOOK"):
            stream = doc.get_named_stream(name)
            if stream:
                return bytes(stream)
    except Exception as exc:   # xlrd raises its own CompDocError and struct/Index errors on damage
        raise Unmeasurable(str(exc)) from None
    raise Unmeasurable("no workbook stream")


class _Silent:
    def write(self, _text: str) -> None:
        pass


def xls_sheets(data: bytes) -> list[tuple[str, int]]:
    """(name, offset of its BOF) of every sheet of the BOUNDSHEET records, in the workbook's order."""
    out: list[tuple[str, int]] = []
    pos, n = 0, len(data)
    biff8 = len(data) >= 6 and struct.unpack_from("<H", data, 4)[0] == 0x0600   # the globals' BOF version
    while pos + 4 <= n:
        rtype, size = struct.unpack_from("<HH", data, pos)
        body = pos + 4
        if rtype == 0x0085 and size >= 7 and body + size <= n:
            (offset,) = struct.unpack_from("<I", data, body)
            length = data[body + 6]
            if biff8 and size >= 8:   # ShortXLUnicodeString: flags, then 8- or 16-bit characters
                raw = data[body + 8: body + size]
                name = (raw[:2 * length].decode("utf-16-le", errors="replace") if data[body + 7] & 1
                        else raw[:length].decode("latin-1"))
            else:
                name = data[body + 7: body + 7 + length].decode("cp1252", errors="replace")
            out.append((name, offset))
        elif rtype == 0x000A and out:
            break   # the globals end: the sheets' substreams follow
        pos = body + size
    return out


# ---------------------------------------------------------------------------------------------------------
# ods (content.xml)
# ---------------------------------------------------------------------------------------------------------

# calamine reads these elements by their qualified names: `table:` and no other prefix
_ODS_SCAN = _scanner(rb"table:(?:table-row|table-cell|covered-table-cell|table)", closings=True)
_VALUED = frozenset({b"value-type", b"value", b"string-value", b"date-value", b"time-value", b"boolean-value",
                     b"formula"})
_REPEAT_VALUE = re.compile(r"\s*\+?(\d+)\s*")


def _repeat(attrs: list[tuple[bytes, bytes]], local: bytes) -> int:
    """The repeat count an ods element gives itself: its `table:number-...-repeated` (entities unescaped,
    as calamine unescapes them: "&#57;90000" is 990,000), or the largest of every spelling of it (a decoy
    `x:number-rows-repeated="1"` beside the real one does not hide it). A `table:` count that is no
    number refuses the file as damaged."""
    best = 1
    for name, raw in attrs:
        if _local(name) != local:
            continue
        m = _REPEAT_VALUE.fullmatch(html.unescape(raw.decode("utf-8", errors="replace")))
        if m is None:
            if name == b"table:" + local:
                raise Unmeasurable("repeat", vi=f"số lần lặp «{_shown(raw)}» của một dòng hoặc ô không phải một số")
            continue
        digits = m.group(1).lstrip("0")
        best = max(best, int(digits) if len(digits) <= 15 else 10**15)
    return best


def ods_extents(z: zipfile.ZipFile) -> list[tuple[str, Extent]]:
    """(table name, Extent) of every table of an ods's content.xml, in order (two tables may share a
    name: calamine builds both). A row or cell repeated N times reaches N rows or columns further, as
    the reader expands it, but counts as the one cell the file holds: 1 KB of XML repeating a cell 16,000
    times on 1,000 rows is 16 million cells to build (calamine aborted under a 1.5 GB cap), not 16 million
    cells held. Only cells holding something (a value, a formula or content) reach the extent; a cell's
    content is skipped as calamine skips it, and rows count only inside a `table:table` (up to its first
    end tag) and cells only inside a row, as calamine reads them."""
    out: list[tuple[str, Extent]] = []
    table: str | None = None
    rows = cols = cells = row_at = col_at = 0
    rep_rows = 1
    in_row = False
    depth = 0   # open cells whose content is being skipped
    carry = b""
    try:
        with z.open("content.xml") as f:
            for chunk in _chunks(f):
                buf = carry + chunk
                pos = len(buf)
                for closing, qname, body, rest in _ODS_SCAN.findall(buf):
                    if not qname:
                        if rest:
                            pos = len(buf) - len(rest)
                        continue
                    empty = body.endswith(b"/")
                    local = qname[6:]
                    if depth:
                        if local in (b"table-cell", b"covered-table-cell"):
                            depth += -1 if closing else (0 if empty else 1)
                        continue
                    if local == b"table":
                        if closing and table is not None:
                            out.append((table, Extent(rows, cols, cells)))
                            table = None
                        elif not closing and table is None:
                            names = [v for n, v in _attributes(body) if n == b"table:name"]
                            table = html.unescape(names[0].decode("utf-8", errors="replace")) if names else ""
                            rows = cols = cells = row_at = 0
                            in_row = False
                            if empty:
                                out.append((table, Extent()))
                                table = None
                    elif table is None:
                        continue
                    elif local == b"table-row":
                        if closing:
                            if in_row:
                                row_at += rep_rows
                                in_row = False
                        else:
                            rep_rows, col_at = _repeat(_attributes(body), b"number-rows-repeated"), 0
                            if empty:
                                row_at += rep_rows
                            else:
                                in_row = True
                    elif not closing and in_row:
                        attrs = _attributes(body)
                        n = _repeat(attrs, b"number-columns-repeated")
                        if not empty or any(_local(a) in _VALUED for a, _v in attrs):
                            rows, cols = max(rows, row_at + rep_rows), max(cols, col_at + n)
                            cells += 1
                        col_at += n
                        if not empty:
                            depth = 1
                carry = buf[pos:]
                if len(carry) > _MAX_TAG:
                    raise Unmeasurable("content.xml", vi="một thẻ XML của content.xml dài quá 1 MB hoặc không bao giờ đóng")
    except Unmeasurable as exc:
        exc.sheet = exc.sheet or table
        raise
    if carry:
        raise Unmeasurable("content.xml", vi="content.xml kết thúc giữa chừng một thẻ XML (tệp bị cắt cụt hoặc hỏng)")
    if table is not None:
        out.append((table, Extent(rows, cols, cells)))
    return out
