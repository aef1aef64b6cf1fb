"""The portal shows how a file's columns were read and lets a district correct them once (issue 16): the
table "Cách đọc các cột của tệp" on the feedback page, the correction form that saves the district's
reading and queues the same stored file again, the isolation between districts, the coordinators' page of
saved readings and its reset. Over HTTP (TestClient), on a fresh CAMPAIGN_HOME (SQLite).

The readings shown are written into the submission here (`_with_readings`), so that these tests check
the portal whatever the matcher says; the one test that takes the file in again checks the intake's side
of the contract (a saved reading is used, the file is not answered "duplicate").
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from campaign.files import relative_path
from campaign.intake.columns import list_mappings, save_mappings
from campaign.io.columns import HOW_LABELS, ColumnReading
from campaign.store.models import ColumnMapping, PortalJob, Submission
from campaign.vocabulary import kind_label
from tests.portal_http_support import NOW, PortalWorld, count, login, page_csrf, portal_world

UNREAD = "Ký hiệu riêng"   # a heading none of whose words names a field of the target list
HEADINGS = ["Họ và tên (*)", "Ngày sinh dạng dd/mm/yyyy (*)", "Giới tính (*)", "Mã nhóm đối tượng ưu tiên (*)",
            "Số điện thoại (*)", "Xã/Phường (*)", UNREAD]
READINGS = [
    ColumnReading("Họ và tên (*)", "A", "full_name", "heading", 3),
    ColumnReading("Ngày sinh dạng dd/mm/yyyy (*)", "B", "birth_date", "heading", 3),
    ColumnReading("Giới tính (*)", "C", "sex", "heading", 3),
    ColumnReading("Mã nhóm đối tượng ưu tiên (*)", "D", "priority_group", "heading", 3),
    ColumnReading("Số điện thoại (*)", "E", "phone", "content", 3),     # a guess: "xin kiểm tra"
    ColumnReading("Xã/Phường (*)", "F", "commune_name", "heading", 3),
    ColumnReading(UNREAD, "G", None, "ignored", 3),                       # holds data, not used: stands out
]
ROW_RE = re.compile(r'<tr class="how-(\w+)([^"]*)" data-heading="([^"]*)">\s*<td>(\w+)</td><td>[^<]*</td>\s*'
                    r'<td class="read-as">([^<]*)</td>\s*<td class="how">([^<]*)</td>\s*<td class="cells">(\d+)</td>')


@pytest.fixture()
def portal(campaign_home, monkeypatch) -> PortalWorld:
    from campaign.resources import get_resources, reset_resources

    monkeypatch.setenv("CAMPAIGN_NOW", NOW)
    reset_resources()
    return portal_world(get_resources())


def _csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """A target list of Pleiku (622): (name, birth date, ID) per row, the ID under the unread heading."""
    from campaign.domain.admin_units import get_admin_units

    commune = get_admin_units().communes_of("622")[0].name
    lines = [f"{name},{born},Nam,9,09123456{i:02d},{commune},{id_number}\n"
             for i, (name, born, id_number) in enumerate(rows)]
    path.write_text(",".join(HEADINGS) + "\n" + "".join(lines), encoding="utf-8")
    return path


# "chưa có" (no ID yet): too few cells look like an ID for the reader to read the heading from its content
PEOPLE = [("Nguyễn Văn An", "25/05/1980", "064080001234"), ("Lê Văn Cường", "01/02/1969", "064069005678"),
          ("Siu H'Nga", "12/12/1960", "chưa có")]


def _intake(world: PortalWorld, path: Path, name: str, by: str = "ttyt622"):
    from campaign.intake.rules import IntakeRequest
    from campaign.intake.run import run_intake

    res = world.res
    return run_intake(IntakeRequest(path=path, district="622", kind="target_list", channel="portal",
                                    submitted_by=by, original_filename=name),
                      engine=res.engine, settings=res.settings, campaign=res.campaign)


def _with_readings(world: PortalWorld, tmp_path: Path, name: str = "DS Pleiku.csv") -> int:
    """A submission of 622's file whose readings are READINGS (written over what intake stored)."""
    out = _intake(world, _csv(tmp_path / "ds.csv", PEOPLE), name)
    with Session(world.engine) as s, s.begin():
        s.execute(update(Submission.__table__).where(Submission.__table__.c.id == out.submission_id)
                  .values(columns=[r.to_json() for r in READINGS]))
    return out.submission_id


