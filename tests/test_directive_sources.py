"""Issue 17, "the directive, read exactly": every deadline, party and report recipient exists because a line
of directive 1038/UBND-KGVX says so, or is the province's own decision and said to be; who issues the
district report and who drafts it; messages point to the portal and are titled by their real state."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from campaign.config import load_campaign
from campaign.config_files import DEFAULT_CAMPAIGN_FILE, ConfigError
from campaign.deadlines.present import compose
from campaign.deadlines.rules import deliverables, recipients
from tests.clock_support import at

DIRECTIVE = Path(__file__).resolve().parents[1] / "config" / "directive-1038-UBND-KGVX.txt"  # kept with the repo


@pytest.fixture(scope="module")
def campaign():
    return load_campaign()


def _plain(text: str) -> str:
    return " ".join(text.replace("*", "").split())


def _sources(campaign):
    for d in campaign.deadlines:
        yield f"deadlines.{d.id}", d.source
    for key, p in campaign.parties.items():
        yield f"parties.{key}", p.source
        for t in p.tasks:
            yield f"parties.{key}.tasks", t.source
    for level, rs in campaign.reports.recipients.items():
        for r in rs:
            yield f"reports.recipients.{level}.{r.address}", r.source


def test_every_quoted_line_is_the_directives(campaign) -> None:
    """Each `by: directive` source quotes words that are in the directive (fragments joined by "..." or "|")."""
    text = _plain(DIRECTIVE.read_text(encoding="utf-8"))
    for where, source in _sources(campaign):
        if source.by != "directive":
            continue
        for fragment in re.split(r"\s*(?:\.\.\.|\|)\s*", source.quote or ""):
            if fragment.strip():
                assert _plain(fragment) in text, f"{where}: not the directive's words: {fragment!r}"


def test_the_directive_sets_29_7_for_the_district_report_and_30_7_for_the_doh(campaign) -> None:
    """Mục 3: "Tổng hợp công tác chuẩn bị ..., báo cáo về Ban Chỉ đạo của tỉnh trước ngày 29/7/2021";
    mục II.1: "Thời gian hoàn thành các công việc nêu trên và báo cáo ... trước ngày 29/7/2021 (thông qua Sở Y
    tế)"; mục 1: "báo cáo về Ban Chỉ đạo Trung ương trước ngày 30/7/2021"."""
    by_id = {d.id: d for d in campaign.deadlines}
    assert by_id["district_preparation"].source.by == "directive" and "29/7/2021" in by_id["district_preparation"].source.quote
    assert by_id["doh_central_report"].source.by == "directive" and "30/7/2021" in by_id["doh_central_report"].source.quote


def test_the_target_list_date_is_the_provinces_and_not_escalated_in_the_directives_name(campaign) -> None:
    """The annex II.2 ("Lập danh sách, rà soát chuẩn hoá danh sách đối tượng tiêm chủng") sets no date: the
    29/7 of `district_target_list` is the province's own; its ladder never reaches the provincial committee."""
    d = next(d for d in campaign.deadlines if d.id == "district_target_list")
    assert d.source.by == "province" and d.source.quote is None
    assert "theo quyết định của tỉnh" in d.source.label()
    reach = {who for s in campaign.escalation_ladders[d.escalation] for who in s.to}
    assert not any(w.startswith("provincial_committee") for w in reach)
    item = next(i for i in deliverables(campaign) if i.deadline == "district_target_list" and i.party == "633")
    subject, body, _ = compose(item, "escalated", party_name="Chư Sê", missing=[], feedback={}, now=at("29/07 12:00"))
    assert "theo quyết định của tỉnh" in subject and "theo quyết định của tỉnh" in body
    assert "Căn cứ: theo Công văn" not in body and "Báo cáo cấp trên" not in subject


def test_a_province_date_escalated_to_the_provincial_committee_is_refused(tmp_path) -> None:
    data = yaml.safe_load(DEFAULT_CAMPAIGN_FILE.read_text(encoding="utf-8"))
    target = next(d for d in data["deadlines"] if d["id"] == "district_target_list")
    target["escalation"] = "district_ladder"      # the ladder that reports to the provincial committee
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match="district_target_list.*source: province"):
        load_campaign(path)


@pytest.mark.parametrize("source", [{"by": "directive"}, {"by": "directive", "section": "3"},
                                    {"by": "province", "quote": "trước ngày 29/7/2021"}, None])
def test_a_source_must_be_cited_or_said_to_be_the_provinces(tmp_path, source) -> None:
    data = yaml.safe_load(DEFAULT_CAMPAIGN_FILE.read_text(encoding="utf-8"))
    if source is None:
        del data["deadlines"][0]["source"]
    else:
        data["deadlines"][0]["source"] = source
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"deadlines\.0\.source"):
        load_campaign(path)


