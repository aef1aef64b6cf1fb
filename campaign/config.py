"""Typed loader for the campaign's configuration files under `config/`.

Three files, each validated at start so that a bad edit fails loudly with the file, the key and the reason:
- the campaign YAML (the directive as data: province, deadlines, ladders, teams, products...),
- `input_kinds.yaml` (one column specification per input kind, the single source for templates,
  store tables, reader aliases and GX suites),
- `reasons.yaml` (the reason-code catalogue with severities and Vietnamese messages).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "config"
DEFAULT_CAMPAIGN_FILE = CONFIG_DIR / "gia_lai_2021.yaml"
INPUT_KINDS_FILE = CONFIG_DIR / "input_kinds.yaml"
REASONS_FILE = CONFIG_DIR / "reasons.yaml"
HEADINGS_FILE = CONFIG_DIR / "headings.yaml"
DIRECTIVE_TEXT_FILE = CONFIG_DIR / "directive-1038-UBND-KGVX.txt"   # the directive itself, as issued


class ConfigError(Exception):
    """A configuration file is missing, not YAML, or fails validation. The message names file, key, reason."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------------------------------------------
# Input kinds: column specifications
# ---------------------------------------------------------------------------------------------------------

ColumnType = Literal[
    "text", "integer", "decimal", "date", "datetime", "boolean", "enum", "phone", "id_number",
    "insurance_number", "facility_code", "admin_code",
]
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


class EnumValue(_Strict):
    label: str
    variants: list[str] = Field(default_factory=list)


class ColumnSpec(_Strict):
    name: str
    type: ColumnType
    required: bool = False
    header: str
    aliases: list[str] = Field(default_factory=list)
    enum: str | None = None
    pii: bool = False
    min: float | None = None
    max: float | None = None
    length: int | None = None

    @field_validator("name")
    @classmethod
    def _snake(cls, v: str) -> str:
        if not SNAKE.match(v):
            raise ValueError(f"column name {v!r} must be snake_case ASCII")
        return v

    @model_validator(mode="after")
    def _enum_given(self) -> ColumnSpec:
        if (self.type == "enum") != (self.enum is not None):
            raise ValueError("a column of type enum needs `enum:` and only enum columns may have it")
        return self

    @property
    def template_header(self) -> str:
        return f"{self.header} (*)" if self.required else self.header


class KindSpec(_Strict):
    name: str = ""
    label: str
    section: str
    mode: Literal["snapshot", "event"]
    scope: Literal["district", "facility"]
    natural_key: list[str]
    columns: list[ColumnSpec]

    @model_validator(mode="after")
    def _consistent(self) -> KindSpec:
        names = [c.name for c in self.columns]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"columns defined twice: {sorted(dupes)}")
        unknown = [k for k in self.natural_key if k not in names]
        if unknown:
            raise ValueError(f"natural_key names unknown columns {unknown}")
        return self

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def required_columns(self) -> list[ColumnSpec]:
        return [c for c in self.columns if c.required]

    @property
    def pii_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.pii]


class InputKinds(_Strict):
    enums: dict[str, dict[str, EnumValue]]
    kinds: dict[str, KindSpec]

    @model_validator(mode="after")
    def _enums_exist(self) -> InputKinds:
        for kind_name, kind in self.kinds.items():
            object.__setattr__(kind, "name", kind_name)
            for col in kind.columns:
                if col.enum is not None and col.enum not in self.enums:
                    raise ValueError(f"kinds.{kind_name}: column {col.name} names unknown enum {col.enum!r}")
        return self

    def __getitem__(self, kind: str) -> KindSpec:
        return self.kinds[kind]

    @property
    def names(self) -> list[str]:
        return list(self.kinds)


# ---------------------------------------------------------------------------------------------------------
# Reason codes
# ---------------------------------------------------------------------------------------------------------

Severity = Literal["blocking", "row", "warning", "repair"]


class Reason(_Strict):
    severity: Severity
    message: str


class ReasonCatalogue(_Strict):
    reasons: dict[str, Reason]

    def __getitem__(self, code: str) -> Reason:
        return self.reasons[code]

    def severity(self, code: str) -> Severity:
        return self.reasons[code].severity

    def codes(self, severity: Severity) -> list[str]:
        return [c for c, r in self.reasons.items() if r.severity == severity]


# ---------------------------------------------------------------------------------------------------------
# The campaign file (the directive as data)
# ---------------------------------------------------------------------------------------------------------

