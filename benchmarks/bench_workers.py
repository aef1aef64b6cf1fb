"""Two portals on one PostgreSQL database against one portal alone (issue 21.2): 17 districts x 3 uploads at
the same moment, through HTTP.

Each run starts from an empty PostgreSQL database and one shared CAMPAIGN_HOME (what machines sharing a
network file system see), a Prefect server started once. Configurations:

- one: one `campaign portal` with its warm workers (CAMPAIGN_PORTAL_WORKERS, default 2) takes all 51 uploads;
- two: two `campaign portal` processes (two machines' worth; each with as many workers) on the same database
  and home, the districts' clients split between them; any portal's worker claims any job (leases).

Measured: seconds from the 51 uploads' common start to the last feedback (the last client seeing its job
done), the peak resident memory of the portals with their workers (sum over the process trees, sampled
every 0.2 s). Checked: every job done exactly once (status done, one attempt, its own submission and flow
run), 51 submissions, none lost. The ratio is one's median over two's median (above 1: two portals are
faster). The runs alternate one/two so that the machine's load drifts over both alike.

    uv run python benchmarks/bench_workers.py [--rows 1000] [--runs 3] [--workers 2]
        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from _common import machine, report
from bench_portal import PASSWORD, Sampler, csrf, free_port

HERE = Path(__file__).parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
UPLOADS_PER_DISTRICT = 3


def sign_in(c: httpx.Client, user: str, district: str) -> str:
    """Signed in, the district page's CSRF token. Many clerks signing in at the same moment may be asked to
    try again (password hashing is bounded): retried as a clerk would, a second later."""
    for _ in range(30):
        r = c.get("/dang-nhap")
        r = c.post("/dang-nhap", data={"csrf_token": csrf(r.text), "username": user, "password": PASSWORD})
        page = c.get(f"/huyen/{district}")
        if 'name="csrf_token"' in page.text and page.url.path == f"/huyen/{district}":
            return csrf(page.text)
        time.sleep(1)
    raise RuntimeError(f"{user} could not sign in: {r.status_code} {r.headers.get('location')}")


def client(base: str, user: str, district: str, path: Path, start: threading.Barrier | None,
           out: dict[str, Any]) -> None:
    """One clerk's upload, followed to its feedback (upload_and_wait of bench_portal, signing in with retries);
    a failure is kept and breaks the common start."""
    try:
        with httpx.Client(base_url=base, timeout=600) as c:
            token = sign_in(c, user, district)
            content = path.read_bytes()
            if start is not None:
                start.wait()
            t0 = time.perf_counter()
            r = c.post(f"/huyen/{district}/tai-len", data={"csrf_token": token, "kind": "target_list"},
                       files={"file": (path.name, content, "text/csv")})
            job = r.headers["location"]
            while (status := c.get(job + "/trang-thai").json())["status"] not in ("done", "failed"):
                time.sleep(0.2)
            out.update(district=district, seconds=time.perf_counter() - t0, status=status["status"],
                       error=status["error"], t_end=time.perf_counter())
    except Exception as exc:  # noqa: BLE001 - reported by the main thread
        out["exception"] = f"{type(exc).__name__}: {exc}"
        if start is not None:
            start.abort()


def make_files(folder: Path, districts: list[str], rows: int) -> dict[tuple[str, int], Path]:
    from campaign.synth.target_lists import generate_target_list_file

    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for i, code in enumerate(districts):
        for k in range(UPLOADS_PER_DISTRICT):
            path = folder / f"target-{code}-{k}-{rows}.csv"
            if not path.exists():
                generate_target_list_file(path, rows, seed=1000 + 10 * i + k, district=code)
            files[code, k] = path
    return files


def fresh_database(pg: str) -> tuple[str, Any]:
    import psycopg

    admin = pg.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS bench_workers WITH (FORCE)")
        conn.execute("CREATE DATABASE bench_workers")
    url = pg.rsplit("/", 1)[0] + "/bench_workers"
    from campaign.store.db import make_engine, migrate

    engine = make_engine(url)
    migrate(engine)
    return url, engine


def add_users(engine: Any, districts: list[str]) -> None:
    from sqlalchemy.orm import Session

    from campaign import accounts

    with Session(engine) as s, s.begin():
        for code in districts:   # one clerk per upload: the three of a district upload at the same moment
            for k in range(UPLOADS_PER_DISTRICT):
                accounts.add_user(s, username=f"huyen{code}k{k}", password=PASSWORD, role="district",
                                  district_code=code)


def start_portal(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", "from faces.cli import main; main()", "portal", "--port", str(port)],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(base + "/suc-khoe", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("a portal did not start")


def warm(engine: Any, bases: list[str], districts: list[str], work: Path, workers: int) -> None:
    """Until every worker of every portal has run a job (imports, GX context): tiny uploads, a few at once."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from campaign.store.models import PortalJob
    from campaign.synth.target_lists import generate_target_list_file

    want = workers * len(bases)
    for attempt in range(10):
        outs: list[dict[str, Any]] = []
        threads = []
        for b, base in enumerate(bases):
            for w in range(workers + 1):
                code = districts[(b * 7 + w) % len(districts)]
                tiny = work / f"tiny-{attempt}-{b}-{w}.csv"
                if not tiny.exists():
                    generate_target_list_file(tiny, 30, seed=9000 + attempt * 100 + b * 10 + w, district=code)
                out: dict[str, Any] = {}
                outs.append(out)
                threads.append(threading.Thread(target=client, args=(base, f"huyen{code}k{w % UPLOADS_PER_DISTRICT}", code, tiny,
                                                                     None, out)))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with Session(engine) as s:
            seen = s.scalar(select(func.count(func.distinct(PortalJob.worker))).where(PortalJob.status == "done"))
        if seen >= want:
            return
    raise SystemExit(f"only {seen} of {want} workers warmed up")


