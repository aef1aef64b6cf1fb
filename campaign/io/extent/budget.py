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

import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

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
OVERLAP = 64              # longer than any pattern looked for: a match cut by a chunk's end is seen whole
MAX_TAG = 1 << 20         # a start tag longer than this is no spreadsheet's


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


def _chunks(stream) -> Iterator[bytes]:
    return iter(lambda: stream.read(_CHUNK), b"")


def _vi(n: int) -> str:
    return f"{n:,}".replace(",", ".")