HHMM = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class CampaignInfo(_Strict):
    id: str
    name: str
    directive: str
    directive_date: dt.date
    annex_date: dt.date
    timezone: str = "Asia/Ho_Chi_Minh"
    campaign_date: dt.date
    min_age_years: int = Field(ge=0, le=120)


class Province(_Strict):
    code: str = Field(pattern=r"^\d{2}$")
    name: str
    districts: list[Annotated[str, Field(pattern=r"^\d{3}$")]] = Field(min_length=1)


def _plain(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).replace("*", "").replace("<", "").replace(">", "").split())


@functools.cache
def directive_text() -> str:
    """The directive's text (config/directive-1038-UBND-KGVX.txt), whitespace folded, for quote checks."""
    return _plain(DIRECTIVE_TEXT_FILE.read_text(encoding="utf-8"))


class Source(_Strict):
    """Why a deadline, party or recipient exists: a line of directive 1038/UBND-KGVX (`by: directive`, with
    its section and its words), or the province's own decision (`by: province`, with why). In YAML a bare
    `source: province` is accepted; a directive source must quote the directive."""
    by: Literal["directive", "province"]
    section: str | None = None     # the directive's section, e.g. "1", "3", "II.1" (the annex)
    quote: str | None = None       # the directive's words (Vietnamese, as written)
    note: str | None = None        # by: province: what the province decided and why

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
        if self.by == "province":
            return "theo quyết định của tỉnh (Công văn " + directive + " không quy định)" + \
                (f": {self.note}" if self.note else "")
        return f"theo Công văn {directive}, mục {self.section}: “{self.quote}”"


class Contact(_Strict):
    email: str | None = None
    webhook: str | None = None


class PartyTask(_Strict):
    """What the directive asks of a party that owes no dated deliverable (shown on the board)."""
    task: str
    source: Source


class Party(_Strict):
    name: str | None = None
    contacts: dict[str, Contact] = Field(default_factory=dict)
    source: Source                 # why the party is there (the directive's line, or the province's choice)
    tasks: list[PartyTask] = Field(default_factory=list)


class WorkingTime(_Strict):
    office_hours: list[tuple[HHMM, HHMM]]
    count: Literal["calendar", "working"] = "calendar"
    extra_days_off: list[dt.date] = Field(default_factory=list)
    extra_working_days: list[dt.date] = Field(default_factory=list)


class Requirement(_Strict):
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


class Deadline(_Strict):
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


class StepWhen(_Strict):
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


class EscalationStep(_Strict):
    step: str
    when: StepWhen
    to: list[str] = Field(min_length=1)
    channels: list[Literal["email", "webhook"]] = Field(min_length=1)


class SessionTime(_Strict):
    start: HHMM
    end: HHMM


class Teams(_Strict):
    roles: dict[str, int]
    max_team_age_days: int = Field(ge=0)
    sessions: dict[str, SessionTime]


class Capacity(_Strict):
    people_per_table_per_session: int = Field(gt=0)
    observation_minutes: int = Field(ge=0)


class PerUnit(_Strict):
    per_table: int = Field(ge=0)
    per_site: int = Field(ge=0)
    # required: a missing item blocks the facility; if_available: the directive's "(nếu có)" (II.1, QR
    # scanners): a missing item is only a warning
    level: Literal["required", "if_available"] = "required"


class ChannelGroup(_Strict):
    """Channels that count as one of the directive's channels (e.g. the grassroots information system:
    loudspeakers and commune radio); a `required` group must have been used."""
    channels: list[str] = Field(min_length=1)
    required: bool = False


class CommunicationRules(_Strict):
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


class ReadinessRules(_Strict):
    communication: CommunicationRules
    owners: dict[Literal["infrastructure", "training", "teams", "communication"], Literal["facility", "district"]]
    stale_check_days_ahead: int = Field(default=1, ge=0)
    # parties (keys of `parties`) the directive has work with the owner on a dimension (section 4: Viettel
    # trains the facilities with the DoH and the health centres)
    partners: dict[Literal["infrastructure", "training", "teams", "communication"], list[str]] = Field(
        default_factory=dict)


class VaccineProduct(_Strict):
    doses_per_vial: int = Field(gt=0)
    interval_days: tuple[int, int]
    open_vial_hours: float = Field(gt=0)
    doses: int = 2
    unconfirmed: bool = False


