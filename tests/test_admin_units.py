"""campaign.domain.admin_units and its data file (GSO codes of 2021)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign.domain.admin_units import DEFAULT_PATH, AdminUnits, Lookup, Unit, get_admin_units

ROOT = Path(__file__).resolve().parent.parent
GIA_LAI_DISTRICTS = {
    "622": "Thành phố Pleiku",
    "623": "Thị xã An Khê",
    "624": "Thị xã Ayun Pa",
    "625": "Huyện KBang",
    "626": "Huyện Đăk Đoa",
    "627": "Huyện Chư Păh",
    "628": "Huyện Ia Grai",
    "629": "Huyện Mang Yang",
    "630": "Huyện Kông Chro",
    "631": "Huyện Đức Cơ",
    "632": "Huyện Chư Prông",
    "633": "Huyện Chư Sê",
    "634": "Huyện Đăk Pơ",
    "635": "Huyện Ia Pa",
    "637": "Huyện Krông Pa",
    "638": "Huyện Phú Thiện",
    "639": "Huyện Chư Pưh",
}


@pytest.fixture(scope="module")
def au() -> AdminUnits:
    return get_admin_units()


# --- the data file ---------------------------------------------------------------------------------------


def test_data_file_counts(au):
    assert len(au.units("province")) == 63
    assert len(au.units("district")) == 705
    assert len(au.units("commune")) == 10_603


def test_data_file_is_zero_padded_text():
    with gzip.open(DEFAULT_PATH, "rt", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [
        "province_code", "province_name", "province_type",
        "district_code", "district_name", "district_type",
        "commune_code", "commune_name", "commune_type",
    ]  # fmt: skip
    assert rows[0]["province_code"] == "01" and rows[0]["district_code"] == "001"
    assert rows[0]["commune_code"] == "00001"
    assert all(len(r["province_code"]) == 2 and len(r["district_code"]) == 3 for r in rows)
    assert all(len(r["commune_code"]) in (0, 5) for r in rows)
    islands = sorted(r["district_code"] for r in rows if not r["commune_code"])
    assert islands == ["318", "471", "498", "536", "755"]  # districts without communes


def test_gia_lai(au):
    gia_lai = au.province("64")
    assert gia_lai == Unit("64", "Tỉnh Gia Lai", "Gia Lai", "tỉnh", "province", None)
    districts = au.districts_of("64")
    assert {d.code: d.name for d in districts} == GIA_LAI_DISTRICTS
    assert [d.code for d in districts] == [str(c) for c in range(622, 640) if c != 636]
    assert au.district("636") is None
    communes = [c for d in districts for c in au.communes_of(d.code)]
    assert len(communes) == 220
    assert len({c.code for c in communes}) == 220
    assert all(len(c.code) == 5 and c.level == "commune" for c in communes)
    assert len(au.communes_of("633")) == 15
    assert au.commune("23557") == Unit("23557", "Phường Yên Đỗ", "Yên Đỗ", "phường", "commune", "622")


def test_build_script_reproduces_the_data_file(tmp_path):
    """Rebuild from a JSON in the package's layout: same rows out, and the count guard refuses others."""
    au = get_admin_units()
    provinces = []
    for p in au.units("province"):
        districts = []
        for d in au.districts_of(p.code):
            wards = [
                {"name": c.name, "code": int(c.code), "division_type": c.type} for c in au.communes_of(d.code)
            ]
            districts.append({"name": d.name, "code": int(d.code), "division_type": d.type, "wards": wards})
        provinces.append(
            {"name": p.name, "code": int(p.code), "division_type": p.type, "districts": districts}
        )
    src = tmp_path / "nested-divisions.json"
    src.write_text(json.dumps(provinces, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out.csv.gz"
    script = ROOT / "scripts" / "build_admin_units.py"
    subprocess.run(
        [sys.executable, str(script), str(src), "--out", str(out)], check=True, capture_output=True
    )
    assert out.read_bytes() == DEFAULT_PATH.read_bytes()
    src.write_text(json.dumps(provinces[:10], ensure_ascii=False), encoding="utf-8")
    bad = subprocess.run([sys.executable, str(script), str(src), "--out", str(out)], capture_output=True)
    assert bad.returncode != 0


def test_load_plain_csv_and_explicit_path(tmp_path):
    plain = tmp_path / "units.csv"
    plain.write_bytes(gzip.decompress(DEFAULT_PATH.read_bytes()))
    units = AdminUnits.load(plain)
    assert units.district(633).name == "Huyện Chư Sê"
    assert get_admin_units() is get_admin_units()


# --- by code ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "level", "name"),
    [
        ("64", "province", "Tỉnh Gia Lai"),
        (64, "province", "Tỉnh Gia Lai"),
        (64.0, "province", "Tỉnh Gia Lai"),
        ("1", "province", "Thành phố Hà Nội"),
        (1, "province", "Thành phố Hà Nội"),
        ("633", "district", "Huyện Chư Sê"),
        (633, "district", "Huyện Chư Sê"),
        (np.int64(633), "district", "Huyện Chư Sê"),
        (" 633 ", "district", "Huyện Chư Sê"),
        ("633.0", "district", "Huyện Chư Sê"),
        ("001", "district", "Quận Ba Đình"),
        ("23557", "commune", "Phường Yên Đỗ"),
        (23557, "commune", "Phường Yên Đỗ"),
        ("00001", "commune", "Phường Phúc Xá"),
    ],
)
def test_get_by_code(au, code, level, name):
    unit = au.get(code)
    assert unit is not None and unit.level == level and unit.name == name


@pytest.mark.parametrize("code", [None, "", "abc", "6 4", -64, 1.5, float("nan"), "123456", 636, True, [64]])
def test_get_unknown_codes(au, code):
    assert au.get(code) is None


def test_level_specific_getters_zero_pad(au):
    assert au.province("064").code == "64"
    assert au.district(1).code == "001"
    assert au.district("1").name == "Quận Ba Đình"
    assert au.commune(1).code == "00001"
    assert au.commune("23557").parent_code == "622"
    assert au.district(633).parent_code == "64"
    assert au.province("99") is None and au.district("636") is None
    assert au.districts_of("99") == [] and au.communes_of("636") == []
    assert au.districts_of(64) == au.districts_of("64")


# --- districts by name -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "633", 633, "633.0", 633.0, "Chư Sê", "chu se", "CHƯ SÊ", "Chu Se", "Huyện Chư Sê", "huyen chu se",
        "H. Chư Sê", "H.Chư Sê", "H Chư Sê", "Huyện: Chư Sê", "  Chư   Sê ", "Chư Sê (633)", "633 - Chư Sê",
        unicodedata.normalize("NFD", "Huyện Chư Sê"), "Chư\u00a0Sê",
    ],
)  # fmt: skip
def test_resolve_district_chu_se(au, text):
    result = au.resolve_district(text)
    assert result.status == "found", text
    assert result.unit.code == "633" and result.candidates == (result.unit,)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("KBang", "625"),
        ("K'Bang", "625"),
        ("Kbang", "625"),
        ("K Bang", "625"),
        ("Huyện K’Bang", "625"),
        ("Đăk Đoa", "626"),
        ("Đắk Đoa", "626"),
        ("Dak Doa", "626"),
        ("Đak Đoa", "626"),
        ("Đăk Pơ", "634"),
        ("Dak Po", "634"),
        ("Pleiku", "622"),
        ("TP Pleiku", "622"),
        ("Tp. Pleiku", "622"),
        ("TP.Pleiku", "622"),
        ("T.P. Pleiku", "622"),
        ("Thành phố Pleiku", "622"),
        ("thanh pho pleiku", "622"),
        ("TX An Khê", "623"),
        ("Thị xã An Khê", "623"),
        ("thi xa ayun pa", "624"),
        ("Ayunpa", "624"),
        ("Chư Păh", "627"),
        ("Chu Pah", "627"),
        ("Chư Pưh", "639"),
        ("Chu Puh", "639"),
        ("Kông Chro", "630"),
        ("Krông Pa", "637"),
        ("Ia Pa", "635"),
        ("Đức Cơ", "631"),
    ],
)
def test_resolve_district_spellings(au, text, code):
    result = au.resolve_district(text)
    assert (result.status, result.unit.code if result.unit else None) == ("found", code), text


