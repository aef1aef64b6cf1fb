"""The audit log: what the portal and the account commands record (who, when, from where, what, to what,
how it ended), that a district asking for another district's ids is refused and recorded, that nothing
personal is written, the coordinators' page (filters, paging; refused to districts), retention.

On SQLite and PostgreSQL (`migrated_engine`) through the real portal (TestClient); the CLI on SQLite.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from campaign import audit
from campaign.store.models import AuditEvent
from tests.portal_http_support import (
    BASE,
    NOW,
    PASSWORD,
    PortalWorld,
    add_district_report,
    csrf_in,
    login,
    page_csrf,
    portal_world,
    try_login,
    upload,
)
from tests.smtp_support import free_port

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/92.0 " + "x" * 300


@pytest.fixture()
def world(migrated_engine, campaign_home, monkeypatch, tmp_path) -> PortalWorld:
    """The portal over `migrated_engine` with the three test accounts; district 622 has an accepted target
    list, a report (a PDF on disk) and an upload job; district 633 has nothing."""
    from campaign.config import load_campaign
    from campaign.intake.rules import IntakeRequest
    from campaign.intake.run import run_intake
    from campaign.resources import Resources
    from campaign.settings import Settings
    from campaign.synth.target_lists import generate_target_list_file

    monkeypatch.setenv("CAMPAIGN_NOW", NOW)
    monkeypatch.setenv("CAMPAIGN_SMTP_PORT", str(free_port()))   # the mail server is down
    settings = Settings()
    w = portal_world(Resources(settings, load_campaign(settings.config), migrated_engine))
    source = tmp_path / "danh-sach-622.csv"
    generate_target_list_file(source, 25, seed=1, district="622")
    taken = run_intake(IntakeRequest(path=source, district="622", kind="target_list", channel="portal",
                                     submitted_by="ttyt622", original_filename=source.name),
                       engine=w.engine, settings=w.res.settings, campaign=w.res.campaign)
    assert taken.status == "accepted"
    w.ids["report"] = add_district_report(w.engine, tmp_path)
    clerk = login(w.app, "ttyt622")
    sent = upload(clerk, "622", "danh-sach-v2.csv", source.read_bytes(), csrf=page_csrf(clerk, "/huyen/622"))
    assert sent.status_code == 303
    w.ids.update(submission=taken.submission_id, job=int(sent.headers["location"].rsplit("/", 1)[1]))
    w.source = source   # type: ignore[attr-defined]  # the uploaded list: what must never reach the log
    return w


def _events(engine: Any, **where: Any) -> list[AuditEvent]:
    with Session(engine) as s:
        query = select(AuditEvent).order_by(AuditEvent.id)
        for key, value in where.items():
            query = query.where(getattr(AuditEvent, key) == value)
        return list(s.scalars(query))


def _dump(engine: Any) -> str:
    with engine.connect() as conn:
        return json.dumps([[str(v) for v in row] for row in conn.execute(text("SELECT * FROM audit_events")).all()],
                          ensure_ascii=False)


# ---------------------------------------------------------------------------------------------------------
# Tampering: refused and recorded
# ---------------------------------------------------------------------------------------------------------


def test_a_district_asking_for_another_districts_ids_is_refused_and_recorded(world):
    sub, job, rep = world.ids["submission"], world.ids["job"], world.ids["report"]
    other = TestClient(world.app, base_url=BASE, follow_redirects=False, client=("192.0.2.33", 40000),
                       headers={"User-Agent": UA})
    page = other.get("/dang-nhap")
    assert other.post("/dang-nhap", data={"username": "ttyt633", "password": PASSWORD["ttyt633"],
                                          "csrf_token": csrf_in(page.text)}).status_code == 303
    csrf = page_csrf(other, "/huyen/633")
    asked = {("submission", sub): [f"/nop/{sub}", f"/nop/{sub}/tep-phan-hoi", f"/nop/{sub}/tep-phan-hoi/dong-loi",
                                   f"/nop/{sub}/data-docs/"],
             ("job", job): [f"/viec/{job}", f"/viec/{job}/trang-thai"],
             ("report", rep): [f"/bao-cao/{rep}.pdf"],
             ("district", None): ["/huyen/622"]}
    for urls in asked.values():
        for url in urls:
            assert other.get(url).status_code == 404, url
    posts = [(f"/nop/{sub}/rut", {"reason": "thu"}, 404, ("submission", sub)),
             (f"/nop/{sub}/doc-lai", {"cot-0": "full_name"}, 404, ("submission", sub)),
             (f"/bao-cao/{rep}/duyet", {}, 403, ("report", rep)),
             ("/huyen/622/bao-cao", {}, 404, ("district", None))]
    for url, data, status, _ in posts:
        assert other.post(url, data={"csrf_token": csrf, **data}).status_code == status, url
    denied = _events(world.engine, action="access_denied")
    assert all(e.username == "ttyt633" and e.district_code == "633" and e.role == "district" and e.outcome == "refused"
               and e.client == "192.0.2.33" and e.user_agent == UA[:audit.USER_AGENT_CHARS] for e in denied)
    got: dict[tuple[str, int | None], int] = {}
    for e in denied:
        got[(e.target_type, e.target_id)] = got.get((e.target_type, e.target_id), 0) + 1
    expected: dict[tuple[str, int | None], int] = {k: len(v) for k, v in asked.items()}
    for *_, target in posts:
        expected[target] = expected.get(target, 0) + 1
    assert got == expected
    assert {e.target_label for e in denied if e.target_type == "district"} == {"622"}
    assert {e.details["reason"] for e in denied} == {"other_district", "coordinators_page"}

    # an id that does not exist is not found, and is not tampering: nothing recorded
    before = len(denied)
    assert other.get("/nop/999999").status_code == 404 and other.get("/viec/999999").status_code == 404
    # a bad CSRF token and a coordinators' page are
    assert other.post("/huyen/633/bao-cao", data={"csrf_token": "gia-mao"}).status_code == 403
    assert other.get("/tinh/nhat-ky").status_code == 403
    # a post from another site, a login form not from the portal
    assert other.post("/huyen/633/bao-cao", data={"csrf_token": csrf},
                      headers={"Origin": "http://trang-gia-mao.example"}).status_code == 403
    stranger = TestClient(world.app, base_url=BASE, follow_redirects=False, client=("192.0.2.99", 40000))
    assert stranger.post("/dang-nhap", data={"username": "ttyt622", "password": "x" * 12,
                                             "csrf_token": "khong-co"}).status_code == 403
    later = _events(world.engine, action="access_denied")[before:]
    assert [e.details["reason"] for e in later] == ["csrf", "coordinators_page", "origin", "csrf_login"]
    assert later[2].username == "ttyt633" and (later[3].username, later[3].client) == (None, "192.0.2.99")
    # nothing of 622 changed: the submission is still current, no job was queued for 633
    assert _events(world.engine, action="withdraw") == [] and _events(world.engine, action="report_build") == []


# ---------------------------------------------------------------------------------------------------------
# What is recorded, and what never is
# ---------------------------------------------------------------------------------------------------------


def test_what_districts_and_coordinators_do_is_recorded_without_personal_data(world):
    sub, rep = world.ids["submission"], world.ids["report"]
    _, failed = try_login(world.app, "ttyt622", "sai-mat-khau-roi")
    assert failed.status_code == 401
    clerk = login(world.app, "ttyt622")
    assert clerk.get(f"/nop/{sub}/tep-phan-hoi").status_code == 200
    assert clerk.get(f"/nop/{sub}/tep-phan-hoi/dong-loi").status_code in (200, 404)
    assert clerk.get(f"/bao-cao/{rep}.pdf").status_code == 200
    csrf = page_csrf(clerk, "/huyen/622")
    assert clerk.post("/huyen/622/bao-cao", data={"csrf_token": csrf}).status_code == 303
    assert upload(clerk, "622", "khong-phai-bang-tinh.csv", b"\x00\x01\x02" * 100, csrf=csrf).status_code == 415
    assert clerk.post(f"/nop/{sub}/rut", data={"csrf_token": csrf, "reason": "Gửi nhầm danh sách"}).status_code == 303
    assert clerk.post("/dang-xuat", data={"csrf_token": csrf}).status_code == 303

    coordinator = login(world.app, "syt.dieuphoi")
    token = page_csrf(coordinator, "/tai-khoan")
    assert coordinator.post("/tai-khoan", data={"csrf_token": token, "username": "ttyt.moi", "role": "district",
                                                "district": "633", "display_name": "Nguyễn Văn Mới"}).status_code == 200
    target = world.users["ttyt633"]
    for action in ("khoa", "mo", "dat-lai-mat-khau"):
        assert coordinator.post(f"/tai-khoan/{target}/{action}", data={"csrf_token": token}).status_code in (200, 303)

    # approving and sending a report: approved, the mail not sent (the server is down)
    board = coordinator.get("/tinh").text
    assert coordinator.post(f"/bao-cao/{rep}/duyet", data={"csrf_token": csrf_in(board)}).status_code in (409, 502)

    events = _events(world.engine)
    by_action: dict[str, list[AuditEvent]] = {}
    for e in events:
        by_action.setdefault(e.action, []).append(e)
    assert {"sign_in", "sign_in_failed", "sign_out", "upload", "download_feedback", "download_report",
            "report_build", "withdraw", "account_created", "account_disabled", "account_changed",
            "password_reset"} <= set(by_action)
    assert [e.outcome for e in by_action["sign_in_failed"]] == ["wrong_password"]
    [approval] = by_action["approval"]
    [sending] = by_action["report_submit"]
    assert (approval.outcome, approval.target_type, approval.target_id) == ("ok", "report", rep)
    assert sending.outcome in ("failed", "refused") and sending.details["error"]
    assert by_action["sign_in_failed"][0].username == "ttyt622"
    uploads = {e.outcome: e for e in by_action["upload"] if e.username == "ttyt622"}
    assert uploads["ok"].target_type == "job" and uploads["ok"].target_label == "danh-sach-v2.csv"
    assert uploads["ok"].details["kind"] == "target_list" and uploads["ok"].details["bytes"] > 0
    assert uploads["refused"].details["status"] == 415 and uploads["refused"].target_label == "khong-phai-bang-tinh.csv"
    assert {(e.target_type, e.target_id) for e in by_action["download_feedback"]} == {("submission", sub)}
    assert by_action["download_report"][0].target_id == rep and by_action["download_report"][0].details == {"format": "pdf"}
    assert by_action["withdraw"][0].target_id == sub and by_action["withdraw"][0].details == {}
    for action in ("account_disabled", "account_changed", "password_reset"):
        [e] = by_action[action]
        assert (e.username, e.role, e.target_type, e.target_id, e.target_label) == (
            "syt.dieuphoi", "coordinator", "user", target, "ttyt633"), action
    created = [e for e in by_action["account_created"] if e.target_label == "ttyt.moi"]
    assert len(created) == 1 and created[0].username == "syt.dieuphoi" and created[0].details == {
        "role": "district", "district": "633"}
    # the real clock, in UTC (the logical clock of the test says 2021)
    assert all(abs((e.at - dt.datetime.now(dt.UTC)).total_seconds()) < 600 for e in events)

    # nothing personal: no cell of the uploaded list (names, birth dates, phones, CCCD, health insurance,
    # addresses), no password, no withdrawal reason, no display name
    with world.source.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    personal = {v for row in rows for k, v in row.items()
                if k and v and len(v) >= 6 and not k.startswith(("STT", "Tỉnh", "Mã", "Quận", "Giới", "Mũi"))}
    assert len(personal) > 40
    dump = _dump(world.engine)
    assert not [v for v in personal if v in dump]
    assert not [p for p in PASSWORD.values() if p in dump]
    assert "Gửi nhầm" not in dump and "Nguyễn Văn Mới" not in dump


def test_the_account_commands_record_who_ran_them(campaign_home):
    from campaign.resources import get_resources
    from faces.cli import main

    runner = CliRunner()
    assert runner.invoke(main, ["users", "add", "ttyt.622", "--role", "district", "--district", "622"]).exit_code == 0
    assert runner.invoke(main, ["users", "disable", "ttyt.622"]).exit_code == 0
    assert runner.invoke(main, ["users", "enable", "ttyt.622"]).exit_code == 0
    assert runner.invoke(main, ["users", "reset-password", "ttyt.622"]).exit_code == 0
    refused = runner.invoke(main, ["users", "disable", "khong-co"])
    assert refused.exit_code == 3
    events = _events(get_resources().engine)
    assert [e.action for e in events] == ["account_created", "account_disabled", "account_changed", "password_reset"]
    for e in events:
        assert e.role == "cli" and e.username.startswith("cli") and e.user_id is None
        assert (e.target_type, e.target_label) == ("user", "ttyt.622")
    assert events[1].details == {"sessions_ended": 0}


def test_details_keep_codes_and_drop_anything_else():
    kept = audit.clean_details({"kind": "target_list", "bytes": 1024, "ok": True, "ratio": 0.5, "none": None,
                                "name": "Nguyễn Thị Diệp", "phone": "0912 655 313", "nested": {"a": 1},
                                "long": "x" * 65, "nan": float("nan"), "bad key": 1, "district": "622"})
    assert kept == {"kind": "target_list", "bytes": 1024, "ok": True, "ratio": 0.5, "none": None, "district": "622"}
    assert audit.cut("a\x00b\nc", 10) == "abc" and audit.cut("x" * 300, 160) == "x" * 160
    with pytest.raises(ValueError, match="unknown audit action"):
        audit.record(None, "delete_everything", actor=audit.Actor())  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------
# The coordinators' page; retention
# ---------------------------------------------------------------------------------------------------------


def _seed(engine: Any, n: int) -> None:
    """`n` events, one every 20 minutes back from 28/07/2021 09:00 Vietnam time, rotating users/actions."""
    start = dt.datetime(2021, 7, 28, 2, 0, tzinfo=dt.UTC)
    people = [("ttyt622", "district", "622"), ("ttyt633", "district", "633"), ("syt.dieuphoi", "coordinator", None)]
    actions = ["upload", "download_feedback", "sign_in"]
    with Session(engine) as s, s.begin():
        for i in range(n):
            name, role, district = people[i % 3]
            audit.record(s, actions[i % 3], actor=audit.Actor(username=name, role=role, district_code=district,
                                                              client="10.0.0.1"),
                         target_type="submission", target_id=i + 1, at=start - dt.timedelta(minutes=20 * i))


def test_the_coordinators_page_filters_and_pages(world):
    with Session(world.engine) as s, s.begin():
        s.execute(AuditEvent.__table__.delete())
    _seed(world.engine, 130)
    coordinator = login(world.app, "syt.dieuphoi")

    def shown(query: str) -> tuple[int, list[str], str]:
        page = coordinator.get("/tinh/nhat-ky" + query)
        assert page.status_code == 200, query
        total = int(re.search(r"<p>(\d+) sự kiện", page.text).group(1))
        return total, re.findall(r'<tr data-action="([a-z_]+)"', page.text), page.text

    total, rows, html = shown("")
    # the coordinator's own sign-in is an event too
    assert total == 131 and len(rows) == 50 and "trang 1/3" in html and 'rel="next"' in html
    assert 'rel="prev"' not in html and "28/07/2021" in html
    total, rows, html = shown("?trang=3")
    assert len(rows) == 31 and 'rel="next"' not in html and 'href="/tinh/nhat-ky?trang=2"' in html
    total, rows, _ = shown("?nguoi=ttyt622")
    assert total == 44 and set(rows) == {"upload"}
    total, rows, _ = shown("?huyen=633&hanh_dong=download_feedback")
    assert total == 43 and set(rows) == {"download_feedback"}
    total, _, _ = shown("?huyen=633&hanh_dong=upload")
    assert total == 0
    # days are Vietnam's: 28/07 starts at 27/07 17:00 UTC; events run back from 28/07 09:00 local
    total, _, _ = shown("?tu=2021-07-28&den=2021-07-28")
    assert total == 28   # 09:00 back to 00:00 local, every 20 minutes
    total, _, _ = shown("?tu=2021-07-27&den=2021-07-27")
    assert total == 72
    total, rows, html = shown("?huyen=62&hanh_dong=xoa-het&tu=hom-qua&trang=abc")
    assert total == 131 and "Bỏ qua điều kiện lọc không hợp lệ" in html
    # paging keeps the filters
    total, rows, html = shown("?tu=27/07/2021&den=2021-07-27")
    assert total == 72 and len(rows) == 50 and 'href="/tinh/nhat-ky?tu=2021-07-27&amp;den=2021-07-27&amp;trang=2"' in html
    total, rows, _ = shown("?tu=2021-07-27&den=2021-07-27&trang=2")
    assert total == 72 and len(rows) == 22
    # districts cannot see it
    clerk = login(world.app, "ttyt622")
    assert clerk.get("/tinh/nhat-ky").status_code == 403
    assert "/tinh/nhat-ky" not in clerk.get("/huyen/622").text


def test_purge_removes_events_past_retention_and_records_itself(migrated_engine, monkeypatch):
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with Session(migrated_engine) as s, s.begin():
        for days in (400, 366, 364, 1):
            audit.record(s, "sign_in", actor=audit.Actor(username=f"u{days}"), at=now - dt.timedelta(days=days))
    monkeypatch.setenv("CAMPAIGN_AUDIT_RETENTION_DAYS", "365")
    from campaign.settings import get_settings

    get_settings.cache_clear()
    try:
        with Session(migrated_engine) as s, s.begin():
            assert audit.purge(s, now=now) == 2
    finally:
        get_settings.cache_clear()
    left = _events(migrated_engine)
    assert [e.username for e in left if e.action == "sign_in"] == ["u364", "u1"]
    [purged] = [e for e in left if e.action == "audit_purge"]
    assert purged.details["deleted"] == 2 and purged.details["retention_days"] == 365 and purged.role == "cli"
    with pytest.raises(ValueError):
        audit.retention_cutoff(now, 0)


def test_the_audit_commands_show_and_purge_the_log(campaign_home):
    """`campaign audit show` lists what the accounts commands recorded (newest first, filters, JSON);
    `campaign audit purge --days` removes older events and records itself."""
    from campaign.resources import get_resources
    from faces.cli import main

    runner = CliRunner()
    assert runner.invoke(main, ["users", "add", "ttyt.622", "--role", "district", "--district", "622"]).exit_code == 0
    assert runner.invoke(main, ["users", "disable", "ttyt.622"]).exit_code == 0
    engine = get_resources().engine
    with Session(engine) as s, s.begin():   # one event from long ago
        audit.record(s, "sign_in", actor=audit.Actor(username="old"),
                     at=dt.datetime.now(dt.UTC) - dt.timedelta(days=40))
    shown = runner.invoke(main, ["audit", "show", "--json"])
    assert shown.exit_code == 0, shown.output
    payload = json.loads(shown.stdout.strip().splitlines()[-1])
    assert payload["total"] == 3
    assert [e["action"] for e in payload["events"]] == ["account_disabled", "account_created", "sign_in"]
    only = json.loads(runner.invoke(main, ["audit", "show", "--action", "account_created", "--json"])
                      .stdout.strip().splitlines()[-1])
    assert [e["target_label"] for e in only["events"]] == ["ttyt.622"]
    assert runner.invoke(main, ["audit", "show", "--action", "nonsense"]).exit_code == 2
    purged = runner.invoke(main, ["audit", "purge", "--days", "30"])
    assert purged.exit_code == 0 and "1 event(s) older than 30 days deleted" in purged.output
    left = [e.action for e in _events(engine)]
    assert "sign_in" not in left and "audit_purge" in left and "account_created" in left
