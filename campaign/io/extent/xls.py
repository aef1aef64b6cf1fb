"""The extent of an xls sheet from the BIFF2-8 records of the compound file's Workbook/Book stream, walked
as calamine walks them (cells, MULRK/MULBLANK runs, DIMENSIONS)."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

from campaign.io.extent.budget import Extent, Unmeasurable, _vi

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