def test_the_doh_report_goes_to_the_addresses_the_directive_names(campaign) -> None:
    """Mục 1: "gửi Kế hoạch này về Bộ Y tế, Bộ Thông tin và Truyền thông qua địa chỉ thư điện tử:
    tiemchungcovid.cntt@moh.gov.vn và dnvinh@mic.gov.vn"; the provincial committee's copy is the province's."""
    from campaign.reports.present import recipients_of

    province = {r.address: r.source.by for r in campaign.reports.recipients["province"]}
    assert province["tiemchungcovid.cntt@moh.gov.vn"] == "directive" and province["dnvinh@mic.gov.vn"] == "directive"
    assert province["bcd.tinh@example.gov.vn"] == "province"
    assert not any("example" in a for a, by in province.items() if by == "directive")
    assert recipients_of(campaign, "province", "64")[:2] == ["tiemchungcovid.cntt@moh.gov.vn", "dnvinh@mic.gov.vn"]
    # mục 3: "gửi Kế hoạch này cho Trung tâm Y tế để tổng hợp": a facility's plan to its district's TTYT
    assert recipients_of(campaign, "facility", "64633-TYT-01", "633") == ["ttyt.633@example.gov.vn"]


def test_facility_plans_go_to_the_health_centre_on_a_short_ladder(campaign) -> None:
    """Mục 3: "hướng dẫn các cơ sở tiêm chủng ... xây dựng Kế hoạch ... của cơ sở mình; gửi Kế hoạch này cho
    Trung tâm Y tế để tổng hợp" (no date given: the due time is the province's)."""
    d = next(d for d in campaign.deadlines if d.party == "facilities")
    assert d.requires.report == "facility" and d.source.by == "province"
    assert d.due_at <= next(x for x in campaign.deadlines if x.id == "district_preparation").due_at
    items = [i for i in deliverables(campaign, facilities={"64633-TYT-01": "633"}) if i.deadline == d.id]
    assert [(i.party, i.district) for i in items] == [("64633-TYT-01", "633")]
    assert [i for i in deliverables(campaign) if i.deadline == d.id] == []      # no facility list yet: no party
    for step in campaign.escalation_ladders[d.escalation]:
        assert {r.address for r in recipients(step, "64633-TYT-01", campaign, district="633")} == \
            {"ttyt.633@example.gov.vn"}


def test_the_dic_and_viettel_are_parties_with_what_the_directive_asks(campaign) -> None:
    """Mục 2: "Sở Thông tin và Truyền thông: ... Hướng dẫn, phối hợp với cơ quan thông tấn báo chí, hệ thống
    thông tin cơ sở ..."; mục 4: "Viettel Gia Lai: Phối hợp với Sở Y tế, Trung tâm Y tế tập huấn, hướng dẫn
    các cơ sở tiêm chủng ..."."""
    dic, viettel = campaign.parties["dic"], campaign.parties["viettel"]
    assert dic.source.section == "2" and any("báo chí" in t.task for t in dic.tasks)
    assert viettel.source.section == "4" and any("tập huấn" in t.task for t in viettel.tasks)


def test_a_catch_up_step_is_titled_by_its_real_state_and_links_to_the_portal(campaign, monkeypatch) -> None:
    from campaign.deadlines.present import portal_page as _portal_page
    from campaign.deadlines.present import portal_url
    from campaign.settings import get_settings

    monkeypatch.setenv("CAMPAIGN_PORTAL_URL", "https://tiemchung.gialai.example/")
    get_settings.cache_clear()
    try:
        item = next(i for i in deliverables(campaign) if i.deadline == "district_preparation" and i.party == "633")
        subject, body, payload = compose(item, "reminder", party_name="Chư Sê", missing=[],
                                         feedback={"training": portal_url("/nop/12")}, now=at("29/07 13:00"),
                                         fires_at=at("28/07 16:00"), portal_page=_portal_page(item))
        assert "Nhắc việc" not in subject and subject.startswith("[Quá hạn]") and payload["title"] == "Quá hạn"
        assert "Đã quá hạn 13 giờ." in body and "gửi bù" in body
        assert "https://tiemchung.gialai.example/huyen/633" in body
        assert "https://tiemchung.gialai.example/nop/12" in body and "/tmp/" not in body
        # on time, a reminder is a reminder, citing the directive's line
        subject, body, _ = compose(item, "reminder", party_name="Chư Sê", missing=[], feedback={},
                                   now=at("28/07 16:00"))
        assert subject.startswith("[Nhắc việc]") and "Căn cứ: theo Công văn 1038/UBND-KGVX, mục" in body
    finally:
        get_settings.cache_clear()


