"""The campaign file under `config/` (e.g. `gia_lai_2021.yaml`): the directive as data (province, deadlines,
ladders, teams, products, rules of each checklist item), typed (`CampaignConfig`) and validated at start
(`load_campaign`) so that a bad edit fails loudly with the file, the key and the reason.

Its parts that trace the directive (sources, parties, deadlines, escalation steps) are in
`campaign.config_directive`; the other configuration files have their own modules (`campaign.config_kinds`,
`campaign.config_reasons`); where the files are and how one is read: `campaign.config_files`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from campaign.config_aefi import AefiRules
from campaign.config_directive import DailyResultsRule, Deadline, EscalationStep, Party, Source, WorkingTime
from campaign.config_files import DEFAULT_CAMPAIGN_FILE, HHMM, Strict, validate_file
from campaign.config_kinds import load_input_kinds


class CampaignInfo(Strict):
    id: str
    name: str
    directive: str
    directive_date: dt.date
    annex_date: dt.date
    timezone: str = "Asia/Ho_Chi_Minh"
    campaign_date: dt.date
    min_age_years: int = Field(ge=0, le=120)


class Province(Strict):
    code: str = Field(pattern=r"^\d{2}$")
    name: str
    districts: list[Annotated[str, Field(pattern=r"^\d{3}$")]] = Field(min_length=1)


class SessionTime(Strict):
    start: HHMM
    end: HHMM


class Teams(Strict):
    roles: dict[str, int]
    max_team_age_days: int = Field(ge=0)
    sessions: dict[str, SessionTime]


class Capacity(Strict):
    people_per_table_per_session: int = Field(gt=0)
    observation_minutes: int = Field(ge=0)


class PerUnit(Strict):
    per_table: int = Field(ge=0)
    per_site: int = Field(ge=0)
    # required: a missing item blocks the facility; if_available: the directive's "(nếu có)" (II.1, QR
    # scanners): a missing item is only a warning
    level: Literal["required", "if_available"] = "required"


class ChannelGroup(Strict):
    """Channels that count as one of the directive's channels (e.g. the grassroots information system:
    loudspeakers and commune radio); a `required` group must have been used."""
    channels: list[str] = Field(min_length=1)
    required: bool = False


class CommunicationRules(Strict):
    required_messages: list[str] = Field(min_length=1)
    message_covers: dict[str, list[str]] = Field(default_factory=dict)
    channel_groups: dict[str, ChannelGroup] = Field(min_length=1)
    severity: Literal["blocking", "warning"] = "blocking"

    @model_validator(mode="after")
    def _groups(self) -> CommunicationRules:
        if not any(g.required for g in self.channel_groups.values()):
            raise ValueError("channel_groups: no group is required (the directive's grassroots information "
                             "system is what a district must use)")
        listed = [c for g in self.channel_groups.values() for c in g.channels]
        if twice := sorted({c for c in listed if listed.count(c) > 1}):
            raise ValueError(f"channel_groups: {twice} are in more than one group")
        return self


class ReadinessRules(Strict):
    communication: CommunicationRules
    owners: dict[Literal["infrastructure", "training", "teams", "communication"], Literal["facility", "district"]]
    stale_check_days_ahead: int = Field(default=1, ge=0)
    # parties (keys of `parties`) the directive has work with the owner on a dimension (section 4: Viettel
    # trains the facilities with the DoH and the health centres)
    partners: dict[Literal["infrastructure", "training", "teams", "communication"], list[str]] = Field(
        default_factory=dict)


class VaccineProduct(Strict):
    doses_per_vial: int = Field(gt=0)
    interval_days: tuple[int, int]
    open_vial_hours: float = Field(gt=0)
    doses: int = 2
    unconfirmed: bool = False


class IntakeRules(Strict):
    max_rejected_share: float = Field(gt=0, le=1)
    max_file_mb: float = Field(gt=0)
    max_rows: int = Field(gt=0)


class LinkageTraining(Strict):
    u_max_pairs: float = Field(default=5e6, gt=0)
    em_max_pairs: float = Field(default=2e6, gt=0)
    seed: int = 2021
    m_floor: float = Field(default=1e-3, gt=0, lt=1)


class MasterListRules(Strict):
    """The master target list: thresholds of the record linkage, priorities, person ids."""

    match_threshold: float = Field(default=0.99, gt=0, le=1)
    review_threshold: float = Field(default=0.5, gt=0, le=1)
    priority_order: list[int] = Field(default_factory=lambda: list(range(1, 17)))
    age_group: int = 9
    age_group_min_age: int = Field(default=65, ge=0, le=120)
    person_id_prefix: str = Field(default="GL", pattern=r"^[A-Z]{1,4}$")
    training: LinkageTraining = Field(default_factory=LinkageTraining)
    # Where Splink runs (issue 21): in-process DuckDB, or Spark (the master URL and its directory are
    # settings: CAMPAIGN_SPARK_MASTER, CAMPAIGN_SPARK_DIR). The model and the rules are the same on both.
    engine: Literal["duckdb", "spark"] = "duckdb"

    @model_validator(mode="after")
    def _ordered(self) -> MasterListRules:
        if self.review_threshold > self.match_threshold:
            raise ValueError("review_threshold must not exceed match_threshold")
        if sorted(self.priority_order) != list(range(1, 17)):
            raise ValueError("priority_order must list each priority group 1..16 once")
        if self.age_group not in self.priority_order:
            raise ValueError("age_group must be a priority group")
        return self


class PlanningRules(Strict):
    """Session planning: what `teams`, `capacity` and `vaccine_products` do not already say."""

    standby_per_session: int = Field(default=10, ge=0)
    standing_teams: bool = True        # a facility's latest complete roster stands for sessions without one
    reserve_dose2: bool = True         # a dose 1 whose dose 2 is due inside the plan holds a dose back for it
    results_grace_days: int = Field(default=2, ge=0)   # invited this recently: wait for the result upload


class Responsibility(Strict):
    unit: str
    task: str


class ReportRecipient(Strict):
    """An address a submitted report goes to, and why (the directive's line, or the province's choice)."""
    address: str
    source: Source


class ReportRules(Strict):
    """The campaign report (issue 8): who receives it and who is responsible for what."""

    # e-mail recipients of a submitted report, per level; "{code}" is the unit's code (district GSO code),
    # "{district}" the district of a facility
    recipients: dict[Literal["province", "district", "facility"], list[ReportRecipient]] = Field(default_factory=dict)

    @field_validator("recipients")
    @classmethod
    def _someone(cls, v: dict[str, list[Any]]) -> dict[str, list[Any]]:
        if empty := sorted(level for level, rs in v.items() if not rs):
            raise ValueError(f"recipients: no address for {empty}: a report must go to someone")
        return v
    responsibilities: list[Responsibility] = Field(default_factory=list)


class CampaignConfig(Strict):
    campaign: CampaignInfo
    province: Province
    parties: dict[str, Party]
    working_time: WorkingTime
    deadlines: list[Deadline]
    escalation_ladders: dict[str, list[EscalationStep]]
    teams: Teams
    capacity: Capacity
    infrastructure_rules: dict[Literal["computers", "qr_scanners", "printers", "internet_lines"], PerUnit]
    readiness: ReadinessRules
    vaccine_products: dict[str, VaccineProduct]
    priority_groups: dict[int, str]
    outbreak_communes: list[Annotated[str, Field(pattern=r"^\d{5}$")]] = Field(default_factory=list)
    intake: IntakeRules
    master_list: MasterListRules = Field(default_factory=MasterListRules)
    planning: PlanningRules = Field(default_factory=PlanningRules)
    reports: ReportRules = Field(default_factory=ReportRules)
    aefi: AefiRules | None = None   # issue 20.4 (campaign.config_aefi): no block, no AEFI chasing
    daily_results: DailyResultsRule | None = None      # issue 20.2: a facility's results of each session day

    @model_validator(mode="after")
    def _cross_references(self) -> CampaignConfig:
        for d in self.deadlines:
            if d.escalation not in self.escalation_ladders:
                raise ValueError(f"deadline {d.id}: escalation ladder {d.escalation!r} is not defined")
        ids = [d.id for d in self.deadlines]
        if len(ids) != len(set(ids)):
            raise ValueError("deadline ids must be unique")
        for d in self.deadlines:
            # a date the directive does not set must not be escalated in its name: not to the provincial
            # steering committee the directive reports to
            if not d.source.is_directive:
                reach = [who for s in self.escalation_ladders[d.escalation] for who in s.to
                         if who.split(".", 1)[0] == "provincial_committee"]
                if reach:
                    raise ValueError(f"deadline {d.id} is the province's own decision (source: province): its "
                                     f"ladder {d.escalation!r} must not escalate to {sorted(set(reach))} in the "
                                     "directive's name")
        for dim, partners in self.readiness.partners.items():
            unknown = [p for p in partners if p not in self.parties]
            if unknown:
                raise ValueError(f"readiness.partners.{dim}: {unknown} are not parties of `parties`")
        for ladder, steps in self.escalation_ladders.items():
            for step in steps:
                for who in step.to:
                    party, _, contact = who.rpartition(".")
                    holders = [party] if party else ["district_default", "doh"]
                    if party and party not in self.parties:
                        continue   # said below
                    if not any(contact in self.parties[h].contacts for h in holders if h in self.parties):
                        raise ValueError(f"escalation_ladders.{ladder}: step {step.step!r} names {who!r}, which "
                                         "is no contact of `parties`")
        for who in {w.split(".", 1)[0] for steps in self.escalation_ladders.values() for s in steps for w in s.to
                    if "." in w}:
            if who not in self.parties:
                raise ValueError(f"escalation_ladders: {who!r} is not a party of `parties`")
        enums = load_input_kinds().enums
        roles = set(enums["team_role"])
        if unknown := sorted(set(self.teams.roles) - roles):
            raise ValueError(f"teams.roles: {unknown} are not team roles of input_kinds.yaml ({sorted(roles)})")
        comm = self.readiness.communication
        for key, values, enum in (("required_messages", comm.required_messages, "comm_message"),
                                  ("channel_groups", [c for g in comm.channel_groups.values() for c in g.channels],
                                   "comm_channel"),
                                  ("message_covers", [*comm.message_covers, *sum(comm.message_covers.values(), [])],
                                   "comm_message")):
            if unknown := sorted(set(values) - set(enums[enum])):
                raise ValueError(f"readiness.communication.{key}: {unknown} are not values of enum {enum}")
        if unknown := sorted(set(self.teams.sessions) - set(enums["session_part"])):
            raise ValueError(f"teams.sessions: {unknown} are not values of enum session_part (input_kinds.yaml)")
        if len(set(self.province.districts)) != len(self.province.districts):
            raise ValueError("province.districts lists a district twice")
        self._generated_ladders()
        return self

    def _generated_ladders(self) -> None:
        """A generated deadline's ladder exists, and one the province set itself never escalates to the
        provincial steering committee in the directive's name."""
        for key in ("daily_results", "aefi"):
            rule = getattr(self, key)
            if key == "aefi" and rule is not None:   # issue 20.4: the serious case's investigation report
                rule, key = rule.investigation, "aefi.investigation"
            if rule is None:
                continue
            if rule.escalation not in self.escalation_ladders:
                raise ValueError(f"{key}: escalation ladder {rule.escalation!r} is not defined")
            if key == "aefi.investigation":
                self._aefi_notice_at_opening(rule)
            if not rule.source.is_directive and any(
                    who.split(".", 1)[0] == "provincial_committee" for s in self.escalation_ladders[rule.escalation]
                    for who in s.to):
                raise ValueError(f"{key} is the province's own decision: its ladder must not escalate to the "
                                 "provincial steering committee in the directive's name")

    def _aefi_notice_at_opening(self, rule: Any) -> None:
        """A serious AEFI is told to the DoH AT ONCE (Decree 104/2016): the investigation's ladder has a step
        `when: {at_opening: true}`, and no step counts back from the due time by as much as the whole window
        (that would be "at opening" only while the window keeps its length: a longer window would delay it)."""
        steps = self.escalation_ladders[rule.escalation]
        if not any(s.when.at_opening for s in steps):
            raise ValueError(f"aefi.investigation: ladder {rule.escalation!r} needs a step `when: {{at_opening: true}}` "
                             "(the DoH is told of a serious case at once, whatever the investigation's window)")
        for s in steps:
            back = s.when.hours_before_due or s.when.working_hours_before_due
            if back is not None and back >= rule.hours:
                raise ValueError(f"aefi.investigation: step {s.step!r} of {rule.escalation!r} fires {back:g} hours "
                                 f"before the due time, the whole {rule.hours:g}-hour window or more: say "
                                 "`when: {at_opening: true}` for a notice at opening")

    @property
    def district_codes(self) -> list[str]:
        return list(self.province.districts)


def load_campaign(path: str | Path | None = None) -> CampaignConfig:
    return validate_file(CampaignConfig, Path(path) if path else DEFAULT_CAMPAIGN_FILE)
