"""Channels of the deadline watch: e-mail over SMTP and a generic JSON webhook (standard library only).
The reports are e-mailed with the same Notifier (`campaign.reports.run.submit`).

    send = Notifier(smtp_host="127.0.0.1", smtp_port=25, sender="canhbao@syt.gialai.example")
    send("email", "ttyt.633@example.gov.vn", subject, body, payload, key="outbox-7.20210728T090000000000")

A failure raises (connection refused, SMTP refusal, HTTP status >= 400, timeout): retrying is the outbox's
job, not the channel's. `key` names the outbox message, the same on every attempt: the e-mail's Message-ID
is made from it (`<key@sender's domain>`), the webhook gets it as `Idempotency-Key`, so a receiver can
recognise a message sent again after a watch died between the server's acceptance and its commit.

Every send has an overall deadline (`deadline_s`), well under the outbox's claim lease
(campaign.deadlines.outbox): the per-operation timeouts of smtplib and urllib (`timeout_s`) do not bound a
send, as a server trickling a line every few seconds stretches it at will, and a send past the lease would
be claimed and sent again by another watch. A watchdog timer shuts the connection's socket down when the deadline passes: whatever
the send was waiting for fails at once, and the send raises DeliveryError (retried by the outbox). Once the
SMTP server has accepted the message (250 after DATA) it is delivered: what QUIT answers, or fails to
answer before the deadline, no longer makes it a failure (it would be sent again).
"""

from __future__ import annotations

import contextlib
import json
import logging
import smtplib
import socket
import ssl
import threading
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from types import TracebackType
from typing import Any

from campaign.settings import Settings

# The defaults of CAMPAIGN_SMTP_* live with the settings; a Notifier made without them uses the same.
_SMTP = Settings.model_fields
log = logging.getLogger(__name__)
# A send's overall deadline: less than half the outbox's claim lease (5 minutes,
# campaign.deadlines.outbox.LEASE), so a send has ended (given up) long before another watch may claim its
# message, even with the connect of its last address (each address is tried with the per-operation timeout)
# on top.
DEADLINE_S = 120.0


class DeliveryError(RuntimeError):
    """A channel refused or could not take the message."""


class _Deadline:
    """The overall deadline of one send: when it passes, a timer thread shuts down every connection the send
    opened (`watch`), so that whatever the send waits for (a reply, a TLS handshake, a write) fails at once.
    It holds a duplicate of each socket's descriptor until the send ends: the shutdown reaches the
    connection even after TLS wrapped its socket, and never a descriptor reused by someone else."""

    def __init__(self, seconds: float, what: str) -> None:
        self.seconds, self.what = seconds, what
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def watch(self, sock: socket.socket) -> socket.socket:
        """Cut `sock` at the deadline (at once, if it has passed already); returns it."""
        with self._lock:
            dup = sock.dup()
            self._sockets.append(dup)
            if self.expired:
                self._shut(dup)
        return sock

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                self._shut(sock)

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._timer.cancel()
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()
        if exc is not None and self.expired and isinstance(exc, Exception):
            raise DeliveryError(f"{self.what}: gave up after {self.seconds:g} s in all "
                                f"(the deadline of one send): {type(exc).__name__}: {exc}") from exc


class _CutSMTP(smtplib.SMTP):
    """smtplib's client whose connection is cut at the send's deadline."""

    def __init__(self, deadline: _Deadline, timeout: float) -> None:
        self._deadline = deadline
        super().__init__(timeout=timeout)   # no host: `connect` is called under the deadline

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return self._deadline.watch(super()._get_socket(host, port, timeout))


class _CutAtDeadline(urllib.request.AbstractHTTPHandler):
    """urllib's HTTP(S) handlers, their connections cut at the send's deadline (proxies and the rest of
    urllib as usual)."""

    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def do_open(self, http_class: Any, req: urllib.request.Request, **kwargs: Any) -> Any:
        deadline = self._deadline

        def connection(*args: Any, **kw: Any) -> Any:
            conn = http_class(*args, **kw)
            create = conn._create_connection
            conn._create_connection = lambda *a, **k: deadline.watch(create(*a, **k))
            return conn

        return super().do_open(connection, req, **kwargs)