@pytest.mark.parametrize(
    "text", ["Hà Nội", "Ba Đình", "636", "301", "Chư", "", "   ", "Chư Sê Chư Sê", "xyz"]
)
def test_resolve_district_unknown(au, text):
    result = au.resolve_district(text)
    assert result.status == "unknown" and result.unit is None


def test_resolve_district_code_of_another_province(au):
    result = au.resolve_district("001")
    assert result.status == "unknown"
    assert [u.code for u in result.candidates] == ["001"]  # exists, but not in Gia Lai
    assert au.resolve_district("001", province_code="01").status == "found"
    assert au.resolve_district("Ba Đình", province_code=1).unit.code == "001"


def test_district_names_shared_by_two_units_need_the_type(au):
    # Thành phố Cao Lãnh and Huyện Cao Lãnh (Đồng Tháp, 87).
    assert au.resolve_district("Cao Lãnh", "87").status == "ambiguous"
    assert au.resolve_district("Huyện Cao Lãnh", "87").unit.name == "Huyện Cao Lãnh"
    assert au.resolve_district("TP Cao Lãnh", "87").unit.name == "Thành phố Cao Lãnh"


# --- communes --------------------------------------------------------------------------------------------


def test_ia_bang_and_ia_bang_collide_in_chu_prong(au):
    folded = au.lookup("Ia Bang", "commune", "632")
    assert folded.status == "ambiguous" and folded.unit is None
    assert [(u.code, u.name) for u in folded.candidates] == [("23905", "Xã Ia Băng"), ("23924", "Xã Ia Bang")]
    assert au.lookup("Xa Ia Bang", "commune", "632").status == "ambiguous"
    exact = au.lookup("Ia Băng", "commune", "632")
    assert exact.status == "found" and exact.unit.code == "23905"
    assert au.lookup("Xã Ia Băng", "commune", "632").unit.code == "23905"
    assert au.lookup("23924", "commune", "632").unit.name == "Xã Ia Bang"


