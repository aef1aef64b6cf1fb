"""Readiness (directive II.1 and part of II.2): is every facility equipped, trained and staffed, and
has every district told the public how to register and look up a certificate?

    inputs = store.load_inputs(session, district_codes)     # current accepted submissions, from the store
    result = assess(inputs, ReadinessRules.from_config(campaign), today=date(2021, 7, 28))
    result.facilities / result.gaps / result.districts / result.province

`assess` is pure (frames in, frames out: no database, no files) and is what the tests drive with tiny
hand-made provinces. The statuses, their roll-up and their counts are in `campaign.readiness.status`.

Statuses (docs/contracts.md): `ready`, `ready_with_warnings`, `not_ready`, `unknown`; a roll-up takes the worst
by the precedence not_ready > unknown > ready_with_warnings > ready. A facility is judged on three
dimensions (infrastructure, training, teams), a district also on communication. A dimension with no
submission behind it is `unknown`, never `ready`.

- Infrastructure: what a facility needs comes from its number of vaccination tables through
  `infrastructure_rules` (per table, per site); what it has from its `infrastructure` row (the internet
  line as 1/0). Each missing `required` item is a blocking gap; a missing `if_available` item (the
  directive's "máy quét QR (nếu có)") is a warning. A facility with no vaccination table cannot hold a
  session: blocking.
- Training: a person is trained for a role when a `training` row with that role is completed on or
  before today. Each role of `teams.roles` needs that many trained people per vaccination table: fewer
  than one table's worth is blocking, fewer than all tables' is a warning. Training planned after today
  is listed as still to be held; a past training not completed is a warning.
- Teams (ê kíp, from `staff`): for every session on or after today, a team is complete when each role
  has its minimum of members who completed the platform training (for any position: teams rotate roles
  between sessions) and none of them is booked elsewhere at the same session. No complete team in a session is blocking; fewer complete teams than tables, members not
  trained, a team not updated within `teams.max_team_age_days` before an imminent session, or no session
  listed at all are warnings. A person on two teams of the same session (same ID or phone anywhere in
  the province, or the same name at the same facility) is blocking for every facility involved.
- Communication (per district; directive section 3: "Chỉ đạo hệ thống thông tin cơ sở ... tăng cường
  tuyên truyền"): every required message (register, follow the news, look up the certificate) out on
  one of the directive's channels (`channel_groups`: the grassroots information system, the press),
  dated on or before today, and every required group (the grassroots system) used for at least one of
  them; other channels (social media, SMS...) are allowed, not required, and do not count. What is
  missing is a gap of the configured severity: `communication:<message>@<groups>` or
  `communication:channel@<group>`.

People are matched between `staff` and `training` by ID number, else phone (anywhere in the district),
else folded name at the same facility; a name alone never matches across facilities (namesakes are
common), so when in doubt a member shows as untrained and the district confirms.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from campaign import clock
from campaign.config import CampaignConfig
from campaign.config_kinds import load_input_kinds
from campaign.readiness.people import (
    count_per_facility,
    facility_keys,
    person_key_text,
    person_keys,
    trained_match,
)
from campaign.readiness.status import (
    NOT_READY,
    READY,
    UNKNOWN,
    WARNINGS,
    count_districts,
    count_facilities,
    worst,
)
from campaign.store.current import latest_per_facility
from campaign.store.models import KIND_TABLES

BLOCKING, WARNING = "blocking", "warning"
DIMENSIONS = ("infrastructure", "training", "teams")
KINDS = ("facilities", "infrastructure", "training", "staff", "communication")

# infrastructure_rules item -> the `infrastructure` column holding what the facility has
AVAILABLE_COLUMN = {"computers": "computers_available", "qr_scanners": "qr_scanners_available",
                    "printers": "printers_available", "internet_lines": "internet_available"}
DECLARED_COLUMN = {"computers": "computers_needed", "qr_scanners": "qr_scanners_needed",
                   "printers": "printers_needed"}

GAP_COLUMNS = ["district", "facility", "dimension", "item", "missing", "severity", "owner", "detail"]


@dataclass(frozen=True)
class ReadinessRules:
    roles: dict[str, int]
    infrastructure: dict[str, tuple[int, int]]          # item -> (per table, per site)
    max_team_age_days: int
    stale_check_days_ahead: int
    required_messages: tuple[str, ...]
    channel_groups: dict[str, tuple[str, ...]]          # group -> channels (the directive's channels)
    required_groups: tuple[str, ...]                    # groups a district must have used
    message_covers: dict[str, tuple[str, ...]]
    communication_severity: str
    owners: dict[str, str]
    # infrastructure item -> "required" | "if_available" (an item not listed is required)
    infrastructure_levels: dict[str, str] = field(default_factory=dict)
    # dimension -> the names of the parties the directive has work with the owner on it (training: Viettel)
    partners: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # channel -> its label (the `comm_channel` values of config/input_kinds.yaml), for the gaps' wording
    channel_labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, campaign: CampaignConfig) -> ReadinessRules:
        comm = campaign.readiness.communication
        return cls(
            roles=dict(campaign.teams.roles),
            infrastructure={k: (v.per_table, v.per_site) for k, v in campaign.infrastructure_rules.items()},
            max_team_age_days=campaign.teams.max_team_age_days,
            stale_check_days_ahead=campaign.readiness.stale_check_days_ahead,
            required_messages=tuple(comm.required_messages),
            channel_groups={k: tuple(g.channels) for k, g in comm.channel_groups.items()},
            required_groups=tuple(k for k, g in comm.channel_groups.items() if g.required),
            message_covers={k: tuple(v) for k, v in comm.message_covers.items()},
            communication_severity=comm.severity,
            owners={"infrastructure": "district", "training": "district", "teams": "facility",
                    "communication": "district", **campaign.readiness.owners},
            infrastructure_levels={k: v.level for k, v in campaign.infrastructure_rules.items()},
            partners={dim: tuple(campaign.parties[p].name or p for p in parties)
                      for dim, parties in campaign.readiness.partners.items()},
            channel_labels={k: v.label for k, v in load_input_kinds().enums["comm_channel"].items()},
        )


@dataclass
class ReadinessInputs:
    """The rows of the current accepted submissions, each with `district`, `submission_id` and
    `received_at` (UTC); `submissions` lists them (id, district, kind, facility scope, version, received)."""
    districts: list[str]
    facilities: pd.DataFrame
    infrastructure: pd.DataFrame
    training: pd.DataFrame
    staff: pd.DataFrame
    communication: pd.DataFrame
    submissions: pd.DataFrame
    _kinds: set[tuple[str, str]] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        # every column of the kind present (empty or partial frames from callers and tests alike)
        for kind in KINDS:
            frame = getattr(self, kind)
            wanted = [c.name for c in KIND_TABLES[kind].c if c.name not in ("id", "sheet")] + ["received_at"]
            missing = [c for c in wanted if c not in frame.columns]
            if missing:
                frame = frame.assign(**{c: pd.Series([None] * len(frame), index=frame.index, dtype=object)
                                        for c in missing})
            setattr(self, kind, frame)

    def has_kind(self, district: str, kind: str) -> bool:
        """Whether the district has a current submission of that kind (else the dimension is unknown)."""
        if self._kinds is None:
            self._kinds = set(zip(self.submissions["district"], self.submissions["kind"], strict=True))
        return (district, kind) in self._kinds


@dataclass
class Assessment:
    as_of: dt.date
    facilities: pd.DataFrame        # one row per facility: statuses per dimension, status, reasons
    gaps: pd.DataFrame              # GAP_COLUMNS
    training: pd.DataFrame          # coverage per facility, staff type and role
    training_to_hold: pd.DataFrame  # training sessions planned after today, per facility and date
    sessions: pd.DataFrame          # per facility and upcoming session: teams, complete teams, tables
    team_members: pd.DataFrame      # TEAM_MEMBER_COLUMNS: who is on each complete team of an upcoming session
    communication: pd.DataFrame     # per district, message and channel: done or not
    districts: pd.DataFrame         # one row per district
    province: dict[str, Any] = field(default_factory=dict)
    submissions: pd.DataFrame = field(default_factory=pd.DataFrame)
    partners: dict[str, tuple[str, ...]] = field(default_factory=dict)   # ReadinessRules.partners


def _gap(rows: list[dict[str, Any]], district: str, facility: str | None, dimension: str, item: str, missing: int,
         severity: str, owner: str, detail: str) -> None:
    rows.append({"district": district, "facility": facility, "dimension": dimension, "item": item,
                 "missing": int(missing), "severity": severity, "owner": owner, "detail": detail})


def _infrastructure(fac: pd.DataFrame, infra: pd.DataFrame, rules: ReadinessRules, inputs: ReadinessInputs,
                    gaps: list[dict[str, Any]]) -> pd.Series:
    owner = rules.owners["infrastructure"]
    infra = latest_per_facility(infra).drop_duplicates(["district", "facility_code"], keep="last")
    # each facility's row once as a dict (a lookup per facility, not a frame lookup)
    have = dict(zip(zip(infra["district"], infra["facility_code"], strict=True), infra.to_dict("records"),
                    strict=True)) if len(infra) else {}
    statuses: list[str] = []
    for district, code, tables in zip(fac["district"], fac["facility_code"], fac["_tables"], strict=True):
        key = (district, code)
        if not inputs.has_kind(district, "infrastructure") or key not in have:
            statuses.append(UNKNOWN)
            continue
        row = have[key]
        st = READY
        for item, (per_table, per_site) in rules.infrastructure.items():
            needed = per_table * tables + per_site
            value = row.get(AVAILABLE_COLUMN[item])
            if item == "internet_lines":
                available = 1 if value == "yes" else 0
            else:
                available = int(value) if pd.notna(value) else 0
            if available < needed:
                declared = row.get(DECLARED_COLUMN.get(item, ""), None)
                note = f"; cơ sở báo cần bổ sung {int(declared)}" if declared is not None and pd.notna(declared) else ""
                if rules.infrastructure_levels.get(item, "required") == "if_available":   # "(nếu có)"
                    _gap(gaps, district, code, "infrastructure", item, needed - available,
                         WARNING, owner, f"nên có {needed} (nếu có), hiện có {available}{note}")
                    st = worst([st, WARNINGS])
                    continue
                _gap(gaps, district, code, "infrastructure", item, needed - available, BLOCKING,
                     owner, f"cần {needed}, hiện có {available}{note}")
                st = NOT_READY
        statuses.append(st)
    return pd.Series(statuses, index=fac.index, dtype=object)


def _training(fac: pd.DataFrame, training: pd.DataFrame, rules: ReadinessRules, inputs: ReadinessInputs,
              today: dt.date, gaps: list[dict[str, Any]]) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame]:
    owner = rules.owners["training"]
    if len(training):
        past = pd.to_datetime(training["training_date"]).dt.date <= today
        completed = training["completed"] == "yes"
        done, planned, overdue = training[completed & past], training[~completed & ~past], training[~completed & past]
    else:
        done = planned = overdue = training
    people = person_keys(done) if len(done) else None
    if len(overdue) and len(done):
        # a session missed by someone who completed the same training at another session is not a gap
        def keyed(frame: pd.DataFrame) -> pd.Series:
            keys = person_keys(frame).fillna("")
            return (frame["district"] + "|" + frame["facility_code"].fillna("") + "|" + frame["role_trained"].fillna("")
                    + "|" + keys["id_key"] + "|" + keys["phone_key"] + "|" + keys["name_key"])

        overdue = overdue[~keyed(overdue).isin(set(keyed(done)))]
    # per (district, facility, role): the distinct people trained (a person listed twice for one role
    # counts once: the same ID, phone and name, a missing part equal only to a missing part)
    trained_n: dict[tuple[Any, ...], int] = {}
    if people is not None:
        distinct = pd.concat([done[["district", "facility_code", "role_trained"]], people], axis=1).drop_duplicates()
        trained_n = distinct.groupby(["district", "facility_code", "role_trained"]).size().to_dict()
    late_n: dict[tuple[Any, ...], int] = overdue.groupby(["district", "facility_code"]).size().to_dict() \
        if len(overdue) else {}
    statuses: list[str] = []
    for d, code, n_tables in zip(fac["district"], fac["facility_code"], fac["_tables"], strict=True):
        if not inputs.has_kind(d, "training"):
            statuses.append(UNKNOWN)
            continue
        st = READY
        tables = max(n_tables, 1)
        for role, per_table in rules.roles.items():
            if per_table <= 0:
                continue
            n = int(trained_n.get((d, code, role), 0))
            if n < per_table:
                _gap(gaps, d, code, "training", f"trained:{role}", per_table - n, BLOCKING, owner,
                     f"cần ít nhất {per_table} người đã tập huấn, có {n}")
                st = NOT_READY
            elif n < per_table * tables:
                _gap(gaps, d, code, "training", f"trained:{role}", per_table * tables - n, WARNING, owner,
                     f"đủ cho {n // per_table} trên {tables} bàn tiêm")
                if st == READY:
                    st = WARNINGS
        late = int(late_n.get((d, code), 0))
        if late:
            _gap(gaps, d, code, "training", "training_not_completed", late, WARNING, owner,
                 f"{late} lượt tập huấn đã qua ngày nhưng chưa hoàn thành")
            if st == READY:
                st = WARNINGS
        statuses.append(st)
    status = pd.Series(statuses, index=fac.index, dtype=object)
    to_hold = (planned.groupby(["district", "facility_code", "training_date"]).size().rename("people").reset_index()
               if len(planned) else pd.DataFrame(columns=["district", "facility_code", "training_date", "people"]))
    return status, done, to_hold


def _coverage(fac: pd.DataFrame, training: pd.DataFrame, staff: pd.DataFrame, trained_roles: pd.Series) -> pd.DataFrame:
    """Per facility, staff type and role: people listed (rostered or on a training list) and trained."""
    parts = []
    if len(training):
        t = training.assign(person=person_key_text(training),
                            role=training["role_trained"],
                            trained=training["completed"] == "yes")
        parts.append(t[["district", "facility_code", "staff_type", "role", "person", "trained"]])
    if len(staff):
        s = staff.assign(person=person_key_text(staff),
                         trained=[bool(roles) for roles in trained_roles])
        parts.append(s[["district", "facility_code", "staff_type", "role", "person", "trained"]])
    if not parts:
        return pd.DataFrame(columns=["district", "facility_code", "staff_type", "role", "people", "trained"])
    both = pd.concat(parts, ignore_index=True)
    both["staff_type"] = both["staff_type"].fillna("unspecified")
    per_person = both.groupby(["district", "facility_code", "staff_type", "role", "person"], dropna=False)["trained"].any()
    out = per_person.groupby(level=[0, 1, 2, 3], dropna=False).agg(people="size", trained="sum").reset_index()
    out["trained"] = out["trained"].astype(int)
    return out


def _double_bookings(staff: pd.DataFrame) -> pd.DataFrame:
    """Rows of people on two teams of the same session: (district, facility, date, part, team, key)."""
    if staff.empty:
        return staff.assign(conflict_key=pd.Series(dtype=object))
    keys = person_keys(staff)
    found = []
    by_session = ["session_date", "session_part"]
    for col, scope in (("id_key", []), ("phone_key", []), ("name_key", ["district", "facility_code"])):
        k = staff[by_session + scope].assign(key=keys[col], team=staff["facility_code"] + "#" + staff["team_no"].astype(str))
        k = k.dropna(subset=["key"])
        k = k[k["key"] != ""]
        teams = k.groupby(by_session + scope + ["key"])["team"].transform("nunique")
        clash = k[teams > 1]
        if len(clash):
            found.append(staff.loc[clash.index].assign(conflict_key=col + ":" + clash["key"].astype(str)))
    if not found:
        return staff.iloc[0:0].assign(conflict_key=pd.Series(dtype=object))
    out = pd.concat(found)
    return out[~out.index.duplicated()]


SESSION_KEY = ["district", "facility_code", "session_day", "session_part"]
TEAM_MEMBER_COLUMNS = [*SESSION_KEY, "team_no", "role", "full_name", "member_key"]


def _members(upcoming: pd.DataFrame, usable: pd.Series, teams: pd.DataFrame | None) -> pd.DataFrame:
    """The usable (trained, not double-booked) people of every complete team, with a key that says who
    they are across facilities (ID, else phone, else the name within the facility): planning must never
    put one person on duty in two places."""
    if teams is None or upcoming.empty:
        return pd.DataFrame(columns=TEAM_MEMBER_COLUMNS)
    team_key = [*SESSION_KEY, "team_no"]
    complete = teams.loc[teams["complete"], team_key]
    rows = upcoming[usable.loc[upcoming.index].to_numpy()].merge(complete, on=team_key)
    keys = person_keys(rows).replace("", pd.NA)   # an empty ID or phone says nothing about who it is
    by_name = "name:" + rows["district"].astype(str) + ":" + rows["facility_code"].astype(str) + ":" \
        + keys["name_key"].fillna("").astype(str)
    rows["member_key"] = ("id:" + keys["id_key"]).fillna("phone:" + keys["phone_key"]).fillna(by_name).astype(object)
    return rows[TEAM_MEMBER_COLUMNS].sort_values(team_key + ["role"], kind="stable").reset_index(drop=True)


def _team_table(upcoming: pd.DataFrame, usable: pd.Series, rules: ReadinessRules, today: dt.date) -> pd.DataFrame:
    """One row per team of an upcoming session: complete or not, the roles it lacks, stale or not."""
    team_key = [*SESSION_KEY, "team_no"]
    counted = upcoming.assign(_ok=usable.loc[upcoming.index].to_numpy())
    have = (counted[counted["_ok"]].groupby([*team_key, "role"], dropna=False).size().unstack("role", fill_value=0))
    teams = counted[team_key].drop_duplicates().set_index(team_key)
    have = have.reindex(teams.index, fill_value=0)
    missing = pd.DataFrame({role: (need - (have[role] if role in have else pd.Series(0, index=teams.index)))
                            .clip(lower=0) for role, need in rules.roles.items()}, index=teams.index)
    teams["complete"] = (missing.sum(axis=1) == 0).to_numpy()
    for role in rules.roles:
        teams[f"missing_{role}"] = missing[role].to_numpy()
    # last update of a team: its `updated_on`, else the day (in Gia Lai) its staff file was received
    received = pd.to_datetime(counted["received_at"], utc=True).dt.tz_convert(clock.TZ_NAME).dt.normalize() \
        .dt.tz_localize(None)
    updated = pd.to_datetime(counted["updated_on"]).dt.normalize()
    counted["_updated"] = updated.fillna(received)
    last = counted.groupby(team_key, dropna=False)["_updated"].max().reindex(teams.index)
    day = pd.to_datetime(pd.Series(teams.index.get_level_values("session_day"), index=teams.index))
    imminent = (day - pd.Timestamp(today)).dt.days <= rules.stale_check_days_ahead
    age = (day - last).dt.days
    teams["stale"] = (imminent & (age.isna() | (age > rules.max_team_age_days))).to_numpy(dtype=bool)
    return teams.reset_index()


def _teams(fac: pd.DataFrame, staff: pd.DataFrame, trained_roles: pd.Series, rules: ReadinessRules,
           inputs: ReadinessInputs, today: dt.date,
           gaps: list[dict[str, Any]]) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame]:
    status = pd.Series(READY, index=fac.index, dtype=object)
    owner = rules.owners["teams"]
    columns = ["district", "facility_code", "session_date", "session_part", "teams", "complete_teams", "tables",
               "stale_teams"]
    if staff.empty:
        status[:] = UNKNOWN
        return status, pd.DataFrame(columns=columns), pd.DataFrame(columns=TEAM_MEMBER_COLUMNS)
    staff = staff.assign(session_day=pd.to_datetime(staff["session_date"]).dt.date)
    upcoming = staff[staff["session_day"] >= today]
    conflicts = _double_bookings(upcoming)
    # The platform training is per person: someone trained (for any position) can take any role of a
    # team; the per-role need is checked on the training lists (`trained:<role>` above). Where the
    # district sent no training list, training is unknown and the roster alone is counted.
    trained_ok = pd.Series([bool(roles) for roles in trained_roles], index=staff.index, dtype=bool)
    known = staff["district"].map(lambda d: inputs.has_kind(d, "training")).astype(bool)
    usable = (trained_ok | ~known) & ~staff.index.isin(conflicts.index)
    teams = _team_table(upcoming, usable, rules, today) if len(upcoming) else None
    sessions = (teams.groupby(SESSION_KEY, sort=True)
                .agg(teams=("team_no", "nunique"), complete_teams=("complete", "sum"), stale_teams=("stale", "sum"),
                     **{f"missing_{r}": (f"missing_{r}", "sum") for r in rules.roles})
                .reset_index() if teams is not None else pd.DataFrame(columns=[*SESSION_KEY, "teams"]))
    # what the loop below asks of each facility, computed once for all of them
    has_staff, has_upcoming = facility_keys(staff), facility_keys(upcoming)
    untrained_rows = upcoming[~trained_ok.loc[upcoming.index] & known.loc[upcoming.index]]
    untrained_n = count_per_facility(untrained_rows)
    untrained_people = count_per_facility(untrained_rows, distinct="full_name")
    clashes_n = count_per_facility(conflicts, distinct="conflict_key")
    sessions_at: dict[tuple[Any, Any], list[Any]] = {}
    for sess in sessions.itertuples(index=False):
        if pd.notna(sess.district) and pd.notna(sess.facility_code):
            sessions_at.setdefault((sess.district, sess.facility_code), []).append(sess)
    tables_of = {}
    statuses: list[str] = []
    for d, code, tables in zip(fac["district"], fac["facility_code"], fac["_tables"], strict=True):
        tables_of[(d, code)] = tables
        if (d, code) not in has_staff:
            statuses.append(UNKNOWN)
            continue
        if (d, code) not in has_upcoming:
            _gap(gaps, d, code, "teams", "no_upcoming_session", 1, WARNING, owner,
                 "danh sách ê kíp không có buổi tiêm nào từ hôm nay")
            statuses.append(WARNINGS)
            continue
        st = READY
        untrained = untrained_n.get((d, code), 0)
        if untrained:
            _gap(gaps, d, code, "teams", "untrained_member", untrained_people[(d, code)],
                 WARNING, owner, f"{untrained} lượt phân công người chưa tập huấn sử dụng Nền tảng")
            st = worst([st, WARNINGS])
        clashes = clashes_n.get((d, code), 0)
        if clashes:
            _gap(gaps, d, code, "teams", "double_booked", clashes, BLOCKING,
                 owner, "người được phân vào hai ê kíp cùng một buổi")
            st = NOT_READY
        for sess in sessions_at.get((d, code), ()):
            day, part, complete, stale = sess.session_day, sess.session_part, int(sess.complete_teams), int(sess.stale_teams)
            label = f"{day:%d/%m/%Y} {part}"
            if complete == 0:
                roles = ", ".join(f"{r} thiếu {int(getattr(sess, f'missing_{r}'))}" for r in rules.roles
                                  if getattr(sess, f"missing_{r}"))
                _gap(gaps, d, code, "teams", f"team:{day.isoformat()}:{part}", 1, BLOCKING, owner,
                     f"buổi {label}: không có ê kíp đủ người đã tập huấn ({roles})")
                st = NOT_READY
            elif complete < tables:
                _gap(gaps, d, code, "teams", f"team:{day.isoformat()}:{part}", tables - complete, WARNING, owner,
                     f"buổi {label}: {complete} ê kíp đủ cho {tables} bàn tiêm")
                st = worst([st, WARNINGS])
            if stale:
                _gap(gaps, d, code, "teams", f"team_not_updated:{day.isoformat()}:{part}", stale, WARNING, owner,
                     f"buổi {label}: {stale} ê kíp chưa cập nhật trong {rules.max_team_age_days} ngày trước buổi tiêm")
                st = worst([st, WARNINGS])
        statuses.append(st)
    status = pd.Series(statuses, index=fac.index, dtype=object)
    if len(sessions):
        out = sessions.assign(session_date=sessions["session_day"],
                              tables=[tables_of.get((d, c), 0) for d, c in zip(sessions["district"],
                                                                                sessions["facility_code"], strict=True)])
        known_facilities = set(tables_of)
        out = out[[(d, c) in known_facilities for d, c in zip(out["district"], out["facility_code"], strict=True)]]
        out = out[columns].astype({"teams": int, "complete_teams": int, "stale_teams": int})
    else:
        out = pd.DataFrame(columns=columns)
    return status, out.reset_index(drop=True), _members(upcoming, usable, teams)


def _communication(inputs: ReadinessInputs, rules: ReadinessRules, today: dt.date,
                   gaps: list[dict[str, Any]]) -> tuple[dict[str, str], pd.DataFrame]:
    """Per district: each required message on a channel of a directive channel group, each required group
    used. The frame: one row per district and required message, `channel` the directive channel it went
    out on first ("" when it did not), `done`."""
    comm = inputs.communication
    owner = rules.owners["communication"]
    group_of = {c: g for g, channels in rules.channel_groups.items() for c in channels}
    order = {c: i for i, c in enumerate(group_of)}
    everywhere = "+".join(rules.channel_groups)
    labels = rules.channel_labels
    rows, status = [], {}
    for d in inputs.districts:
        if not inputs.has_kind(d, "communication"):
            status[d] = UNKNOWN
            continue
        here = comm[(comm["district"] == d)] if len(comm) else comm
        if len(here):
            here = here[pd.to_datetime(here["activity_date"]).dt.date <= today]
        on: dict[str, str] = {}          # message -> the directive channel it went out on
        used: set[str] = set()           # groups that carried a required message
        for message, channel in zip(here.get("message", []), here.get("channel", []), strict=True):
            if channel not in group_of:
                continue                 # allowed, not one of the directive's channels
            for m in rules.message_covers.get(message, (message,)):
                if m in rules.required_messages:
                    used.add(group_of[channel])
                    if m not in on or order[channel] < order[on[m]]:
                        on[m] = channel
        missing = READY
        bad = NOT_READY if rules.communication_severity == BLOCKING else WARNINGS
        for message in rules.required_messages:
            done = message in on
            rows.append({"district": d, "message": message, "channel": on.get(message, ""), "done": done})
            if not done:
                _gap(gaps, d, None, "communication", f"communication:{message}@{everywhere}", 1,
                     rules.communication_severity, owner,
                     "chưa có hoạt động tuyên truyền đã thực hiện qua hệ thống thông tin cơ sở hoặc báo chí")
                missing = worst([missing, bad])
        for group in rules.required_groups:
            if group not in used:
                _gap(gaps, d, None, "communication", f"communication:channel@{group}", 1,
                     rules.communication_severity, owner,
                     "chưa tuyên truyền qua " + ", ".join(labels.get(c, c) for c in rules.channel_groups[group]))
                missing = worst([missing, bad])
        status[d] = missing
    return status, pd.DataFrame(rows, columns=["district", "message", "channel", "done"])


def assess(inputs: ReadinessInputs, rules: ReadinessRules, *, today: dt.date) -> Assessment:
    gaps: list[dict[str, Any]] = []
    fac = latest_per_facility(inputs.facilities) if len(inputs.facilities) else inputs.facilities
    fac = fac.drop_duplicates(["district", "facility_code"], keep="last").sort_values(["district", "facility_code"]) \
        .reset_index(drop=True) if len(fac) else pd.DataFrame(
            columns=["district", "facility_code", "facility_name", "vaccination_tables", "submission_id"])
    # the number of tables as the rules use it (a missing count is no table), once for every dimension
    fac["_tables"] = pd.to_numeric(fac["vaccination_tables"], errors="coerce").fillna(0).astype(int)
    infra_status = _infrastructure(fac, inputs.infrastructure, rules, inputs, gaps)
    staff = latest_per_facility(inputs.staff) if len(inputs.staff) else inputs.staff
    training = inputs.training
    no_tables = fac["_tables"] <= 0
    for i in fac.index[no_tables]:
        _gap(gaps, fac.at[i, "district"], fac.at[i, "facility_code"], "infrastructure", "vaccination_tables", 1,
             BLOCKING, "facility", "cơ sở không có bàn tiêm nào")
        infra_status[i] = NOT_READY
    train_status, done, to_hold = _training(fac, training, rules, inputs, today, gaps)
    trained_roles = trained_match(staff, done) if len(staff) else pd.Series(dtype=object)
    team_status, sessions, members = _teams(fac, staff, trained_roles, rules, inputs, today, gaps)
    comm_status, communication = _communication(inputs, rules, today, gaps)

    facilities = fac[["district", "facility_code"]].copy()
    facilities["facility_name"] = fac.get("facility_name")
    facilities["vaccination_tables"] = fac["vaccination_tables"]
    facilities["infrastructure"] = infra_status.to_numpy() if len(fac) else []
    facilities["training"] = train_status.to_numpy() if len(fac) else []
    facilities["teams"] = team_status.to_numpy() if len(fac) else []
    facilities["status"] = [worst(r) for r in facilities[list(DIMENSIONS)].itertuples(index=False, name=None)] \
        if len(fac) else []
    gap_frame = pd.DataFrame(gaps, columns=GAP_COLUMNS)

    district_rows = []
    for d in inputs.districts:
        mine = facilities[facilities["district"] == d]
        statuses = list(mine["status"])
        has_facilities = inputs.has_kind(d, "facilities")
        status = worst([*statuses, comm_status[d]]) if has_facilities else UNKNOWN
        district_rows.append({
            "district": d, "status": status, **count_facilities(statuses),
            "communication": comm_status[d], "has_facilities": has_facilities,
            "blocking_gaps": int(((gap_frame["district"] == d) & (gap_frame["severity"] == BLOCKING)).sum()),
        })
    districts = pd.DataFrame(district_rows)
    in_province = facilities["district"].isin(list(inputs.districts)) if len(facilities) else []
    province = {
        "status": worst(districts["status"]) if len(districts) else UNKNOWN,
        **count_districts(districts["status"] if len(districts) else []),
        **count_facilities(facilities.loc[in_province, "status"] if len(facilities) else []),
    }
    coverage = _coverage(fac, training, staff, trained_roles)
    return Assessment(as_of=today, facilities=facilities, gaps=gap_frame, training=coverage, training_to_hold=to_hold,
                      sessions=sessions, team_members=members, communication=communication, districts=districts, province=province,
                      submissions=inputs.submissions, partners=dict(rules.partners))


def gap_dicts(gaps: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a gap frame as plain dicts (a missing value as None), without the district: as records and
    summaries keep them."""
    return [{k: (None if pd.isna(v) else v) for k, v in r.items() if k != "district"}
            for r in gaps.to_dict("records")]

