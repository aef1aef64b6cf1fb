"""The campaign report against a real database (SQLite and PostgreSQL): sections and key figures of the
DOCX and the PDF match the database; a district without data says so on its page; nothing goes upward
unapproved; the approved report is e-mailed (a local SMTP server) with its files and closes the deadline,
on time or late; the command line and the flow."""

from __future__ import annotations

import datetime as dt
import email
import json
import time

import pandas as pd
import pytest
from docx import Document
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaign.config import load_campaign
from campaign.deadlines.notify import Notifier
from campaign.deadlines.run import board
from campaign.master_list import run as ml_run
from campaign.planning import run as planning
from campaign.reports import present
from campaign.reports import run as reports
from campaign.reports.rules import ReportError
from campaign.store.models import MasterPerson, ReportRecord
from tests.dedupe_support import store_rows
from tests.smtp_support import smtp_server
from tests.test_plan import AT, DAY, _facilities, _people, _staff, _stock

C1 = "23566"
DUE_DISTRICT = dt.datetime(2021, 7, 29, tzinfo=dt.timezone(dt.timedelta(hours=7)))


def _preparation_rows() -> dict[str, pd.DataFrame]:
    """Pleiku's infrastructure, training and communication: what its preparation deliverable needs."""
    base = {"district": "622", "facility_code": "64622-TYT-01"}
    return {
        "infrastructure": pd.DataFrame([{**base, "computers_available": 1, "internet_available": "yes",
                                         "printers_available": 1, "qr_scanners_available": 1}]),
        "training": pd.DataFrame([{**base, "full_name": f"Cán bộ {r}", "staff_type": "health_staff",
                                   "role_trained": r, "training_date": DAY - dt.timedelta(days=3), "completed": "yes",
                                   "phone": f"+8497000000{i}"}
                                  for i, r in enumerate(["reception", "screening", "vaccinator", "recorder",
                                                         "observation"])]),
        "communication": pd.DataFrame([{"district": "622", "activity": "Phát thanh", "channel": c, "message": "all_three",
                                        "activity_date": DAY - dt.timedelta(days=2)}
                                       for c in ("loudspeaker", "social_media")]),
    }


def _world(engine) -> None:
    store_rows(engine, pd.DataFrame(_people(150, C1, "A")), when=AT)
    store_rows(engine, _facilities(), when=AT, kind="facilities")
    store_rows(engine, _staff(), when=AT, kind="staff")
    store_rows(engine, _stock(10), when=AT, kind="vaccine_stock")
    for kind, rows in _preparation_rows().items():
        store_rows(engine, rows, when=AT, kind=kind)
    campaign = load_campaign()
    ml_run.build(engine, campaign, as_of=AT)
    planning.make_plan(engine, campaign, start=DAY, days=3, as_of=AT)


def _docx_text(path: str) -> tuple[list[str], str]:
    doc = Document(path)
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    return headings, "\n".join([p.text for p in doc.paragraphs] + cells)