def _rows(html: str) -> dict[str, dict[str, str]]:
    return {m.group(3): {"how_code": m.group(1), "classes": m.group(2), "letter": m.group(4), "read_as": m.group(5),
                         "how": m.group(6), "cells": m.group(7)} for m in ROW_RE.finditer(html)}


def test_the_feedback_page_shows_how_each_column_was_read(portal, tmp_path):
    sub_id = _with_readings(portal, tmp_path)
    clerk = login(portal.app, "ttyt622")
    page = clerk.get(f"/nop/{sub_id}")
    assert page.status_code == 200
    html = page.text
    assert "Cách đọc các cột của tệp" in html
    rows = _rows(html)
    assert list(rows) == [r.heading for r in READINGS]
    assert rows["Họ và tên (*)"] == {"how_code": "heading", "classes": "", "letter": "A", "read_as": "Họ và tên",
                                     "how": "theo tiêu đề cột", "cells": "3"}
    phone = rows["Số điện thoại (*)"]
    assert phone["read_as"] == "Số điện thoại" and phone["how"] == "đoán theo nội dung, xin kiểm tra"
    assert "guessed" in phone["classes"]
    unread = rows[UNREAD]
    assert unread["read_as"] == "Không dùng" and unread["how"] == HOW_LABELS["ignored"] and unread["cells"] == "3"
    assert "ignored-data" in unread["classes"]                                   # it stands out
    warning = re.search(r'<p class="error" id="cot-bo-qua">(.*?)</p>', html, re.S)
    assert warning and "1 cột có dữ liệu nhưng không được dùng" in warning.group(1)
    assert f"<strong>{UNREAD}</strong> (cột G, 3 ô)" in warning.group(1)
    # the correction form: "cột này là ..." the kind's fields by their Vietnamese header, or not used
    assert f'action="/nop/{sub_id}/doc-lai"' in html
    select_g = re.search(r'<select name="cot-6"[^>]*>(.*?)</select>', html, re.S)
    assert select_g is not None
    options = re.findall(r'<option value="([^"]*)">([^<]*)</option>', select_g.group(1))
    assert ("id_number", "Số CMT/CCCD") in options and ("-", "Không dùng cột này") in options
    assert options[0] == ("", "(giữ như đã đọc)")
    assert "id_number" not in html.split('id="cach-doc-cot"')[1].split("<select")[0]   # no field names shown


def test_a_district_corrects_a_column_and_the_same_file_is_taken_in_again(portal, tmp_path):
    sub_id = _with_readings(portal, tmp_path)
    with Session(portal.engine) as s:
        first = s.get(Submission, sub_id)
        checksum, first_version = first.checksum, first.version
    clerk = login(portal.app, "ttyt622")
    csrf = page_csrf(clerk, f"/nop/{sub_id}")
    nothing = clerk.post(f"/nop/{sub_id}/doc-lai", data={"csrf_token": csrf, "cot-6": ""})
    assert nothing.status_code == 400 and "Chưa chọn cột nào" in nothing.text
    unknown = clerk.post(f"/nop/{sub_id}/doc-lai", data={"csrf_token": csrf, "cot-6": "so_cmnd"})
    assert unknown.status_code == 400
    forged = clerk.post(f"/nop/{sub_id}/doc-lai", data={"cot-6": "id_number"})
    assert forged.status_code == 403
    assert count(portal.engine, ColumnMapping) == 0 and count(portal.engine, PortalJob) == 0

    sent = clerk.post(f"/nop/{sub_id}/doc-lai", data={"csrf_token": csrf, "cot-6": "id_number", "cot-4": "-"})
    assert sent.status_code == 303 and re.fullmatch(r"/viec/\d+", sent.headers["location"])
    job_id = int(sent.headers["location"].rsplit("/", 1)[1])
    with Session(portal.engine) as s:
        saved = {m["heading"]: (m["field"], m["set_by"]) for m in list_mappings(s, district="622", kind="target_list")}
        assert saved == {UNREAD: ("id_number", "ttyt622"), "Số điện thoại (*)": (None, "ttyt622")}
        job = s.get(PortalJob, job_id)
        assert (job.action, job.status, job.district_code, job.kind, job.checksum) == (
            "intake", "queued", "622", "target_list", checksum)
        assert job.original_filename == "DS Pleiku.csv" and job.user_id == portal.users["ttyt622"]
    assert clerk.get(f"/viec/{job_id}").status_code == 200

    # the job, as a warm worker runs it (faces.portal.worker._run_intake, without Prefect here): the same
    # stored original, read with the district's saved readings; not answered "duplicate"
    phone_back = {"Số điện thoại (*)": "phone"}   # undo the "not used" above: the phone is required
    with Session(portal.engine) as s, s.begin():
        save_mappings(s, "622", "target_list", phone_back, by="ttyt622", at=dt.datetime.now(dt.UTC))
    again = _intake(portal, portal.res.settings.files_dir / relative_path(checksum), "DS Pleiku.csv")
    assert again.status != "duplicate" and again.submission_id != sub_id, again
    with Session(portal.engine) as s:
        sub = s.get(Submission, again.submission_id)
        readings = {c["heading"]: ColumnReading.from_json(c) for c in sub.columns}
        assert sub.version == first_version + 1
    assert (readings[UNREAD].field, readings[UNREAD].how, readings[UNREAD].cells) == ("id_number", "saved", 3)
    page = clerk.get(f"/nop/{again.submission_id}").text
    row = _rows(page)[UNREAD]
    assert row["read_as"] == "Số CMT/CCCD" and row["how"] == "theo cách đọc đã lưu của huyện"
    assert 'id="cot-bo-qua"' not in page


