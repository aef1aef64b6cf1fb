"""Acceptance tests of issue 16: intake reads any real heading, says how it read the file, and never drops
a column in silence.

Files come from the generator's clerk layouts (`campaign.synth.files.layouts.CLERK_HEADINGS`: `NAM/NỮ`,
`SỐ CMND/CCCD/HỘ CHIẾU`, `NS`, `GT`, `ĐT` holding phones, `Nhóm`, `Đối tượng`, `Số CCCD/CMND`, split names
`Họ và tên đệm` + `Tên`, unknown columns holding data: `Dân tộc`, `Tiền sử dị ứng`, `Kết quả import`),
each as xlsx, CSV UTF-8 and CSV Windows-1258; the manifest says how every heading must be read. They go
through the intake core (`run_intake`, no Prefect), on SQLite and PostgreSQL (tests/conftest.py):

- every clerk file is accepted with the right row counts, `to_json()["columns"]` / `["columns_ignored"]`
  equal the manifest's mapping, the clean rows load the file's own values in the right fields (split
  names joined), and an unknown column holding data gives `column_ignored`;
- property (Hypothesis): any generated file of a few kinds plus one unknown column (a random Vietnamese
  heading meaning no field, random data) is read exactly as without it, but for `column_ignored` and
  the heading in `columns_ignored`;
- a formula the workbook holds no value for gives `formula_not_calculated`, not `name_missing`;
- a communication message "Hướng dẫn đăng ký tiêm chủng" is read as the how-to-register option.

No real personal data: every person comes from the generator (`campaign.synth`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import tempfile
import unicodedata
from collections import defaultdict
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
import yaml
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook
from sqlalchemy.engine import Engine

from campaign.config import load_campaign
from campaign.config_kinds import load_input_kinds
from campaign.config_reasons import load_reasons
from campaign.domain.text import fold
from campaign.domain.vn_legacy import encode_cp1258
from campaign.intake.present import IntakeOutcome
from campaign.intake.rules import IntakeRequest
from campaign.intake.run import run_intake
from campaign.settings import Settings
from campaign.store.models import KIND_TABLES, QuarantineRow, RowIssue
from campaign.synth import (
    CATALOGUE,
    LAYOUTS,
    Manifest,
    build_world,
    generate_campaign,
    generate_target_list_file,
)
from campaign.synth.files.layouts import CLERK_HEADINGS, CLERK_LAYOUTS
from tests.test_intake_acceptance import as_name, collapse

NOW = dt.datetime(2021, 7, 28, 8, tzinfo=dt.timezone(dt.timedelta(hours=7)))
ROWS = 240
SEED = 16
DATABASES = ("sqlite", "postgresql")  # as tests/conftest.py
NUMBERING = {"STT", "TT", "#"}
SEVERITY = {code: r.severity for code, r in load_reasons().reasons.items()}
# Each heading set in a district of its own kind: a city of wards, rural districts of Jarai/Bahnar names.
DISTRICT_OF = {"caps": "633", "short": "622", "mobile": "638", "split": "625"}
ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------------------
# The clerk files, once per module
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clerk_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Manifest]]:
    """Every clerk layout as one target list (ROWS people with the generator's planted defects)."""
    out = tmp_path_factory.mktemp("clerk_files")
    files = {}
    for name in CLERK_LAYOUTS:
        lay = LAYOUTS[name]
        path = out / name / f"target_list.{'xlsx' if lay.fmt == 'xlsx' else 'csv'}"
        path.parent.mkdir()
        files[name] = (path, generate_target_list_file(path, ROWS, seed=SEED, layout=name,
                                                       district=DISTRICT_OF[lay.headings]))
    return files


@pytest.fixture()
def intake(migrated_engine: Engine, tmp_path: Path):
    settings, campaign = Settings(home=tmp_path / "home"), load_campaign()

    def run(path: Path, district: str, kind: str = "target_list", facility: str | None = None) -> IntakeOutcome:
        return run_intake(IntakeRequest(path=path, district=district, kind=kind, facility=facility, received_at=NOW),
                          engine=migrated_engine, settings=settings, campaign=campaign)

    return run


# ---------------------------------------------------------------------------------------------------------
# Reading files and the database back, independently of the project's reader
# ---------------------------------------------------------------------------------------------------------


def raw_rows(path: Path, f) -> list[list[Any]]:
    """Every row of a file as Python values, index 0 = row 1 (CSV: line 1)."""
    if f.format == "xlsx":
        return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(f.sheet).to_python(skip_empty_area=False)
    data = path.read_bytes()
    text = unicodedata.normalize("NFC", data.decode("cp1258")) if f.encoding == "cp1258" else data.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline="")))


