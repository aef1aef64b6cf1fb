"""The coordinators' board shows the campaign's flow runs that ended Crashed or Failed (issue 18 item 2), read
from Prefect (faces/portal/runs.py), and the portal jobs taken back after a crash or failed; reading
Prefect never breaks or slows the board.

The rows are a pure function of Prefect's FlowRun objects (tested on constructed ones); then real runs in
the session's Prefect harness, shown through the app; then a Prefect API on a closed port and one that
never answers.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from campaign.store.models import PortalJob
from faces.portal import pages
from faces.portal.runs import read_troubled_runs
from tests.portal_http_support import NOW, PortalWorld, login, portal_world

UI = "http://prefect.test"   # the Prefect UI portal_world gives the app
CRASH_MESSAGE = "Tiến trình xử lý bị dừng đột ngột (thử nghiệm bảng theo dõi)"
FAIL_TEXT = "Tệp thử nghiệm không đọc được"


@pytest.fixture()
def portal(campaign_home, monkeypatch) -> PortalWorld:
    """A portal on a fresh CAMPAIGN_HOME with the accounts of tests/portal_http_support.py."""
    from campaign.resources import get_resources, reset_resources

    monkeypatch.setenv("CAMPAIGN_NOW", NOW)
    reset_resources()
    return portal_world(get_resources())


def _section(html: str) -> str:
    found = re.search(r'<section class="card" id="luot-chay-loi">(.*?)</section>', html, re.S)
    assert found, "no section of runs that ended badly on the board"
    return found.group(1)


def _row(section: str, flow_run_id: str) -> str:
    found = re.search(rf'<tr data-flow-run="{flow_run_id}"[^>]*>(.*?)</tr>', section, re.S)
    assert found, f"flow run {flow_run_id} not on the board"
    return found.group(0)


def _board(world: PortalWorld) -> tuple[str, float]:
    coordinator = login(world.app, "syt.dieuphoi")
    started = time.monotonic()
    response = coordinator.get("/tinh")
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text[-2000:]
    assert 'data-district="622"' in response.text   # the rest of the board is there
    return response.text, elapsed


# ---------------------------------------------------------------------------------------------------------
# 1. The rows, from constructed FlowRun objects (no server)
# ---------------------------------------------------------------------------------------------------------


def _flow_run(flow_id: uuid.UUID, state, ended: dt.datetime, name: str):
    from prefect.client.schemas.objects import FlowRun

    state = state.model_copy(update={"timestamp": ended})
    return FlowRun(id=uuid.uuid4(), name=name, flow_id=flow_id, state=state, state_type=state.type,
                   state_name=state.name, start_time=ended - dt.timedelta(minutes=3), end_time=ended)


def test_flow_runs_become_rows_in_words_newest_first_with_their_messages_cut():
    from prefect.states import Crashed, Failed

    intake, unknown = uuid.uuid4(), uuid.uuid4()
    long_message = "Flow run encountered an exception: ValueError:\n" + "dòng quá dài " * 60
    older = _flow_run(intake, Failed(message=long_message), dt.datetime(2021, 7, 28, 1, 30, tzinfo=dt.UTC),
                      "intake-target_list-622")
    newer = _flow_run(unknown, Crashed(message=CRASH_MESSAGE), dt.datetime(2021, 7, 28, 17, 5, tzinfo=dt.UTC),
                      "clever-fox")
    rows = pages.flow_run_rows([older, newer], {intake: "intake", unknown: "mot-flow-khac"})

    assert [r["flow_run_id"] for r in rows] == [str(newer.id), str(older.id)]   # newest end first
    crashed, failed = rows
    assert crashed["state"] == "CRASHED" and crashed["state_label"] == "Dừng đột ngột"
    assert failed["state"] == "FAILED" and failed["state_label"] == "Lỗi"
    # the flow in words where the code has them, its Prefect name otherwise
    assert failed["flow_label"] == "Tiếp nhận, kiểm tra tệp của huyện" and failed["flow"] == "intake"
    assert crashed["flow_label"] == "mot-flow-khac"
    # when it ended, in Asia/Ho_Chi_Minh (+07:00: past midnight for the crash at 17:05 UTC)
    assert failed["at"] == "28/07/2021 08:30" and crashed["at"] == "29/07/2021 00:05"
    assert crashed["message"] == CRASH_MESSAGE
    # a long message: one line, cut to RUN_MESSAGE_MAX characters
    assert pages.RUN_MESSAGE_MAX - 2 <= len(failed["message"]) <= pages.RUN_MESSAGE_MAX
    assert failed["message"].endswith("…")
    assert "\n" not in failed["message"] and failed["message"].startswith("Flow run encountered an exception: ValueError: dòng")
    assert crashed["run_name"] == "clever-fox"


def test_without_a_prefect_api_nothing_is_started_and_the_reason_is_said():
    found = read_troubled_runs(None, now=dt.datetime.now(dt.UTC))
    assert found["rows"] == []
    assert found["error"] == ("Không đọc được các lượt chạy từ Prefect: chưa cấu hình địa chỉ máy chủ Prefect "
                              "(PREFECT_API_URL).")


# ---------------------------------------------------------------------------------------------------------
# 2. Real runs in the Prefect harness, on the board
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.prefect
def test_the_board_shows_crashed_and_failed_runs_with_their_state_and_link_not_completed_ones(prefect_harness,
                                                                                                portal):
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    @flow(name="readiness", log_prints=False)   # a flow the board has words for
    def stand_in_for_readiness() -> int:
        return 1

    @flow(name="thu-nghiem-bang-theo-doi", log_prints=False)   # one it has none for: its name is shown
    def fails() -> None:
        raise ValueError(FAIL_TEXT)

    completed = stand_in_for_readiness(return_state=True)
    assert completed.is_completed()
    failed = fails(return_state=True)
    assert failed.is_failed()
    dies = stand_in_for_readiness(return_state=True)
    crashed_id, failed_id = (str(s.state_details.flow_run_id) for s in (dies, failed))
    completed_id = str(completed.state_details.flow_run_id)
    with get_client(sync_client=True) as client:   # its process died: what mark_crashed does
        client.set_flow_run_state(uuid.UUID(crashed_id), Crashed(message=CRASH_MESSAGE), force=True)
        assert client.read_flow_run(uuid.UUID(crashed_id)).state.is_crashed()

    html, _ = _board(portal)
    section = _section(html)
    crashed_row, failed_row = _row(section, crashed_id), _row(section, failed_id)
    assert 'data-state="CRASHED"' in crashed_row and "Dừng đột ngột" in crashed_row
    assert "Đánh giá mức sẵn sàng" in crashed_row and CRASH_MESSAGE in crashed_row
    assert f'href="{UI}/runs/flow-run/{crashed_id}"' in crashed_row
    assert 'data-state="FAILED"' in failed_row and ">Lỗi<" in failed_row
    assert "thu-nghiem-bang-theo-doi" in failed_row and FAIL_TEXT in failed_row
    assert f'href="{UI}/runs/flow-run/{failed_id}"' in failed_row
    assert section.index(crashed_id) < section.index(failed_id)   # the newest end first
    assert completed_id not in html                                # a completed run is not listed
    assert "Không đọc được" not in section
    # and said at the top of the board, where a coordinator looks first
    assert re.search(r'id="co-luot-chay-loi"><a href="#luot-chay-loi">\d+ lượt chạy bị lỗi hoặc dừng đột ngột', html)


# ---------------------------------------------------------------------------------------------------------
# 3. Prefect unreachable or silent: the board is still shown, at once, and says why the list is missing
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture()
def prefect_imported() -> None:
    """Prefect's client imported, as in a running portal (its start-up imports it): the time measured is
    the board's, not a first import's."""
    import prefect.client.orchestration  # noqa: F401
    import prefect.client.schemas.filters  # noqa: F401


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]   # closed again when the socket is: nobody listens there


@pytest.fixture()
def silent_server() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


def _add_jobs(world: PortalWorld) -> tuple[int, int, int]:
    """A job taken back once after its worker died (then done), one given up, one done at the first go."""
    with Session(world.engine) as s, s.begin():
        user = world.users["ttyt622"]
        jobs = [PortalJob(action="intake", user_id=user, district_code="622", kind="target_list", status="done",
                          attempts=2),
                PortalJob(action="report", user_id=user, district_code="622", status="failed", attempts=3,
                          error="xử lý bị gián đoạn nhiều lần; đã dừng thử lại"),
                PortalJob(action="intake", user_id=user, district_code="622", kind="target_list", status="done",
                          attempts=1)]
        s.add_all(jobs)
        s.flush()
        return jobs[0].id, jobs[1].id, jobs[2].id


def test_a_closed_prefect_port_leaves_the_board_shown_with_the_reason_and_the_portal_jobs(portal, prefect_imported):
    port = _closed_port()
    portal.app.state.portal.prefect_api = f"http://127.0.0.1:{port}/api"
    retried, given_up, fine = _add_jobs(portal)

    html, elapsed = _board(portal)
    section = _section(html)
    assert (f"Không đọc được các lượt chạy từ Prefect: không kết nối được tới máy chủ Prefect (127.0.0.1:{port})."
            in section)
    assert elapsed < 3, elapsed
    assert "<table>" not in section and 'id="co-luot-chay-loi"' not in html
    # the portal's own record of jobs taken back or given up does not depend on Prefect
    assert "1 việc phải xử lý lại vì tiến trình xử lý bị dừng, 1 việc không xử lý được" in section
    assert re.search(rf'<li data-job="{retried}">.*?Xử lý lại sau khi tiến trình bị dừng \(2 lần chạy\)', section)
    assert re.search(rf'<li data-job="{given_up}">.*?Không xử lý được', section)
    assert f'data-job="{fine}"' not in section


def test_a_prefect_api_that_does_not_answer_costs_the_board_one_short_timeout_then_nothing(portal, silent_server,
                                                                                           prefect_imported):
    portal.app.state.portal.prefect_api = f"http://127.0.0.1:{silent_server}/api"

    html, first = _board(portal)
    assert (f"Không đọc được các lượt chạy từ Prefect: máy chủ Prefect (127.0.0.1:{silent_server}) không trả lời "
            "trong 2 giây." in _section(html))
    assert first < 4.5, first   # one timeout of 2 s, no retries (Prefect's client retries 5 times by default)
    again, second = _board(portal)   # read again within RUNS_CACHE_S: the answer kept, no new wait
    assert second < 1, second
    assert "không trả lời trong 2 giây" in _section(again)