class IntakeRules(_Strict):
    max_rejected_share: float = Field(gt=0, le=1)
    max_file_mb: float = Field(gt=0)
    max_rows: int = Field(gt=0)


class LinkageTraining(_Strict):
    u_max_pairs: float = Field(default=5e6, gt=0)
    em_max_pairs: float = Field(default=2e6, gt=0)
    seed: int = 2021
    m_floor: float = Field(default=1e-3, gt=0, lt=1)


class MasterListRules(_Strict):
    """The master target list: thresholds of the record linkage, priorities, person ids."""

    match_threshold: float = Field(default=0.99, gt=0, le=1)
    review_threshold: float = Field(default=0.5, gt=0, le=1)
    priority_order: list[int] = Field(default_factory=lambda: list(range(1, 17)))
    age_group: int = 9
    age_group_min_age: int = Field(default=65, ge=0, le=120)
    person_id_prefix: str = Field(default="GL", pattern=r"^[A-Z]{1,4}$")
    training: LinkageTraining = Field(default_factory=LinkageTraining)

    @model_validator(mode="after")
    def _ordered(self) -> MasterListRules:
        if self.review_threshold > self.match_threshold:
            raise ValueError("review_threshold must not exceed match_threshold")
        if sorted(self.priority_order) != list(range(1, 17)):
            raise ValueError("priority_order must list each priority group 1..16 once")
        if self.age_group not in self.priority_order:
            raise ValueError("age_group must be a priority group")
        return self


class PlanningRules(_Strict):
    """Session planning: what `teams`, `capacity` and `vaccine_products` do not already say."""

    standby_per_session: int = Field(default=10, ge=0)
    standing_teams: bool = True        # a facility's latest complete roster stands for sessions without one
    reserve_dose2: bool = True         # a dose 1 whose dose 2 is due inside the plan holds a dose back for it
    results_grace_days: int = Field(default=2, ge=0)   # invited this recently: wait for the result upload


class Responsibility(_Strict):
    unit: str
    task: str


class ReportRecipient(_Strict):
    """An address a submitted report goes to, and why (the directive's line, or the province's choice)."""
    address: str
    source: Source


class ReportRules(_Strict):
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


class CampaignConfig(_Strict):
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
        return self

    @property
    def district_codes(self) -> list[str]:
        return list(self.province.districts)


# ---------------------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------------------


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"{path}:{line} not valid YAML: {getattr(exc, 'problem', exc)}") from None


def _validate(model: type[BaseModel], path: Path) -> Any:
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            problems.append(f"{path}: key {key}: {err['msg']}")
        raise ConfigError("\n".join(problems)) from None


class NameParts(_Strict):
    first: list[str]
    last: list[str]


class HeadingVocabulary(_Strict):
    """config/headings.yaml: how clerks head their columns (concepts, filler words, extra headings)."""

    concepts: dict[str, list[str]]
    filler: list[str]
    extra: dict[str, dict[str, list[str]]] = Field(default_factory=dict)
    name_parts: NameParts

    @field_validator("concepts")
    @classmethod
    def _concept_names(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        bad = [k for k in v if not re.fullmatch(r"@[a-z_]+", k)]
        if bad:
            raise ValueError(f"concept names must look like @word: {bad}")
        return v


def load_campaign(path: str | Path | None = None) -> CampaignConfig:
    return _validate(CampaignConfig, Path(path) if path else DEFAULT_CAMPAIGN_FILE)


@functools.cache
def load_input_kinds(path: str | Path = INPUT_KINDS_FILE) -> InputKinds:
    return _validate(InputKinds, Path(path))


@functools.cache
def load_heading_vocabulary(path: str | Path = HEADINGS_FILE) -> HeadingVocabulary:
    vocab = _validate(HeadingVocabulary, Path(path))
    kinds = load_input_kinds()
    for kind, cols in vocab.extra.items():   # a typo here would silently teach nothing
        if kind not in kinds.kinds:
            raise ConfigError(f"{path}: extra: unknown kind {kind!r}")
        names = {c.name for c in kinds.kinds[kind].columns}
        unknown = sorted(set(cols) - names)
        if unknown:
            raise ConfigError(f"{path}: extra: {kind}: unknown columns {unknown}")
    return vocab


@functools.cache
def load_reasons(path: str | Path = REASONS_FILE) -> ReasonCatalogue:
    return _validate(ReasonCatalogue, Path(path))
