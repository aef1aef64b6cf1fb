"""Fuzzing the reader and the intake with mutated district files (issue 18).

Small valid files (hand-built xlsx with inline or shared strings, an xlsxwriter workbook, CSV in UTF-8 and
Windows-1258, a BIFF8 .xls, a BIFF12 .xlsb, an .ods) are mutated the ways hostile or damaged uploads differ from good
ones: truncated, bytes flipped (in the file or inside a zip member), cell and dimension references made
huge, references removed, shared-string indices past the table, NUL bytes, invalid UTF-8, a very long
cell, thousands of columns, a long sheet name; and the ways the measure itself was fooled: a quoted `>`
or a second `r` in a cell tag, references padded with zeros, markup inside a comment, shared strings
announcing billions, a hundred sheets before the list, an .xls DIMENSIONS record that lies, ods repeat
counts spelled as calamine still reads them, formulas repeated without values, CSV lines ended by CR
alone, rows padded with thousands of commas. Each mutated file goes through `read_submission` and, for
a share of them, the whole intake on SQLite.

Every read and intake runs in one child process whose address space is capped (RLIMIT_AS 1.5 GB, ~0.7 GB
of it is the imported libraries): a reader that builds a huge grid dies there (calamine aborts, numpy and
pandas raise MemoryError) and the test fails with the example; tracemalloc would not see calamine's
allocations. The promises checked: a refusal is a Vietnamese sentence under a catalogue code; a read is
rows aligned with their row numbers; an intake either rejects the file and loads nothing or loads exactly
`rows_loaded` rows and quarantines exactly `rows_quarantined`, never an unexpected exception.

Seeded (`derandomize=True`) and bounded: ~250 reads and ~40 intakes, about a minute on 2 cores.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import xlsxwriter
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from campaign.config_reasons import load_reasons
from tests.test_hostile_files import HEADER, ROW, ods_file, sheet_xml, xlsb_file, xlsx_file
from tests.test_reader import _biff8_workbook, _biff_record, _ole2_file

ROOT = Path(__file__).resolve().parent.parent
CAP_GB = 1.5
ANSWER_SECONDS = 60
VIETNAMESE = re.compile(r"[ăâđêôơưáàảãạếềểễệốồổỗộớờởỡợứừửữựíìỉĩịúùủũụýỳỷỹỵ]", re.IGNORECASE)
ROWS = [HEADER, ROW, ["2", "Ksor H'Blang", "15/03/1975", "1", "10", "0351234567", "Ia Blang"],
        ["3", "Rơ Châm Thuận", "20/11/1969", "0", "9", "0981112223", "Ia Glai"]]

WORKER = r"""
import json, os, resource, sys, traceback, datetime as dt
from pathlib import Path
answers = os.fdopen(os.dup(1), "w")   # the answers' own channel: whatever a library prints goes to stderr
os.dup2(2, 1)
sys.stdout = sys.stderr
cap = int(float(sys.argv[1]) * 2**30)
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
import sqlalchemy as sa
from campaign.config import load_campaign
from campaign.intake.rules import IntakeRequest
from campaign.intake.run import run_intake
from campaign.io.reader import ReadError, read_submission
from campaign.settings import Settings
from campaign.store.db import make_engine, migrate
from campaign.store.models import KIND_TABLES, QuarantineRow, Submission

home = Path(sys.argv[2])
engine = make_engine(f"sqlite:///{home / 'fuzz.sqlite3'}")
migrate(engine)
settings, campaign = Settings(home=home), load_campaign()
now = dt.datetime(2021, 7, 28, 8, tzinfo=dt.timezone(dt.timedelta(hours=7)))

def read(path, kind):
    try:
        res = read_submission(path, kind, max_bytes=50 * 2**20, max_rows=1_000_000)
    except ReadError as exc:
        return {"code": exc.code, "detail": exc.detail_vi}
    return {"rows": len(res.frame), "row_numbers": len(res.row_numbers), "sheet": res.sheet}

