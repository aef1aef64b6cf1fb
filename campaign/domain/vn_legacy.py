"""Legacy Vietnamese encodings: TCVN3 and VNI text inside xlsx cells, Windows-1258 CSV files.

Why: before Unicode, Vietnamese offices typed with 8-bit font encodings. In an xlsx file such text is stored
as the Unicode characters of its bytes read as Windows-1252: TCVN3 / ABC (`.VnTime` fonts) turns
"Nguyễn Thị Hoà" into "NguyÔn ThÞ Hoµ", VNI (`VNI-Times` fonts) into "Nguyeãn Thò Hoaø". CSV exports of
Vietnamese Windows come as Windows-1258, whose tone marks are combining characters.

Repairs are made only when confident. Legacy text consists of Windows-1252 characters only, so a value
holding any letter outside it (ă, ơ, ư, đ, ễ...) is genuine Unicode and is left alone. Otherwise the
value is decoded and accepted only if every changed word becomes a plausible Vietnamese syllable (or a
Jarai/Bahnar-style one) and the original gives itself away: a character Vietnamese never uses (µ, ¸, Þ,
ø...) or a word that cannot be Vietnamese as it stands ("NguyÔn", "Vaên").

TCVN3 (the VN3 table of TCVN 5712:1993 used by `.VnTime`) has codes for the lowercase letters and for
Ă Â Ê Ô Ơ Ư Đ only: the other 60 capitals were typed with `.VnTimeH` fonts, which draw the lowercase codes
as capitals. `to_tcvn3` writes them that way and decoding restores the capitals from the word (all caps)
or the text (Title Case names); `from_tcvn3(..., upper=True)` is for cells known to use a `...H` font.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = [
    "VIETNAMESE_LETTERS",
    "decode_cp1258",
    "detect_legacy",
    "encode_cp1258",
    "from_tcvn3",
    "from_vni",
    "looks_like_cp1258",
    "repair_series",
    "repair_text",
    "to_tcvn3",
    "to_vni",
]

Encoding = Literal["tcvn3", "vni"]

_GRAVE, _ACUTE, _TILDE, _HOOK, _DOT = "\u0300", "\u0301", "\u0303", "\u0309", "\u0323"
_TONES = (_GRAVE, _ACUTE, _HOOK, _TILDE, _DOT)
_CIRC, _BREVE, _HORN = "\u0302", "\u0306", "\u031b"
_HATS = frozenset((_CIRC, _BREVE, _HORN))
_BASES = "aăâeêioôơuưy"


def _letters() -> tuple[str, ...]:
    """The 134 Vietnamese letters that carry a diacritic: 67 lowercase (66 toned or hatted vowels, đ) and
    their capitals."""
    lower = [unicodedata.normalize("NFC", b + t) for b in _BASES for t in ("",) + _TONES]
    lower = [c for c in lower if not c.isascii()] + ["đ"]
    return tuple(lower + [c.upper() for c in lower])


VIETNAMESE_LETTERS: tuple[str, ...] = _letters()
_VIET_LETTER_SET = frozenset(VIETNAMESE_LETTERS)

# ---------------------------------------------------------------------------------------------------------
# TCVN3 (ABC, VN3 table). Byte -> letter; an xlsx cell holds chr(byte) (Windows-1252 = Latin-1 here).
# Checked against glibc's TCVN5712-1 in the tests.
# ---------------------------------------------------------------------------------------------------------
_TCVN3_BYTES: dict[int, str] = {
    0xA1: "Ă", 0xA2: "Â", 0xA3: "Ê", 0xA4: "Ô", 0xA5: "Ơ", 0xA6: "Ư", 0xA7: "Đ",
    0xA8: "ă", 0xA9: "â", 0xAA: "ê", 0xAB: "ô", 0xAC: "ơ", 0xAD: "ư", 0xAE: "đ",
    0xB5: "à", 0xB6: "ả", 0xB7: "ã", 0xB8: "á", 0xB9: "ạ",
    0xBB: "ằ", 0xBC: "ẳ", 0xBD: "ẵ", 0xBE: "ắ", 0xC6: "ặ",
    0xC7: "ầ", 0xC8: "ẩ", 0xC9: "ẫ", 0xCA: "ấ", 0xCB: "ậ",
    0xCC: "è", 0xCE: "ẻ", 0xCF: "ẽ", 0xD0: "é", 0xD1: "ẹ",
    0xD2: "ề", 0xD3: "ể", 0xD4: "ễ", 0xD5: "ế", 0xD6: "ệ",
    0xD7: "ì", 0xD8: "ỉ", 0xDC: "ĩ", 0xDD: "í", 0xDE: "ị",
    0xDF: "ò", 0xE1: "ỏ", 0xE2: "õ", 0xE3: "ó", 0xE4: "ọ",
    0xE5: "ồ", 0xE6: "ổ", 0xE7: "ỗ", 0xE8: "ố", 0xE9: "ộ",
    0xEA: "ờ", 0xEB: "ở", 0xEC: "ỡ", 0xED: "ớ", 0xEE: "ợ",
    0xEF: "ù", 0xF1: "ủ", 0xF2: "ũ", 0xF3: "ú", 0xF4: "ụ",
    0xF5: "ừ", 0xF6: "ử", 0xF7: "ữ", 0xF8: "ứ", 0xF9: "ự",
    0xFA: "ỳ", 0xFB: "ỷ", 0xFC: "ỹ", 0xFD: "ý", 0xFE: "ỵ",
}  # fmt: skip
_TCVN3_DECODE: dict[str, str] = {chr(b): letter for b, letter in _TCVN3_BYTES.items()}
_TCVN3_ENCODE: dict[int, str] = {ord(letter): code for code, letter in _TCVN3_DECODE.items()}
for _letter in VIETNAMESE_LETTERS:  # capitals without a VN3 code: the lowercase code (.VnTimeH practice)
    if ord(_letter) not in _TCVN3_ENCODE:
        _TCVN3_ENCODE[ord(_letter)] = _TCVN3_ENCODE[ord(_letter.lower())]
_TCVN3_DECODE_TABLE = {ord(k): v for k, v in _TCVN3_DECODE.items()}
_APOSTROPHES = "'\u2019"
_TCVN3_CASELESS = frozenset(k for k, v in _TCVN3_DECODE.items() if v.islower())  # may stand for a capital

# ---------------------------------------------------------------------------------------------------------
# VNI (VNI-Windows). A letter is its base followed by one mark character; i-tones, ỵ, đ, ơ, ư are single
# characters; ơ and ư take the tone mark after them (ờ = "ôø"). Capitals use the capital marks.
# ---------------------------------------------------------------------------------------------------------
_VNI_MARKS: dict[tuple[str, str], str] = {  # (hat, tone) -> lowercase mark character
    ("", _ACUTE): "ù", ("", _GRAVE): "ø", ("", _HOOK): "û", ("", _TILDE): "õ", ("", _DOT): "ï",
    (_CIRC, ""): "â", (_CIRC, _ACUTE): "á", (_CIRC, _GRAVE): "à", (_CIRC, _HOOK): "å",
    (_CIRC, _TILDE): "ã", (_CIRC, _DOT): "ä",
    (_BREVE, ""): "ê", (_BREVE, _ACUTE): "é", (_BREVE, _GRAVE): "è", (_BREVE, _HOOK): "ú",
    (_BREVE, _TILDE): "ü", (_BREVE, _DOT): "ë",
}  # fmt: skip
_VNI_SINGLE: dict[str, str] = {  # letter -> its one VNI character (lowercase; capitals are .upper())
    "đ": "ñ", "ơ": "ô", "ư": "ö", "ì": "ì", "í": "í", "ỉ": "æ", "ĩ": "ó", "ị": "ò", "ỵ": "î",
}  # fmt: skip


def _build_vni() -> dict[str, str]:
    table: dict[str, str] = {}
    for letter in VIETNAMESE_LETTERS:
        low = letter.lower()
        upper = letter != low
        if low in _VNI_SINGLE:
            code = _VNI_SINGLE[low]
        else:
            d = unicodedata.normalize("NFD", low)
            base, marks = d[0], d[1:]
            hat = "".join(m for m in marks if m in _HATS)
            tone = "".join(m for m in marks if m in _TONES)
            if hat == _HORN:  # ơ, ư + tone: the single letter, then the tone mark
                code = _VNI_SINGLE[unicodedata.normalize("NFC", base + _HORN)] + _VNI_MARKS[("", tone)]
            else:
                code = base + _VNI_MARKS[(hat, tone)]
        table[letter] = code.upper() if upper else code
    return table


_VNI_ENCODE: dict[str, str] = _build_vni()
_VNI_ENCODE_TABLE = {ord(k): v for k, v in _VNI_ENCODE.items()}
_VNI_DECODE: dict[str, str] = {v: k for k, v in _VNI_ENCODE.items() if v != k}
_VNI_DECODE_RE = re.compile("|".join(re.escape(k) for k in sorted(_VNI_DECODE, key=len, reverse=True)))
_VNI_CHARS = frozenset("".join(_VNI_DECODE))


def to_tcvn3(text: str) -> str:
    """Unicode -> TCVN3 as it shows in an xlsx cell (e.g. "Nguyễn Thị Hoà" -> "NguyÔn ThÞ Hoµ").
    Capitals without a VN3 code get the lowercase code, as `.VnTimeH` users typed them."""
    return unicodedata.normalize("NFC", text).translate(_TCVN3_ENCODE)


def to_vni(text: str) -> str:
    """Unicode -> VNI as it shows in an xlsx cell (e.g. "Nguyễn Thị Hoà" -> "Nguyeãn Thò Hoaø")."""
    return unicodedata.normalize("NFC", text).translate(_VNI_ENCODE_TABLE)


def from_vni(text: str) -> str:
    """VNI -> Unicode, unconditionally (use `repair_text` for text that may not be VNI)."""
    return _VNI_DECODE_RE.sub(lambda m: _VNI_DECODE[m.group(0)], text)


def from_tcvn3(text: str, upper: bool = False) -> str:
    """TCVN3 -> Unicode, unconditionally. `upper=True` for `.VnTimeH`-style all-capital fonts; otherwise
    capitals are restored from context (see `_restore_case`)."""
    decoded = text.translate(_TCVN3_DECODE_TABLE)
    if upper:
        return decoded.upper()
    return _restore_case(text, decoded)


# ---------------------------------------------------------------------------------------------------------
# Plausibility: is a word a Vietnamese (or Jarai/Bahnar-style) syllable?
# ---------------------------------------------------------------------------------------------------------

_LETTER_INFO: dict[str, tuple[str, str]] = {}  # letter -> (lowercase skeleton with hats, tone mark or "")
for _c in [*VIETNAMESE_LETTERS, *"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "Ð"]:
    _d = unicodedata.normalize("NFD", _c.lower())
    _tone = "".join(m for m in _d if m in _TONES)
    _skeleton = unicodedata.normalize("NFC", "".join(m for m in _d if m not in _TONES))
    _LETTER_INFO[_c] = ("đ" if _c in "Ðđ" else _skeleton, _tone)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_VOWELS = "aăâeêioôơuưy"
_SYLLABLE_RE = re.compile(f"([^{_VOWELS}]*)([{_VOWELS}]+)([^{_VOWELS}]*)")
_PRESYLLABLE_RE = re.compile(f"([^{_VOWELS}]{{0,2}})(ơ|ê|ea)([^{_VOWELS}]+[{_VOWELS}]+[^{_VOWELS}]*)")
_NUCLEI = _words(
    "a ă â e ê i o ô ơ u ư y ai ao au ay âu ây eo êu ia iê iu oa oă oe oi ôi ơi ua uâ uê ui uô uơ uy "
    "ưa ưi ưu ươ yê iêu yêu oai oao oay oeo uây uôi uya uyê uyu ươi ươu"
)
# Nuclei ending in a glide: no final consonant after them.
_OPEN_ONLY = _words(
    "ai ao au ay âu ây eo êu ia iu oi ôi ơi ua ui ưa ưi ưu iêu yêu oai oao oay oeo uây uôi uya uyu ươi ươu"
)
_CLOSED_ONLY = _words("ă â oă uâ iê yê uô uyê")  # need a final consonant
# Where the tone sits in a nucleus (index of the vowel). Falling diphthongs and ia/ua/ưa: the first
# vowel; rising ones and triphthongs: the second; oa/oe/uy: either style when open, the second when closed.
_TONE_AT_SECOND = _words("iê yê uô ươ uâ uê oă uơ iêu yêu uôi ươi ươu oai oay uây oao oeo uya uyu")
_TONE_EITHER_OPEN = frozenset(("oa", "oe", "uy"))
_ONSETS = _words("b c ch d đ g gh gi h k kh l m n ng ngh nh p ph qu r s t th tr v x") | {""}
_CODAS = _words("c ch m n ng nh p t") | {""}
# Seen in official names of Jarai, Bahnar, Ê Đê... places (Ea, Ya, Sơmei, Broăi, Piơr, Hiao): accepted
# when the value gives itself away by a character Vietnamese never uses.
# "oo" (boong, xoong, Ia Boòng) is rare enough to count as a loan as well.
_EXTRA_NUCLEI = _words("oo ea ya ei iao iơ ăi oăi ue uo ye yo yô yă ey êy ii ooi uă iâu")
_EXTRA_CODAS = _words("k r l h s")


def _word_ok(word: str, strict: bool, spelling: bool = False) -> bool:
    """A plausible word: Vietnamese letters only, no lower-to-upper case change inside ("NguyÔn"), one
    syllable with at most one tone placed where Vietnamese puts it. strict: the Vietnamese onset /
    nucleus / coda inventory and spelling rules. Otherwise (Jarai, Bahnar... names) any short consonant
    cluster, the extra nuclei and codas above, and an optional presyllable (Sơmei, Pơnan, Ea...);
    `spelling` adds the Vietnamese spelling rules for standard nuclei (no "Bă", "Púch": fine as Jarai
    names once decoded, but a sign of legacy text in a word as it stands)."""
    if not word:
        return False
    skeleton: list[str] = []
    tones: list[tuple[int, str]] = []
    prev_lower = False
    for i, ch in enumerate(word):
        info = _LETTER_INFO.get(ch)
        if info is None:
            return False
        if prev_lower and ch.isupper():
            return False
        prev_lower = ch.islower()
        skeleton.append(info[0])
        if info[1]:
            tones.append((i, info[1]))
    skel = "".join(skeleton)
    if len(skel) != len(word):
        return False
    if _syllable_ok(skel, 0, tones, strict, spelling):
        return True
    if strict:
        return False
    m = _PRESYLLABLE_RE.fullmatch(skel)
    if m is None:
        return False
    cut = m.start(3)
    first = [t for t in tones if t[0] < cut]
    return len(first) <= 1 and _syllable_ok(
        skel[cut:], cut, [t for t in tones if t[0] >= cut], False, spelling
    )


def _syllable_ok(skel: str, offset: int, tones: list[tuple[int, str]], strict: bool, spelling: bool) -> bool:
    if len(tones) > 1:
        return False
    m = _SYLLABLE_RE.fullmatch(skel)
    if m is None:
        return False
    onset, nucleus, coda = m.groups()
    start = m.start(2)
    if onset == "q" and nucleus[0] == "u" and len(nucleus) > 1:
        onset, nucleus, start = "qu", nucleus[1:], start + 1
    elif onset == "g" and nucleus[0] == "i" and len(nucleus) > 1 and nucleus[1:] in _NUCLEI:
        onset, nucleus, start = "gi", nucleus[1:], start + 1
    standard = nucleus in _NUCLEI
    if strict:
        if onset not in _ONSETS or not standard or coda not in _CODAS:
            return False
    elif len(onset) > 4 or not (standard or nucleus in _EXTRA_NUCLEI) or coda not in _CODAS | _EXTRA_CODAS:
        return False
    # Vietnamese spelling rules; Jarai or Bahnar names break them (Ia Bă, Ia Púch), so the lenient
    # check that decoded words must pass skips them, while the check of words as they stand keeps them.
    orthographic = standard and (strict or spelling)
    if orthographic and ((coda and nucleus in _OPEN_ONLY) or (not coda and nucleus in _CLOSED_ONLY)):
        return False
    if orthographic and coda in ("nh", "ch") and nucleus[-1] not in "aêiy":
        return False  # -nh, -ch follow a, ê, i, y only (anh, ênh, inh, uynh)
    if orthographic and coda in ("ng", "c") and nucleus in ("ê", "i", "y", "uy"):
        return False  # and -ng, -c never follow ê, i, y alone (tiếng, việc are fine)
    front = nucleus[0] in "eêiy"
    if onset in ("gh", "ngh") and not front:
        return False  # gh-, ngh- only before e, ê, i (also in Jarai or Bahnar spelling)
    if tones and not standard and spelling:
        # Toned loans and ethnic nuclei in official names: boòng, Noọng, Miầu; none other carries a tone.
        return nucleus in ("oo", "iâu") and tones[0][0] - offset - start == 1
    if tones and standard:
        at = tones[0][0] - offset - start
        if len(nucleus) == 1:
            allowed: tuple[int, ...] = (0,)
        elif nucleus in _TONE_EITHER_OPEN:
            allowed = (0, 1) if not coda else (1,)
        elif nucleus in _TONE_AT_SECOND:
            allowed = (1,)
        elif nucleus == "uyê":
            allowed = (2,)
        else:
            allowed = (0,)
        if at not in allowed:
            return False
    if not strict:
        return True
    if nucleus == "y" and coda:
        return False  # spelled with i: tin, not tyn
    if coda in ("c", "ch", "p", "t") and tones and tones[0][1] not in (_ACUTE, _DOT):
        return False  # stop finals take only the acute or the dot-below tone
    return not ((onset == "k" and not front) or (onset == "c" and front))


# ---------------------------------------------------------------------------------------------------------
# Detection and repair
# ---------------------------------------------------------------------------------------------------------

_CP1252_CHARS = frozenset(bytes(range(256)).decode("cp1252", errors="ignore"))
_NOT_CP1252_RE = re.compile("[^" + re.escape("".join(sorted(_CP1252_CHARS))) + "]")
# Latin-1 characters Vietnamese text never holds. Ð is left out: old keyboards typed it for Đ.
_FOREIGN = frozenset(chr(c) for c in range(0xA0, 0x100)) - _VIET_LETTER_SET - {"Ð"}
_FOREIGN_CLASS = "[" + re.escape("".join(sorted(_FOREIGN))) + "]"
_FOREIGN_RE = re.compile(_FOREIGN_CLASS)
_LETTERS_RE = re.compile(r"[^\W\d_]+")
_FOREIGN_IN_WORD_RE = re.compile(rf"[^\W\d_]{_FOREIGN_CLASS}|{_FOREIGN_CLASS}[^\W\d_]")


class _Codec:
    def __init__(self, name: Encoding, chars: frozenset[str]):
        self.name = name
        self.chars = chars
        letters_or_codes = "".join(sorted(c for c in chars if not c.isalpha()))
        cls = r"[^\W\d_]" if not letters_or_codes else rf"(?:[^\W\d_]|[{re.escape(letters_or_codes)}])"
        self.token_re = re.compile(cls + "+")
        self.any_re = re.compile("[" + re.escape("".join(sorted(chars))) + "]")


def _restore_case(raw: str, decoded: str) -> str:
    """Give capitals back to TCVN3 letters that had no capital code: in a word written in capitals
    ("NGUYÔN" -> "NGUYỄN", "¸NH" -> "ÁNH"; a shorter word only when the whole text is in capitals, since
    "Hµ" is "Hà" and "KB«" is "KBô"), at the start of a word when every other word of the text starts
    with a capital ("NguyÔn ThÞ ¸nh" -> "Nguyễn Thị Ánh"; not after an apostrophe: "Ch'¬m"), and at the
    start of the text when some other word starts with one ("ñy ban ... Ia Kªnh" -> "Ủy ban ...")."""
    if len(raw) != len(decoded) or not any(c in _TCVN3_CASELESS for c in raw):
        return decoded
    title_context = _title_context(raw, decoded)
    any_capital_start = _title_context(raw, decoded, any_capital=True)
    tokens = [m.span() for m in _TCVN3.token_re.finditer(raw)]
    fixed_inner = [
        decoded[i]
        for s, e in tokens
        for i in range(s + 1, e)
        if raw[i] not in _TCVN3_CASELESS and decoded[i].isalpha()
    ]
    fixed_lower = any(c.islower() for c, r in zip(decoded, raw, strict=True) if r not in _TCVN3_CASELESS)
    all_caps_text = len(fixed_inner) >= 2 and not fixed_lower
    out = list(decoded)
    for start, end in tokens:
        caseless = [i for i in range(start, end) if raw[i] in _TCVN3_CASELESS]
        if not caseless:
            continue
        others = [i for i in range(start, end) if raw[i] not in _TCVN3_CASELESS and decoded[i].isalpha()]
        inner_upper = sum(1 for i in others if i > start and decoded[i].isupper())
        if others and all(decoded[i].isupper() for i in others) and (inner_upper >= 2 or all_caps_text):
            for i in caseless:
                out[i] = out[i].upper()
        elif (
            start in caseless
            and not (start and raw[start - 1] in _APOSTROPHES)
            and (title_context or (start == tokens[0][0] and any_capital_start))
        ):
            out[start] = out[start].upper()
    return "".join(out)


def _title_context(raw: str, decoded: str, any_capital: bool = False) -> bool:
    """True when at least one word begins with a capital and (unless `any_capital`) none with a
    lowercase letter; words that begin with a caseless TCVN3 code, or follow an apostrophe, do not count."""
    upper = lower = 0
    for m in _TCVN3.token_re.finditer(raw):
        start = m.start()
        if raw[start] in _TCVN3_CASELESS or (start and raw[start - 1] in _APOSTROPHES):
            continue
        if decoded[start].isupper():
            upper += 1
        elif decoded[start].islower():
            lower += 1
    return upper > 0 and (any_capital or lower == 0)


_TCVN3 = _Codec("tcvn3", frozenset(_TCVN3_DECODE))
_VNI = _Codec("vni", _VNI_CHARS)
_CODECS: dict[str, _Codec] = {"tcvn3": _TCVN3, "vni": _VNI}


_Mode = Literal["auto", "column", "font"]


def _decode(text: str, codec: _Codec, mode: _Mode) -> tuple[str, int] | None:
    """Decode `text` with `codec`; return it with the number of changed words that are not strictly
    Vietnamese syllables (ethnic names, or a wrong guess), or None when not confident.

    auto: the text must give itself away (a character Vietnamese never uses, or a word that is not
    Vietnamese as it stands but is once decoded). column: the column is known to be in this encoding, so
    plausible decoded words are enough. font: the cell's font names the encoding; decode, no questions."""
    # TCVN3 maps one character to one: decode the whole text at once (capitals need its context).
    whole = from_tcvn3(text) if codec is _TCVN3 else None
    foreign = any(c in _FOREIGN for c in text if c in codec.chars)
    checked = mode != "font"
    pieces: list[str] = []
    last = 0
    evidence = mode != "auto"
    not_strict = 0
    for m in codec.token_re.finditer(text):
        tok = m.group(0)
        if not codec.any_re.search(tok):
            continue
        start, end = m.span()
        dec = whole[start:end] if whole is not None else from_vni(tok)
        if dec == tok:
            continue
        strict_ok = _word_ok(dec, strict=True)
        if checked:
            if (start and text[start - 1].isdigit()) or (end < len(text) and text[end].isdigit()):
                return None  # "50µg", "2×3": a unit or a symbol, not a letter
            if not (strict_ok or _word_ok(dec, strict=False)):
                return None
            if len(tok) >= 2:
                if any(c in _FOREIGN for c in tok):
                    evidence = True
                elif not _word_ok(tok, strict=False, spelling=True) and (foreign or strict_ok):
                    evidence = True  # "NguyÔn", "Vaên": not Vietnamese as it stands, Vietnamese decoded
        not_strict += not strict_ok
        pieces += [text[last:start], dec]
        last = end
    if not pieces or not evidence:
        return None
    pieces.append(text[last:])
    fixed = unicodedata.normalize("NFC", "".join(pieces))
    if checked and _FOREIGN_IN_WORD_RE.search(fixed):
        return None  # letters of another encoding left over ("B×nh HÎm" is TCVN3, not VNI)
    return fixed, not_strict


