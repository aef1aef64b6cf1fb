"""What a submitted file really is, from its bytes (never its name), and how its text is encoded.

`sniff_file` returns one of "xlsx", "xlsb", "ods", "xls", "csv" or raises `ReadError("unreadable_file")`
with a Vietnamese message that says what the file is instead (PDF, image, Word document, encrypted
workbook, corrupt or oversized zip...). Zip containers are checked member by member *before* anything
decompresses them: declared uncompressed sizes, compression ratios, encrypted members.

`decode_text` turns the bytes of a CSV/TXT into NFC text: UTF-8 (with or without BOM), UTF-16 (Excel's
"Unicode text"), Windows-1258 (decomposed diacritics), else Windows-1252 so that TCVN3/VNI text comes out
as the characters a legacy font would show (the cell repair stage turns those into Unicode).
"""

from __future__ import annotations

import functools
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from campaign.domain.vn_legacy_detect import decode_8bit

SUPPORTED_HINT = "xin gửi tệp Excel (.xlsx, .xls) hoặc CSV"

# zip bomb defence (defaults; `sniff_file` takes them as arguments)
MAX_UNCOMPRESSED_FLOOR = 200 * 1024 * 1024   # always allowed up to this total
UNCOMPRESSED_PER_BYTE = 30                   # ... and up to 30x the maximum upload size
MAX_RATIO = 100                              # per member, for members above RATIO_MIN_SIZE
RATIO_MIN_SIZE = 1024 * 1024
MAX_MEMBERS = 10_000

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")


class ReadError(Exception):
    """The file cannot be read as a submission of this kind: rejects it with one Vietnamese message.

    `code` is a reason code of config/reasons.yaml (unreadable_file, wrong_kind, required_column_missing);
    `detail_vi` the message for the district; `params` the values for the catalogue's template
    (`detail`, `expected`, `column`); `missing` the canonical names of missing required columns;
    `looks_like` the kind the file seems to be (wrong_kind).
    """

    def __init__(self, code: str, detail_vi: str, *, params: dict[str, str] | None = None,
                 missing: list[str] | None = None, looks_like: str | None = None):
        super().__init__(f"{code}: {detail_vi}")
        self.code = code
        self.detail_vi = detail_vi
        self.params = dict(params or {"detail": detail_vi})
        self.missing = list(missing or [])
        self.looks_like = looks_like


def unreadable(detail: str) -> ReadError:
    return ReadError("unreadable_file", detail, params={"detail": detail})


def worded(key: str, **params: object) -> tuple[str, dict[str, str]]:
    """The catalogue's sentence `key` (config/reasons.yaml) with `params` filled in, and the params."""
    from campaign.config_reasons import load_reasons

    values = {k: str(v) for k, v in params.items()}
    return load_reasons()[key].message.format_map(values), values


def refusal(code: str, **params: object) -> ReadError:
    """A refusal under its own catalogue code, worded wholly by the catalogue."""
    detail, values = worded(code, **params)
    return ReadError(code, detail, params={**values, "detail": detail})


def unreadable_because(key: str, **params: object) -> ReadError:
    """`unreadable_file` (read_submission's contract) with the catalogue's sentence `key` as its detail."""
    detail, values = worded(key, **params)
    return ReadError("unreadable_file", detail, params={**values, "detail": detail, "why": key})


def vi_int(n: int) -> str:
    """A count as Vietnamese write it: 1.048.576."""
    return f"{n:,}".replace(",", ".")


_SIGNATURES: list[tuple[bytes, str]] = [
    (b"%PDF", "tệp PDF"),
    (b"\x89PNG\r\n\x1a\n", "ảnh PNG"),
    (b"\xff\xd8\xff", "ảnh JPEG"),
    (b"GIF87a", "ảnh GIF"),
    (b"GIF89a", "ảnh GIF"),
    (b"II*\x00", "ảnh TIFF"),
    (b"MM\x00*", "ảnh TIFF"),
    (b"RIFF", "tệp âm thanh/hình ảnh"),
    (b"Rar!\x1a\x07", "tệp nén RAR"),
    (b"7z\xbc\xaf\x27\x1c", "tệp nén 7z"),
    (b"\x1f\x8b", "tệp nén gzip"),
    (b"BZh", "tệp nén bzip2"),
    (b"\xfd7zXZ\x00", "tệp nén xz"),
    (b"{\\rtf", "văn bản RTF (Word)"),
    (b"MZ", "tệp chương trình (.exe)"),
    (b"\x7fELF", "tệp chương trình"),
]


@dataclass(frozen=True)
class Sniffed:
    format: str          # xlsx | xlsb | ods | xls | csv
    size: int


def _utf16le(name: str) -> bytes:
    return name.encode("utf-16-le")