def verify(engine: Any, since_id: int, n: int) -> dict[str, Any]:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from campaign.store.models import PortalJob, Submission

    with Session(engine) as s:
        jobs = s.scalars(select(PortalJob).where(PortalJob.id > since_id)).all()
        sub_ids = [j.submission_id for j in jobs]
        subs = s.scalars(select(Submission).where(Submission.id.in_([i for i in sub_ids if i]))).all()
    problems = []
    if len(jobs) != n:
        problems.append(f"{len(jobs)} jobs, not {n}")
    problems += [f"job {j.id}: {j.status}, {j.attempts} attempt(s)" for j in jobs if j.status != "done" or j.attempts != 1]
    if len(set(sub_ids)) != n or None in sub_ids:
        problems.append("a job without its own submission")
    runs = [j.flow_run_id for j in jobs]
    if len(set(runs)) != n or None in runs:
        problems.append("a job without its own flow run")
    return {"jobs": len(jobs), "jobs_done_once": sum(j.status == "done" and j.attempts == 1 for j in jobs),
            "submissions": len(subs), "submissions_accepted": sum(x.status == "accepted" for x in subs),
            "workers_used": len({j.worker for j in jobs}), "problems": problems}


def one_run(config: str, args: argparse.Namespace, files: dict[tuple[str, int], Path], districts: list[str],
            work: Path, api: str) -> dict[str, Any]:
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from campaign.store.models import PortalJob

    home = work / "home-shared"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    url, engine = fresh_database(args.pg)
    add_users(engine, districts)
    env = {**os.environ, "CAMPAIGN_HOME": str(home), "CAMPAIGN_DATABASE_URL": url, "PREFECT_API_URL": api,
           "CAMPAIGN_NOW": "2021-07-28T10:00", "CAMPAIGN_PORTAL_WORKERS": str(args.workers)}
    portals: list[subprocess.Popen] = []
    try:
        bases = []
        for _ in range(2 if config == "two" else 1):
            proc, base = start_portal(env)
            portals.append(proc)
            bases.append(base)
        warm(engine, bases, districts, work, args.workers)
        with Session(engine) as s:
            since = s.scalar(select(func.max(PortalJob.id))) or 0
        samplers = [Sampler(p.pid) for p in portals]
        for sampler in samplers:
            sampler.start()
        uploads = [(code, k) for k in range(UPLOADS_PER_DISTRICT) for code in districts]
        results: list[dict[str, Any]] = [{} for _ in uploads]
        barrier = threading.Barrier(len(uploads) + 1)
        threads = [threading.Thread(target=client,
                                    args=(bases[i % len(bases)], f"huyen{code}k{k}", code, files[code, k], barrier, out))
                   for i, ((code, k), out) in enumerate(zip(uploads, results, strict=True))]
        for t in threads:
            t.start()
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            for t in threads:
                t.join()
            failed = [r["exception"] for r in results if "Barrier" not in r.get("exception", "Barrier")]
            raise SystemExit(f"an upload failed: {failed[:3]}") from None
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        if failed := [r["exception"] for r in results if "exception" in r]:
            raise SystemExit(f"{len(failed)} upload(s) failed: {failed[:3]}")
        last = max(r["t_end"] for r in results) - t0
        for sampler in samplers:
            sampler.stop.set()
        deadline = time.monotonic() + 120   # the flow runs publish their artifacts after the feedback
        while time.monotonic() < deadline:
            with Session(engine) as s:
                if not s.scalar(select(func.count()).select_from(PortalJob)
                                .where(PortalJob.id > since, PortalJob.status.in_(("queued", "running")))):
                    break
            time.sleep(0.2)
        checked = verify(engine, since, len(uploads))
    finally:
        for proc in portals:
            proc.terminate()
        for proc in portals:
            proc.wait(60)
        engine.dispose()
    return {"config": config, "portals": len(portals), "last_feedback_seconds": last,
            "peak_tree_mib": sum(s.peak for s in samplers), "statuses": sorted({r["status"] for r in results}), **checked}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2, help="warm workers per portal")
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--work", default="/tmp/bench-workers")
    args = ap.parse_args()
    work = Path(args.work)
    from campaign.config import load_campaign
    from flows.serve import start_server

    districts = list(load_campaign().district_codes)
    files = make_files(work / "files", districts, args.rows)
    os.environ["PREFECT_HOME"] = str(work / "prefect")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    port = free_port()
    started: list = []
    start_server("127.0.0.1", port, started)
    api = f"http://127.0.0.1:{port}/api"
    out: dict[str, Any] = {"machine": machine(), "rows_per_file": args.rows, "districts": len(districts),
                           "uploads": len(districts) * UPLOADS_PER_DISTRICT, "workers_per_portal": args.workers,
                           "command": " ".join(sys.argv), "configs": {}}
    runs: dict[str, list[dict[str, Any]]] = {"one": [], "two": []}
    try:
        for _ in range(args.runs):
            for config in ("one", "two"):
                r = one_run(config, args, files, districts, work, api)
                runs[config].append(r)
                print(f"{config}: last feedback {r['last_feedback_seconds']:.1f} s, peak {r['peak_tree_mib']:.0f} MiB, "
                      f"{r['jobs_done_once']}/{r['jobs']} done once by {r['workers_used']} workers, "
                      f"problems {r['problems']}", flush=True)
    finally:
        for proc, _stop in started:
            proc.terminate()
            proc.wait(30)
    for config, rs in runs.items():
        out["configs"][config] = {
            "last_feedback_seconds_median": statistics.median(r["last_feedback_seconds"] for r in rs),
            "last_feedback_seconds": [round(r["last_feedback_seconds"], 1) for r in rs],
            "peak_tree_mib_max": max(r["peak_tree_mib"] for r in rs),
            "all_done_exactly_once": all(not r["problems"] for r in rs), "runs": rs}
    out["ratio_one_over_two"] = (out["configs"]["one"]["last_feedback_seconds_median"]
                                 / out["configs"]["two"]["last_feedback_seconds_median"])
    print(f"ratio one/two: {out['ratio_one_over_two']:.2f}")
    report("workers", out)


if __name__ == "__main__":
    main()
