"""The people who staff the sessions: each facility's pool, their training, and one team per table per
session, with the readiness problems planted in the teams."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from campaign.synth import names as nm
from campaign.synth.world.identity import birth_dates_for_ages, cccd_numbers, phones

ROLES = ["reception", "screening", "vaccinator", "recorder", "observation"]
CLINICAL_ROLES = ["screening", "vaccinator", "observation"]
SUPPORT_ROLES = ["reception", "recorder"]


def draw_staff_pool(rng: np.random.Generator, fac: pd.DataFrame, districts: pd.DataFrame) -> pd.DataFrame:
    """The people a facility can put in its teams: health staff for clinical roles, volunteers (and some
    staff) for reception and recording. Sized so that no one is double-booked by accident."""
    t = fac["vaccination_tables"].to_numpy()
    ftype = fac["facility_type"].to_numpy()
    extra = np.where(ftype == "district_centre", 10, np.where(ftype == "hospital", 6, 1))
    n_clin = np.maximum(3 * t, 2) + extra + rng.integers(0, 3, len(fac))
    n_supp = np.maximum(2 * t, 1) + rng.integers(0, 3, len(fac))
    fidx = np.concatenate([np.repeat(np.arange(len(fac)), n_clin), np.repeat(np.arange(len(fac)), n_supp)])
    pool_kind = np.concatenate([np.zeros(n_clin.sum(), int), np.ones(n_supp.sum(), int)])
    order = np.lexsort((pool_kind, fidx))
    fidx, pool_kind = fidx[order], pool_kind[order]
    n = len(fidx)
    eth_share = fac["district_code"].map(districts.set_index("code")["ethnic_share"]).to_numpy()[fidx]
    ethnic = np.where(rng.random(n) < eth_share * 0.3, 1 + (rng.random(n) < 0.3), 0)
    fem = rng.random(n) < 0.6
    names = nm.sample_names(rng, fem, ethnic)
    pool = pd.DataFrame({"facility_code": fac["facility_code"].to_numpy()[fidx],
                         "district_code": fac["district_code"].to_numpy()[fidx],
                         "_pool": np.where(pool_kind == 0, "clinical", "support"), "full_name": names,
                         "_female": fem, "_ethnic": ethnic})
    # Unique names within a facility: the training and staff natural keys contain the name.
    for _ in range(20):
        dup = pool.duplicated(["facility_code", "full_name"]).to_numpy()
        if not dup.any():
            break
        k = int(dup.sum())
        pool.loc[dup, "full_name"] = nm.sample_names(rng, pool.loc[dup, "_female"].to_numpy(), pool.loc[dup, "_ethnic"].to_numpy())
    pool["_slot"] = pool.groupby(["facility_code", "_pool"]).cumcount()
    clinical = pool["_pool"].eq("clinical").to_numpy()
    vol = (~clinical) & (rng.random(n) < 0.7)
    pool["staff_type"] = np.where(vol, "volunteer", "health_staff")
    k = len(pool)
    pool["main_role"] = np.where(clinical, np.array(CLINICAL_ROLES, dtype=object)[pool["_slot"].to_numpy() % 3],
                                 np.array(SUPPORT_ROLES, dtype=object)[pool["_slot"].to_numpy() % 2])
    pool["phone"] = phones(rng, k)
    birth = birth_dates_for_ages(rng, rng.integers(20, 58, k), dt.date(2021, 7, 29))
    has_id = rng.random(k) < 0.7
    pool["id_number"] = np.where(has_id, cccd_numbers(rng, birth, pool["_female"].to_numpy()), "")
    pool["person_key"] = "S" + pd.Series(np.arange(k)).astype(str).str.zfill(6).to_numpy()
    return pool.reset_index(drop=True)


def draw_training(rng: np.random.Generator, pool: pd.DataFrame, days: list[dt.date]) -> tuple[pd.DataFrame, set[str]]:
    n = len(pool)
    start = np.datetime64(days[0] - dt.timedelta(days=9))
    tdate = start + rng.integers(0, 8, n).astype("timedelta64[D]")
    completed = rng.random(n) >= 0.05
    tr = pd.DataFrame({
        "full_name": pool["full_name"], "staff_type": pool["staff_type"], "facility_code": pool["facility_code"],
        "role_trained": pool["main_role"], "training_date": tdate, "completed": completed,
        "phone": pool["phone"], "id_number": pool["id_number"], "district_code": pool["district_code"],
        "person_key": pool["person_key"],
    })
    tr["_anomaly"] = np.where(completed, "", "training_incomplete")
    tr["_note"] = ""
    # Some staff trained for a second role (recorders learn reception too).
    second = pool["main_role"].eq("recorder").to_numpy() & (rng.random(n) < 0.3)
    extra = tr[second].copy()
    extra["role_trained"] = "reception"
    extra["_anomaly"] = ""
    tr = pd.concat([tr, extra], ignore_index=True)
    # ~3% of the pool never attended: no training row (the team lists still use them).
    untrained_keys = pool["person_key"].to_numpy()[rng.random(n) < 0.03]
    tr = tr[~tr["person_key"].isin(untrained_keys)]
    tr = tr.sort_values(["district_code", "facility_code", "training_date"], kind="stable").reset_index(drop=True)
    return tr, set(untrained_keys)


def draw_teams(rng: np.random.Generator, fac: pd.DataFrame, pool: pd.DataFrame, days: list[dt.date],
           untrained: set[str]) -> tuple[pd.DataFrame, list[tuple]]:
    """One team (ê kíp) per vaccination table per session (morning, afternoon) of the first two days."""
    act = fac[fac["vaccination_tables"] > 0][["facility_code", "district_code", "vaccination_tables"]]
    sessions = pd.DataFrame([(d, p) for d in days[:2] for p in ("morning", "afternoon")],
                            columns=["session_date", "session_part"])
    sessions["_sidx"] = np.arange(len(sessions))
    teams = act.merge(sessions, how="cross")
    teams = teams.loc[teams.index.repeat(teams["vaccination_tables"])].copy()
    teams["team_no"] = teams.groupby(["facility_code", "_sidx"]).cumcount() + 1
    roles = pd.DataFrame({"role": ROLES, "_ridx": np.arange(5)})
    st = teams.merge(roles, how="cross")
    # Slot in the facility's clinical / support pool: distinct within a session by construction.
    is_clin = st["role"].isin(CLINICAL_ROLES).to_numpy()
    clin_pos = st["role"].map({r: i for i, r in enumerate(CLINICAL_ROLES)}).fillna(0).to_numpy().astype(int)
    supp_pos = st["role"].map({r: i for i, r in enumerate(SUPPORT_ROLES)}).fillna(0).to_numpy().astype(int)
    t0 = st["team_no"].to_numpy() - 1
    sizes = pool.groupby(["facility_code", "_pool"]).size()
    fcodes = st["facility_code"].to_numpy()
    n_clin = sizes.xs("clinical", level="_pool").reindex(fcodes).to_numpy()
    n_supp = sizes.xs("support", level="_pool").reindex(fcodes).to_numpy()
    shift = st["_sidx"].to_numpy() // 2  # the second day rotates people
    slot = np.where(is_clin, (t0 * 3 + clin_pos + shift) % n_clin, (t0 * 2 + supp_pos + shift) % n_supp)
    key = pd.MultiIndex.from_arrays([fcodes, np.where(is_clin, "clinical", "support"), slot])
    lookup = pool.set_index(["facility_code", "_pool", "_slot"])
    picked = lookup.reindex(key)
    st["full_name"] = picked["full_name"].to_numpy()
    st["staff_type"] = picked["staff_type"].to_numpy()
    st["phone"] = picked["phone"].to_numpy()
    st["id_number"] = picked["id_number"].to_numpy()
    st["person_key"] = picked["person_key"].to_numpy()
    sd = st["session_date"].to_numpy().astype("datetime64[D]")
    st["updated_on"] = sd - np.timedelta64(1, "D")
    st["session_date"] = sd
    st["_anomaly"] = np.where(st["person_key"].isin(untrained), "staff_untrained", "")
    st["_note"] = ""
    st = st.reset_index(drop=True)

    # Planted readiness problems (a handful, by construction):
    multi = st[st["vaccination_tables"] >= 2]["facility_code"].unique()
    picks = rng.choice(multi, 4, replace=False)
    # (1) double-booked inside one facility: team 2's vaccinator is team 1's vaccinator, same session.
    for f in picks[:2]:
        m1 = (st.facility_code == f) & (st._sidx == 0) & (st.team_no == 1) & (st.role == "vaccinator")
        m2 = (st.facility_code == f) & (st._sidx == 0) & (st.team_no == 2) & (st.role == "vaccinator")
        src = st.index[m1][0]
        dst = st.index[m2][0]
        for col in ("full_name", "staff_type", "phone", "id_number", "person_key"):
            st.at[dst, col] = st.at[src, col]
        st.at[dst, "_anomaly"] = "staff_double_booked"
        st.at[dst, "_note"] = "same_facility"
    # (2) double-booked across facilities: a district-centre screener also listed at a commune station.
    ttyt = st[(st.facility_code.str.endswith("TTYT-01")) & (st._sidx == 1) & (st.role == "screening")]
    if len(ttyt):
        src = ttyt.index[0]
        d = st.at[src, "district_code"]
        cand = st.index[(st.district_code == d) & st.facility_code.str.contains("-TYT-") & (st._sidx == 1)
                        & (st.role == "screening")]
        if len(cand):
            dst = cand[0]
            for col in ("full_name", "staff_type", "phone", "id_number", "person_key"):
                st.at[dst, col] = st.at[src, col]
            st.at[dst, "_anomaly"] = "staff_double_booked"
            st.at[dst, "_note"] = "other_facility"
    # (3) a team without its observation/AEFI member
    missing = []
    for f in picks[2:4]:
        m = (st.facility_code == f) & (st._sidx == 2) & (st.team_no == 1) & (st.role == "observation")
        missing.extend(st.index[m][:1])
    # (4) a facility whose teams were not updated before the session (updated five days earlier)
    stale_fac = rng.choice(np.setdiff1d(multi, picks), 1)[0]
    stale = st.facility_code.eq(stale_fac).to_numpy()
    st.loc[stale, "updated_on"] = st.loc[stale, "session_date"] - np.timedelta64(5, "D")
    st.loc[stale & st["_anomaly"].eq("").to_numpy(), "_anomaly"] = "team_not_updated"
    st = st.drop(index=missing)
    missing_role = [(str(f), days[1], "morning", 1, "observation") for f in picks[2:4]]
    st = st.sort_values(["district_code", "facility_code", "_sidx", "team_no", "_ridx"], kind="stable")
    return st.drop(columns=["vaccination_tables"]).reset_index(drop=True), missing_role
