"""The deadline watch on a real database (SQLite and PostgreSQL): escalations written once, the outbox
delivered once, through crashes and a mail server that is down, then up."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from campaign.config import load_campaign
from campaign.deadlines.notify import DeliveryError, Notifier
from campaign.deadlines.outbox import LEASE, deliver, message_key
from campaign.deadlines.run import board, escalate
from campaign.store.models import Escalation, OutboxMessage, StoredFile, Submission
from tests.clock_support import at
from tests.smtp_support import free_port, smtp_server

PREP = ["facilities", "infrastructure", "training", "communication"]


@pytest.fixture(scope="module")
def campaign():
    return load_campaign()


def report_sent(engine: Engine, district: str, when: dt.datetime) -> None:
    """The district's preparation report, approved and sent at `when` (campaign.reports.run.submit_report)."""
    from campaign.store.models import ReportRecord

    with Session(engine) as s, s.begin():
        s.add(ReportRecord(level="district", unit=district, version=1, as_of=when, approved_at=when,
                           approved_by="t", submitted_at=when, submitted_by="t", recipients=["bcd@x"]))


def submit(engine: Engine, district: str, kind: str, when: dt.datetime, status: str = "accepted") -> None:
    with Session(engine) as s, s.begin():
        sha = hashlib.sha256(f"{district}{kind}{when}{status}".encode()).hexdigest()
        s.add(StoredFile(sha256=sha, size_bytes=1, original_filename="f.xlsx", media_type=None,
                         relative_path=sha, first_seen_at=when))
        s.flush()
        version = 1 + (s.scalar(select(func.count()).select_from(Submission).where(
            Submission.district_code == district, Submission.kind == kind)) or 0)
        s.add(Submission(district_code=district, kind=kind, version=version, status=status, is_current=False,
                         checksum=sha, original_filename="f.xlsx", channel="cli", submitted_by="t",
                         received_at=when, withdrawn_at=when if status == "withdrawn" else None))


def watch_at(engine: Engine, campaign, when: dt.datetime) -> list[tuple[str, str, str]]:
    with Session(engine) as s, s.begin():
        return [(w.deadline, w.party, w.step) for w in escalate(s, campaign, when)]


