"""The preparation report through the portal: a district asks for it (a `compile-report` flow run by the
worker code), a coordinator approves and sends it by e-mail; a district cannot approve, nor reach another
district's report."""

from __future__ import annotations

import email

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaign import accounts, jobs
from campaign.store.models import PortalJob, ReportRecord
from tests.portal_http_support import csrf_in
from tests.smtp_support import smtp_server

pytestmark = pytest.mark.prefect
PASSWORD = "mat-khau-thu-nghiem"


def _signed_in(app, username: str):
    from starlette.testclient import TestClient

    client = TestClient(app, base_url="http://testserver")
    page = client.get("/dang-nhap")
    done = client.post("/dang-nhap", data={"csrf_token": csrf_in(page.text), "username": username, "password": PASSWORD},
                       follow_redirects=False)
    assert done.status_code == 303
    return client


def test_district_asks_for_its_report_and_a_coordinator_approves_and_sends_it(prefect_harness, campaign_home,
                                                                              monkeypatch):
    from campaign.resources import get_resources, reset_resources
    from faces.portal.app import create_app
    from faces.portal.worker import RUNNERS

    monkeypatch.setenv("CAMPAIGN_NOW", "2021-07-28T15:00")
    with smtp_server() as (port, mailbox):
        monkeypatch.setenv("CAMPAIGN_SMTP_PORT", str(port))
        reset_resources()
        res = get_resources()
        with Session(res.engine) as s, s.begin():
            for name, role, district in (("ttyt622", "district", "622"), ("ttyt623", "district", "623"),
                                         ("syt", "coordinator", None)):
                accounts.add_user(s, username=name, password=PASSWORD, role=role, district_code=district)
        app = create_app(res)
        clerk = _signed_in(app, "ttyt622")
        home = clerk.get("/huyen/622")
        asked = clerk.post("/huyen/622/bao-cao", data={"csrf_token": csrf_in(home.text)}, follow_redirects=False)
        assert asked.status_code == 303 and asked.headers["location"].startswith("/viec/")
        job = jobs.claim_next(res.engine, "test")
        assert job.action == "report" and job.district_code == "622"
        outcome, flow_run_id, links = RUNNERS[job.action](job, "ttyt622")
        jobs.finish(res.engine, job.id, outcome=outcome, flow_run_id=flow_run_id, **links)
        with Session(res.engine) as s:
            record = s.get(ReportRecord, links["report_id"])
            assert (record.level, record.unit, record.approved_at, record.flow_run_id) == ("district", "622", None,
                                                                                         flow_run_id)
            assert s.scalar(select(PortalJob.status).where(PortalJob.id == job.id)) == "done"
        page = clerk.get("/huyen/622").text
        assert "Chờ Sở Y tế duyệt" in page and f"/bao-cao/{record.id}.pdf" in page
        assert clerk.get(f"/bao-cao/{record.id}.pdf").content.startswith(b"%PDF")
        # a district may not approve, and another district cannot download it
        refused = clerk.post(f"/bao-cao/{record.id}/duyet", data={"csrf_token": csrf_in(page)}, follow_redirects=False)
        assert refused.status_code == 403
        other = _signed_in(app, "ttyt623")
        assert other.get(f"/bao-cao/{record.id}.pdf").status_code == 404
        # the coordinator sees it waiting, approves and sends it
        coordinator = _signed_in(app, "syt")
        board = coordinator.get("/tinh").text
        assert f'action="/bao-cao/{record.id}/duyet"' in board
        sent = coordinator.post(f"/bao-cao/{record.id}/duyet", data={"csrf_token": csrf_in(board)},
                                follow_redirects=False)
        assert sent.status_code == 303 and sent.headers["location"] == "/tinh?notice=report-approved"
        with Session(res.engine) as s:
            record = s.get(ReportRecord, record.id)
            assert record.approved_by and record.submitted_at is not None and record.message_id
        assert "Đã gửi" in clerk.get("/huyen/622").text
        again = coordinator.post(f"/bao-cao/{record.id}/duyet", data={"csrf_token": csrf_in(board)})
        assert again.status_code == 409   # sent once, never twice
    assert len(mailbox.messages) == 1
    message = email.message_from_bytes(mailbox.messages[0][2])
    assert {p.get_filename() for p in message.walk() if p.get_filename()} == {
        f"bao-cao-district-622-v{record.version}.pdf", f"bao-cao-district-622-v{record.version}.docx"}
    reset_resources()


