"""`campaign worker --prefect`: the scheduled deployments on a Prefect process work pool, run by the worker.

The command is started as a real process against the session's Prefect test server; a run of the
deadline-watch deployment is scheduled for now (as the server's scheduler does every 15 minutes) and must be
picked up from the work pool and completed by that worker (in a subprocess of it), with the flow's effect in
the campaign database of this CAMPAIGN_HOME.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from flows.deployments import SCHEDULED

pytestmark = pytest.mark.prefect
PROJECT = Path(__file__).resolve().parent.parent


def test_campaign_worker_runs_the_deadline_watch_from_the_work_pool(prefect_harness, campaign_home, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    api = str(PREFECT_API_URL.value())
    pool = f"campaign-test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PREFECT_API_URL": api, "CAMPAIGN_HOME": str(campaign_home), "CAMPAIGN_WORK_POOL": pool,
           "CAMPAIGN_NOW": "2021-07-28T15:00:00+07:00", "PYTHONPATH": str(PROJECT)}
    env.pop("CAMPAIGN_DATABASE_URL", None)
    log = (tmp_path / "worker.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "faces.cli", "worker", "--workers", "0", "--prefect"],
                            env=env, cwd=PROJECT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deployment_ids = []
    try:
        with get_client(sync_client=True) as client:
            deadline = time.monotonic() + 180
            while True:   # the worker registers the deployments on the pool at start
                assert proc.poll() is None, (tmp_path / "worker.log").read_text()
                deployment_ids = [d.id for d in client.read_deployments() if d.work_pool_name == pool]
                if len(deployment_ids) == len(SCHEDULED):
                    break
                assert time.monotonic() < deadline, "the deployments never appeared on the pool"
                time.sleep(0.5)
            dep = client.read_deployment_by_name("deadline_watch/deadline-watch")
            assert dep.work_pool_name == pool and dep.entrypoint == "flows.deadline_watch.deadline_watch_flow"
            run = client.create_flow_run_from_deployment(dep.id)
            deadline = time.monotonic() + 240
            while not (state := client.read_flow_run(run.id).state).is_final():
                assert proc.poll() is None, (tmp_path / "worker.log").read_text()
                assert time.monotonic() < deadline, f"the run stayed {state.type}: {(tmp_path / 'worker.log').read_text()}"
                time.sleep(1)
            done = client.read_flow_run(run.id)
            assert done.state.is_completed(), (done.state, (tmp_path / "worker.log").read_text())
            assert done.work_pool_name == pool and done.deployment_id == dep.id
            # the flow's body ran there: the deadline board it publishes is an artifact of this run
            from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

            made = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id])))
            assert made, "the run published no artifact"
            workers = client.read_workers_for_work_pool(pool)
            assert any(w.name.startswith("campaign-") for w in workers)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()
        with get_client(sync_client=True) as client:   # the session's other tests must not meet them
            for dep_id in deployment_ids:
                client.delete_deployment(dep_id)
    assert "worker: stopped" in (tmp_path / "worker.log").read_text()
