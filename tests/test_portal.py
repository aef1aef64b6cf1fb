"""The district upload portal over HTTP: accounts and sessions, CSRF and Origin checks, each district
sees and touches only its own district, upload limits and hostile input, the job queue, withdrawing,
the `campaign users` commands, Vietnamese dates; one upload goes through the real intake flow (Prefect).

Every test runs on a fresh CAMPAIGN_HOME (SQLite) with three accounts: ttyt622, ttyt633 (districts) and
syt.dieuphoi (coordinator). Support: tests/portal_http_support.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import threading
from pathlib import Path
from urllib.parse import quote, urljoin

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from campaign import accounts, jobs
from campaign.config_files import DEFAULT_CAMPAIGN_FILE
from campaign.store.models import PortalJob, PortalSession, PortalUser, ReportRecord, StoredFile, Submission
from tests.portal_http_support import (
    ACCOUNTS,
    BASE,
    NOW,
    PASSWORD,
    PortalWorld,
    add_district_report,
    alert_in,
    client,
    count,
    csrf_in,
    files_under,
    login,
    page_csrf,
    portal_world,
    try_login,
    upload,
)
from tests.smtp_support import free_port, smtp_server

SAME_MESSAGE = accounts.WRONG   # one answer for a wrong name, a wrong password and a locked account
NOT_FOUND_TEXT = "Không tìm thấy trang này"


# ---------------------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture()
def make_portal(campaign_home, monkeypatch, tmp_path):
    """A portal on the fresh CAMPAIGN_HOME with the three accounts; options: a smaller upload limit
    (a copy of the campaign YAML), extra environment (before the resources are built)."""
    from campaign.resources import get_resources, reset_resources

    def make(*, max_file_mb: float | None = None, env: dict[str, str] | None = None) -> PortalWorld:
        monkeypatch.setenv("CAMPAIGN_NOW", NOW)
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        if max_file_mb is not None:
            data = yaml.safe_load(DEFAULT_CAMPAIGN_FILE.read_text(encoding="utf-8"))
            data["intake"]["max_file_mb"] = max_file_mb
            config = tmp_path / "campaign-small-uploads.yaml"
            config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
            monkeypatch.setenv("CAMPAIGN_CONFIG", str(config))
        reset_resources()
        return portal_world(get_resources())

    return make


@pytest.fixture()
def portal(make_portal) -> PortalWorld:
    return make_portal()


def _target_list(path: Path, seed: int, rows: int = 25) -> Path:
    from campaign.synth.target_lists import generate_target_list_file

    generate_target_list_file(path, rows, seed=seed, district="622")
    return path


def _intake(world: PortalWorld, path: Path, *, name: str, by: str = "ttyt622", district: str = "622"):
    from campaign.intake.rules import IntakeRequest
    from campaign.intake.run import run_intake

    res = world.res
    return run_intake(IntakeRequest(path=path, district=district, kind="target_list", channel="portal",
                                    submitted_by=by, original_filename=name),
                      engine=res.engine, settings=res.settings, campaign=res.campaign)


@pytest.fixture()
def world(portal, tmp_path) -> PortalWorld:
    """District 622 has two accepted target lists (the second current), a queued upload job and a report
    (a PDF file on disk); district 633 has nothing."""
    first = _intake(portal, _target_list(tmp_path / "v1.csv", seed=1), name="danh-sach-v1.csv")
    second = _intake(portal, _target_list(tmp_path / "v2.csv", seed=2), name="danh-sach-v2.csv")
    assert first.status == second.status == "accepted"
    portal.ids["report"] = add_district_report(portal.engine, tmp_path)
    own = login(portal.app, "ttyt622")
    response = upload(own, "622", "danh-sach-v3.csv", _target_list(tmp_path / "v3.csv", seed=3).read_bytes(),
                      csrf=page_csrf(own, "/huyen/622"))
    assert response.status_code == 303
    portal.ids.update(first=first.submission_id, second=second.submission_id,
                      job=int(response.headers["location"].rsplit("/", 1)[1]))
    return portal


def _sub(world: PortalWorld, sub_id: int) -> Submission:
    with Session(world.engine) as s:
        return s.get(Submission, sub_id)


# ---------------------------------------------------------------------------------------------------------
# 1. Accounts and sessions
# ---------------------------------------------------------------------------------------------------------


def test_passwords_are_stored_as_argon2id_never_in_plain(portal):
    with portal.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM portal_users")).mappings().all()
    assert len(rows) == len(ACCOUNTS)
    for row in rows:
        assert row["password_hash"].startswith("$argon2id$")
        dump = json.dumps({k: str(v) for k, v in row.items()})
        assert PASSWORD[row["username"]] not in dump
    with Session(portal.engine) as s, s.begin():
        user = accounts.authenticate(s, "TTYT622 ", PASSWORD["ttyt622"])   # names are case-insensitive
        assert user.username == "ttyt622"
        with pytest.raises(accounts.AccountError, match="ít nhất"):
            accounts.add_user(s, username="ngan", password="short", role="district", district_code="622")
        with pytest.raises(accounts.AccountError, match="mã huyện"):
            accounts.add_user(s, username="khong-huyen", password="du-dai-roi-nhe", role="district",
                              district_code=None)


def test_wrong_password_and_unknown_user_get_the_same_answer(portal):
    _, wrong = try_login(portal.app, "ttyt622", "sai-mat-khau-roi")
    _, unknown = try_login(portal.app, "khong-co-ai", "sai-mat-khau-roi")
    assert wrong.status_code == unknown.status_code == 401
    assert alert_in(wrong.text) == alert_in(unknown.text) == SAME_MESSAGE
    assert "campaign_session" not in wrong.headers.get("set-cookie", "")
    assert count(portal.engine, PortalSession) == 0


def test_failed_logins_are_counted_through_the_login_route_and_lock_the_account(portal):
    """Wrong passwords lock the account for the address they came from (the clerk's own typos); the real
    user at another address still signs in (a stranger cannot lock them out); the lock lifts with time."""
    def failed_logins() -> int:
        with Session(portal.engine) as s:
            return s.get(PortalUser, portal.users["ttyt622"]).failed_logins

    _, first = try_login(portal.app, "ttyt622", "sai-mat-khau-1")
    assert first.status_code == 401
    assert failed_logins() == 1          # committed, not rolled back with the refusal
    for i in range(2, accounts.MAX_FAILED_LOGINS + 1):
        _, response = try_login(portal.app, "ttyt622", f"sai-mat-khau-{i}")
        assert response.status_code == 401
    assert failed_logins() == accounts.MAX_FAILED_LOGINS
    # locked from this address: even the right password is refused, with the same answer as any failure
    # (which says that repeated failures lock for a while), so that trying names does not tell which
    # accounts exist
    _, right = try_login(portal.app, "ttyt622", PASSWORD["ttyt622"])
    assert right.status_code == 401 and alert_in(right.text) == SAME_MESSAGE and "tạm khóa" in SAME_MESSAGE
    assert count(portal.engine, PortalSession) == 0
    # the clerk at another address signs in; another account is not affected
    elsewhere = TestClient(portal.app, base_url=BASE, follow_redirects=False, client=("10.20.30.40", 50000))
    page = elsewhere.get("/dang-nhap")
    signed = elsewhere.post("/dang-nhap", data={"username": "ttyt622", "password": PASSWORD["ttyt622"],
                                                "csrf_token": csrf_in(page.text)})
    assert signed.status_code == 303
    login(portal.app, "ttyt633")
    # the lock lifts after LOCK_MINUTES
    with Session(portal.engine) as s, s.begin():
        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=accounts.LOCK_MINUTES, seconds=1)
        assert accounts.authenticate(s, "ttyt622", PASSWORD["ttyt622"], client="testclient",
                                     now=later).username == "ttyt622"


def test_disabling_an_account_ends_its_open_sessions(portal):
    clerk = login(portal.app, "ttyt622")
    assert clerk.get("/huyen/622").status_code == 200
    coordinator = login(portal.app, "syt.dieuphoi")
    csrf = page_csrf(coordinator, "/tai-khoan")
    done = coordinator.post(f"/tai-khoan/{portal.users['ttyt622']}/khoa", data={"csrf_token": csrf})
    assert done.status_code == 303 and done.headers["location"] == "/tai-khoan?notice=user-disabled"
    after = clerk.get("/huyen/622")
    assert after.status_code == 303 and after.headers["location"] == "/dang-nhap"
    _, again = try_login(portal.app, "ttyt622", PASSWORD["ttyt622"])
    assert again.status_code == 401 and alert_in(again.text) == SAME_MESSAGE
    assert count(portal.engine, PortalSession, PortalSession.user_id == portal.users["ttyt622"],
                 PortalSession.revoked_at.is_(None)) == 0
    # a coordinator cannot lock themself out
    own = coordinator.post(f"/tai-khoan/{portal.users['syt.dieuphoi']}/khoa", data={"csrf_token": csrf})
    assert own.status_code == 400
    # enabled again: signs in
    assert coordinator.post(f"/tai-khoan/{portal.users['ttyt622']}/mo", data={"csrf_token": csrf}).status_code == 303
    login(portal.app, "ttyt622")


def test_resetting_a_password_ends_sessions_and_the_old_password(portal):
    clerk = login(portal.app, "ttyt622")
    coordinator = login(portal.app, "syt.dieuphoi")
    page = coordinator.post(f"/tai-khoan/{portal.users['ttyt622']}/dat-lai-mat-khau",
                            data={"csrf_token": page_csrf(coordinator, "/tai-khoan")})
    assert page.status_code == 200
    new_password = re.search(r'<p class="secret"><code>([^<]+)</code></p>', page.text).group(1)
    assert new_password != PASSWORD["ttyt622"] and len(new_password) >= accounts.MIN_PASSWORD_LENGTH
    assert clerk.get("/huyen/622").headers.get("location") == "/dang-nhap"
    _, old = try_login(portal.app, "ttyt622", PASSWORD["ttyt622"])
    assert old.status_code == 401 and alert_in(old.text) == SAME_MESSAGE
    assert login(portal.app, "ttyt622", new_password).get("/huyen/622").status_code == 200


def test_sessions_expire_when_idle_and_at_their_absolute_limit(portal):
    t0 = dt.datetime(2030, 1, 1, 8, 0, tzinfo=dt.UTC)
    with Session(portal.engine) as s, s.begin():
        user = s.get(PortalUser, portal.users["ttyt622"])
        token = accounts.open_session(s, user, hours=12, now=t0)

    def who(at: dt.datetime):
        with Session(portal.engine) as s, s.begin():
            return accounts.resolve_session(s, token, idle_hours=2, now=at)

    assert who(t0 + dt.timedelta(hours=1)).username == "ttyt622"
    assert who(t0 + dt.timedelta(hours=3, minutes=1)) is None          # 2 h idle since the last use (1 h)
    # used every 90 minutes the session stays open, but never past its 12 hours
    for minutes in range(90, 12 * 60, 90):
        assert who(t0 + dt.timedelta(hours=1, minutes=minutes - 90)) is not None
    assert who(t0 + dt.timedelta(hours=11, minutes=59)) is not None
    assert who(t0 + dt.timedelta(hours=12)) is None
    assert who(t0 + dt.timedelta(hours=12, seconds=1)) is None
    with Session(portal.engine) as s:
        assert accounts.resolve_session(s, "not-a-token", idle_hours=2) is None
        assert accounts.resolve_session(s, "x" * 200, idle_hours=2) is None


def test_only_the_sha256_of_the_session_token_is_stored_and_signing_out_ends_it(portal):
    clerk = login(portal.app, "ttyt622")
    token = clerk.cookies.get("campaign_session")
    assert token and len(token) >= 40
    with portal.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM portal_sessions")).mappings().all()
    assert len(rows) == 1
    assert token not in json.dumps({k: str(v) for k, v in rows[0].items()})
    assert rows[0]["token_sha256"] == hashlib.sha256(token.encode()).hexdigest()
    out = clerk.post("/dang-xuat", data={"csrf_token": page_csrf(clerk, "/huyen/622")})
    assert out.status_code == 303 and out.headers["location"].startswith("/dang-nhap")
    replay = client(portal.app)
    replay.cookies.set("campaign_session", token)
    assert replay.get("/huyen/622").headers.get("location") == "/dang-nhap"


# ---------------------------------------------------------------------------------------------------------
# 2. CSRF and Origin
# ---------------------------------------------------------------------------------------------------------


def test_posts_without_the_sessions_csrf_token_are_refused_and_change_nothing(world, tmp_path):
    engine = world.engine
    clerk = login(world.app, "ttyt622")
    other = login(world.app, "ttyt633")
    foreign_token = page_csrf(other, "/huyen/633")       # a real token, of another session
    content = _target_list(tmp_path / "csrf.csv", seed=9).read_bytes()
    jobs_before, files_before = count(engine, PortalJob), files_under(world.res.settings.files_dir)
    for token in (None, "", "sai-token", foreign_token):
        response = upload(clerk, "622", "csrf.csv", content, csrf=token)
        assert response.status_code == 403 and "biểu mẫu không hợp lệ" in response.text
        data = {"reason": "gửi nhầm"} | ({"csrf_token": token} if token is not None else {})
        assert clerk.post(f"/nop/{world.ids['second']}/rut", data=data).status_code == 403
        report_form = {"csrf_token": token} if token is not None else {}
        assert clerk.post("/huyen/622/bao-cao", data=report_form).status_code == 403
    assert count(engine, PortalJob) == jobs_before
    assert files_under(world.res.settings.files_dir) == files_before
    assert _sub(world, world.ids["second"]).status == "accepted"

    coordinator = login(world.app, "syt.dieuphoi")
    users_before = count(engine, PortalUser)
    for token in (None, "sai-token", foreign_token):
        extra = {"csrf_token": token} if token is not None else {}
        added = coordinator.post("/tai-khoan", data={"username": "ke-gian", "role": "coordinator", **extra})
        assert added.status_code == 403
        assert coordinator.post(f"/tai-khoan/{world.users['ttyt622']}/khoa", data=extra).status_code == 403
        assert coordinator.post(f"/bao-cao/{world.ids['report']}/duyet", data=extra).status_code == 403
    assert count(engine, PortalUser) == users_before
    with Session(engine) as s:
        assert s.get(PortalUser, world.users["ttyt622"]).is_active
        assert s.get(ReportRecord, world.ids["report"]).approved_at is None
    # the same forms with the session's token go through
    good = page_csrf(clerk, "/huyen/622")
    assert upload(clerk, "622", "csrf.csv", content, csrf=good).status_code == 303
    assert count(engine, PortalJob) == jobs_before + 1


def test_login_needs_the_login_forms_cookie_token(portal):
    c = client(portal.app)
    form = {"username": "ttyt622", "password": PASSWORD["ttyt622"]}
    assert c.post("/dang-nhap", data=form | {"csrf_token": "doan-bua"}).status_code == 403
    token = csrf_in(c.get("/dang-nhap").text)
    assert c.post("/dang-nhap", data=form | {"csrf_token": token + "x"}).status_code == 403
    assert c.post("/dang-nhap", data=form).status_code == 403
    stranger = client(portal.app)   # the token of the page, but not the browser that got its cookie
    assert stranger.post("/dang-nhap", data=form | {"csrf_token": token}).status_code == 403
    assert count(portal.engine, PortalSession) == 0
    assert c.post("/dang-nhap", data=form | {"csrf_token": token}).status_code == 303


def test_posts_from_another_origin_are_refused(portal, tmp_path):
    clerk = login(portal.app, "ttyt622")
    csrf = page_csrf(clerk, "/huyen/622")
    content = _target_list(tmp_path / "origin.csv", seed=4).read_bytes()
    for headers in ({"Origin": "http://evil.example"}, {"Referer": "http://evil.example/trang"},
                    {"Origin": "http://testserver.evil.example"}):
        response = upload(clerk, "622", "origin.csv", content, csrf=csrf, headers=headers)
        assert response.status_code == 403 and "trang khác" in response.text
        assert clerk.post("/dang-xuat", data={"csrf_token": csrf}, headers=headers).status_code == 403
    sign_in = client(portal.app)
    token = csrf_in(sign_in.get("/dang-nhap").text)
    assert sign_in.post("/dang-nhap", data={"username": "ttyt622", "password": PASSWORD["ttyt622"],
                                            "csrf_token": token},
                        headers={"Origin": "http://evil.example"}).status_code == 403
    assert count(portal.engine, PortalJob) == 0
    assert clerk.get("/huyen/622").status_code == 200      # still signed in
    same = upload(clerk, "622", "origin.csv", content, csrf=csrf, headers={"Origin": BASE})
    assert same.status_code == 303 and count(portal.engine, PortalJob) == 1


# ---------------------------------------------------------------------------------------------------------
# 3. Each district sees and touches only its own district
# ---------------------------------------------------------------------------------------------------------


def _docs_page(world: PortalWorld, sub_id: int) -> str:
    """The URL of a submission's validation page inside its Data Docs site (what /data-docs/ redirects to)."""
    from faces.portal.routes.submissions import data_docs_site as _data_docs_site

    page = Path(_sub(world, sub_id).data_docs_path)
    root = _data_docs_site(page, world.res.settings.home / "data_docs")
    return f"/nop/{sub_id}/data-docs/{page.resolve().relative_to(root).as_posix()}"


def _district_urls(world: PortalWorld) -> dict[str, str]:
    sub, job, rep = world.ids["second"], world.ids["job"], world.ids["report"]
    return {"district": "/huyen/622", "submission": f"/nop/{sub}", "feedback": f"/nop/{sub}/tep-phan-hoi",
            "feedback_problems": f"/nop/{sub}/tep-phan-hoi/dong-loi",
            "data_docs": f"/nop/{sub}/data-docs/",
            "data_docs_page": _docs_page(world, sub),
            "job": f"/viec/{job}", "job_status": f"/viec/{job}/trang-thai", "report": f"/bao-cao/{rep}.pdf"}


def test_a_district_gets_404_for_everything_of_another_district(world, tmp_path):
    engine, sub_id = world.engine, world.ids["second"]
    urls = _district_urls(world)
    other = login(world.app, "ttyt633")
    secret_name = _sub(world, sub_id).original_filename
    for name, url in urls.items():
        response = other.get(url)
        assert response.status_code == 404, (name, url, response.status_code)
        assert secret_name not in response.text and not response.content.startswith((b"PK", b"%PDF")), name
        if name == "job_status":
            assert response.json() == {"error": "not_found"}
        else:
            assert NOT_FOUND_TEXT in response.text, name
    csrf = page_csrf(other, "/huyen/633")
    withdraw = other.post(f"/nop/{sub_id}/rut", data={"csrf_token": csrf, "reason": "phá"})
    assert withdraw.status_code == 404
    assert _sub(world, sub_id).status == "accepted" and _sub(world, sub_id).is_current
    jobs_before = count(engine, PortalJob)
    content = _target_list(tmp_path / "foreign.csv", seed=5).read_bytes()
    assert upload(other, "622", "foreign.csv", content, csrf=csrf).status_code == 404
    assert other.post("/huyen/622/bao-cao", data={"csrf_token": csrf}).status_code == 404
    assert count(engine, PortalJob) == jobs_before
    assert other.get("/huyen/999").status_code == 404          # not a district of the province either
    # the district's own pages work for 633
    assert other.get("/huyen/633").status_code == 200

    # the district itself sees all of it
    own = login(world.app, "ttyt622")
    assert own.get(urls["district"]).status_code == 200
    page = own.get(urls["submission"])
    assert page.status_code == 200 and secret_name in page.text
    feedback = own.get(urls["feedback"])
    assert feedback.status_code == 200 and feedback.content == Path(_sub(world, sub_id).feedback_path).read_bytes()
    # a CSV upload's feedback: its own lines as CSV, and the workbook of the summary and the problem rows
    assert feedback.headers["content-type"] == "text/csv; charset=utf-8"
    assert feedback.content.startswith(b"\xef\xbb\xbf") and "Kết quả kiểm tra".encode() in feedback.content
    problems = own.get(urls["feedback_problems"])
    assert problems.status_code == 200 and problems.content.startswith(b"PK")
    assert problems.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert urls["feedback_problems"] in page.text and urls["feedback"] in page.text
    docs = own.get(urls["data_docs"])
    assert docs.status_code == 303 and docs.headers["location"] == urls["data_docs_page"]
    assert own.get(urls["data_docs_page"]).status_code == 200
    assert own.get(urls["job"]).status_code == 200
    assert own.get(urls["job_status"]).json()["status"] == "queued"
    report = own.get(urls["report"])
    assert report.status_code == 200 and report.content.startswith(b"%PDF")
    # ... and a coordinator sees every district
    coordinator = login(world.app, "syt.dieuphoi")
    for name, url in urls.items():
        assert coordinator.get(url).status_code in (200, 303), name


def test_coordinator_pages_and_approval_are_refused_to_districts(world, monkeypatch):
    for username in ("ttyt622", "ttyt633"):
        clerk = login(world.app, username)
        csrf = page_csrf(clerk, f"/huyen/{username[-3:]}")
        assert clerk.get("/tinh").status_code == 403
        assert clerk.get("/tai-khoan").status_code == 403
        assert clerk.post(f"/bao-cao/{world.ids['report']}/duyet", data={"csrf_token": csrf}).status_code == 403
        assert clerk.post("/tai-khoan", data={"csrf_token": csrf, "username": "ke-gian",
                                              "role": "coordinator"}).status_code == 403
        assert clerk.post(f"/tai-khoan/{world.users['syt.dieuphoi']}/khoa",
                          data={"csrf_token": csrf}).status_code == 403
    with Session(world.engine) as s:
        assert s.get(ReportRecord, world.ids["report"]).approved_at is None
        assert s.get(PortalUser, world.users["syt.dieuphoi"]).is_active
        assert s.scalar(select(PortalUser).where(PortalUser.username == "ke-gian")) is None
    assert login(world.app, "syt.dieuphoi").get("/tai-khoan").status_code == 200


def test_the_coordinators_board_shows_every_district(world):
    coordinator = login(world.app, "syt.dieuphoi")
    board = coordinator.get("/tinh")
    assert board.status_code == 200
    assert 'data-district="622"' in board.text and 'data-district="633"' in board.text
    assert f'href="/nop/{world.ids["second"]}"' in board.text and f'href="/bao-cao/{world.ids["report"]}.pdf"' in board.text
    assert "29/07/2021 00:00" in board.text and "28/07/2021 10:00" in board.text
    visible = re.sub(r"<[^>]+>", " ", board.text)
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", visible)


def test_coordinator_approves_and_sends_a_districts_report(make_portal, tmp_path):
    port = free_port()
    world = make_portal(env={"CAMPAIGN_SMTP_PORT": str(port)})
    rep_id = add_district_report(world.engine, tmp_path)
    coordinator = login(world.app, "syt.dieuphoi")
    with smtp_server(port) as (_, mailbox):
        done = coordinator.post(f"/bao-cao/{rep_id}/duyet", data={"csrf_token": page_csrf(coordinator, "/tai-khoan")})
    received = [recipients for _sender, recipients, _content in mailbox.messages]
    assert done.status_code == 303 and done.headers["location"] == "/tinh?notice=report-approved", done.text[-1500:]
    with Session(world.engine) as s:
        rep = s.get(ReportRecord, rep_id)
        assert rep.approved_by == "Tài khoản syt.dieuphoi" and rep.submitted_at is not None
    assert received and "bcd.tinh@example.gov.vn" in received[0]


def test_signed_out_visitors_are_sent_to_the_login_page(world):
    sub, job, rep = world.ids["second"], world.ids["job"], world.ids["report"]
    visitor = client(world.app)
    gets = ["/", "/huyen/622", f"/nop/{sub}", f"/nop/{sub}/tep-phan-hoi", f"/nop/{sub}/data-docs/",
            f"/viec/{job}", f"/bao-cao/{rep}.pdf", "/mau/target_list.xlsx", "/tinh", "/tai-khoan"]
    posts = ["/huyen/622/tai-len", f"/nop/{sub}/rut", "/huyen/622/bao-cao", f"/bao-cao/{rep}/duyet", "/tai-khoan",
             f"/tai-khoan/{world.users['ttyt622']}/khoa", f"/tai-khoan/{world.users['ttyt622']}/dat-lai-mat-khau",
             "/dang-xuat"]
    stale = client(world.app)
    stale.cookies.set("campaign_session", "phien-gia-mao")
    for c in (visitor, stale):
        for url in gets:
            response = c.get(url)
            assert response.status_code == 303 and response.headers["location"] == "/dang-nhap", url
        for url in posts:
            response = c.post(url, data={"csrf_token": "x", "reason": "x"})
            assert response.status_code == 303 and response.headers["location"] == "/dang-nhap", url
        status = c.get(f"/viec/{job}/trang-thai")     # the page's script gets JSON, not a redirect
        assert status.status_code == 401 and status.json() == {"error": "signed_out"}
    assert _sub(world, sub).status == "accepted" and count(world.engine, PortalJob) == 1
    assert visitor.get("/dang-nhap").status_code == 200 and visitor.get("/suc-khoe").json()["status"] == "ok"


# ---------------------------------------------------------------------------------------------------------
# 4. Limits and hostile input
# ---------------------------------------------------------------------------------------------------------


def test_an_upload_over_the_limit_gets_413_and_leaves_nothing(make_portal):
    world = make_portal(max_file_mb=1)
    assert world.app.state.portal.max_bytes == 1024 * 1024
    clerk = login(world.app, "ttyt622")
    csrf = page_csrf(clerk, "/huyen/622")
    assert "tối đa 1 MB" in clerk.get("/huyen/622").text
    header = "Họ và tên (*),Ngày sinh dạng dd/mm/yyyy (*),Giới tính (*)\n".encode()
    line = "Nguyễn Văn An,25/05/1980,0\n".encode()
    just_over = header + line * ((1024 * 1024 + 10_000) // len(line))   # caught while streaming it to disk
    far_over = header + line * (3 * 1024 * 1024 // len(line))           # caught by its Content-Length
    for content in (just_over, far_over):
        response = upload(clerk, "622", "qua-lon.csv", content, csrf=csrf)
        assert response.status_code == 413 and "Tệp quá lớn" in response.text and "1 MB" in response.text
    # a chunked body (no Content-Length) is refused before it is read: it could fill the disk first
    chunked = clerk.post("/huyen/622/tai-len", content=_multipart_chunks(csrf, far_over),
                         headers={"Content-Type": "multipart/form-data; boundary=XyZ"})
    assert chunked.status_code == 411 and "kích thước" in chunked.text
    assert count(world.engine, PortalJob) == 0
    assert files_under(world.res.settings.files_dir) == set()
    assert files_under(world.res.settings.home / "portal_uploads") == set()
    assert count(world.engine, StoredFile) == 0
    small = header + line * 10
    assert upload(clerk, "622", "vua.csv", small, csrf=csrf).status_code == 303


def _multipart_chunks(csrf: str, content: bytes):
    yield (b'--XyZ\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n' + csrf.encode() + b"\r\n"
           b'--XyZ\r\nContent-Disposition: form-data; name="kind"\r\n\r\ntarget_list\r\n'
           b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="chunked.csv"\r\n'
           b"Content-Type: text/csv\r\n\r\n")
    for i in range(0, len(content), 256 * 1024):
        yield content[i:i + 256 * 1024]
    yield b"\r\n--XyZ--\r\n"


def test_a_facility_code_too_long_is_refused_and_a_long_file_name_keeps_its_extension(portal):
    """Issue 18: the facility field was cut to 32 characters without a word (a different code than the clerk
    chose); now the intake's own rule refuses it in Vietnamese before anything is stored. A long file name
    is a label: shortened, its extension kept."""
    clerk = login(portal.app, "ttyt622")
    csrf = page_csrf(clerk, "/huyen/622")
    content = "Họ và tên (*),Ngày sinh dạng dd/mm/yyyy (*),Giới tính (*)\nNguyễn Văn An,25/05/1980,0\n".encode()
    refused = clerk.post("/huyen/622/tai-len", data={"csrf_token": csrf, "kind": "target_list", "facility": "F" * 40},
                         files={"file": ("ds.csv", content, "text/csv")})
    assert refused.status_code == 400 and "Mã cơ sở" in refused.text and "40 ký tự" in refused.text
    assert count(portal.engine, PortalJob) == 0
    long_name = "danh sach " * 40 + ".csv"
    assert upload(clerk, "622", long_name, content, csrf=csrf).status_code == 303
    with Session(portal.engine) as s:
        [name] = s.scalars(select(PortalJob.original_filename)).all()
    assert len(name) <= 200 and name.endswith("….csv")


def test_file_types_are_checked_by_content_and_kinds_by_name(portal, tmp_path):
    clerk = login(portal.app, "ttyt622")
    csrf = page_csrf(clerk, "/huyen/622")
    pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
    for name, content, what in (("danh-sach.csv", pdf, "PDF"), ("danh-sach.xlsx", png, "PNG"),
                                ("danh-sach.xls", pdf, "PDF")):
        response = upload(clerk, "622", name, content, csrf=csrf)
        assert response.status_code == 415 and "Không nhận tệp này" in response.text and what in response.text
    good = _target_list(tmp_path / "ok.csv", seed=6).read_bytes()
    for kind in ("people", "", "../target_list"):
        response = upload(clerk, "622", "ok.csv", good, csrf=csrf, kind=kind)
        assert response.status_code == 400 and "loại dữ liệu" in response.text
    assert count(portal.engine, PortalJob) == 0
    assert files_under(portal.res.settings.files_dir) == set()


def test_hostile_file_names_are_labels_only_and_shown_escaped(world, tmp_path):
    from campaign.resources import get_resources

    home = get_resources().settings.home
    names = {"../../etc/passwd.csv": "passwd.csv", "..\\..\\..\\evil.csv": "evil.csv",
             "<img src=x onerror=alert(1)>.csv": "<img src=x onerror=alert(1)>.csv",
             "<script>alert(1)</script>.csv": None}
    contents = [_target_list(tmp_path / f"h{seed}.csv", seed=seed).read_bytes() for seed in range(20, 20 + len(names))]
    outside_before = {p for p in files_under(tmp_path) if home not in p.parents}
    assert not Path("/etc/passwd.csv").exists()
    clerk = login(world.app, "ttyt622")
    csrf = page_csrf(clerk, "/huyen/622")
    made = []
    for name, content in zip(names, contents, strict=True):
        response = upload(clerk, "622", name, content, csrf=csrf)
        assert response.status_code == 303
        made.append(int(response.headers["location"].rsplit("/", 1)[1]))
    with Session(world.engine) as s:
        labels = {name: s.get(PortalJob, job_id).original_filename for name, job_id in zip(names, made, strict=True)}
    for name, expected in names.items():
        assert "/" not in labels[name] and "\\" not in labels[name] and ".." not in labels[name]
        if expected is not None:
            assert labels[name] == expected
    # the queued jobs are listed on the district page and their own pages: escaped
    pages = [clerk.get("/huyen/622").text] + [clerk.get(f"/viec/{j}").text for j in made]
    # taken in, as a worker would: the stored copy under its hash, the name as the label
    for job_id in made:
        with Session(world.engine) as s:
            job = s.get(PortalJob, job_id)
        stored = world.res.settings.files_dir / job.checksum[:2] / job.checksum
        outcome = _intake(world, stored, name=job.original_filename)
        jobs.finish(world.engine, job_id, outcome={"status": outcome.status}, flow_run_id=None,
                    submission_id=outcome.submission_id)
        pages.append(clerk.get(f"/nop/{outcome.submission_id}").text)
        assert _sub(world, outcome.submission_id).original_filename == job.original_filename
    pages.append(clerk.get("/huyen/622").text)
    coordinator = login(world.app, "syt.dieuphoi")
    pages.append(coordinator.get("/tinh").text)
    pages.append(coordinator.get("/huyen/622").text)
    for html in pages:
        assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;.csv" in pages[-3] and "&lt;img src=x onerror=alert(1)&gt;.csv" in pages[-1]
    assert sum("&lt;img src=x onerror=alert(1)&gt;.csv" in html for html in pages) >= 4
    # nothing was written outside CAMPAIGN_HOME; the stored copies are named by their hash
    assert {p for p in files_under(tmp_path) if home not in p.parents} == outside_before
    assert not (tmp_path / "etc").exists() and not Path("/etc/passwd.csv").exists()
    assert all(re.fullmatch(r"[0-9a-f]{64}", p.name) for p in files_under(world.res.settings.files_dir))
    assert not any(p.name in ("passwd.csv", "evil.csv") for p in files_under(home))


def test_data_docs_paths_cannot_leave_the_submissions_docs_folder(world):
    sub = _sub(world, world.ids["second"])
    clerk = login(world.app, "ttyt622")
    from faces.portal.routes.submissions import data_docs_site as _data_docs_site

    root = _data_docs_site(Path(sub.data_docs_path), world.res.settings.home / "data_docs")
    assert clerk.get(_docs_page(world, sub.id)).status_code == 200   # the route serves files
    database = world.res.settings.home / "campaign.sqlite3"
    feedback = Path(sub.feedback_path)
    other_docs = Path(_sub(world, world.ids["first"]).data_docs_path)
    for target in (database, feedback, other_docs):
        assert target.is_file()
        relative = os.path.relpath(target, root)
        assert relative.startswith("..")
        for path in (quote(relative, safe=""), quote(relative, safe="/").replace("..", "%2e%2e")):
            response = clerk.get(f"/nop/{sub.id}/data-docs/{path}")
            assert response.status_code in (404, 400), (path, response.status_code)
            assert b"SQLite format 3" not in response.content and not response.content.startswith(b"PK")
    for path in (quote(str(database), safe=""), "%2Fetc%2Fpasswd", quote(str(database))):
        response = clerk.get(f"/nop/{sub.id}/data-docs/{path}")
        assert response.status_code in (404, 400) and b"SQLite format 3" not in response.content
        assert b"root:" not in response.content


def test_data_docs_pages_links_to_their_site_resolve(world):
    sub = _sub(world, world.ids["second"])
    clerk = login(world.app, "ttyt622")
    entry = clerk.get(f"/nop/{sub.id}/data-docs/", follow_redirects=False)
    assert entry.status_code == 303 and entry.headers["location"] == _docs_page(world, sub.id)
    url = f"{BASE}{entry.headers['location']}"
    html = clerk.get(url).text
    link = re.search(r'href="([^"]*index\.html)"', html).group(1)
    assert clerk.get(urljoin(url, link)).status_code == 200


# ---------------------------------------------------------------------------------------------------------
# 5. The job queue
# ---------------------------------------------------------------------------------------------------------


def _queue(engine, n: int) -> list[int]:
    with Session(engine) as s, s.begin():
        user = accounts.add_user(s, username="nguoi-gui", password="mat-khau-du-dai", role="district",
                                 district_code="622")
        made = [PortalJob(action="intake", user_id=user.id, district_code="622", kind="target_list",
                          checksum=f"{i:064x}", original_filename=f"tep-{i}.csv", status=jobs.QUEUED,
                          received_at=dt.datetime(2021, 7, 28, 3, tzinfo=dt.UTC)) for i in range(n)]
        s.add_all(made)
        s.flush()
        return [j.id for j in made]


def test_concurrent_claims_never_take_the_same_job(migrated_engine):
    ids = _queue(migrated_engine, 24)
    claimed: dict[str, list[int]] = {f"w{i}": [] for i in range(3)}
    errors: list[BaseException] = []
    start = threading.Barrier(len(claimed))

    def worker(name: str) -> None:
        try:
            start.wait()
            for _ in range(200):
                job = jobs.claim_next(migrated_engine, name)
                if job is not None:
                    claimed[name].append(job.id)
                    assert job.status == jobs.RUNNING and job.worker == name
                elif count(migrated_engine, PortalJob, PortalJob.status == jobs.QUEUED) == 0:
                    return
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(name,)) for name in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    every = [job_id for got in claimed.values() for job_id in got]
    assert len(every) == len(set(every)) == len(ids) and set(every) == set(ids)
    with Session(migrated_engine) as s:
        rows = s.scalars(select(PortalJob)).all()
        assert {j.status for j in rows} == {jobs.RUNNING} and {j.attempts for j in rows} == {1}
        assert all(j.id in claimed[j.worker] for j in rows)
    assert jobs.claim_next(migrated_engine, "late") is None


def test_jobs_whose_lease_ran_out_are_queued_again_then_given_up(migrated_engine):
    [job_id, other_id] = _queue(migrated_engine, 2)

    def state(jid: int) -> tuple[str, int, str | None]:
        with Session(migrated_engine) as s:
            job = s.get(PortalJob, jid)
            return job.status, job.attempts, job.worker

    def run_out(jid: int) -> None:   # the worker stopped renewing a while ago
        with Session(migrated_engine) as s, s.begin():
            s.get(PortalJob, jid).lease_expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)

    for attempt in range(1, jobs.MAX_ATTEMPTS):
        assert jobs.claim_next(migrated_engine, "w-a").id == job_id
        assert state(job_id) == (jobs.RUNNING, attempt, "w-a")
        assert jobs.take_over_expired(migrated_engine).requeued == 0   # a live lease is left alone
        run_out(job_id)
        taken = jobs.take_over_expired(migrated_engine)
        assert (taken.requeued, taken.failed) == (1, 0)
        assert state(job_id) == (jobs.QUEUED, attempt, None)
    assert jobs.claim_next(migrated_engine, "w-a").id == job_id
    assert jobs.claim_next(migrated_engine, "w-b").id == other_id
    # a dead worker's job only (its pool saw it die): the other worker's job keeps running
    assert jobs.requeue_worker(migrated_engine, "w-b") == 1
    assert state(other_id) == (jobs.QUEUED, 1, None) and state(job_id)[0] == jobs.RUNNING
    run_out(job_id)
    taken = jobs.take_over_expired(migrated_engine)
    assert (taken.requeued, taken.failed) == (0, 1)          # the third interruption: given up
    with Session(migrated_engine) as s:
        job = s.get(PortalJob, job_id)
        assert job.status == jobs.FAILED and job.attempts == jobs.MAX_ATTEMPTS and "gián đoạn" in job.error
        assert job.finished_at is not None
    assert jobs.claim_next(migrated_engine, "w-c").id == other_id


def test_a_portal_takes_nothing_back_at_start_another_portal_may_be_running_it(portal):
    from starlette.testclient import TestClient

    from faces.portal.server import build

    clerk = login(portal.app, "ttyt622")
    response = upload(clerk, "622", "a.csv", "Họ và tên (*)\nAn\n".encode(), csrf=page_csrf(clerk, "/huyen/622"))
    job_id = int(response.headers["location"].rsplit("/", 1)[1])
    assert jobs.claim_next(portal.engine, "worker-of-another-portal-0").id == job_id
    assert clerk.get(f"/viec/{job_id}/trang-thai").json()["status"] == jobs.RUNNING
    with TestClient(build(portal.res, workers=0), base_url=BASE) as started:
        assert started.get("/suc-khoe").json() == {"status": "ok", "queued": 0}
    assert clerk.get(f"/viec/{job_id}/trang-thai").json()["status"] == jobs.RUNNING
    # the other portal's worker died: once its lease ran out the job waits again, said as before
    with Session(portal.engine) as s, s.begin():
        s.get(PortalJob, job_id).lease_expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    assert jobs.take_over_expired(portal.engine).requeued == 1
    assert clerk.get(f"/viec/{job_id}/trang-thai").json() == {"status": "queued", "ahead": 0, "next": None,
                                                               "error": None}


# ---------------------------------------------------------------------------------------------------------
# 6. Withdrawing through the page
# ---------------------------------------------------------------------------------------------------------


def test_withdrawing_on_the_page_makes_the_previous_submission_current(world):
    first, second = world.ids["first"], world.ids["second"]
    before = _sub(world, first)
    assert before.status == "accepted" and not before.is_current and before.superseded_by_id == second
    clerk = login(world.app, "ttyt622")
    page = clerk.get(f"/nop/{second}")
    assert f'action="/nop/{second}/rut"' in page.text
    response = clerk.post(f"/nop/{second}/rut", data={"csrf_token": csrf_in(page.text), "reason": "gửi nhầm tệp"})
    assert response.status_code == 303 and response.headers["location"] == f"/nop/{second}?notice=withdrawn"
    withdrawn, again_current = _sub(world, second), _sub(world, first)
    assert withdrawn.status == "withdrawn" and not withdrawn.is_current
    assert withdrawn.withdrawn_by == "ttyt622" and withdrawn.withdrawn_reason == "gửi nhầm tệp"
    assert again_current.is_current and again_current.superseded_by_id is None
    shown = clerk.get(response.headers["location"]).text
    assert "Đã rút tệp" in shown and "gửi nhầm tệp" in shown and f'action="/nop/{second}/rut"' not in shown
    twice = clerk.post(f"/nop/{second}/rut", data={"csrf_token": csrf_in(shown), "reason": "lần nữa"})
    assert twice.status_code == 409
    no_reason = clerk.post(f"/nop/{first}/rut", data={"csrf_token": csrf_in(shown), "reason": "  "})
    assert no_reason.status_code == 400 and _sub(world, first).is_current


def test_only_an_accepted_submission_can_be_withdrawn(portal, tmp_path):
    refused = tmp_path / "khong-phai-bang-tinh.csv"
    refused.write_bytes(b"%PDF-1.4\n%%EOF\n")
    outcome = _intake(portal, refused, name=refused.name)
    assert outcome.status == "rejected"
    clerk = login(portal.app, "ttyt622")
    page = clerk.get(f"/nop/{outcome.submission_id}")
    assert page.status_code == 200 and f'action="/nop/{outcome.submission_id}/rut"' not in page.text
    response = clerk.post(f"/nop/{outcome.submission_id}/rut", data={"csrf_token": csrf_in(page.text),
                                                                    "reason": "rút thử"})
    assert _sub(portal, outcome.submission_id).status == "rejected"
    assert response.status_code == 409


# ---------------------------------------------------------------------------------------------------------
# 7. The `campaign users` commands
# ---------------------------------------------------------------------------------------------------------


def test_users_commands(campaign_home):
    from campaign.resources import get_resources
    from faces.cli import main

    runner = CliRunner()
    no_district = runner.invoke(main, ["users", "add", "ttyt.622", "--role", "district"])
    assert no_district.exit_code == 2 and "--district" in no_district.output
    added = runner.invoke(main, ["users", "add", "ttyt.622", "--role", "district", "--district", "622"])
    assert added.exit_code == 0, added.output
    shown = re.findall(r"password \(shown once\): (\S+)", added.output)
    assert len(shown) == 1
    password = shown[0]
    engine = get_resources().engine

    def sign_in(name: str, secret: str) -> str | None:
        with Session(engine) as s, s.begin():
            try:
                return accounts.authenticate(s, name, secret).username
            except accounts.AccountError as exc:
                return str(exc)

    assert sign_in("ttyt.622", password) == "ttyt.622"
    assert password not in "".join(str(v) for v in engine.connect().execute(text("SELECT * FROM portal_users")).one())
    as_json = runner.invoke(main, ["users", "add", "syt.a", "--role", "coordinator", "--json"])
    assert as_json.exit_code == 0
    made = json.loads(as_json.stdout)
    assert made["username"] == "syt.a" and made["role"] == "coordinator" and made["district"] is None
    assert sign_in("syt.a", made["password"]) == "syt.a"
    duplicate = runner.invoke(main, ["users", "add", "TTYT.622", "--role", "district", "--district", "633"])
    assert duplicate.exit_code == 3 and "đã có" in duplicate.output
    unknown_district = runner.invoke(main, ["users", "add", "ttyt.x", "--role", "district", "--district", "Ba Đình"])
    assert unknown_district.exit_code == 2
    from_stdin = runner.invoke(main, ["users", "add", "ttyt.633", "--role", "district", "-d", "633",
                                      "--password-stdin"], input="mat-khau-tu-stdin\n")
    assert from_stdin.exit_code == 0 and "mat-khau-tu-stdin" not in from_stdin.output
    assert sign_in("ttyt.633", "mat-khau-tu-stdin") == "ttyt.633"

    reset = runner.invoke(main, ["users", "reset-password", "ttyt.622", "--password-stdin"],
                          input="mat-khau-moi-622\n")
    assert reset.exit_code == 0 and "mat-khau-moi-622" not in reset.output
    assert sign_in("ttyt.622", "mat-khau-moi-622") == "ttyt.622"
    assert sign_in("ttyt.622", password) == SAME_MESSAGE
    too_short = runner.invoke(main, ["users", "reset-password", "ttyt.622", "--password-stdin"], input="ngan\n")
    assert too_short.exit_code == 3 and sign_in("ttyt.622", "mat-khau-moi-622") == "ttyt.622"

    disabled = runner.invoke(main, ["users", "disable", "ttyt.622"])
    assert disabled.exit_code == 0
    assert sign_in("ttyt.622", "mat-khau-moi-622") == SAME_MESSAGE
    assert runner.invoke(main, ["users", "disable", "khong-co"]).exit_code == 3
    listed = runner.invoke(main, ["users", "list", "--json"])
    assert listed.exit_code == 0
    users = {u["username"]: u for u in json.loads(listed.stdout)["users"]}
    assert set(users) == {"ttyt.622", "ttyt.633", "syt.a"}
    assert users["ttyt.622"]["active"] is False and users["ttyt.633"]["active"] is True
    assert users["ttyt.622"]["district"] == "622" and users["syt.a"]["role"] == "coordinator"
    assert all("password" not in json.dumps(u) for u in users.values())
    assert runner.invoke(main, ["users", "enable", "ttyt.622"]).exit_code == 0
    assert sign_in("ttyt.622", "mat-khau-moi-622") == "ttyt.622"


# ---------------------------------------------------------------------------------------------------------
# 8. Vietnamese dates
# ---------------------------------------------------------------------------------------------------------


def test_pages_show_dates_as_dd_mm_yyyy(world):
    clerk = login(world.app, "ttyt622")
    district = clerk.get("/huyen/622").text
    assert "29/07/2021 00:00" in district                 # the deadline, due at the start of 29/7
    assert "28/07/2021 10:00" in district                 # the submissions' received time, the footer
    submission = clerk.get(f"/nop/{world.ids['second']}").text
    assert "gửi lúc 28/07/2021 10:00" in submission
    board = login(world.app, "syt.dieuphoi").get("/tinh").text
    assert "29/07/2021 00:00" in board
    iso = re.compile(r"\b20\d\d-\d\d-\d\d\b")
    for html in (district, submission, board):
        visible = re.sub(r"<[^>]+>", " ", html)
        assert not iso.search(visible), iso.search(visible)


# ---------------------------------------------------------------------------------------------------------
# The real flow: an upload through the portal, run by the worker's code in the Prefect harness
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.prefect
def test_an_upload_runs_the_intake_flow_and_links_its_submission(prefect_harness, portal, tmp_path):
    from faces.portal.worker import RUNNERS, _run_intake

    assert RUNNERS["intake"] is _run_intake
    clerk = login(portal.app, "ttyt622")
    name = "Danh sách đối tượng tiêm (Chư Păh).csv"
    content = _target_list(tmp_path / "flow.csv", seed=42, rows=30).read_bytes()
    response = upload(clerk, "622", name, content, csrf=page_csrf(clerk, "/huyen/622"))
    assert response.status_code == 303
    job_id = int(response.headers["location"].rsplit("/", 1)[1])
    waiting = clerk.get(f"/viec/{job_id}")
    assert waiting.status_code == 200 and "Đang chờ xử lý" in waiting.text and name in waiting.text
    assert clerk.get(f"/viec/{job_id}/trang-thai").json()["status"] == "queued"

    job = jobs.claim_next(portal.engine, "test-worker")      # what a warm worker does (faces.portal.worker.work)
    assert job is not None and job.id == job_id
    with Session(portal.engine) as s:
        username = s.scalar(select(PortalUser.username).where(PortalUser.id == job.user_id))
    outcome, flow_run_id, links = _run_intake(job, username)
    jobs.finish(portal.engine, job.id, outcome=outcome, flow_run_id=flow_run_id, **links)

    with Session(portal.engine) as s:
        done = s.get(PortalJob, job_id)
        assert done.status == jobs.DONE and done.flow_run_id == flow_run_id and done.error is None
        sub = s.get(Submission, done.submission_id)
        assert sub.status == "accepted" and sub.district_code == "622"
        assert sub.channel == "portal" and sub.submitted_by == "ttyt622" and sub.original_filename == name
        assert sub.flow_run_id and sub.flow_run_id == flow_run_id
        assert sub.checksum == hashlib.sha256(content).hexdigest()
    status = clerk.get(f"/viec/{job_id}/trang-thai").json()
    assert status == {"status": "done", "ahead": 0, "next": f"/nop/{sub.id}", "error": None}
    finished = clerk.get(f"/viec/{job_id}")
    assert finished.status_code == 303 and finished.headers["location"] == f"/nop/{sub.id}"
    page = clerk.get(f"/nop/{sub.id}")
    assert page.status_code == 200 and name in page.text and "Đã nhận" in page.text
    assert "prefect.test/runs/flow-run" not in page.text        # the flow run's link is for coordinators
    board = login(portal.app, "syt.dieuphoi").get(f"/nop/{sub.id}").text
    assert f"http://prefect.test/runs/flow-run/{flow_run_id}" in board
    feedback = clerk.get(f"/nop/{sub.id}/tep-phan-hoi")                 # a CSV upload: CSV back, with the
    assert feedback.status_code == 200 and feedback.content.startswith(b"\xef\xbb\xbf")   # result per line
    assert clerk.get(f"/nop/{sub.id}/tep-phan-hoi/dong-loi").content.startswith(b"PK")   # + the workbook


def test_pages_do_not_wait_for_a_large_upload_being_written(portal):
    """SQLite has one writer: while an upload's rows are written (seconds for a large file), pages are read
    without the write lock, and a session's last use is recorded aside."""
    import sqlite3
    import time

    clerk = login(portal.app, "ttyt622")
    with Session(portal.engine) as s, s.begin():   # the session was last used long ago: due for a slide
        s.execute(update(PortalSession).values(last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)))
    path = portal.engine.url.database
    holder = sqlite3.connect(path, isolation_level=None, timeout=1)
    holder.execute("BEGIN IMMEDIATE")   # what an intake's write phase holds
    try:
        started = time.perf_counter()
        page = clerk.get("/huyen/622")
        waited = time.perf_counter() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert page.status_code == 200 and "Gửi tệp dữ liệu" in page.text
    assert waited < 5, waited   # the busy timeout is 30 s: a page that needed the lock would wait for it
    for _ in range(50):   # the slide is written once the lock is free
        with Session(portal.engine) as s:
            seen = s.scalar(select(func.max(PortalSession.last_seen_at)))
        if seen > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1):
            break
        time.sleep(0.2)
    assert seen > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)


