"""campaign.domain.vn_legacy: TCVN3 / VNI text in xlsx cells, Windows-1258 CSV bytes."""

from __future__ import annotations

import shutil
import subprocess
import unicodedata

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign.domain import vn_legacy
from campaign.domain.admin_units import get_admin_units
from campaign.domain.vn_legacy import (
    VIETNAMESE_LETTERS,
    decode_cp1258,
    detect_legacy,
    encode_cp1258,
    from_tcvn3,
    from_vni,
    looks_like_cp1258,
    repair_series,
    repair_text,
    to_tcvn3,
    to_vni,
)

LOWER = [c for c in VIETNAMESE_LETTERS if c.islower()]
UPPER = [c for c in VIETNAMESE_LETTERS if c.isupper()]
# Capitals TCVN3 (the VN3 table of .VnTime fonts) has codes for; the other 60 were typed with .VnTimeH.
TCVN3_CAPITALS = set("ĂÂÊÔƠƯĐ")

NAMES = [
    "Nguyễn Thị Hoà",
    "Nguyễn Văn Ánh",
    "Trần Thị Thuý Hằng",
    "Lê Quốc Trường",
    "Phạm Ngọc Ước",
    "Rơ Châm H'Blang",
    "Ksor Thị Nhơn Rơ Châm",
    "Đặng Thị Quỳnh Như",
    "Võ Thành Tâm",
    "Huỳnh Ngọc Diệp",
    "Xã Ia Băng, huyện Chư Prông",
    "Thị trấn Nhơn Hoà",
    "Trường THPT Nguyễn Trãi",
    "Ủy ban nhân dân xã Ia Kênh",
    "NGUYỄN VĂN ẤN",
    "TRẦN THỊ ỔN",
]

# Correct Unicode (or plain) text that must come back untouched.
NEGATIVES = [
    "Nguyễn Thị Hoà",
    "Nguyễn Thị Hòa",
    "Đắk Đoa",
    "Rơ Châm",
    "H'Blang",
    "Ksor H'Blang",
    "KBang",
    "Ia Bang",
    "Hoàng Lan",
    "Võ Thành Tâm",
    "Lê Hà",
    "Tô Hoài",
    "Toàn",
    "Hoà",
    "Thuý",
    "Quý",
    "Ý",
    "Ông Tô",
    "Hà Ánh",
    "Khoa Nguyên",
    "Hello World",
    "Vaccination campaign",
    "email.address@gmail.com",
    "0905123456",
    "+84 905 123 456",
    "064090001234",
    "25/07/2021",
    "",
    " ",
    "José Müller",
    "café naïve",
    "Peña",
    "Zoë",
    "Björn Søren",
    "50µg",
    "2 × 3",
    "©2021",
    "25°C",
    "« Hà »",
    "Le Van A · B",
    "Ðinh Văn A",
    "Ðinh",
    "Thị trấn Nhơn Hoà",
    "Xã Ia HLốp",
]


# --- tables ----------------------------------------------------------------------------------------------


def test_vietnamese_letters_are_the_134():
    assert len(VIETNAMESE_LETTERS) == len(set(VIETNAMESE_LETTERS)) == 134
    assert len(LOWER) == len(UPPER) == 67
    assert all(unicodedata.is_normalized("NFC", c) and not c.isascii() for c in VIETNAMESE_LETTERS)
    assert {c.upper() for c in LOWER} == set(UPPER)


def test_domain_examples():
    assert to_tcvn3("Nguyễn Thị Hoà") == "NguyÔn ThÞ Hoµ"
    assert to_vni("Nguyễn Thị Hoà") == "Nguyeãn Thò Hoaø"
    assert from_tcvn3("NguyÔn ThÞ Hoµ") == "Nguyễn Thị Hoà"
    assert from_vni("Nguyeãn Thò Hoaø") == "Nguyễn Thị Hoà"