def test_an_approved_report_whose_mail_failed_can_be_sent_again_from_the_board(campaign_home, monkeypatch):
    from campaign import clock
    from campaign.reports import run as reports
    from campaign.resources import get_resources, reset_resources
    from faces.portal.app import create_app
    from tests.smtp_support import free_port

    monkeypatch.setenv("CAMPAIGN_NOW", "2021-07-28T15:00")
    port = free_port()   # nothing listens there yet: the mail server is down
    monkeypatch.setenv("CAMPAIGN_SMTP_PORT", str(port))
    reset_resources()
    res = get_resources()
    with Session(res.engine) as s, s.begin():
        accounts.add_user(s, username="syt", password=PASSWORD, role="coordinator", district_code=None)
    built = reports.compile_reports(res.engine, res.campaign, level="district", units=["624"],
                                    as_of=clock.to_utc(clock.now()), out_dir=res.settings.outputs_dir / "reports")
    report_id = built.built[0].record_id
    coordinator = _signed_in(create_app(res), "syt")
    board = coordinator.get("/tinh").text
    failed = coordinator.post(f"/bao-cao/{report_id}/duyet", data={"csrf_token": csrf_in(board)}, follow_redirects=False)
    assert failed.status_code == 502 and "chưa gửi được thư" in failed.text
    with Session(res.engine) as s:
        record = s.get(ReportRecord, report_id)
        assert record.approved_at is not None and record.submitted_at is None
    board = coordinator.get("/tinh").text
    assert "Gửi lại (đã duyệt, thư chưa đi)" in board and f'action="/bao-cao/{report_id}/duyet"' in board
    with smtp_server(port) as (_port, mailbox):
        sent = coordinator.post(f"/bao-cao/{report_id}/duyet", data={"csrf_token": csrf_in(board)},
                                follow_redirects=False)
        assert sent.status_code == 303
    assert len(mailbox.messages) == 1
    with Session(res.engine) as s:
        assert s.get(ReportRecord, report_id).submitted_at is not None
    assert f'action="/bao-cao/{report_id}/duyet"' not in coordinator.get("/tinh").text
    reset_resources()


