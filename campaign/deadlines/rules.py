"""Deadlines as data: what each party owes, by when, its state at any moment, and which escalation steps
are due (pure functions; the database is `store`, the words `present`, the sending `outbox` and `notify`).

    board = deliverables(campaign, extensions, facilities)      # one per (deadline, party)
    completion(d, first, ready, reports)                        # (when it was complete, what is missing)
    state_of(d, completed_at, now)                              # done_on_time | done_late | due | overdue
    steps_due(d, ladder, completed_at, now, calendar)           # the steps to have sent by `now`
    recipients(step, party, campaign)                           # who a step reaches, on which channel

Times are aware datetimes; they are computed in Asia/Ho_Chi_Minh and compared as instants.

A step fires at its trigger time (the opening itself, a share of the window gone, N hours or N working hours before the
due time, N hours after it) and is due at `now` when that time has passed and the deliverable was
neither done by then nor is done now. A watch that was not running catches up: every step whose time
has passed is due (each once: the outbox's unique key is (deadline, party, step)).

Working time: office hours (config `working_time.office_hours`) on working days: Monday to Friday, minus
Vietnam's public holidays and days off in lieu (the `holidays` package), minus the province's extra days
off, plus its declared working days (e.g. a Saturday).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from campaign.clock import TZ
from campaign.config import CampaignConfig
from campaign.config_directive import EscalationStep
from campaign.vocabulary import level_label, status_label

DONE_ON_TIME, DONE_LATE, DUE, OVERDUE = "done_on_time", "done_late", "due", "overdue"
DOH = "doh"


@dataclass(frozen=True)
class Deliverable:
    deadline: str
    name: str
    party: str                      # GSO district code, "doh", or a facility code (its district in `district`)
    opens_at: dt.datetime
    due_at: dt.datetime             # after any extension
    kinds: tuple[str, ...]          # submission kinds it requires (empty for a report)
    report: str | None              # "district" | "province": a report it requires
    ladder: str
    readiness: str | None = None    # "ready" | "ready_with_warnings": a readiness status it requires
    original_due_at: dt.datetime | None = None   # set when an extension moved it
    extension_reason: str | None = None
    source: str = "directive"       # "directive": a line of the directive sets it | "province": its own decision
    source_text: str = ""           # that line, or the province's note (how the board and messages say it)
    district: str | None = None     # the district of a facility party (its health centre collects the plan)


@dataclass(frozen=True)
class Extension:
    deadline: str
    party: str                      # a district code, "doh" or "*" (every party of the deadline)
    due_at: dt.datetime
    reason: str
    by: str
    at: dt.datetime


def deliverables(campaign: CampaignConfig, extensions: Iterable[Extension] = (),
                 facilities: Mapping[str, str] | None = None) -> list[Deliverable]:
    """Every (deadline, party) of the campaign; the latest extension for a party (else for "*") wins.
    `facilities` (facility code -> district code, the accepted facility lists) are the parties of a
    deadline owed by facilities; without them such a deadline has no party yet."""
    latest = _latest_extensions(extensions)
    out = []
    for d in campaign.deadlines:
        if d.party == "facilities":
            parties = [(f, district) for f, district in sorted((facilities or {}).items())
                       if district in campaign.district_codes]
        else:
            parties = [(p, p if p != DOH else None) for p in (campaign.district_codes if d.party == "districts"
                                                              else [DOH])]
        by, text = d.source.by, d.source.label(campaign.campaign.directive)
        for party, district in parties:
            item = Deliverable(d.id, d.name, party, d.opens_at, d.due_at, tuple(d.requires.kinds), d.requires.report,
                               d.escalation, readiness=d.requires.readiness, source=by, source_text=text,
                               district=district)
            out.append(_extend(item, latest))
    return out


def _latest_extensions(extensions: Iterable[Extension]) -> dict[tuple[str, str], Extension]:
    latest: dict[tuple[str, str], Extension] = {}
    for e in sorted(extensions, key=lambda e: e.at):
        latest[(e.deadline, e.party)] = e
    return latest


def _extend(item: Deliverable, latest: Mapping[tuple[str, str], Extension]) -> Deliverable:
    ext = latest.get((item.deadline, item.party)) or latest.get((item.deadline, "*"))
    if ext is None:
        return item
    return replace(item, due_at=ext.due_at, original_due_at=item.due_at, extension_reason=ext.reason)


def extended(items: Iterable[Deliverable], extensions: Iterable[Extension] = ()) -> list[Deliverable]:
    """Generated deliverables (a provider's, `campaign.deadlines.run.PROVIDERS`) with the same extension
    rule as the config's: the latest for (deadline id, party), else for (deadline id, "*")."""
    latest = _latest_extensions(extensions)
    return [_extend(item, latest) for item in items]


def generated_id(template: str, key: str) -> str:
    """A generated deliverable's deadline id, `<template>:<key>` (the outbox keeps 64 characters)."""
    out = f"{template}:{key}"
    if len(out) > 64 or ":" in template or not key:
        raise ValueError(f"a generated deadline id is <template>:<key> of at most 64 characters, not {out!r}")
    return out


def state_of(item: Deliverable, completed_at: dt.datetime | None, now: dt.datetime) -> str:
    """done_on_time / done_late (completed by `now`, before or after the due time), else due / overdue."""
    if completed_at is not None and completed_at <= now:
        return DONE_ON_TIME if completed_at < item.due_at else DONE_LATE
    return DUE if now < item.due_at else OVERDUE


# ---------------------------------------------------------------------------------------------------------
# Working time
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkingCalendar:
    office_hours: tuple[tuple[dt.time, dt.time], ...]
    extra_days_off: frozenset[dt.date] = frozenset()
    extra_working_days: frozenset[dt.date] = frozenset()

    @classmethod
    def from_config(cls, campaign: CampaignConfig) -> WorkingCalendar:
        w = campaign.working_time
        hours = tuple((dt.time.fromisoformat(a), dt.time.fromisoformat(b)) for a, b in w.office_hours)
        return cls(hours, frozenset(w.extra_days_off), frozenset(w.extra_working_days))

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.extra_working_days:
            return True
        if day in self.extra_days_off or day.weekday() >= 5:
            return False
        return day not in _vn_holidays(day.year)

    def back(self, instant: dt.datetime, hours: float) -> dt.datetime:
        """The instant `hours` of office time before `instant` (Asia/Ho_Chi_Minh office hours)."""
        left = dt.timedelta(hours=hours)
        cursor = instant.astimezone(TZ)
        day = cursor.date()
        for _ in range(3660):   # ten years of days: a bound, never reached by a sane rule
            if self.is_working_day(day):
                for start, end in reversed(self.office_hours):
                    a = dt.datetime.combine(day, start, TZ)
                    b = min(dt.datetime.combine(day, end, TZ), cursor)
                    if b <= a:
                        continue
                    if b - a >= left:
                        return b - left
                    left -= b - a
            day -= dt.timedelta(days=1)
            cursor = dt.datetime.combine(day, dt.time.max, TZ)
        raise ValueError(f"no {hours} working hours in the ten years before {instant}")

    def between(self, a: dt.datetime, b: dt.datetime) -> float:
        """Office hours between two instants (0 when b <= a)."""
        if b <= a:
            return 0.0
        total = dt.timedelta()
        day, last = a.astimezone(TZ).date(), b.astimezone(TZ).date()
        while day <= last:
            if self.is_working_day(day):
                for start, end in self.office_hours:
                    s = max(dt.datetime.combine(day, start, TZ), a)
                    e = min(dt.datetime.combine(day, end, TZ), b)
                    if e > s:
                        total += e - s
            day += dt.timedelta(days=1)
        return total.total_seconds() / 3600


@functools.cache
def _vn_holidays(year: int) -> frozenset[dt.date]:
    import holidays

    return frozenset(holidays.country_holidays("VN", years=year))


# ---------------------------------------------------------------------------------------------------------
# Escalation steps
# ---------------------------------------------------------------------------------------------------------


def fire_at(item: Deliverable, step: EscalationStep, calendar: WorkingCalendar, *, count: str = "calendar") -> dt.datetime:
    """When a step of the ladder fires for this deliverable. `count` ("calendar" | "working") says how
    `hours_before_due` is counted (config `working_time.count`); `working_hours_before_due` is always
    office time."""
    w = step.when
    if w.at_opening:
        return item.opens_at
    if w.window_elapsed is not None:
        return item.opens_at + (item.due_at - item.opens_at) * w.window_elapsed
    if w.working_hours_before_due is not None:
        return max(calendar.back(item.due_at, w.working_hours_before_due), item.opens_at)
    if w.hours_before_due is not None:
        if count == "working":
            return max(calendar.back(item.due_at, w.hours_before_due), item.opens_at)
        return max(item.due_at - dt.timedelta(hours=w.hours_before_due), item.opens_at)
    assert w.hours_after_due is not None
    return item.due_at + dt.timedelta(hours=w.hours_after_due)


@dataclass(frozen=True)
class DueStep:
    deliverable: Deliverable
    step: EscalationStep
    fires_at: dt.datetime


def steps_due(item: Deliverable, ladder: Iterable[EscalationStep], completed_at: dt.datetime | None,
              now: dt.datetime, calendar: WorkingCalendar, *, count: str = "calendar") -> list[DueStep]:
    """The ladder's steps whose time has come by `now`, in firing order: every reminder and overdue step
    while the deliverable is still not done (now, nor when the step fired), and a step `at_opening` always,
    done or not: it is the notice that something opened (a serious AEFI case to the DoH), not a reminder,
    so a deliverable completed before the watch first ran still sends it (once: the watch writes a step of
    a deliverable and party once)."""
    done = completed_at is not None and completed_at <= now
    out = [DueStep(item, s, t) for s in ladder if (not done or s.when.at_opening)
           and (t := fire_at(item, s, calendar, count=count)) <= now]
    return sorted(out, key=lambda d: d.fires_at)


def steps_to_come(item: Deliverable, ladder: Iterable[EscalationStep], completed_at: dt.datetime | None,
                  now: dt.datetime, calendar: WorkingCalendar, *, count: str = "calendar") -> list[tuple[dt.datetime, str]]:
    """(when, step) of the ladder's steps still to fire after `now`, soonest first; none once it is done."""
    if completed_at is not None and completed_at <= now:
        return []
    return sorted((t, s.step) for s in ladder if (t := fire_at(item, s, calendar, count=count)) > now)


# ---------------------------------------------------------------------------------------------------------
# Recipients
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    role: str            # e.g. "health_centre", "doh.director"
    channel: str         # email | webhook
    address: str         # an e-mail address or a URL


def recipients(step: EscalationStep, party: str, campaign: CampaignConfig, *,
               district: str | None = None) -> list[Recipient]:
    """Each `to` entry of the step: a contact of the party's own (district: `district_default` with
    {code}) or `<party>.<contact>` of `parties`; each of the step's channels the contact has an address for.
    A facility party (`district` given) is reached through its district's contacts (its health centre)."""
    out: list[Recipient] = []
    if district is not None and party != DOH:
        party = district
    for who in step.to:
        if "." in who:
            party_key, contact_key = who.split(".", 1)
            contact = campaign.parties[party_key].contacts.get(contact_key)
        else:
            source = campaign.parties["district_default"] if party != DOH else campaign.parties[DOH]
            contact = source.contacts.get(who)
        if contact is None:
            raise KeyError(f"escalation step {step.step}: no contact {who!r} in parties")
        for channel in step.channels:
            address = getattr(contact, channel, None)
            if address:
                out.append(Recipient(who, channel, str(address).replace("{code}", party)))
    return out


# ---------------------------------------------------------------------------------------------------------
# Completion
# ---------------------------------------------------------------------------------------------------------


READINESS_REQUIRED = ("ready", "ready_with_warnings")   # the statuses a deadline may require


def completion(item: Deliverable, first: dict[tuple[str, str], dt.datetime],
               ready: dict[tuple[str, str], dt.datetime] | None = None,
               reports: dict[tuple[str, str], dt.datetime] | None = None) -> tuple[dt.datetime | None, list[str]]:
    """(when the deliverable was complete, what is still missing, as kinds or labels): the latest of its
    required kinds' first acceptance, the readiness reached, and the report's submission. `first`, `ready`
    and `reports` are the store's `first_accepted`, `first_ready` and `first_submitted`."""
    times = [first.get((item.party, k)) for k in item.kinds]
    missing = [k for k, t in zip(item.kinds, times, strict=True) if t is None]
    if item.readiness is not None:
        when = (ready or {}).get((item.party, item.readiness))
        times.append(when)
        if when is None:
            missing.append(f"mức sẵn sàng: {status_label(item.readiness, capitalized=False)}")
    if item.report is not None:
        when = (reports or {}).get((item.party, item.report))
        times.append(when)
        if when is None:
            missing.append(f"báo cáo ({level_label(item.report, form='report')}) đã duyệt và gửi")
    if not times:
        return None, missing
    return (None if missing else max(times)), missing  # type: ignore[type-var]
