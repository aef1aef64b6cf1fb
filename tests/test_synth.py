"""The synthetic campaign generator: determinism, the defect catalogue against the files, the truths it
records (CCCD layout, admin units, duplicates, schedule) and the fast benchmark CSV."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from python_calamine import CalamineWorkbook

from campaign.config import load_campaign
from campaign.config_kinds import load_input_kinds
from campaign.config_reasons import load_reasons
from campaign.domain.admin_units import get_admin_units
from campaign.domain.text import fold
from campaign.domain.vn_legacy import to_tcvn3, to_vni
from campaign.synth import (
    CATALOGUE,
    LAYOUTS,
    Manifest,
    build_world,
    generate_campaign,
    generate_province_target_lists,
    generate_target_list_file,
)
from campaign.synth import names as nm
from campaign.synth.defects import NOT_A_COMMUNE
from campaign.synth.files.layouts import CLERK_HEADINGS, CLERK_LAYOUTS, choose_columns, header_text

PEOPLE = 2000
SEED = 2021


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, Manifest]:
    out = tmp_path_factory.mktemp("synth_a")
    return out, generate_campaign(out, people=PEOPLE, seed=SEED)


@pytest.fixture(scope="module")
def world():
    return build_world(PEOPLE, SEED)


# ---------------------------------------------------------------------------------------------------------
# reading cells back (independent of the project's reader)
# ---------------------------------------------------------------------------------------------------------

_SHEETS: dict[tuple[Path, str | None], list[list]] = {}


def sheet_rows(out: Path, f) -> list[list]:
    """All rows of a file as Python values, index 0 = row 1 (CSV: line 1)."""
    key = (out, f.path)
    if key not in _SHEETS:
        path = out / f.path
        if f.format == "xlsx":
            sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(f.sheet)
            _SHEETS[key] = sheet.to_python(skip_empty_area=False)
        else:
            raw = path.read_bytes()
            text = unicodedata.normalize("NFC", raw.decode("cp1258")) if f.encoding == "cp1258" else raw.decode("utf-8-sig")
            _SHEETS[key] = list(csv.reader(io.StringIO(text, newline="")))
    return _SHEETS[key]


def cell(out: Path, manifest: Manifest, d) -> object:
    f = manifest.file(d.file)
    row = sheet_rows(out, f)[d.row_number - 1]
    return row[d.col_number - 1] if d.col_number - 1 < len(row) else ""


def text(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return "" if v is None else str(v)


# ---------------------------------------------------------------------------------------------------------
# determinism
# ---------------------------------------------------------------------------------------------------------


def _digest(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(demo, tmp_path):
    out_a, _ = demo
    generate_campaign(tmp_path, people=PEOPLE, seed=SEED)
    assert _digest(out_a) == _digest(tmp_path)


def test_another_seed_gives_other_people():
    a, b = build_world(300, 1), build_world(300, 2)
    assert list(a.people["full_name"]) != list(b.people["full_name"])
    assert list(a.people["phone"]) != list(b.people["phone"])


# ---------------------------------------------------------------------------------------------------------
# the defect catalogue
# ---------------------------------------------------------------------------------------------------------


def test_every_catalogue_code_is_planted(demo):
    _, m = demo
    planted = {d.code for d in m.defects}
    assert set(CATALOGUE) - planted == set()


def test_reason_codes_exist():
    reasons = load_reasons().reasons
    for spec in CATALOGUE.values():
        assert spec.reason is None or spec.reason in reasons, spec.code


def test_defect_references_are_valid(demo):
    out, m = demo
    paths = {f.path for f in m.files}
    for d in m.defects:
        assert d.code in CATALOGUE
        if d.file is None:
            assert d.category == "readiness"
            continue
        assert d.file in paths and (out / d.file).is_file()
        f = m.file(d.file)
        if d.row_number is not None:
            assert 1 <= d.row_number <= len(sheet_rows(out, f)), (d.code, d.file, d.row_number)
        if d.category == "cell":
            assert d.row_number is not None and d.row_number >= (f.first_data_row or 1)
        if d.category == "column":
            assert d.rows_affected and d.rows_affected > 0


def test_cells_show_their_defect(demo):
    out, m = demo
    by_code: dict[str, list] = {}
    for d in m.defects:
        if d.category == "cell" and d.col_number:
            by_code.setdefault(d.code, []).append(d)
    checks = {
        "phone_old_11_digits": lambda v, d: re.fullmatch(r"01\d{9}", text(v)),
        "phone_leading_zero_lost": lambda v, d: re.fullmatch(r"[1-9]\d{8}", text(v)),
        "phone_missing": lambda v, d: text(v) == "",
        "id_leading_zero_lost": lambda v, d: re.fullmatch(r"[1-9]\d{10}", text(v)),
        "id_scientific_notation": lambda v, d: re.fullmatch(r"\d\.\d+E\+\d+", text(v)),
        "id_wrong_length": lambda v, d: re.fullmatch(r"\d+", text(v)) and len(text(v)) not in (8, 9, 11, 12),
        "missing_name": lambda v, d: text(v) == "",
        "formula_in_name": lambda v, d: text(v)[:1] in "=+@",
        "markup_in_name": lambda v, d: "<" in text(v) and ">" in text(v),
        "name_with_digits": lambda v, d: any(ch.isdigit() for ch in text(v)),
        "tcvn3_name": lambda v, d: text(v) == to_tcvn3(d.note.removeprefix("true ")),
        "vni_name": lambda v, d: text(v) == to_vni(d.note.removeprefix("true ")),
        "nfd_text": lambda v, d: unicodedata.normalize("NFC", text(v)) != text(v),
        "serial_date": lambda v, d: re.fullmatch(r"\d{4,5}", text(v)),
        "year_only_dob": lambda v, d: re.fullmatch(r"(19|20)\d\d", text(v)),
        "ambiguous_day_month": lambda v, d: re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", text(v)),
        "impossible_date": lambda v, d: re.fullmatch(r"(29|30|31)/0[2469]/\d{4}|31/11/\d{4}", text(v)),
        "missing_dob": lambda v, d: text(v) == "",
        "priority_out_of_range": lambda v, d: text(v) in ("0", "17", "20", "99"),
        "bad_sex": lambda v, d: text(v) in ("2", "x", "Khác", "?"),
        "sex_missing_with_cccd": lambda v, d: text(v) == "",
        "unknown_commune": lambda v, d: text(v) in NOT_A_COMMUNE,
        "insurance_wrong_length": lambda v, d: len(text(v)) in (11, 12),
    }
    for code, check in checks.items():
        assert code in by_code, code
        for d in by_code[code][:5]:
            v = cell(out, m, d)
            assert check(v, d), (code, d.file, d.row_number, v)
    # sex_missing_with_cccd: the row still has a valid 12-digit CCCD
    # exact copies repeat their original row cell for cell (but the numbering column)
    for d in [x for x in m.defects if x.code == "duplicate_row"]:
        f = m.file(d.file)
        rows = sheet_rows(out, f)
        orig = int(d.note.split()[-1])
        skip = 1 if any(x.code == "numbering_column" and x.file == d.file for x in m.defects) else 0
        assert rows[d.row_number - 1][skip:] == rows[orig - 1][skip:]


def test_other_district_communes_are_real_and_outside(demo):
    out, m = demo
    units = get_admin_units()
    for d in [x for x in m.defects if x.code == "commune_of_other_district"]:
        v = text(cell(out, m, d))
        look = units.lookup(v, "commune", d.district)
        assert look.status == "unknown" and look.candidates, (v, d.district)
    for d in [x for x in m.defects if x.code == "commune_ambiguous_name"]:
        v = text(cell(out, m, d))
        assert units.lookup(v, "commune", d.district).status == "ambiguous", v


def test_column_defects_match_the_layout(demo):
    _, m = demo
    for d in m.defects:
        if d.code in ("ids_as_numbers", "phones_as_numbers", "dates_as_serial"):
            lay = LAYOUTS[m.file(d.file).layout]
            assert {"ids_as_numbers": lay.numeric_ids, "phones_as_numbers": lay.numeric_phones,
                    "dates_as_serial": lay.effective_date_style == "serial"}[d.code]


# ---------------------------------------------------------------------------------------------------------
# people, units, facilities
# ---------------------------------------------------------------------------------------------------------


def test_cccd_encodes_sex_and_birth_year(world):
    p = world.people
    cccd = p["cccd"].to_numpy(dtype=object)
    years = p["birth_date"].to_numpy().astype("datetime64[Y]").astype(int) + 1970
    digit = np.array([int(c[3]) for c in cccd])
    yy = np.array([int(c[4:6]) for c in cccd])
    assert all(len(c) == 12 and c.isdigit() for c in cccd)
    assert (digit == np.where(years >= 2000, 2, 0) + p["female"].to_numpy(dtype=int)).all()
    assert (yy == years % 100).all()
    assert (np.array([c[:3] for c in cccd]) == "064").mean() > 0.6
    cmnd = p.loc[p["id_kind"] == "cmnd", "id_number"]
    assert cmnd.str.fullmatch(r"[1-9]\d{8}").all()
    bhyt = p["insurance_number"]
    assert bhyt[bhyt.str.len() == 15].str.fullmatch(r"[A-Z]{2}[1-5]\d{2}\d{10}").all()
    assert p["phone"].str.fullmatch(r"0[35789]\d{8}").all()


def test_written_cccds_match_sex_and_birth_date(demo):
    """Target-list CSV rows without a planted defect: the CCCD agrees with the sex and DOB cells."""
    out, m = demo
    damaged = {(d.file, d.row_number) for d in m.defects if d.category == "cell"}
    spec = load_input_kinds()["target_list"]
    checked = 0
    for f in m.files:
        if f.kind != "target_list" or f.format != "csv":
            continue
        rows = sheet_rows(out, f)
        header = rows[0]
        lay = LAYOUTS[f.layout]
        text_of = {header_text(c, lay.header_style, lay): c.name for c in spec.columns}
        pos = {text_of[h]: j for j, h in enumerate(header) if h in text_of}
        if not {"id_number", "sex", "birth_date"} <= set(pos):
            continue
        for rn in range(f.first_data_row, len(rows) + 1):
            row = rows[rn - 1]
            if (f.path, rn) in damaged or len(row) < len(header) or not row[0]:
                continue
            idn, sex, dob = row[pos["id_number"]], row[pos["sex"]], row[pos["birth_date"]]
            if not (len(idn) == 12 and re.fullmatch(r"\d\d/\d\d/\d{4}", dob)):
                continue
            female = sex in ("Nữ", "1", "Nu")
            year = int(dob[-4:])
            assert int(idn[3]) == (2 if year >= 2000 else 0) + female, (f.path, rn, idn, sex, dob)
            assert idn[4:6] == f"{year % 100:02d}", (f.path, rn)
            checked += 1
    assert checked > 100


def test_districts_and_communes_are_real(world, demo):
    _, m = demo
    campaign = load_campaign()
    units = get_admin_units()
    assert set(world.districts["code"]) == set(campaign.district_codes)
    assert len(world.communes) == 220
    for c in world.communes.itertuples():
        assert units.commune(c.code).parent_code == c.district_code
    assert {f.district for f in m.files} == set(campaign.district_codes)
    fac = world.facilities
    assert (fac["commune_code"].map(lambda c: units.commune(c).parent_code) == fac["district_code"]).all()
    people = world.people
    assert (people["commune_code"].map(lambda c: units.commune(c).parent_code) == people["district_code"]).all()


def test_facilities_about_300_with_gps_in_gia_lai(world):
    fac = world.facilities
    assert 280 <= len(fac) <= 320
    assert fac["facility_code"].is_unique
    assert fac["facility_code"].str.fullmatch(r"64\d{3}-(TYT|TTYT|BV|PK|LD)-\d{2}").all()
    assert fac["latitude"].between(13.0, 14.6).all() and fac["longitude"].between(107.5, 108.9).all()
    assert fac["vaccination_tables"].between(0, 4).all() and (fac["vaccination_tables"] == 0).sum() >= 1
    assert (fac["facility_type"] == "commune_station").sum() == 220
    assert fac["facility_name"].str.startswith("Trạm Y tế ").sum() == 220


def test_population_weights_and_names(world):
    p = world.people
    share = p["district_code"].value_counts(normalize=True)
    assert share.idxmax() == "622"
    names = p["full_name"]
    kinh = names[p["ethnic"] == 0]
    assert 0.3 < kinh.str.startswith("Nguyễn ").mean() < 0.46
    ethnic = names[p["ethnic"] > 0]
    assert ethnic.str.contains(r"^(?:Ksor|Rơ Châm|Siu|Nay|Rah Lan|Kpă|Rơ Mah|Puih|Rmah|Đinh|Hiao)\b").mean() > 0.7
    assert names.str.contains("H'").any() and names.str.contains(r" A ").any()
    rural = p[~p["urban"] & p["district_code"].isin(["632", "633", "637"])]
    assert 0.3 < (rural["ethnic"] > 0).mean() < 0.75
    ages = (np.datetime64("2021-07-29") - p["birth_date"].to_numpy().astype("datetime64[D]")).astype(int) / 365.25
    assert ages.min() >= 18 and ages.max() < 97
    assert set(p["priority_group"].unique()) <= set(range(1, 17))


def test_names_are_assembled_from_the_pools_only(world):
    """No list of real people: every word of every generated name comes from the pools in names.py."""
    words = set()
    for pool in (nm.KINH_FAMILY, nm.KINH_MIDDLE_MALE, nm.KINH_MIDDLE_FEMALE, nm.JARAI_FAMILY, nm.BAHNAR_FAMILY,
                 nm.ETHNIC_MALE_PREFIX, nm.ETHNIC_FEMALE_PREFIX):
        for k in pool:
            words.update(k.split())
    words.update(nm.KINH_GIVEN_MALE + nm.KINH_GIVEN_FEMALE + nm.ETHNIC_GIVEN_MALE + nm.ETHNIC_GIVEN_FEMALE)
    words.update("H'" + g for g in nm.ETHNIC_GIVEN_FEMALE)
    for name in set(world.people["full_name"]) | set(world.staff_pool["full_name"]):
        assert set(name.split()) <= words, name


# ---------------------------------------------------------------------------------------------------------
# duplicates, schedule, the big CSV
# ---------------------------------------------------------------------------------------------------------


def test_duplicate_truth(demo):
    _, m = demo
    assert m.duplicates
    kinds = {k for c in m.duplicates for k in c["kinds"]}
    assert {"within_district", "cross_district", "exact_copy"} <= kinds
    tl = {f.path for f in m.files if f.kind == "target_list"}
    for c in m.duplicates:
        assert len(c["rows"]) >= 2
        assert all(r["file"] in tl for r in c["rows"])
        if c["kinds"] == ["cross_district"]:
            assert len({r["district"] for r in c["rows"]}) == 2
            assert any("ascii" in (r["variation"] or "") for r in c["rows"])


def test_schedule(demo):
    _, m = demo
    campaign = load_campaign()
    due = {k: d.due_at for d in campaign.deadlines for k in d.requires.kinds}
    s = m.schedule
    assert len({e.district for e in s if e.status == "last_minute"}) == 3
    assert len({e.district for e in s if e.status == "late"}) == 2
    missing = [e for e in s if e.status == "missing"]
    assert len(missing) == 1 and missing[0].file is None
    assert not any(f.district == missing[0].district and f.kind == missing[0].kind for f in m.files)
    for e in s:
        if e.planned_upload_at is None:
            continue
        at = dt.datetime.fromisoformat(e.planned_upload_at)
        assert at.utcoffset() == dt.timedelta(hours=7)
        if e.status == "last_minute":
            assert at.date() == dt.date(2021, 7, 28) and at.hour >= 8 and at < due[e.kind]
        if e.status == "late":
            assert at > due[e.kind] and at.date() <= dt.date(2021, 7, 30)
        if e.status == "on_time":
            assert dt.date(2021, 7, 22) <= at.date() <= dt.date(2021, 7, 27)
        if e.kind in ("vaccinations", "aefi", "backfill"):
            assert at.date() >= dt.date(2021, 7, 29)
    rejected = [f for f in m.files if f.status == "rejected_version"]
    assert len(rejected) == 1 and any(d.code == "required_column_missing" and d.file == rejected[0].path for d in m.defects)


def test_manifest_round_trip(demo):
    out, m = demo
    again = Manifest.from_json((out / "manifest.json").read_text(encoding="utf-8"))
    assert again.to_json() == m.to_json()


def test_big_target_list_csv(tmp_path):
    path = tmp_path / "big.csv"
    m = generate_target_list_file(path, 5000, seed=7)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    f = m.files[0]
    assert f.kind == "target_list" and f.rows >= 5000
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    header = rows[0]
    assert "Họ và tên (*)" in header
    data = [r for r in rows[1:] if any(r) and r[0] != "Tổng cộng"]
    assert len(data) == f.rows
    assert {d.code for d in m.defects if d.category == "cell"} >= {"phone_old_11_digits", "tcvn3_name", "duplicate_row"}
    assert m.duplicates
    m2 = generate_target_list_file(tmp_path / "again.csv", 5000, seed=7)
    assert (tmp_path / "again.csv").read_bytes() == raw and len(m2.defects) == len(m.defects)


def test_province_target_lists(tmp_path):
    """Every district's target list as one CSV, with cross-district duplicates in the truth; same seed,
    same bytes."""
    out = tmp_path / "a"
    m = generate_province_target_lists(out, 3000, seed=7)
    districts = load_campaign().district_codes
    assert sorted(f.district for f in m.files) == sorted(districts)
    for f in m.files:
        assert f.kind == "target_list" and f.format == "csv" and f.rows > 0
        assert re.fullmatch(rf"districts/{f.district}-[a-z0-9-]+/target_list\.csv", f.path)
        raw = (out / f.path).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf") and hashlib.sha256(raw).hexdigest() == f.sha256
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
        assert len([r for r in rows[1:] if any(r) and r[0] != "Tổng cộng"]) == f.rows
    assert sum(f.rows for f in m.files) >= 3000
    assert Manifest.from_json((out / "manifest.json").read_text(encoding="utf-8")).to_json() == m.to_json()
    paths = {f.path for f in m.files}
    cross = [c for c in m.duplicates if "cross_district" in c["kinds"]]
    assert cross and {"within_district", "exact_copy"} <= {k for c in m.duplicates for k in c["kinds"]}
    for c in m.duplicates:
        assert len(c["rows"]) >= 2 and all(r["file"] in paths for r in c["rows"])
        assert all(r["file"].startswith(f"districts/{r['district']}-") for r in c["rows"])
    assert all(len({r["district"] for r in c["rows"]}) == 2 for c in cross)
    assert {d.code for d in m.defects if d.category == "cell"} >= {"phone_old_11_digits", "tcvn3_name", "duplicate_row"}
    again = generate_province_target_lists(tmp_path / "b", 3000, seed=7)
    assert _digest(out) == _digest(tmp_path / "b") and again.to_json() == m.to_json()


def test_headers_map_back_to_their_columns():
    """Every header text a layout writes folds to the column's header or one of its aliases (after
    dropping (*), line breaks and notes in parentheses, as the reader does)."""
    kinds = load_input_kinds()

    def key(s: str) -> str:
        s = re.sub(r"\([^()]*\)", " ", s.replace("(*)", " ").replace("\n", " "))
        return " ".join(re.sub(r"[^0-9a-z ]+", " ", fold(s)).split())

    for kind in kinds.names:
        spec = kinds[kind]
        known = {c.name: {key(t) for t in [c.header, *c.aliases]} for c in spec.columns}
        owners: dict[str, set[str]] = {}
        for name, ks in known.items():
            for k in ks:
                owners.setdefault(k, set()).add(name)
        for lay in LAYOUTS.values():
            if (lay.header_style == "national" and kind != "target_list") or \
                    (lay.sex_style == "marks" and kind not in ("target_list", "vaccinations", "aefi", "backfill")):
                continue  # these layouts are only used for those kinds
            if lay.header_style == "clerk":
                continue  # clerks' headings are read by meaning, not aliases (test_clerk_layouts_record_...)
            for c in choose_columns(spec, lay, np.random.default_rng(0)):
                if c.role != "data":
                    continue
                candidates = {key(c.header)} | ({key(f"{c.group} - {c.header}")} if c.group else set())
                hits = [k for k in candidates if owners.get(k) == {c.name}]
                assert hits, (kind, lay.name, c.name, c.header)


def test_a_big_national_workbook_keeps_its_two_row_header(tmp_path):
    """Over 400k cells the writer switches to constant memory; the merged two-row header must survive."""
    path = tmp_path / "big.xlsx"
    generate_target_list_file(path, 16_000, seed=3, layout="xlsx_national")
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python(skip_empty_area=False)
    flat = {str(v) for row in rows[:12] for v in row if v not in ("", None)}
    assert any(v.startswith("Họ và tên") for v in flat) and "Nơi ở tạm trú (hiện tại)" in flat
    assert any(v.startswith("Mã Xã/Phường") for v in flat) and "Kết quả import" in flat


# ---------------------------------------------------------------------------------------------------------
# how each file's headings must be read (issue 16): the manifest's `columns` / `columns_ignored`
# ---------------------------------------------------------------------------------------------------------


def _labels(out: Path, f) -> list[str]:
    """Each column's heading as a reader shows it: one line, NFC; "group - child" under a two-row header
    (the group carried across its merged span). Trailing empty cells dropped."""
    rows = sheet_rows(out, f)

    def clean(v: object) -> str:
        return " ".join(unicodedata.normalize("NFC", text(v)).split())

    top = [clean(v) for v in rows[f.header_rows[0] - 1]]
    if len(f.header_rows) == 2:
        low = [clean(v) for v in rows[f.header_rows[1] - 1]]
        low += [""] * (len(top) - len(low))
        labels, parent = [], ""
        for up, lo in zip(top, low, strict=False):
            parent = up or parent
            labels.append(f"{parent} - {lo}" if lo and parent and parent != lo else (lo or up))
        top = labels
    while top and not top[-1]:
        top.pop()
    return top


def test_every_file_says_how_its_headings_read(demo):
    """Every column of every file is in the manifest: read as a field, ignored, or the numbering column
    (left out of both); the ignored columns holding data are among the ignored."""
    out, m = demo
    kinds = load_input_kinds()
    for f in m.files:
        labels = _labels(out, f)
        assert all(labels), (f.path, labels)
        rest = [h for h in labels if h not in f.columns and h not in f.columns_ignored]
        assert rest in ([], [labels[0]]) and (not rest or rest[0] in ("STT", "TT", "#")), (f.path, rest)
        assert len(labels) == len(set(labels)), (f.path, labels)  # no heading twice in one file
        assert set(f.columns) | set(f.columns_ignored) == set(labels) - set(rest), f.path
        assert set(f.columns.values()) <= {c.name for c in kinds[f.kind].columns}, f.path
        assert set(f.columns_ignored_with_data) <= set(f.columns_ignored), f.path
        if f.layout == "xlsx_noted":  # the ethnicity of the people listed; other kinds leave it empty
            assert f.columns_ignored == ["Dân tộc"], f.path
            assert f.columns_ignored_with_data == (["Dân tộc"] if f.kind == "target_list" else []), f.path
        if f.layout == "xlsx_national":
            assert f.columns_ignored == ["Kết quả import"] and f.columns_ignored_with_data == [], f.path
    used = {f.layout for f in m.files if f.kind == "target_list"}
    assert used & set(CLERK_LAYOUTS) and not {f.layout for f in m.files if f.kind != "target_list"} & set(CLERK_LAYOUTS)


@pytest.mark.parametrize("name", CLERK_LAYOUTS)
def test_clerk_layout_writes_its_headings(tmp_path, name):
    """Clerks' headings (CLERK_HEADINGS) in the file, in order; the manifest maps them; split names join
    into a whole generated name; "Nhóm 9" priorities where the layout writes them."""
    lay = LAYOUTS[name]
    path = tmp_path / f"target_list.{'xlsx' if lay.fmt == 'xlsx' else 'csv'}"
    m = generate_target_list_file(path, 150, seed=11, layout=name)
    again = tmp_path / "again" / path.name
    assert generate_target_list_file(again, 150, seed=11, layout=name).to_json() == m.to_json()
    assert again.read_bytes() == path.read_bytes()
    (f,) = m.files
    want = CLERK_HEADINGS[lay.headings]
    assert _labels(tmp_path, f) == [h for _, h in want]
    assert f.columns == {h: ("full_name" if w.startswith("name_") else w) for w, h in want
                         if w != "stt" and not w.startswith("extra:")}
    extras = [h for w, h in want if w.startswith("extra:")]
    assert f.columns_ignored == f.columns_ignored_with_data == extras
    assert {d.note for d in m.defects if d.code == "extra_column"} == set(extras)
    rows = sheet_rows(tmp_path, f)
    inside = {d.row_number for d in m.defects if d.code in ("blank_rows", "header_repeat")}
    data = {i: rows[i - 1] for i in range(f.first_data_row, f.first_data_row + f.rows + len(inside))
            if i not in inside}
    assert len(data) == f.rows and all(len(r) >= len(want) for r in data.values())
    pos = {w: j for j, (w, _) in enumerate(want)}
    if "name_family" in pos:
        pool = set()
        for group in (nm.KINH_FAMILY, nm.KINH_MIDDLE_MALE, nm.KINH_MIDDLE_FEMALE, nm.JARAI_FAMILY, nm.BAHNAR_FAMILY,
                      nm.ETHNIC_MALE_PREFIX, nm.ETHNIC_FEMALE_PREFIX):
            pool.update(fold(w) for k in group for w in k.split())
        pool.update(fold(w) for w in nm.KINH_GIVEN_MALE + nm.KINH_GIVEN_FEMALE + nm.ETHNIC_GIVEN_MALE
                    + nm.ETHNIC_GIVEN_FEMALE)
        pool.update(fold("H'" + g) for g in nm.ETHNIC_GIVEN_FEMALE)
        assert not {d.column for d in m.defects if d.category == "cell"} & {"full_name"}  # nothing to split
        for r in data.values():
            family, given = text(r[pos["name_family"]]), text(r[pos["name_given"]])
            assert family and given and " " not in given, r
            assert {fold(w) for w in f"{family} {given}".split()} <= pool, r
    if lay.priority_style == "nhom":
        planted = {d.row_number for d in m.defects if d.column == "priority_group"}
        cells = [text(r[pos["priority_group"]]) for i, r in data.items() if i not in planted]
        assert cells and all(re.fullmatch(r"Nhóm ([1-9]|1[0-6])", c) for c in cells), cells[:5]
