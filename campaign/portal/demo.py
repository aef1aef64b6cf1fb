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

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaign import accounts, jobs
from campaign.readiness import district_names
from campaign.resources import Resources
from campaign.store.models import PortalUser

COORDINATOR = "dieuphoi"


def ensure_accounts(res: Resources, out: Path) -> dict[str, str]:
    """A coordinator and one account per district (`huyen<code>`), with generated passwords written once
    to `out` (a CSV under var/, never in the repository). Existing accounts are left as they are."""
    names = district_names(res.campaign.district_codes)
    wanted = [(COORDINATOR, accounts.COORDINATOR, None, "Điều phối viên Sở Y tế")]
    wanted += [(f"huyen{c}", accounts.DISTRICT, c, f"TTYT {names.get(c, c)}") for c in res.campaign.district_codes]
    created: dict[str, str] = {}
    with Session(res.engine.execution_options(sqlite_begin="IMMEDIATE")) as s, s.begin():
        existing = set(s.scalars(select(PortalUser.username)))
        for username, role, district, display in wanted:
            if username in existing:
                continue
            password = accounts.generate_password()
            accounts.add_user(s, username=username, password=password, role=role, district_code=district,
                              display_name=display, by="demo")
            created[username] = password
    if created:
        out.parent.mkdir(parents=True, exist_ok=True)
        new_file = not out.exists()
        with out.open("a", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            if new_file:
                writer.writerow(["username", "password"])
            writer.writerows(created.items())
    return created


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

    from campaign.portal.app import create_app
    from campaign.portal.worker import RUNNERS

    username = f"huyen{district}"
    if password is None:   # the account existed before this demo run: give it a fresh password
        password = accounts.generate_password()
        with Session(res.engine) as s, s.begin():
            accounts.reset_password(s, username, password)
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
    return {"district": district, "kind": kind, "file": path.name, "status": outcome["status"],
            "submission_id": links["submission_id"], "page": f"/nop/{links['submission_id']}",
            "page_ok": feedback.status_code == 200, "seconds": round(time.perf_counter() - started, 2),
            "flow_run_id": flow_run_id}


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if found is None:
        raise RuntimeError("the portal page has no CSRF token")
    return found.group(1)