def test_same_name_in_two_districts_resolved_by_parent(au):
    assert au.lookup("Ia O", "commune").status == "ambiguous"
    assert au.lookup("Ia O", "commune", "64").status == "ambiguous"
    assert au.lookup("Ia O", "commune", "628").unit.code == "23782"
    assert au.lookup("Ia O", "commune", 632).unit.code == "23914"
    assert au.lookup("Ia Băng", "commune", "626").unit.code == "23719"
    assert au.lookup("ia bang", "commune", "626").unit.code == "23719"  # one candidate in Đăk Đoa
    assert au.lookup("Tây Sơn", "commune", "64").status == "ambiguous"
    assert au.lookup("Phường Tây Sơn", "commune", "623").unit.code == "23617"
    assert au.lookup("Ayun", "commune", "64").status == "ambiguous"  # Xã Ayun (629) and Xã AYun (633)
    assert au.lookup("AYun", "commune", "633").unit.code == "23956"


@pytest.mark.parametrize(
    ("text", "district", "code"),
    [
        ("Nhơn Hòa", "639", "23942"),  # official: "Thị trấn Nhơn Hoà"
        ("Nhơn Hoà", "639", "23942"),
        ("nhon hoa", "639", "23942"),
        ("TT Nhơn Hòa", "639", "23942"),
        ("Thị trấn Nhơn Hoà", "639", "23942"),
        ("H Bông", "633", "23968"),  # a real "H " name, not the prefix "H" (huyện)
        ("H'Bông", "633", "23968"),
        ("HBông", "633", "23968"),
        ("K Dang", "626", "23698"),  # official: "Xã K' Dang"
        ("K'Dang", "626", "23698"),
        ("H' Neng", "626", "23701"),
        ("Hneng", "626", "23701"),
        ("Đak Pơ", "634", "23995"),
        ("Thị trấn Đăk Pơ", "634", "23995"),
        ("Ia HLốp", "633", "23959"),
        ("ia hlop", "633", "23959"),
        ("P. Yên Đỗ", "622", "23557"),
        ("phuong yen do", "622", "23557"),
        ("Xã Gào", "622", "23611"),
        ("Thị trấn KBang", "625", "23638"),
        ("TT Kbang", "625", "23638"),
        ("23557", "622", "23557"),
        (23557, "622", "23557"),
        ("Ia Dêr", "628", "23785"),
    ],
)
def test_commune_lookup_spellings(au, text, district, code):
    result = au.lookup(text, "commune", district)
    assert (result.status, result.unit.code if result.unit else None) == ("found", code), text


def test_type_prefix_separates_same_named_units(au):
    # Gia Lâm (018): Thị trấn Yên Viên 00526 and Xã Yên Viên 00532.
    assert au.lookup("Yên Viên", "commune", "018").status == "ambiguous"
    assert au.lookup("Xã Yên Viên", "commune", "018").unit.code == "00532"
    assert au.lookup("TT Yên Viên", "commune", "018").unit.code == "00526"
    assert au.lookup("thi tran yen vien", "commune", "018").unit.code == "00526"


def test_numbered_wards(au):
    # Quận 3 (770), Hồ Chí Minh: "Phường 01" officially.
    assert au.lookup("Phường 1", "commune", "770").unit.name == "Phường 01"
    assert au.lookup("P.01", "commune", "770").unit.name == "Phường 01"
    assert au.lookup("1", "commune", "770").unit.name == "Phường 01"


def test_commune_unknown_and_outside_district(au):
    assert au.lookup("Không Có", "commune", "632") == Lookup("unknown", None, ())
    outside = au.lookup("Ia Sao", "commune", "632")  # Ia Sao is in 624 and 628, not 632
    assert outside.status == "unknown"
    assert sorted(u.code for u in outside.candidates) == ["23767", "24073"]
    by_code = au.lookup("23905", "commune", "633")
    assert by_code.status == "unknown" and by_code.candidates[0].code == "23905"
    assert au.lookup("Ia Băng", "commune", "999").status == "unknown"  # no such parent
    assert au.lookup("Chư Sê", "district", "633").status == "unknown"  # a district cannot be a parent