def _repair(text: Any, encodings: tuple[str, ...], mode: _Mode) -> tuple[Any, Encoding | None]:
    if not isinstance(text, str) or not text or text.isascii():
        return text, None
    try:
        probe = unicodedata.normalize("NFC", text)
        if _NOT_CP1252_RE.search(probe):
            return text, None  # a letter no legacy cell can hold: genuine Unicode
        if (
            mode == "auto"
            and not _FOREIGN_RE.search(probe)
            and all(
                _word_ok(w, strict=False, spelling=True)
                for w in _LETTERS_RE.findall(probe)
                if not w.isascii()
            )
        ):
            return text, None  # nothing gives it away (the common case of Vietnamese in Latin-1 letters)
        results: dict[str, tuple[str, int]] = {}
        for name in encodings:
            codec = _CODECS[name]
            if codec.any_re.search(probe):
                res = _decode(probe, codec, mode)
                if res is not None and res[0] != probe:
                    results[name] = res
        if len(results) == 2:
            # Both decode: the one with fewer words that are not Vietnamese syllables, else undecided
            # ("Thuû" is TCVN3 "Thuỷ" or VNI "Thủ"; the column may tell, see repair_series).
            (n1, (f1, b1)), (n2, (f2, b2)) = results.items()
            if f1 != f2 and b1 == b2:
                return text, None
            results = {n1: (f1, b1)} if b1 <= b2 else {n2: (f2, b2)}
        if results:
            ((name, (fixed, _)),) = results.items()
            return fixed, name  # type: ignore[return-value]
    except Exception:  # defensive: repairing is best effort, a value must never break a file
        return text, None
    return text, None