def cell_text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dt.datetime):
        return v.strftime("%d/%m/%Y")
    if isinstance(v, dt.date):
        return v.strftime("%d/%m/%Y")
    return "" if v is None else str(v)




def expected_rows(m: Manifest, f) -> tuple[list[int], int]:
    """(the data rows of a file, the rows the reader must skip), from the manifest alone."""
    structure: dict[str, set[int]] = defaultdict(set)
    for d in m.defects:
        if d.file != f.path or d.category != "structure":
            continue
        if d.code == "title_rows":
            structure[d.code] |= {int(x) for x in d.note.removeprefix("rows ").split(",")}
        elif d.row_number is not None and d.code in ("numbering_row", "blank_rows", "header_repeat", "totals_row",
                                                     "footer_rows"):
            structure[d.code].add(d.row_number)
    inside = structure["blank_rows"] | structure["header_repeat"]
    last_data = f.first_data_row + f.rows + len(inside) - 1
    data = [r for r in range(f.first_data_row, last_data + 1) if r not in inside]
    last = max([last_data, *(r for rows in structure.values() for r in rows)])
    return data, last - len(f.header_rows) - f.rows


def stored(engine: Engine, kind: str, submission_id: int) -> dict[str, Any]:
    """A submission's loaded rows, row issues and quarantined rows, without ids."""
    table = KIND_TABLES[kind]
    with engine.connect() as conn:
        rows = {r["row_number"]: {k: v for k, v in r.items() if k not in ("id", "submission_id")}
                for r in conn.execute(sa.select(table).where(table.c.submission_id == submission_id)).mappings()}
        issues = sorted((r.row_number or 0, r.column or "", r.code) for r in conn.execute(
            sa.select(RowIssue.row_number, RowIssue.column, RowIssue.code).where(RowIssue.submission_id == submission_id)))
        quarantine = {r.row_number: sorted(r.reasons) for r in conn.execute(
            sa.select(QuarantineRow.row_number, QuarantineRow.reasons).where(QuarantineRow.submission_id == submission_id))}
    return {"rows": rows, "issues": issues, "quarantine": quarantine}


def reported_ignored(out: IntakeOutcome) -> list[str]:
    """`columns_ignored` of the JSON, numbering columns aside (they may be left out of both lists)."""
    return sorted(h for h in out.to_json()["columns_ignored"] if h not in NUMBERING)


# ---------------------------------------------------------------------------------------------------------
# Every clerk heading, in xlsx, CSV UTF-8 and CSV Windows-1258
# ---------------------------------------------------------------------------------------------------------


def test_the_clerk_layouts_cover_every_heading_of_the_issue():
    """The headings issue 16 names, each in a layout of each format."""
    wanted = {"STT", "HỌ VÀ TÊN", "NGÀY SINH", "NAM/NỮ", "SỐ CMND/CCCD/HỘ CHIẾU", "ĐIỆN THOẠI LIÊN HỆ",
              "ĐỐI TƯỢNG ƯU TIÊN", "XÃ/PHƯỜNG/THỊ TRẤN", "Họ và tên người được tiêm", "Số điện thoại di động",
              "Phường/Xã", "NS", "GT", "ĐT", "Nhóm", "Đối tượng", "Số CCCD/CMND", "Dân tộc", "Kết quả import",
              "Tiền sử dị ứng", "Họ và tên đệm", "Tên"}
    for fmt in ("xlsx", "utf-8", "cp1258"):
        layouts = [lay for lay in (LAYOUTS[n] for n in CLERK_LAYOUTS) if (lay.encoding or "xlsx").removesuffix("-sig") == fmt]
        assert wanted <= {h for lay in layouts for _, h in CLERK_HEADINGS[lay.headings]}, fmt