def _pdf_text(path: str) -> str:
    """The text of every page, lines joined (a sentence may wrap anywhere)."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(path).pages).split())


def test_province_and_district_reports_match_the_database(migrated_engine, tmp_path) -> None:
    campaign = load_campaign()
    _world(migrated_engine)
    result = reports.compile_reports(migrated_engine, campaign, level="province", as_of=AT, out_dir=tmp_path)
    [province] = result.built
    headings, text = _docx_text(province.files["docx"])
    for number in ("I.", "II.1.", "II.1.a.", "II.2.", "II.2.c.", "II.2.e.", "II.3.", "II.4.", "III.", "IV."):
        assert any(h.startswith(number) for h in headings), (number, headings)
    assert any(h.startswith("Phụ lục") for h in headings)
    with Session(migrated_engine) as s:
        people = s.scalar(select(func.count()).select_from(MasterPerson))
    assert province.figures["people_total"] == people == 150
    assert f"Số đối tượng trong danh sách tổng hợp: {people}" in text
    assert province.figures["planned_invitations"] == 100 and province.figures["doses_on_hand"] == 100
    pdf = _pdf_text(province.files["pdf"])
    assert f"Số đối tượng trong danh sách tổng hợp: {people}" in pdf and "Phụ lục" in pdf
    # a district without any accepted submission is named on the page, never silently counted as zero
    assert "Thị xã An Khê (623) chưa có dữ liệu được chấp nhận" in text
    assert "Thị xã An Khê (623) chưa có dữ liệu được chấp nhận" in pdf
    # every submission the figures come from is in the appendix
    assert province.figures["submissions"] and all(str(i) in text for i in province.figures["submissions"])

    district = reports.compile_reports(migrated_engine, campaign, level="district", units=["623"], as_of=AT,
                                       out_dir=tmp_path).built[0]
    assert district.version == 1 and district.warnings >= 3 and district.figures["people_total"] == 0
    again = reports.compile_reports(migrated_engine, campaign, level="province", as_of=AT, out_dir=tmp_path,
                                    formats=("html",)).built[0]
    assert again.version == 2 and again.files["html"].endswith(".html")
    with pytest.raises(ReportError):
        reports.compile_reports(migrated_engine, campaign, level="district", units=["999"], as_of=AT, out_dir=tmp_path)
    facility = reports.compile_reports(migrated_engine, campaign, level="facility", units=["64622-TYT-01"], as_of=AT,
                                       out_dir=tmp_path, formats=("docx",)).built[0]
    assert facility.figures["facilities_total"] == 1 and "64622-TYT-01" in facility.unit_name


def test_nothing_goes_upward_unapproved_and_a_sent_report_closes_its_deadline(migrated_engine, tmp_path) -> None:
    campaign = load_campaign()
    _world(migrated_engine)
    with smtp_server() as (port, mailbox):
        send = Notifier(smtp_host="127.0.0.1", smtp_port=port, sender="syt@example.gov.vn", timeout_s=5)
        reports.compile_reports(migrated_engine, campaign, level="district", units=["622"], as_of=AT, out_dir=tmp_path)
        with pytest.raises(reports.ApprovalError, match="chưa được duyệt"):
            reports.submit_report(migrated_engine, campaign, send, level="district", unit="622", by="ttyt", at=AT)
        approved = reports.approve(migrated_engine, level="district", unit="622", by="Giám đốc TTYT", at=AT)
        assert approved["version"] == 1
        with pytest.raises(reports.ApprovalError, match="đã được"):
            reports.approve(migrated_engine, level="district", unit="622", by="x", at=AT)
        # a newer build must be approved again before anything is sent
        reports.compile_reports(migrated_engine, campaign, level="district", units=["622"], as_of=AT, out_dir=tmp_path)
        with pytest.raises(reports.ApprovalError, match="phiên bản mới nhất \\(2\\)"):
            reports.submit_report(migrated_engine, campaign, send, level="district", unit="622", by="ttyt", at=AT)
        reports.approve(migrated_engine, level="district", unit="622", by="Giám đốc TTYT", at=AT)
        with pytest.raises(reports.ApprovalError, match="trước thời điểm duyệt"):   # no backdating
            reports.submit_report(migrated_engine, campaign, send, level="district", unit="622", by="ttyt",
                           at=AT - dt.timedelta(hours=1))
        late = DUE_DISTRICT + dt.timedelta(hours=9)       # 29/7 09:00: after the deadline
        sent = reports.submit_report(migrated_engine, campaign, send, level="district", unit="622", by="ttyt", at=late)
        province = reports.compile_reports(migrated_engine, campaign, level="province", as_of=AT, out_dir=tmp_path)
        # the province's report says which districts stand behind their own report
        assert province.built[0].figures["district_reports_sent"] == 1
        assert "v2 đã gửi 29/07 09:00" in _docx_text(province.built[0].files["docx"])[1]
        reports.approve(migrated_engine, level="province", unit="64", by="Giám đốc Sở", at=AT)
        on_time = DUE_DISTRICT + dt.timedelta(hours=10)   # 29/7 10:00: the province's is due on 30/7
        reports.submit_report(migrated_engine, campaign, send, level="province", unit="64", by="syt", at=on_time)
        with pytest.raises(reports.ApprovalError, match="đã được gửi"):
            reports.submit_report(migrated_engine, campaign, send, level="province", unit="64", by="syt", at=on_time)
        # a version with no PDF or DOCX has nothing to send
        reports.compile_reports(migrated_engine, campaign, level="district", units=["633"], as_of=AT,
                                out_dir=tmp_path, formats=("html",))
        reports.approve(migrated_engine, level="district", unit="633", by="GĐ", at=AT)
        with pytest.raises(reports.ApprovalError, match="không có tệp PDF hay DOCX"):
            reports.submit_report(migrated_engine, campaign, send, level="district", unit="633", by="ttyt", at=on_time)
        time.sleep(0.2)
    assert len(mailbox.messages) == 2
    _sender, rcpts, raw = mailbox.messages[0]
    assert rcpts == present.recipients_of(campaign, "district", "622") == sent["recipients"]
    msg = email.message_from_bytes(raw)
    names = sorted(part.get_filename() for part in msg.walk() if part.get_filename())
    assert names == ["bao-cao-district-622-v2.docx", "bao-cao-district-622-v2.pdf"]
    attached_pdf = next(p for p in msg.walk() if (p.get_filename() or "").endswith(".pdf")).get_payload(decode=True)
    assert attached_pdf.startswith(b"%PDF") and "Phiên bản 2" in _pdf_text_bytes(attached_pdf, tmp_path)
    with Session(migrated_engine) as s:
        record = s.execute(select(ReportRecord).where(ReportRecord.level == "district", ReportRecord.version == 2)) \
            .scalar_one()
        assert record.submitted_at is not None and record.message_id == sent["message_id"]
        deliverables = {(d["deadline"], d["party"]): d for d in
                        board(s, campaign, DUE_DISTRICT + dt.timedelta(days=1))["deliverables"]}
    assert deliverables[("district_preparation", "622")]["state"] == "done_late"
    assert deliverables[("district_preparation", "633")]["state"] == "overdue"
    assert deliverables[("doh_central_report", "doh")]["state"] == "done_on_time"
    assert province.built[0].version == 1


def _pdf_text_bytes(content: bytes, tmp_path) -> str:
    path = tmp_path / "attached.pdf"
    path.write_bytes(content)
    return _pdf_text(str(path))


def test_report_commands_and_flow_artifacts(prefect_harness, campaign_home) -> None:
    from click.testing import CliRunner

    from campaign.resources import get_resources
    from faces.cli import main

    runner = CliRunner()
    _world(get_resources().engine)
    out = campaign_home / "reports"
    built = runner.invoke(main, ["report", "--level", "district", "--unit", "Pleiku", "--out", str(out),
                                 "--format", "docx", "--format", "pdf", "--json", "--at", "2021-07-28T20:00"])
    assert built.exit_code == 0, built.output
    result = json.loads(built.stdout.strip().splitlines()[-1])
    [one] = result["reports"]
    assert one["unit"] == "622" and set(one["files"]) == {"docx", "pdf"}
    assert (out / "district" / "bao-cao-district-622-v1.pdf").exists()
    assert runner.invoke(main, ["report", "--level", "district", "--unit", "Pleiku", "--submit",
                                "--by", "ttyt"]).exit_code == 3        # not approved
    assert runner.invoke(main, ["report", "approve", "--level", "district", "--unit", "622"]).exit_code == 2
    ok = runner.invoke(main, ["report", "approve", "--level", "district", "--unit", "622", "--by", "GĐ", "--json"])
    assert ok.exit_code == 0 and json.loads(ok.stdout.strip().splitlines()[-1])["version"] == 1
    assert runner.invoke(main, ["report", "--level", "district", "--unit", "Ba Đình"]).exit_code == 2
    listed = runner.invoke(main, ["report", "history", "--json"])
    assert json.loads(listed.stdout.strip().splitlines()[-1])["reports"][0]["approved_by"] == "GĐ"

    import asyncio

    from prefect.client.orchestration import get_client

    async def artifacts() -> dict[str, str]:
        async with get_client() as client:
            from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

            keys = ArtifactFilter(key=ArtifactFilterKey(any_=["reports-built", "progress-province", "progress-622"]))
            return {a.key: json.dumps(a.data, ensure_ascii=False)
                    for a in await client.read_artifacts(artifact_filter=keys) if a.key}
    found = asyncio.run(artifacts())
    assert {"reports-built", "progress-province", "progress-622"} <= set(found)
    assert "Nguyễn Văn" not in found["progress-622"] and "+849" not in found["reports-built"]