def test_the_district_report_is_issued_by_the_district_and_drafted_by_its_health_centre(migrated_engine,
                                                                                      tmp_path) -> None:
    """Mục 3: "UBND - BCD các huyện ...: Chỉ đạo Trung tâm Y tế trực thuộc chủ trì ... tham mưu ...; Tổng hợp
    công tác chuẩn bị ..., báo cáo về Ban Chỉ đạo của tỉnh": the district (UBND - BCĐ) issues and signs, the
    health centre drafts. A facility's plan, sent, goes to the health centre and closes its deliverable."""
    from sqlalchemy.orm import Session

    from campaign.deadlines.notify import Notifier
    from campaign.deadlines.run import board
    from campaign.reports import run as reports
    from tests.smtp_support import smtp_server
    from tests.test_report import AT, _docx_text, _pdf_text, _world

    campaign = load_campaign()
    _world(migrated_engine)
    built = reports.compile_reports(migrated_engine, campaign, level="district", units=["622"], as_of=AT,
                                    out_dir=tmp_path).built[0]
    _headings, text = _docx_text(built.files["docx"])
    pdf = _pdf_text(built.files["pdf"])
    for shown in (text, pdf):
        assert "ỦY BAN NHÂN DÂN" in shown and "BAN CHỈ ĐẠO" in shown and "TRƯỞNG BAN" in shown
        assert "Đơn vị tham mưu, dự thảo: Trung tâm Y tế" in " ".join(shown.split())
        assert "TRUNG TÂM Y TẾ" not in shown.split("CỘNG HÒA")[0]     # no longer the heading's issuer
        # the reports say whose the dates are: the target lists' 29/7 is the province's decision
        assert "Theo quyết định của tỉnh (Công văn không quy định thời hạn)" in " ".join(shown.split())
    facility = "64622-TYT-01"
    reports.compile_reports(migrated_engine, campaign, level="facility", units=[facility], as_of=AT,
                            out_dir=tmp_path, formats=("pdf",))
    reports.approve(migrated_engine, level="facility", unit=facility, by="Phụ trách cơ sở", at=AT)
    with smtp_server() as (port, mailbox):
        send = Notifier(smtp_host="127.0.0.1", smtp_port=port, sender="syt@example.gov.vn", timeout_s=5)
        sent = reports.submit_report(migrated_engine, campaign, send, level="facility", unit=facility, by="cơ sở", at=AT)
    assert sent["recipients"] == ["ttyt.622@example.gov.vn"]
    with Session(migrated_engine) as s:
        b = board(s, campaign, AT)
    plans = {d["party"]: d for d in b["deliverables"] if d["deadline"] == "facility_plan"}
    assert plans[facility]["state"] == "done_on_time" and plans[facility]["source"] == "province"
    assert all(d["district"] for d in plans.values())
    assert {p["party"] for p in b["parties_without_deadline"]} == {"dic", "viettel"}


def test_a_facility_plan_overdue_is_escalated_to_its_health_centre(migrated_engine) -> None:
    """Mục 3: "... gửi Kế hoạch này cho Trung tâm Y tế để tổng hợp": a facility whose plan is late is chased,
    its steps kept under the facility's code (longer than a district code) on SQLite and PostgreSQL."""
    import pandas as pd
    from sqlalchemy.orm import Session

    from campaign.deadlines.run import escalate
    from campaign.store.models import Escalation
    from tests.dedupe_support import store_rows

    campaign = load_campaign()
    store_rows(migrated_engine, pd.DataFrame([
        {"district": "622", "facility_code": "64622-TYT-01", "facility_name": "Trạm Y tế 1", "commune_name": "X",
         "commune_code": "23566", "vaccination_tables": 1, "person_in_charge": "Trưởng trạm",
         "phone_in_charge": "+84912345678"}]), when=at("27/07 10:00"), kind="facilities")
    with Session(migrated_engine) as s, s.begin():
        written = escalate(s, campaign, at("28/07 18:00"))
    facility_steps = {(w.party, w.step) for w in written if w.deadline == "facility_plan"}
    assert ("64622-TYT-01", "overdue") in facility_steps
    with Session(migrated_engine) as s:
        parties = {e.party for e in s.query(Escalation).filter(Escalation.deadline_id == "facility_plan")}
    assert parties == {"64622-TYT-01"}


