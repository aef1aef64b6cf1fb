"""Deadline watches that overlap (a manual `campaign watch` while the scheduled one runs, issue 18): real
watch processes against one database (a SQLite file, a PostgreSQL schema) and a real SMTP server
(aiosmtpd, in this process). Each message goes out once; a watch killed with SIGKILL mid-send leaves a
claim whose lease runs out, and the next watch finishes its work.

The watch processes run this module (`python -m tests.test_watch_concurrency URL ...`): what the
`deadline_watch` flow's tasks run (campaign.deadlines.run.escalate_now, then deliver with the SMTP Notifier and
the real clock), without Prefect around it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import email
import email.policy
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
SENDER = "canhbao@syt.gialai.example"
WATCH_AT = "2021-07-28T16:00:00+07:00"   # the reminders of both district deadlines: 17 x 2 messages


# --- the watch process --------------------------------------------------------------------------------------


def _watch_main(argv: list[str]) -> None:
    from campaign.config import load_campaign
    from campaign.deadlines.notify import Notifier
    from campaign.deadlines.outbox import deliver
    from campaign.deadlines.run import escalate_now
    from campaign.store.db import make_engine

    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--schema")
    p.add_argument("--smtp-port", type=int, required=True)
    p.add_argument("--at", required=True)
    p.add_argument("--lease", type=float, default=300.0)
    p.add_argument("--ready", type=Path, required=True)
    p.add_argument("--go", type=Path, required=True)
    args = p.parse_args(argv)
    engine = make_engine(args.url, connect_args={"options": f"-csearch_path={args.schema}"} if args.schema else {})
    campaign = load_campaign()
    send = Notifier(smtp_host="127.0.0.1", smtp_port=args.smtp_port, sender=SENDER, timeout_s=60)
    args.ready.touch()
    while not args.go.exists():   # every watch starts at the same moment
        time.sleep(0.002)
    written = escalate_now(engine, campaign, dt.datetime.fromisoformat(args.at))
    result = deliver(lambda: Session(engine), send, lambda: dt.datetime.now(dt.UTC),
                     lease=dt.timedelta(seconds=args.lease))
    print(json.dumps({"written": len(written), **result.__dict__}))


# --- the test side ------------------------------------------------------------------------------------------


class Mailbox:
    """A real SMTP server's handler: keeps what it received; `hold_at`: the n-th message is kept (the
    server has it) but not answered until `release` is set, so its sender waits for the 250."""

    def __init__(self, delay: float = 0.0, hold_at: int | None = None) -> None:
        self.delay, self.hold_at = delay, hold_at
        self.messages: list[tuple[list[str], bytes]] = []
        self.held, self.release = threading.Event(), threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's handler API
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        if self.hold_at is not None and len(self.messages) == self.hold_at:
            self.held.set()
            while not self.release.is_set():
                await asyncio.sleep(0.02)
        await asyncio.sleep(self.delay)
        return "250 OK"

    def received(self) -> list[tuple[str, str, str]]:
        """(recipient, subject, Message-ID) of every message received."""
        out = []
        for rcpts, raw in self.messages:
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            out += [(r, _same(str(msg["Subject"])), str(msg["Message-ID"])) for r in rcpts]
        return out


def _same(subject: str) -> str:
    """A subject without its spaces: a long one comes back from the header folded, a space may go."""
    return "".join(subject.split())


@contextlib.contextmanager
def smtp(mailbox: Mailbox) -> Iterator[int]:
    from aiosmtpd.controller import Controller

    from tests.smtp_support import free_port

    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        mailbox.release.set()
        controller.stop()


def _target(engine: Engine) -> list[str]:
    """The database as a watch process's arguments: the URL, and the PostgreSQL schema of this test."""
    args = [engine.url.render_as_string(hide_password=False)]
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            args += ["--schema", conn.scalar(text("SELECT current_schema()"))]
    return args


