"""The extent of every table of an ods's content.xml: `table:` rows and cells with their repeat counts,
parsed as calamine parses them."""

from __future__ import annotations

import html
import re
import zipfile

from campaign.io.extent.budget import MAX_TAG, Extent, Unmeasurable, _chunks
from campaign.io.extent.xml_tags import _attributes, _local, _scanner, shown

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
                raise Unmeasurable("repeat", vi=f"số lần lặp «{shown(raw)}» của một dòng hoặc ô không phải một số")
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
                if len(carry) > MAX_TAG:
                    raise Unmeasurable("content.xml", vi="một thẻ XML của content.xml dài quá 1 MB hoặc không bao giờ đóng")
    except Unmeasurable as exc:
        exc.sheet = exc.sheet or table
        raise
    if carry:
        raise Unmeasurable("content.xml", vi="content.xml kết thúc giữa chừng một thẻ XML (tệp bị cắt cụt hoặc hỏng)")
    if table is not None:
        out.append((table, Extent(rows, cols, cells)))
    return out