def _check_zip(path: Path, *, max_bytes: int, max_uncompressed: int | None) -> str:
    limit = max_uncompressed if max_uncompressed is not None else max(
        MAX_UNCOMPRESSED_FLOOR, UNCOMPRESSED_PER_BYTE * max_bytes)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
            mimetype = b""
            if "mimetype" in names:
                info = zf.getinfo("mimetype")
                if info.file_size < 200 and info.compress_type == zipfile.ZIP_STORED:
                    mimetype = zf.read("mimetype")
    except zipfile.BadZipFile:
        raise unreadable("tệp nén (zip/xlsx) bị hỏng hoặc tải lên chưa hết; xin lưu lại tệp bằng Excel rồi gửi lại") from None
    except (OSError, ValueError, EOFError, NotImplementedError, RuntimeError):
        raise unreadable("tệp nén (zip/xlsx) bị hỏng; xin lưu lại tệp bằng Excel rồi gửi lại") from None
    if len(infos) > MAX_MEMBERS:
        raise unreadable(f"tệp nén chứa quá nhiều thành phần ({len(infos)}): không phải bảng tính Excel thông thường")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise unreadable("tệp nén có đặt mật khẩu; xin bỏ mật khẩu rồi gửi lại")
        total += info.file_size
        if info.file_size > RATIO_MIN_SIZE and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise unreadable(
                f"tệp nén bất thường: một thành phần bung ra gấp {info.file_size // max(info.compress_size, 1)} lần "
                f"(giới hạn {MAX_RATIO} lần); tệp bị từ chối để bảo vệ hệ thống")
    if total > limit:
        raise unreadable(
            f"tệp quá lớn khi giải nén ({total / 1024 / 1024:.0f} MB, giới hạn {limit / 1024 / 1024:.0f} MB); "
            "xin chia nhỏ tệp")
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "xl/workbook.bin" in names:
        return "xlsb"
    if mimetype.startswith(b"application/vnd.oasis.opendocument.spreadsheet"):
        return "ods"
    if "word/document.xml" in names or mimetype.startswith(b"application/vnd.oasis.opendocument.text"):
        raise unreadable(f"đây là văn bản Word, không phải bảng tính; {SUPPORTED_HINT}")
    if "ppt/presentation.xml" in names:
        raise unreadable(f"đây là tệp PowerPoint, không phải bảng tính; {SUPPORTED_HINT}")
    raise unreadable(f"đây là tệp nén (zip), không phải bảng tính Excel; {SUPPORTED_HINT}")


def _check_ole2(data: bytes) -> str:
    if _utf16le("EncryptedPackage") in data or _utf16le("EncryptionInfo") in data:
        raise unreadable("tệp Excel có đặt mật khẩu (đã mã hoá); xin mở tệp, bỏ mật khẩu, lưu lại rồi gửi lại")
    if _utf16le("Workbook") in data or _utf16le("Book") in data:
        return "xls"
    if _utf16le("WordDocument") in data:
        raise unreadable(f"đây là văn bản Word (.doc), không phải bảng tính; {SUPPORTED_HINT}")
    if _utf16le("PowerPoint Document") in data:
        raise unreadable(f"đây là tệp PowerPoint, không phải bảng tính; {SUPPORTED_HINT}")
    raise unreadable(f"tệp Office cũ không chứa bảng tính Excel; {SUPPORTED_HINT}")


_MARKUP = re.compile(rb"^\s*<(\?xml|!doctype html|html|table|meta|head)", re.IGNORECASE)


