"""The defect catalogue: every kind of damage the generator plants, with the reason code intake should
report for it (`config/reasons.yaml`), and the functions that plant the cell-level ones.

Categories:
- `cell`       one cell of one row is damaged (or a row is repeated); `row_number` points at it.
- `column`     a whole column is written the way Excel leaves it (IDs or phones as numbers, dates as
               serial numbers or as text); recorded once per file and column with `rows_affected`.
- `structure`  rows and headers that are not data: title rows, two-row headers, numbering, blank rows,
               totals and signature rows, extra sheets, repeated headers; the reader skips or maps them.
- `readiness`  true facts of the world that readiness must find (a facility without tables, a team
               without its observation member, an expired lot...); no reason code, the row is valid.
- `file`       the whole submission: a required column missing (the district re-uploads a fixed file).

`reason` is the expected reason code (None: repaired silently or not a row reason at all).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from campaign.synth.files.cells import EXCEL_EPOCH
from campaign.synth.names import strip_diacritics
from campaign.synth.world.identity import OLD_PREFIX_OF


@dataclass(frozen=True)
class DefectSpec:
    code: str
    category: str  # cell | column | structure | readiness | file
    kinds: tuple[str, ...]
    column: str | None
    reason: str | None
    description: str


_TL = ("target_list",)
_ALL = ("facilities", "infrastructure", "training", "communication", "staff", "target_list", "vaccine_stock",
        "vaccinations", "aefi", "backfill")


def _d(code: str, category: str, kinds: tuple[str, ...], column: str | None, reason: str | None, text: str) -> DefectSpec:
    return DefectSpec(code, category, kinds, column, reason, text)


CATALOGUE: dict[str, DefectSpec] = {s.code: s for s in [
    # --- phones
    _d("phone_old_11_digits", "cell", _TL, "phone", "phone_converted", "old 11-digit mobile (0162x... for 032x...)"),
    _d("phone_leading_zero_lost", "cell", _TL, "phone", "id_zero_restored", "9 digits: Excel dropped the leading 0 (a number cell in xlsx)"),
    _d("phone_garbage", "cell", _TL, "phone", "phone_invalid", "not a phone number: words, too short, too long, 000..."),
    _d("phone_missing", "cell", _TL, "phone", "phone_missing", "the required phone cell is empty"),
    # --- identity documents
    _d("id_leading_zero_lost", "cell", _TL, "id_number", "id_zero_restored", "12-digit CCCD 064... written as a number: 11 digits"),
    _d("id_scientific_notation", "cell", _TL, "id_number", "id_invalid", "CCCD shown as 6.40581E+10 (digits lost)"),
    _d("id_wrong_length", "cell", _TL, "id_number", "id_invalid", "7, 10 or 13 digits"),
    _d("cccd_sex_mismatch", "cell", _TL, "id_number", "cccd_sex_mismatch", "the CCCD's 4th digit says the other sex"),
    _d("cccd_birth_year_mismatch", "cell", _TL, "id_number", "cccd_birth_year_mismatch", "the CCCD's 5th-6th digits are another year"),
    _d("insurance_wrong_length", "cell", _TL, "insurance_number", "insurance_invalid", "BHYT of 12 characters or 11 digits"),
    # --- names and text encodings
    _d("tcvn3_name", "cell", _TL, "full_name", "text_reencoded", "name in TCVN3 (.VnTime): NguyÔn V¨n An"),
    _d("vni_name", "cell", _TL, "full_name", "text_reencoded", "name in VNI: Nguyeãn Vaên An"),
    _d("nfd_text", "cell", _TL, "full_name", None, "name in decomposed Unicode (NFD): repaired silently to NFC"),
    _d("extra_spaces_in_name", "cell", _TL, "full_name", None, "leading, trailing and double spaces: collapsed silently"),
    _d("missing_name", "cell", _TL, "full_name", "name_missing", "empty name"),
    _d("name_with_digits", "cell", _TL, "full_name", "name_invalid", "digits inside the name"),
    _d("formula_in_name", "cell", _TL, "full_name", "name_invalid", "=HYPERLINK(...), +name, @name, =name (stored as text)"),
    _d("markup_in_name", "cell", _TL, "full_name", "name_invalid", "<b>...</b>, <script>, <br>"),
    # --- birth dates
    _d("serial_date", "cell", _TL, "birth_date", "date_from_serial", "Excel serial number (29221) instead of a date"),
    _d("year_only_dob", "cell", _TL, "birth_date", "dob_year_only", "the year alone (1975), text or number"),
    _d("ambiguous_day_month", "cell", _TL, "birth_date", "dob_day_month_ambiguous", "m/d/yyyy unpadded (7/5/1980 for 05/07/1980), both <= 12"),
    _d("impossible_date", "cell", _TL, "birth_date", "dob_invalid", "31/02, 30/02, 31/04, 29/02 of a common year"),
    _d("future_dob", "cell", _TL, "birth_date", "dob_invalid", "a birth date after the campaign date (typo 19xx -> 20xx)"),
    _d("missing_dob", "cell", _TL, "birth_date", "dob_missing", "empty birth date"),
    _d("under_18", "cell", _TL, "birth_date", "under_age", "a real person under 18 on the campaign date (CCCD kept consistent)"),
    # --- coded columns
    _d("priority_out_of_range", "cell", _TL, "priority_group", "priority_group_invalid", "0, 17, 20 or 99"),
    _d("bad_sex", "cell", _TL, "sex", "sex_invalid", "2, x, Khác, ? (rows without a CCCD, so not derivable)"),
    _d("sex_missing_with_cccd", "cell", _TL, "sex", "sex_from_cccd", "sex empty, the 12-digit CCCD tells it"),
    # --- communes
    _d("unknown_commune", "cell", _TL, "commune_name", "commune_unknown", "a village or a name that is no commune of Gia Lai (code cell emptied)"),
    _d("commune_of_other_district", "cell", _TL, "commune_name", "commune_outside_district", "a commune of another Gia Lai district (code cell emptied)"),
    _d("commune_ambiguous_name", "cell", _TL, "commune_name", "commune_ambiguous", "Ia Bang without diacritics in Chư Prông: Ia Băng or Ia Bang (code emptied)"),
    _d("commune_code_missing", "cell", _TL, "commune_code", "commune_from_name", "commune code empty in a file that has the column"),
    # --- rows
    _d("duplicate_row", "cell", _TL, None, "duplicate_in_file", "an exact copy of an earlier row (reason on the copy)"),
    _d("event_repeat_row", "cell", ("vaccinations",), None, "repeat_of_earlier_submission", "a row already sent in the district's previous vaccinations file"),
    _d("facility_code_unknown", "cell", ("vaccinations",), "facility_code", "facility_unknown", "a facility code the district does not have"),
    _d("aefi_dose_not_accepted", "cell", ("aefi",), None, "aefi_no_vaccination_record", "(no cell changed) an AEFI row whose dose is in a results row quarantined (unknown facility) or in a results file the district sends after the AEFI file"),
    # --- whole columns as Excel leaves them
    _d("ids_as_numbers", "column", _ALL, "id_number", "id_zero_restored", "IDs stored as numbers: every CCCD lost its leading 0 (rows_affected)"),
    _d("phones_as_numbers", "column", _ALL, "phone", "id_zero_restored", "phones stored as numbers: 9 digits (rows_affected)"),
    _d("dates_as_serial", "column", _ALL, None, "date_from_serial", "dates stored as Excel serial numbers, no date format (rows_affected)"),
    _d("dob_as_text", "column", ("target_list", "vaccinations", "aefi", "backfill"), "birth_date", "dob_day_month_ambiguous",
       "birth dates as dd/mm/yyyy text: rows_affected counts those with day and month both <= 12 and different"),
    _d("commune_code_absent", "column", ("target_list",), "commune_code", "commune_from_name",
       "no commune-code column (clerks' sheets): the code filled from the name on every row (rows_affected)"),
    # --- structure
    _d("title_rows", "structure", _ALL, None, None, "agency, national motto, title and instruction rows above the header"),
    _d("two_row_header", "structure", _ALL, None, None, "a merged group header above the column headers (national template, Nam/Nữ)"),
    _d("header_notes", "structure", _ALL, None, None, "headers with (*), line breaks and notes in parentheses"),
    _d("header_variants", "structure", _ALL, None, None, "aliases, no diacritics, upper/lower case or English headers"),
    _d("numbering_column", "structure", _ALL, None, None, "an STT / # column"),
    _d("numbering_row", "structure", _ALL, None, None, "a row (1) (2) (3)... under the header"),
    _d("blank_rows", "structure", _ALL, None, None, "empty rows among the data"),
    _d("header_repeat", "structure", _ALL, None, None, "the header row repeated inside the data (lists pasted together)"),
    _d("totals_row", "structure", _ALL, None, None, "a Tổng cộng row at the bottom"),
    _d("footer_rows", "structure", _ALL, None, None, "place and date, signatures (Người lập biểu / Giám đốc) below the table"),
    _d("instruction_sheet", "structure", _ALL, None, None, "a first sheet of instructions; the data is on the second"),
    _d("extra_column", "structure", _ALL, None, None, "a column the kind does not know (Dân tộc, Kết quả import)"),
    _d("sex_mark_columns", "structure", ("target_list", "vaccinations", "aefi", "backfill"), "sex", None,
       "sex as two columns Nam | Nữ holding the birth date under the person's sex"),
    _d("text_without_diacritics", "structure", _ALL, None, None, "the whole file typed without Vietnamese diacritics"),
    # --- whole file
    _d("required_column_missing", "file", ("facilities",), "vaccination_tables", "required_column_missing",
       "first upload lacks a required column (rejected); the district re-uploads a fixed file later"),
    # --- readiness truths (valid rows; readiness and planning must see them)
    _d("facility_zero_tables", "readiness", ("facilities",), "vaccination_tables", None, "a facility with 0 vaccination tables"),
    _d("infrastructure_gap", "readiness", ("infrastructure",), None, None, "fewer computers/QR scanners than tables, no internet or no printer"),
    _d("infrastructure_missing_facility", "readiness", ("infrastructure",), None, None, "a facility absent from the infrastructure file"),
    _d("training_incomplete", "readiness", ("training",), "completed", None, "training not completed"),
    _d("staff_untrained", "readiness", ("staff",), "full_name", None, "a team member with no training row"),
    _d("staff_double_booked", "readiness", ("staff",), "full_name", None,
       "one person in two teams of the same session (same facility: also duplicate_in_file on the natural key)"),
    _d("team_missing_role", "readiness", ("staff",), "role", None, "a team without its observation/AEFI member"),
    _d("team_not_updated", "readiness", ("staff",), "updated_on", None, "team list updated 5 days before the session"),
    _d("comm_missing_certificate_lookup", "readiness", ("communication",), "message", None,
       "no activity of the district carries the certificate-lookup message"),
    _d("stock_expired_lot", "readiness", ("vaccine_stock",), "expiry_date", "stock_lot_expired", "a lot expired before the campaign (warned at intake: expired on the day the file came in)"),
    _d("aefi_serious", "readiness", ("aefi",), "serious", None, "a serious AEFI (24-hour investigation)"),
]}

# Cell defects planted on target-list rows, most constrained first (so scarce candidates are not taken).
TARGET_LIST_CELL_CODES = [
    "commune_ambiguous_name", "commune_code_missing", "sex_missing_with_cccd", "cccd_sex_mismatch",
    "cccd_birth_year_mismatch", "id_leading_zero_lost", "id_scientific_notation", "ambiguous_day_month",
    "phone_old_11_digits", "phone_leading_zero_lost", "tcvn3_name", "vni_name", "nfd_text", "bad_sex",
    "serial_date", "id_wrong_length", "insurance_wrong_length", "phone_garbage", "phone_missing",
    "extra_spaces_in_name", "missing_name", "name_with_digits", "formula_in_name", "markup_in_name",
    "year_only_dob", "impossible_date", "future_dob", "missing_dob", "under_18", "priority_out_of_range",
    "unknown_commune", "commune_of_other_district", "duplicate_row",
]

# Columns a cell defect needs in the file besides its own: the CCCD that tells the missing sex.
ALSO_NEEDS: dict[str, tuple[str, ...]] = {"sex_missing_with_cccd": ("id_number",)}

# Names that are no commune of Gia Lai (checked against the province at run time): villages typed in
# the commune column, and communes of other provinces.
NOT_A_COMMUNE = ["Thôn 3", "Làng Ốp", "Tổ 7", "Xã Tân Lập Mới", "Phường Hoàng Văn Thụ", "Xã Ea Kênh", "Làng Kép 2",
                 "Xã Đắk Mil", "Plei Ring"]


# ---------------------------------------------------------------------------------------------------------
# Eligibility (vectorised over a district's target-list entries)
# ---------------------------------------------------------------------------------------------------------


def eligibility(entries: pd.DataFrame, file_traits: pd.DataFrame) -> dict[str, np.ndarray]:
    """Which entries may carry which cell defect. `file_traits` is indexed like `entries` and says, per
    row, the traits of the file the row goes to (fmt, encoding, numeric_ids, numeric_phones,
    date_style, has_commune_code, sex_marks, has_insurance); its attrs hold the commune codes that
    collide once diacritics are dropped (`colliding`) and those ambiguous as officially written
    (`self_ambiguous`)."""
    n = len(entries)

    def test(column: str, f) -> np.ndarray:  # a C-level loop over an object column
        return np.fromiter(map(f, entries[column].to_numpy(dtype=object)), dtype=bool, count=n)

    cccd = test("id_number", lambda v: len(v) == 12 and v[:1] == "0")
    non_ascii = ~test("full_name", str.isascii)
    old = set(OLD_PREFIX_OF)
    convertible = test("phone", lambda v: v[:3] in old)
    has_phone = test("phone", lambda v: len(v) == 10)
    b = entries["birth_date"].to_numpy().astype("datetime64[D]")
    month = b.astype("datetime64[M]").astype(int) % 12 + 1
    day = (b - b.astype("datetime64[M]")).astype(int) + 1
    ambiguous = (day <= 12) & (month <= 12) & (day != month)
    cp1258 = file_traits["encoding"].eq("cp1258").to_numpy()
    legacy_ok = ~cp1258
    numeric_ids = file_traits["numeric_ids"].to_numpy(dtype=bool)
    numeric_phones = file_traits["numeric_phones"].to_numpy(dtype=bool)
    serial = file_traits["date_style"].eq("serial").to_numpy()
    has_code = file_traits["has_commune_code"].to_numpy(dtype=bool)
    self_amb = file_traits.attrs.get("self_ambiguous", set())
    self_ambiguous = test("commune_code", lambda v: v in self_amb)
    colliding = file_traits.attrs.get("colliding", set())
    amb_ok = test("commune_code", lambda v: v in colliding)
    sex_marks = file_traits["sex_marks"].to_numpy(dtype=bool)
    has_insurance = file_traits["has_insurance"].to_numpy(dtype=bool)
    not_dup = entries["_dup"].to_numpy(dtype=object) == ""
    ones = np.ones(n, dtype=bool)
    return {
        "phone_old_11_digits": convertible & has_phone,
        "phone_leading_zero_lost": has_phone & ~numeric_phones,
        "phone_garbage": has_phone,
        "phone_missing": has_phone,
        "id_leading_zero_lost": cccd & ~numeric_ids,
        "id_scientific_notation": cccd,
        "id_wrong_length": ones,
        "cccd_sex_mismatch": cccd & ~sex_marks,
        "cccd_birth_year_mismatch": cccd,
        "insurance_wrong_length": has_insurance,
        "tcvn3_name": non_ascii & legacy_ok,
        "vni_name": non_ascii & legacy_ok,
        "nfd_text": non_ascii & legacy_ok,
        "extra_spaces_in_name": ones,
        "missing_name": ones,
        "name_with_digits": ones,
        "formula_in_name": ones,
        "markup_in_name": ones,
        "serial_date": ~serial & ~sex_marks,
        "year_only_dob": ~sex_marks,
        "ambiguous_day_month": ambiguous & ~sex_marks,
        "impossible_date": ~sex_marks,
        "future_dob": ~sex_marks,
        "missing_dob": ~sex_marks,
        "under_18": ones,
        "priority_out_of_range": ones,
        "bad_sex": ~cccd & ~sex_marks,
        "sex_missing_with_cccd": cccd & ~sex_marks,
        "unknown_commune": ones,
        "commune_of_other_district": ones,
        "commune_ambiguous_name": amb_ok,
        "commune_code_missing": has_code & ~self_ambiguous,
        "duplicate_row": not_dup,
    }


_DMY = re.compile(r"^(\d{1,2})/(\d{1,2})/\d{4}$")


def day_first_shown(cells: Any) -> bool:
    """Whether a column of text dates shows that it writes the day first, as the standardizer judges it
    (`dob_day_month_ambiguous` is then not reported for its zero-padded dates): some zero-padded
    `dd/mm/yyyy` reads 13-31 first, and no value reads 13-31 second."""
    day_first = False
    for v in cells:
        m = _DMY.match(v) if isinstance(v, str) else None
        if not m:
            continue
        a, b = int(m.group(1)), int(m.group(2))
        if 12 < b <= 31 and 1 <= a <= 12:
            return False
        if 12 < a <= 31 and 1 <= b <= 12 and len(m.group(1)) == len(m.group(2)) == 2:
            day_first = True
    return day_first


def _vietnamese_letters() -> frozenset[str]:
    bases = "aăâeêioôơuưyAĂÂEÊIOÔƠUƯY"
    tones = ["", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"]
    letters = {unicodedata.normalize("NFC", b + t) for b in bases for t in tones}
    letters.update("đĐ' ")
    letters.update(chr(c) for c in range(ord("a"), ord("z") + 1))
    letters.update(chr(c) for c in range(ord("A"), ord("Z") + 1))
    return frozenset(letters)


VIETNAMESE_LETTERS = _vietnamese_letters()


def legacy_detectable(encoded: str) -> bool:
    """A legacy-encoded name can be told from Unicode only if it holds a character Vietnamese never uses
    ("Vũ Thanh Tú" in TCVN3 is "Vò Thanh Tó": every letter is Vietnamese, nothing gives it away)."""
    return any(ch not in VIETNAMESE_LETTERS for ch in encoded)


def _legacy_ok(code: str):
    encoding = "tcvn3" if code == "tcvn3_name" else "vni"

    def ok(name: str) -> bool:
        enc = _legacy().to_tcvn3(name) if code == "tcvn3_name" else _legacy().to_vni(name)
        # A character Vietnamese never uses is not enough when the decoded word is no Vietnamese syllable
        # either: "Nay A Byöh" (VNI for the invented given name "Byưh") may as well be a foreign name.
        return enc != name and legacy_detectable(enc) and _legacy().detect_legacy(enc) == encoding
    return ok


# per-row checks too costly to run over every row: applied to candidates in random order until enough
CANDIDATE_CHECKS = {"tcvn3_name": _legacy_ok("tcvn3_name"), "vni_name": _legacy_ok("vni_name")}


def choose(rng: np.random.Generator, eligible: dict[str, np.ndarray], total: int,
           names: np.ndarray | None = None) -> np.ndarray:
    """Assign at most one cell defect per entry: `total` defects split evenly over the codes (each code
    at least once when it has a candidate). Returns an object array of codes ("" = none). `names`
    (full names) lets the legacy-encoding codes keep only names whose encoded form can be detected."""
    n = len(next(iter(eligible.values())))
    codes = [c for c in TARGET_LIST_CELL_CODES if c in eligible]
    per = np.full(len(codes), total // len(codes))
    per[: total % len(codes)] += 1
    per = np.maximum(per, 1)
    out = np.full(n, "", dtype=object)
    used = np.zeros(n, dtype=bool)
    for code, k in zip(codes, per, strict=True):  # ~33 codes
        cand = np.flatnonzero(eligible[code] & ~used)
        if not len(cand):
            continue
        check = CANDIDATE_CHECKS.get(code)
        if check is not None and names is not None:
            order = rng.permutation(cand)
            pick = []
            for i in order:  # a few candidates per wanted defect: most names pass
                if check(str(names[i])):
                    pick.append(i)
                    if len(pick) >= k:
                        break
            pick = np.array(pick, dtype=np.int64)
            if not len(pick):
                continue
        else:
            pick = rng.choice(cand, min(int(k), len(cand)), replace=False)
        out[pick] = code
        used[pick] = True
    return out


# ---------------------------------------------------------------------------------------------------------
# Planting one cell defect
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Ctx:
    """What a cell defect needs to know about its file."""

    fmt: str  # xlsx | csv
    date_style: str  # date_cell | text | serial (xlsx); csv is always text
    campaign_date: dt.date
    commune_style: str
    district: str
    other_communes: list[tuple[str, str, str]]  # (code, name, short) of other districts, not foldable to ours
    unknown_communes: list[str]


def _legacy():
    from campaign.domain import vn_legacy

    return vn_legacy


def render_date(d: dt.date | None, fmt: str, style: str) -> Any:
    if d is None:
        return ""
    if fmt == "csv" or style == "text":
        return d.strftime("%d/%m/%Y")
    if style == "serial":
        return int((np.datetime64(d, "D") - EXCEL_EPOCH).astype(int))
    return d


def _to_date(v: Any) -> dt.date:
    return pd.Timestamp(v).date()


def commune_text(name: str, short: str, style: str) -> str:
    if style == "short":
        return short
    if style == "lower":
        return name[: len(name) - len(short)].lower() + short
    return name


def plant(code: str, e: dict[str, Any], rng: np.random.Generator, ctx: Ctx) -> tuple[dict[str, Any], str]:
    """The damaged cells of one entry for `code`: {canonical column: new cell}, and a short note (the
    true value where the damage hides it). Cell values are typed for the file format (numbers for xlsx
    number cells, strings otherwise)."""
    xlsx = ctx.fmt == "xlsx"
    name = str(e["full_name"])
    phone = str(e["phone"])
    idn = str(e["id_number"])
    birth = _to_date(e["birth_date"])

    def pick(options: list[Any]) -> Any:
        return options[int(rng.integers(0, len(options)))]

    if code == "phone_old_11_digits":
        return {"phone": OLD_PREFIX_OF[phone[:3]] + phone[3:]}, f"true {phone}"
    if code == "phone_leading_zero_lost":
        return {"phone": int(phone) if xlsx else phone[1:]}, f"true {phone}"
    if code == "phone_garbage":
        return {"phone": pick(["không có", "123456", phone[:7], phone + "9", "0000000000", phone[:5] + "abc"])}, ""
    if code == "phone_missing":
        return {"phone": ""}, ""
    if code == "id_leading_zero_lost":
        return {"id_number": int(idn) if xlsx else idn.lstrip("0")}, f"true {idn}"
    if code == "id_scientific_notation":
        return {"id_number": f"{int(idn):.5E}"}, f"true {idn}"
    if code == "id_wrong_length":
        d = str(int(rng.integers(0, 10)))
        if len(idn) == 12:
            bad = pick([idn[:10], idn + d])  # 10 or 13 digits
        elif len(idn) == 9:
            bad = pick([idn[:7], idn + d])  # 7 or 10 digits
        else:
            bad = "2" + "".join(str(x) for x in rng.integers(0, 10, 9))  # 10 digits
        return {"id_number": bad}, ""
    if code == "cccd_sex_mismatch":
        flipped = idn[:3] + str(int(idn[3]) ^ 1) + idn[4:]
        return {"id_number": flipped}, f"true {idn}"
    if code == "cccd_birth_year_mismatch":
        yy = (int(idn[4:6]) + int(rng.integers(1, 9))) % 100
        return {"id_number": idn[:4] + f"{yy:02d}" + idn[6:]}, f"true {idn}"
    if code == "insurance_wrong_length":
        base = str(e.get("social_insurance") or "64" + "12345678")
        return {"insurance_number": pick(["GD464" + base[:7], "4" + base])}, ""
    if code == "tcvn3_name":
        return {"full_name": _legacy().to_tcvn3(name)}, f"true {name}"
    if code == "vni_name":
        return {"full_name": _legacy().to_vni(name)}, f"true {name}"
    if code == "nfd_text":
        return {"full_name": unicodedata.normalize("NFD", name)}, f"true {name}"
    if code == "extra_spaces_in_name":
        return {"full_name": "  " + name.replace(" ", "   ", 1) + " "}, f"true {name}"
    if code == "missing_name":
        return {"full_name": ""}, f"true {name}"
    if code == "name_with_digits":
        return {"full_name": pick([name + "2", name + " 1", name.replace("o", "0", 1) if "o" in name else name + " 3"])}, ""
    if code == "formula_in_name":
        return {"full_name": pick([f'=HYPERLINK("http://example.invalid/dk","{name}")', "+" + name, "@" + name,
                                   "=" + strip_diacritics(name).replace(" ", "")])}, ""
    if code == "markup_in_name":
        return {"full_name": pick([f"<b>{name}</b>", f"<script>alert(1)</script>{name}", f"{name}<br>"])}, ""
    if code == "serial_date":
        serial = int((np.datetime64(birth, "D") - EXCEL_EPOCH).astype(int))
        return {"birth_date": serial if xlsx else str(serial)}, f"true {birth:%d/%m/%Y}"
    if code == "year_only_dob":
        return {"birth_date": birth.year if (xlsx and rng.random() < 0.5) else str(birth.year)}, f"true {birth:%d/%m/%Y}"
    if code == "ambiguous_day_month":
        return {"birth_date": f"{birth.month}/{birth.day}/{birth.year}"}, f"true {birth:%d/%m/%Y} (written m/d)"
    if code == "impossible_date":
        y = birth.year if birth.year % 4 else birth.year + 1
        return {"birth_date": pick([f"31/02/{y}", f"30/02/{y}", f"31/04/{y}", f"31/06/{y}", f"31/09/{y}", f"29/02/{y}"])}, ""
    if code == "future_dob":
        year = birth.year + 100 if birth.year + 100 > ctx.campaign_date.year else ctx.campaign_date.year + 1
        try:
            fut = birth.replace(year=year)
        except ValueError:  # 29/02
            fut = birth.replace(year=year, day=28)
        return {"birth_date": render_date(fut, ctx.fmt, ctx.date_style)}, f"true {birth:%d/%m/%Y}"
    if code == "missing_dob":
        return {"birth_date": ""}, ""
    if code == "under_18":
        age_days = int((int(rng.integers(12, 18)) + rng.uniform(0.05, 0.95)) * 365.2425)
        young = ctx.campaign_date - dt.timedelta(days=age_days)
        cells: dict[str, Any] = {"birth_date": render_date(young, ctx.fmt, ctx.date_style)}
        if len(idn) == 12:  # keep the CCCD consistent with the new birth year
            digit = (2 if young.year >= 2000 else 0) + int(bool(e["female"]))
            cells["id_number"] = idn[:3] + str(digit) + f"{young.year % 100:02d}" + idn[6:]
        return cells, f"born {young:%d/%m/%Y}"
    if code == "priority_out_of_range":
        v = pick([0, 17, 20, 99])
        return {"priority_group": v if xlsx else str(v)}, ""
    if code == "bad_sex":
        return {"sex": pick(["2", "x", "Khác", "?"])}, f"true {'female' if e['female'] else 'male'}"
    if code == "sex_missing_with_cccd":
        return {"sex": ""}, f"true {'female' if e['female'] else 'male'}"
    if code == "unknown_commune":
        return {"commune_name": pick(ctx.unknown_communes), "commune_code": ""}, f"true {e['commune_name']}"
    if code == "commune_of_other_district":
        _, cname, cshort = pick(ctx.other_communes)
        return {"commune_name": commune_text(cname, cshort, ctx.commune_style), "commune_code": ""}, f"true {e['commune_name']}"
    if code == "commune_ambiguous_name":
        # the resident of Ia Băng typing without diacritics: "Ia Bang" is also the name of its neighbour
        text = commune_text(strip_diacritics(str(e["commune_name"])), strip_diacritics(str(e["commune_short"])),
                            ctx.commune_style)
        return {"commune_name": text, "commune_code": ""}, f"true {e['commune_name']} {e['commune_code']}"
    if code == "commune_code_missing":
        return {"commune_code": ""}, f"true {e['commune_code']}"
    raise KeyError(code)