class _HTTPHandler(_CutAtDeadline, urllib.request.HTTPHandler):
    pass


class _HTTPSHandler(_CutAtDeadline, urllib.request.HTTPSHandler):
    pass


@dataclass(frozen=True)
class Notifier:
    smtp_host: str = _SMTP["smtp_host"].default
    smtp_port: int = _SMTP["smtp_port"].default
    sender: str = _SMTP["smtp_from"].default
    smtp_user: str | None = _SMTP["smtp_user"].default
    smtp_password: str | None = _SMTP["smtp_password"].default
    smtp_starttls: bool = _SMTP["smtp_starttls"].default
    timeout_s: float = 15.0          # each socket operation (connect, one read, one write)
    deadline_s: float = DEADLINE_S   # the whole send

    @classmethod
    def from_settings(cls, settings: Settings) -> Notifier:
        return cls(smtp_host=settings.smtp_host, smtp_port=settings.smtp_port, sender=settings.smtp_from,
                   smtp_user=settings.smtp_user, smtp_password=settings.smtp_password,
                   smtp_starttls=settings.smtp_starttls)

    def __call__(self, channel: str, recipient: str, subject: str, body: str, payload: dict[str, Any], *,
                 key: str | None = None) -> None:
        if channel == "email":
            self.email(recipient, subject, body, message_id=self.message_id(key) if key else None)
        elif channel == "webhook":
            self.webhook(recipient, {"subject": subject, **payload}, key=key)
        else:
            raise DeliveryError(f"unknown channel {channel!r}")

    def message_id(self, key: str) -> str:
        """The Message-ID of a message named `key` (stable: every attempt of it carries the same)."""
        domain = self.sender.rpartition("@")[2].strip("<> ") or "campaign.local"
        return f"<{key}@{domain}>"

    def email(self, to: str | list[str], subject: str, body: str,
              attachments: list[tuple[str, bytes, str]] | None = None, message_id: str | None = None) -> str:
        """Send one message (to one address or several); `attachments`: (file name, content, MIME type);
        `message_id`: a stable one (a new one each time if not given). Returns its Message-ID."""
        msg = EmailMessage()
        msg["From"], msg["Subject"] = self.sender, subject
        msg["To"] = ", ".join(to) if isinstance(to, list) else to
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = message_id or make_msgid(domain="campaign.local")
        msg.set_content(body, charset="utf-8")
        for name, content, mime in attachments or []:
            maintype, _, subtype = mime.partition("/")
            msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
        with _Deadline(self.deadline_s, f"SMTP {self.smtp_host}:{self.smtp_port}") as deadline:
            smtp = _CutSMTP(deadline, timeout=min(self.timeout_s, self.deadline_s))
            refused: dict[str, tuple[int, bytes]] = {}
            try:
                smtp.connect(self.smtp_host, self.smtp_port)
                if self.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())   # verify the server's certificate
                if self.smtp_user:
                    smtp.login(self.smtp_user, self.smtp_password or "")
                refused = smtp.send_message(msg)
                # The server has the message (250 after DATA): it is delivered. QUIT is a courtesy; an
                # answer other than 221, a timeout or the deadline there must not make it a failure, or
                # the outbox would send it again (smtplib's `with` raised on anything but 221).
                try:
                    smtp.quit()
                except (smtplib.SMTPException, OSError) as exc:
                    log.info("SMTP %s: the message was accepted; QUIT failed (%s)", self.smtp_host, exc)
            finally:
                smtp.close()
        if refused:
            raise DeliveryError(f"refused by the SMTP server: {refused}")
        return str(msg["Message-ID"])

    def webhook(self, url: str, document: dict[str, Any], key: str | None = None) -> None:
        data = json.dumps(document, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", **({"Idempotency-Key": key} if key else {})}
        request = urllib.request.Request(url, data=data, method="POST", headers=headers)
        with _Deadline(self.deadline_s, f"webhook {url}") as deadline:
            opener = urllib.request.build_opener(_HTTPHandler(deadline), _HTTPSHandler(deadline))
            with opener.open(request, timeout=min(self.timeout_s, self.deadline_s)) as response:
                if response.status >= 400:
                    raise DeliveryError(f"webhook {url} answered {response.status}")