def test_encodings_are_injective():
    tcvn3 = [to_tcvn3(c) for c in LOWER + sorted(TCVN3_CAPITALS)]
    assert len(set(tcvn3)) == len(tcvn3) == 74
    assert all(len(code) == 1 and 0xA1 <= ord(code) <= 0xFE for code in tcvn3)
    vni = [to_vni(c) for c in VIETNAMESE_LETTERS]
    assert len(set(vni)) == 134
    # Legacy text is made of Windows-1252 characters only (what Excel stored for the font's bytes).
    assert all(code.encode("cp1252") for code in tcvn3 + vni)


@pytest.mark.skipif(shutil.which("iconv") is None, reason="iconv not installed")
def test_tcvn3_table_matches_glibc_tcvn5712_1():
    for letter in LOWER + sorted(TCVN3_CAPITALS):
        byte = to_tcvn3(letter).encode("latin-1")
        proc = subprocess.run(["iconv", "-f", "TCVN5712-1", "-t", "UTF-8"], input=byte, capture_output=True)
        if proc.returncode != 0:
            pytest.skip("this iconv has no TCVN5712-1")
        assert proc.stdout.decode("utf-8") == letter, (letter, byte)


# --- round trips on every letter -------------------------------------------------------------------------


@pytest.mark.parametrize("letter", VIETNAMESE_LETTERS)
def test_vni_round_trip_every_letter(letter):
    assert from_vni(to_vni(letter)) == letter
    word = f"Ng{letter}n" if letter.islower() else f"NG{letter}N"
    assert from_vni(to_vni(word)) == word


@pytest.mark.parametrize("letter", VIETNAMESE_LETTERS)
def test_tcvn3_round_trip_every_letter(letter):
    if letter.islower() or letter in TCVN3_CAPITALS:
        assert from_tcvn3(to_tcvn3(letter)) == letter
    else:  # no VN3 code: the lowercase one, drawn as a capital by .VnTimeH fonts
        assert to_tcvn3(letter) == to_tcvn3(letter.lower())
        assert from_tcvn3(to_tcvn3(letter), upper=True) == letter
    if letter.isupper():
        caps_word = f"TH{letter}NG"  # in a word written in capitals
        assert from_tcvn3(to_tcvn3(caps_word)) == caps_word
        title = f"Nguyễn Văn {letter}nh"  # starting a word of a Title Case name
        assert from_tcvn3(to_tcvn3(title)) == title
    else:
        lower = f"xã {letter}"
        assert from_tcvn3(to_tcvn3(lower)) == lower


@pytest.mark.parametrize("name", NAMES)
def test_repair_text_undoes_both_encodings(name):
    assert repair_text(to_tcvn3(name)) == (name, "tcvn3")
    assert repair_text(to_vni(name)) == (name, "vni")
    assert detect_legacy(to_tcvn3(name)) == "tcvn3"
    assert detect_legacy(to_vni(name)) == "vni"


def test_repair_text_on_every_gia_lai_unit_name():
    au = get_admin_units()
    units = [au.province("64"), *au.districts_of("64")]
    units += [c for d in au.districts_of("64") for c in au.communes_of(d.code)]
    assert len(units) == 238
    for unit in units:
        for enc, encode in (("tcvn3", to_tcvn3), ("vni", to_vni)):
            legacy = encode(unit.name)
            if legacy != unit.name:
                assert repair_text(legacy) == (unit.name, enc)


# --- negatives: correct text is never changed --------------------------------------------------------------


@pytest.mark.parametrize("text", NEGATIVES)
def test_repair_text_leaves_correct_text_alone(text):
    assert repair_text(text) == (text, None)
    assert detect_legacy(text) is None
    assert repair_text(unicodedata.normalize("NFD", text)) == (unicodedata.normalize("NFD", text), None)


def test_repair_text_leaves_every_official_name_alone():
    au = get_admin_units()
    for level in ("province", "district", "commune"):
        for unit in au.units(level):
            assert repair_text(unit.name)[1] is None, unit.name
            assert repair_text(unit.short_name)[1] is None, unit.short_name
            assert repair_text(unit.name.upper())[1] is None, unit.name


_OFFICIAL_WORDS = sorted(
    {w for lvl in ("district", "commune") for u in get_admin_units().units(lvl) for w in u.short_name.split()}
)


