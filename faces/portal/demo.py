"""The demo's walk through the portal: accounts for the coordinators and every district, then one
district's late file uploaded through the real pages (sign in, upload form, job, feedback page), with the
job run by the same code the warm workers run (an `intake` flow run)."""

from __future__ import annotations

import csv
import os
import re
import time
import warnings
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaign import accounts, jobs
from campaign.audit import Actor
from campaign.readiness.present import district_names
from campaign.resources import Resources
from campaign.store.db import write_session
from campaign.store.models import AuditEvent, PortalUser, Submission
from campaign.vocabulary import party_label

COORDINATOR = "dieuphoi"
# The first line of the accounts file, and what the demo says of it: these are passwords in plain text.
DEMO_SECRET_NOTE = ("# DEMO SECRET - demo accounts' passwords in plain text, for this demo only: never use them for "
                    "real accounts; readable by its owner only (mode 0600); delete it when done")


def ensure_accounts(res: Resources, out: Path) -> dict[str, str]:
    """A coordinator and one account per district (`huyen<code>`), with generated passwords written once
    to `out` (a CSV under var/, never in the repository; mode 0600, its first line says it is a demo
    secret). Existing accounts are left as they are."""
    names = district_names(res.campaign.district_codes)
    wanted = [(COORDINATOR, accounts.COORDINATOR, None, f"Điều phối viên {party_label('doh')}")]
    wanted += [(f"huyen{c}", accounts.DISTRICT, c, party_label("health_centre_short", names.get(c, c)))
               for c in res.campaign.district_codes]
    created: dict[str, str] = {}
    with write_session(res.engine) as s:
        existing = set(s.scalars(select(PortalUser.username)))
        for username, role, district, display in wanted:
            if username in existing:
                continue
            password = accounts.generate_password()
            accounts.add_user(s, username=username, password=password, role=role, district_code=district,
                              display_name=display, by="demo")
            created[username] = password
    if created:
        write_demo_secrets(out, created)
    return created


def write_demo_secrets(out: Path, passwords: dict[str, str]) -> None:
    """Append username,password lines to `out`, created owner-only (0600) with the demo-secret note and a
    header; an older file made with wider permissions is narrowed first."""
    out.parent.mkdir(parents=True, exist_ok=True)
    # created 0600 atomically (never readable by others, not even for a moment); the umask only narrows
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", newline="", encoding="utf-8") as fh:
        os.fchmod(fd, 0o600)
        if fh.tell() == 0:
            fh.write(DEMO_SECRET_NOTE + "\n")
            csv.writer(fh).writerow(["username", "password"])
        csv.writer(fh).writerows(passwords.items())


def upload_through_portal(res: Resources, *, district: str, kind: str, path: Path, facility: str | None,
                          password: str | None, now: str) -> dict[str, Any]:
    """Sign in as the district's clerk, upload `path` with the form at the logical time `now`, run the
    queued job as a worker does, and read the feedback page. Returns what the clerk saw."""
    previous = os.environ.get("CAMPAIGN_NOW")
    os.environ["CAMPAIGN_NOW"] = now   # the portal reads the logical clock, as `campaign serve` would
    try:
        return _upload(res, district=district, kind=kind, path=path, facility=facility, password=password)
    finally:
        if previous is None:
            os.environ.pop("CAMPAIGN_NOW", None)
        else:
            os.environ["CAMPAIGN_NOW"] = previous


def _upload(res: Resources, *, district: str, kind: str, path: Path, facility: str | None,
            password: str | None) -> dict[str, Any]:
    with warnings.catch_warnings():   # Starlette asks for httpx2 in a later version; httpx works today
        warnings.simplefilter("ignore", DeprecationWarning)
        from starlette.testclient import TestClient

    from faces.portal.app import create_app
    from faces.portal.worker import RUNNERS

    username = f"huyen{district}"
    if password is None:   # the account existed before this demo run: give it a fresh password
        password = accounts.generate_password()
        with Session(res.engine) as s, s.begin():
            accounts.reset_password(s, username, password, actor=Actor(username="demo", role="system"))
    app = create_app(res)
    started = time.perf_counter()
    with TestClient(app, base_url="http://portal.demo") as client:
        page = client.get("/dang-nhap")
        client.post("/dang-nhap", data={"csrf_token": _csrf(page.text), "username": username, "password": password})
        home = client.get(f"/huyen/{district}")
        with path.open("rb") as fh:
            sent = client.post(f"/huyen/{district}/tai-len", follow_redirects=False,
                               data={"csrf_token": _csrf(home.text), "kind": kind, "facility": facility or ""},
                               files={"file": (path.name, fh, "application/octet-stream")})
        if sent.status_code != 303:
            return {"district": district, "kind": kind, "error": f"upload refused ({sent.status_code})"}
        job = jobs.claim_next(res.engine, "demo")
        outcome, flow_run_id, links = RUNNERS[job.action](job, username)
        jobs.finish(res.engine, job.id, outcome=outcome, flow_run_id=flow_run_id, **links)
        feedback = client.get(f"/nop/{links['submission_id']}")
        # what a curious clerk tries: another district's submission by its id in the address
        with Session(res.engine) as s:
            other = s.scalar(select(Submission.id).where(Submission.district_code != district)
                             .order_by(Submission.id).limit(1))
        tampered = client.get(f"/nop/{other}") if other is not None else None
        # a bad day's file: a few KB whose sheet reaches the last cell of Excel (something typed in XFD1048576);
        # measured from the file itself and refused in Vietnamese, never built as a 17-billion-cell grid
        hostile = _far_reaching_workbook(res.settings.home / "demo" / "o-cuoi-trang-tinh.xlsx", kind)
        with hostile.open("rb") as fh:
            client.post(f"/huyen/{district}/tai-len", follow_redirects=False,
                        data={"csrf_token": _csrf(home.text), "kind": kind, "facility": facility or ""},
                        files={"file": (hostile.name, fh, "application/octet-stream")})
        bad_job = jobs.claim_next(res.engine, "demo")
        bad, bad_run, bad_links = RUNNERS[bad_job.action](bad_job, username)
        jobs.finish(res.engine, bad_job.id, outcome=bad, flow_run_id=bad_run, **bad_links)
    with Session(res.engine) as s:   # what the audit log holds of this walk (the clerk's own events)
        logged = dict(s.execute(select(AuditEvent.action, func.count()).where(AuditEvent.username == username)
                                .group_by(AuditEvent.action)).all())
    return {"district": district, "kind": kind, "file": path.name, "status": outcome["status"],
            "submission_id": links["submission_id"], "page": f"/nop/{links['submission_id']}",
            "page_ok": feedback.status_code == 200, "seconds": round(time.perf_counter() - started, 2),
            "flow_run_id": flow_run_id,
            "tampering": {"page": f"/nop/{other}", "status": tampered.status_code} if tampered is not None else None,
            "hostile_file": {"file": hostile.name, "bytes": hostile.stat().st_size, "status": bad["status"],
                             "message": bad.get("message") or ""},
            "audit": logged}


def _far_reaching_workbook(out: Path, kind: str) -> Path:
    """The kind's template headings in row 1 and one stray cell at XFD1048576, written by openpyxl as any
    spreadsheet program writes it (sparse: a few KB)."""
    from openpyxl import Workbook

    from campaign.config_kinds import load_input_kinds

    spec = load_input_kinds()[kind]
    wb = Workbook()
    ws = wb.active
    ws.append([c.template_header for c in spec.columns])
    ws["XFD1048576"] = "x"
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return out


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if found is None:
        raise RuntimeError("the portal page has no CSRF token")
    return found.group(1)
