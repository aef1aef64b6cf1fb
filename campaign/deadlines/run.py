"""The steps of the deadline watch (what `tasks/deadlines.py` calls): the board as of a moment, and the
escalations due written into the outbox. Each composes the store's reads, the rules and the words
(`present`); the outbox writes and delivers (`outbox.deliver` is the third step).

    board(session, campaign, now)                       -> one dict per (deadline, party), and what was sent
    escalate(session, campaign, now)                    -> the escalations written this time (outbox rows)
    escalate_now(engine, campaign, now)                 -> the same, in its own transaction (the flow's task)

Beside the config's deadlines, deliverables generated from data come from `PROVIDERS` (issue 20: a
facility's results of each session day, a district's AEFI investigation report of each serious case).
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from campaign.config import CampaignConfig
from campaign.deadlines import present, store
from campaign.deadlines.outbox import IMMEDIATE, Pending, Written, write
from campaign.deadlines.rules import (
    DOH,
    Deliverable,
    WorkingCalendar,
    completion,
    deliverables,
    extended,
    recipients,
    state_of,
    steps_due,
    steps_to_come,
)
from campaign.vocabulary import kind_label

Progress = list[tuple[Deliverable, dt.datetime | None, list[str]]]
Provider = Callable[[Session, CampaignConfig, dt.datetime], Progress]

# Deliverables generated from data (issue 20), beside the config's one-off deadlines: each entry is the
# import path of a provider `provide(session, campaign, now) -> [(Deliverable, completed_at | None,
# missing kinds or labels)]`. A generated deliverable's `deadline` is `<template>:<key>`
# (`rules.generated_id`), its `ladder` a ladder of `escalation_ladders`; the board, the watch and the
# exactly-once outbox (unique deadline, party, step) then treat it like any other. Extensions apply
# (`rules.extended`). Resolved when first used, so a provider may import this package.
PROVIDERS: tuple[str, ...] = (
    "campaign.daily_results.run.provide",          # a facility's results of each session day (20.2)
    "campaign.aefi.run.provide",                   # a district's investigation of each serious AEFI (20.4)
)


@functools.cache
def _provider(path: str) -> Provider:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def providers() -> list[Provider]:
    return [_provider(p) for p in PROVIDERS]


def _progress(session: Session, campaign: CampaignConfig, facilities: dict[str, tuple[str, str]],
              now: dt.datetime) -> Progress:
    """Every deliverable (extensions applied; `facilities`: the store's `facility_parties`), when it was
    complete and what is still missing, from what the database records: the config's deadlines, then
    every provider's generated deliverables as of `now`."""
    first, ready, reports = store.first_accepted(session), store.first_ready(session), store.first_submitted(session)
    exts = store.extensions(session)
    items = deliverables(campaign, exts, {f: d for f, (d, _n) in facilities.items()})
    out: Progress = [(item, *completion(item, first, ready, reports)) for item in items]
    for provide in providers():
        generated = provide(session, campaign, now)
        moved = extended([item for item, _d, _m in generated], exts)
        out += [(item, done, missing) for item, (_i, done, missing) in zip(moved, generated, strict=True)]
    return out


def board(session: Session, campaign: CampaignConfig, now: dt.datetime, *,
          real_now: dt.datetime | None = None) -> dict[str, Any]:
    """The deadlines summary (docs/contracts.md; `present.board_json`): `deliverables` [{deadline, party, state,
    due_at, ...}] and `escalations_sent` [{deadline, party, step, channel, sent_at (logical), delivered_at,
    status}]. Leases are in real time (`real_now`, default the clock), not the logical `now`."""
    calendar = WorkingCalendar.from_config(campaign)
    facilities = store.facility_parties(session, campaign, always=bool(PROVIDERS))
    rows = []
    for item, done_at, missing in _progress(session, campaign, facilities, now):
        upcoming = steps_to_come(item, campaign.escalation_ladders[item.ladder], done_at, now, calendar,
                                 count=campaign.working_time.count)
        rows.append(present.board_row(item, state_of(item, done_at, now), done_at, missing, upcoming, now))
    sent = store.escalations_sent(session)
    return present.board_json(campaign, now, rows, sent, real_now or dt.datetime.now(dt.UTC))


def due(session: Session, campaign: CampaignConfig, now: dt.datetime, done: set[tuple[str, str, str]]) -> list[Pending]:
    """Every step due at `now` not in `done`, composed (reads only)."""
    calendar = WorkingCalendar.from_config(campaign)
    facilities = store.facility_parties(session, campaign, always=bool(PROVIDERS))
    steps: list[Pending] = []
    for item, done_at, missing in _progress(session, campaign, facilities, now):
        ladder = campaign.escalation_ladders[item.ladder]
        due_steps = [d for d in steps_due(item, ladder, done_at, now, calendar, count=campaign.working_time.count)
                     if (item.deadline, item.party, d.step.step) not in done]
        if not due_steps:
            continue
        # what the messages of this deliverable say, read once for all its steps
        context = {"party_name": present.party_name(item.party, campaign, facilities),
                   "missing": [kind_label(k) for k in missing],   # readiness and report labels pass through
                   "feedback": present.feedback_pages(store.latest_feedback(session, item.party))
                   if item.party != DOH and item.party in campaign.district_codes else {},
                   "portal_page": present.portal_page(item)}
        for d in due_steps:
            subject, body, payload = present.compose(item, d.step.step, now=now, fires_at=d.fires_at, **context)
            steps.append(Pending(item.deadline, item.party, d.step.step, item.due_at, subject, body, payload,
                                 recipients(d.step, item.party, campaign, district=item.district)))
    return steps


def escalate(session: Session, campaign: CampaignConfig, now: dt.datetime) -> list[Written]:
    """Write every escalation due at `now` that was not written before, with its messages, in the
    caller's transaction (the caller commits; on SQLite it begins it IMMEDIATE). `escalate_now` is the
    same in its own transactions, holding the write lock only to write."""
    return write(session, due(session, campaign, now, store.escalations_written(session)), now)


def escalate_now(engine: Engine, campaign: CampaignConfig, now: dt.datetime) -> list[Written]:
    """`escalate`, committed: what is due is read and composed without a lock (usually nothing is new);
    only writing it takes the lock (PostgreSQL: an advisory lock; SQLite: BEGIN IMMEDIATE), so overlapping
    watches write one after the other, each briefly, and none fails with "database is locked"."""
    with Session(engine) as session:
        steps = due(session, campaign, now, store.escalations_written(session))
    if not steps:
        return []
    with Session(engine.execution_options(**IMMEDIATE)) as session, session.begin():
        return write(session, steps, now)
