"""The standardizer, field by field, on tiny frames with exact expectations."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from campaign.config_kinds import load_input_kinds
from campaign.config_reasons import load_reasons
from campaign.domain.standardize import (
    FieldResult,
    PhoneRules,
    age_on,
    cccd_facts,
    cccd_mismatches,
    clean_admin_codes,
    clean_booleans,
    clean_decimals,
    clean_enum,
    clean_facility_codes,
    clean_id_numbers,
    clean_insurance_numbers,
    clean_integers,
    clean_names,
    clean_phones,
    clean_priority_groups,
    clean_sex,
    clean_text,
    duplicates_in_file,
    excel_serial_to_date,
    load_phone_rules,
    parse_dates,
    parse_datetimes,
    resolve_communes,
    sex_from_cccd,
    standardize,
    under_age,
)

TODAY = dt.date(2021, 7, 28)
CAMPAIGN_DAY = dt.date(2021, 7, 29)


def s(*values: object) -> pd.Series:
    return pd.Series(list(values), dtype="str")


def vals(r: FieldResult) -> list:
    return lst(r.value)


def lst(series: pd.Series) -> list:
    return [None if pd.isna(v) else v for v in series.tolist()]


def reasons(r: FieldResult) -> list:
    return [None if pd.isna(v) else v for v in r.reason.tolist()]


# ---------------------------------------------------------------------------------------------------------
# Names and text
# ---------------------------------------------------------------------------------------------------------


def test_names_are_nfc_single_spaced_and_title_cased_only_when_in_one_case():
    nfd = "Nguye\u0302\u0303n Va\u0306n An"  # NFD, as macOS and cp1258 CSVs give it
    r = clean_names(
        s(
            "NGUYỄN VĂN AN",
            "trần thị bích",
            "  Lê\u00a0 Văn\tB ",
            nfd,
            "Ksor H'Blang",
            "nguyễn Văn an",
            "RƠ CHÂM H'BLANG",
        )
    )
    assert vals(r) == [
        "Nguyễn Văn An",
        "Trần Thị Bích",
        "Lê Văn B",
        "Nguyễn Văn An",
        "Ksor H'Blang",
        "nguyễn Văn an",  # mixed case: left as written
        "Rơ Châm H'Blang",
    ]
    assert reasons(r) == [None] * 7


@pytest.mark.parametrize(
    "raw",
    [
        "Nguyễn Văn 2",  # digits
        '=HYPERLINK("x")',  # formula
        "+Nguyễn",
        "-Nguyễn",
        "@Nguyễn",
        "<script>alert(1)</script>",  # markup
        "Nguyễn <b>Văn</b> An",
        "Nguyễn &lt;An&gt;",
        "Nguyễn\x00An",  # control characters
        "Nguyễn\x07An",
        "...",  # no letter at all
    ],
)
def test_invalid_names(raw):
    r = clean_names(s(raw))
    assert vals(r) == [None]
    assert reasons(r) == ["name_invalid"]


def test_missing_names_and_length():
    r = clean_names(s(None, "", "   ", "\u200b", "A" * 101), max_length=100)
    assert reasons(r) == ["name_missing", "name_missing", "name_missing", "name_missing", "name_invalid"]
    optional = clean_names(s(None, "An"), required=False)
    assert reasons(optional) == [None, None]
    assert vals(optional) == [None, "An"]


def test_free_text():
    r = clean_text(s(" Thôn  3,\nxã Ia Băng ", "a\x01b", None, "x" * 11), max_length=10)
    assert vals(r) == [None, "a b", None, None]
    assert reasons(r) == ["value_invalid", None, None, "value_invalid"]
    r = clean_text(s("Thôn 3", None), required=True)
    assert vals(r) == ["Thôn 3", None]
    assert reasons(r) == [None, "value_missing"]


# ---------------------------------------------------------------------------------------------------------
# CMND/CCCD and BHYT
# ---------------------------------------------------------------------------------------------------------


def test_id_numbers():
    r = clean_id_numbers(
        s(
            "064190001234",  # CCCD
            "123456789",  # CMND
            "12345678",  # 8 digits (national template)
            "64190001234",  # 11 digits: Excel dropped the 0
            "064 190 001 234",
            "064.190.001.234",
            "'064190001234",  # Excel text marker
            "123456789.0",  # a float written as text
            "6.4190E+10",  # scientific notation: digits lost
            "1234567",
            "1234567890",
            "0641900012345",
            "CMND123456789",
            None,
            "  ",
        )
    )
    assert vals(r) == [
        "064190001234", "123456789", "12345678", "064190001234", "064190001234", "064190001234",
        "064190001234", "123456789", None, None, None, None, None, None, None,
    ]  # fmt: skip
    assert reasons(r) == [
        None, None, None, "id_zero_restored", None, None, None, None,
        "id_invalid", "id_invalid", "id_invalid", "id_invalid", "id_invalid", None, None,
    ]  # fmt: skip


def test_insurance_numbers():
    r = clean_insurance_numbers(
        s(
            "GD4646412345678",
            "gd4 64 641 2345678",
            "6412345678",
            "641234567",  # 9 digits: zero restored
            "GD6646412345678",  # 3rd character must be 1-5
            "1D4646412345678",
            "GD464641234567",
            "64123456789",
            None,
        )
    )
    assert vals(r) == [
        "GD4646412345678", "GD4646412345678", "6412345678", "0641234567", None, None, None, None, None,
    ]  # fmt: skip
    assert reasons(r) == [
        None, None, None, "id_zero_restored", "insurance_invalid", "insurance_invalid", "insurance_invalid",
        "insurance_invalid", None,
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------------------------
# Phones
# ---------------------------------------------------------------------------------------------------------

# docs/domain.md, written out here on purpose: the config file must say the same.
OLD_PREFIXES = {
    "0162": "032", "0163": "033", "0164": "034", "0165": "035", "0166": "036", "0167": "037", "0168": "038",
    "0169": "039",
    "0120": "070", "0121": "079", "0122": "077", "0126": "076", "0128": "078",
    "0123": "083", "0124": "084", "0125": "085", "0127": "081", "0129": "082",
    "0186": "056", "0188": "058",
    "0199": "059",
}  # fmt: skip


def test_phone_config_holds_the_old_prefix_table_of_domain_md():
    assert load_phone_rules().old_prefixes == OLD_PREFIXES


@pytest.mark.parametrize(("old", "new"), sorted(OLD_PREFIXES.items()))
def test_every_old_prefix_is_converted_in_every_written_form(old, new):
    rest = "1234567"
    expected = "+84" + new[1:] + rest
    forms = [
        old + rest,
        old[1:] + rest,
        "+84" + old[1:] + rest,
        "84" + old[1:] + rest,
        f"{old} {rest[:3]} {rest[3:]}",
    ]
    r = clean_phones(s(*forms))
    assert vals(r) == [expected] * len(forms)
    assert reasons(r) == ["phone_converted"] * len(forms)


def test_every_configured_mobile_prefix_is_valid_in_e164():
    prefixes = [p for ps in load_phone_rules().mobile_prefixes.values() for p in ps]
    r = clean_phones(s(*[p + "1234567" for p in prefixes]))
    assert vals(r) == ["+84" + p[1:] + "1234567" for p in prefixes]
    assert reasons(r) == [None] * len(prefixes)


def test_phone_forms():
    r = clean_phones(
        s(
            "0912345678",
            "912345678",  # Excel dropped the 0
            "+84 912 345 678",
            "+84912345678",
            "84912345678",
            "0084912345678",
            "+84 (0) 912 345 678",
            "0912.345.678",
            "091-234-5678",
            "'0912345678",
            "912345678.0",
            "０９１２３４５６７８",  # full-width digits
            "0912345678x",  # junk phonenumbers would accept
            "9.12346E+08",
            "0912345678 / 0987654321",
            "091234567",  # too short
            "02693823456",  # a Gia Lai landline: not a mobile
            "+1 650 253 0000",  # foreign
            "0412345678",  # no such mobile prefix
            None,
            " ",
            "-",
        )
    )
    assert vals(r) == ["+84912345678"] * 12 + [None] * 10
    assert (
        reasons(r)
        == [None, "id_zero_restored"]
        + [None] * 8
        + ["id_zero_restored", None]
        + ["phone_invalid"] * 7
        + ["phone_missing"] * 3
    )


def test_phone_missing_is_only_reported_for_a_required_column():
    assert reasons(clean_phones(s(None, ""), required=True)) == ["phone_missing", "phone_missing"]
    assert reasons(clean_phones(s(None, ""), required=False)) == [None, None]


def test_phone_leftovers_go_to_phonenumbers_and_the_rules_come_from_config():
    # 052 is not in a trimmed list: the prefix rule cannot decide, phonenumbers says it is a mobile
    rules = load_phone_rules().model_copy(update={"mobile_prefixes": {"viettel": ["098"]}})
    r = clean_phones(s("0981234567", "0522345678", "522345678", "0401234567"), rules=rules)
    assert vals(r) == ["+84981234567", "+84522345678", "+84522345678", None]
    assert reasons(r) == [None, None, "id_zero_restored", "phone_invalid"]
    landline = load_phone_rules().model_copy(update={"accept_types": ["mobile", "fixed_line"]})
    assert vals(clean_phones(s("02693823456"), rules=landline)) == ["+842693823456"]
    foreign = load_phone_rules().model_copy(update={"accept_foreign": True})
    assert vals(clean_phones(s("+1 650 253 0000"), rules=foreign)) == ["+16502530000"]


def test_phone_rules_are_validated():
    with pytest.raises(ValueError):
        PhoneRules(country_code="84", mobile_prefixes={"x": ["91"]}, old_prefixes={})
    with pytest.raises(ValueError):
        PhoneRules(country_code="84", mobile_prefixes={}, old_prefixes={"162": "032"})


# ---------------------------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------------------------


def d(text: str | None):
    return None if text is None else pd.Timestamp(text)


def test_birth_dates_in_every_format():
    r = parse_dates(
        s(
            "13/04/1990",
            "1990-04-13",
            "1990-04-13 00:00:00",
            "13-04-1990",
            "13.04.1990",
            "3/4/1990",  # d/m, ambiguous
            "04/04/1990",  # same day and month: not ambiguous
            "13/04/90",
            "13/04/05",  # 2-digit year: the latest century not in the future
            "13/04/25",
            "13-Apr-1990",
            "ngày 13 tháng 4 năm 1990",
        ),
        role="birth",
        today=TODAY,
        day_month_evidence=False,
    )
    assert vals(r) == [
        d("1990-04-13"), d("1990-04-13"), d("1990-04-13"), d("1990-04-13"), d("1990-04-13"), d("1990-04-03"),
        d("1990-04-04"), d("1990-04-13"), d("2005-04-13"), d("1925-04-13"), d("1990-04-13"), d("1990-04-13"),
    ]  # fmt: skip
    assert reasons(r) == [None] * 5 + ["dob_day_month_ambiguous"] + [None] * 6
    assert r.value.dtype == "datetime64[ns]"


def test_day_month_ambiguity_is_flagged_unless_the_column_proves_day_first():
    alone = parse_dates(s("03/04/1990", "04/04/1990"), role="birth", today=TODAY)
    assert reasons(alone) == ["dob_day_month_ambiguous", None]
    # 25/12/1990 can only be day first: the column's convention is proven, 03/04/1990 is 3 April
    proven = parse_dates(s("03/04/1990", "25/12/1990"), role="birth", today=TODAY)
    assert vals(proven) == [d("1990-04-03"), d("1990-12-25")]
    assert reasons(proven) == [None, None]
    # both orders seen (12/25/1990 is month first, and invalid as dd/mm): the warning stays
    mixed = parse_dates(s("03/04/1990", "25/12/1990", "12/25/1990"), role="birth", today=TODAY)
    assert reasons(mixed) == ["dob_day_month_ambiguous", None, "dob_invalid"]
    # other dates are never flagged
    assert reasons(parse_dates(s("03/04/2021"), role="other", today=TODAY)) == [None]


def test_excel_serial_dates_and_the_1900_leap_year_bug():
    assert excel_serial_to_date(1) == dt.date(1900, 1, 1)
    assert excel_serial_to_date(59) == dt.date(1900, 2, 28)
    assert excel_serial_to_date(60) is None  # 29/02/1900 never existed
    assert excel_serial_to_date(61) == dt.date(1900, 3, 1)
    assert excel_serial_to_date(32874) == dt.date(1990, 1, 1)
    assert excel_serial_to_date(44405) == dt.date(2021, 7, 28)
    assert excel_serial_to_date(0) is None
    r = parse_dates(s("32874", "44405.0", "60", "0", "61"), role="birth", today=TODAY)
    assert vals(r) == [d("1990-01-01"), d("2021-07-28"), None, None, d("1900-03-01")]
    assert reasons(r) == [
        "date_from_serial",
        "date_from_serial",
        "dob_invalid",
        "dob_invalid",
        "date_from_serial",
    ]


def test_birth_year_only_impossible_future_and_missing():
    r = parse_dates(
        s("1985", "1985.0", "31/02/1990", "29/02/2001", "29/02/2000", "29/07/2021", "28/07/2021", "1899-12-31",
          "12/25/1990", "abc", "1.2E+04", None, " "),
        role="birth",
        today=TODAY,
    )  # fmt: skip
    assert (
        vals(r)
        == [d("1985-01-01"), d("1985-01-01"), None, None, d("2000-02-29"), None, d("2021-07-28")] + [None] * 6
    )
    assert reasons(r) == [
        "dob_year_only", "dob_year_only", "dob_invalid", "dob_invalid", None, "dob_invalid", None,
        "dob_invalid", "dob_invalid", "dob_invalid", "dob_invalid", "dob_missing", "dob_missing",
    ]  # fmt: skip


def test_other_dates_use_value_codes_and_allow_the_future():
    r = parse_dates(
        s("03/04/2021", "1985", "31/02/2021", "2030-01-01", "44405", "03/08/21", None),
        role="other",
        today=TODAY,
    )
    assert vals(r) == [d("2021-04-03"), None, None, d("2030-01-01"), d("2021-07-28"), d("2021-08-03"), None]
    assert reasons(r) == [
        None,
        "value_invalid",
        "value_invalid",
        None,
        "date_from_serial",
        None,
        "value_missing",
    ]
    assert reasons(parse_dates(s(None), role="other", required=False)) == [None]


def test_datetimes():
    r = parse_datetimes(
        s(
            "28/07/2021 08:30",
            "2021-07-28T08:30:00",
            "2021-07-28T01:30:00Z",
            "2021-07-28 08:30:00+07:00",
            "8h30 28/07/2021",
            "28/07/2021 8:30 PM",
            "44405.354166667",  # 08:30
            "28/07/2021",
            "28/07/2021 25:00",
            None,
        )
    )
    tz = "Asia/Ho_Chi_Minh"
    at_830 = pd.Timestamp("2021-07-28 08:30", tz=tz)
    assert vals(r) == [at_830] * 5 + [pd.Timestamp("2021-07-28 20:30", tz=tz), at_830,
                                      pd.Timestamp("2021-07-28", tz=tz), None, None]  # fmt: skip
    assert reasons(r) == [None] * 6 + ["date_from_serial", None, "value_invalid", "value_missing"]
    assert str(r.value.dtype) == "datetime64[ns, Asia/Ho_Chi_Minh]"


# ---------------------------------------------------------------------------------------------------------
# Sex, priority group, enums, numbers, codes
# ---------------------------------------------------------------------------------------------------------


def test_sex():
    r = clean_sex(
        s("0", "1", "Nam", "Nữ", "nam", "nu", "NỮ", "M", "F", "male", "Female", "1.0", "x", "2", None)
    )
    assert vals(r) == ["male", "female", "male", "female", "male", "female", "female", "male", "female", "male",
                       "female", "female", None, None, None]  # fmt: skip
    assert reasons(r) == [None] * 12 + ["sex_invalid"] * 3


def test_priority_groups():
    r = clean_priority_groups(s("9", "09", "9.0", "Nhóm 9", "nhom 9", "N9", "9 - Người trên 65 tuổi", "16", "1",
                                "0", "17", "9.5", "x", None))  # fmt: skip
    assert vals(r) == [9, 9, 9, 9, 9, 9, 9, 16, 1] + [None] * 5
    assert reasons(r) == [None] * 9 + ["priority_group_invalid"] * 5
    assert r.value.dtype == "Int64"


def test_enums_match_key_label_or_variant_after_folding():
    r = clean_enum(s("AstraZeneca", "az", "Pfizer-BioNTech", "pfizer", "Vero Cell", "VERO", "sputnik v", "Covaxin", None),
                   "vaccine_product", required=True)  # fmt: skip
    assert vals(r) == [
        "astrazeneca",
        "astrazeneca",
        "pfizer",
        "pfizer",
        "vero_cell",
        "vero_cell",
        "sputnik_v",
        None,
        None,
    ]
    assert reasons(r) == [None] * 7 + ["value_invalid", "value_missing"]
    assert reasons(clean_enum(s(None), "vaccine_product")) == [None]


def test_booleans():
    r = clean_booleans(s("Có", "x", "1", "rồi", "Không", "0", "chưa", "maybe", None))
    assert r.value.tolist() == [True, True, True, True, False, False, False, pd.NA, pd.NA]
    assert reasons(r) == [None] * 7 + ["value_invalid", None]
    assert r.value.dtype == "boolean"


def test_integers():
    r = clean_integers(s("12", "12.0", " 7 ", "1.000", "1 000", "1E+03", "-3", "12.5", "abc", "101", None),
                       min_value=0, max_value=100)  # fmt: skip
    assert vals(r) == [12, 12, 7, 1000, 1000, 1000, -3, None, None, 101, None]
    assert reasons(r) == [None, None, None, "value_out_of_range", "value_out_of_range", "value_out_of_range",
                          "value_out_of_range", "value_invalid", "value_invalid", "value_out_of_range", None]  # fmt: skip
    assert r.value.dtype == "Int64"
    assert reasons(clean_integers(s(None), required=True)) == ["value_missing"]


def test_decimals():
    r = clean_decimals(s("13.98", "13,98", "1.234,5", "1,234.5", "108", "nan", "inf", "13°58'", "30"),
                       min_value=8, max_value=24)  # fmt: skip
    assert vals(r) == [13.98, 13.98, 1234.5, 1234.5, 108.0, None, None, None, 30.0]
    assert reasons(r) == [None, None, "value_out_of_range", "value_out_of_range", "value_out_of_range",
                          "value_invalid", "value_invalid", "value_invalid", "value_out_of_range"]  # fmt: skip


def test_facility_codes():
    r = clean_facility_codes(
        s(" tyt-23905 ", "TYT 23905", "64632001.0", "XYZ", None), known={"TYT-23905", "64632001"}
    )
    assert vals(r) == ["TYT-23905", None, "64632001", None, None]
    assert reasons(r) == [None, "facility_unknown", None, "facility_unknown", "value_missing"]
    assert reasons(clean_facility_codes(s("anything"))) == [None]


def test_admin_codes_restore_zeros():
    r = clean_admin_codes(s("1", "01", "64.0", "6x", "123"), width=2)
    assert vals(r) == ["01", "01", "64", None, None]
    assert reasons(r) == [None, None, None, "value_invalid", "value_invalid"]


# ---------------------------------------------------------------------------------------------------------
# Communes, within the uploading district
# ---------------------------------------------------------------------------------------------------------


def test_communes_of_chu_prong_ia_bang_and_ia_bang():
    names = s("Ia Băng", "Xã Ia Băng", "ia băng", "Ia Bang", "ia bang", "Ia Bang", "TT Chư Prông", "Ia Tiêm", "Ia Kring",
              "Xã Không Có", None, None)  # fmt: skip
    codes = s(None, "", None, None, None, "23924", None, None, None, None, "23905", None)
    r = resolve_communes(names, codes, district_code="632")
    assert vals(r.code) == [
        "23905",
        "23905",
        "23905",
        None,
        None,
        "23924",
        "23887",
        None,
        None,
        None,
        "23905",
        None,
    ]
    assert vals(r.name) == ["Xã Ia Băng", "Xã Ia Băng", "Xã Ia Băng", None, None, "Xã Ia Bang", "Thị trấn Chư Prông",
                            None, None, None, "Xã Ia Băng", None]  # fmt: skip
    assert reasons(r.code) == ["commune_from_name"] * 3 + [None, None, None, "commune_from_name"] + [None] * 5
    assert reasons(r.name) == [None, None, None, "commune_ambiguous", "commune_ambiguous", None, None,
                               "commune_outside_district", "commune_outside_district", "commune_unknown", None,
                               "value_missing"]  # fmt: skip


def test_communes_of_chu_se_and_codes_of_other_districts():
    names = s("Ia Tiêm", "Chư Sê", "Ia Băng", None, "Ia Tiêm", "Ia Blang", "Ia Tiêm")
    codes = s(None, None, None, "23905", "23905", "23962", "99999")
    r = resolve_communes(names, codes, district_code="633")
    # Ia Băng exists in two other districts (Chư Prông and Đăk Đoa): still outside
    assert vals(r.code) == ["23944", "23941", None, None, "23944", "23962", "23944"]
    assert reasons(r.code) == ["commune_from_name", "commune_from_name", None, "commune_outside_district",
                               "commune_from_name", None, "commune_from_name"]  # fmt: skip
    assert reasons(r.name) == [None, None, "commune_outside_district", None, None, None, None]
    assert vals(r.name)[:2] == ["Xã Ia Tiêm", "Thị trấn Chư Sê"]


def test_a_code_of_the_district_wins_over_a_disagreeing_name():
    r = resolve_communes(s("Ia Phìn"), s("23905"), district_code="632")
    assert vals(r.code) == ["23905"]
    assert vals(r.name) == ["Xã Ia Băng"]
    assert reasons(r.code) == [None]
    assert reasons(r.name) == ["commune_name_mismatch"]  # loaded by the code, the disagreement reported
    agreeing = resolve_communes(s("Ia Bang", "ia bang"), s("23924", "23905"), district_code="632")
    assert reasons(agreeing.name) == [None, None]  # an ambiguous name agrees with either of its communes


def test_communes_from_codes_only_and_malformed_codes():
    r = resolve_communes(
        None, s("23905", "23905.0", "abc", "23944", None), district_code="632", required=False
    )
    assert vals(r.code) == ["23905", "23905", None, None, None]
    assert reasons(r.code) == [None, None, "commune_unknown", "commune_outside_district", None]
    assert vals(r.name) == ["Xã Ia Băng", "Xã Ia Băng", None, None, None]


# ---------------------------------------------------------------------------------------------------------
# Cross-field checks
# ---------------------------------------------------------------------------------------------------------


def test_cccd_facts_from_strings_and_from_the_id_result():
    raw = s("064090001234", "064190001234", "064205001234", "064305001234", "064490001234", "123456789", None,
            "64190001234")  # fmt: skip
    for source in (s(*vals(clean_id_numbers(raw))), clean_id_numbers(raw)):
        f = cccd_facts(source)
        assert lst(f["sex"]) == ["male", "female", "male", "female", None, None, None, "female"]
        assert lst(f["birth_year"]) == [1990, 1990, 2005, 2005, None, None, None, 1990]


def test_cccd_cross_checks():
    ids = s("064090001234", "064090001234", "064190001234", "064185001234", "123456789", "064490001234", None)
    sex = s("male", "female", "female", "female", "male", "female", "male")
    birth = pd.Series(pd.to_datetime(["1990-05-01", "1990-05-01", "1991-01-01", "1985-01-01", "1990-01-01",
                                      "1990-01-01", "1990-01-01"]))  # fmt: skip
    sex_bad, year_bad = cccd_mismatches(ids, sex, birth)
    assert sex_bad.tolist() == [False, True, False, False, False, False, False]
    assert year_bad.tolist() == [False, False, True, False, False, False, False]


def test_sex_from_cccd_replaces_sex_invalid():
    sex = clean_sex(s("x", None, "Nam", "x"))
    repaired, mask = sex_from_cccd(sex, s("064190001234", "064290001234", "064190001234", "123456789"))
    assert vals(repaired) == ["female", "male", "male", None]
    assert reasons(repaired) == ["sex_from_cccd", "sex_from_cccd", None, "sex_invalid"]
    assert mask.tolist() == [True, True, False, False]


def test_age_and_under_age_on_the_campaign_date():
    birth = pd.Series(
        pd.to_datetime(["2003-07-29", "2003-07-30", "2003-02-28", "2004-02-29", "1950-01-01", None])
    )
    assert age_on(birth, CAMPAIGN_DAY).tolist() == [18, 17, 18, 17, 71, pd.NA]
    assert under_age(birth, campaign_date=CAMPAIGN_DAY, min_age_years=18).tolist() == [
        False, True, False, True, False, False,
    ]  # fmt: skip
    leap = pd.Series(pd.to_datetime(["2003-02-28", "2004-02-29"]))
    assert under_age(leap, campaign_date=dt.date(2022, 3, 1), min_age_years=18).tolist() == [False, False]


def test_duplicates_in_file():
    clean = pd.DataFrame(
        {
            "full_name": s("An", "An", "An", "Bình", None, None, None),
            "phone": s("+84912345678", "+84912345678", "+84987654321", None, None, None, None),
            "note": s("a", "b", "c", "d", "x", "x", None),
        }
    )
    assert duplicates_in_file(clean, ["full_name", "phone"]).tolist() == [
        False,
        True,
        False,
        False,
        False,
        True,
        False,
    ]


# ---------------------------------------------------------------------------------------------------------
# standardize: the whole frame
# ---------------------------------------------------------------------------------------------------------


def run(frame: pd.DataFrame, kind: str, **kw) -> object:
    kw.setdefault("district_code", "632")
    return standardize(
        frame.astype("str"), kind, campaign_date=CAMPAIGN_DAY, today=TODAY, min_age_years=18, **kw
    )


def issue_set(res) -> set[tuple]:
    return {
        (None if pd.isna(r.row) else int(r.row), None if pd.isna(r.column) else r.column, r.code)
        for r in res.issues.itertuples()
    }


def test_standardize_target_list():
    frame = pd.DataFrame(
        {
            "full_name": ["NGUYỄN VĂN AN", "Trần Thị Bích", "=cmd", "Siu H'Lan", "NGUYỄN VĂN AN"],
            "birth_date": ["13/04/1990", "1985", "44405", "2000-01-01", "13/04/1990"],
            "sex": ["Nam", "x", "1", "Nữ", "0"],
            "priority_group": ["Nhóm 9", "1", "17", "15", "9"],
            "phone": ["0912345678", "01621234567", "912345678", None, "0912345678"],
            "id_number": ["064090001234", "64185001234", None, "064200001234", "064090001234"],
            "commune_name": ["Ia Băng", "Ia Bang", "Ia Tiêm", "Ia Băng", "Ia Băng"],
            "commune_code": [None, "23924", None, None, None],
        }
    )
    res = run(frame, "target_list")
    spec = load_input_kinds()["target_list"]
    assert list(res.clean.columns) == [c.name for c in spec.columns]
    assert res.clean["full_name"].tolist()[:2] == ["Nguyễn Văn An", "Trần Thị Bích"]
    assert res.clean["phone"].tolist()[:3] == ["+84912345678", "+84321234567", "+84912345678"]
    assert res.clean["sex"].tolist()[:2] == ["male", "female"]  # row 1: from the CCCD
    assert lst(res.clean["commune_code"]) == ["23905", "23924", None, "23905", "23905"]
    assert res.clean["insurance_number"].isna().all()  # column absent: added as NA
    assert str(res.clean["birth_date"].dtype) == "datetime64[ns]"
    assert str(res.clean["priority_group"].dtype) == "Int64"
    assert issue_set(res) == {
        (0, "commune_code", "commune_from_name"),
        (1, "birth_date", "dob_year_only"),
        (1, "phone", "phone_converted"),
        (1, "id_number", "id_zero_restored"),
        (1, "sex", "sex_from_cccd"),
        (2, "full_name", "name_invalid"),
        (2, "birth_date", "date_from_serial"),
        (2, None, "under_age"),
        (2, "priority_group", "priority_group_invalid"),
        (2, "phone", "id_zero_restored"),
        (2, "commune_name", "commune_outside_district"),
        (3, "phone", "phone_missing"),
        (3, "sex", "cccd_sex_mismatch"),  # 064 2 00...: a boy born 2000
        (3, "commune_code", "commune_from_name"),
        (4, "commune_code", "commune_from_name"),
        (4, None, "duplicate_in_file"),
    }
    assert res.row_severity.tolist() == ["repair", "warning", "row", "warning", "warning"]
    assert res.quarantined.tolist() == [False, False, True, False, False]
    assert res.reason_counts()["commune_from_name"] == 3
    sev = {c: r.severity for c, r in load_reasons().reasons.items()}
    assert all(sev[c] == v for c, v in zip(res.issues["code"], res.issues["severity"], strict=True))
    # the reasons frame is wide: one column per canonical column
    assert res.reasons.loc[2, "full_name"] == "name_invalid"
    assert pd.isna(res.reasons.loc[0, "full_name"])
    assert res.reasons.loc[3, "sex"] == "cccd_sex_mismatch"
    assert res.reasons.loc[1, "sex"] == "sex_from_cccd"


def test_standardize_reports_missing_required_columns_and_values():
    res = run(pd.DataFrame({"full_name": ["An", None], "sex": ["Nam", "Nam"]}), "target_list")
    file_level = res.issues[res.issues["row"].isna()]
    assert set(file_level["code"]) == {"required_column_missing"}
    assert set(file_level["column"]) == {"birth_date", "priority_group", "phone", "commune_name"}
    assert set(res.missing_columns) == {"birth_date", "priority_group", "phone", "commune_name"}
    assert (1, "full_name", "name_missing") in issue_set(res)
    assert res.quarantined.tolist() == [False, True]


def test_standardize_facilities_with_known_codes():
    frame = pd.DataFrame(
        {
            "facility_code": ["tyt-23905", "TYT-XXXXX"],
            "facility_name": ["Trạm Y tế xã Ia Băng", "Trạm Y tế ?"],
            "facility_type": ["TYT", "trạm y tế xã"],
            "commune_name": ["Ia Băng", "Ia Bang"],
            "vaccination_tables": ["2", "two"],
            "latitude": ["13,6", "30"],
            "person_in_charge": ["nguyễn văn an", "Lê 2"],
            "phone_in_charge": ["0905123456", "0905123456x"],
        }
    )
    res = run(frame, "facilities", known_facilities={"TYT-23905"})
    assert lst(res.clean["facility_code"]) == ["TYT-23905", None]
    assert res.clean["facility_type"].tolist() == ["commune_station", "commune_station"]
    assert lst(res.clean["person_in_charge"]) == ["Nguyễn Văn An", None]
    assert res.clean["latitude"].tolist()[0] == 13.6
    assert issue_set(res) == {
        (0, "commune_code", "commune_from_name"),
        (1, "facility_code", "facility_unknown"),
        (1, "commune_name", "commune_ambiguous"),
        (1, "vaccination_tables", "value_invalid"),
        (1, "latitude", "value_out_of_range"),
        (1, "person_in_charge", "name_invalid"),
        (1, "phone_in_charge", "phone_invalid"),
    }
    assert res.quarantined.tolist() == [False, True]


def test_standardize_event_kinds_and_datetimes():
    frame = pd.DataFrame(
        {
            "facility_code": ["TYT-1", "TYT-1"],
            "full_name": ["An", "An"],
            "birth_date": ["1990", "1990"],
            "sex": ["Nam", "Nam"],
            "product": ["AZ", "Pfizer"],
            "dose_number": ["1", "7"],
            "vaccinated_at": ["28/07/2021 08:00", "28/07/2021 08:00"],
            "onset_at": ["28/07/2021 09:00", "28/07/2021 09:00"],
            "symptoms": ["Sốt", "Sốt"],
            "serious": ["Không", "Có"],
            "outcome": ["Đã hồi phục", "Đang theo dõi"],
        }
    )
    res = run(frame, "aefi")
    assert res.clean["vaccinated_at"].tolist()[0] == pd.Timestamp("2021-07-28 08:00", tz="Asia/Ho_Chi_Minh")
    assert res.clean["serious"].tolist() == ["no", "yes"]
    assert issue_set(res) == {
        (0, "birth_date", "dob_year_only"),
        (1, "birth_date", "dob_year_only"),
        (1, "dose_number", "value_out_of_range"),
    }   # not one reaction twice: the AEFI key is one reaction to one dose, and these name two products and doses


@pytest.mark.parametrize("kind", load_input_kinds().names)
def test_standardize_every_kind_on_an_empty_and_a_blank_frame(kind):
    spec = load_input_kinds()[kind]
    empty = pd.DataFrame({c.name: pd.Series([], dtype="str") for c in spec.columns})
    res = run(empty, kind)
    assert len(res.clean) == 0 and len(res.issues) == 0
    blank = pd.DataFrame({c.name: [None, "  "] for c in spec.columns})
    res = run(blank, kind)
    assert len(res.clean) == 2
    assert res.quarantined.tolist() == [True, True]
    assert set(res.issues["code"]) <= set(load_reasons().reasons)


def test_every_emitted_code_is_in_the_catalogue():
    # the codes a standardizer can emit, collected from the modules' sources
    import pathlib
    import re

    import campaign.domain.standardize as pkg

    text = "".join(p.read_text() for p in pathlib.Path(pkg.__file__).parent.glob("*.py"))
    quoted = set(re.findall(r'"([a-z]+(?:_[a-z]+)+)"', text))
    catalogue = set(load_reasons().reasons)
    emitted = {
        c for c in quoted
        if c.endswith(("_missing", "_invalid", "_mismatch", "_restored", "_converted", "_serial", "_only",
                       "_ambiguous", "_unknown", "_district", "_name", "_cccd", "_age", "_file", "_range"))
    }  # fmt: skip
    emitted -= {
        "duplicates_in_file",
        "commune_name",
        "full_name",
        "facility_name",
        "district_name",
        "province_name",
        "commune_name_mismatch",
    }
    assert emitted <= catalogue, emitted - catalogue


def test_standardize_keeps_the_index_and_accepts_objects():
    frame = pd.DataFrame({"full_name": ["An", np.nan], "sex": [1, None]}, index=[10, 11], dtype=object)
    res = standardize(frame, "training", district_code="632", campaign_date=CAMPAIGN_DAY, today=TODAY,
                      min_age_years=18)
    assert list(res.clean.index) == [10, 11]
    assert res.issues["row"].dropna().isin([0, 1]).all()
