"""The deadline watch on a real database (SQLite and PostgreSQL): escalations written once, the outbox
delivered once, through crashes and a mail server that is down, then up."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from campaign.config import load_campaign
from campaign.io.notify import Notifier
from campaign.store.models import Escalation, OutboxMessage, StoredFile, Submission
from campaign.watch import board, deliver, escalate
from tests.clock_support import at
from tests.smtp_support import free_port, smtp_server

PREP = ["facilities", "infrastructure", "training", "communication"]


@pytest.fixture(scope="module")
def campaign():
    return load_campaign()


def report_sent(engine: Engine, district: str, when: dt.datetime) -> None:
    """The district's preparation report, approved and sent at `when` (campaign.reports.run.submit)."""
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

    def __call__(self, channel, recipient, subject, body, payload) -> None:
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
    from campaign.config import Deadline
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