class Outbox:
    """A fake channel that records what it was given, and can fail or crash on demand."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.fail_for: set[str] = set()
        self.crash_after: int | None = None

    def __call__(self, channel, recipient, subject, body, payload, *, key) -> None:
        if self.crash_after is not None and len(self.sent) >= self.crash_after:
            raise KeyboardInterrupt("the watch was killed mid-send")
        if recipient in self.fail_for:
            raise ConnectionRefusedError("down")
        self.sent.append((channel, recipient, payload["step"]))


def test_each_step_is_written_once_however_often_the_watch_runs(migrated_engine, campaign) -> None:
    for kind in PREP:   # 622 delivers everything on time; the others deliver nothing
        submit(migrated_engine, "622", kind, at("28/07 10:00"))
    report_sent(migrated_engine, "622", at("28/07 10:00"))
    assert watch_at(migrated_engine, campaign, at("28/07 15:00")) == []
    first = watch_at(migrated_engine, campaign, at("28/07 16:00"))
    # the reminder of both district deadlines for the 16 districts that sent nothing; 622 still owes the
    # target list deadline's kinds
    assert Counter(step for _d, _p, step in first) == {"reminder": 33}
    assert ("district_preparation", "622", "reminder") not in first
    assert ("district_target_list", "622", "reminder") in first
    assert watch_at(migrated_engine, campaign, at("28/07 16:00")) == []     # again: nothing new
    assert watch_at(migrated_engine, campaign, at("28/07 19:00")) == []
    later = watch_at(migrated_engine, campaign, at("29/07 01:00"))          # catching up warning + overdue
    assert Counter(step for *_, step in later) == {"warning": 33, "overdue": 33}   # the DoH's reminder: 29/7 04:00
    with Session(migrated_engine) as s:
        assert s.scalar(select(func.count()).select_from(Escalation)) == 33 * 3
        # each district reminder goes to the health centre by e-mail; overdue to the steering committee
        # by e-mail (its contact has no webhook)
        rem = s.execute(select(OutboxMessage.channel, OutboxMessage.recipient).join(Escalation)
                        .where(Escalation.party == "633", Escalation.step == "reminder")).all()
        assert sorted(rem) == [("email", "ttyt.633@example.gov.vn")] * 2
        text = s.scalar(select(OutboxMessage.body).join(Escalation).where(
            Escalation.party == "633", Escalation.step == "overdue", Escalation.deadline_id == "district_preparation"))
        assert "Còn thiếu:" in text and "Hoạt động truyền thông" in text and "Chư Sê" in text


def test_a_withdrawn_submission_does_not_close_a_deliverable_and_late_is_late(migrated_engine, campaign) -> None:
    for kind in PREP[:3]:
        submit(migrated_engine, "633", kind, at("28/07 09:00"))
    report_sent(migrated_engine, "633", at("28/07 09:00"))
    submit(migrated_engine, "633", "communication", at("28/07 09:00"), status="withdrawn")
    with Session(migrated_engine) as s:
        b = board(s, campaign, at("28/07 23:00"))
    mine = next(d for d in b["deliverables"] if d["deadline"] == "district_preparation" and d["party"] == "633")
    assert mine["state"] == "due" and mine["missing"] == ["communication"]
    submit(migrated_engine, "633", "communication", at("29/07 02:00"))
    other = next(d for d in b["deliverables"] if d["deadline"] == "district_preparation" and d["party"] == "634")
    assert "báo cáo (cấp huyện) đã duyệt và gửi" in other["missing"]   # no report: never done
    with Session(migrated_engine) as s:
        b = board(s, campaign, at("29/07 08:00"))
        early = board(s, campaign, at("29/07 01:00"))
    mine = next(d for d in b["deliverables"] if d["deadline"] == "district_preparation" and d["party"] == "633")
    assert mine["state"] == "done_late" and mine["missing"] == []
    before = next(d for d in early["deliverables"] if d["deadline"] == "district_preparation" and d["party"] == "633")
    assert before["state"] == "overdue"


def test_a_crash_mid_send_loses_nothing_and_doubles_nothing(migrated_engine, campaign) -> None:
    watch_at(migrated_engine, campaign, at("29/07 13:00"))   # every district step up to "escalated"
    with Session(migrated_engine) as s:
        total = s.scalar(select(func.count()).select_from(OutboxMessage))
    box = Outbox()
    box.crash_after = 7
    clock = lambda: dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # noqa: E731
    with pytest.raises(KeyboardInterrupt):
        deliver(lambda: Session(migrated_engine), box, clock)
    assert len(box.sent) == 7
    box.crash_after = None
    result = deliver(lambda: Session(migrated_engine), box, clock)   # the restarted watch
    assert result.sent == total - 7 and len(box.sent) == total
    keys = Counter(box.sent)
    with Session(migrated_engine) as s:
        rows = s.execute(select(OutboxMessage.channel, OutboxMessage.recipient, Escalation.step)
                         .join(Escalation)).all()
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "sent")) == 0
    assert keys == Counter(tuple(r) for r in rows)   # each message exactly once
    assert deliver(lambda: Session(migrated_engine), box, clock).sent == 0


def test_the_board_shows_the_message_being_sent(migrated_engine, campaign) -> None:
    """While a watch holds its claim the board says `sending`, not `pending` (a second watch would not
    send it); after the send, `sent`."""
    watch_at(migrated_engine, campaign, at("28/07 16:00"))
    clock = lambda: dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # noqa: E731
    seen: list[Counter] = []

    def look(channel, recipient, subject, body, payload, *, key) -> None:
        with Session(migrated_engine) as s:
            sent = board(s, campaign, at("28/07 16:00"), real_now=clock())["escalations_sent"]
        seen.append(Counter(e["status"] for e in sent))

    assert deliver(lambda: Session(migrated_engine), look, clock).sent == 34
    assert seen[0] == {"sending": 1, "pending": 33} and seen[-1] == {"sending": 1, "sent": 33}
    with Session(migrated_engine) as s:
        assert {e["status"] for e in board(s, campaign, at("28/07 16:00"))["escalations_sent"]} == {"sent"}


def test_a_watch_past_its_lease_does_not_mark_what_another_claimed(migrated_engine, campaign) -> None:
    """Watch A's send of the first message outlasts its lease; watch B (its clock past the lease) claims
    that message again and sends everything. A's late success is not recorded over B's claim: the
    message is marked sent once, by B, and A reports the lost lease."""
    watch_at(migrated_engine, campaign, at("28/07 16:00"))
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    b_box, runs = Outbox(), {}

    def slow_a(channel, recipient, subject, body, payload, *, key) -> None:
        if "b" not in runs:   # during A's first send
            runs["b"] = deliver(lambda: Session(migrated_engine), b_box, lambda: t0 + LEASE + dt.timedelta(seconds=1),
                                me="B")

    a = deliver(lambda: Session(migrated_engine), slow_a, lambda: t0, me="A")
    assert (a.sent, a.lease_lost) == (0, 1) and runs["b"].sent == 34 and len(b_box.sent) == 34
    with Session(migrated_engine) as s:
        rows = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert {(m.status, m.claimed_by, m.claimed_until) for m in rows} == {("sent", "B", None)}
    assert [m.attempts for m in rows] == [2] + [1] * 33


def test_a_message_whose_watches_always_die_is_given_up(migrated_engine, campaign) -> None:
    """Each claim counts as an attempt: a message whose every send killed its watch (claims that ended
    without an outcome) is given up at the next claim instead of sent again forever."""
    from sqlalchemy import update

    watch_at(migrated_engine, campaign, at("28/07 16:00"))
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with Session(migrated_engine) as s, s.begin():
        first = s.scalar(select(func.min(OutboxMessage.id)))
        s.execute(update(OutboxMessage).where(OutboxMessage.id == first)
                  .values(attempts=3, claimed_by="dead", claimed_until=t0))   # three claims, no outcome
    box = Outbox()
    result = deliver(lambda: Session(migrated_engine), box, lambda: t0, max_attempts=3)
    assert (result.sent, result.given_up, len(box.sent)) == (33, 1, 33)
    with Session(migrated_engine) as s:
        m = s.get(OutboxMessage, first)
    assert m.status == "failed" and m.claimed_until is None and "stopped" in m.last_error


def test_a_failing_channel_is_retried_with_back_off_then_given_up(migrated_engine, campaign) -> None:
    watch_at(migrated_engine, campaign, at("28/07 16:00"))
    box = Outbox()
    box.fail_for = {"ttyt.633@example.gov.vn"}
    now = [dt.datetime(2026, 1, 1, tzinfo=dt.UTC)]
    first = deliver(lambda: Session(migrated_engine), box, lambda: now[0], max_attempts=3)
    assert first.failed == 2 and first.sent == 32   # 17 districts x 2 reminders; 633's two failed
    assert deliver(lambda: Session(migrated_engine), box, lambda: now[0], max_attempts=3).failed == 0   # not yet due
    now[0] += dt.timedelta(minutes=1)
    assert deliver(lambda: Session(migrated_engine), box, lambda: now[0], max_attempts=3).failed == 2
    now[0] += dt.timedelta(minutes=2)
    third = deliver(lambda: Session(migrated_engine), box, lambda: now[0], max_attempts=3)
    assert third.given_up == 2
    with Session(migrated_engine) as s:
        failed = s.execute(select(OutboxMessage.attempts, OutboxMessage.last_error)
                           .where(OutboxMessage.status == "failed")).all()
    assert [a for a, _ in failed] == [3, 3] and all("ConnectionRefusedError" in e for _, e in failed)


# --- real SMTP -------------------------------------------------------------------------------------------


def test_smtp_down_then_up_delivers_once(migrated_engine, campaign) -> None:
    watch_at(migrated_engine, campaign, at("28/07 16:00"))
    port = free_port()
    send = Notifier(smtp_host="127.0.0.1", smtp_port=port, sender="canhbao@example.gov.vn", timeout_s=3)
    now = [dt.datetime(2026, 1, 1, tzinfo=dt.UTC)]
    down = deliver(lambda: Session(migrated_engine), send, lambda: now[0])
    assert down.sent == 0 and down.failed == 34   # 17 districts x 2 reminders
    with smtp_server(port) as (_port, mailbox):
        now[0] += dt.timedelta(minutes=5)
        up = deliver(lambda: Session(migrated_engine), send, lambda: now[0])
        assert up.sent == 34
        assert deliver(lambda: Session(migrated_engine), send, lambda: now[0]).sent == 0
        time.sleep(0.2)
    to = Counter(r for _f, rcpts, _c in mailbox.messages for r in rcpts)
    assert len(mailbox.messages) == 34 and to["ttyt.633@example.gov.vn"] == 2 and max(to.values()) == 2
    content = next(c for _f, r, c in mailbox.messages if r == ["ttyt.633@example.gov.vn"]).decode()
    assert "Subject:" in content and "canhbao@example.gov.vn" in content


def test_webhook_posts_json(migrated_engine, campaign) -> None:
    import json
    from http.server import BaseHTTPRequestHandler, HTTPServer

    got: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's API
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        Notifier().webhook(f"http://127.0.0.1:{server.server_port}/bot", {"step": "overdue", "text": "Quá hạn"})
    finally:
        server.shutdown()
    assert got == [{"step": "overdue", "text": "Quá hạn"}]


def test_a_readiness_level_as_deliverable(migrated_engine, campaign) -> None:
    from campaign.config_directive import Deadline
    from campaign.store.models import ReadinessRecord

    go_live = Deadline.model_validate({
        "id": "district_go_live", "name": "Sẵn sàng triển khai (huyện)", "party": "districts",
        "opens_at": "2021-07-28T08:00:00+07:00", "due_at": "2021-07-30T00:00:00+07:00",
        "requires": {"readiness": "ready_with_warnings"}, "escalation": "province_district_ladder",
        # the directive sets no go-live date: a deadline the province adds says so (issue 17)
        "source": "province"})
    custom = campaign.model_copy(update={"deadlines": [go_live]})
    with Session(migrated_engine) as s, s.begin():
        for district, status, when in (("622", "not_ready", at("28/07 09:00")), ("622", "ready", at("29/07 07:00")),
                                       ("633", "ready_with_warnings", at("30/07 07:00"))):
            s.add(ReadinessRecord(run_id=str(when), as_of=when, level="district", district=district, status=status,
                                  details={}, inputs=[]))
    with Session(migrated_engine) as s:
        b = board(s, custom, at("31/07 00:00"))
    states = {d["party"]: d for d in b["deliverables"]}
    assert states["622"]["state"] == "done_on_time" and states["633"]["state"] == "done_late"
    assert states["625"]["state"] == "overdue" and states["625"]["missing"] == ["mức sẵn sàng: sẵn sàng (có lưu ý)"]
    with Session(migrated_engine) as s, s.begin():
        steps = {(w.party, w.step) for w in escalate(s, custom, at("29/07 10:00"))}
    assert ("622", "reminder") not in steps and ("633", "reminder") in steps


# --- sends that outlast their lease; what the server says after taking a message (issue 18, C9 and S3) -----


class ScriptedSMTP:
    """A real SMTP server on a raw socket (a thread per connection) that misbehaves on demand: its greeting
    trickles (a `220-` continuation line every `trickle_every` s, for `trickle_s` s: each line well within
    any per-operation timeout) and QUIT gets `quit_reply` (None: no answer at all). It accepts every
    message (250 after DATA) and keeps their Message-IDs."""

    def __init__(self, *, trickle_s: float = 0.0, trickle_every: float = 0.2,
                 quit_reply: bytes | None = b"221 bye") -> None:
        self.trickle_s, self.trickle_every, self.quit_reply = trickle_s, trickle_every, quit_reply
        self.accepted: list[str] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as f:
            try:
                end = time.monotonic() + self.trickle_s
                while time.monotonic() < end:
                    conn.sendall(b"220-slow greeting\r\n")
                    time.sleep(self.trickle_every)
                conn.sendall(b"220 ready\r\n")
                while line := f.readline():
                    command = line.strip().upper()
                    if command.startswith((b"EHLO", b"HELO")):
                        conn.sendall(b"250-127.0.0.1\r\n250 8BITMIME\r\n")
                    elif command == b"DATA":
                        conn.sendall(b"354 go on\r\n")
                        data = b"".join(iter(lambda: f.readline(), b".\r\n"))
                        msg = email.message_from_bytes(data, policy=email.policy.default)
                        self.accepted.append(str(msg["Message-ID"]))
                        conn.sendall(b"250 queued\r\n")
                    elif command == b"QUIT":
                        if self.quit_reply is None:
                            self.stopping.wait(30)   # never answers
                        else:
                            conn.sendall(self.quit_reply + b"\r\n")
                        return
                    else:
                        conn.sendall(b"250 ok\r\n")
            except OSError:   # the client hung up
                return

    def close(self) -> None:
        self.stopping.set()
        self.listener.close()


@pytest.fixture()
def scripted_smtp() -> Iterator[type[ScriptedSMTP]]:
    made: list[ScriptedSMTP] = []

    def make(**kwargs) -> ScriptedSMTP:
        made.append(ScriptedSMTP(**kwargs))
        return made[-1]

    yield make
    for server in made:
        server.close()


def one_pending(engine: Engine, campaign, **values) -> OutboxMessage:
    """The outbox with one message left to send (the first reminder; the others marked sent)."""
    watch_at(engine, campaign, at("28/07 16:00"))
    with Session(engine, expire_on_commit=False) as s, s.begin():
        first = s.scalar(select(func.min(OutboxMessage.id)))
        s.execute(update(OutboxMessage).where(OutboxMessage.id != first).values(status="sent"))
        if values:
            s.execute(update(OutboxMessage).where(OutboxMessage.id == first).values(**values))
        return s.get(OutboxMessage, first)


def real_clock(offset: dt.timedelta = dt.timedelta(0)):
    return lambda: dt.datetime.now(dt.UTC) + offset


def test_a_send_that_trickles_past_its_deadline_gives_up_and_no_second_watch_sends_it_again(
        migrated_engine, campaign, scripted_smtp) -> None:
    """C9: per-operation timeouts do not bound a send: a server trickling its greeting (a line every 0.2 s,
    for 6 s) kept an SMTP send with a 1 s timeout going for 6 s, past a 3 s lease; a second watch then
    claimed the message again and both delivered it. Now a send gives up at its overall deadline (1.5 s
    here) and records a failure to retry; the second watch, after the lease, finds nothing to send;
    the retry delivers it once."""
    message = one_pending(migrated_engine, campaign)
    server = scripted_smtp(trickle_s=6.0)
    send = Notifier(smtp_host="127.0.0.1", smtp_port=server.port, sender="canhbao@example.gov.vn",
                    timeout_s=1.0, deadline_s=1.5)
    lease = dt.timedelta(seconds=3)
    runs: dict[str, object] = {}

    def watch_a() -> None:
        start = time.monotonic()
        runs["a"] = deliver(lambda: Session(migrated_engine), send, real_clock(), lease=lease, me="A")
        runs["a_took"] = time.monotonic() - start

    a = threading.Thread(target=watch_a)
    a.start()
    time.sleep(lease.total_seconds() + 0.5)   # past A's lease had A's send still run
    b = deliver(lambda: Session(migrated_engine), send, real_clock(), lease=lease, me="B")
    a.join(30)
    assert not a.is_alive()
    assert runs["a_took"] < 1.5 + 1.0, runs["a_took"]   # gave up at its deadline, not after the trickle
    assert (runs["a"].sent, runs["a"].failed) == (0, 1) and (b.sent, b.failed) == (0, 0)
    with Session(migrated_engine) as s:
        m = s.get(OutboxMessage, message.id)
    assert m.status == "pending" and m.claimed_until is None and m.attempts == 1 and "1.5 s" in m.last_error
    assert server.accepted == []
    server.trickle_s = 0.0   # the server behaves again: the retry, when due, delivers it once
    retry = deliver(lambda: Session(migrated_engine), send, real_clock(dt.timedelta(minutes=2)), lease=lease)
    assert retry.sent == 1 and server.accepted == [send.message_id(message_key(message.id, message.created_at))]


def test_a_live_watch_keeps_its_claim_while_its_send_runs(migrated_engine, campaign) -> None:
    """C9: a watch renews its claim while a send runs (any channel: the deadline is the Notifier's), so a
    send slower than the lease (2.5 s against 1 s here) is not claimed again by a second watch."""
    one_pending(migrated_engine, campaign)
    lease = dt.timedelta(seconds=1)
    second: list = []
    b_box = Outbox()

    def slow(channel, recipient, subject, body, payload, *, key) -> None:
        time.sleep(1.5)   # past the lease: the claim lives only if it was renewed
        second.append(deliver(lambda: Session(migrated_engine), b_box, real_clock(), lease=lease, me="B"))
        time.sleep(1.0)

    a = deliver(lambda: Session(migrated_engine), slow, real_clock(), lease=lease, me="A")
    assert (a.sent, a.lease_lost) == (1, 0) and second[0].sent == 0 and b_box.sent == []
    with Session(migrated_engine) as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.claimed_by == "A")).all()
    assert [(m.status, m.attempts, m.claimed_until) for m in rows] == [("sent", 1, None)]


@pytest.mark.parametrize("quit_reply", [b"500 5.5.2 what", None], ids=["quit-500", "quit-silent"])
def test_a_message_the_server_accepted_is_sent_whatever_quit_answers(migrated_engine, campaign, scripted_smtp,
                                                                     quit_reply) -> None:
    """S3: the server answered 250 to the DATA (it has the message), then QUIT got a 500 or no answer.
    Before: smtplib's `with` raised on any answer to QUIT but 221, so the message was recorded failed
    and sent again at the retry. Now it is delivered, once. (A silent QUIT was already survived, smtplib
    swallowing the timeout: kept as a guard, now that the send's deadline may cut the connection there.)"""
    message = one_pending(migrated_engine, campaign)
    server = scripted_smtp(quit_reply=quit_reply)
    # a silent QUIT is cut by the send's deadline (1.5 s), before the per-operation timeout (5 s)
    send = Notifier(smtp_host="127.0.0.1", smtp_port=server.port, sender="canhbao@example.gov.vn",
                    timeout_s=5.0, deadline_s=1.5)
    first = deliver(lambda: Session(migrated_engine), send, real_clock())
    later = deliver(lambda: Session(migrated_engine), send, real_clock(dt.timedelta(minutes=10)))
    assert (first.sent, first.failed, later.sent) == (1, 0, 0)
    assert server.accepted == [send.message_id(message_key(message.id, message.created_at))]
    with Session(migrated_engine) as s:
        assert s.get(OutboxMessage, message.id).status == "sent"


class Hooks:
    """A real local HTTP server for webhooks: keeps every request (headers, JSON); answers `statuses` in
    turn (then 204). `trickle_s`: for that long, one line every 0.2 s: interim `100 Continue` answers
    before the answer (`trickle="interim"`), or header lines after its status line (`trickle="headers"`)."""

    def __init__(self, statuses: list[int] | None = None, trickle_s: float = 0.0, trickle: str = "interim") -> None:
        self.requests: list[tuple[dict[str, str], dict]] = []
        statuses_left, hooks = list(statuses or []), self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's API
                hooks.requests.append((dict(self.headers),
                                       json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
                end = time.monotonic() + trickle_s
                while trickle == "interim" and time.monotonic() < end:
                    self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    self.wfile.flush()
                    time.sleep(0.2)
                self.send_response(statuses_left.pop(0) if statuses_left else 204)
                while trickle == "headers" and time.monotonic() < end:
                    self.send_header("X-Slow", "1")
                    self.flush_headers()
                    time.sleep(0.2)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/bot"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_webhook_carries_the_outbox_message_key_the_same_on_a_retry(migrated_engine, campaign) -> None:
    """The webhook's Idempotency-Key is the outbox message's key: a real HTTP server answers the first
    POST 503 (a failure: retried) and the retry 204; both carry the same key, the message's."""
    hooks = Hooks(statuses=[503])
    try:
        message = one_pending(migrated_engine, campaign)
        with Session(migrated_engine) as s, s.begin():
            s.execute(update(OutboxMessage).where(OutboxMessage.id == message.id)
                      .values(channel="webhook", recipient=hooks.url))
        send = Notifier(timeout_s=2.0)
        first = deliver(lambda: Session(migrated_engine), send, real_clock())
        retry = deliver(lambda: Session(migrated_engine), send, real_clock(dt.timedelta(minutes=2)))
    finally:
        hooks.close()
    assert (first.failed, retry.sent) == (1, 1)
    keys = [headers.get("Idempotency-Key") for headers, _ in hooks.requests]
    assert keys == [message_key(message.id, message.created_at)] * 2
    assert [doc["subject"] for _, doc in hooks.requests] == [message.subject] * 2
    assert hooks.requests[0][1] == hooks.requests[1][1]   # the same document, again


@pytest.mark.parametrize("trickle", ["interim", "headers"])
def test_the_webhook_gives_up_at_its_deadline_on_a_trickling_server(trickle) -> None:
    """C9 for the webhook: a server trickling a line every 0.2 s for 5 s kept urllib, with a 1 s timeout
    per operation, for 5 s. Now the send ends at its overall deadline: given up (DeliveryError, retried)
    while no answer came (interim `100 Continue` lines); delivered when the receiver's status line (204)
    came and only its headers trickle."""
    hooks = Hooks(trickle_s=5.0, trickle=trickle)
    send = Notifier(timeout_s=1.0, deadline_s=1.5)
    try:
        start = time.monotonic()
        if trickle == "interim":
            with pytest.raises(DeliveryError, match="1.5 s"):
                send.webhook(hooks.url, {"step": "overdue"}, key="outbox-1.x")
        else:
            send.webhook(hooks.url, {"step": "overdue"}, key="outbox-1.x")
        took = time.monotonic() - start
    finally:
        hooks.close()
    assert took < 1.5 + 1.0, took
    assert len(hooks.requests) == 1
