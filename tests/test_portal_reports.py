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
    from campaign.portal.app import create_app
    from campaign.portal.worker import RUNNERS
    from campaign.resources import get_resources, reset_resources

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
    from campaign.portal.app import create_app
    from campaign.reports import run as reports
    from campaign.resources import get_resources, reset_resources
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
