"""Acceptance tests of intake: the synthetic Gia Lai campaign, loaded file by file, against its manifest.

One campaign (`PEOPLE` people, `SEED`) is generated once per session; every file of it goes through the
intake core (`run_intake`, no Prefect) in upload order (each district's facilities first, then by the
planned upload time) into a fresh database, once on SQLite and once on PostgreSQL. Then:

- every planted cell defect is reported with the exact reason the manifest expects, at exactly its
  (sheet, row_number) and column, and the row is quarantined (row severity) or loaded (warning, repair);
  repaired values are the true ones (the manifest's `note`);
- column defects (IDs, phones, dates as Excel leaves them) are reported on every row concerned, and no
  row carries a reason nobody planted;
- structural rows (titles, blank rows, numbering, repeated headers, totals, signatures) are skipped,
  counted in `rows_skipped` and never loaded; data rows keep their row numbers, headers map to the
  right columns (the national subject-list template in full);
- encodings (UTF-8, UTF-8 with BOM, Windows-1258 CSV, TCVN3/VNI cells, NFD) load the true names;
- the rejected facilities upload loads nothing and its fix is accepted; repeated event rows load once;
- every unreadable-file case is rejected with its exact reason and one Vietnamese message, and nothing
  else in the database changes.

`COVERED` lists every catalogue code each test covers; a test checks that it equals the catalogue, so
a new defect without an acceptance test fails here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import shutil
import struct
import time
import unicodedata
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from python_calamine import CalamineWorkbook
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from campaign.config import CampaignConfig, load_campaign
from campaign.config_kinds import load_input_kinds
from campaign.config_reasons import load_reasons
from campaign.domain.standardize import parse_dates
from campaign.intake.present import IntakeOutcome
from campaign.intake.rules import IntakeRequest
from campaign.intake.run import run_intake
from campaign.settings import Settings
from campaign.store.db import make_engine
from campaign.store.models import KIND_TABLES, Base, QuarantineRow, RowIssue, StoredFile, Submission
from campaign.synth import CATALOGUE, LAYOUTS, Manifest, generate_campaign
from campaign.synth.defects import VIETNAMESE_LETTERS
from campaign.synth.files.layouts import NATIONAL_GROUPS, NATIONAL_HEADERS, header_text
from campaign.vocabulary import kind_label

PEOPLE = 3000
SEED = 2021
DATABASES = ("sqlite", "postgresql")  # as tests/conftest.py
NOW = dt.datetime(2021, 7, 28, 8, tzinfo=dt.timezone(dt.timedelta(hours=7)))

SEVERITY = {code: r.severity for code, r in load_reasons().reasons.items()}
CODES_BY_CATEGORY: dict[str, list[str]] = defaultdict(list)
for _code, _spec in CATALOGUE.items():
    CODES_BY_CATEGORY[_spec.category].append(_code)

# The column the reason is reported on, where it is not the planted cell's: the CCCD cross-checks name
# the field that disagrees with the CCCD, `under_age` is a row-level check of the whole row.
ISSUE_COLUMN = {"cccd_sex_mismatch": "sex", "cccd_birth_year_mismatch": "birth_date", "under_18": None,
                "aefi_dose_not_accepted": "full_name"}   # no cell changed: the reason names the person
# Cells a cell defect changes besides its own column (the column checks must not count those rows).
ALSO_TOUCHES = {"under_18": {"id_number"}, "unknown_commune": {"commune_code"},
                "commune_of_other_district": {"commune_code"}, "commune_ambiguous_name": {"commune_code"}}

# Every catalogue code, by the test that covers it (filled as the tests are declared below).
COVERED: dict[str, set[str]] = defaultdict(set)


def covers(test: str, *codes: str) -> list[str]:
    COVERED[test].update(codes)
    return list(codes)


# ---------------------------------------------------------------------------------------------------------
# The campaign and its load, once per session and backend
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def campaign_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    out = tmp_path_factory.mktemp("acceptance_campaign")
    manifest = generate_campaign(out, people=PEOPLE, seed=SEED)
    return out, manifest


def upload_order(manifest: Manifest) -> list:
    """Each district's facilities first (as planned, the rejected version before its fix), then every
    other file by its planned upload time."""
    return sorted(manifest.files, key=lambda f: (f.kind != "facilities", f.planned_upload_at or "", f.path))


@dataclass
class Loaded:
    """The whole campaign loaded into one database, read back once for the tests."""

    backend: str
    out: Path
    manifest: Manifest
    outcomes: dict[str, IntakeOutcome]                       # by manifest path
    seconds: float
    subs: dict[int, Any] = field(default_factory=dict)      # submission id -> row
    issues: dict[int, dict[int | None, list[Any]]] = field(default_factory=dict)
    quarantine: dict[int, dict[int, Any]] = field(default_factory=dict)
    engine: Engine | None = None
    rows: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)  # sub -> row_number -> row

    def sub_id(self, path: str) -> int:
        return self.outcomes[path].submission_id

    def issues_at(self, path: str, row_number: int | None) -> list[Any]:
        return self.issues.get(self.sub_id(path), {}).get(row_number, [])

    def loaded(self, path: str) -> dict[int, dict[str, Any]]:
        return self.rows.get(self.sub_id(path), {})

    def quarantined(self, path: str) -> dict[int, Any]:
        return self.quarantine.get(self.sub_id(path), {})


def _read_back(engine: Engine, loaded: Loaded) -> None:
    with engine.connect() as conn:
        loaded.subs = {r.id: r for r in conn.execute(sa.select(Submission.__table__))}
        issues: dict[int, dict[int | None, list[Any]]] = defaultdict(lambda: defaultdict(list))
        for r in conn.execute(sa.select(RowIssue.__table__)):
            issues[r.submission_id][r.row_number].append(r)
        loaded.issues = issues
        quarantine: dict[int, dict[int, Any]] = defaultdict(dict)
        for r in conn.execute(sa.select(QuarantineRow.__table__)):
            assert r.row_number not in quarantine[r.submission_id], "a row quarantined twice"
            quarantine[r.submission_id][r.row_number] = r
        loaded.quarantine = quarantine
        rows: dict[int, dict[int, dict[str, Any]]] = defaultdict(dict)
        for table in KIND_TABLES.values():
            for r in conn.execute(sa.select(table)).mappings():
                assert r["row_number"] not in rows[r["submission_id"]], "a row loaded twice"
                rows[r["submission_id"]][r["row_number"]] = dict(r)
        loaded.rows = rows


@pytest.fixture(scope="session", params=DATABASES)
def province(request: pytest.FixtureRequest, campaign_files, tmp_path_factory) -> Iterator[Loaded]:
    """The whole synthetic province loaded, on SQLite and on PostgreSQL (see tests/conftest.py)."""
    out, manifest = campaign_files
    work = tmp_path_factory.mktemp(f"acceptance_{request.param}")
    schemas = None
    if request.param == "sqlite":  # a copy of the session's migrated template, as tests/conftest.py does
        template: Path = request.getfixturevalue("_sqlite_migrated_template")
        path = work / "campaign.sqlite3"
        for src in (template, Path(f"{template}-wal"), Path(f"{template}-shm")):
            if src.exists():
                shutil.copyfile(src, work / src.name.replace(template.name, path.name))
        engine = make_engine(f"sqlite:///{path}")
    else:
        schemas = request.getfixturevalue("_pg_schemas")
        schema = schemas.take(True)
        engine = schemas.engine(schema)
    try:
        settings = Settings(home=work / "home")
        campaign = load_campaign()
        outcomes: dict[str, IntakeOutcome] = {}
        t0 = time.perf_counter()
        for f in upload_order(manifest):
            req = IntakeRequest(path=out / f.path, district=f.district, kind=f.kind, facility=f.facility,
                                received_at=dt.datetime.fromisoformat(f.planned_upload_at))
            outcomes[f.path] = run_intake(req, engine=engine, settings=settings, campaign=campaign)
        loaded = Loaded(request.param, out, manifest, outcomes, time.perf_counter() - t0, engine=engine)
        _read_back(engine, loaded)
        yield loaded
    finally:
        engine.dispose()
        if schemas is not None:
            schemas.release(schema)


# ---------------------------------------------------------------------------------------------------------
# Reading the district files independently of the project's reader
# ---------------------------------------------------------------------------------------------------------

_RAW: dict[tuple[Path, str], list[list[Any]]] = {}


def raw_rows(out: Path, f) -> list[list[Any]]:
    """Every row of a file as Python values, index 0 = row 1 (CSV: line 1)."""
    key = (out, f.path)
    if key not in _RAW:
        path = out / f.path
        if f.format == "xlsx":
            rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(f.sheet).to_python(skip_empty_area=False)
        else:
            data = path.read_bytes()
            if f.encoding == "cp1258":
                text = unicodedata.normalize("NFC", data.decode("cp1258"))
            else:
                text = data.decode("utf-8-sig" if f.encoding == "utf-8-sig" else "utf-8")
            rows = list(csv.reader(io.StringIO(text, newline="")))
        _RAW[key] = rows
    return _RAW[key]


def cell_text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return "" if v is None else str(v)


def collapse(s: str) -> str:
    return " ".join(unicodedata.normalize("NFC", s).split())


def as_name(raw: str) -> str:
    """A name as the standardizer shows it: NFC, single spaces, title case when written in one case."""
    name = collapse(raw)
    return name.title() if name.isupper() or name.islower() else name


def header_labels(out: Path, f) -> list[str]:
    """The label of each column: the lower header row's cell, else the upper's (merged over two rows)."""
    rows = raw_rows(out, f)
    top = [cell_text(v) for v in rows[f.header_rows[0] - 1]]
    if len(f.header_rows) == 1:
        return top
    low = [cell_text(v) for v in rows[f.header_rows[1] - 1]]
    return [lo or up for up, lo in zip(top, low + [""] * (len(top) - len(low)), strict=False)]


def column_index(out: Path, f, name: str) -> int | None:
    """Where the generator wrote canonical column `name` (its header text for the file's layout)."""
    layout = LAYOUTS[f.layout]
    spec = load_input_kinds()[f.kind]
    col = spec.column(name)
    want = header_text(col, layout.header_style, layout)
    labels = header_labels(out, f)
    hits = [j for j, label in enumerate(labels) if label == want]
    return hits[0] if hits else None


def planted_rows(manifest: Manifest, path: str, column: str | None = None) -> set[int]:
    """Rows of a file that carry a planted cell defect (on `column` when given) or are copies."""
    out = set()
    for d in manifest.defects:
        if d.file != path or d.category != "cell" or d.row_number is None:
            continue
        touched = {CATALOGUE[d.code].column, *ALSO_TOUCHES.get(d.code, ())} - {None}
        if not touched and d.code not in ("duplicate_row", "event_repeat_row"):
            continue   # a consequence of another file (aefi_dose_not_accepted): its cells are as written
        if column is None or column in touched or d.code == "duplicate_row":
            out.add(d.row_number)
    return out


def structure_rows(manifest: Manifest, path: str) -> dict[str, set[int]]:
    out: dict[str, set[int]] = defaultdict(set)
    for d in manifest.defects:
        if d.file != path or d.category != "structure":
            continue
        if d.code == "title_rows":
            out[d.code] |= {int(x) for x in d.note.removeprefix("rows ").split(",")}
        elif d.row_number is not None and d.code in ("numbering_row", "blank_rows", "header_repeat", "totals_row",
                                                     "footer_rows"):
            out[d.code].add(d.row_number)
    return out


def expected_data_rows(manifest: Manifest, f) -> tuple[list[int], int]:
    """(the data rows of a file, the rows the reader must skip), from the manifest alone."""
    struct_rows = structure_rows(manifest, f.path)
    inside = struct_rows["blank_rows"] | struct_rows["header_repeat"]
    last_data = f.first_data_row + f.rows + len(inside) - 1 if f.rows else f.header_rows[-1]
    data = [r for r in range(f.first_data_row, last_data + 1) if r not in inside] if f.rows else []
    last = max([last_data, *(r for rows in struct_rows.values() for r in rows)])
    return data, last - len(f.header_rows) - f.rows


def sheet_of(d_or_f) -> str:
    return d_or_f.sheet or ""


# ---------------------------------------------------------------------------------------------------------
# Every file: counts, rows, reasons
# ---------------------------------------------------------------------------------------------------------


def test_every_catalogue_code_has_an_acceptance_test():
    covered = set().union(*COVERED.values())
    assert covered == set(CATALOGUE), {"untested": set(CATALOGUE) - covered, "unknown": covered - set(CATALOGUE)}


def test_the_campaign_plants_every_code(campaign_files):
    _, m = campaign_files
    assert {d.code for d in m.defects} == set(CATALOGUE)


def test_every_file_is_accepted_but_the_planted_rejection(province):
    m = province.manifest
    rejected = {d.file for d in m.defects if d.category == "file"}
    for f in m.files:
        out = province.outcomes[f.path]
        assert out.status == ("rejected" if f.path in rejected else "accepted"), (f.path, out.reasons, out.message)
        if out.status != "accepted":
            continue
        assert out.rows_total == f.rows == out.rows_loaded + out.rows_quarantined, f.path
        sub = province.subs[out.submission_id]
        assert (sub.rows_total, sub.rows_loaded, sub.rows_quarantined, sub.rows_skipped) == (
            out.rows_total, out.rows_loaded, out.rows_quarantined, out.rows_skipped)
        assert len(province.loaded(f.path)) == out.rows_loaded, f.path
        assert len(province.quarantined(f.path)) == out.rows_quarantined, f.path
        # the summary's reasons are the stored issues: {code: number of rows}
        stored = Counter()
        for issues in province.issues.get(out.submission_id, {}).values():
            for code in {i.code for i in issues}:
                stored[code] += 1
        # ... but for the file-level reasons about columns ({code: number of columns}), which name
        # columns, not rows
        row_reasons = {k: v for k, v in out.reasons.items() if k not in ("column_ignored", "column_guessed")}
        assert row_reasons == dict(stored), f.path
        # every column read as the manifest says (issue 16): the fields, the ignored headings (numbering
        # aside), one column_ignored per ignored column holding data
        js = out.to_json()
        assert js["columns"] == f.columns, (f.path, f.layout, js["columns"])
        assert sorted(h for h in js["columns_ignored"] if h not in ("STT", "TT", "#")) == sorted(f.columns_ignored), \
            (f.path, js["columns_ignored"])
        assert out.reasons.get("column_ignored", 0) == len(f.columns_ignored_with_data), (f.path, out.reasons)
        # every issue's severity is the catalogue's, on the file's sheet
        for issues in province.issues.get(out.submission_id, {}).values():
            for i in issues:
                assert i.severity == SEVERITY[i.code] and i.sheet == sheet_of(f), (f.path, i)


def test_rows_keep_their_numbers_and_nothing_else_is_loaded(province):
    """Loaded and quarantined rows are exactly the data rows the generator wrote, at their row numbers;
    every other row is skipped and counted."""
    m = province.manifest
    for f in m.files:
        out = province.outcomes[f.path]
        if out.status != "accepted":
            continue
        data, skipped = expected_data_rows(m, f)
        got = sorted(set(province.loaded(f.path)) | set(province.quarantined(f.path)))
        assert got == data, f.path
        assert out.rows_skipped == skipped, (f.path, f.layout)
        for row in province.loaded(f.path).values():
            assert row["sheet"] == sheet_of(f) and row["district"] == f.district


def test_no_row_carries_a_reason_nobody_planted(province):
    """Every stored issue is explained by the manifest: a cell defect at that row, a column defect of
    that file and column, or a readiness truth that repeats a natural key."""
    m = province.manifest
    at_row: dict[tuple[str, int], set[str]] = defaultdict(set)
    on_column: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for d in m.defects:
        if d.file and d.reason and d.row_number is not None:
            at_row[(d.file, d.row_number)].add(d.reason)
        if d.category == "column":
            on_column[d.file].add((d.column, d.reason))
    unexplained = []
    for f in m.files:
        sid = province.sub_id(f.path)
        for row_number, issues in province.issues.get(sid, {}).items():
            for i in issues:
                if i.code in at_row[(f.path, row_number)] or (i.column, i.code) in on_column[f.path]:
                    continue
                unexplained.append((f.path, f.layout, row_number, i.column, i.code))
    assert unexplained == []


# ---------------------------------------------------------------------------------------------------------
# Cell defects
# ---------------------------------------------------------------------------------------------------------

REPAIRED_VALUE = {  # the loaded value of a repaired or silently cleaned cell, from the manifest's truth
    "phone_old_11_digits": ("phone", lambda t: "+84" + t[1:]),  # the note holds the new 10-digit number
    "phone_leading_zero_lost": ("phone", lambda t: "+84" + t[1:]),
    "id_leading_zero_lost": ("id_number", lambda t: t),
    "serial_date": ("birth_date", lambda t: dt.datetime.strptime(t, "%d/%m/%Y").date()),
    "year_only_dob": ("birth_date", lambda t: dt.date(int(t[-4:]), 1, 1)),
    "sex_missing_with_cccd": ("sex", lambda t: t),
    "commune_code_missing": ("commune_code", lambda t: t),
    "tcvn3_name": ("full_name", lambda t: t),
    "vni_name": ("full_name", lambda t: t),
    "nfd_text": ("full_name", lambda t: t),
    "extra_spaces_in_name": ("full_name", lambda t: t),
}


def _cell_params() -> list:
    codes = covers("test_cell_defect_reason", *CODES_BY_CATEGORY["cell"])
    return list(codes)


@pytest.mark.parametrize("code", _cell_params())
def test_cell_defect_reason(province, code):
    """The exact reason at exactly the planted (sheet, row, column); quarantined or loaded by severity."""
    records = [d for d in province.manifest.defects if d.code == code]
    assert records, f"the campaign plants no {code}"
    for d in records:
        where = (d.file, d.sheet, d.row_number, d.column, d.value)
        sid = province.sub_id(d.file)
        issues = province.issues_at(d.file, d.row_number)
        column = ISSUE_COLUMN.get(code, d.column)
        if d.reason is None:  # repaired silently (the value: test_cell_defect_loaded_value)
            assert d.row_number in province.rows.get(sid, {}), where
            assert not [i for i in issues if i.column == d.column], (where, [(i.column, i.code) for i in issues])
            continue
        hits = [i for i in issues if i.code == d.reason]
        assert hits, (where, [(i.column, i.code) for i in issues])
        assert all(i.sheet == sheet_of(d) and i.severity == SEVERITY[d.reason] for i in hits), where
        assert any(i.column == column for i in hits), (where, [(i.column, i.code) for i in hits])
        in_table = d.row_number in province.rows.get(sid, {})
        in_quarantine = province.quarantine.get(sid, {}).get(d.row_number)
        if SEVERITY[d.reason] == "row" or code == "event_repeat_row":
            assert not in_table and in_quarantine is not None, where
            assert d.reason in in_quarantine.reasons, (where, in_quarantine.reasons)
        else:
            assert in_table and in_quarantine is None, where


@pytest.mark.parametrize("code", covers("test_cell_defect_loaded_value", *REPAIRED_VALUE))
def test_cell_defect_loaded_value(province, code):
    """Repairs and silent clean-ups load the true value (the manifest's note), in NFC."""
    column, truth_of = REPAIRED_VALUE[code]
    records = [d for d in province.manifest.defects if d.code == code]
    assert records
    for d in records:
        row = province.loaded(d.file).get(d.row_number)
        assert row is not None, (d.file, d.row_number)
        truth = d.note.removeprefix("true ")
        got = row[column]
        assert got == truth_of(truth), (d.file, d.row_number, d.value, got, truth)
        if isinstance(got, str):
            assert unicodedata.is_normalized("NFC", got)
        if column == "full_name":  # repaired or cleaned silently: no reason on the name
            reasons = {i.code for i in province.issues_at(d.file, d.row_number) if i.column == "full_name"}
            expected = {CATALOGUE[code].reason} - {None}
            assert reasons <= expected, (d.file, d.row_number, reasons)


def test_duplicate_row_warns_on_the_copy_only(province):
    for d in [x for x in province.manifest.defects if x.code == "duplicate_row"]:
        original = int(d.note.split()[-1])
        assert "duplicate_in_file" not in {i.code for i in province.issues_at(d.file, original)}
        loaded = province.loaded(d.file)
        assert original in loaded and d.row_number in loaded  # a warning: both load
        keys = load_input_kinds()["target_list"].natural_key
        assert [loaded[original][k] for k in keys] == [loaded[d.row_number][k] for k in keys]


def test_repeated_event_rows_load_once(province):
    m = province.manifest
    repeats = [d for d in m.defects if d.code == "event_repeat_row"]
    assert repeats
    key = load_input_kinds()["vaccinations"].natural_key
    for district in sorted({d.district for d in repeats}):
        paths = [f.path for f in m.files if f.district == district and f.kind == "vaccinations"]
        planted = Counter(d.file for d in repeats if d.district == district)
        keys = Counter()
        for path in paths:
            out = province.outcomes[path]
            assert out.status == "accepted"
            assert out.reasons.get("repeat_of_earlier_submission", 0) == planted.get(path, 0), path
            for row in province.loaded(path).values():
                keys[tuple(row[k] for k in key)] += 1
        assert max(keys.values()) == 1, "an event row loaded twice"
        assert sum(keys.values()) == sum(province.outcomes[p].rows_loaded for p in paths)


# ---------------------------------------------------------------------------------------------------------
# Column defects: whole columns as Excel leaves them
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", covers("test_column_defect", *CODES_BY_CATEGORY["column"]))
def test_column_defect(province, code):
    """The column's reason on exactly `rows_affected` rows (rows with a planted cell defect of their own
    on that column, and exact copies, aside)."""
    records = [d for d in province.manifest.defects if d.code == code]
    assert records, f"the campaign plants no {code}"
    refused = {d.file for d in province.manifest.defects if d.category == "file"}  # no row of it is read
    for d in records:
        if d.file in refused:
            continue
        sid = province.sub_id(d.file)
        skip = planted_rows(province.manifest, d.file, d.column)
        rows = {rn for rn, issues in province.issues.get(sid, {}).items()
                if rn not in skip and any(i.code == d.reason and i.column == d.column for i in issues)}
        assert len(rows) == d.rows_affected, (d.file, d.column, d.reason, len(rows), d.rows_affected)
        for rn in rows:  # a repair or a warning: the row loads (unless something else quarantines it)
            assert rn in province.rows.get(sid, {}) or rn in province.quarantine.get(sid, {})


def test_column_repairs_restore_the_values(province):
    """IDs and phones stored as numbers get their zero back; serial dates become dates."""
    m = province.manifest
    checked = Counter()
    for d in [x for x in m.defects if x.category == "column"]:
        f = m.file(d.file)
        j = column_index(province.out, f, d.column) if d.column != "birth_date" or f.layout != "xlsx_sexmarks" else None
        if j is None:
            continue
        raw = raw_rows(province.out, f)
        skip = planted_rows(m, d.file, d.column)
        for rn, row in province.loaded(d.file).items():
            if rn in skip:
                continue
            cell = cell_text(raw[rn - 1][j]) if j < len(raw[rn - 1]) else ""
            got = row[d.column]
            if d.code == "ids_as_numbers" and len(cell) == 11:
                assert got == "0" + cell, (d.file, rn, cell, got)
                checked[d.code] += 1
            elif d.code == "phones_as_numbers" and len(cell) == 9:
                assert got == "+84" + cell, (d.file, rn, cell, got)
                checked[d.code] += 1
            elif d.code == "dates_as_serial" and cell.isdigit():
                serial = dt.date(1899, 12, 30) + dt.timedelta(days=int(cell))
                got_day = got  # a datetime column: the serial's day in local time
                if isinstance(got, dt.datetime):
                    got_day = got.astimezone(dt.timezone(dt.timedelta(hours=7))).date()
                assert got_day == serial, (d.file, rn, cell, got)
                checked[d.code] += 1
    assert checked["ids_as_numbers"] and checked["phones_as_numbers"] and checked["dates_as_serial"], checked


# ---------------------------------------------------------------------------------------------------------
# Structure: rows that are not data, headers of every shape
# ---------------------------------------------------------------------------------------------------------

ROW_STRUCTURES = {"title_rows", "numbering_row", "blank_rows", "header_repeat", "totals_row", "footer_rows"}
PROBE = {"target_list": "full_name", "facilities": "facility_name", "infrastructure": "facility_code",
         "training": "full_name", "communication": "activity", "staff": "full_name", "vaccine_stock": "lot",
         "vaccinations": "full_name", "aefi": "full_name", "backfill": "full_name"}


def probe_mismatches(province: Loaded, f) -> tuple[int, list]:
    """Compare one text column of every loaded row with the file's own cell at that row number."""
    name = PROBE[f.kind]
    j = column_index(province.out, f, name)
    assert j is not None, (f.path, f.layout, name)
    raw = raw_rows(province.out, f)
    skip = planted_rows(province.manifest, f.path, name)
    bad, n = [], 0
    for rn, row in province.loaded(f.path).items():
        if rn in skip:
            continue
        cell = cell_text(raw[rn - 1][j]) if j < len(raw[rn - 1]) else ""
        want = as_name(cell) if name == "full_name" else collapse(cell).upper() if name == "facility_code" \
            else collapse(cell)
        n += 1
        if row[name] != want:
            bad.append((rn, cell, row[name]))
    return n, bad


@pytest.mark.parametrize("code", covers("test_structure", *CODES_BY_CATEGORY["structure"]))
def test_structure(province, code):
    """Files with this structure: accepted, every row at its number with the right values in the right
    column; structural rows skipped, counted, never loaded nor quarantined."""
    m = province.manifest
    records = [d for d in m.defects if d.code == code]
    files = {d.file for d in records if province.outcomes[d.file].status == "accepted"}
    assert files, f"no accepted file with {code}"
    for path in sorted(files):
        f = m.file(path)
        out = province.outcomes[path]
        data, skipped = expected_data_rows(m, f)
        assert out.rows_total == f.rows and out.rows_skipped == skipped, (path, f.layout)
        used = set(province.loaded(path)) | set(province.quarantined(path))
        assert sorted(used) == data, path
        if code in ROW_STRUCTURES:
            rows = structure_rows(m, path)[code]
            assert rows and not rows & used, (path, rows & used)
            assert not rows & set(province.issues.get(out.submission_id, {})), path
        n, bad = probe_mismatches(province, f)
        assert (n or not f.rows) and not bad, (path, f.layout, bad[:5])
        if code == "two_row_header":
            assert len(f.header_rows) == 2
        if code == "instruction_sheet":
            assert {r["sheet"] for r in province.loaded(path).values()} <= {f.sheet}
            assert f.sheet != CalamineWorkbook.from_path(str(province.out / path)).sheet_names[0]
        if code == "extra_column":
            extra = next(d.note for d in records if d.file == path)
            for q in province.quarantined(path).values():  # kept with the row as the district wrote it
                assert extra in q.original
        if code == "sex_mark_columns":
            _check_sex_marks(province, f)


def _check_sex_marks(province: Loaded, f) -> None:
    """Nam | Nữ columns (under `Năm sinh`): the sex is the marked column, the birth date its content."""
    labels = header_labels(province.out, f)
    jm, jf = labels.index("Nam"), labels.index("Nữ")
    raw = raw_rows(province.out, f)
    skip = planted_rows(province.manifest, f.path)
    checked = 0
    for rn, row in province.loaded(f.path).items():
        if rn in skip:
            continue
        male, female = cell_text(raw[rn - 1][jm]), cell_text(raw[rn - 1][jf])
        assert bool(male) != bool(female), (f.path, rn)
        assert row["sex"] == ("male" if male else "female"), (f.path, rn)
        if "birth_date" in row and len(male or female) == 10:
            assert row["birth_date"] == dt.datetime.strptime(male or female, "%d/%m/%Y").date(), (f.path, rn)
        checked += 1
    assert checked or not f.rows


# ---------------------------------------------------------------------------------------------------------
# The national platform's subject-list template
# ---------------------------------------------------------------------------------------------------------

# (upper header row, lower header row) of the national template -> canonical column, written by hand
NATIONAL_TEMPLATE = {
    ("#", ""): None,
    ("Họ và tên (*)", ""): "full_name",
    ("Ngày sinh dạng dd/mm/yyyy (*)", ""): "birth_date",
    ("Giới tính (*)\n(0: nam, 1: nữ)", ""): "sex",
    ("Mã nhóm đối tượng ưu tiên (*)", ""): "priority_group",
    ("Đơn vị công tác", ""): "workplace",
    ("Số điện thoại (*)\n(ít nhất 10 số)", ""): "phone",
    ("Số CMT/CCCD\n(8/9/12 số)", ""): "id_number",
    ("Số thẻ bảo hiểm y tế\n(10/15 ký tự)", ""): "insurance_number",
    ("Nơi ở tạm trú (hiện tại)", "Tỉnh/Thành phố"): "province_name",
    ("Nơi ở tạm trú (hiện tại)", "Mã Tỉnh (*)"): "province_code",
    ("Nơi ở tạm trú (hiện tại)", "Quận/Huyện"): "district_name",
    ("Nơi ở tạm trú (hiện tại)", "Mã Quận/Huyện (*)"): "district_code",
    ("Nơi ở tạm trú (hiện tại)", "Xã/Phường"): "commune_name",
    ("Nơi ở tạm trú (hiện tại)", "Mã Xã/Phường (*)"): "commune_code",
    ("Nơi ở tạm trú (hiện tại)", "Địa chỉ chi tiết"): "address_detail",
    ("Mũi 1", "Tên vắc xin"): "dose1_product",
    ("Mũi 1", "Ngày tiêm"): "dose1_date",
    ("Mũi 1", "Lô vắc xin"): "dose1_lot",
    ("Mũi 1", "Địa điểm tiêm"): "dose1_site",
    ("Mũi 2", "Tên vắc xin"): "dose2_product",
    ("Mũi 2", "Ngày tiêm"): "dose2_date",
    ("Mũi 2", "Lô vắc xin"): "dose2_lot",
    ("Mũi 2", "Địa điểm tiêm"): "dose2_site",
    ("Ghi chú", ""): "note",
    ("Kết quả import", ""): None,
}


def _dmy(text: str) -> dt.date | None:
    return dt.datetime.strptime(text, "%d/%m/%Y").date() if text else None


def _national_expected(column: str, cell: str) -> Any:
    """What a clean national-template cell loads as."""
    if column == "full_name":
        return as_name(cell)
    if column in ("birth_date", "dose1_date", "dose2_date"):
        return _dmy(cell)
    if column == "sex":
        return {"0": "male", "1": "female"}[cell]
    if column == "priority_group":
        return int(cell)
    if column == "phone":
        return "+84" + cell[1:]
    if column in ("dose1_product", "dose2_product"):
        return "astrazeneca" if cell == "AstraZeneca" else (cell or None)
    if column == "insurance_number":
        return cell.upper() or None
    return collapse(cell) or None


covers("test_national_subject_list_layout", "two_row_header", "extra_column", "numbering_column", "title_rows")


def test_national_subject_list_layout(province):
    """Instruction lines above, a two-row merged header, `#`, sex 0/1, dates as text, `Kết quả import`:
    every column lands where the national template means it, every row at its number."""
    m = province.manifest
    files = [f for f in m.files if f.layout == "xlsx_national"]
    assert len(files) >= 2
    for f in files:
        raw = raw_rows(province.out, f)
        assert f.header_rows == [5, 6] and f.first_data_row == 7
        assert raw[0][0].startswith("DANH SÁCH ĐỐI TƯỢNG") and raw[1][0].startswith("Lưu ý")
        top, low = raw[4], raw[5]
        groups, mapping = "", {}
        for j, (up, lo) in enumerate(zip(top, low, strict=True)):
            up, lo = cell_text(up), cell_text(lo)
            groups = up or (groups if lo else "")
            key = (groups if lo else up, lo)
            assert key in NATIONAL_TEMPLATE, key
            if NATIONAL_TEMPLATE[key]:
                mapping[NATIONAL_TEMPLATE[key]] = j
        assert cell_text(top[-1]) == "Kết quả import"
        assert set(mapping) == set(NATIONAL_GROUPS) | set(NATIONAL_HEADERS)
        out = province.outcomes[f.path]
        assert out.status == "accepted" and out.rows_total == f.rows and out.rows_skipped == 4
        used = sorted(set(province.loaded(f.path)) | set(province.quarantined(f.path)))
        assert used == list(range(7, 7 + f.rows))
        checked = Counter()
        for rn, row in province.loaded(f.path).items():
            planted = {c for d in m.defects if d.file == f.path and d.row_number == rn
                       for c in (CATALOGUE[d.code].column, *ALSO_TOUCHES.get(d.code, ()))}
            for column, j in mapping.items():
                if column in planted:
                    continue
                cell = cell_text(raw[rn - 1][j])
                if column == "commune_name":
                    assert row[column].endswith(" " + cell), (f.path, rn, cell, row[column])
                elif column == "dose1_product" and cell not in ("", "AstraZeneca"):
                    assert row[column] is not None
                else:
                    assert row[column] == _national_expected(column, cell), (f.path, rn, column, cell, row[column])
                checked[column] += 1
        assert all(checked[c] for c in ("full_name", "birth_date", "sex", "phone", "commune_code", "dose1_date"))
        for q in province.quarantined(f.path).values():  # the district's own cells, by its own headers
            assert "Kết quả import" in q.original and "Họ và tên (*)" in q.original, list(q.original)


# ---------------------------------------------------------------------------------------------------------
# Encodings
# ---------------------------------------------------------------------------------------------------------

ENCODINGS = {"utf-8": "csv", "utf-8-sig": "csv", "cp1258": "csv", "tcvn3": "tcvn3_name", "vni": "vni_name",
             "nfd": "nfd_text"}
covers("test_encoding", "tcvn3_name", "vni_name", "nfd_text")


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_encoding(province, encoding):
    """Names load as the true names: Vietnamese letters only, NFC, equal to the file's own text (or, for
    legacy-encoded cells, to the truth in the manifest)."""
    m = province.manifest
    if ENCODINGS[encoding] == "csv":
        files = [f for f in m.files if f.format == "csv" and f.encoding == encoding and f.rows
                 and province.outcomes[f.path].status == "accepted"]
        assert files and any(f.kind == "target_list" for f in files)
        for f in files:
            n, bad = probe_mismatches(province, f)
            assert n and not bad, (f.path, bad[:5])
            if "full_name" in {c.name for c in load_input_kinds()[f.kind].columns}:
                names = [r["full_name"] for r in province.loaded(f.path).values()]
                assert all(set(x) <= VIETNAMESE_LETTERS and unicodedata.is_normalized("NFC", x) for x in names)
                if f.layout != "csv_ascii":
                    assert any(not x.isascii() for x in names), f.path  # diacritics survived
        return
    records = [d for d in m.defects if d.code == ENCODINGS[encoding]]
    assert records
    for d in records:
        truth = d.note.removeprefix("true ")
        got = province.loaded(d.file)[d.row_number]["full_name"]
        assert got == truth and unicodedata.is_normalized("NFC", got), (d.file, d.row_number, d.value, got)
        if encoding == "nfd":
            assert not unicodedata.is_normalized("NFC", d.value)


def test_every_loaded_name_is_clean_unicode(province):
    """No mojibake anywhere: every loaded person's name is made of Vietnamese letters, in NFC."""
    bad = []
    for sid, rows in province.rows.items():
        for rn, row in rows.items():
            name = row.get("full_name")
            if name is not None and not (set(name) <= VIETNAMESE_LETTERS and unicodedata.is_normalized("NFC", name)):
                bad.append((province.subs[sid].original_filename, province.subs[sid].district_code, rn, name))
    assert bad == []


# ---------------------------------------------------------------------------------------------------------
# Readiness truths: valid rows that must load as they are
# ---------------------------------------------------------------------------------------------------------


def _current_rows(province: Loaded, district: str, kind: str) -> list[dict[str, Any]]:
    out = []
    for sid, sub in province.subs.items():
        if sub.district_code == district and sub.kind == kind and sub.is_current:
            out.extend(province.rows.get(sid, {}).values())
    return out


READINESS_ROW_CHECKS = {
    "facility_zero_tables": lambda r, note: r["vaccination_tables"] == 0,
    "infrastructure_gap": lambda r, note: {
        "internet_lines": lambda: r["internet_available"] == "no",
        "printers": lambda: r["printers_available"] == 0,
        "computers": lambda: r["computers_needed"] is None or r["computers_needed"] > 0,  # optional column
        "qr_scanners": lambda: r["qr_scanners_needed"] is None or r["qr_scanners_needed"] > 0,
    }[note](),
    "training_incomplete": lambda r, note: r["completed"] == "no",
    "staff_untrained": lambda r, note: r["full_name"] is not None,
    "staff_double_booked": lambda r, note: r["full_name"] is not None,
    "team_not_updated": lambda r, note: r["updated_on"] < r["session_date"],
    "stock_expired_lot": lambda r, note: r["expiry_date"] < load_campaign().campaign.campaign_date,
    "aefi_serious": lambda r, note: r["serious"] == "yes",
}


@pytest.mark.parametrize("code", covers("test_readiness_truth", *CODES_BY_CATEGORY["readiness"]))
def test_readiness_truth(province, code):
    """Readiness facts are data, not errors: their rows load unchanged (the same-facility double booking
    repeats the staff natural key: `duplicate_in_file`, a warning), the facts without a row are absent."""
    m = province.manifest
    # facts of the rejected upload are checked in its accepted fix
    records = [d for d in m.defects
               if d.code == code and (d.file is None or province.outcomes[d.file].status == "accepted")]
    assert records
    for d in records:
        if d.file is None or d.row_number is None:
            district_rows = _current_rows(province, d.district, d.kind)
            assert district_rows, (code, d.district)
            if code == "infrastructure_missing_facility":
                facility = d.note.split()[1]
                assert facility not in {r["facility_code"] for r in district_rows}
                assert facility in {r["facility_code"] for r in _current_rows(province, d.district, "facilities")}
            elif code == "comm_missing_certificate_lookup":
                assert not {r["message"] for r in district_rows} & {"certificate_lookup", "both", "all_three"}
            elif code == "team_missing_role":
                day, part, _, team = d.note.split()[:4]
                facility = d.note.rsplit("(", 1)[1].rstrip(")")
                roles = {r["role"] for r in district_rows if r["facility_code"] == facility
                         and str(r["session_date"]) == day and r["session_part"] == part and r["team_no"] == int(team)}
                assert roles and "observation" not in roles, (d.note, roles)
            else:
                raise AssertionError(f"{code}: no check for a readiness fact without a row")
            continue
        row = province.loaded(d.file).get(d.row_number)
        assert row is not None, (code, d.file, d.row_number)
        codes = {i.code for i in province.issues_at(d.file, d.row_number)}
        assert not {c for c in codes if SEVERITY[c] == "row"}
        if d.reason:
            assert d.reason in codes, (code, d.file, d.row_number, codes)
        elif code == "staff_double_booked":
            assert "duplicate_in_file" not in codes
        assert READINESS_ROW_CHECKS[code](row, d.note), (code, d.file, d.row_number, d.note, row)


# ---------------------------------------------------------------------------------------------------------
# The planted rejection: a required column missing, then the fixed file
# ---------------------------------------------------------------------------------------------------------


covers("test_rejected_upload", "required_column_missing")


def test_rejected_upload_loads_nothing_and_its_fix_is_accepted(province):
    m = province.manifest
    (d,) = [x for x in m.defects if x.code == "required_column_missing"]
    v1 = province.outcomes[d.file]
    fixed = next(f for f in m.files if f.district == d.district and f.kind == d.kind and f.version == 2)
    v2 = province.outcomes[fixed.path]
    header = load_input_kinds()[d.kind].column(d.column).header
    assert v1.status == "rejected" and v1.reasons == {"required_column_missing": 1}
    assert header in v1.message and (v1.rows_total, v1.rows_loaded, v1.rows_quarantined) == (0, 0, 0)
    sub = province.subs[v1.submission_id]
    assert sub.status == "rejected" and not sub.is_current and sub.version == 1
    assert v1.submission_id not in province.rows and v1.submission_id not in province.quarantine
    assert v1.submission_id not in province.issues
    assert v2.status == "accepted" and v2.version == fixed.version == 2 and v2.rows_loaded == fixed.rows
    assert province.subs[v2.submission_id].is_current


# ---------------------------------------------------------------------------------------------------------
# Files that cannot be taken: each rejected with its reason, nothing else changed
# ---------------------------------------------------------------------------------------------------------

HEADER = "STT,Họ và tên (*),Ngày sinh dạng dd/mm/yyyy (*),Giới tính (*),Mã nhóm đối tượng ưu tiên (*),Số điện thoại (*),Xã/Phường (*)\n"
GOOD = ["1,Nguyễn Văn An,25/05/1980,0,9,0912345678,Ia Blang\n", "2,Ksor H'Blang,15/03/1975,1,10,0351234567,Ia Blang\n",
        "3,Rơ Châm Thuận,20/11/1969,0,9,0981112223,Ia Glai\n", "4,Siu Nay,02/02/1985,1,9,0912000111,Ia Blang\n",
        "5,Trần Thị Bích,13/04/1990,1,12,0979000222,Ia Glai\n"]


def ole2_encrypted() -> bytes:
    """A minimal Compound File (OLE2, version 3) as Excel writes a password-protected workbook: a root
    storage holding the `EncryptionInfo` and `EncryptedPackage` streams (4 KB each: regular sectors)."""
    sector = 512
    free, end, fat_sect, nostream = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
    n_stream = 4096 // sector
    # sector 0: FAT, sector 1: directory, 2..9: EncryptionInfo, 10..17: EncryptedPackage
    fat = [fat_sect, end]
    for first in (2, 2 + n_stream):
        fat += [first + i + 1 for i in range(n_stream - 1)] + [end]
    fat += [free] * (sector // 4 - len(fat))
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16) + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
    # reserved; directory sectors (0 in v3), FAT sectors, first directory sector, transaction signature,
    # mini stream cutoff, first mini FAT sector, mini FAT sectors, first DIFAT sector, DIFAT sectors
    header += bytes(6) + struct.pack("<9I", 0, 1, 1, 0, 4096, end, 0, end, 0)
    header += struct.pack("<109I", 0, *([free] * 108))
    assert len(header) == sector

    def entry(name: str, kind: int, left: int, right: int, child: int, start: int, size: int) -> bytes:
        raw = name.encode("utf-16-le") + b"\x00\x00" if name else b""
        return (raw.ljust(64, b"\x00") + struct.pack("<HBBIII", len(raw), kind, 1, left, right, child)
                + bytes(16) + bytes(4) + bytes(16) + struct.pack("<IQ", start, size))

    directory = (entry("Root Entry", 5, nostream, nostream, 1, end, 0)
                 + entry("EncryptedPackage", 2, 2, nostream, nostream, 2 + n_stream, 4096)
                 + entry("EncryptionInfo", 2, nostream, nostream, nostream, 2, 4096)
                 + entry("", 0, nostream, nostream, nostream, 0, 0))
    info = struct.pack("<HHI", 4, 4, 0x40) + bytes(4096 - 8)
    package = struct.pack("<Q", 12345) + random.Random(7).randbytes(4096 - 8)
    return header + struct.pack(f"<{sector // 4}I", *fat) + directory + info + package


def zip_bomb_ratio() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", b"\x00" * (4 * 1024 * 1024))
    return buf.getvalue()


def zip_bomb_declared() -> bytes:
    """A small xlsx-looking zip whose sheet member declares 4 GB uncompressed out of 2 GB compressed (a
    plausible ratio; central directory and local header patched): too big to inflate, refused unread."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", "<worksheet>" + "<row/>" * 100 + "</worksheet>")
    data = bytearray(buf.getvalue())
    name = b"xl/worksheets/sheet1.xml"
    pos = data.index(b"PK\x01\x02")  # the central directory
    while True:
        pos = data.index(b"PK\x01\x02", pos)
        n = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46:pos + 46 + n] == name:
            struct.pack_into("<II", data, pos + 20, 0x7FFFFFF0, 0xFFFFFFF0)  # compressed, uncompressed
            local = struct.unpack_from("<I", data, pos + 42)[0]
            struct.pack_into("<II", data, local + 18, 0x7FFFFFF0, 0xFFFFFFF0)
            break
        pos += 4
    return bytes(data)


def docx_renamed() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


@dataclass(frozen=True)
class Bad:
    name: str                       # file name as uploaded
    build: Any                      # () -> bytes; or a kind of the campaign to send as `kind`
    code: str
    says: str                       # a fragment of the Vietnamese message
    kind: str = "target_list"
    intake: dict[str, Any] = field(default_factory=dict)   # campaign.intake overrides


BAD_FILES = {
    "empty": Bad("ds.xlsx", lambda: b"", "unreadable_file", "rỗng"),
    "pdf_renamed": Bad("ds.xlsx", lambda: b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n", "unreadable_file",
                       "PDF"),
    "png_renamed": Bad("ds.xlsx", lambda: b"\x89PNG\r\n\x1a\n" + random.Random(1).randbytes(600), "unreadable_file",
                       "PNG"),
    "random_bytes": Bad("ds.xlsx", lambda: random.Random(2021).randbytes(8192), "unreadable_file",
                        "không phải bảng tính"),
    "word_renamed": Bad("ds.xlsx", docx_renamed, "unreadable_file", "Word"),
    "password_protected": Bad("ds.xlsx", ole2_encrypted, "unreadable_file", "mật khẩu"),
    "zip_bomb_ratio": Bad("ds.xlsx", zip_bomb_ratio, "unreadable_file", "bất thường"),
    "zip_bomb_declared": Bad("ds.xlsx", zip_bomb_declared, "unreadable_file", "khi giải nén"),
    "truncated_xlsx": Bad("ds.xlsx", "truncated", "unreadable_file", "hỏng"),
    "too_large": Bad("ds.csv", lambda: (HEADER + "".join(GOOD[::-1])).encode(), "unreadable_file", "quá lớn",
                     intake={"max_file_mb": 0.0002}),
    "too_many_rows": Bad("ds.csv", lambda: (HEADER + "".join(GOOD[::-1])).encode(), "unreadable_file", "quá nhiều dòng",
                         intake={"max_rows": 3}),
    "no_header": Bad("ds.csv", lambda: b"a,b,c\n1,2,3\n4,5,6\n", "unreadable_file", "tiêu đề"),
    "only_a_header": Bad("ds.csv", lambda: HEADER.encode(), "unreadable_file", "không có dòng dữ liệu"),
    "wrong_kind_facilities_as_target_list": Bad("facilities.xlsx", "facilities", "wrong_kind", "(facilities)"),
    "wrong_kind_target_list_as_facilities": Bad("target_list.xlsx", "target_list", "wrong_kind", "(target_list)",
                                                kind="facilities"),
    "wrong_kind_staff_as_training": Bad("staff.xlsx", "staff", "wrong_kind", "(staff)", kind="training"),
    "required_column_missing": Bad("facilities.v1", "required_column_missing", "required_column_missing",
                                   "Số bàn tiêm", kind="facilities"),
}
covers("test_unreadable_file", "required_column_missing")


def _build(bad: Bad, tmp_path: Path, campaign_files) -> tuple[Path, str]:
    """The file to send, and the district sending it."""
    out, m = campaign_files
    if callable(bad.build):
        path = tmp_path / bad.name
        path.write_bytes(bad.build())
        return path, "633"
    if bad.build == "truncated":  # an upload cut off half-way
        f = next(f for f in m.files if f.format == "xlsx" and f.kind == "target_list")
        path = tmp_path / bad.name
        data = (out / f.path).read_bytes()
        path.write_bytes(data[: len(data) // 2])
        return path, f.district
    if bad.build == "required_column_missing":  # the campaign's own rejected upload
        d = next(d for d in m.defects if d.code == "required_column_missing")
        return out / d.file, d.district
    f = next(f for f in m.files if f.kind == bad.build and f.format == "xlsx" and f.rows and f.facility is None
             and not any(d.file == f.path and d.category == "file" for d in m.defects))
    return out / f.path, f.district


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for t in Base.metadata.sorted_tables}


def submissions_state(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(
            Submission.id, Submission.status, Submission.is_current, Submission.superseded_by_id, Submission.version,
            Submission.rows_loaded, Submission.reasons).order_by(Submission.id))]


def _with_intake(campaign: CampaignConfig, **changes: Any) -> CampaignConfig:
    return campaign.model_copy(update={"intake": campaign.intake.model_copy(update=changes)}) if changes else campaign


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_unreadable_file(migrated_engine, tmp_path, campaign_files, case):
    """Rejected with the exact reason and one Vietnamese message; the database is as it was, but for the
    rejected submission and (at most) its stored original; the district's current data stays current."""
    bad = BAD_FILES[case]
    out, m = campaign_files
    settings = Settings(home=tmp_path / "home")
    campaign = load_campaign()
    path, district = _build(bad, tmp_path, campaign_files)

    def intake(p: Path, d: str, kind: str, campaign: CampaignConfig = campaign) -> IntakeOutcome:
        return run_intake(IntakeRequest(path=p, district=d, kind=kind, received_at=NOW),
                          engine=migrated_engine, settings=settings, campaign=campaign)

    # the districts already have current data: a target list, and the kind the bad file is sent as
    good = tmp_path / "current.csv"
    good.write_text(HEADER + "".join(GOOD), encoding="utf-8")
    assert intake(good, "633", "target_list").status == "accepted"
    current = next((f for f in m.files if f.kind == bad.kind and f.district == district and f.facility is None
                    and not any(d.file == f.path and d.category == "file" for d in m.defects)), None)
    if current is not None and current.kind != "target_list":
        assert intake(out / current.path, district, bad.kind).status == "accepted"
    counts, state = table_counts(migrated_engine), submissions_state(migrated_engine)

    outcome = intake(path, district, bad.kind, _with_intake(campaign, **bad.intake))

    assert outcome.status == "rejected" and outcome.exit_code == 3, (case, outcome)
    assert outcome.reasons == {bad.code: 1}, (case, outcome.reasons, outcome.message)
    assert (outcome.rows_total, outcome.rows_loaded, outcome.rows_quarantined) == (0, 0, 0)
    message = outcome.message
    assert isinstance(message, str) and bad.says in message, (case, message)
    assert not message.isascii() and "\n" not in message  # one line, Vietnamese with its diacritics
    if bad.code == "wrong_kind":  # what was expected, and the kind it looks like
        assert kind_label(bad.kind) in message and kind_label(bad.build) in message, message

    after = table_counts(migrated_engine)
    changed = {name: after[name] - counts[name] for name in after if after[name] != counts[name]}
    assert changed.pop("submissions") == 1, case
    assert changed.pop("stored_files", 0) in (0, 1)
    assert changed == {}, (case, changed)
    assert submissions_state(migrated_engine)[: len(state)] == state  # earlier submissions untouched
    with migrated_engine.connect() as conn:
        sub = conn.execute(sa.select(Submission).where(Submission.id == outcome.submission_id)).one()
        stored = conn.execute(sa.select(StoredFile).where(StoredFile.sha256 == sub.checksum)).one_or_none()
    assert sub.status == "rejected" and not sub.is_current and sub.message == message
    assert sub.reasons == {bad.code: 1} and sub.kind == bad.kind and sub.district_code == district
    assert stored is not None and (settings.files_dir / stored.relative_path).read_bytes() == path.read_bytes()


def test_required_column_missing_then_fixed(migrated_engine, tmp_path, campaign_files):
    """The planted rejected facilities upload on a fresh database: rejected, nothing loaded; the fixed
    version two days later is accepted as version 2 and becomes current."""
    out, m = campaign_files
    (d,) = [x for x in m.defects if x.code == "required_column_missing"]
    v1f = m.file(d.file)
    v2f = next(f for f in m.files if f.district == d.district and f.kind == d.kind and f.version == 2)
    settings, campaign = Settings(home=tmp_path / "home"), load_campaign()

    def intake(f):
        return run_intake(IntakeRequest(path=out / f.path, district=f.district, kind=f.kind,
                                        received_at=dt.datetime.fromisoformat(f.planned_upload_at)),
                          engine=migrated_engine, settings=settings, campaign=campaign)

    v1 = intake(v1f)
    assert v1.status == "rejected" and v1.reasons == {"required_column_missing": 1}
    counts = table_counts(migrated_engine)
    assert counts[KIND_TABLES["facilities"].name] == 0 and counts["row_issues"] == counts["quarantine_rows"] == 0
    v2 = intake(v2f)
    assert v2.status == "accepted" and v2.version == 2 and v2.rows_loaded + v2.rows_quarantined == v2f.rows
    assert table_counts(migrated_engine)[KIND_TABLES["facilities"].name] == v2.rows_loaded
    with migrated_engine.connect() as conn:
        current = conn.execute(sa.select(Submission.id).where(Submission.is_current)).scalars().all()
    assert current == [v2.submission_id]


# ---------------------------------------------------------------------------------------------------------
# The fixes these tests led to, pinned down as plain unit tests
# ---------------------------------------------------------------------------------------------------------


def test_an_unpadded_month_first_date_is_flagged_in_a_day_first_column():
    """25/07/1980 proves the zero-padded dates are day first, not a lone 7/5/1980 (an m/d locale)."""
    r = parse_dates(pd.Series(["25/07/1980", "03/04/1990", "7/5/1980", "13/5/1970", "3/5/1975"], dtype="str"),
                    role="birth", today=dt.date(2021, 7, 28))
    reasons = [None if pd.isna(x) else x for x in r.reason.tolist()]
    assert reasons == [None, None, None, None, None]  # both styles proven (25/07, 13/5)
    r = parse_dates(pd.Series(["25/07/1980", "03/04/1990", "7/5/1980"], dtype="str"), role="birth",
                    today=dt.date(2021, 7, 28))
    assert [None if pd.isna(x) else x for x in r.reason.tolist()] == [None, None, "dob_day_month_ambiguous"]


# ---------------------------------------------------------------------------------------------------------
# Readiness on the loaded province: every planted readiness fact is found where it was planted
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def readiness_of(province):
    from sqlalchemy.orm import Session

    from campaign.readiness.rules import ReadinessRules, assess
    from campaign.readiness.store import load_inputs

    campaign = load_campaign()
    with Session(province.engine) as session:
        inputs = load_inputs(session, campaign.district_codes)
    return assess(inputs, ReadinessRules.from_config(campaign), today=NOW.date())


def _gap_items(result, district: str, facility: str | None) -> dict[str, str]:
    g = result.gaps
    mine = g[(g["district"] == district) & (g["facility"].isna() if facility is None else g["facility"] == facility)]
    return dict(zip(mine["item"], mine["severity"], strict=True))


# the readiness facts of the readiness flow's kinds (stock and AEFI facts are for planning and reports)
READINESS_FLOW_CODES = [c for c in CODES_BY_CATEGORY["readiness"]
                        if set(CATALOGUE[c].kinds) <= {"facilities", "infrastructure", "training", "staff", "communication"}]


@pytest.mark.parametrize("code", covers("test_readiness_finds_the_planted_fact", *READINESS_FLOW_CODES))
def test_readiness_finds_the_planted_fact(province, readiness_of, code):
    r = readiness_of
    facilities = r.facilities.set_index(["district", "facility_code"])
    records = [d for d in province.manifest.defects
               if d.code == code and (d.file is None or province.outcomes[d.file].status == "accepted")]
    assert records
    for d in records:
        row = province.loaded(d.file).get(d.row_number) if d.file and d.row_number else None
        facility = row["facility_code"] if row else None
        if code == "facility_zero_tables":
            assert _gap_items(r, d.district, facility).get("vaccination_tables") == "blocking"
            assert facilities.at[(d.district, facility), "status"] == "not_ready"
        elif code == "infrastructure_gap":
            # directive II.1: "máy quét QR (nếu có)": a missing QR scanner is a warning, the rest block
            level = load_campaign().infrastructure_rules[d.note].level
            expected = "warning" if level == "if_available" else "blocking"
            assert _gap_items(r, d.district, facility).get(d.note) == expected, (facility, d.note)
        elif code == "infrastructure_missing_facility":
            facility = d.note.split()[1]
            assert facilities.at[(d.district, facility), "infrastructure"] == "unknown"
            assert facilities.at[(d.district, facility), "status"] in ("unknown", "not_ready")
        elif code == "training_incomplete":
            if row["training_date"] <= NOW.date():
                assert "training_not_completed" in _gap_items(r, d.district, facility)
            else:
                hold = r.training_to_hold
                assert ((hold["facility_code"] == facility) & (hold["training_date"] == row["training_date"])).any()
        elif code == "staff_untrained":
            if not _current_rows(province, d.district, "training"):   # the district never sent its training list
                assert facilities.at[(d.district, facility), "training"] == "unknown"
            elif row["session_date"] >= NOW.date():
                assert _gap_items(r, d.district, facility).get("untrained_member") == "warning"
        elif code == "staff_double_booked":
            if row["session_date"] >= NOW.date():
                assert _gap_items(r, d.district, facility).get("double_booked") == "blocking"
                assert facilities.at[(d.district, facility), "status"] == "not_ready"
        elif code == "team_missing_role":
            day, part = d.note.split()[:2]
            facility = d.note.rsplit("(", 1)[1].rstrip(")")
            assert f"team:{day}:{part}" in _gap_items(r, d.district, facility), d.note
            session = r.sessions[(r.sessions["facility_code"] == facility)
                                 & (r.sessions["session_date"].astype(str) == day) & (r.sessions["session_part"] == part)]
            assert len(session) == 1 and session["complete_teams"].iloc[0] < session["teams"].iloc[0]
        elif code == "team_not_updated":
            item = f"team_not_updated:{row['session_date'].isoformat()}:{row['session_part']}"
            imminent = (row["session_date"] - NOW.date()).days <= load_campaign().readiness.stale_check_days_ahead
            assert (item in _gap_items(r, d.district, facility)) == imminent, (item, imminent)
        elif code == "comm_missing_certificate_lookup":
            items = _gap_items(r, d.district, None)
            assert any(i.startswith("communication:certificate_lookup@") for i in items), items
            assert r.districts.set_index("district").at[d.district, "status"] == "not_ready"
        else:
            raise AssertionError(f"{code}: readiness has no check for it")


def test_readiness_of_the_whole_province_is_complete_and_consistent(province, readiness_of):
    r = readiness_of
    campaign = load_campaign()
    assert list(r.districts["district"]) == campaign.district_codes
    loaded_facilities = {(row["district"], row["facility_code"]) for sid, sub in province.subs.items()
                         if sub.kind == "facilities" and sub.is_current for row in province.rows.get(sid, {}).values()}
    assert set(zip(r.facilities["district"], r.facilities["facility_code"], strict=True)) == loaded_facilities
    assert set(r.facilities["status"]) <= {"ready", "ready_with_warnings", "not_ready", "unknown"}
    assert (r.facilities["status"] == "ready").any()   # the synthetic province is not all broken
    # a facility is not_ready exactly when it has a blocking gap of its own
    gaps = r.gaps[(r.gaps["severity"] == "blocking") & r.gaps["facility"].notna()]
    blocking = set(zip(gaps["district"], gaps["facility"], strict=True))
    not_ready = r.facilities[r.facilities["status"] == "not_ready"]
    not_ready = set(zip(not_ready["district"], not_ready["facility_code"], strict=True))
    assert blocking == not_ready


# ---------------------------------------------------------------------------------------------------------
# The master list of the loaded province (issue 5): every loaded target-list row linked, against the truth
# ---------------------------------------------------------------------------------------------------------


def test_master_list_of_the_loaded_province_against_the_planted_duplicates(province):
    """Files with every planted defect, through intake, then the master list (model trained on the
    province itself). The truth is the generator's: within-district repeats, cross-district listings
    (CMND in one list, CCCD in the other, name without diacritics), exact copies."""
    from campaign.master_list import run as ml_run
    from campaign.master_list import store as ml_store
    from campaign.store.models import MasterRecord

    campaign = load_campaign()
    result = ml_run.build(province.engine, campaign, as_of=NOW)
    loaded = {(sid, rn) for sid, sub in province.subs.items() if sub.kind == "target_list" and sub.is_current
              for rn in province.rows.get(sid, {})}
    with Session(province.engine) as session:
        listed = [(r.submission_id, r.row_number) for r in session.scalars(sa.select(MasterRecord))]
        quality = ml_store.quality_against(session, province.manifest.duplicates)
    assert len(listed) == len(set(listed)) and set(listed) == loaded
    assert result.rows == len(loaded)
    assert quality["true_pairs"] >= 20, quality
    assert quality["precision"] >= 0.995 and quality["recall"] >= 0.95, quality
    assert quality["review_share"] < 0.01, quality
