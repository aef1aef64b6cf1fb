"""The one logical clock: CAMPAIGN_NOW is "now" for intake, reports, the deadline watch and the demo.

Inside the domain times are pendulum DateTimes; at the edges (database, Prefect) they become stdlib
datetimes. Stored instants are UTC; users see Asia/Ho_Chi_Minh.
"""

from __future__ import annotations

import datetime as dt
import os

import pendulum

TZ_NAME = "Asia/Ho_Chi_Minh"
TZ = pendulum.timezone(TZ_NAME)
DEMO_NOW = "2021-07-28T08:00:00+07:00"


class ClockError(ValueError):
    pass


def parse_instant(text: str) -> pendulum.DateTime:
    """ISO 8601 instant; a value without an offset is read in Asia/Ho_Chi_Minh (+07:00)."""
    try:
        parsed = pendulum.parse(text.strip(), tz=TZ, strict=False)
    except (ValueError, pendulum.parsing.exceptions.ParserError) as exc:
        raise ClockError(f"not an ISO 8601 time: {text!r} ({exc})") from None
    if not isinstance(parsed, pendulum.DateTime):
        if isinstance(parsed, pendulum.Date):
            return pendulum.datetime(parsed.year, parsed.month, parsed.day, tz=TZ)
        raise ClockError(f"not a date and time: {text!r}")
    return parsed


def now(override: str | None = None) -> pendulum.DateTime:
    """The logical now: `override`, else CAMPAIGN_NOW, else the real clock (always timezone-aware)."""
    text = override if override is not None else os.environ.get("CAMPAIGN_NOW")
    if text:
        return parse_instant(text)
    return pendulum.now(TZ)


def to_utc(moment: dt.datetime) -> dt.datetime:
    """A stdlib UTC datetime for storage."""
    if moment.tzinfo is None:
        raise ClockError("naive datetime: give an offset")
    return pendulum.instance(moment).in_timezone("UTC").naive().replace(tzinfo=dt.UTC)


def local(moment: dt.datetime) -> pendulum.DateTime:
    if moment.tzinfo is None:  # SQLite gives naive datetimes back: they were stored as UTC
        moment = moment.replace(tzinfo=dt.UTC)
    return pendulum.instance(moment).in_timezone(TZ)


def show_date(d: dt.date) -> str:
    return d.strftime("%d/%m/%Y")


def show_time(moment: dt.datetime) -> str:
    return local(moment).strftime("%d/%m/%Y %H:%M")
