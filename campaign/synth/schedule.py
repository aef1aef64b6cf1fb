"""When each district uploads what: most on time, a few at the last minute or late, one kind never, one
rejected first upload; each upload against its kind's deadline."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from campaign.config import CampaignConfig
from campaign.synth.world.build import TZ

# The kinds each district sends once before the campaign (events follow the campaign days instead).
SNAPSHOT_KINDS = ["facilities", "infrastructure", "training", "communication", "staff", "target_list", "vaccine_stock"]


def local_time(day: dt.date, minutes: int) -> dt.datetime:
    """`minutes` after midnight of `day`, in Gia Lai."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=TZ) + dt.timedelta(minutes=int(minutes))


def _office_time(rng: np.random.Generator, first: dt.date, last: dt.date) -> dt.datetime:
    days = (last - first).days + 1
    day = first + dt.timedelta(days=int(rng.integers(0, days)))
    if rng.random() < 0.1:  # some upload in the evening
        return local_time(day, int(rng.integers(19 * 60, 22 * 60 + 30)))
    return local_time(day, int(rng.integers(7 * 60 + 30, 17 * 60)))


@dataclass
class Behaviour:
    last_minute: list[str]
    late: list[str]
    missing: tuple[str, str]
    rejected: str
    per_facility_staff: list[str]
    repeat_events: list[str]
    unknown_facility: list[str]


def plan_behaviour(rng: np.random.Generator, districts: list[str]) -> Behaviour:
    perm = [str(x) for x in rng.permutation(districts)]
    prep_kinds = ["infrastructure", "communication", "training"]
    return Behaviour(last_minute=sorted(perm[0:3]), late=sorted(perm[3:5]),
                     missing=(perm[5], prep_kinds[int(rng.integers(0, len(prep_kinds)))]), rejected=perm[6],
                     per_facility_staff=sorted(perm[7:9]), repeat_events=sorted(perm[9:11]),
                     unknown_facility=sorted(perm[11:14]))


def deadlines_by_kind(campaign: CampaignConfig) -> dict[str, tuple[str, dt.datetime]]:
    out: dict[str, tuple[str, dt.datetime]] = {}
    for d in campaign.deadlines:
        for k in d.requires.kinds:
            out[k] = (d.id, d.due_at)
    return out


def snapshot_times(rng: np.random.Generator, b: Behaviour, district: str) -> dict[str, tuple[dt.datetime, str]]:
    out: dict[str, tuple[dt.datetime, str]] = {}
    for kind in SNAPSHOT_KINDS:
        out[kind] = (_office_time(rng, dt.date(2021, 7, 22), dt.date(2021, 7, 27)), "on_time")
    if district in b.last_minute:
        kinds = ["target_list", "staff", "vaccine_stock", "training"]
        for kind in kinds[: int(rng.integers(2, 4))]:
            out[kind] = (local_time(dt.date(2021, 7, 28), int(rng.integers(8 * 60 + 5, 23 * 60 + 30))), "last_minute")
    if district in b.late:
        kinds = ["target_list", "communication", "staff", "infrastructure"]
        for kind in kinds[: int(rng.integers(2, 5))]:
            day = dt.date(2021, 7, 29) + dt.timedelta(days=int(rng.integers(0, 2)))
            out[kind] = (local_time(day, int(rng.integers(7 * 60, 22 * 60))), "late")
    return out