@settings(max_examples=300)
@given(st.lists(st.sampled_from(_OFFICIAL_WORDS), min_size=1, max_size=4))
def test_repair_text_leaves_random_vietnamese_phrases_alone(words):
    text = " ".join(words)
    assert repair_text(text) == (text, None)


@given(st.text())
def test_repair_text_never_raises(text):
    fixed, enc = repair_text(text)
    assert enc in (None, "tcvn3", "vni")
    if enc is None:
        assert fixed == text


@given(st.text(alphabet="".join(sorted(vn_legacy._CP1252_CHARS)), max_size=30))
def test_repair_text_never_raises_on_windows_1252_text(text):
    fixed, enc = repair_text(text)
    assert isinstance(fixed, str)
    assert (fixed == text) == (enc is None)


def test_repair_text_passes_non_text_through():
    for value in (None, 5, 3.5, np.nan):
        assert repair_text(value)[1] is None


def test_tone_stop_finals_and_case_evidence():
    # Single words give themselves away only when they cannot be Vietnamese as they stand.
    assert repair_text("NguyÔn") == ("Nguyễn", "tcvn3")
    assert repair_text("Vaên") == ("Văn", "vni")
    assert repair_text("An Phó")[1] is None  # "Phó" is a Vietnamese word: TCVN3 "Phú"? undecidable alone


def test_repair_text_with_font_hint_decodes_everything():
    assert repair_text("An Phó", hint="tcvn3") == ("An Phú", "tcvn3")
    assert repair_text("An Sôn", hint="vni") == ("An Sơn", "vni")
    assert repair_text("Nguyễn", hint="tcvn3") == ("Nguyễn", None)  # not a legacy value
    assert repair_text("Ksor", hint="vni") == ("Ksor", None)


@given(st.text(alphabet="".join(LOWER) + "abcdeghiklmnopqrstuvxy ", max_size=30))
def test_tcvn3_round_trip_lowercase_text(text):
    assert from_tcvn3(to_tcvn3(text)) == text


@given(
    st.text(
        alphabet="".join(VIETNAMESE_LETTERS) + "abcdeghiklmnopqrstuvxyABCDEGHIKLMNOPQRSTUVXY 0123456789",
        max_size=30,
    )
)
def test_vni_round_trip_text(text):
    assert from_vni(to_vni(text)) == text


# --- repair_series -------------------------------------------------------------------------------------


def test_repair_series_repairs_distinct_values_and_reports_changes():
    values = [
        to_tcvn3("Nguyễn Thị Hoà"),
        "Rơ Châm",
        None,
        to_vni("Lê Văn Tám"),
        42,
        to_tcvn3("Nguyễn Thị Hoà"),
    ]
    s = pd.Series(values, index=list("abcdef"), name="ho_ten")
    fixed, changed = repair_series(s)
    assert fixed.tolist()[:2] == ["Nguyễn Thị Hoà", "Rơ Châm"]
    assert fixed["c"] is None and fixed["e"] == 42
    assert fixed["d"] == "Lê Văn Tám" and fixed["f"] == "Nguyễn Thị Hoà"
    assert changed.tolist() == [True, False, False, True, False, True]
    assert changed.index.tolist() == list("abcdef")
    assert s.iloc[0] == to_tcvn3("Nguyễn Thị Hoà")  # the input is not modified


def test_repair_series_keeps_string_dtype_and_untouched_columns():
    s = pd.Series(["Nguyễn", "KBang", None], dtype="str")
    fixed, changed = repair_series(s)
    assert not changed.any()
    assert fixed.equals(s)
    legacy = pd.Series([to_vni("Nguyễn Thị Hoà"), None], dtype="str")
    fixed, changed = repair_series(legacy)
    assert fixed.iloc[0] == "Nguyễn Thị Hoà" and changed.tolist() == [True, False]