def _probe(path: Path, m: Manifest, f, loaded: dict[int, dict[str, Any]]) -> dict[str, int]:
    """Clean rows (no planted cell defect, not a copy) load the file's own values in the right fields."""
    raw = raw_rows(path, f)
    labels = [collapse(cell_text(v)) for v in raw[f.header_rows[0] - 1]]
    col = defaultdict(list)
    for heading, field in f.columns.items():
        col[field].append(labels.index(heading))
    planted = {d.row_number for d in m.defects if d.file == f.path and d.category == "cell"}
    checked: dict[str, int] = defaultdict(int)
    for rn, row in loaded.items():
        if rn in planted:
            continue
        cells = raw[rn - 1]

        def cell(field: str, cells: list[Any] = cells) -> str:
            return " ".join(cell_text(cells[j]) for j in col[field])  # split names: family, then given name

        want: dict[str, Any] = {"full_name": as_name(cell("full_name")),
                                "sex": {"Nam": "male", "Nữ": "female"}[cell("sex")],
                                "priority_group": int(cell("priority_group").removeprefix("Nhóm "))}
        phone = cell("phone")
        want["phone"] = "+84" + (phone[1:] if len(phone) == 10 else phone)
        born = raw[rn - 1][col["birth_date"][0]]
        want["birth_date"] = born if type(born) is dt.date else (
            born.date() if isinstance(born, dt.datetime) else dt.datetime.strptime(born, "%d/%m/%Y").date())
        if "id_number" in col:
            want["id_number"] = cell("id_number") or None
        for field in ("workplace", "address_detail"):
            if field in col:
                want[field] = collapse(cell(field)) or None
        for field, value in want.items():
            assert row[field] == value, (f.path, f.layout, rn, field, cell(field), row[field])
            checked[field] += 1
        short = fold(cell("commune_name"))
        for prefix in ("xa ", "phuong ", "thi tran "):
            short = short.removeprefix(prefix)
        assert row["commune_code"] and fold(row["commune_name"]).endswith(short), (f.path, rn, row["commune_name"])
    return checked


@pytest.mark.parametrize("layout", CLERK_LAYOUTS)
def test_clerk_headings_are_read_by_meaning(intake, migrated_engine, clerk_files, layout):
    """Accepted with the right counts; `columns` / `columns_ignored` as the manifest says; the rows at
    their numbers, the planted row reasons quarantined, the clean rows' values in the right fields; an
    unknown column holding data: `column_ignored`."""
    path, m = clerk_files[layout]
    (f,) = m.files
    out = intake(path, f.district)
    assert out.status == "accepted", (layout, out.reasons, out.message)
    data, skipped = expected_rows(m, f)
    assert (out.rows_total, out.rows_skipped) == (f.rows, skipped), (layout, out.rows_total, out.rows_skipped)
    assert out.rows_loaded + out.rows_quarantined == f.rows
    js = out.to_json()
    assert js["columns"] == f.columns, layout
    assert reported_ignored(out) == sorted(f.columns_ignored), (layout, js["columns_ignored"])
    assert not set(js["columns"]) & NUMBERING
    if f.columns_ignored_with_data:
        assert js["reasons"].get("column_ignored") == len(f.columns_ignored_with_data), (layout, js["reasons"])
    else:
        assert "column_ignored" not in js["reasons"], (layout, js["reasons"])
    # the rows: every data row at its number, quarantined exactly where a row-severity reason was planted
    got = stored(migrated_engine, "target_list", out.submission_id)
    assert sorted(set(got["rows"]) | set(got["quarantine"])) == data, layout
    must_quarantine = {d.row_number for d in m.defects if d.category == "cell" and d.reason
                       and SEVERITY[d.reason] == "row"}
    assert set(got["quarantine"]) == must_quarantine, (layout, set(got["quarantine"]) ^ must_quarantine)
    planted_reasons = {(d.row_number, d.reason) for d in m.defects if d.category == "cell" and d.reason}
    issues = {(rn, code) for rn, _, code in got["issues"]}
    assert planted_reasons <= issues, (layout, sorted(planted_reasons - issues)[:10])
    checked = _probe(path, m, f, got["rows"])
    assert checked["full_name"] > ROWS // 2 and checked["phone"] > ROWS // 2, checked


