"""The extent of an xlsx sheet from its XML, inflated 1 MiB at a time (numpy on the bytes, else a tokenizer
reading the XML as quick-xml does), the shared strings' announced count, and the workbook's sheet parts."""

from __future__ import annotations

import re
import zipfile
from pathlib import PurePosixPath

import numpy as np

from campaign.io.extent.budget import (
    MAX_TAG,
    OVERLAP,
    SST_ITEM_BYTES,
    SST_TRUSTED,
    Extent,
    Unmeasurable,
    _chunks,
    _vi,
)
from campaign.io.extent.xlsb import xlsb_sheets
from campaign.io.extent.xml_tags import HAS_R, TAG_BODY, _attributes, _local, _scanner, shown

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
        a = np.frombuffer(buf if end + OVERLAP <= n else buf + b"\0" * OVERLAP, dtype=np.uint8)
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
        if orphan.any() and (self.first or (rs[orphan] >= OVERLAP).any()):
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
                rs = [value for attr, value in _attributes(body) if attr == b"r"] if HAS_R(body) else []
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
                raise Unmeasurable("row r", vi=f"một dòng có số dòng «{shown(bad)}» không phải một số "
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
                raise Unmeasurable("cell r", vi=f"một ô có địa chỉ «{shown(bad)}» không phải địa chỉ ô "
                                                f"(dòng {max(self.row, 1)})")
            row = max(w[0] for w in where if w is not None)
            self.col = max(w[1] for w in where if w is not None)
        else:
            self.col += 1
            row = max(self.row, 1)
        if held:   # an empty cell (`<c r="Z9" s="3"/>`, formatted) still places the next one, nothing more
            self.cells += 1
            self.rows, self.columns = max(self.rows, row), max(self.columns, self.col)


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
            end = max(len(buf) - OVERLAP, 0)
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
            if len(carry) > MAX_TAG:
                raise Unmeasurable(member, vi="một thẻ XML dài quá 1 MB hoặc không bao giờ đóng")
    if carry:   # a tag, comment or section that never ends: the sheet is cut short or is not XML
        raise Unmeasurable(member, vi="trang kết thúc giữa chừng một thẻ XML (tệp bị cắt cụt hoặc hỏng)")
    return Extent(tok.rows, tok.columns, tok.cells, formulas)


_SST_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?sst(?=[\s/>])(" + TAG_BODY + rb")>")
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
            while (m := _SST_ROOT.search(head)) is None and len(head) <= MAX_TAG:
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
        for name, rel in xlsb_sheets(z.read(workbook)):
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
