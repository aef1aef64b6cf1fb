"""`campaign worker`: capacity on one more machine (docs/several-machines.md) with one command.

It runs, against the configured database (CAMPAIGN_DATABASE_URL, the one PostgreSQL every machine shares):
  * the portal's upload-job workers (`faces.portal.worker`): they claim the uploads any portal queued, under
    a lease they renew, and take over the jobs of a worker that died once its lease ran out;
  * with `--prefect`, a Prefect process worker on the work pool (CAMPAIGN_WORK_POOL, `campaign`): the
    scheduled deployments (flows/deployments.py) are registered on the pool, and their runs, scheduled by
    the Prefect server in PREFECT_API_URL, run here as subprocesses.
Until Ctrl-C or SIGTERM; a job in hand is finished first (or taken back).
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
from typing import Any

import click

from faces.cli.common import EXIT_FAILURE, EXIT_USAGE, prepare, say


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt   # SIGTERM (a service manager's stop) takes Ctrl-C's path


@click.command()
@click.option("--workers", default=None, type=click.IntRange(0, 32),
              help="Upload-job worker processes (default CAMPAIGN_PORTAL_WORKERS, 2; 0: none).")
@click.option("--prefect/--no-prefect", "with_prefect", default=False, show_default=True,
              help="Also run a Prefect process worker on the work pool, for the scheduled flows.")
@click.option("--pool", default=None, help="The Prefect work pool (default CAMPAIGN_WORK_POOL, `campaign`).")
@click.option("--limit", default=None, type=click.IntRange(1, 64),
              help="At most this many scheduled flow runs at once on this machine (default: no limit).")
@click.option("--register/--no-register", default=True, show_default=True,
              help="With --prefect: register the scheduled deployments on the pool at start (idempotent).")
def worker(workers: int | None, with_prefect: bool, pool: str | None, limit: int | None, register: bool) -> None:
    """Run workers on this machine against the shared database: the portal's upload jobs and, with --prefect,
    the scheduled flows from the Prefect work pool. Until Ctrl-C or SIGTERM."""
    prepare()
    from campaign.resources import get_resources

    res = get_resources()
    size = res.settings.portal_workers if workers is None else workers
    pool_name = pool or res.settings.work_pool
    if size == 0 and not with_prefect:
        say("nothing to run: --workers 0 without --prefect")
        sys.exit(EXIT_USAGE)
    if with_prefect:
        from prefect.settings import PREFECT_API_URL

        if not PREFECT_API_URL.value():
            say("--prefect needs a Prefect server every machine reaches: set PREFECT_API_URL "
                "(e.g. http://<server>:4200/api)")
            sys.exit(EXIT_FAILURE)
    from faces.portal.server import take_back, worker_env
    from faces.portal.worker import WorkerPool

    before = signal.signal(signal.SIGTERM, _interrupt)
    jobs_pool = WorkerPool(size, worker_env(), on_death=lambda name: take_back(res, name))
    try:
        if size:
            jobs_pool.start()
            say(f"worker: {size} upload-job worker(s) on {res.engine.url.render_as_string(hide_password=True)}")
        if with_prefect:
            _run_prefect_worker(pool_name, limit, register)
        else:
            threading.Event().wait()   # until Ctrl-C / SIGTERM
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)   # a second signal must not cut the stop short
        if size:
            jobs_pool.stop()
        signal.signal(signal.SIGTERM, before)
        say("worker: stopped")


def _run_prefect_worker(pool_name: str, limit: int | None, register: bool) -> None:
    import asyncio

    from prefect.workers.process import ProcessWorker

    if register:
        from flows.deployments import register as register_deployments

        ids = register_deployments(pool_name)
        say(f"worker: deployments on work pool {pool_name!r}: {', '.join(ids)}")
    else:
        from flows.deployments import ensure_work_pool

        ensure_work_pool(pool_name)
    name = f"campaign-{socket.gethostname()[:40]}-{os.getpid()}"

    async def run() -> None:
        async with ProcessWorker(work_pool_name=pool_name, name=name, limit=limit) as prefect_worker:
            say(f"worker: Prefect process worker {name!r} polling work pool {pool_name!r}")
            await prefect_worker.start(printer=lambda *_a, **_k: None)

    asyncio.run(run())
