"""Moving a deadline for one party or for all, without editing the campaign's files: a coordinator's
decision recorded with who, when and why (a `DeadlineExtension` row; never updated, the latest one for a
party wins: `campaign.deadlines.rules.deliverables`).

    target = extension_target(campaign, deadline, party)     # the checks (no database); ExtensionError
    record_extension(session, target, due_at=..., reason=..., by=..., at=...)   # the write
    extend_deadline(session, campaign, deadline, party, ...) # both

The party is a district (GSO code or name, `campaign.districts`), 'doh', or 'all' ('*'). A deadline owed
by the DoH is moved for the DoH (or all), one owed by districts or facilities for a district (or all).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from campaign import clock
from campaign.config import CampaignConfig
from campaign.deadlines.rules import DOH
from campaign.districts import DistrictError, resolve_district
from campaign.store.models import DeadlineExtension

ALL = "*"


class ExtensionError(ValueError):
    """An extension refused before anything is written; `str()` is the message shown to people."""


@dataclass(frozen=True)
class Target:
    deadline: str     # the deadline's id in the campaign config
    party: str        # a GSO district code, "doh" or "*" (every party of the deadline)


def party_code(campaign: CampaignConfig, party: str) -> str:
    """'all' or '*' -> "*", 'doh' -> "doh" (any case), else the district's GSO code; ExtensionError if none."""
    if party.lower() in ("all", ALL):
        return ALL
    if party.lower() == DOH:
        return DOH
    try:
        return resolve_district(party, campaign).code
    except DistrictError as exc:
        raise ExtensionError(str(exc) if exc.ambiguous else f"unknown party {party!r}") from exc


def extension_target(campaign: CampaignConfig, deadline: str, party: str) -> Target:
    """The deadline and party an extension moves, checked: the deadline exists, the party is known and owes
    it (a DoH deadline is owed by the DoH; the others by districts or their facilities)."""
    known = {d.id: d for d in campaign.deadlines}
    if (generated := _generated_target(campaign, deadline, party)) is not None:
        return generated
    if deadline not in known:
        raise ExtensionError(f"unknown deadline {deadline!r}; expected one of: {', '.join(known)}")
    code = party_code(campaign, party)
    owed_by = known[deadline].party
    if (code == DOH) != (owed_by == DOH) and code != ALL:
        raise ExtensionError(f"{deadline} is owed by {owed_by}, not by {party}")
    return Target(deadline, code)


def _generated_target(campaign: CampaignConfig, deadline: str, party: str) -> Target | None:
    """A generated deliverable (`<template>:<key>`, the template a `GeneratedDeadline` block of the campaign,
    e.g. `daily_results:2021-07-30`): its party is given as the board shows it (a facility code), or 'all'."""
    from campaign.config_directive import GeneratedDeadline

    template, sep, key = deadline.partition(":")
    if not sep or not isinstance(getattr(campaign, template, None), GeneratedDeadline):
        return None
    if not key or len(deadline) > 64:
        raise ExtensionError(f"{deadline!r}: expected {template}:<key>, at most 64 characters")
    code = ALL if party.lower() in ("all", ALL) else party.strip()
    if not code or len(code) > 32:
        raise ExtensionError(f"unknown party {party!r}")
    return Target(deadline, code)


def record_extension(session: Session, target: Target, *, due_at: dt.datetime, reason: str, by: str,
                     at: dt.datetime) -> DeadlineExtension:
    """Add the extension to the session's transaction (the caller commits); times aware, stored in UTC."""
    row = DeadlineExtension(deadline_id=target.deadline, party=target.party, due_at=clock.to_utc(due_at),
                            reason=reason, created_by=by, created_at=at)
    session.add(row)
    return row


def extend_deadline(session: Session, campaign: CampaignConfig, deadline: str, party: str, *, due_at: dt.datetime,
                    reason: str, by: str, at: dt.datetime) -> DeadlineExtension:
    """Check, then record, one extension."""
    return record_extension(session, extension_target(campaign, deadline, party), due_at=due_at, reason=reason,
                            by=by, at=at)