def test_another_district_cannot_see_or_correct_and_a_coordinator_resets(portal, tmp_path):
    sub_id = _with_readings(portal, tmp_path)
    other = login(portal.app, "ttyt633")
    csrf = page_csrf(other, "/huyen/633")
    assert other.get(f"/nop/{sub_id}").status_code == 404
    refused = other.post(f"/nop/{sub_id}/doc-lai", data={"csrf_token": csrf, "cot-6": "id_number"})
    assert refused.status_code == 404 and "Ký hiệu riêng" not in refused.text
    assert count(portal.engine, ColumnMapping) == 0 and count(portal.engine, PortalJob) == 0
    assert other.get("/tinh/cach-doc-cot").status_code == 403
    assert other.post("/tinh/cach-doc-cot/xoa", data={"csrf_token": csrf, "district": "622"}).status_code == 403

    clerk = login(portal.app, "ttyt622")
    assert clerk.post(f"/nop/{sub_id}/doc-lai", data={"csrf_token": page_csrf(clerk, f"/nop/{sub_id}"),
                                                      "cot-6": "id_number"}).status_code == 303
    assert clerk.get("/tinh/cach-doc-cot").status_code == 403
    with Session(portal.engine) as s, s.begin():   # another district's and another kind's readings stay
        at = dt.datetime.now(dt.UTC)
        save_mappings(s, "633", "target_list", {UNREAD: "id_number"}, by="ttyt633", at=at)
        save_mappings(s, "622", "staff", {"ĐT di động": "phone"}, by="ttyt622", at=at)

    coordinator = login(portal.app, "syt.dieuphoi")
    board = coordinator.get("/tinh").text
    assert 'href="/tinh/cach-doc-cot"' in board
    page = coordinator.get("/tinh/cach-doc-cot")
    assert page.status_code == 200
    group = re.search(r'<section class="card mapping-group" data-district="622" data-kind="target_list">(.*?)</section>',
                      page.text, re.S)
    assert group is not None
    assert UNREAD in group.group(1) and "Số CMT/CCCD" in group.group(1) and "ttyt622" in group.group(1)
    assert kind_label("target_list") in group.group(1)
    csrf = page_csrf(coordinator, "/tinh/cach-doc-cot")
    assert coordinator.post("/tinh/cach-doc-cot/xoa", data={"csrf_token": csrf, "district": "999"}).status_code == 400
    reset = coordinator.post("/tinh/cach-doc-cot/xoa", data={"csrf_token": csrf, "district": "622",
                                                             "kind": "target_list", "heading_key": "ky hieu rieng"})
    assert reset.status_code == 303 and reset.headers["location"] == "/tinh/cach-doc-cot?notice=mappings-reset"
    with Session(portal.engine) as s:
        left = [(m.district_code, m.kind) for m in s.scalars(select(ColumnMapping).order_by(ColumnMapping.id))]
    assert left == [("633", "target_list"), ("622", "staff")]
    after = coordinator.get("/tinh/cach-doc-cot?notice=mappings-reset").text
    assert "Đã xóa cách đọc cột đã lưu" in after and 'data-district="622" data-kind="target_list"' not in after
    everything = coordinator.post("/tinh/cach-doc-cot/xoa", data={"csrf_token": csrf, "district": "622"})
    assert everything.status_code == 303
    assert count(portal.engine, ColumnMapping) == 1                                   # 633's stays