def _check_text(head: bytes) -> None:
    """Refuse markup and binary blobs that are not text tables."""
    probe = head.lstrip(b"\xef\xbb\xbf")
    if _MARKUP.match(probe[:512]):
        if b"urn:schemas-microsoft-com:office:spreadsheet" in head:
            raise unreadable("tệp Excel dạng XML 2003; xin mở bằng Excel, lưu lại dạng .xlsx rồi gửi lại")
        raise unreadable("tệp HTML/XML (thường là tệp xuất từ trang web, đổi tên thành .xls); "
                         "xin mở bằng Excel, lưu lại dạng .xlsx rồi gửi lại")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return
    sample = head[:65536]
    if _looks_utf16(sample):
        return
    if b"\x00" in sample:
        raise unreadable(f"tệp nhị phân không rõ loại, không phải bảng tính; {SUPPORTED_HINT}")
    controls = sum(sample.count(bytes([b])) for b in range(32) if b not in (9, 10, 12, 13, 26))
    if sample and controls > max(8, len(sample) // 100):
        raise unreadable(f"tệp nhị phân không rõ loại, không phải bảng tính; {SUPPORTED_HINT}")


def _looks_utf16(sample: bytes) -> bool:
    if len(sample) < 4:
        return False
    odd_nuls = sample[1::2].count(0)
    even_nuls = sample[0::2].count(0)
    half = len(sample) // 2
    return (odd_nuls > 0.4 * half and even_nuls < 0.05 * half) or (even_nuls > 0.4 * half and odd_nuls < 0.05 * half)


def sniff_file(path: Path, *, max_bytes: int, max_uncompressed: int | None = None) -> Sniffed:
    """The file's real format, or ReadError. Checks size limits before reading anything else."""
    try:
        size = path.stat().st_size
    except OSError:
        raise unreadable("không mở được tệp") from None
    if size == 0:
        raise unreadable(f"tệp rỗng (0 byte); {SUPPORTED_HINT} có dữ liệu")
    if size > max_bytes:
        raise unreadable(f"tệp quá lớn ({size / 1024 / 1024:.1f} MB, giới hạn {max_bytes / 1024 / 1024:.0f} MB); "
                         "xin chia nhỏ tệp hoặc bỏ các trang không cần thiết")
    try:
        with path.open("rb") as fh:
            head = fh.read(65536)
    except OSError:
        raise unreadable("không mở được tệp") from None
    if head.startswith(ZIP_MAGICS):
        return Sniffed(_check_zip(path, max_bytes=max_bytes, max_uncompressed=max_uncompressed), size)
    if head.startswith(OLE2_MAGIC):
        return Sniffed(_check_ole2(path.read_bytes()), size)
    for magic, what in _SIGNATURES:
        if head.startswith(magic):
            raise unreadable(f"đây là {what}, không phải bảng tính; {SUPPORTED_HINT}")
    _check_text(head)
    return Sniffed("csv", size)


# ---------------------------------------------------------------------------------------------------------
# Text decoding
# ---------------------------------------------------------------------------------------------------------


TRIED_ENCODINGS = "UTF-8, UTF-16, Windows-1258, Windows-1252 (TCVN3/VNI)"


def decode_text(data: bytes) -> tuple[str, str, bool]:
    """(NFC text, encoding name, whether NFC changed the decoded text) of a text file's bytes."""
    if data.startswith(b"\xef\xbb\xbf"):
        text, enc = data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text, enc = data.decode("utf-16", errors="replace"), "utf-16"
    elif _looks_utf16(data[:65536]):
        le = data[1::2].count(0) > data[0::2].count(0)
        text, enc = data.decode("utf-16-le" if le else "utf-16-be", errors="replace"), "utf-16-le" if le else "utf-16-be"
    else:
        try:
            text, enc = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, enc = decode_8bit(data)
    normalized = False
    # UTF-8 without a combining mark (U+0300-U+036F: bytes CC xx / CD xx) is NFC for Vietnamese: skip the scan
    maybe_nfd = not enc.startswith("utf-8") or b"\xcc" in data or b"\xcd" in data
    if maybe_nfd and not text.isascii():
        text, normalized = nfc_by_line(text)
    return text, enc, normalized


def utf8_buffer(data: bytes, text: str, encoding: str, normalized: bool) -> bytes:
    """`text` (what `decode_text(data)` gave) as UTF-8 bytes without a BOM, without encoding it again when
    the file's own bytes already are that (a 90 MB file: 0.1 s and a second copy saved)."""
    if encoding == "utf-8" and not normalized:
        return data
    if encoding == "utf-8-sig" and not normalized and "\ufffd" not in text:
        return data[3:]
    return text.encode("utf-8", errors="replace")


@functools.cache
def _maybe_not_nfc() -> re.Pattern[str]:
    """Characters a string must hold to not be NFC: combining marks, the characters NFC replaces
    (singletons such as U+212B), the second halves of canonical compositions (some with combining class
    0) and the Hangul jamo that compose, and any astral character. Built once per process (~0.05 s)."""
    cps: set[int] = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))
    for cp in range(0x10000):   # astral characters are handled as a whole range below
        ch = chr(cp)
        if unicodedata.combining(ch) or unicodedata.normalize("NFC", ch) != ch:
            cps.add(cp)
        decomposition = unicodedata.decomposition(ch)
        if decomposition and not decomposition.startswith("<"):
            parts = decomposition.split()
            if len(parts) == 2:
                cps.add(int(parts[1], 16))
    ranges: list[list[int]] = []
    for cp in sorted(cps):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    # A class of BMP ranges is a bitmap lookup; astral ranges make `re` test every range per character
    # (~70x slower): any astral character sends its line to the (always correct) normalization instead.
    bmp = "".join(f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)
    return re.compile(f"[{bmp}\\U00010000-\\U0010ffff]")


def nfc_by_line(text: str) -> tuple[str, bool]:
    """(NFC of text, whether it changed), normalizing only the lines that can need it.

    `unicodedata.is_normalized` answers "maybe" at the first combining mark and then normalizes the
    whole text to compare: on a 188 MB file with a few NFD rows, two full passes (~11 s). Here a regex
    finds the lines holding a character that can be non-NFC and only those are normalized (~0.3 s).
    A line break never composes with anything, so the result equals normalizing the whole text."""
    pieces: list[str] = []
    last = 0
    for m in _maybe_not_nfc().finditer(text):
        if m.start() < last:
            continue   # on a line already done
        begin = text.rfind("\n", 0, m.start()) + 1
        end = text.find("\n", m.end())
        end = len(text) if end < 0 else end
        pieces += [text[last:begin], unicodedata.normalize("NFC", text[begin:end])]
        last = end
    if not pieces:
        return text, False
    pieces.append(text[last:])
    out = "".join(pieces)
    return (out, True) if out != text else (text, False)