def intake(path, kind):
    out = run_intake(IntakeRequest(path=Path(path), district="633", kind=kind, received_at=now),
                     engine=engine, settings=settings, campaign=campaign)
    table = KIND_TABLES[kind]
    with engine.connect() as conn:
        def n(t, col):
            return conn.execute(sa.select(sa.func.count()).select_from(t).where(col == out.submission_id)).scalar_one()
        stored = conn.execute(sa.select(Submission.status, Submission.rows_loaded, Submission.rows_quarantined)
                              .where(Submission.id == out.submission_id)).one()
        loaded, quarantined = n(table, table.c.submission_id), n(QuarantineRow.__table__, QuarantineRow.submission_id)
    return {"status": out.status, "reasons": out.reasons, "message": out.message, "rows_total": out.rows_total,
            "rows_loaded": out.rows_loaded, "rows_quarantined": out.rows_quarantined, "table_rows": loaded,
            "quarantine_rows": quarantined, "stored": list(stored)}

print(json.dumps({"ready": True, "cap": resource.getrlimit(resource.RLIMIT_AS)[0]}), file=answers, flush=True)
for line in sys.stdin:
    ask = json.loads(line)
    try:
        answer = (read if ask["op"] == "read" else intake)(ask["path"], ask["kind"])
    except Exception:
        answer = {"error": traceback.format_exc()}
    print(json.dumps(answer), file=answers, flush=True)
