"""Run the portal: the web application and its warm workers, until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI

from campaign import jobs
from campaign.resources import Resources, get_resources
from faces.portal.app import create_app
from faces.portal.worker import WorkerPool, mark_crashed

log = logging.getLogger("campaign.portal")


def prefect_ui_url(explicit: str | None = None) -> str | None:
    """Where coordinators open a flow run: the setting, else the Prefect API's URL without `/api`."""
    if explicit:
        return explicit
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL

    ui = PREFECT_UI_URL.value()
    api = PREFECT_API_URL.value()
    if ui:
        return str(ui)
    return str(api).removesuffix("/").removesuffix("/api") if api else None


def worker_env() -> dict[str, str]:
    """The environment the workers start with: this process's, plus the Prefect API it talks to (a test
    harness sets it in Prefect's settings, not in the environment)."""
    env = dict(os.environ)
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        env["PREFECT_API_URL"] = str(PREFECT_API_URL.value())
    return env


def take_back(res: Resources, worker: str) -> jobs.TakenBack:
    """The job of one of this portal's workers that died, queued again, its flow run marked Crashed."""
    taken = jobs.take_back(res.engine, worker)
    mark_crashed(taken.flow_run_ids)
    return taken


def build(resources: Resources | None = None, *, workers: int | None = None,
          say: Callable[[str], None] = log.info, listen: tuple[str, int] | None = None) -> FastAPI:
    """The portal app; its lifespan runs the workers. Nothing is taken back at start: jobs found running
    may be another portal's (several share one database); a job whose worker died is taken over by any
    worker once its lease runs out (campaign.jobs). With `listen` (host, port), it also takes the
    commands' flow runs (campaign.handover)."""
    res = resources or get_resources()
    size = workers if workers is not None else res.settings.portal_workers

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = WorkerPool(size, worker_env(), on_death=lambda name: take_back(res, name))
        if size > 0:
            pool.start()
        app.state.workers = pool
        try:
            async with _take_flow_runs(app, res, listen):
                yield
        finally:
            if size > 0:
                await asyncio.to_thread(pool.stop)   # the Prefect client (mark_crashed) is blocking

    return create_app(res, prefect_ui=prefect_ui_url(res.settings.prefect_ui_url),
                      session_hours=res.settings.portal_session_hours, idle_hours=res.settings.portal_idle_hours,
                      secure_cookies=res.settings.portal_secure_cookies, lifespan=lifespan)


@contextlib.asynccontextmanager
async def _take_flow_runs(app: FastAPI, res: Resources, listen: tuple[str, int] | None) -> AsyncIterator[None]:
    """Note where the commands hand their flows (campaign.handover) once the imports they need are warm;
    remove the note at stop."""
    if listen is None:
        yield
        return
    from campaign.handover import remove_runner_file, write_runner_file
    from campaign.prefect_server import api_url_for
    from flows import handover

    await asyncio.to_thread(handover.warm)
    home, pid = res.settings.home.resolve(), os.getpid()
    url = api_url_for(*listen).removesuffix("/api")
    app.state.handover_token = write_runner_file(home, url, pid, res.settings)
    try:
        yield
    finally:
        remove_runner_file(home, pid)


def run(host: str = "127.0.0.1", port: int = 8080, workers: int | None = None) -> None:
    import uvicorn

    uvicorn.run(build(workers=workers, listen=(host, port)), host=host, port=port, log_level="warning",
                proxy_headers=False)