def start_watches(engine: Engine, n: int, port: int, tmp: Path, *, lease: float = 300.0) -> list[subprocess.Popen]:
    """n watch processes, released together once all are ready (imports done, engine made)."""
    tmp.mkdir(parents=True, exist_ok=True)
    go = tmp / "go"
    procs = [subprocess.Popen([sys.executable, "-m", "tests.test_watch_concurrency", *_target(engine),
                               "--smtp-port", str(port), "--at", WATCH_AT, "--lease", str(lease),
                               "--ready", str(tmp / f"ready-{i}"), "--go", str(go)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(n)]
    end = time.monotonic() + 120
    while sum((tmp / f"ready-{i}").exists() for i in range(n)) < n:
        dead = [p for p in procs if p.poll() is not None]
        assert not dead, dead[0].communicate()[1][-3000:]
        assert time.monotonic() < end, "the watch processes did not start"
        time.sleep(0.02)
    go.touch()
    return procs


def finish(procs: list[subprocess.Popen]) -> list[dict]:
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert "database is locked" not in err, err[-3000:]
        assert p.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def outbox(engine: Engine) -> list:
    from campaign.store.models import OutboxMessage

    with Session(engine) as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def message_ids(rows: list) -> list[str]:
    """The Message-ID each outbox row must go out with, whichever watch sends it and how often."""
    from campaign.deadlines.notify import Notifier
    from campaign.deadlines.outbox import message_key

    return [Notifier(sender=SENDER).message_id(message_key(m.id, m.created_at)) for m in rows]


N_WATCHES = 6


def test_six_watches_at_once_write_and_send_each_message_once(migrated_engine, tmp_path) -> None:
    """Six watch processes released at the same instant on an empty outbox: each escalation is written
    once, each message reaches the SMTP server once (50 ms per message there, so the watches overlap),
    and none fails with "database is locked" (SQLite)."""
    from campaign.store.models import Escalation

    box = Mailbox(delay=0.05)
    with smtp(box) as port:
        results = finish(start_watches(migrated_engine, N_WATCHES, port, tmp_path))
        time.sleep(0.2)
    rows = outbox(migrated_engine)
    with Session(migrated_engine) as s:
        escalations = len(s.scalars(select(Escalation.id)).all())
    assert escalations == 34 and len(rows) == 34
    assert sum(r["written"] for r in results) == escalations   # each written by one watch
    got = box.received()
    print(f"{migrated_engine.dialect.name}: {N_WATCHES} watches, {len(rows)} messages, {len(got)} deliveries")
    assert Counter((r, s) for r, s, _ in got) == Counter((m.recipient, _same(m.subject)) for m in rows)
    assert sorted(mid for *_, mid in got) == sorted(message_ids(rows))   # each its own, stable Message-ID
    assert sum(r["sent"] for r in results) == 34 and all(r["failed"] == 0 for r in results)
    assert all(m.status == "sent" and m.attempts == 1 and m.claimed_until is None for m in rows)
    assert len({m.claimed_by for m in rows}) >= 2   # the watches really overlapped: more than one sent


def test_a_watch_killed_mid_send_is_finished_after_its_lease_once(migrated_engine, tmp_path) -> None:
    """What is simulated, honestly: a real watch process gets a real SIGKILL while the SMTP server holds
    the DATA of its 5th message and has not answered yet, so the server has that message and the watch
    never learns it went out (the window between the server's acceptance and the commit). A second watch
    right after (in this process) sends the rest but leaves the killed watch's message alone while its
    lease (8 s here) runs; a third (a process again) after the lease ends sends it again. Then the outbox is checked as a whole: every
    message received at least once and marked sent once, the one duplicate is the message in flight at
    the kill and both copies carry the same Message-ID, nothing is left claimed."""
    from campaign.config import load_campaign
    from campaign.deadlines.notify import Notifier
    from campaign.deadlines.outbox import deliver
    from campaign.deadlines.run import escalate

    with Session(migrated_engine) as s, s.begin():
        escalate(s, load_campaign(), dt.datetime.fromisoformat(WATCH_AT))
    lease = 8.0
    box = Mailbox(hold_at=5)
    with smtp(box) as port:
        [killed] = start_watches(migrated_engine, 1, port, tmp_path / "first", lease=lease)
        assert box.held.wait(120), killed.communicate()[1][-3000:]
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(30)
        assert killed.returncode == -signal.SIGKILL
        box.release.set()   # the server answers a dead client
        in_flight = box.received()[4]
        time.sleep(0.2)

        # a watch while the lease runs: everything but the message in flight
        send = Notifier(smtp_host="127.0.0.1", smtp_port=port, sender=SENDER, timeout_s=60)
        second = deliver(lambda: Session(migrated_engine), send, lambda: dt.datetime.now(dt.UTC),
                         lease=dt.timedelta(seconds=lease))
        claimed = [m for m in outbox(migrated_engine) if m.status != "sent"]
        assert [(m.recipient, _same(m.subject)) for m in claimed] == [in_flight[:2]]
        assert f":{killed.pid}:" in claimed[0].claimed_by and claimed[0].claimed_until is not None   # its claim
        assert second.sent == 34 - 5

        # after the lease: the next watch sends it again
        time.sleep(max(0.0, (claimed[0].claimed_until - dt.datetime.now(dt.UTC)).total_seconds()) + 0.2)
        third = finish(start_watches(migrated_engine, 1, port, tmp_path / "third", lease=lease))[0]
        assert third["sent"] == 1
        time.sleep(0.2)

    rows = outbox(migrated_engine)
    got = box.received()
    copies = Counter((r, s) for r, s, _ in got)
    assert set(copies) == {(m.recipient, _same(m.subject)) for m in rows}   # every message at least once
    assert {k: n for k, n in copies.items() if n > 1} == {in_flight[:2]: 2}   # only the one in flight, twice
    assert len({mid for r, s, mid in got if (r, s) == in_flight[:2]}) == 1  # ... with one Message-ID
    assert {mid for *_, mid in got} == set(message_ids(rows))             # the outbox row's, one per message
    assert all(m.status == "sent" and m.claimed_until is None for m in rows)
    assert sorted(m.attempts for m in rows) == [1] * 33 + [2]
    # marked sent once each: 4 by the killed watch before the kill, 29 by the second, 1 by the third
    assert sum(f":{killed.pid}:" in m.claimed_by for m in rows) == 4


if __name__ == "__main__":
    _watch_main(sys.argv[1:])
