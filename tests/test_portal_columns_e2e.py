"""A mapping a district can fix once (issue 16), end to end in a real browser (Debian's Chromium driven by
Playwright; the warm worker runs each upload as a Prefect `intake` flow run).

The clerk of Pleiku (622) uploads a target list whose ID column is headed with words that name no field
("Ký hiệu riêng"; "chưa có" for the people without an ID, so its cells do not say it either): the feedback
page shows the column not used, with its cells, standing out. The clerk says "cột này là Số CMT/CCCD" and
sends the same file again: the new submission reads it as the ID, by the district's saved reading. A second
file of 622 with the same heading is read that way with no correction.
A coordinator sees the saved reading on its page (linked from the board) and resets it.

Screenshot: portal-columns.png (the corrected submission's feedback) in $CAMPAIGN_SCREENSHOTS when set,
else in the test's tmp_path.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import pytest

from tests import portal_e2e_support as sup

pytestmark = pytest.mark.prefect

DISTRICT = "622"
NOW = "2021-07-28T10:00"
ROWS = 40
COLD_LIMIT_S = 180.0
UNREAD = "Ký hiệu riêng"            # the ID column's heading: none of its words names a field
FIRST = "DS đối tượng Pleiku (cột lạ).xlsx"
SECOND = "DS đối tượng Pleiku đợt 2.xlsx"
USERS = {"ttyt622": ("district", DISTRICT), "dieuphoi": ("coordinator", None)}


NO_ID = "chưa có"                   # written for the people who have no CCCD yet


def _ids(rows: list[sup.Person], start: int) -> list[str]:
    """A 12-digit CCCD per person (Gia Lai's 064, the century-and-sex digit, the birth year, a serial), but
    "chưa có" for two people in five: too few cells look like an ID (60 % < 70 %) for the reader to read
    the unknown heading from its content (campaign/io/content.py), so the column is left unread."""
    out = []
    for i, p in enumerate(rows):
        century_sex = (0 if p.birth_date.year < 2000 else 2) + (0 if p.sex == "Nam" else 1)
        out.append(NO_ID if i % 5 < 2 else f"064{century_sex}{p.birth_date.year % 100:02d}{start + i:06d}")
    return out


def _target_list(template: Path, out: Path, rows: list[sup.Person], ids: list[str]) -> None:
    """The template filled with `rows`, its ID column headed UNREAD and holding `ids` (text cells)."""
    import openpyxl

    sup.fill_template(template, out, rows, district=DISTRICT)
    wb = openpyxl.load_workbook(out)
    ws = wb.worksheets[0]
    header_row = next(r for r in range(1, 20) if ws.cell(r, 1).value == "STT")
    col = next(c for c in range(1, ws.max_column + 1)
               if str(ws.cell(header_row, c).value or "").removesuffix(" (*)") == "Số CMT/CCCD")
    ws.cell(header_row, col, UNREAD)
    for i, value in enumerate(ids, start=1):
        ws.cell(header_row + i, col, value).number_format = "@"
    wb.save(out)




def _upload(page, path: Path, *, timeout_s: float) -> int:
    page.goto(f"/huyen/{DISTRICT}")
    form = page.locator("#gui-tep form")
    form.locator("select[name=kind]").select_option("target_list")
    form.locator("input[type=file]").set_input_files(path)
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/nop/\d+$"), timeout=timeout_s * 1000)
    page.locator("#ket-qua .badge").first.wait_for(state="visible")
    return int(page.url.rsplit("/", 1)[1])


def _column(page, heading: str):
    return page.locator(f"#cach-doc-cot tbody tr[data-heading='{heading}']")


def test_a_district_fixes_an_unread_column_once_and_its_later_files_are_read_so(prefect_harness, campaign_home,
                                                                                tmp_path, monkeypatch):
    chromium = sup.chromium_path()
    from playwright.sync_api import expect, sync_playwright
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from campaign.config_kinds import load_input_kinds
    from campaign.intake.columns import list_mappings
    from campaign.io.columns import HOW_LABELS
    from campaign.io.templates import write_template
    from campaign.resources import get_resources
    from campaign.store.models import KIND_TABLES, Submission
    from faces.portal.server import build

    monkeypatch.setenv("CAMPAIGN_NOW", NOW)   # before the workers start: they inherit the environment
    res = get_resources()
    sup.add_accounts(res.engine, USERS)
    shots = Path(os.environ.get("CAMPAIGN_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    work = tmp_path / "browser"
    work.mkdir()
    kinds = load_input_kinds()
    template = write_template(kinds.kinds["target_list"], kinds, work / "mau-target_list.xlsx")
    people = sup.people(2 * ROWS, DISTRICT, seed=11)
    first_rows, second_rows = people[:ROWS], people[ROWS:]
    first_ids, second_ids = _ids(first_rows, 1), _ids(second_rows, 5001)
    _target_list(template, work / FIRST, first_rows, first_ids)
    _target_list(template, work / SECOND, second_rows, second_ids)
    id_header = kinds.kinds["target_list"].column("id_number").header        # "Số CMT/CCCD"

    app = build(res, workers=1)
    with sup.serve(app) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=sup.CHROMIUM_ARGS)
        page = None
        try:
            # -- 1. the upload: the ID column is not read, and says so with its cells ------------------------
            district, page = sup.sign_in(browser, base, "ttyt622")
            first_id = _upload(page, work / FIRST, timeout_s=COLD_LIMIT_S)
            expect(page.locator("#cach-doc-cot h2")).to_have_text("Cách đọc các cột của tệp")
            unread = _column(page, UNREAD)
            expect(unread).to_have_count(1)
            expect(unread.locator("td.read-as")).to_have_text("Không dùng")
            expect(unread.locator("td.how")).to_have_text(HOW_LABELS["ignored"])
            expect(unread.locator("td.cells")).to_have_text(str(ROWS))
            expect(unread).to_have_class(re.compile(r"\bignored-data\b"))
            expect(page.locator("#cot-bo-qua")).to_contain_text(f"{UNREAD}")
            expect(page.locator("#cot-bo-qua")).to_contain_text(f"{ROWS} ô")
            expect(_column(page, "Họ và tên (*)").locator("td.read-as")).to_have_text("Họ và tên")

            # -- 2. "cột này là Số CMT/CCCD", and the same file again ------------------------------------------
            unread.locator("select").select_option(label=id_header)
            page.click("#cach-doc-cot button[type=submit]")
            page.wait_for_url(re.compile(r"/nop/\d+$"), timeout=60_000)
            page.locator("#ket-qua .badge").first.wait_for(state="visible")
            again_id = int(page.url.rsplit("/", 1)[1])
            assert again_id != first_id
            fixed = _column(page, UNREAD)
            expect(fixed.locator("td.read-as")).to_have_text(id_header)
            expect(fixed.locator("td.how")).to_have_text(re.compile(
                f"^({re.escape(HOW_LABELS['saved'])}|{re.escape(HOW_LABELS['given'])})$"))
            expect(fixed.locator("td.cells")).to_have_text(str(ROWS))
            expect(fixed).not_to_have_class(re.compile(r"\bignored-data\b"))
            expect(page.locator("#cot-bo-qua")).to_have_count(0)
            expect(page.locator("#ket-qua")).to_contain_text(FIRST)
            page.screenshot(path=str(shots / "portal-columns.png"), full_page=True)

            # -- 3. a later file of the district, same heading: read by the saved reading, nothing to correct ----
            second_id = _upload(page, work / SECOND, timeout_s=60)
            later = _column(page, UNREAD)
            expect(later.locator("td.read-as")).to_have_text(id_header)
            expect(later.locator("td.how")).to_have_text(HOW_LABELS["saved"])
            expect(later.locator("td.cells")).to_have_text(str(ROWS))
            expect(page.locator("#cot-bo-qua")).to_have_count(0)
            district.close()

            # -- 4. the coordinator sees the saved reading (from the board) and resets it ----------------------
            board, page = sup.sign_in(browser, base, "dieuphoi")
            page.click("a[href='/tinh/cach-doc-cot']")
            page.wait_for_url(f"{base}/tinh/cach-doc-cot")
            group = page.locator(f"section.mapping-group[data-district='{DISTRICT}'][data-kind='target_list']")
            row = group.locator("tr[data-heading-key='ky hieu rieng']")
            expect(row).to_contain_text(UNREAD)
            expect(row).to_contain_text(id_header)
            expect(row).to_contain_text("ttyt622")
            row.locator("button[type=submit]").click()
            page.wait_for_url(re.compile(r"/tinh/cach-doc-cot\?notice=mappings-reset$"))
            expect(page.locator("p.notice")).to_contain_text("Đã xóa cách đọc cột đã lưu")
            expect(page.locator("section.mapping-group")).to_have_count(0)
            board.close()
        except Exception:
            if page is not None:
                with contextlib.suppress(Exception):
                    page.screenshot(path=str(shots / "portal-columns-failure.png"), full_page=True)
            raise
        finally:
            browser.close()

    table = KIND_TABLES["target_list"]
    with Session(res.engine) as s:
        assert list_mappings(s, district=DISTRICT) == []
        subs = {sid: s.get(Submission, sid) for sid in (first_id, again_id, second_id)}
        assert all(sub.status == "accepted" for sub in subs.values()), {k: v.status for k, v in subs.items()}
        assert subs[again_id].checksum == subs[first_id].checksum           # the same stored file, again
        assert subs[again_id].version == subs[first_id].version + 1 and subs[again_id].submitted_by == "ttyt622"
        loaded = {sid: list(s.scalars(select(table.c.id_number).where(table.c.submission_id == sid)
                                      .order_by(table.c.row_number))) for sid in subs}
    assert loaded[first_id] == [None] * ROWS                                # not read: not loaded
    assert loaded[again_id] == [None if v == NO_ID else v for v in first_ids]   # "chưa có": no ID (a warning)
    assert loaded[second_id] == [None if v == NO_ID else v for v in second_ids]
