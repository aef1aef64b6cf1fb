"""AEFI's pure rules (issue 20, part 4): frames and values in, frames and values out; no database.

WHO's core variables of an AEFI report, checked per row (`intake_issues`): the onset comes after the
injection (else a row error), the person has a vaccination record with that product (else a warning),
and the seriousness the district wrote agrees with the outcome and symptoms (else a warning; the case is
serious anyway). Then, on the cases in force:

    cases(rows, rules)                        # one row per case: its id, criteria, serious or not, cluster
    investigations(cases, done, rules, now)   # per serious case: opened, due (24 h), completed, state
    deliverables(investigations, ...)         # the `aefi_investigation:<case id>` deliverables of the watch
    rates(cases, doses, rules)                # cases per 100,000 doses by product and lot, lots flagged
    summary(cases, investigations, rates)     # the figures the report (II.3/II.4), the board and the CLI show

A case is serious when ANY criterion holds (Decree 104/2016, config `aefi.seriousness`): the district said
so, the outcome (death, hospitalised, sequelae), a symptom (anaphylaxis, dyspnoea, seizures...), or the
case belongs to a cluster (config `aefi.cluster`: cases of one lot or one facility whose onsets follow each
other within the window).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from campaign.config_aefi import AefiCluster, AefiInvestigation, AefiLotFlag, AefiRules, AefiSeriousness
from campaign.deadlines.rules import DONE_LATE, DONE_ON_TIME, DUE, OVERDUE, Deliverable, generated_id
from campaign.domain.text import fold_series

# the criteria of seriousness, in the order they are named
REPORTED, OUTCOME, SYMPTOM, CLUSTER = "reported_serious", "serious_outcome", "serious_symptom", "in_cluster"
CRITERIA = (REPORTED, OUTCOME, SYMPTOM, CLUSTER)
# a serious case's investigation, as the board says it
OPEN, ON_TIME, LATE, OVERDUE_CASE = "open", "investigated_on_time", "investigated_late", "overdue"
CASE_STATES = (OPEN, ON_TIME, LATE, OVERDUE_CASE)
_STATE_OF_DEADLINE = {DUE: OPEN, DONE_ON_TIME: ON_TIME, DONE_LATE: LATE, OVERDUE: OVERDUE_CASE}
TEMPLATE = "aefi_investigation"     # the generated deliverables' id: aefi_investigation:<case id>
PER = 100_000
ID_HEX = 12                         # a case id: AEFI-<12 hex of a keyed hash>


# ---------------------------------------------------------------------------------------------------------
# Values as both databases and the standardizer give them
# ---------------------------------------------------------------------------------------------------------


def instants(values: Any) -> pd.Series:
    """Aware UTC instants from datetimes as they come (the standardizer's local ones, PostgreSQL's aware
    ones, SQLite's ISO text without a zone, which is UTC)."""
    s = pd.Series(values)
    if s.dtype == object:
        s = pd.Series([v.isoformat() if isinstance(v, dt.datetime) else v for v in s], index=s.index, dtype=object)
    return pd.to_datetime(s, utc=True, errors="coerce", format="mixed")


def day_text(values: Any) -> pd.Series:
    """Dates as "YYYY-MM-DD" text (NA where missing), whatever form they come in."""
    s = pd.Series(values)
    out = pd.to_datetime(s.astype("string"), errors="coerce", format="mixed").dt.strftime("%Y-%m-%d")
    return out.astype(object).where(out.notna(), None)


def _text(values: Any) -> pd.Series:
    s = pd.Series(values).astype("string").str.strip()
    return s.astype(object).where(s.notna() & (s != ""), None)


# ---------------------------------------------------------------------------------------------------------
# Rows: WHO core variables
# ---------------------------------------------------------------------------------------------------------


def onset_before_vaccination(frame: pd.DataFrame) -> np.ndarray:
    """True where the reaction's onset is earlier than the injection (both known)."""
    onset, given = instants(frame["onset_at"]), instants(frame["vaccinated_at"])
    return (onset < given).fillna(False).to_numpy(dtype=bool)


def serious_criteria(frame: pd.DataFrame, rules: AefiSeriousness) -> pd.DataFrame:
    """Per row, each criterion of seriousness but the cluster: `reported` (serious = yes), `outcome`
    (an outcome of `rules.outcomes`), `symptom` (a word of `rules.symptoms` among the symptoms)."""
    padded = " " + fold_series(frame["symptoms"]).fillna("") + " "
    symptom = np.zeros(len(frame), dtype=bool)
    for word in rules.symptoms:
        symptom |= padded.str.contains(f" {word} ", regex=False).to_numpy(dtype=bool)
    return pd.DataFrame({REPORTED: (frame["serious"].astype("string") == "yes").fillna(False).to_numpy(dtype=bool),
                         OUTCOME: frame["outcome"].astype("string").isin(rules.outcomes).fillna(False).to_numpy(dtype=bool),
                         SYMPTOM: symptom}, index=frame.index)


def serious_inconsistent(frame: pd.DataFrame, rules: AefiSeriousness) -> np.ndarray:
    """True where the district wrote `serious: no` although the outcome or a symptom is a serious one."""
    c = serious_criteria(frame, rules)
    said_no = (frame["serious"].astype("string") == "no").fillna(False).to_numpy(dtype=bool)
    return said_no & (c[OUTCOME].to_numpy() | c[SYMPTOM].to_numpy())


def _person_keys(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    ids = _text(frame["id_number"]) if "id_number" in frame else pd.Series(None, index=frame.index, dtype=object)
    names = fold_series(frame["full_name"]).astype(object)
    births = day_text(frame["birth_date"])
    by_name = pd.Series([f"{n}|{b}" if isinstance(n, str) and n and b else None for n, b in zip(names, births, strict=True)],
                        index=frame.index, dtype=object)
    return ids, by_name


def vaccination_record(aefi: pd.DataFrame, vaccinations: pd.DataFrame) -> pd.DataFrame:
    """Per AEFI row: `has_record` (a dose given to that person: same ID number, else same folded name and
    birth date) and `product_given` (one of those doses was of the row's product). `vaccinations`: the doses
    given (`id_number`, `full_name`, `birth_date`, `product`)."""
    a_ids, a_names = _person_keys(aefi)
    # only the doses that can be these people's (same ID number or same birth date) are looked at closer:
    # a file of 1,500 cases against a million doses folds a few thousand names, not a million
    births = pd.to_datetime(pd.Series(vaccinations["birth_date"]), errors="coerce")
    keep = births.isin(pd.to_datetime(pd.Series(aefi["birth_date"]), errors="coerce").dropna().unique())
    if "id_number" in vaccinations:
        keep |= vaccinations["id_number"].isin([i for i in a_ids if i])
    vaccinations = vaccinations[keep.to_numpy(dtype=bool)]
    v_ids, v_names = _person_keys(vaccinations)
    products = vaccinations["product"].astype("string").fillna("").to_numpy(dtype=object)
    by_id: dict[str, set[str]] = {}
    by_name: dict[str, set[str]] = {}
    for key, name, product in zip(v_ids, v_names, products, strict=True):
        if key:
            by_id.setdefault(key, set()).add(product)
        if name:
            by_name.setdefault(name, set()).add(product)
    has, given = [], []
    for key, name, product in zip(a_ids, a_names, aefi["product"].astype("string").fillna(""), strict=True):
        found = (by_id.get(key, set()) if key else set()) | (by_name.get(name, set()) if name else set())
        has.append(bool(found))
        given.append(product in found or "" in found)   # a dose whose product the file did not give is no contradiction
    return pd.DataFrame({"has_record": has, "product_given": given}, index=aefi.index)


def intake_issues(clean: pd.DataFrame, vaccinations: pd.DataFrame, rules: AefiSeriousness) -> pd.DataFrame:
    """The AEFI rows' own reasons (row = 0-based position, column, code; config/reasons.yaml):
    `aefi_onset_before_vaccination` (a row error, on the onset), `aefi_serious_inconsistent` (on `serious`),
    `aefi_no_vaccination_record` (on the name) or `aefi_product_not_given` (on the product)."""
    parts: list[pd.DataFrame] = []

    def add(mask: np.ndarray, column: str, code: str) -> None:
        rows = np.flatnonzero(mask)
        if len(rows):
            parts.append(pd.DataFrame({"row": rows, "column": column, "code": code}))

    # A serious case must not wait for its times to be corrected (Decree 104/2016: investigated within 24 h):
    # its onset slip is a warning and the case opens; any other row with it is refused.
    early = onset_before_vaccination(clean)
    grave = serious_criteria(clean, rules).any(axis=1).to_numpy(dtype=bool)
    add(early & ~grave, "onset_at", "aefi_onset_before_vaccination")
    add(early & grave, "onset_at", "aefi_onset_before_vaccination_serious")
    add(serious_inconsistent(clean, rules), "serious", "aefi_serious_inconsistent")
    record = vaccination_record(clean, vaccinations)
    known = clean["full_name"].notna().to_numpy() & clean["product"].notna().to_numpy()
    add(known & ~record["has_record"].to_numpy(dtype=bool), "full_name", "aefi_no_vaccination_record")
    add(known & record["has_record"].to_numpy(dtype=bool) & ~record["product_given"].to_numpy(dtype=bool),
        "product", "aefi_product_not_given")
    if not parts:
        return pd.DataFrame({"row": pd.Series([], dtype="int64"), "column": pd.Series([], dtype=object),
                             "code": pd.Series([], dtype=object)})
    return pd.concat(parts, ignore_index=True).sort_values("row", kind="stable", ignore_index=True)


# ---------------------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------------------


def _keyed(secret: bytes, text: str, n: int = ID_HEX) -> str:
    return hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()[:n].upper()


def _case_keys(frame: pd.DataFrame) -> tuple[list[str], list[str | None], list[str | None]]:
    """Per row: its anchor (facility, product, dose number, local day of the injection), its person by ID
    number (None without one) and by folded name and birth date (None without both)."""
    days = instants(frame["vaccinated_at"]).dt.tz_convert("Asia/Ho_Chi_Minh").dt.strftime("%Y-%m-%d").fillna("")
    doses = pd.to_numeric(pd.Series(frame["dose_number"]), errors="coerce")
    dose_text = [str(int(d)) if pd.notna(d) else "" for d in doses]
    anchors = ["|".join(k) for k in zip(_text(frame["facility_code"]).fillna("").astype(str),
                                        _text(frame["product"]).fillna("").astype(str), dose_text, days, strict=True)]
    ids, by_name = _person_keys(frame)
    return anchors, [i if isinstance(i, str) and i else None for i in ids], list(by_name)


def case_groups(frame: pd.DataFrame,
                keys: tuple[list[str], list[str | None], list[str | None]] | None = None) -> np.ndarray:
    """Per row, the number of the case it is a version of. Rows of one facility, product, dose number and day
    of injection are one case when they give the same ID number, or when one of them gives none and both
    give the same folded name and birth date. Neither the onset nor (with an ID number) the name is in
    it: a follow-up that corrects them is the same case. Two different ID numbers are two people. `keys`:
    `_case_keys(frame)` when the caller has them."""
    anchors, ids, names = keys or _case_keys(frame)
    parent = list(range(len(frame)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(a: int, b: int) -> None:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    by_id: dict[tuple[str, str], int] = {}
    by_name: dict[tuple[str, str], list[int]] = {}
    for i, (anchor, pid, name) in enumerate(zip(anchors, ids, names, strict=True)):
        if pid is not None:
            join(i, by_id.setdefault((anchor, pid), i))
        if name is not None:
            by_name.setdefault((anchor, name), []).append(i)
    for rows in by_name.values():
        bare = [i for i in rows if ids[i] is None]
        for i in (rows if bare else []):   # a row without an ID number joins every row of its name and birth
            join(bare[0], i)
    return np.array([root(i) for i in range(len(frame))], dtype="int64")


def case_ids(frame: pd.DataFrame, secret: bytes) -> pd.Series:
    """A case's id, "AEFI-" and 12 hexadecimal characters of a keyed hash (HMAC-SHA256, `secret`: the
    installation's key, campaign.aefi.store.case_secret) of the natural key of the case's FIRST version
    (earliest received): its facility, product, dose number, day of injection and the person's ID number
    (else folded name and birth date). Stable across re-sent files and follow-ups (a later version that
    adds an ID number or corrects the onset or the name keeps the id), and without the key nobody who knows
    a person can compute it to test whether they are a case. Rows: `case_groups`."""
    if not len(frame):
        return pd.Series([], index=frame.index, dtype=object)
    keys = _case_keys(frame)
    anchors, ids, names = keys
    groups = case_groups(frame, keys)
    order = pd.DataFrame({"g": groups, "r": instants(frame["received_at"]).to_numpy() if "received_at" in frame
                          else pd.NaT, "s": frame["submission_id"].to_numpy() if "submission_id" in frame else 0,
                          "n": frame["row_number"].to_numpy() if "row_number" in frame else 0,
                          "i": np.arange(len(frame))}).sort_values(["r", "s", "n", "i"], kind="stable")
    first = order.drop_duplicates("g").set_index("g")["i"]
    out: dict[int, str] = {}
    for g, i in first.items():
        person = f"id:{ids[i]}" if ids[i] is not None else f"name:{names[i] or ''}"
        out[int(g)] = f"AEFI-{_keyed(secret, f'case|{anchors[i]}|{person}')}"
    return pd.Series([out[int(g)] for g in groups], index=frame.index, dtype=object)


def legacy_case_ids(frame: pd.DataFrame) -> pd.Series:
    """The ids cases had before the keyed hash (an unsalted SHA-256 of facility, folded name, birth date and
    onset): investigations uploaded quoting one still complete their case, and a deliverable the watch
    already escalated under one keeps it (campaign.aefi.run.provide)."""
    names = fold_series(frame["full_name"]).fillna("")
    births = day_text(frame["birth_date"]).fillna("")
    onsets = instants(frame["onset_at"]).dt.strftime("%Y-%m-%dT%H:%M").fillna("")
    out = [f"AEFI-{hashlib.sha256('|'.join(map(str, k)).encode()).hexdigest()[:8].upper()}"
           for k in zip(frame["facility_code"].fillna(""), names, births, onsets, strict=True)]
    return pd.Series(out, index=frame.index, dtype=object)


CASE_COLUMNS = ["case_id", "district", "facility_code", "product", "lot", "dose_number", "vaccinated_at", "onset_at",
                "outcome", "received_at", "submission_id", "row_number", *CRITERIA, "serious", "cluster_id",
                "cluster_case_id", "cluster_opens_at", "opens_at", "aliases"]


def cluster_case_id(founders: str, secret: bytes) -> str:
    """The id of a cluster's one investigation ("AEFI-C-" and 12 hexadecimal characters of a keyed hash of
    its founders, `clusters`' `founders`: the case ids of the cases that made it a cluster): what the
    district's investigation report quotes, as a case's id. Case ids are keyed on what a follow-up does not
    correct (facility, product, dose, day of injection, person), and the founders are the first `min_cases`
    members by the order they were received, so a follow-up correcting a member's onset (even across a
    local day, or so that it sorts first) does not rename the cluster: one deliverable, one notice."""
    return f"AEFI-C-{_keyed(secret, f'cluster|{founders}')}"


def clusters(cases: pd.DataFrame, rules: AefiCluster) -> pd.DataFrame:
    """Per case: `cluster` (its cluster's id, a case's `cluster_id`: "facility_lot:<facility>@<product>/<lot>:
    <first onset day>", "lot:...", "facility:...", or None) and `cluster_known_at` (when the cluster had its
    `min_cases`-th case in the province's hands: the received time of that case). A cluster is a run of
    counted cases (outcome in `rules.outcomes`) of one key whose consecutive onsets are at most
    `window_days` apart, with at least `min_cases` cases; a case in two keys' clusters belongs to the
    first of `rules.by`."""
    out = pd.DataFrame({"cluster": pd.Series(None, index=cases.index, dtype=object),
                        "founders": pd.Series(None, index=cases.index, dtype=object),
                        "cluster_known_at": pd.Series(pd.NaT, index=cases.index, dtype="datetime64[ns, UTC]")})
    if not len(cases):
        return out
    window = pd.Timedelta(days=rules.window_days)
    counted = cases["outcome"].astype("string").isin(rules.outcomes).fillna(False).to_numpy(dtype=bool)
    for by in rules.by:
        lot = cases["product"].astype("string") + "/" + cases["lot"].astype("string")
        key = {"lot": lot, "facility": cases["facility_code"].astype("string"),
               "facility_lot": cases["facility_code"].astype("string") + "@" + lot}[by]
        ids = cases["case_id"] if "case_id" in cases else pd.Series(cases.index.astype(str), index=cases.index)
        frame = pd.DataFrame({"key": key, "onset": cases["onset_at"], "received": cases["received_at"],
                              "case_id": ids})[counted].dropna(subset=["key", "onset"]).sort_values(["key", "onset"])
        keys = frame["key"].astype(object).to_numpy()
        gaps = frame["onset"].diff().to_numpy()
        new_run = np.ones(len(frame), dtype=bool)
        if len(frame) > 1:
            new_run[1:] = (keys[1:] != keys[:-1]) | (gaps[1:] > window.to_timedelta64())
        frame["run"] = np.cumsum(new_run)
        for _run, members in frame.groupby("run", sort=False):
            if len(members) < rules.min_cases:
                continue
            free = members.index[out.loc[members.index, "cluster"].isna()]
            if not len(free):
                continue
            # named by the cases that made it a cluster (the first `min_cases` received), so a later member
            # with an earlier onset does not rename it (its investigation is one deliverable, told once)
            # and identified by their case ids (`cluster_case_id`), which no follow-up's correction changes
            founders = members.sort_values(["received", "case_id"], kind="stable").iloc[:rules.min_cases]
            name = f"{by}:{members['key'].iloc[0]}:{founders['onset'].min().tz_convert('Asia/Ho_Chi_Minh'):%Y-%m-%d}"
            out.loc[free, "cluster"] = name
            out.loc[free, "founders"] = f"{by}|" + ",".join(sorted(founders["case_id"].astype(str)))
            out.loc[free, "cluster_known_at"] = founders["received"].iloc[-1]
    return out


def cases(rows: pd.DataFrame, rules: AefiRules, *, secret: bytes) -> pd.DataFrame:
    """One row per case in force (`CASE_COLUMNS`), from the AEFI rows of the current accepted submissions
    (with `district`, `submission_id`, `row_number`, `received_at`): its id, each criterion, `serious`
    (any of them), its cluster, and `opens_at`, when the province knew it was serious (the upload that
    brought it, or for a case serious only by its cluster the upload that completed the cluster)."""
    if not len(rows):
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in CASE_COLUMNS})
    frame = rows.reset_index(drop=True).copy()
    frame["onset_at"], frame["vaccinated_at"] = instants(frame["onset_at"]), instants(frame["vaccinated_at"])
    frame["received_at"] = instants(frame["received_at"])
    frame["case_id"] = case_ids(frame, secret)
    frame["legacy_id"] = legacy_case_ids(frame)
    frame = frame.sort_values(["received_at", "submission_id", "row_number"], kind="stable")
    # A case sent again with news (a follow-up: hospitalised, then died) is one case: its latest values, every
    # criterion any version met (a hospitalisation stays one after recovery), serious from the first upload
    # that said so.
    every = serious_criteria(frame, rules.seriousness)
    by_case = frame["case_id"]
    met = every.groupby(by_case).any()
    first_seen = frame["received_at"].groupby(by_case).min()
    first_grave = frame["received_at"].where(every.any(axis=1)).groupby(by_case).min()
    olds: dict[str, set[str]] = {}
    for case, old in zip(frame["case_id"], frame["legacy_id"], strict=True):
        olds.setdefault(case, set()).add(old)
    frame = frame.drop_duplicates("case_id", keep="last").reset_index(drop=True)
    frame[[REPORTED, OUTCOME, SYMPTOM]] = met.reindex(frame["case_id"])[[REPORTED, OUTCOME, SYMPTOM]].to_numpy(dtype=bool)
    frame["received_at"] = first_seen.reindex(frame["case_id"]).to_numpy()
    grave_at = pd.Series(first_grave.reindex(frame["case_id"]).to_numpy(), index=frame.index)
    crit = frame[[REPORTED, OUTCOME, SYMPTOM]]
    cl = clusters(frame, rules.cluster)
    frame["cluster_id"] = cl["cluster"].to_numpy()
    frame["cluster_case_id"] = [cluster_case_id(f, secret) if isinstance(f, str) else None for f in cl["founders"]]
    frame["cluster_opens_at"] = cl["cluster_known_at"].to_numpy()
    frame["aliases"] = pd.Series([tuple(sorted(olds[c])) for c in frame["case_id"]], index=frame.index, dtype=object)
    frame[CLUSTER] = cl["cluster"].notna().to_numpy()
    own = crit.any(axis=1).to_numpy()
    frame["serious"] = own | frame[CLUSTER].to_numpy()
    opens = grave_at.where(own, np.maximum(frame["received_at"], cl["cluster_known_at"]))
    frame["opens_at"] = opens.where(frame["serious"])
    return frame[CASE_COLUMNS].sort_values(["opens_at", "case_id"], na_position="last", ignore_index=True)


def criteria_of(case: pd.Series | dict[str, Any]) -> list[str]:
    """The criteria a case meets, in `CRITERIA` order."""
    return [c for c in CRITERIA if bool(case[c])]


# ---------------------------------------------------------------------------------------------------------
# Investigations: the 24-hour clock
# ---------------------------------------------------------------------------------------------------------


def investigated(done: pd.DataFrame, aliases: dict[str, str] | None = None) -> pd.DataFrame:
    """Per case id, its first investigation in force: `completed_at` (when the district's file reached the
    province), `investigated_at`, `causality`. `done`: rows of `aefi_investigation` (case_id,
    investigated_at, causality, received_at); `aliases`: an old id -> the id it now is (`id_aliases`)."""
    if not len(done):
        return pd.DataFrame({"case_id": [], "completed_at": [], "investigated_at": [], "causality": []})
    given = done["case_id"].astype("string").str.strip().str.upper()
    if aliases:
        given = given.map(lambda v: aliases.get(v, v) if isinstance(v, str) else v)
    frame = done.assign(case_id=given, completed_at=instants(done["received_at"]),
                        investigated_at=instants(done["investigated_at"]))
    frame = frame.sort_values("completed_at", kind="stable").drop_duplicates("case_id", keep="first")
    return frame[["case_id", "completed_at", "investigated_at", "causality"]].reset_index(drop=True)


def id_aliases(case_frame: pd.DataFrame) -> dict[str, str]:
    """The ids cases had before the keyed hash (`legacy_case_ids`) -> the id of what is investigated now: the
    case itself when it is serious on its own, else its cluster's investigation."""
    out: dict[str, str] = {}
    if not len(case_frame):
        return out
    for c in case_frame.to_dict("records"):
        target = c["case_id"] if _own(c) else c["cluster_case_id"]
        for old in c["aliases"] or ():
            if isinstance(target, str):
                out.setdefault(old, target)
    return out


def _own(case: pd.Series | dict[str, Any]) -> bool:
    """Serious on its own (any criterion but the cluster's)."""
    return bool(case[REPORTED] or case[OUTCOME] or case[SYMPTOM])


def subjects(case_frame: pd.DataFrame) -> pd.DataFrame:
    """What is investigated, one row each: every case serious on its own (`kind` "case": its id, its
    criteria, opened when the province knew it was serious) and every cluster ONCE (`kind` "cluster": the
    cluster's id `cluster_case_id`, its `members`, opened when its `min_cases`-th case reached the province;
    owed by the district of its first member, at the facility, product and lot its members share). A member
    serious on its own is also investigated as a case."""
    cols = ["case_id", "kind", "members", "district", "facility_code", "product", "lot", "outcome", "criteria",
            "cluster_id", "onset_at", "opens_at"]
    if not len(case_frame):
        return pd.DataFrame({c: [] for c in cols})
    rows = []
    serious = case_frame[case_frame["serious"].astype(bool)]
    for c in serious.to_dict("records"):
        if _own(c):
            rows.append({"case_id": c["case_id"], "kind": "case", "members": [c["case_id"]], "district": c["district"],
                         "facility_code": c["facility_code"], "product": c["product"], "lot": c["lot"],
                         "outcome": c["outcome"], "criteria": criteria_of(c), "cluster_id": c["cluster_id"],
                         "onset_at": c["onset_at"], "opens_at": c["opens_at"]})
    members = serious[serious["cluster_id"].notna()]
    for cluster, m in members.sort_values(["received_at", "case_id"], kind="stable").groupby("cluster_id", sort=False):

        def shared(col: str, m: pd.DataFrame = m) -> Any:
            values = m[col].dropna().unique()
            return values[0] if len(values) == 1 else None

        rows.append({"case_id": m["cluster_case_id"].iloc[0], "kind": "cluster", "members": sorted(m["case_id"]),
                     "district": m["district"].iloc[0], "facility_code": shared("facility_code"),
                     "product": shared("product"), "lot": shared("lot"), "outcome": None, "criteria": [CLUSTER],
                     "cluster_id": cluster, "onset_at": m["onset_at"].min(), "opens_at": m["cluster_opens_at"].min()})
    return pd.DataFrame(rows, columns=cols)


def state_of(opens_at: dt.datetime, due_at: dt.datetime, completed_at: dt.datetime | None, now: dt.datetime) -> str:
    """open / investigated_on_time / investigated_late / overdue at `now` (the deadlines' states, said
    as a case's)."""
    from campaign.deadlines.rules import state_of as deadline_state

    item = Deliverable("", "", "", opens_at, due_at, (), None, "")
    return _STATE_OF_DEADLINE[deadline_state(item, completed_at, now)]


INVESTIGATION_COLUMNS = ["case_id", "kind", "members", "district", "facility_code", "product", "lot", "outcome",
                         "criteria", "cluster_id", "onset_at", "opens_at", "due_at", "completed_at", "causality", "state",
                         "hours_left"]


def investigations(case_frame: pd.DataFrame, done: pd.DataFrame, rules: AefiInvestigation,
                   now: dt.datetime) -> pd.DataFrame:
    """One row per investigation (`subjects`: a case serious on its own, or a cluster once, with its
    `members`): case_id (the cluster's id for a cluster), kind, members, district, facility_code, product,
    lot, criteria, cluster_id, opens_at, due_at (`rules.hours` later), completed_at (None until its
    investigation arrived, or if it arrived after `now`), causality, state at `now`, hours_left (negative:
    overdue by). An investigation quoting a case's old id (`id_aliases`) completes it."""
    subj = subjects(case_frame)
    found = investigated(done, id_aliases(case_frame)).set_index("case_id") if len(done) else None
    rows = []
    for c in subj.to_dict("records"):
        opens = pd.Timestamp(c["opens_at"]).to_pydatetime()
        due = opens + dt.timedelta(hours=rules.hours)
        hit = found.loc[c["case_id"]] if found is not None and c["case_id"] in found.index else None
        completed = hit["completed_at"].to_pydatetime() if hit is not None else None
        if completed is not None and completed > now:
            completed = None
        rows.append({**{k: c[k] for k in ("case_id", "kind", "members", "district", "facility_code", "product", "lot",
                                          "outcome", "criteria", "cluster_id")},
                     "onset_at": pd.Timestamp(c["onset_at"]).to_pydatetime(), "opens_at": opens,
                     "due_at": due, "completed_at": completed,
                     "causality": hit["causality"] if completed is not None else None,
                     "state": state_of(opens, due, completed, now),
                     "hours_left": round((due - now).total_seconds() / 3600, 1)})
    return pd.DataFrame(rows, columns=INVESTIGATION_COLUMNS)


def deliverables(inv: pd.DataFrame, rules: AefiInvestigation, *, source_text: str,
                 keys: dict[str, str] | None = None, subject: Callable[[dict[str, Any]], str] = lambda r: r["case_id"],
                 ) -> list[tuple[Deliverable, dt.datetime | None, list[str]]]:
    """The watch's generated deliverables (the provider interface of campaign.deadlines.run): per serious
    case `aefi_investigation:<case id>`, owed by its district, due `rules.hours` after it opened, with
    when its investigation arrived and what is missing (the kind, labelled by the watch). `keys`: an
    investigation's id -> the key its deliverable already has in the outbox (an old id, `id_aliases`), so
    what was told once is not told again. `subject`: how the deliverable's name says what is investigated
    (campaign.aefi.present.subject_words)."""
    keys = keys or {}
    out = []
    for r in inv.to_dict("records"):
        item = Deliverable(generated_id(TEMPLATE, keys.get(r["case_id"], r["case_id"])),
                           f"{rules.name} ({subject(r)})",
                           r["district"], pd.Timestamp(r["opens_at"]).to_pydatetime(),
                           pd.Timestamp(r["due_at"]).to_pydatetime(), (), None, rules.escalation,
                           source=rules.source.by, source_text=source_text, district=r["district"])
        out.append((item, r["completed_at"], [] if r["completed_at"] is not None else [TEMPLATE]))
    return out


# ---------------------------------------------------------------------------------------------------------
# Rates per 100,000 doses
# ---------------------------------------------------------------------------------------------------------


def rates(case_frame: pd.DataFrame, doses: pd.DataFrame, rules: AefiLotFlag) -> dict[str, pd.DataFrame]:
    """Cases and serious cases per 100,000 doses given, `by_product` and `by_lot`: doses (`doses`: product,
    lot, doses), cases, serious, per_100k, serious_per_100k (None without doses) and, per lot, `flagged`
    (at least `min_doses` given and a rate past its threshold)."""
    out = {}
    dose_frame = pd.DataFrame({"product": _text(doses["product"]) if len(doses) else [],
                               "lot": _text(doses["lot"]) if len(doses) else [],
                               "doses": doses["doses"].astype("int64") if len(doses) else []})
    case_keys = pd.DataFrame({"product": _text(case_frame["product"]) if len(case_frame) else [],
                              "lot": _text(case_frame["lot"]) if len(case_frame) else [],
                              "cases": 1, "serious": case_frame["serious"].astype(bool).astype("int64")
                              if len(case_frame) else []})
    for level, keys in (("by_product", ["product"]), ("by_lot", ["product", "lot"])):
        d = dose_frame.fillna({"lot": ""}).groupby(keys, as_index=False)["doses"].sum()
        c = case_keys.fillna({"lot": ""}).groupby(keys, as_index=False)[["cases", "serious"]].sum()
        frame = d.merge(c, on=keys, how="outer")
        for col in ("doses", "cases", "serious"):
            frame[col] = frame[col].fillna(0).astype("int64")
        if "lot" in keys:
            frame["lot"] = frame["lot"].replace("", None)
        with np.errstate(divide="ignore", invalid="ignore"):
            frame["per_100k"] = np.where(frame["doses"] > 0, frame["cases"] * PER / frame["doses"], np.nan)
            frame["serious_per_100k"] = np.where(frame["doses"] > 0, frame["serious"] * PER / frame["doses"], np.nan)
        frame["per_100k"] = frame["per_100k"].round(1)
        frame["serious_per_100k"] = frame["serious_per_100k"].round(1)
        if level == "by_lot":
            frame["flagged"] = (frame["doses"] >= rules.min_doses) & (
                (frame["per_100k"] > rules.cases_per_100k) | (frame["serious_per_100k"] > rules.serious_per_100k))
        out[level] = frame.sort_values(keys, ignore_index=True)
    return out


# ---------------------------------------------------------------------------------------------------------
# The one summary every output shows
# ---------------------------------------------------------------------------------------------------------


def summary(case_frame: pd.DataFrame, inv: pd.DataFrame, rate: dict[str, pd.DataFrame],
            districts: list[str] | None = None) -> dict[str, Any]:
    """The figures of AEFI (one function: the report's II.3/II.4, the board and `campaign aefi` read these):
    cases, serious, clusters, investigations per state, doses, lots flagged; restricted to `districts`
    when given (rates are the province's: a lot crosses districts)."""
    cf, iv = case_frame, inv
    if districts is not None:
        cf = cf[cf["district"].isin(districts)] if len(cf) else cf
        iv = iv[iv["district"].isin(districts)] if len(iv) else iv
    states = iv["state"].value_counts().to_dict() if len(iv) else {}
    lots = rate["by_lot"]
    return {"cases": int(len(cf)), "serious": int(cf["serious"].astype(bool).sum()) if len(cf) else 0,
            "clusters": int(cf["cluster_id"].dropna().nunique()) if len(cf) else 0,
            "investigations": {s: int(states.get(s, 0)) for s in CASE_STATES},
            "doses": int(rate["by_product"]["doses"].sum()) if len(rate["by_product"]) else 0,
            "lots_flagged": [f"{r.product}/{r.lot}" for r in lots[lots["flagged"]].itertuples()] if len(lots) else []}