def test_the_board_shows_a_late_reminder_as_the_message_was_titled(migrated_engine) -> None:
    """A watch that catches up after the due time sends its reminder titled "Quá hạn"; the board's list of
    messages sent says the same, never "Nhắc việc" (one wording, campaign.deadlines)."""
    from sqlalchemy.orm import Session

    from campaign.deadlines.run import board, escalate

    campaign = load_campaign()
    with Session(migrated_engine) as s, s.begin():
        escalate(s, campaign, at("29/07 10:00"))
    with Session(migrated_engine) as s:
        sent = board(s, campaign, at("29/07 10:00"))["escalations_sent"]
    late = [e for e in sent if e["deadline"] != "doh_central_report"]          # due 29/7 00:00: past
    assert {e["step"] for e in late} >= {"reminder", "warning"}
    assert {e["title"] for e in late} == {"Quá hạn"}
    # the DoH's is due 30/7: its reminder on 29/7 is a reminder
    assert {e["title"] for e in sent if e["deadline"] == "doh_central_report"} == {"Nhắc việc"}


def test_the_district_report_lists_its_recipients_not_its_drafter_under_noi_nhan(migrated_engine, tmp_path) -> None:
    """The health centre drafts the district report (mục 3: "tham mưu"); it is not where the report goes.
    "Nơi nhận" names the recipients of `reports.recipients.district` (the provincial steering committee,
    through the DoH: mục 3, II.1), by the name of the party whose contact holds the address."""
    from docx import Document
    from sqlalchemy.orm import Session

    from campaign.reports import run as reports
    from campaign.reports.render_html import render_html
    from campaign.reports.rules import build_report
    from campaign.reports.store import load_data
    from tests.test_report import AT, _pdf_text, _world

    campaign = load_campaign()
    _world(migrated_engine)
    built = reports.compile_reports(migrated_engine, campaign, level="district", units=["622"], as_of=AT,
                                    out_dir=tmp_path).built[0]
    with Session(migrated_engine) as s:
        loaded = load_data(s, campaign, AT)
    drafter = f"Đơn vị tham mưu, dự thảo: Trung tâm Y tế {loaded.names['622']}"
    expected = ["Ban Chỉ đạo tỉnh (bcd.tinh@example.gov.vn)", "Sở Y tế tỉnh Gia Lai (vanphong.syt@example.gov.vn)"]
    doc = Document(built.files["docx"])
    [block] = [c.text for t in doc.tables for row in t.rows for c in row.cells if c.text.startswith("Nơi nhận:")]
    assert block.splitlines() == ["Nơi nhận:", *[f"- {name};" for name in expected], "- Lưu: VT."]
    assert [p.text for p in doc.paragraphs if p.text.startswith("Đơn vị tham mưu")] == [drafter]
    pdf = _pdf_text(built.files["pdf"])
    to = pdf[pdf.index("Nơi nhận:"):pdf.index("Lưu: VT.")]
    assert all(name in to for name in expected) and "Trung tâm Y tế" not in to and "tham mưu" not in to
    assert drafter in pdf[pdf.index("Lưu: VT."):]
    # the HTML says the same
    html = render_html(build_report(loaded, "district", "622"))
    to = html[html.index("Nơi nhận:"):html.index("Lưu: VT.")]
    assert all(name in to for name in expected) and "Trung tâm Y tế" not in to
    assert drafter in html
    # a facility's plan goes to its district's health centre, named; the province's to the ministries'
    # mailboxes (no party holds them: the address alone) and the provincial committee
    assert build_report(loaded, "facility", "64622-TYT-01").recipients == [
        f"Trung tâm Y tế {loaded.names['622']} (ttyt.622@example.gov.vn)"]
    assert build_report(loaded, "province").recipients == [
        "tiemchungcovid.cntt@moh.gov.vn", "dnvinh@mic.gov.vn", "Ban Chỉ đạo tỉnh (bcd.tinh@example.gov.vn)"]


@pytest.mark.parametrize(("change", "why"), [
    (lambda c: c["deadlines"][0]["source"].update(quote="Sở Y tế báo cáo trước ngày 15/7/2021."),
     "not the directive's words"),
    (lambda c: c["escalation_ladders"]["district_ladder"][0].update(to=["mayor"]), "no contact"),
    (lambda c: c["escalation_ladders"]["district_ladder"][0].update(to=["doh.nobody"]), "no contact"),
    (lambda c: next(d for d in c["deadlines"] if d["id"] == "facility_plan")["requires"].update(kinds=["staff"]),
     "owed by facilities"),
    (lambda c: c["reports"]["recipients"].update(district=[]), "a report must go to someone"),
    (lambda c: [g.update(required=False) for g in c["readiness"]["communication"]["channel_groups"].values()],
     "no group is required"),
])
def test_a_configuration_the_directive_does_not_bear_is_refused(tmp_path, change, why) -> None:
    """Invented quotes, contacts nobody has, deliverables a party cannot give, reports to nobody, no
    required channel: refused when the configuration loads (not at 2 a.m. in the deadline watch)."""
    config = yaml.safe_load(DEFAULT_CAMPAIGN_FILE.read_text(encoding="utf-8"))
    change(config)
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=why):
        load_campaign(path)
