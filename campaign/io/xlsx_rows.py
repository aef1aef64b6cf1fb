"""A sheet's rows as raw XML (inline strings), rendered a chunk at a time with numpy string operations and
appended to xlsxwriter's constant-memory row file (`RawRows`, `render_rows`)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from campaign.io.safety import FORMULA_TRIGGERS, safe_own

if TYPE_CHECKING:
    pass



class RawRows:
    """The data sheet's rows rendered here, a chunk of rows at a time with numpy string operations, and
    appended to the sheet's constant-memory row file: the very file xlsxwriter streams its own rows to.
    Going through xlsxwriter's cell API costs ~13 us a cell (55 s of CPU for 200,000 x 21 cells); this
    ~1 us. Header rows still go through the API (merged, formatted); rows of both kinds follow each other
    in ascending order and the raw path keeps xlsxwriter's row cursor and the sheet dimensions up to date.
    It needs xlsxwriter's constant-memory internals (`_write_single_row`, `previous_row`, `fh`,
    `_check_dimensions`); a version without them gets the public API path (`supported` is False)."""

    def __init__(self, ws):
        self.ws = ws

    @staticmethod
    def supported(ws) -> bool:
        return (bool(getattr(ws, "constant_memory", False)) and callable(getattr(ws, "_write_single_row", None))
                and callable(getattr(ws, "_check_dimensions", None))
                and isinstance(getattr(ws, "previous_row", None), int)
                and hasattr(getattr(ws, "fh", None), "write"))

    def write(self, first_row: int, last_row: int, xml: str, last_col: int) -> None:
        """Rows first_row..last_row (0-based) as XML, after every row written so far."""
        ws = self.ws
        if first_row > ws.previous_row:
            ws._write_single_row(first_row)   # writes a row xlsxwriter still holds (a header row) first
        elif first_row < ws.previous_row:
            raise ValueError(f"rows must be written in ascending order ({first_row} after {ws.previous_row})")
        ws._check_dimensions(first_row, 0)
        ws._check_dimensions(last_row, last_col)
        ws.fh.write(xml)
        ws.previous_row = last_row


CHUNK_ROWS = 20_000
_XML_SPECIAL = re.compile(r"[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9A-Fa-f]{4}_")
_EXCEL_ESCAPE = re.compile(r"(_x[0-9A-Fa-f]{4}_)")
_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]")
_LEADING_SPACE = re.compile(r"\n\s")   # on the joined column, and on it reversed for trailing space
_TRIGGER_START = re.compile("\n[" + re.escape("".join(sorted(FORMULA_TRIGGERS))) + "]")


def _xml_cell_text(v: str) -> str:
    """The <t> element of an inline string, escaped as Excel (and xlsxwriter) do."""
    if _XML_SPECIAL.search(v) is not None:
        v = _EXCEL_ESCAPE.sub(r"_x005F\1", v)
        v = _CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", v)
        v = v.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
        v = v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if v[:1].isspace() or v[-1:].isspace():
        return f'<t xml:space="preserve">{v}</t>'
    return f"<t>{v}</t>"


def _needs_escaping(joined: str) -> bool:
    """Could any of the "\n"-joined cells need XML/Excel escaping or xml:space="preserve"? Substring and
    literal-prefixed searches only (C speed); a false alarm only sends the column down the slow path."""
    return ("&" in joined or "<" in joined or ">" in joined or "_x" in joined
            or _CONTROL_CHARS.search(joined) is not None
            or _LEADING_SPACE.search(joined) is not None or _LEADING_SPACE.search(joined[::-1]) is not None)


def _text_elements(col: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(present mask, <t> elements of the present cells, formula-start mask of those or None). One
    C-level scan of the joined column decides whether its cells need escaping one by one."""
    present = col.astype(bool)
    vals = col[present]
    if not len(vals):
        return present, vals, None
    lst = vals.tolist()
    try:
        joined = "\n" + "\n".join(lst) + "\n"
    except TypeError:   # not a string (the reader gives str or None): as text
        lst = [str(v) for v in lst]
        vals = np.array(lst, dtype=object)
        joined = "\n" + "\n".join(lst) + "\n"
    if _needs_escaping(joined):
        elements = np.array([_xml_cell_text(v) for v in lst], dtype=object)
    else:
        elements = "<t>" + vals + "</t>"
    trig = None
    if _TRIGGER_START.search(joined) is not None:
        trig = np.fromiter((v[0] in FORMULA_TRIGGERS for v in lst), dtype=bool, count=len(lst))
    return present, elements, trig


def col_letters(n: int) -> list[str]:
    from xlsxwriter.utility import xl_col_to_name

    return [xl_col_to_name(j) for j in range(n)]


def render_rows(cols: list[np.ndarray], idx: np.ndarray, row_numbers: np.ndarray, code: np.ndarray,
                 messages: np.ndarray, result_col: int, letters: list[str], xf: dict[str, Any]) -> str:
    """The <row> elements of grid rows `idx` (none of them a header row). `code`: status code per row
    (index in the statuses, the last code of `xf`'s arrays for rows that are not data); `messages`: the
    result text of data rows."""
    plain = len(xf["open0"]) - 1
    rs = row_numbers[idx].astype(str).astype(object)
    code = code[idx]
    open0, open1, blank = xf["open0"][code], xf["open1"][code], xf["blank"][code]
    has_blank = blank != ""
    cells: list[list[str]] = []
    close = "</is></c>"
    for j, col in enumerate(cols):
        present, elements, trig = _text_elements(col[idx])
        ref = '<c r="' + letters[j] + rs
        out = np.where(has_blank, ref + blank, "")
        if len(elements):
            opener = open0[present] if trig is None else np.where(trig, open1[present], open0[present])
            out[present] = ref[present] + opener + elements + close
        cells.append(out.tolist())
    data = code != plain
    res = np.full(len(idx), "", dtype=object)
    if data.any():
        ids, distinct = pd.factorize(messages[idx[data]])
        texts = np.array([_xml_cell_text(safe_own(m)) for m in distinct.tolist()], dtype=object)[ids]
        res[data] = '<c r="' + letters[result_col] + rs[data] + xf["result"][code[data]] + texts + close
    cells.append(res.tolist())
    body = np.array(["".join(t) for t in zip(*cells, strict=True)], dtype=object)
    keep = data | (body != "")
    rows = '<row r="' + rs[keep] + '">' + body[keep] + "</row>"
    return "".join(rows.tolist())