def test_a_district_builds_and_sends_its_own_facilitys_plan_to_its_health_centre(prefect_harness, campaign_home,
                                                                                 monkeypatch):
    """Directive section 3: the health centre guides its facilities' plans, which are sent to it ("gửi Kế
    hoạch này cho Trung tâm Y tế để tổng hợp"). From the district page: the facility's plan is built by the
    compile-report flow (a portal job, as the district report), approved and sent to the health centre's
    mailbox; the facility's `facility_plan` deliverable is then done. Another district reaches none of it."""
    from campaign import clock
    from campaign.deadlines.run import board
    from campaign.resources import get_resources, reset_resources
    from faces.portal.app import create_app
    from faces.portal.worker import RUNNERS
    from tests.dedupe_support import store_rows
    from tests.test_plan import AT, _facilities

    facility = "64622-TYT-01"
    monkeypatch.setenv("CAMPAIGN_NOW", "2021-07-28T15:00")
    with smtp_server() as (port, mailbox):
        monkeypatch.setenv("CAMPAIGN_SMTP_PORT", str(port))
        reset_resources()
        res = get_resources()
        store_rows(res.engine, _facilities(), when=AT, kind="facilities")
        with Session(res.engine) as s, s.begin():
            for name, district in (("ttyt622", "622"), ("ttyt623", "623")):
                accounts.add_user(s, username=name, password=PASSWORD, role="district", district_code=district)
        app = create_app(res)
        clerk, other = _signed_in(app, "ttyt622"), _signed_in(app, "ttyt623")
        home = clerk.get("/huyen/622").text
        assert 'id="ke-hoach-co-so"' in home and "Lập kế hoạch của cơ sở và gửi Trung tâm Y tế" in home
        assert f'action="/huyen/622/co-so/{facility}/ke-hoach"' in home and "64622-TYT-02" in home
        assert "Chưa đến hạn" in home.split(f'data-facility="{facility}"')[1].split("</tr>")[0]
        # another district can ask for neither this district's facility nor, under its own code, a facility
        # that is not its own
        other_home = other.get("/huyen/623").text
        assert facility not in other_home
        for path in (f"/huyen/622/co-so/{facility}/ke-hoach", f"/huyen/623/co-so/{facility}/ke-hoach"):
            assert other.post(path, data={"csrf_token": csrf_in(other_home)}, follow_redirects=False).status_code == 404
        assert clerk.post("/huyen/622/co-so/64622-XXX-99/ke-hoach", data={"csrf_token": csrf_in(home)},
                          follow_redirects=False).status_code == 404
        asked = clerk.post(f"/huyen/622/co-so/{facility}/ke-hoach", data={"csrf_token": csrf_in(home)},
                           follow_redirects=False)
        assert asked.status_code == 303 and asked.headers["location"].startswith("/viec/")
        job = jobs.claim_next(res.engine, "test")
        assert (job.action, job.district_code, job.facility_code) == ("report", "622", facility)
        assert jobs.claim_next(res.engine, "test") is None   # the refused requests queued nothing
        outcome, flow_run_id, links = RUNNERS[job.action](job, "ttyt622")
        jobs.finish(res.engine, job.id, outcome=outcome, flow_run_id=flow_run_id, **links)
        with Session(res.engine) as s:
            record = s.get(ReportRecord, links["report_id"])
            assert (record.level, record.unit, record.approved_at, record.flow_run_id) == (
                "facility", facility, None, flow_run_id)
        done = clerk.get(asked.headers["location"], follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == "/huyen/622#ke-hoach-co-so"
        page = clerk.get("/huyen/622").text
        row = page.split(f'data-facility="{facility}"')[1].split("</tr>")[0]
        assert "Chờ Trung tâm Y tế duyệt và gửi" in row and f'action="/bao-cao/{record.id}/duyet"' in row
        assert clerk.get(f"/bao-cao/{record.id}.pdf").content.startswith(b"%PDF")
        # another district can neither download nor send it
        assert other.get(f"/bao-cao/{record.id}.pdf").status_code == 404
        assert other.post(f"/bao-cao/{record.id}/duyet", data={"csrf_token": csrf_in(other_home)},
                          follow_redirects=False).status_code == 404
        sent = clerk.post(f"/bao-cao/{record.id}/duyet", data={"csrf_token": csrf_in(page)}, follow_redirects=False)
        assert sent.status_code == 303 and sent.headers["location"] == "/huyen/622?notice=plan-sent#ke-hoach-co-so"
        with Session(res.engine) as s:
            record = s.get(ReportRecord, record.id)
            assert record.approved_by and record.submitted_at is not None
            assert record.recipients == ["ttyt.622@example.gov.vn"]
            plans = {d["party"]: d for d in board(s, res.campaign, clock.now())["deliverables"]
                     if d["deadline"] == "facility_plan"}
        assert plans[facility]["state"] == "done_on_time" and plans["64622-TYT-02"]["state"] == "due"
        row = clerk.get("/huyen/622").text.split(f'data-facility="{facility}"')[1].split("</tr>")[0]
        assert "Đã xong đúng hạn" in row and "Đã gửi" in row and "/duyet" not in row
        assert clerk.post(f"/bao-cao/{record.id}/duyet", data={"csrf_token": csrf_in(page)}).status_code == 409
    assert len(mailbox.messages) == 1
    _sender, to, raw = mailbox.messages[0]
    assert to == ["ttyt.622@example.gov.vn"]
    message = email.message_from_bytes(raw)
    assert {p.get_filename() for p in message.walk() if p.get_filename()} == {
        f"bao-cao-facility-{facility}-v1.pdf", f"bao-cao-facility-{facility}-v1.docx"}
    reset_resources()
