"""Helpers for the portal's end-to-end browser test (tests/test_portal_e2e.py): the browser, the portal
served by uvicorn in a thread, a district's data prepared without the portal, and target lists written
into the portal's own Excel template."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import shutil
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying to reach Google on this closed network
# and every page is slow.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 900}
PASSWORD = "mat-khau-thu-nghiem-2021"
XLSX_MAGIC = b"PK\x03\x04"


def chromium_path() -> str:
    """Debian's Chromium (scripts/bootstrap.sh installs it); skip without it, except in CI, which fails."""
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if path:
        return path
    reason = "the portal's browser test needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


def is_xlsx(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == XLSX_MAGIC


# -- the portal, served in a thread ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(app: Any, *, start_timeout_s: float = 60) -> Iterator[str]:
    """Run `app` (lifespan included: it starts the warm workers) with uvicorn in a background thread;
    yields its base URL once `/suc-khoe` answers, stops it at the end."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="portal-uvicorn", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + start_timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{base}/suc-khoe", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if not thread.is_alive():
            raise RuntimeError("the portal's server thread stopped while starting")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError(f"the portal did not answer /suc-khoe within {start_timeout_s:.0f} s")
        time.sleep(0.1)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(60)   # the lifespan's end stops the worker processes (each at its next idle poll)


# -- a district's data, without the portal ----------------------------------------------------------------


def prepare_district(res: Any, out_dir: Path, district: str, *, people: int = 300, seed: int = 7) -> dict[str, int]:
    """Accepted facilities, staff (one facility's team list is enough for the deadline) and vaccine stock
    for `district`, taken in with `run_intake` from a small synthetic province. Returns kind -> rows."""
    from campaign.intake.rules import IntakeRequest
    from campaign.intake.run import run_intake
    from campaign.synth.run import generate_campaign

    manifest = generate_campaign(out_dir, people=people, seed=seed)
    loaded: dict[str, int] = {}
    for kind in ("facilities", "staff", "vaccine_stock"):
        entry = next(f for f in manifest.files if f.district == district and f.kind == kind and f.status != "rejected_version")
        out = run_intake(IntakeRequest(path=out_dir / entry.path, district=district, kind=kind, facility=entry.facility),
                         engine=res.engine, settings=res.settings, campaign=res.campaign)
        assert out.status == "accepted", (kind, entry.path, out)
        loaded[kind] = out.rows_loaded
    return loaded


def add_accounts(engine: Any, accounts: dict[str, tuple[str, str | None]]) -> None:
    """username -> (role, district code)."""
    from sqlalchemy.orm import Session

    from campaign.accounts import add_user

    with Session(engine) as session, session.begin():
        for username, (role, district) in accounts.items():
            add_user(session, username=username, password=PASSWORD, role=role, district_code=district,
                     display_name=f"Thử nghiệm {district or 'Sở Y tế'}", by="test")


# -- target lists written into the portal's template --------------------------------------------------------

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ",
          "Ngô", "Dương", "Lý", "Ksor", "Siu", "Rơ Châm", "Nay"]
MIDDLE = {"Nam": ["Văn", "Đức", "Minh", "Hữu", "Quang", "Thanh", "Công"],
          "Nữ": ["Thị", "Ngọc", "Thu", "Kim", "Hồng", "Mỹ", "Phương"]}
GIVEN = {"Nam": ["An", "Bảo", "Bình", "Cường", "Dũng", "Đạt", "Hải", "Hiếu", "Hùng", "Khánh", "Long", "Lộc",
                 "Nghĩa", "Phong", "Quân", "Sơn", "Thắng", "Tuấn", "Việt", "Vinh"],
         "Nữ": ["Ánh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hoa", "Hương", "Lan", "Linh", "Mai",
                "Nga", "Ngân", "Nhung", "Quỳnh", "Thảo", "Trang", "Vân", "Yến"]}
PHONE_PREFIXES = ["032", "035", "038", "086", "096", "097", "098", "090", "093", "091", "094", "088"]


@dataclass(frozen=True)
class Person:
    full_name: str | None
    birth_date: dt.date | str | None
    sex: str
    priority_group: int
    phone: str
    commune_name: str
    commune_code: str | None
    address: str


def _communes(district: str) -> list[tuple[str, str, str]]:
    """(code, official name, short name) of the district's communes."""
    from campaign.domain.admin_units import get_admin_units

    return [(u.code, u.name, u.short_name) for u in get_admin_units().communes_of(district)]


def people(n: int, district: str, seed: int) -> list[Person]:
    """`n` valid adults living in `district`'s communes (distinct names and phones: no duplicate warnings)."""
    rng = random.Random(seed)
    communes = _communes(district)
    out, seen = [], set()
    while len(out) < n:
        sex = rng.choice(["Nam", "Nữ"])
        name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE[sex])} {rng.choice(GIVEN[sex])}"
        born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 50))
        if (name, born) in seen:
            continue
        seen.add((name, born))
        code, commune, _ = rng.choice(communes)
        out.append(Person(name, born, sex, rng.randint(1, 16), f"{rng.choice(PHONE_PREFIXES)}{len(out):07d}",
                          commune, code, f"Tổ {rng.randint(1, 12)}"))
    return out


