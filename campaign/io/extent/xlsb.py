"""The extent of an xlsb sheet from its BIFF12 records (row headers, cells)."""

from __future__ import annotations

import struct
from collections.abc import Iterator

from campaign.io.extent.budget import Extent, Unmeasurable


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


def xlsb_sheets(data: bytes) -> Iterator[tuple[str, str]]:
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
