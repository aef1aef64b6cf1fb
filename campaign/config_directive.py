"""The campaign file's parts that trace directive 1038/UBND-KGVX: its text, the source of each rule (the
directive's words or the province's own decision), the parties, the working time, the deadlines and their
escalation steps."""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from campaign.config_files import DIRECTIVE_TEXT_FILE, HHMM, Strict


def _plain(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).replace("*", "").replace("<", "").replace(">", "").split())


@functools.cache
def directive_text() -> str:
    """The directive's text (config/directive-1038-UBND-KGVX.txt), whitespace folded, for quote checks."""
    return _plain(DIRECTIVE_TEXT_FILE.read_text(encoding="utf-8"))


class Source(Strict):
    """Why a deadline, party or recipient exists: a line of directive 1038/UBND-KGVX (`by: directive`, with
    its section and its words), or the province's own decision (`by: province`, with why). In YAML a bare
    `source: province` is accepted; a directive source must quote the directive."""
    by: Literal["directive", "province", "regulation"]
    section: str | None = None     # the directive's section, e.g. "1", "3", "II.1" (the annex)
    quote: str | None = None       # the directive's words (Vietnamese, as written)
    note: str | None = None        # by: province: what the province decided and why
    # by: regulation: a national regulation the directive does not restate (e.g. "Nghị định 104/2016/NĐ-CP"),
    # named, with what it says in `note` (its words are not held here, so nothing is quoted as its text)
    regulation: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare(cls, v: Any) -> Any:
        return {"by": v} if isinstance(v, str) else v

    @model_validator(mode="after")
    def _cited(self) -> Source:
        if self.by == "directive" and not (self.section and self.quote and self.quote.strip()):
            raise ValueError("a directive source needs the section and the quoted line (`section:`, `quote:`)")
        if self.by == "province" and self.quote:
            raise ValueError("a province source quotes nothing of the directive: say why in `note:`")
        if self.by == "regulation" and not (self.regulation and self.note) or self.by != "regulation" and self.regulation:
            raise ValueError("a regulation source names the regulation (`regulation:`) and what it says (`note:`), "
                             "and quotes nothing of the directive")
        if self.by == "regulation" and self.quote:
            raise ValueError("a regulation source quotes nothing of the directive: say what it says in `note:`")
        if self.by == "directive":
            # words shown everywhere as the directive's must be its words: each fragment ("..." or "|"
            # between them) is found in its text
            text = directive_text()
            for fragment in re.split(r"\s*(?:\.\.\.|\|)\s*", self.quote or ""):
                if fragment.strip(" .;,:") and _plain(fragment.strip(" .;,:")) not in text:
                    raise ValueError(f"not the directive's words: {fragment.strip()!r}")
        return self

    @property
    def is_directive(self) -> bool:
        return self.by == "directive"

    def label(self, directive: str = "1038/UBND-KGVX") -> str:
        """How the source is shown (board, messages, reports), in Vietnamese."""
        if self.by == "regulation":
            return f"theo {self.regulation}: {self.note}"
        if self.by == "province":
            return "theo quyết định của tỉnh (Công văn " + directive + " không quy định)" + \
                (f": {self.note}" if self.note else "")
        return f"theo Công văn {directive}, mục {self.section}: “{self.quote}”"


class Contact(Strict):
    email: str | None = None
    webhook: str | None = None


class PartyTask(Strict):
    """What the directive asks of a party that owes no dated deliverable (shown on the board)."""
    task: str
    source: Source


class Party(Strict):
    name: str | None = None
    contacts: dict[str, Contact] = Field(default_factory=dict)
    source: Source                 # why the party is there (the directive's line, or the province's choice)
    tasks: list[PartyTask] = Field(default_factory=list)


class WorkingTime(Strict):
    office_hours: list[tuple[HHMM, HHMM]]
    count: Literal["calendar", "working"] = "calendar"
    extra_days_off: list[dt.date] = Field(default_factory=list)
    extra_working_days: list[dt.date] = Field(default_factory=list)


class Requirement(Strict):
    """What closes a deliverable: accepted submissions of these kinds, a readiness status reached (the
    district's, by the readiness flow), or a report submitted."""
    kinds: list[str] = Field(default_factory=list)
    readiness: Literal["ready", "ready_with_warnings"] | None = None
    report: Literal["facility", "district", "province"] | None = None

    @model_validator(mode="after")
    def _something(self) -> Requirement:
        if not (self.kinds or self.readiness or self.report):
            raise ValueError("a deadline requires kinds, a readiness status or a report")
        return self


class Deadline(Strict):
    id: str
    name: str
    party: Literal["districts", "doh", "facilities"]
    opens_at: dt.datetime
    due_at: dt.datetime
    requires: Requirement
    escalation: str
    source: Source                 # the directive's line that sets the date, or `province` (its own decision)

    @field_validator("opens_at", "due_at")
    @classmethod
    def _aware(cls, v: dt.datetime) -> dt.datetime:
        if v.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2021-07-29T00:00:00+07:00")
        return v

    @model_validator(mode="after")
    def _order(self) -> Deadline:
        if self.opens_at >= self.due_at:
            raise ValueError("opens_at must be before due_at")
        # what each kind of party can deliver: a facility sends its plan (a report), never a district's files;
        # the DoH sends the province's report
        if self.party == "facilities" and (self.requires.kinds or self.requires.report not in (None, "facility")):
            raise ValueError("a deadline owed by facilities can only require `report: facility`")
        if self.party == "doh" and self.requires.report not in (None, "province"):
            raise ValueError("a deadline owed by the DoH can only require `report: province`")
        return self


class StepWhen(Strict):
    """When a step fires, exactly one of: `at_opening: true` (the moment the deliverable opens, whatever its
    window: a notice owed at once, e.g. the DoH told of a serious AEFI), a share of the window gone, N
    (working) hours before the due time, N hours after it."""
    at_opening: Literal[True] | None = None
    window_elapsed: float | None = Field(default=None, gt=0, le=1)
    hours_before_due: float | None = Field(default=None, gt=0)
    hours_after_due: float | None = Field(default=None, ge=0)
    working_hours_before_due: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _exactly_one(self) -> StepWhen:
        given = [k for k, v in self.model_dump().items() if v is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one trigger, got {given or 'none'}")
        return self


class EscalationStep(Strict):
    step: str
    when: StepWhen
    to: list[str] = Field(min_length=1)
    channels: list[Literal["email", "webhook"]] = Field(min_length=1)


class GeneratedDeadline(Strict):
    """A deliverable generated from data (issue 20), one per (party, key), e.g. a facility's results of
    each session day it held (`daily_results`): what it is called, which ladder chases it, why it exists.
    The deliverables themselves come from a provider (`campaign.deadlines.run.PROVIDERS`)."""
    name: str
    escalation: str
    source: Source


class DailyResultsRule(GeneratedDeadline):
    """Each facility that held a planned session owes its results (an accepted `vaccinations` submission
    with rows of that facility and day) by `cut_off` local time, `days_after` days after the session day;
    the deliverable opens when the day's first session part starts."""
    kinds: list[str] = Field(default_factory=lambda: ["vaccinations"], min_length=1)
    cut_off: HHMM = "20:00"
    days_after: int = Field(default=0, ge=0, le=7)
