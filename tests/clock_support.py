"""Shared by the deadline and watch tests: moments of July 2021 written as a coordinator says them."""

from __future__ import annotations

import datetime as dt

from campaign.clock import TZ


def at(text: str) -> dt.datetime:
    """A local time in Gia Lai: 'DD/MM HH:MM' of 2021."""
    day, hm = text.split()
    d, m = (int(x) for x in day.split("/"))
    h, mi = (int(x) for x in hm.split(":"))
    return dt.datetime(2021, m, d, h, mi, tzinfo=TZ)
