"""Channels of the deadline watch: e-mail over SMTP and a generic JSON webhook (standard library only).

    send = Notifier(smtp_host="127.0.0.1", smtp_port=25, sender="canhbao@syt.gialai.example")
    send("email", "ttyt.633@example.gov.vn", subject, body, payload)   # raises on failure: the outbox retries

A failure raises (connection refused, SMTP refusal, HTTP status >= 400, timeout): retrying is the outbox's
job, not the channel's.
"""

from __future__ import annotations

import json
import smtplib
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from campaign.settings import Settings

# The defaults of CAMPAIGN_SMTP_* live with the settings; a Notifier made without them uses the same.
_SMTP = Settings.model_fields

class DeliveryError(RuntimeError):
    """A channel refused or could not take the message."""


@dataclass(frozen=True)
class Notifier:
    smtp_host: str = _SMTP["smtp_host"].default
    smtp_port: int = _SMTP["smtp_port"].default
    sender: str = _SMTP["smtp_from"].default
    smtp_user: str | None = _SMTP["smtp_user"].default
    smtp_password: str | None = _SMTP["smtp_password"].default
    smtp_starttls: bool = _SMTP["smtp_starttls"].default
    timeout_s: float = 15.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Notifier:
        return cls(smtp_host=settings.smtp_host, smtp_port=settings.smtp_port, sender=settings.smtp_from,
                   smtp_user=settings.smtp_user, smtp_password=settings.smtp_password,
                   smtp_starttls=settings.smtp_starttls)

    def __call__(self, channel: str, recipient: str, subject: str, body: str, payload: dict[str, Any]) -> None:
        if channel == "email":
            self.email(recipient, subject, body)
        elif channel == "webhook":
            self.webhook(recipient, {"subject": subject, **payload})
        else:
            raise DeliveryError(f"unknown channel {channel!r}")

    def email(self, to: str | list[str], subject: str, body: str,
              attachments: list[tuple[str, bytes, str]] | None = None) -> str:
        """Send one message (to one address or several); `attachments`: (file name, content, MIME type).
        Returns its Message-ID."""
        msg = EmailMessage()
        msg["From"], msg["Subject"] = self.sender, subject
        msg["To"] = ", ".join(to) if isinstance(to, list) else to
        msg["Date"], msg["Message-ID"] = formatdate(localtime=False), make_msgid(domain="campaign.local")
        msg.set_content(body, charset="utf-8")
        for name, content, mime in attachments or []:
            maintype, _, subtype = mime.partition("/")
            msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
        with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=self.timeout_s) as smtp:
            if self.smtp_starttls:
                smtp.starttls()
            if self.smtp_user:
                smtp.login(self.smtp_user, self.smtp_password or "")
            refused = smtp.send_message(msg)
        if refused:
            raise DeliveryError(f"refused by the SMTP server: {refused}")
        return str(msg["Message-ID"])

    def webhook(self, url: str, document: dict[str, Any]) -> None:
        data = json.dumps(document, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(url, data=data, method="POST",
                                         headers={"Content-Type": "application/json; charset=utf-8"})
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 - configured URLs
            if response.status >= 400:
                raise DeliveryError(f"webhook {url} answered {response.status}")