"""


class Worker:
    """One capped child process answering read/intake requests, one JSON line each."""

    def __init__(self, home: Path):
        home.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER, str(CAP_GB), str(home)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=open(home / "stderr.txt", "w"),  # noqa: SIM115
                                     text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        self.home = home
        assert self._answer(120).get("cap") == int(CAP_GB * 2**30)   # the child really is capped

    def _died(self, label: str = "") -> None:
        self.proc.kill()
        stderr = (self.home / "stderr.txt").read_text(errors="replace")
        cause = [line for line in stderr.splitlines() if "memory allocation" in line or "Error" in line][:3]
        pytest.fail(f"the capped worker died or hung on {label} (exit {self.proc.wait()}): {cause} ... "
                    f"{stderr[-1500:]}")

    def _answer(self, timeout: float, label: str = "") -> dict:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self._died(label)
        return json.loads(line)

    def ask(self, op: str, path: Path, kind: str = "target_list", label: str = "") -> dict:
        label = f"{label or path.name} ({path})"
        try:
            self.proc.stdin.write(json.dumps({"op": op, "path": str(path), "kind": kind}) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:   # it died on an earlier file
            self._died(f"a file before {label}")
        answer = self._answer(ANSWER_SECONDS, label)
        assert "error" not in answer, f"{label}: unexpected exception\n{answer['error']}"
        return answer

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError):   # it died: the failing test said so
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    w = Worker(tmp_path_factory.mktemp("fuzz-worker"))
    yield w
    w.close()


# ---------------------------------------------------------------------------------------------------------
# Seeds: small valid files of every format the reader takes
# ---------------------------------------------------------------------------------------------------------


def shared_strings_xlsx(path: Path) -> Path:
    """The rows as shared strings (`t="s"`, as Excel writes them), for index mutations."""
    strings = sorted({v for r in ROWS for v in r})
    index = {s: i for i, s in enumerate(strings)}
    body = "".join(f'<row r="{i + 1}">' + "".join(
        f'<c r="{chr(65 + j)}{i + 1}" t="s"><v>{index[v]}</v></c>' for j, v in enumerate(r)) + "</row>"
        for i, r in enumerate(ROWS))
    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
             f'spreadsheetml/2006/main"><dimension ref="A1:G{len(ROWS)}"/><sheetData>{body}</sheetData></worksheet>')
    xlsx_file(path, sheet)
    sst = ('<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
           f'2006/main" count="{len(strings)}" uniqueCount="{len(strings)}">'
           + "".join(f"<si><t>{s}</t></si>" for s in strings) + "</sst>")
    rels = ('<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats'
            '.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
    return rezip(path, {"xl/sharedStrings.xml": sst.encode(), "xl/_rels/workbook.xml.rels": rels.encode()})


def rezip(path: Path, replace: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path) as z:
        members = {i.filename: z.read(i.filename) for i in z.infolist()}
    members.update(replace)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def xlsxwriter_file(path: Path) -> Path:
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    ws = wb.add_worksheet("Danh sách")
    for r, row in enumerate(ROWS):
        for c, v in enumerate(row):
            ws.write_string(r, c, v)
    ws.write_formula(len(ROWS), 0, "=ROW()-1")
    wb.close()
    return path


def csv_bytes(encoding: str) -> bytes:
    text = "\n".join(",".join(r) for r in ROWS) + "\n"
    if encoding == "cp1258":
        from campaign.domain.vn_legacy import encode_cp1258

        return encode_cp1258(text)
    return text.encode(encoding)


SEEDS = ["xlsx-inline", "xlsx-shared", "xlsxwriter", "csv-utf8", "csv-bom", "csv-1258", "xls", "xlsb", "ods"]


def seed_file(kind: str, directory: Path) -> Path:
    if kind == "xlsx-inline":
        return xlsx_file(directory / "seed.xlsx", sheet_xml(ROWS, dimension=f"A1:G{len(ROWS)}"))
    if kind == "xlsx-shared":
        return shared_strings_xlsx(directory / "seed.xlsx")
    if kind == "xlsxwriter":
        return xlsxwriter_file(directory / "seed.xlsx")
    if kind == "xls":
        path = directory / "seed.xls"
        path.write_bytes(_ole2_file(_biff8_workbook("DS", ROWS)))
        return path
    if kind == "ods":
        return ods_file(directory / "seed.ods", rows=tuple(ROWS))
    if kind == "xlsb":
        return xlsb_file(directory / "seed.xlsb", ROWS)
    path = directory / "seed.csv"
    path.write_bytes({"csv-utf8": csv_bytes("utf-8"), "csv-bom": csv_bytes("utf-8-sig"),
                      "csv-1258": csv_bytes("cp1258")}[kind])
    return path


# ---------------------------------------------------------------------------------------------------------
# Mutations
# ---------------------------------------------------------------------------------------------------------

col_letters = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=4)
huge_row = st.one_of(st.integers(1, 40), st.integers(1, 10_000_000))
ref = st.builds(lambda c, r: f"{c}{r}", col_letters, huge_row)

BASE_XML_MUTATIONS = (
    st.tuples(st.just("cell-ref"), ref),                          # one cell moved far away
    st.tuples(st.just("dimension"), ref),                         # a dimension that lies
    st.tuples(st.just("row-ref"), huge_row.map(str)),             # a row element far below
    st.tuples(st.just("drop-refs"), st.just("")),                 # cells placed by position
    st.tuples(st.just("sst-index"), st.integers(-5, 10**12).map(str)),   # a shared string past the table
    st.tuples(st.just("long-cell"), st.integers(1_000, 200_000).map(str)),
    st.tuples(st.just("many-columns"), st.integers(100, 20_000).map(str)),
    st.tuples(st.just("nul"), st.just("")),
    st.tuples(st.just("bad-utf8"), st.just("")),
    st.tuples(st.just("sheet-name"), st.integers(32, 400).map(str)),
    st.tuples(st.just("formula"), st.just("")),
)
XML_MUTATIONS = st.one_of(*BASE_XML_MUTATIONS)
MEASURE_XML_MUTATIONS = st.one_of(
    *BASE_XML_MUTATIONS,
    # the measure's own blind spots (review of issue 18): a `>` inside a quoted attribute before the `r`,
    # a second `r` (calamine takes the last), a reference padded with zeros past nine digits, markup in a
    # comment, shared strings announcing more than they hold, many sheets before the list
    st.tuples(st.just("quoted-gt"), ref),
    st.tuples(st.just("second-r"), ref),
    st.tuples(st.just("zero-pad"), st.integers(1, 16).map(str)),
    st.tuples(st.just("comment-decoy"), ref),
    st.tuples(st.just("sst-count"), st.integers(1, 10**10).map(str)),
    st.tuples(st.just("many-sheets"), st.integers(1, 130).map(str)),
)
BYTE_MUTATIONS = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0.0, 1.0)),
    st.tuples(st.just("flip"), st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), min_size=1, max_size=8)),
    st.tuples(st.just("nul"), st.floats(0.0, 1.0)),
    st.tuples(st.just("insert"), st.tuples(st.floats(0.0, 1.0), st.binary(min_size=1, max_size=64))),
)
BASE_CSV_MUTATIONS = (
    BYTE_MUTATIONS,
    st.tuples(st.just("wide-line"), st.integers(100, 40_000)),
    st.tuples(st.just("long-cell"), st.integers(1_000, 500_000)),
    st.tuples(st.just("mixed-encoding"), st.just(0)),
    st.tuples(st.just("bad-utf8"), st.just(0)),
    st.tuples(st.just("emoji-names"), st.just(0)),
)
CSV_MUTATIONS = st.one_of(*BASE_CSV_MUTATIONS)
MEASURE_CSV_MUTATIONS = st.one_of(
    *BASE_CSV_MUTATIONS,
    st.tuples(st.just("cr-only"), st.integers(0, 3_000_000)),     # old Mac line ends, and a run of them
    st.tuples(st.just("padded-row"), st.integers(1, 20_000)),     # Excel's export of a row padded with commas
)


def _at(data: bytes, where: float) -> int:
    return min(int(where * len(data)), max(len(data) - 1, 0))


def mutate_bytes(data: bytes, how: tuple) -> bytes:
    op, arg = how
    if op == "truncate":
        return data[:_at(data, arg)]
    if op == "flip":
        out = bytearray(data)
        for where, value in arg:
            if out:
                out[_at(data, where)] = value
        return bytes(out)
    if op == "nul":
        i = _at(data, arg)
        return data[:i] + b"\x00" * 16 + data[i:]
    where, blob = arg
    i = _at(data, where)
    return data[:i] + blob + data[i:]


def mutate_sheet(xml: bytes, how: tuple) -> bytes:
    op, arg = how
    text = xml.decode("utf-8", errors="surrogateescape")
    if op == "cell-ref":
        text = re.sub(r'(<c r=")[A-Z]+\d+(")', lambda m: m.group(1) + arg + m.group(2), text, count=1)
    elif op == "dimension":
        text = re.sub(r'<dimension ref="[^"]*"/>', "", text)
        text = text.replace("<sheetData>", f'<dimension ref="A1:{arg}"/><sheetData>', 1)
    elif op == "row-ref":
        text = text.replace("</sheetData>", f'<row r="{arg}"><c t="inlineStr"><is><t>x</t></is></c></row></sheetData>')
    elif op == "drop-refs":
        text = re.sub(r' r="[A-Z]*\d+"', "", text)
    elif op == "sst-index":
        text = re.sub(r"<v>\d+</v>", f"<v>{arg}</v>", text, count=3)
    elif op == "long-cell":
        text = re.sub(r"<t>Nguyễn Văn An</t>", "<t>" + "Nguyễn " * (int(arg) // 7) + "</t>", text, count=1)
    elif op == "many-columns":
        cells = '<c t="inlineStr"><is><t>y</t></is></c>' * int(arg)
        text = text.replace("</sheetData>", f"<row>{cells}</row></sheetData>")
    elif op == "nul":
        text = text.replace("Ksor", "Ks\x00or", 1)
    elif op == "bad-utf8":
        return text.encode("utf-8", errors="surrogateescape").replace("Rơ".encode(), b"R\xc6\x20", 1)
    elif op == "formula":
        text = re.sub(r'<c r="(A\d+)"[^>]*>.*?</c>', r'<c r="\1"><f>ROW()-1</f></c>', text, count=4)
    elif op == "quoted-gt":
        text = re.sub(r'<c r="[A-Z]+\d+"', f'<c x="a>b" r="{arg}"', text, count=1)
    elif op == "second-r":
        text = re.sub(r'(<c r="[A-Z]+\d+")', rf'\1 r="{arg}"', text, count=1)
    elif op == "zero-pad":
        text = re.sub(r'(<c r="[A-Z]+)(\d+")', lambda m: m.group(1) + "0" * int(arg) + m.group(2), text, count=1)
    elif op == "comment-decoy":
        text = text.replace("</sheetData>", f'<!-- <row r="1"><c r="{arg}"/></row> --></sheetData>')
    return text.encode("utf-8", errors="surrogateescape")


def mutate_workbook(path: Path, how: tuple) -> Path:
    op, arg = how
    with zipfile.ZipFile(path) as z:
        members = {i.filename: z.read(i.filename) for i in z.infolist()}
    if op == "sheet-name":
        members["xl/workbook.xml"] = re.sub(rb'name="[^"]*"', b'name="' + b"T" * int(arg) + b'"',
                                            members["xl/workbook.xml"], count=1)
    elif op == "sst-count":   # calamine reads this part by its name, related or not
        sst = members.get("xl/sharedStrings.xml", b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats'
                                                  b'.org/spreadsheetml/2006/main" uniqueCount="1"><si><t>a</t></si></sst>')
        members["xl/sharedStrings.xml"] = re.sub(rb'uniqueCount="\d+"', b'uniqueCount="' + arg.encode() + b'"', sst,
                                                 count=1)
    elif op == "many-sheets":
        # that many sheets without the list before it, all one part (a sheet of notes)
        rel = b"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
        members["xl/worksheets/notes.xml"] = sheet_xml([["Ghi chú"], ["x"]]).encode()
        members["xl/workbook.xml"] = re.sub(rb"(<sheets>)", lambda m: m.group(1) + b"".join(
            b'<sheet name="N%d" sheetId="%d" r:id="rN%d"/>' % (i, 1000 + i, i) for i in range(int(arg))),
            members["xl/workbook.xml"], count=1)
        members["xl/_rels/workbook.xml.rels"] = members["xl/_rels/workbook.xml.rels"].replace(
            b"</Relationships>", b"".join(b'<Relationship Id="rN%d" Type="%s" Target="worksheets/notes.xml"/>'
                                          % (i, rel) for i in range(int(arg))) + b"</Relationships>")
    else:
        sheet = next(n for n in members if n.startswith("xl/worksheets/") and n.endswith(".xml"))
        members[sheet] = mutate_sheet(members[sheet], how)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def mutate_csv(data: bytes, how: tuple) -> bytes:
    op, arg = how
    if op == "wide-line":
        return data + b"," * arg + b"x\n"
    if op == "long-cell":
        return data.replace(b"Ksor H'Blang", ("Ksor " * (arg // 5)).encode(), 1)
    if op == "mixed-encoding":
        from campaign.domain.vn_legacy import encode_cp1258

        return data + encode_cp1258("4,Trần Thị Hường,01/02/1980,1,9,0912345670,Ia Blang\n")
    if op == "bad-utf8":
        return data.replace(b"Ksor", b"K\xff\xfeor", 1)
    if op == "emoji-names":
        return data.replace(b"Ksor H'Blang", "Ksor 😀 H'Blang".encode(), 1).replace(
            "Rơ Châm".encode(), "Rơ\ufeffChâm".encode(), 1)
    if op == "cr-only":
        return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r") + b"\r" * arg
    if op == "padded-row":
        first = data.find(b"\n", data.find(b"\n") + 1)
        return data if first < 0 else data[:first] + b"," * arg + data[first:]
    return mutate_bytes(data, how)


@st.composite
def mutated_files(draw, directory: Path, measure: bool = False):
    """A seed file mutated. `measure`: also the ways the measure of campaign/io/extent/ was fooled (the
    reads draw them; the intakes keep the draws they always made)."""
    kind = draw(st.sampled_from(SEEDS))
    path = seed_file(kind, directory)
    steps = []
    if kind.startswith("csv"):
        data = path.read_bytes()
        for how in draw(st.lists(MEASURE_CSV_MUTATIONS if measure else CSV_MUTATIONS, min_size=1, max_size=3)):
            data = mutate_csv(data, how)
            steps.append(how[0])
        path.write_bytes(data)
    elif kind == "xls" and draw(st.booleans()):
        stream = _biff8_workbook("DS", ROWS)
        if not measure or draw(st.booleans()):
            # a cell record anywhere a BIFF record can put one (columns are 16 bits in the record)
            row, col = draw(st.integers(0, 65535)), draw(st.integers(0, 65535))
            label = _biff_record(0x0204, struct.pack("<HHH", row, col, 15) + struct.pack("<HB", 1, 1) + b"x\x00")
            path.write_bytes(_ole2_file(stream[:-4] + label + stream[-4:]))
            steps.append(f"cell at {row},{col}")
        else:
            # a DIMENSIONS record that lies: calamine reserves (last - first) rows x columns from it
            dims = (draw(st.integers(0, 2**32 - 1)), draw(st.one_of(st.integers(0, 70_000), st.integers(0, 2**32 - 1))),
                    draw(st.integers(0, 65535)), draw(st.integers(0, 300)))
            i = stream.find(struct.pack("<HH", 0x0200, 14))
            stream = stream[:i] + _biff_record(0x0200, struct.pack("<IIHHH", *dims, 0)) + stream[i + 18:]
            path.write_bytes(_ole2_file(stream))
            steps.append(f"dimensions {dims}")
    elif kind == "xlsb" and draw(st.booleans()):
        far = draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 2**32 - 1))
        xlsb_file(path, ROWS, far=far)
        steps.append(f"cell at {far}")
    elif kind == "ods" and draw(st.booleans()):
        rows, cols = draw(st.integers(1, 2_000_000)), draw(st.integers(1, 40_000))
        spelling = 'table:number-rows-repeated="{}"'
        cell = ('<table:table-cell office:value-type="string" table:number-columns-repeated="{}"><text:p>x</text:p>'
                '</table:table-cell>')
        if measure:
            # the count as calamine reads it, whatever else the tag says (a decoy of another prefix, a quoted
            # `>`, a plus sign); a formula without a value is laid out too
            spelling = draw(st.sampled_from([spelling, 'x:number-rows-repeated="1" ' + spelling,
                                             'x:a="&gt;>" ' + spelling, 'table:number-rows-repeated="+{}"']))
            cell = draw(st.sampled_from([cell, '<table:table-cell table:formula="of:=1" '
                                               'table:number-columns-repeated="{}"/>']))
        ods_file(path, rows=tuple(ROWS), extra_rows=(
            f"<table:table-row {spelling.format(rows)}>{cell.format(cols)}</table:table-row>"))
        steps.append(f"repeated {rows} x {cols} ({spelling.split('=')[0]}, {cell[:30]})")
    elif kind in ("xls", "xlsb", "ods") or draw(st.booleans()) and draw(st.booleans()):
        how = draw(BYTE_MUTATIONS)   # the raw bytes: compound file sectors, zip headers
        path.write_bytes(mutate_bytes(path.read_bytes(), how))
        steps.append(how[0])
    else:
        for how in draw(st.lists(MEASURE_XML_MUTATIONS if measure else XML_MUTATIONS, min_size=1, max_size=3)):
            mutate_workbook(path, how)
            steps.append(how[0])
    return kind, steps, path


CODES = set(load_reasons().reasons)


def check_read(answer: dict, label: str) -> None:
    if "code" in answer:
        assert answer["code"] in CODES, label
        assert load_reasons()[answer["code"]].severity == "blocking", label
        assert answer["detail"] and VIETNAMESE.search(answer["detail"]), (label, answer)
    else:
        assert answer["rows"] == answer["row_numbers"] >= 0, (label, answer)


def check_intake(answer: dict, label: str) -> None:
    assert answer["status"] in ("accepted", "rejected", "duplicate"), (label, answer)
    # a duplicate (the same bytes drawn twice) answers with the accepted submission it repeats
    status = "accepted" if answer["status"] == "duplicate" else answer["status"]
    assert answer["stored"] == [status, answer["rows_loaded"], answer["rows_quarantined"]], label
    assert set(answer["reasons"]) <= CODES, (label, answer["reasons"])
    if answer["status"] == "rejected":
        assert answer["message"] and VIETNAMESE.search(answer["message"]), (label, answer)
        assert answer["table_rows"] == 0 and answer["rows_loaded"] == 0, (label, answer)   # nothing half-loaded
    else:
        assert answer["table_rows"] == answer["rows_loaded"], (label, answer)
        assert answer["quarantine_rows"] == answer["rows_quarantined"], (label, answer)
        assert answer["rows_loaded"] + answer["rows_quarantined"] == answer["rows_total"], (label, answer)


FUZZ = dict(derandomize=True, deadline=None, database=None, print_blob=True,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                   HealthCheck.data_too_large])


@settings(max_examples=250, **FUZZ)
@given(data=st.data())
def test_a_mutated_file_is_read_or_refused_in_bounded_memory(worker, tmp_path_factory, data):
    directory = tmp_path_factory.mktemp("read")
    kind, steps, path = data.draw(mutated_files(directory, measure=True))
    answer = worker.ask("read", path, label=f"{kind} {steps}")
    event("refused" if "code" in answer else "read")
    for step in steps:
        event(f"{kind}: {step.split(' (')[0] if kind == 'ods' else step.split(' ')[0]}")
    check_read(answer, f"{kind} {steps}")


@settings(max_examples=40, **FUZZ)
@given(data=st.data())
def test_a_mutated_file_is_refused_whole_or_loaded_exactly_as_counted(worker, tmp_path_factory, data):
    directory = tmp_path_factory.mktemp("intake")
    kind, steps, path = data.draw(mutated_files(directory))
    answer = worker.ask("intake", path, label=f"{kind} {steps}")
    event(f"{answer.get('status')}{' with quarantined rows' if answer.get('rows_quarantined') else ''}")
    check_intake(answer, f"{kind} {steps}")


def test_the_seeds_themselves_are_read_whole(worker, tmp_path):
    for kind in SEEDS:
        directory = tmp_path / kind
        directory.mkdir()
        answer = worker.ask("read", seed_file(kind, directory))
        # the xlsxwriter workbook has a fourth row: a numbering formula without its value
        assert answer.get("rows") == (4 if kind == "xlsxwriter" else 3), (kind, answer)