def test_provinces(au):
    for text in ["Gia Lai", "gia lai", "Tỉnh Gia Lai", "Tinh Gia Lai", "64", 64, "064"]:
        assert au.lookup(text, "province").unit.code == "64", text
    assert au.lookup("TP HCM", "province").unit.code == "79"
    assert au.lookup("Hồ Chí Minh", "province").unit.code == "79"
    assert au.lookup("Bà Rịa Vũng Tàu", "province").unit.code == "77"
    assert au.lookup("Thừa Thiên Huế", "province").unit.code == "46"


def test_lookup_rejects_bad_levels(au):
    with pytest.raises(ValueError):
        au.lookup("Chư Sê", "ward")


# --- vectorised ------------------------------------------------------------------------------------------


def test_lookup_communes(au):
    names = pd.Series(
        [
            "Ia Băng",
            "Ia Bang",
            "ia bang",
            None,
            "",
            "Ia Sao",
            "Không Có",
            "23924",
            "Xã Ia Băng",
            23905,
            "Ia O",
        ],
        index=range(10, 21),
    )
    out = au.lookup_communes(names, "632")
    assert out.index.tolist() == list(range(10, 21))
    assert list(out.columns) == ["code", "status", "outside_code"]
    assert out["status"].tolist() == [
        "found", "ambiguous", "ambiguous", "unknown", "unknown", "unknown", "unknown",
        "found", "found", "found", "found",
    ]  # fmt: skip
    assert out["code"].iloc[0] == "23905"
    assert (
        out["code"].iloc[7] == "23924" and out["code"].iloc[8] == "23905" and out["code"].iloc[9] == "23905"
    )
    assert out["code"].iloc[10] == "23914"
    assert out["code"].iloc[1:7].isna().all()
    assert out["outside_code"].isna().tolist() == [True] * 11  # Ia Sao exists twice elsewhere: no single hint
    single = au.lookup_communes(pd.Series(["Ia Kla", "Gào"]), "632")  # 631's Ia Kla, 622's Gào
    assert single["status"].tolist() == ["unknown", "unknown"]
    assert single["outside_code"].tolist() == ["23869", "23611"]


def test_lookup_communes_many_rows(au):
    names = pd.Series(np.array(["Ia Băng", "Ia Bang", "Ia Kly", None], dtype=object)[np.arange(40_000) % 4])
    out = au.lookup_communes(names, "632")
    assert (out["status"] == "found").sum() == 20_000
    assert out["code"].value_counts().to_dict() == {"23905": 10_000, "23888": 10_000}


# --- never raises ----------------------------------------------------------------------------------------


@settings(max_examples=200)
@given(
    text=st.one_of(st.text(), st.integers(), st.floats(), st.none()),
    level=st.sampled_from(["province", "district", "commune"]),
    parent=st.sampled_from([None, "64", "632", 633, "999", "abc", ""]),
)
def test_lookup_never_raises(text, level, parent):
    result = get_admin_units().lookup(text, level, parent)
    assert result.status in ("found", "ambiguous", "unknown")
    if result.status == "found":
        assert result.unit is not None and result.candidates == (result.unit,)
    elif result.status == "ambiguous":
        assert result.unit is None and len(result.candidates) > 1
    else:
        assert result.unit is None


@settings(max_examples=50)
@given(st.lists(st.one_of(st.none(), st.text(max_size=15), st.integers()), max_size=20))
def test_lookup_communes_never_raises(values):
    out = get_admin_units().lookup_communes(pd.Series(values, dtype=object), "633")
    assert len(out) == len(values)


@given(st.text())
def test_get_never_raises(text):
    assert get_admin_units().get(text) is None or isinstance(get_admin_units().get(text), Unit)


def test_csv_reader_needs_no_pandas_dtype_care():
    # The file is read with the csv module, so codes stay text; a pandas reader must ask for dtype=str.
    frame = pd.read_csv(io.BytesIO(DEFAULT_PATH.read_bytes()), compression="gzip", dtype=str)
    assert frame["province_code"].iloc[0] == "01"


def test_district_names_read_alone_are_the_index_names() -> None:
    """Count once: the summaries name districts from `district_name_table` (without building the communes'
    index, issue 22); every district's name there is the one `AdminUnits.district` gives."""
    from campaign.domain.admin_units import district_name, district_name_table, get_admin_units

    table, units = district_name_table(), get_admin_units()
    assert len(table) == len(units._by_code["district"]) > 700
    assert all(units.district(code).name == name for code, name in table.items())
    assert district_name(622) == district_name("622") == "Thành phố Pleiku" and district_name("999") is None
    assert district_name("x") is None