def spoil(rows: list[Person], *, district: str, other_district: str, share: float,
          seed: int) -> tuple[list[Person], dict[int, str]]:
    """A copy where `share` of the rows have a row-level error, in turn: no name, a birth date that does not
    exist (31/02), a commune of another district (so the whole file is rejected when share > 0.5).
    Returns the rows and {index of a spoilt row: the reason code the portal should give}."""
    from dataclasses import replace

    from campaign.domain.text import fold

    rng = random.Random(seed)
    home = {fold(short) for _, _, short in _communes(district)}
    # only communes whose name the district does not have: a homonym (Tây Sơn and An Phú are both in
    # Pleiku and in An Khê) resolves by its name in the district, the foreign code is replaced
    # (`commune_from_name`, as campaign/domain/standardize/communes.py documents) and the row loads
    foreign = [(code, name) for code, name, short in _communes(other_district) if fold(short) not in home]
    bad = set(rng.sample(range(len(rows)), round(len(rows) * share)))
    out, reasons = [], {}
    for i, p in enumerate(rows):
        if i in bad:
            which = i % 3
            if which == 0:
                p, reasons[i] = replace(p, full_name=None), "name_missing"
            elif which == 1:
                p, reasons[i] = replace(p, birth_date=f"31/02/{1960 + i % 40}"), "dob_invalid"
            else:
                code, name = rng.choice(foreign)
                p, reasons[i] = replace(p, commune_name=name, commune_code=code), "commune_outside_district"
        out.append(p)
    return out, reasons


def fill_template(template: Path, out: Path, rows: list[Person], *, district: str) -> tuple[str, int]:
    """The downloaded template with `rows` typed in under its header row (found by its «STT» cell, the
    columns by their headers), the way a clerk fills it; the rest of the workbook is kept. Returns the
    sheet's name and the Excel row number of the first data row."""
    import openpyxl

    from campaign.domain.admin_units import get_admin_units

    units = get_admin_units()
    d = units.district(district)
    province = units.province(d.parent_code)
    wb = openpyxl.load_workbook(template)
    ws = wb.worksheets[0]
    header_row = next(r for r in range(1, 20) if ws.cell(r, 1).value == "STT")
    col = {str(ws.cell(header_row, c).value).removesuffix(" (*)"): c
           for c in range(1, ws.max_column + 1) if ws.cell(header_row, c).value}
    for i, p in enumerate(rows, start=1):
        r = header_row + i
        values = {"STT": i, "Họ và tên": p.full_name, "Ngày sinh dạng dd/mm/yyyy": p.birth_date, "Giới tính": p.sex,
                  "Mã nhóm đối tượng ưu tiên": p.priority_group, "Số điện thoại": p.phone,
                  "Tỉnh/Thành phố": province.name, "Mã Tỉnh": province.code, "Quận/Huyện": d.name,
                  "Mã Quận/Huyện": d.code, "Xã/Phường": p.commune_name, "Mã Xã/Phường": p.commune_code,
                  "Địa chỉ chi tiết": p.address}
        for header, value in values.items():
            cell = ws.cell(r, col[header], value)
            if isinstance(value, dt.date):
                cell.number_format = "dd/mm/yyyy"
            elif isinstance(value, str) and header in ("Số điện thoại", "Mã Tỉnh", "Mã Quận/Huyện", "Mã Xã/Phường"):
                cell.number_format = "@"
    wb.save(out)
    return ws.title, header_row + 1


def sign_in(browser, base: str, username: str):  # noqa: ANN001, ANN201
    """A new browser context signed in as `username` (PASSWORD), on the page the portal sends it to."""
    import re

    context = browser.new_context(base_url=base, viewport=VIEWPORT, accept_downloads=True, locale="vi-VN")
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto("/dang-nhap")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/dang-nhap'] button[type=submit]")
    page.wait_for_url(re.compile(r"/(huyen/\d+|tinh)$"))
    return context, page
