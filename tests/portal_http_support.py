"""Helpers for the portal's HTTP tests (tests/test_portal.py): a portal on a fresh CAMPAIGN_HOME with three
accounts, signed-in TestClients, CSRF tokens scraped from the pages, uploads as a browser sends them."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

BASE = "http://testserver"
NOW = "2021-07-28T10:00"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ALERT = re.compile(r'<p class="error" role="alert">(.*?)</p>', re.S)

# (username, role, district, password)
ACCOUNTS = [
    ("ttyt622", "district", "622", "mat-khau-huyen-622"),
    ("ttyt633", "district", "633", "mat-khau-huyen-633"),
    ("syt.dieuphoi", "coordinator", None, "mat-khau-so-y-te"),
]
PASSWORD = {name: password for name, _role, _district, password in ACCOUNTS}


def csrf_in(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no csrf_token in the page"
    return found.group(1)


def alert_in(html: str) -> str:
    found = ALERT.search(html)
    assert found, "no error message on the page"
    return found.group(1).strip()


def client(app: FastAPI) -> TestClient:
    return TestClient(app, base_url=BASE, follow_redirects=False)


def try_login(app: FastAPI, username: str, password: str) -> tuple[TestClient, Any]:
    """A browser that opened the login form and sent it; returns (client, the POST's response)."""
    c = client(app)
    page = c.get("/dang-nhap")
    assert page.status_code == 200 and "campaign_login_csrf" in page.headers.get("set-cookie", "")
    response = c.post("/dang-nhap", data={"username": username, "password": password,
                                          "csrf_token": csrf_in(page.text)})
    return c, response


def login(app: FastAPI, username: str, password: str | None = None) -> TestClient:
    c, response = try_login(app, username, password or PASSWORD[username])
    assert response.status_code == 303, response.text
    return c


def page_csrf(c: TestClient, path: str) -> str:
    page = c.get(path)
    assert page.status_code == 200, (path, page.status_code)
    return csrf_in(page.text)


def upload(c: TestClient, code: str, name: str, content: bytes, *, csrf: str | None, kind: str = "target_list",
           headers: dict[str, str] | None = None, mime: str = "text/csv") -> Any:
    data = {"kind": kind, "facility": ""}
    if csrf is not None:
        data["csrf_token"] = csrf
    return c.post(f"/huyen/{code}/tai-len", data=data, files={"file": (name, content, mime)}, headers=headers)


def count(engine: Any, model: Any, *where: Any) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def add_district_report(engine: Any, directory: Path, unit: str = "622") -> int:
    """A district's report, version 1, built on 28/07/2021 and not approved: a small PDF written in
    `directory` (bao-cao-<unit>.pdf) and its record. Returns the report's id."""
    from campaign.store.models import ReportRecord

    pdf = directory / f"bao-cao-{unit}.pdf"
    pdf.write_bytes(f"%PDF-1.4\n% bao cao huyen {unit}\n%%EOF\n".encode())
    with Session(engine) as s, s.begin():
        rep = ReportRecord(level="district", unit=unit, version=1, as_of=dt.datetime(2021, 7, 28, 2, tzinfo=dt.UTC),
                           files={"pdf": {"path": str(pdf), "sha256": hashlib.sha256(pdf.read_bytes()).hexdigest(),
                                          "bytes": pdf.stat().st_size}})
        s.add(rep)
        s.flush()
        return rep.id


@dataclass
class PortalWorld:
    """A portal app, its resources and the ids of what the tests look at."""

    res: Any
    app: FastAPI
    users: dict[str, int] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    @property
    def engine(self) -> Any:
        return self.res.engine


def portal_world(res: Any) -> PortalWorld:
    """The portal app over `res`, with the test accounts of ACCOUNTS created."""
    from campaign import accounts
    from faces.portal.app import create_app

    world = PortalWorld(res, create_app(res, prefect_ui="http://prefect.test"))
    with Session(res.engine) as s, s.begin():
        for name, role, district, password in ACCOUNTS:
            world.users[name] = accounts.add_user(s, username=name, password=password, role=role,
                                                  district_code=district, display_name=f"Tài khoản {name}").id
    return world
