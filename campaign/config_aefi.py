"""The campaign file's `aefi:` block (issue 20, part 4): what makes an adverse event after immunization
serious, the investigation a serious case opens (its clock, its party, its ladder), what a cluster is, and
when a lot's case rate is flagged. Each rule says where it comes from (`source`): the national regulation
(`by: regulation`, Decree 104/2016: the directive only asks to record "phản ứng bất lợi sau tiêm chủng",
II.3) or the province's own decision (`by: province`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from campaign.config_directive import GeneratedDeadline, Source
from campaign.config_files import Strict


def _known_outcomes(v: list[str]) -> list[str]:
    from campaign.config_kinds import load_input_kinds

    known = set(load_input_kinds().enums["aefi_outcome"])
    if unknown := [o for o in v if o not in known]:
        raise ValueError(f"not outcomes of enums.aefi_outcome: {unknown}")
    return v


class AefiSeriousness(Strict):
    """A case is serious when ANY criterion holds: the district said so (`serious: yes`), its outcome is one
    of `outcomes`, its symptoms name one of `symptoms` (folded words: no diacritics, lowercase), or it
    belongs to a cluster."""
    outcomes: list[str] = Field(min_length=1)
    symptoms: list[str] = Field(min_length=1)
    source: Source

    @field_validator("outcomes")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        return _known_outcomes(v)

    @field_validator("symptoms")
    @classmethod
    def _folded(cls, v: list[str]) -> list[str]:
        from campaign.domain.text import fold

        if bad := [s for s in v if fold(s) != s]:
            raise ValueError(f"write the symptom words folded (no diacritics, lowercase): {bad}")
        return v


class AefiInvestigation(GeneratedDeadline):
    """The investigation report a serious case opens (a generated deliverable, `aefi_investigation:<case
    id>`): owed by the case's district within `hours` of the case reaching the province (the upload that
    brought it); `escalation` names a ladder of `escalation_ladders` whose first step tells the DoH at once."""
    hours: float = Field(gt=0)


class AefiCluster(Strict):
    """At least `min_cases` cases of one key (`facility_lot`: the same lot at the same facility; `lot`; or
    `facility`) whose onsets follow each other within `window_days`, counting only cases whose outcome is
    one of `outcomes` (a fever that is over is expected after any vaccine: 1-2% of doses; a cluster is
    about cases not resolved)."""
    min_cases: int = Field(ge=2)
    window_days: float = Field(gt=0)
    by: list[Literal["facility_lot", "lot", "facility"]] = Field(min_length=1)
    outcomes: list[str] = Field(min_length=1)
    source: Source

    @field_validator("outcomes")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        return _known_outcomes(v)


class AefiLotFlag(Strict):
    """A lot is flagged when its cases per 100,000 doses given pass `cases_per_100k`, or its serious cases
    pass `serious_per_100k`, once at least `min_doses` of it were given (a rate on a handful of doses says
    nothing)."""
    cases_per_100k: float = Field(gt=0)
    serious_per_100k: float = Field(gt=0)
    min_doses: int = Field(ge=1)
    source: Source


class AefiRules(Strict):
    seriousness: AefiSeriousness
    investigation: AefiInvestigation
    cluster: AefiCluster
    lot_flag: AefiLotFlag