def repair_text(text: Any, hint: Encoding | None = None) -> tuple[Any, Encoding | None]:
    """(fixed text, "tcvn3" | "vni") when the text is confidently legacy-encoded, else (text, None) with
    the text untouched. `hint`: the encoding the cell's font names (.VnTime -> "tcvn3", VNI-Times ->
    "vni"): then any value made only of Windows-1252 characters is decoded with it. Never raises."""
    if hint in _CODECS:
        return _repair(text, (hint,), "font")
    return _repair(text, ("tcvn3", "vni"), "auto")


def detect_legacy(text: Any) -> Encoding | None:
    """The encoding `repair_text` would confidently undo: "tcvn3", "vni" or None."""
    return repair_text(text)[1]


def repair_series(
    series: Any, hint: Encoding | None = None, column_context: bool = True
) -> tuple[pd.Series, pd.Series]:
    """`repair_text` over a column, once per distinct value. Returns (fixed column, boolean mask of the
    changed rows); values that are not text, missing or left alone are returned as they were.

    column_context: when at least 3 distinct values are confidently of one encoding and at least 90% of
    the confident ones agree, the column is taken to be in it, and values that could not decide alone
    ("An Phó", "Thuû") are decoded with it when every changed word stays plausible. The price: in a
    column mixing legacy and Unicode rows, a Unicode value made only of Windows-1252 letters
    ("Võ Thành Tâm") would be decoded too; pass False where such mixing is expected."""
    s = series if isinstance(series, pd.Series) else pd.Series(series)
    try:
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
    except TypeError:  # unhashable cells: nothing to repair in them
        return s.copy(), pd.Series(False, index=s.index, name=s.name)
    results = [repair_text(v, hint) for v in uniques]
    if column_context and hint is None:
        votes = {"tcvn3": 0, "vni": 0}
        for _, enc in results:
            if enc is not None:
                votes[enc] += 1
        dominant = max(votes, key=lambda k: votes[k])
        if votes[dominant] >= 3 and votes[dominant] >= 0.9 * sum(votes.values()):
            for i, (value, enc) in enumerate(results):
                if enc != dominant:
                    fixed, got = _repair(value, (dominant,), "column")
                    if got is not None:
                        results[i] = (fixed, got)
    fixed_arr = np.empty(len(uniques) + 1, dtype=object)
    changed = np.zeros(len(uniques) + 1, dtype=bool)
    for i, (value, enc) in enumerate(results):
        fixed_arr[i] = value
        changed[i] = enc is not None
    mask = changed[codes]
    out = s.copy()
    if mask.any():
        if out.dtype != object and not isinstance(out.dtype, pd.StringDtype):
            out = out.astype(object)
        out[mask] = fixed_arr[codes][mask]
    return out, pd.Series(mask, index=s.index, name=s.name)


