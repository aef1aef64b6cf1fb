"""Flows run as Prefect flows and tasks, visible through the Prefect API (one harness per session)."""

from __future__ import annotations

import asyncio
import json

import pytest

pytestmark = pytest.mark.prefect

HEADER = "Họ và tên (*),Ngày sinh dạng dd/mm/yyyy (*),Giới tính (*),Mã nhóm đối tượng ưu tiên (*),Số điện thoại (*),Xã/Phường (*)\n"


def _runs_of(flow_name: str):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    async def read():
        async with get_client() as client:
            flow_filter = FlowFilter(name=FlowFilterName(any_=[flow_name]))
            flow_runs = await client.read_flow_runs(flow_filter=flow_filter)
            task_runs = []
            while batch := await client.read_task_runs(flow_filter=flow_filter, offset=len(task_runs), limit=200):
                task_runs.extend(batch)
            artifacts = await client.read_artifacts()
            return flow_runs, task_runs, artifacts

    return asyncio.run(read())


def test_intake_flow_is_one_flow_run_with_its_artifact(prefect_harness, campaign_home, tmp_path):
    from flows.intake import intake_flow

    path = tmp_path / "tl.csv"
    path.write_text(HEADER + "Nguyễn Văn An,25/05/1980,0,9,0912345678,Ia Blang\n,01/01/1990,1,9,0912345679,Ia Blang\n",
                    encoding="utf-8")
    outcome = intake_flow(path=str(path), district="633", kind="target_list")
    assert outcome["status"] == "accepted" and outcome["rows_quarantined"] == 1
    flow_runs, _task_runs, artifacts = _runs_of("intake")
    assert any(fr.state.is_completed() for fr in flow_runs)
    tables = [a for a in artifacts if a.key == "intake-633-target-list"]  # other tests may share the key
    assert any("name_missing" in json.dumps(t.data) for t in tables)
    assert all("0912345679" not in json.dumps(t.data) + (t.description or "") for t in tables)  # no personal data
    assert set(outcome["stage_seconds"]) >= {"read", "standardize", "gate", "load", "feedback"}
    links = [a for a in artifacts if a.key == "data-docs-633-target-list"]
    assert links and any("(file://" in str(a.data) and ".html)" in str(a.data) for a in links)  # [text](link)


def test_demo_flow_generates_and_loads_as_tasks(prefect_harness, campaign_home, tmp_path):
    from flows.demo import demo_flow

    summary = demo_flow(out_dir=str(tmp_path / "inputs"), people=1500, seed=7, now="2021-07-28T08:00:00+07:00")
    assert summary["submissions"]["total"] > 0
    assert summary["submissions"].get("accepted", 0) > 0
    assert summary["rows"]["loaded"] > 0
    assert summary["rows"]["total"] == summary["rows"]["loaded"] + summary["rows"]["quarantined"] or \
        summary["submissions"].get("rejected", 0) > 0
    assert summary["not_yet_uploaded"], "some districts upload after 28/7 08:00 in the planned schedule"
    assert summary["never_uploaded"], "one district never sends one kind"
    assert set(summary["outputs"]) >= {"database", "inputs", "manifest", "stored_originals", "prefect_home"}
    flow_runs, task_runs, _ = _runs_of("demo")
    assert any(fr.state.is_completed() for fr in flow_runs)
    names = {tr.name.split("-")[0] for tr in task_runs}
    assert {"generate", "intake"} <= names