def test_a_failed_job_is_told_plainly_to_the_district_and_in_full_to_the_coordinator(portal):
    (job_id,) = _queue(portal.engine, 1)
    claimed = jobs.claim_next(portal.engine, "test")
    assert claimed.id == job_id
    jobs.fail(portal.engine, job_id, error="KeyError: 'ho_ten' in standardize", flow_run_id=None)
    clerk, coordinator = login(portal.app, "ttyt622"), login(portal.app, "syt.dieuphoi")
    told = clerk.get(f"/viec/{job_id}/trang-thai").json()
    assert told["status"] == "failed" and "KeyError" not in told["error"]
    assert f"việc số {job_id}" in told["error"] and "gửi lại" in told["error"]
    page = clerk.get(f"/viec/{job_id}").text
    assert "Không xử lý được" in page and "KeyError" not in page
    assert "KeyError" not in clerk.get("/huyen/622").text
    assert "KeyError: &#39;ho_ten&#39;" in coordinator.get(f"/viec/{job_id}").text
    assert coordinator.get(f"/viec/{job_id}/trang-thai").json()["error"].startswith("KeyError")


def test_a_sign_in_waiting_for_the_write_lock_does_not_hold_up_other_pages(portal):
    """A sign-in writes (its session, the failed-try counter); while an upload holds SQLite's write lock
    it waits, in a worker thread: the event loop goes on serving everybody else."""
    import sqlite3
    import time
    import urllib.request

    from tests.portal_e2e_support import serve

    with serve(portal.app) as base:
        form = urllib.request.urlopen(f"{base}/dang-nhap", timeout=10)
        cookie = form.headers["set-cookie"].split(";")[0]
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.read().decode()).group(1)
        holder = sqlite3.connect(portal.engine.url.database, isolation_level=None, timeout=1)
        holder.execute("BEGIN IMMEDIATE")   # what an intake's write phase holds
        done: dict[str, float] = {}

        def sign_in() -> None:
            started = time.perf_counter()
            body = f"csrf_token={token}&username=ttyt622&password={PASSWORD['ttyt622']}".encode()
            request = urllib.request.Request(f"{base}/dang-nhap", data=body, method="POST",
                                             headers={"Cookie": cookie,
                                                      "Content-Type": "application/x-www-form-urlencoded"})
            with contextlib.suppress(Exception):
                urllib.request.urlopen(request, timeout=30)
            done["sign_in"] = time.perf_counter() - started

        waiting = threading.Thread(target=sign_in)
        waiting.start()
        time.sleep(0.5)   # the sign-in is now waiting for the lock
        started = time.perf_counter()
        with urllib.request.urlopen(f"{base}/dang-nhap", timeout=10) as other:
            assert other.status == 200
        other_page = time.perf_counter() - started
        time.sleep(1.5)
        holder.execute("ROLLBACK")
        holder.close()
        waiting.join(30)
    assert other_page < 1.0, other_page           # served while the sign-in waited
    assert done["sign_in"] >= 1.5, done             # it really did wait for the lock