# ---------------------------------------------------------------------------------------------------------
# Windows-1258 (CSV files)
# ---------------------------------------------------------------------------------------------------------


def encode_cp1258(text: str, errors: str = "strict") -> bytes:
    """Unicode -> Windows-1258 as Vietnamese Windows writes it: base letters precomposed (â ê ô ơ ư ă đ),
    tone marks as separate combining characters ("Hoà" -> b"Hoa\\xcc")."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", text):
        d = unicodedata.normalize("NFD", ch)
        if len(d) == 1:
            out.append(ch)
            continue
        tones = "".join(m for m in d[1:] if m in _TONES)
        base = unicodedata.normalize("NFC", d[0] + "".join(m for m in d[1:] if m not in _TONES))
        out.append(base + tones)
    return "".join(out).encode("cp1258", errors=errors)


def decode_cp1258(raw: bytes, errors: str = "strict") -> str:
    """Windows-1258 bytes -> NFC Unicode (tone marks composed onto their letters)."""
    return unicodedata.normalize("NFC", bytes(raw).decode("cp1258", errors=errors))


_CP1258_TONE_AFTER_VOWEL_RE = re.compile("[aeiouyâêôơưăAEIOUYÂÊÔƠƯĂ][\u0300\u0301\u0303\u0309\u0323]")
_CP1258_TONE_RE = re.compile("[\u0300\u0301\u0303\u0309\u0323]")
_CP1258_VIET_RE = re.compile("[âêôơưăđÂÊÔƠƯĂĐàáèéíóùúÀÁÈÉÍÓÙÚ]")
_CP1258_PUNCT_RE = re.compile(
    "[\u00a0\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u2022\u20ab\u20ac\u00b0\u00ab\u00bb]"
)
_NON_ASCII_RE = re.compile("[^\x00-\x7f]")


def looks_like_cp1258(raw: bytes, sample: int = 1 << 20) -> bool:
    """Whether CSV bytes are Windows-1258 Vietnamese: not valid UTF-8, decodable as cp1258, and the
    non-ASCII characters are Vietnamese (tone marks after vowels, â ê ô ơ ư ă đ...). Western
    Windows-1252 text or TCVN3/VNI bytes read this way are mostly other characters (ü, µ, ¸, ©...)."""
    try:
        data = bytes(raw[:sample]) if len(raw) > sample else bytes(raw)
    except Exception:
        return False
    if not data or data.isascii():
        return False
    try:
        bytes(raw).decode("utf-8")
        return False
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1258")
    except UnicodeDecodeError:
        return False
    tones_ok = len(_CP1258_TONE_AFTER_VOWEL_RE.findall(text))
    tones_bad = len(_CP1258_TONE_RE.findall(text)) - tones_ok
    viet = tones_ok + len(_CP1258_VIET_RE.findall(text))
    other = len(_NON_ASCII_RE.findall(text)) - viet - tones_bad - len(_CP1258_PUNCT_RE.findall(text))
    if viet == 0:
        return False
    return (tones_bad + max(other, 0)) <= 0.05 * (viet + tones_bad + max(other, 0))
