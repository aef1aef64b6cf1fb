"""Which text is legacy-encoded Vietnamese, and repairing it where it was read.

TCVN3/VNI text read as UTF-8 (a column, a few header cells) gives itself away in its bytes: `legacy_gate`
decides in one vectorised pass whether any can be there, `repair_values` / `repair_cells` decode it through
`vn_legacy.repair_series`. A text file's bytes that are not UTF-8: `looks_like_cp1258` (Windows-1258) else
Windows-1252 with the five undefined bytes kept (TCVN3), and `mixed_encoding` for a file mixing UTF-8
with another encoding. The codecs themselves are `campaign.domain.vn_legacy`."""

from __future__ import annotations

import contextlib
import logging
import re

import numpy as np
import pandas as pd

from campaign.domain import vn_legacy

log = logging.getLogger(__name__)


# Legacy text gives itself away in UTF-8 bytes, so one vectorised pass decides whether a column (or a whole
# CSV) can hold any: a Latin-1 character Vietnamese never uses (TCVN3 µ ¸ Þ ©, VNI ø û ï ö ñ), or a vowel
# followed by a VNI tone/hat byte that genuine Vietnamese never has after it ("Nguyeãn", "Thuùy", "Hoaâng").
_VIET_LATIN1 = set("ÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚÝàáâãèéêìíòóôõùúý\u00a0")
_EVIDENCE_CHARS = "".join(chr(c) for c in range(0x80, 0x100) if chr(c) not in _VIET_LATIN1)
_GATE_EVIDENCE = np.zeros((2, 256), dtype=bool)       # [lead byte - 0xC2, continuation byte]
for _ch in _EVIDENCE_CHARS:
    _b = _ch.encode("utf-8")
    _GATE_EVIDENCE[_b[0] - 0xC2, _b[1]] = True


def _byte_set(chars: str) -> np.ndarray:
    out = np.zeros(256, dtype=bool)
    for ch in chars:
        out[ch.encode("utf-8")[-1]] = True
    return out


_VNI_AFTER_AE = _byte_set("aAeE")                        # any U+00C0-U+00FF letter after a / e
_VNI_AFTER_O, _VNI_O_MARKS = _byte_set("oO"), _byte_set("ÂâÙùÕõ")
_VNI_AFTER_UY, _VNI_UY_MARKS = _byte_set("uUyY"), _byte_set("ÙùÕõ")