def test_repair_series_uses_the_column_to_decide_ambiguous_values():
    names = ["Nguyễn Thị Hoà", "Trần Văn Đức", "Lê Thị Ánh", "Phạm Ước", "An Phú", "Ksor Nhơn"]
    column = pd.Series([to_tcvn3(n) for n in names])
    assert repair_text(to_tcvn3("An Phú"))[1] is None  # alone: undecidable
    fixed, changed = repair_series(column)
    assert fixed.tolist() == names and changed.all()
    fixed, changed = repair_series(column, column_context=False)
    assert fixed.iloc[4] == to_tcvn3("An Phú") and not changed.iloc[4]
    assert repair_text(to_vni("Ksor Thị Nhơn"))[1] is None  # "Thò Nhôn" reads as Vietnamese too
    vni = pd.Series([to_vni(n) for n in [*names, "An Sơn", "Ksor Thị Nhơn"]])
    fixed, _ = repair_series(vni)
    assert fixed.tolist() == [*names, "An Sơn", "Ksor Thị Nhơn"]


def test_repair_series_column_of_correct_text_is_untouched():
    au = get_admin_units()
    names = pd.Series([u.name for u in au.units("commune")] + NEGATIVES)
    fixed, changed = repair_series(names)
    assert not changed.any()
    assert fixed.equals(names)


def test_repair_series_with_hint():
    fixed, changed = repair_series(pd.Series(["An Phó", "Nguyễn"]), hint="tcvn3")
    assert fixed.tolist() == ["An Phú", "Nguyễn"] and changed.tolist() == [True, False]


@settings(max_examples=50)
@given(st.lists(st.one_of(st.none(), st.text(max_size=20), st.integers(), st.floats()), max_size=20))
def test_repair_series_never_raises(values):
    fixed, changed = repair_series(pd.Series(values, dtype=object))
    assert len(fixed) == len(changed) == len(values)


# --- Windows-1258 -----------------------------------------------------------------------------------------


def test_encode_cp1258_decomposes_tones_and_keeps_base_letters():
    assert encode_cp1258("Hoà") == b"Hoa\xcc"
    assert encode_cp1258("ấ") == b"\xe2\xec"  # â precomposed, acute combining
    assert encode_cp1258("Ậ") == b"\xc2\xf2"
    assert encode_cp1258("Đơn") == b"\xd0\xf5n"
    assert encode_cp1258("ư") == b"\xfd"
    assert encode_cp1258(unicodedata.normalize("NFD", "Nguyễn")) == encode_cp1258("Nguyễn")


@pytest.mark.parametrize("letter", VIETNAMESE_LETTERS)
def test_cp1258_round_trip_every_letter(letter):
    assert decode_cp1258(encode_cp1258(letter)) == letter


def test_cp1258_round_trip_text_and_nfc():
    text = "Họ và tên;Ngày sinh\nRơ Châm H'Blang;01/02/1985\nĐặng Thị Quỳnh Như;Thuỷ, Khoẻ\n"
    raw = encode_cp1258(text)
    assert decode_cp1258(raw) == text
    assert unicodedata.is_normalized("NFC", decode_cp1258(raw))
    with pytest.raises(UnicodeEncodeError):
        encode_cp1258("中文")
    assert encode_cp1258("中文", errors="replace") == b"??"


def test_looks_like_cp1258():
    text = "Họ và tên,Ngày sinh,Xã\nNguyễn Thị Hoà,01/02/1990,Ia Băng\nRơ Châm H'Blang,1985,Đắk Đoa\n"
    assert looks_like_cp1258(encode_cp1258(text))
    assert not looks_like_cp1258(text.encode("utf-8"))
    assert not looks_like_cp1258(text.encode("utf-8-sig"))
    assert not looks_like_cp1258(b"name,dob\nNguyen Van A,1990\n")  # ASCII: nothing to tell
    assert not looks_like_cp1258(b"")
    assert not looks_like_cp1258("Müller,François,Straße,Ærø\n".encode("cp1252"))
    assert not looks_like_cp1258(to_tcvn3(text).encode("cp1252"))
    assert not looks_like_cp1258(to_vni(text).encode("cp1252"))
    assert not looks_like_cp1258(bytes(range(256)))


@given(st.binary(max_size=200))
def test_looks_like_cp1258_never_raises(raw):
    assert looks_like_cp1258(raw) in (True, False)