@pytest.mark.prefect
def test_campaign_intake_json_says_how_every_column_was_read(prefect_harness, campaign_home, clerk_files):
    """`campaign intake --json`: `columns` and `columns_ignored` as the manifest says, `column_ignored`
    counted in `reasons` (one per ignored column holding data)."""
    import json

    from click.testing import CliRunner

    from faces.cli import main

    path, m = clerk_files["xlsx_clerk_mobile"]
    (f,) = m.files
    result = CliRunner().invoke(main, ["intake", str(path), "-d", f.district, "-k", "target_list", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["status"] == "accepted" and payload["rows_total"] == f.rows
    assert payload["columns"] == f.columns
    assert sorted(payload["columns_ignored"]) == sorted(f.columns_ignored) == ["Kết quả import", "Tiền sử dị ứng"]
    assert payload["reasons"]["column_ignored"] == 2


def test_the_cccd_cmnd_column_loads_the_ids(intake, migrated_engine, clerk_files):
    """`Số CCCD/CMND`: the IDs land in target_list.id_number (CCCDs of 12 digits, CMNDs of 9)."""
    for layout in ("csv_clerk_short", "xlsx_clerk_short", "csv1258_clerk_short"):
        path, m = clerk_files[layout]
        (f,) = m.files
        out = intake(path, f.district)
        assert out.status == "accepted", (layout, out.reasons, out.message)
        assert out.to_json()["columns"]["Số CCCD/CMND"] == "id_number"
        raw = raw_rows(path, f)
        j = [collapse(cell_text(v)) for v in raw[f.header_rows[0] - 1]].index("Số CCCD/CMND")
        rows = stored(migrated_engine, "target_list", out.submission_id)["rows"]
        damaged = {d.row_number for d in m.defects if d.file == f.path and d.category == "cell"}
        ids = {rn: cell_text(raw[rn - 1][j]) for rn in rows if rn not in damaged and cell_text(raw[rn - 1][j])}
        assert len(ids) > ROWS // 2
        assert {rn: rows[rn]["id_number"] for rn in ids} == ids, layout
        assert {len(v) for v in ids.values()} == {9, 12}


def test_an_unknown_column_with_data_is_reported_and_an_empty_one_only_listed(intake, tmp_path):
    """`Dân tộc` holding data: `column_ignored`, named in `columns_ignored`; an empty `Ghi nhận thêm`
    is listed there too but is no reason."""
    people = build_world(300, SEED).people
    people = people[people["district_code"] == "633"].head(6)
    head = "STT,Họ và tên,Ngày sinh,Giới tính,Nhóm ưu tiên,Số điện thoại,Xã/Phường,Dân tộc,Tiền sử bệnh\n"
    lines = [f"{i},{p.full_name},{p.birth_date:%d/%m/%Y},{'Nữ' if p.female else 'Nam'},{p.priority_group},{p.phone},"
             f"{p.commune_name},{['Kinh', 'Jrai', 'Ba Na'][p.ethnic]},\n" for i, p in enumerate(people.itertuples(), 1)]
    path = tmp_path / "tl.csv"
    path.write_text(head + "".join(lines), encoding="utf-8")
    out = intake(path, "633")
    assert out.status == "accepted" and out.rows_loaded == len(lines), (out.reasons, out.message)
    js = out.to_json()
    assert js["columns"] == {"Họ và tên": "full_name", "Ngày sinh": "birth_date", "Giới tính": "sex",
                             "Nhóm ưu tiên": "priority_group", "Số điện thoại": "phone", "Xã/Phường": "commune_name"}
    assert reported_ignored(out) == ["Dân tộc", "Tiền sử bệnh"]
    assert js["reasons"].get("column_ignored") == 1, js["reasons"]


# ---------------------------------------------------------------------------------------------------------
# Property: an unknown column changes nothing but the report
# ---------------------------------------------------------------------------------------------------------

# Vietnamese words a heading could hold; those of the vocabulary (config/headings.yaml, the kinds'
# headers and aliases) are dropped below, so the heading drawn means no field.
HEADING_WORDS = ["Tôn giáo", "Bệnh nền", "Tiền sử", "Dị ứng", "Kết luận", "Học vấn", "Trình độ", "Sở thích",
                 "Hoàn cảnh", "Gia đình", "Mức độ", "Sức khỏe", "Cân nặng", "Chiều cao", "Huyết áp", "Phụ trách",
                 "Xác nhận", "Mang thai", "Bú mẹ", "Văn hóa", "Thu nhập", "Chính sách", "Hộ nghèo", "Đánh giá",
                 "Bổ sung", "Người nhập", "Lần cuối", "Khảo sát", "Đợt", "Ý kiến", "Phân loại", "Hỗ trợ",
                 "Học lực", "Béo phì", "Rượu bia", "Nhịp tim", "Sốt", "Mệt mỏi", "Phiếu", "Duyệt", "Kiểm tra",
                 "Rà soát", "Hạng", "Miễn dịch", "Phổi", "Nhà văn hóa", "Cựu chiến binh", "Khuyết tật"]
VALUE_PHRASES = ["Bình thường", "Tăng huyết áp", "Tiểu đường", "Hen suyễn", "Hải sản", "Chưa rõ", "Đã hỏi",
                 "Mang thai", "Bệnh tim", "Dị ứng thuốc", "Khỏe mạnh", "Ổn định", "Cần hỏi thêm", "Đã xác nhận",
                 "Hộ cận nghèo", "Gia đình chính sách", "Đã khảo sát"]
PROPERTY_KINDS = ("target_list", "facilities", "training", "communication", "vaccine_stock")


def _vocabulary() -> set[str]:
    """Every folded word a heading of any kind may be matched by."""
    kinds = load_input_kinds()
    texts = [t for k in kinds.names for c in kinds[k].columns for t in (c.name.replace("_", " "), c.header, *c.aliases)]
    headings = ROOT / "config" / "headings.yaml"
    if headings.is_file():
        def walk(x: Any) -> None:
            if isinstance(x, dict):
                texts.extend(str(k) for k in x)
                for v in x.values():
                    walk(v)
            elif isinstance(x, list):
                for v in x:
                    walk(v)
            elif isinstance(x, str):
                texts.append(x)
        walk(yaml.safe_load(headings.read_text(encoding="utf-8")))
    words = set()
    for t in texts:
        words.update("".join(ch if ch.isalnum() else " " for ch in fold(t)).split())
    return words


def _enum_word_sets() -> list[set[str]]:
    enums = load_input_kinds().enums
    return [set(fold(t).split()) for e in enums.values() for v in e.values() for t in (v.label, *v.variants)]


VOCABULARY = _vocabulary()
FREE_WORDS = [w for w in HEADING_WORDS if not set(fold(w).split()) & VOCABULARY]
FREE_VALUES = [p for p in VALUE_PHRASES if not any(s <= set(fold(p).split()) for s in _enum_word_sets())]


def test_the_unknown_headings_and_values_are_plenty():
    assert len(FREE_WORDS) >= 12, FREE_WORDS
    assert len(FREE_VALUES) >= 10, FREE_VALUES


@pytest.fixture(scope="module")
def small_campaign(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list, Manifest]:
    out = tmp_path_factory.mktemp("property_campaign")
    m = generate_campaign(out, people=600, seed=SEED)
    files = [f for f in m.files if f.kind in PROPERTY_KINDS and f.facility is None and f.rows
             and f.status != "rejected_version" and not any(d.file == f.path and d.category == "file" for d in m.defects)]
    return out, sorted(files, key=lambda f: f.path), m


def _data_rows(m: Manifest, f) -> tuple[list[int], set[int]]:
    """(data rows, rows repeating the header) of a file, from its manifest."""
    data, _ = expected_rows(m, f)
    repeats = {d.row_number for d in m.defects if d.file == f.path and d.code == "header_repeat"}
    return data, repeats


def _rewrite(src: Path, dst: Path, f, m: Manifest, extra: tuple[str, list[str]] | None) -> None:
    """The file as the district's own program saves it again, with one more column (`extra`: heading,
    one value per data row) or without (the same round trip, so only the column differs)."""
    data, repeats = _data_rows(m, f)
    value_of = dict(zip(data, extra[1], strict=True)) if extra else {}
    if f.format == "xlsx":
        wb = openpyxl.load_workbook(src)
        ws = wb[f.sheet]
        if extra:
            j = ws.max_column + 1
            top = f.header_rows[0]
            ws.cell(row=top, column=j, value=extra[0])
            if len(f.header_rows) == 2:
                ws.merge_cells(start_row=top, start_column=j, end_row=f.header_rows[1], end_column=j)
            for r in repeats:
                ws.cell(row=r, column=j, value=extra[0])
            for r, v in value_of.items():
                if v:
                    ws.cell(row=r, column=j, value=v)
        wb.save(dst)
        return
    raw = src.read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    text = unicodedata.normalize("NFC", raw.decode("cp1258") if f.encoding == "cp1258" else raw.decode("utf-8-sig"))
    end = "\r\n" if "\r\n" in text else "\n"
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if extra:
        for i, row in enumerate(rows, start=1):
            row.append(extra[0] if i in f.header_rows or i in repeats else value_of.get(i, ""))
    buf = io.StringIO()
    csv.writer(buf, lineterminator=end).writerows(rows)
    body = buf.getvalue()
    dst.write_bytes(encode_cp1258(body) if f.encoding == "cp1258" else (b"\xef\xbb\xbf" if bom else b"") + body.encode())


@pytest.mark.parametrize("backend", DATABASES)
def test_an_unknown_column_changes_nothing_but_the_report(fresh_migrated_engine, backend, small_campaign):
    """Any generated file of a few kinds, plus a column headed with random Vietnamese words meaning no field
    and holding random data: `column_ignored`, the heading in `columns_ignored`, and every loaded row,
    row reason and quarantined row exactly as without the column."""
    out_dir, files, m = small_campaign
    campaign = load_campaign()

    @seed(1038)
    @settings(max_examples=8, deadline=None, database=None, derandomize=False,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(f=st.sampled_from(files),
           words=st.lists(st.sampled_from(FREE_WORDS), min_size=1, max_size=3, unique=True),
           case=st.sampled_from(["as_is", "upper", "lower"]),
           data_seed=st.integers(0, 2**31 - 1), density=st.floats(0.05, 1.0))
    def check(f, words, case, data_seed, density):
        heading = {"as_is": " ".join(words), "upper": " ".join(words).upper(),
                   "lower": " ".join(words).lower()}[case]
        data, _ = _data_rows(m, f)
        rnd = random.Random(data_seed)
        values = [rnd.choice(FREE_VALUES) if rnd.random() < density else "" for _ in data]
        values[rnd.randrange(len(values))] = rnd.choice(FREE_VALUES)  # the column holds data
        with tempfile.TemporaryDirectory(prefix="h16-") as tmp:
            work = Path(tmp)
            ext = f.path.rsplit(".", 1)[1]
            plain, with_extra = work / f"plain.{ext}", work / f"extra.{ext}"
            _rewrite(out_dir / f.path, plain, f, m, None)
            _rewrite(out_dir / f.path, with_extra, f, m, (heading, values))
            with fresh_migrated_engine(backend, work) as engine:
                settings_ = Settings(home=work / "home")

                def run(path: Path, kind: str = f.kind) -> IntakeOutcome:
                    return run_intake(IntakeRequest(path=path, district=f.district, kind=kind, received_at=NOW),
                                      engine=engine, settings=settings_, campaign=campaign)

                if f.kind not in ("facilities", "target_list", "communication"):  # rows name the facilities
                    fac = next(x for x in m.files if x.district == f.district and x.kind == "facilities"
                               and x.status != "rejected_version")
                    assert run(out_dir / fac.path, "facilities").status == "accepted"
                before, after = run(plain), run(with_extra)
                assert before.status == "accepted", (f.path, f.layout, before.reasons, before.message)
                assert after.status == "accepted", (f.path, f.layout, heading, after.reasons, after.message)
                b, a = before.to_json(), after.to_json()
                assert a["columns"] == b["columns"], (f.path, heading)
                assert reported_ignored(after) == sorted([*reported_ignored(before), heading]), (f.path, heading)
                assert a["reasons"].get("column_ignored", 0) == b["reasons"].get("column_ignored", 0) + 1, \
                    (f.path, heading, a["reasons"])
                assert {k: v for k, v in a["reasons"].items() if k != "column_ignored"} == \
                    {k: v for k, v in b["reasons"].items() if k != "column_ignored"}, (f.path, heading)
                for key in ("rows_total", "rows_loaded", "rows_quarantined", "rows_skipped", "rows_with_warnings"):
                    assert a[key] == b[key], (f.path, heading, key)
                sb = stored(engine, f.kind, before.submission_id)
                sa_ = stored(engine, f.kind, after.submission_id)
                assert sa_["rows"] == sb["rows"], (f.path, heading)
                assert sa_["quarantine"] == sb["quarantine"], (f.path, heading)
                keep = [i for i in sa_["issues"] if i[2] != "column_ignored"]
                assert keep == [i for i in sb["issues"] if i[2] != "column_ignored"], (f.path, heading)

    check()


def test_the_property_draws_from_several_kinds_and_formats(small_campaign):
    _, files, _ = small_campaign
    assert {f.kind for f in files} == set(PROPERTY_KINDS)
    assert {f.format for f in files} == {"xlsx", "csv"} and any(f.encoding == "cp1258" for f in files)


# ---------------------------------------------------------------------------------------------------------
# Formulas without a value, a communication message in other words
# ---------------------------------------------------------------------------------------------------------


def test_a_formula_without_its_value_is_not_a_missing_name(intake, migrated_engine, tmp_path):
    """openpyxl stores a formula with no cached value: the clerk sees a name in Excel, the file holds
    none. That row: `formula_not_calculated` (on the name), never `name_missing`; the others load."""
    people = build_world(300, SEED).people
    people = people[people["district_code"] == "633"].head(5).reset_index(drop=True)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Danh sách"
    ws.append(["STT", "Họ và tên", "Ngày sinh", "Giới tính", "Nhóm ưu tiên", "Số điện thoại", "Số CMT/CCCD",
               "Xã/Phường"])
    for i, p in enumerate(people.itertuples(), start=1):
        ws.append([i, p.full_name, p.birth_date.strftime("%d/%m/%Y"), "Nữ" if p.female else "Nam", int(p.priority_group),
                   p.phone, p.id_number, p.commune_name])
    ws["B4"] = '=CONCATENATE("Nguyễn"," Văn A")'  # the third person's name, as a formula
    for r in range(2, 7):
        for c in ("C", "F", "G"):
            ws[f"{c}{r}"].number_format = "@"
    path = tmp_path / "ds.xlsx"
    wb.save(path)
    assert openpyxl.load_workbook(path, data_only=True)["Danh sách"]["B4"].value is None  # no cached value

    out = intake(path, "633")
    assert out.status == "accepted", (out.reasons, out.message)
    assert out.rows_total == 5 and out.reasons.get("formula_not_calculated") == 1, out.reasons
    assert "name_missing" not in out.reasons, out.reasons
    got = stored(migrated_engine, "target_list", out.submission_id)
    at_row4 = {(column, code) for rn, column, code in got["issues"] if rn == 4}
    assert ("full_name", "formula_not_calculated") in at_row4 and not {c for _, c in at_row4} & {"name_missing"}
    if SEVERITY["formula_not_calculated"] == "row":
        assert 4 in got["quarantine"] and "formula_not_calculated" in got["quarantine"][4]
    assert set(got["rows"]) | set(got["quarantine"]) == {2, 3, 4, 5, 6}
    assert {rn: r["full_name"] for rn, r in got["rows"].items() if rn != 4} == \
        {i + 2: people.at[i, "full_name"] for i in range(5) if i != 2}


def test_a_communication_message_in_other_words_is_accepted(intake, migrated_engine, tmp_path):
    """"Hướng dẫn đăng ký tiêm chủng" holds the words of exactly one option: how to register."""
    head = "Hoạt động,Kênh truyền thông,Nội dung thông điệp,Ngày thực hiện,Xã/Phường/Thị trấn,Số lượt tiếp cận\n"
    rows = ["Phát loa hướng dẫn người dân,Loa truyền thanh xã,Hướng dẫn đăng ký tiêm chủng,20/07/2021,Ia Blang,1200\n",
            "Đăng tin trên trang của huyện,Mạng xã hội,Hướng dẫn đăng ký tiêm chủng,21/07/2021,,3500\n",
            "Họp dân thôn,Họp dân,Tra cứu chứng nhận tiêm chủng,22/07/2021,Ia Glai,150\n"]
    path = tmp_path / "tt.csv"
    path.write_text(head + "".join(rows), encoding="utf-8")
    out = intake(path, "633", kind="communication")
    assert out.status == "accepted" and (out.rows_loaded, out.rows_quarantined) == (3, 0), (out.reasons, out.message)
    got = stored(migrated_engine, "communication", out.submission_id)
    assert [got["rows"][rn]["message"] for rn in (2, 3, 4)] == ["how_to_register", "how_to_register",
                                                               "certificate_lookup"]
    # read by its words: at most a repair that says so, nothing that warns or quarantines
    codes = {code for _, column, code in got["issues"] if column == "message"}
    assert all(SEVERITY[c] == "repair" for c in codes), got["issues"]


def test_the_catalogue_knows_the_new_reasons():
    reasons = load_reasons().reasons
    assert reasons["column_ignored"].severity == "warning" and reasons["column_guessed"].severity == "repair"
    assert "formula_not_calculated" in reasons
    assert CATALOGUE["commune_code_absent"].reason == "commune_from_name"