def legacy_gate(buf: bytes, start: int = 0, chunk: int = 1 << 24) -> bool:
    """Could this UTF-8 text hold TCVN3/VNI cells? False is certain enough to skip the repair."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    pos = start
    while pos < len(arr) - 1:
        part = arr[pos: pos + chunk + 1]
        lead = np.flatnonzero((part[:-1] & 0xFE) == 0xC2)
        if len(lead):
            nxt = part[lead + 1]
            is_c3 = part[lead] == 0xC3
            if _GATE_EVIDENCE[is_c3.astype(np.intp), nxt].any():
                return True
            c3 = lead[is_c3]
            n3 = nxt[is_c3]
            keep = c3 > 0
            prev, n3 = part[c3[keep] - 1], n3[keep]
            if (_VNI_AFTER_AE[prev] | (_VNI_AFTER_O[prev] & _VNI_O_MARKS[n3])
                    | (_VNI_AFTER_UY[prev] & _VNI_UY_MARKS[n3])).any():
                return True
        pos += chunk
    return False


_GENUINE_UNICODE = re.compile(
    "[^\x00-\xff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014\u2018-\u201e"
    "\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]")


def repair_values(arr: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, dict[str, str]]:
    """TCVN3/VNI text -> Unicode, through vn_legacy.repair_series on the distinct candidate values.

    Returns (fixed column, mask of changed cells or None, {original value: encoding}). Only values made of
    Windows-1252 characters can be legacy text: the others (ă ơ ư đ ễ ...) are genuine Unicode and are not
    sent to the repair."""
    vals = arr[present]
    search = _GENUINE_UNICODE.search
    maybe = np.fromiter((not v.isascii() and search(v) is None for v in vals), dtype=bool, count=len(vals))
    cand = pd.unique(vals[maybe])
    if not len(cand):
        return arr, None, {}
    try:
        fixed, changed = vn_legacy.repair_series(pd.Series(cand, dtype=object))
        changed = np.asarray(pd.Series(changed).fillna(False), dtype=bool)
        fixed = pd.Series(fixed).to_numpy(dtype=object)
    except Exception:  # a repair bug must not make the file unreadable: keep the text as it is
        log.exception("vn_legacy.repair_series failed; text left as read")
        return arr, None, {}
    if not changed.any():
        return arr, None, {}
    lookup = {k: (v if isinstance(v, str) and v else None)
              for k, v in zip(cand[changed], fixed[changed], strict=True)}
    encodings = {}
    for k in lookup:
        try:
            encodings[k] = vn_legacy.detect_legacy(k) or "legacy"
        except Exception:
            encodings[k] = "legacy"
    out = arr.copy()
    idx = np.flatnonzero(present)[maybe]
    sub = out[idx]
    hit = np.fromiter((v in lookup for v in sub), dtype=bool, count=len(sub))
    out[idx[hit]] = [lookup[v] for v in sub[hit]]
    mask = np.zeros(len(arr), dtype=bool)
    mask[idx[hit]] = True
    return out, mask, encodings


def repair_cells(cells: list[str]) -> list[str]:
    """Legacy repair of a handful of header cells (same function, one Series)."""
    if all(c.isascii() for c in cells):
        return cells
    try:
        fixed, changed = vn_legacy.repair_series(pd.Series(cells, dtype=object))
        fixed = pd.Series(fixed).tolist()
        changed = pd.Series(changed).fillna(False).astype(bool).tolist()
    except Exception:
        log.exception("vn_legacy.repair_series failed on header cells")
        return cells
    return [f if ch and isinstance(f, str) else c for c, f, ch in zip(cells, fixed, changed, strict=True)]


# ---------------------------------------------------------------------------------------------------------
# A text file's bytes that are not UTF-8
# ---------------------------------------------------------------------------------------------------------


def _cp1252_table() -> dict[int, str]:
    # the five bytes cp1252 leaves undefined stay as latin-1 (TCVN3 uses them)
    table = {}
    for b in range(0x80, 0xA0):
        with contextlib.suppress(UnicodeDecodeError):
            table[b] = bytes([b]).decode("cp1252")
    return table


_CP1252 = _cp1252_table()


def _decode_cp1258(data: bytes) -> str:
    try:
        return vn_legacy.decode_cp1258(data)
    except UnicodeDecodeError:   # a byte Windows-1258 leaves undefined, after the sample judged
        return data.decode("cp1258", errors="replace")


def decode_8bit(data: bytes) -> tuple[str, str]:
    """(text, encoding name) of bytes that are not UTF-8: Windows-1258 when they look like Vietnamese
    written that way (`vn_legacy.looks_like_cp1258`), else Windows-1252 with the five bytes it leaves
    undefined kept as Latin-1 (TCVN3 uses them; the legacy repair reads the cells afterwards)."""
    if vn_legacy.looks_like_cp1258(data):
        return _decode_cp1258(data), "cp1258"
    return data.decode("latin-1").translate(_CP1252), "cp1252"


# Vietnamese letters only UTF-8 spells with these bytes: ă Ă đ Đ ơ Ơ ư Ư (2 bytes), the toned letters
# U+1EA0-U+1EF9 (3 bytes). Legacy text (Windows-1258, TCVN3, VNI) practically never forms them.
_UTF8_VIETNAMESE = re.compile(rb"\xc4[\x82\x83\x90\x91]|\xc6[\xa0\xa1\xaf\xb0]|\xe1[\xba\xbb][\x80-\xbf]")


def mixed_encoding(data: bytes) -> tuple[int, int] | None:
    """(a line written in UTF-8 Vietnamese, the first line that is not valid UTF-8), 1-based, when a text
    file mixes UTF-8 with another encoding (files joined byte for byte, a line pasted from elsewhere); None
    when one encoding fits. No single decoding reads such a file: guessing one turns half its lines into
    gibberish (and its header into one nobody recognises)."""
    try:
        data.decode("utf-8")
        return None
    except UnicodeDecodeError as exc:
        bad = exc.start
    for tries, m in enumerate(_UTF8_VIETNAMESE.finditer(data)):
        if tries >= 1000:
            break
        start = data.rfind(b"\n", 0, m.start()) + 1
        end = data.find(b"\n", m.end())
        try:
            data[start:len(data) if end < 0 else end].decode("utf-8")
        except UnicodeDecodeError:
            continue   # that line is not UTF-8 either: legacy bytes that happen to look like it
        return data.count(b"\n", 0, m.start()) + 1, data.count(b"\n", 0, bad) + 1
    return None
