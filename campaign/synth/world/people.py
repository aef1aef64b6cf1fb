"""People and their target-list entries: everybody once in their district, plus the planted duplicate
listings (within a district and across two) whose truth the manifest records."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from campaign.synth import names as nm
from campaign.synth.world.draw import digit_strings, int_digits, object_frame, table_digits, weighted_index
from campaign.synth.world.identity import (
    BIRTH_PROVINCES,
    CMND_PREFIX,
    PRIORITY_SHARES,
    birth_dates_for_ages,
    cccd_numbers,
    phones,
    sample_ages,
)


def _workplaces(rng: np.random.Generator, groups: np.ndarray, d_idx: np.ndarray, commune_idx: np.ndarray,
                districts: pd.DataFrame, communes: pd.DataFrame) -> np.ndarray:
    """An employer for the occupational groups: an organisation word + the commune or district name
    (both suffixes formatted once per unit, picked by index)."""
    n = len(groups)
    out = np.full(n, "", dtype=object)
    c_suffix = (" " + communes["type"].astype(str).str.lower() + " " + communes["short_name"].astype(str)).to_numpy(dtype=object)
    d_suffix = (" " + districts["short_name"].astype(str)).to_numpy(dtype=object)
    table = {
        1: (["Trạm Y tế", "Trung tâm Y tế", "Phòng khám Đa khoa"], 0.6),
        2: (["Ban Chỉ đạo phòng chống dịch", "Tổ Covid cộng đồng", "Đội phản ứng nhanh"], 0.7),
        3: (["Ban Chỉ huy Quân sự", "Đồn Biên phòng"], 0.0),
        4: (["Công an"], 0.5),
        5: (["Sở Ngoại vụ"], 0.0),
        6: (["Chi cục Hải quan", "Đồn Biên phòng cửa khẩu"], 0.0),
        7: (["Điện lực", "Bến xe", "Công ty Cấp nước", "Bưu điện"], 0.0),
        8: (["Trường Tiểu học", "Trường THCS", "Trường THPT", "UBND", "Trường Mầm non"], 0.7),
        13: (["Công ty TNHH Nông sản", "Chợ", "Công ty Cổ phần Cà phê", "Công ty Xây dựng"], 0.5),
    }
    for g, (opts, p_commune) in table.items():  # 9 groups, each on its own rows only
        m = np.flatnonzero(groups == g)
        if not len(m):
            continue
        b = np.array(opts, dtype=object)[rng.integers(0, len(opts), len(m))]
        at_commune = ((rng.random(len(m)) < p_commune) | (b == "Trạm Y tế")) & (b != "Trung tâm Y tế")
        out[m] = b + np.where(at_commune, c_suffix[commune_idx[m]], d_suffix[d_idx[m]])
    out[rng.random(n) < 0.1] = ""  # the column is optional and often left empty
    return out


def _insurance(rng: np.random.Generator, groups: np.ndarray, ethnic: np.ndarray, ages: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BHYT: 15 characters (2-letter object code, benefit level 1-5, province 64, 10-digit social insurance
    number) for most, the 10-digit number alone for some, none for a third."""
    n = len(groups)
    code = np.full(n, "GD", dtype=object)
    code[(groups <= 4) | (groups == 8)] = "HC"
    code[(groups == 7) | (groups == 13)] = "DN"
    code[groups == 11] = "HN"
    code[ages >= 60] = "HT"
    code[ethnic > 0] = "DT"
    level = np.where((code == "DT") | (code == "HN"), "2", np.where(code == "HT", "3", "4")).astype(object)
    prov = np.where(rng.random(n) < 0.93, 64, 52)
    sin = digit_strings(int_digits(prov, 2), rng.integers(0, 10, (n, 8)))  # the social insurance number
    kind = rng.choice(3, n, p=[0.6, 0.05, 0.35])
    value = np.full(n, "", dtype=object)
    full = np.flatnonzero(kind == 0)
    # 2-letter object code + benefit level + province of issue (2 digits) + the 10-digit social insurance number
    value[full] = code[full] + level[full] + prov.astype(str).astype(object)[full] + sin[full].astype(object)
    value[kind == 1] = sin[kind == 1]
    return value, sin


def draw_people(rng: np.random.Generator, n: int, districts: pd.DataFrame, communes: pd.DataFrame,
            fac: pd.DataFrame, on: dt.date) -> pd.DataFrame:
    w = districts["population"].to_numpy(dtype=float)
    counts = rng.multinomial(n, w / w.sum())
    d_idx = np.repeat(np.arange(len(districts)), counts)
    commune_idx = np.empty(n, dtype=np.int64)
    start = 0
    for k, dcode in enumerate(districts["code"]):  # 17 iterations
        cand = np.flatnonzero(communes["district_code"].to_numpy() == dcode)
        cw = rng.gamma(3.0, 1.0, len(cand)) * np.where(communes["urban"].to_numpy()[cand], 1.8, 1.0)
        commune_idx[start:start + counts[k]] = rng.choice(cand, counts[k], p=cw / cw.sum())
        start += counts[k]
    # Lists are grouped by commune: sort by (district, commune), random within a commune.
    order = np.lexsort((rng.random(n), commune_idx, d_idx))
    d_idx, commune_idx = d_idx[order], commune_idx[order]

    urban = communes["urban"].to_numpy()[commune_idx]
    share = districts["ethnic_share"].to_numpy()[d_idx] * np.where(urban, 0.4, 1.15)
    main = districts["ethnic_group"].to_numpy()[d_idx]
    ethnic = np.where(rng.random(n) < share, np.where(rng.random(n) < 0.85, main, 3 - main), 0)
    female = rng.random(n) < 0.505
    groups = rng.choice(16, n, p=PRIORITY_SHARES) + 1
    ages = sample_ages(rng, groups)
    birth = birth_dates_for_ages(rng, ages, on)
    full_name = nm.sample_names(rng, female, ethnic)

    # Identity documents: CCCD (new chip cards, spring 2021), old CMND, or none (more often in villages).
    p_none = np.where(ethnic > 0, 0.3, 0.15)
    u = rng.random(n)
    id_kind = np.where(u < p_none, "", np.where(u < p_none + 0.4, "cmnd", "cccd")).astype(object)
    bprov = np.where(ethnic > 0, 0, weighted_index(rng, BIRTH_PROVINCES, n))  # index 0 is Gia Lai (064)
    cccd = cccd_numbers(rng, birth, female, bprov)
    cmnd_prefix = [CMND_PREFIX.get(code, "23") for code in BIRTH_PROVINCES]
    cmnd = digit_strings(table_digits(cmnd_prefix, bprov), rng.integers(0, 10, (n, 7)))
    id_number = np.where(id_kind == "cccd", cccd, np.where(id_kind == "cmnd", cmnd, "")).astype(object)

    phone = phones(rng, n)
    # Households share a phone (the elderly give a child's number): copy one from the same district.
    share_phone = rng.random(n) < 0.05
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    other = starts[d_idx] + (rng.random(n) * counts[d_idx]).astype(np.int64)
    phone = np.where(share_phone, phone[other], phone)

    insurance, sin = _insurance(rng, groups, ethnic, ages)
    dcode = districts["code"].to_numpy()[d_idx]
    cshort = communes["short_name"].to_numpy(dtype=object)[commune_idx]
    workplace = _workplaces(rng, groups, d_idx, commune_idx, districts, communes)

    # Dose 1 already given (health workers first, from March 2021; a few others).
    has_d1 = rng.random(n) < np.where(groups == 1, 0.65, np.where(np.isin(groups, [2, 3, 4]), 0.2, 0.02))
    d1_date = np.datetime64("2021-03-08") + rng.integers(0, 120, n).astype("timedelta64[D]")
    d1_lots = np.array(["ABV5300", "ABV5811", "ABV2070", "ABW0411"], dtype=object)
    ttyt = "64" + dcode + "-TTYT-01"
    people = object_frame({
        "person_key": np.arange(n, dtype=np.int64),  # shown as P0000042 in the manifest
        "district_code": dcode, "commune_code": communes["code"].to_numpy(dtype=object)[commune_idx],
        "commune_name": communes["name"].to_numpy(dtype=object)[commune_idx], "commune_short": cshort,
        "full_name": full_name, "birth_date": birth, "female": female, "ethnic": ethnic,
        "priority_group": groups, "workplace": workplace, "phone": phone, "id_kind": id_kind,
        "id_number": id_number, "cccd": cccd, "cmnd": cmnd, "insurance_number": insurance, "social_insurance": sin,
        "address_detail": nm.sample_addresses(rng, urban, ethnic), "urban": urban,
        "dose1_product": np.where(has_d1, "astrazeneca", "").astype(object),
        "dose1_date": np.where(has_d1, d1_date, np.datetime64("NaT")),
        "dose1_lot": np.where(has_d1, d1_lots[rng.integers(0, 4, n)], "").astype(object),
        "dose1_site": np.where(has_d1, ttyt, ""),
    })
    return people


def list_entries(rng: np.random.Generator, people: pd.DataFrame, districts: pd.DataFrame,
             communes: pd.DataFrame, rate_within: float = 0.004, rate_cross: float = 0.003) -> pd.DataFrame:
    """Target-list rows: everybody once in their district, plus people listed twice (same district,
    typed differently) and people listed by two districts (moved, or registered at work and at home)."""
    n = len(people)
    base = people.copy()
    base["_dup"] = ""
    base["_variation"] = ""
    base["_listed_district"] = base["district_code"]

    # Within-district repeats: a clean but different rendition (no planted defect needed to tell).
    k1 = max(2, int(round(n * rate_within)))
    idx1 = rng.choice(n, k1, replace=False)
    w = people.iloc[idx1].copy()
    variation = rng.integers(0, 4, k1)
    var_names = np.array(["name_ascii+phone", "id_dropped", "other_phone", "name_ascii+id_dropped"], dtype=object)
    w["_variation"] = var_names[variation]
    ascii_names = nm.map_distinct(w["full_name"].to_numpy(), nm.strip_diacritics)
    w["full_name"] = np.where(np.isin(variation, [0, 3]), ascii_names, w["full_name"])
    new_phone = phones(rng, k1)
    w["phone"] = np.where(np.isin(variation, [0, 2]), new_phone, w["phone"])
    # dropping the ID alone may leave the natural key equal if the person had none: change the phone too
    no_id = w["id_number"].eq("").to_numpy()
    w["phone"] = np.where(np.isin(variation, [1, 3]) & no_id, new_phone, w["phone"])
    w["id_number"] = np.where(np.isin(variation, [1, 3]), "", w["id_number"])
    w["priority_group"] = np.where(rng.random(k1) < 0.3, rng.integers(1, 17, k1), w["priority_group"])
    w["_dup"] = "within"
    w["_listed_district"] = w["district_code"]

    # Cross-district: CMND in one list and CCCD in the other; the name typed without diacritics in one.
    k2 = max(2, int(round(n * rate_cross))) if rate_cross > 0 and len(districts) > 1 else 0
    if k2 == 0:
        entries = pd.concat([base, w], ignore_index=True)
        return _finish_entries(rng, entries)
    idx2 = rng.choice(np.setdiff1d(np.arange(n), idx1), k2, replace=False)
    c = people.iloc[idx2].copy()
    dcodes = districts["code"].to_numpy()
    home = c["district_code"].to_numpy()
    shift = rng.integers(1, len(dcodes), k2)
    pos = np.searchsorted(dcodes, home)
    other = dcodes[(pos + shift) % len(dcodes)]
    # the other listing lives in a commune of the other district
    comm_by_d = {d: communes.index[communes.district_code == d].to_numpy() for d in dcodes}
    cidx = np.array([comm_by_d[d][int(rng.integers(0, len(comm_by_d[d])))] for d in other])  # k2 small
    c["district_code"] = other
    c["_listed_district"] = other
    c["commune_code"] = communes["code"].to_numpy(dtype=object)[cidx]
    c["commune_name"] = communes["name"].to_numpy(dtype=object)[cidx]
    c["commune_short"] = communes["short_name"].to_numpy(dtype=object)[cidx]
    c["address_detail"] = nm.sample_addresses(rng, communes["urban"].to_numpy()[cidx], c["ethnic"].to_numpy())
    # Which side carries the CCCD and which side the ASCII name.
    cccd_here = rng.random(k2) < 0.5
    ascii_here = rng.random(k2) < 0.5
    orig_ids = np.where(cccd_here, c["cmnd"], c["cccd"])  # the original listing gets the other document
    c["id_number"] = np.where(cccd_here, c["cccd"], c["cmnd"])
    c["id_kind"] = np.where(cccd_here, "cccd", "cmnd")
    ascii_c = nm.map_distinct(c["full_name"].to_numpy(), nm.strip_diacritics)
    c_orig_names = c["full_name"].to_numpy()
    c["full_name"] = np.where(ascii_here, ascii_c, c_orig_names)
    c["phone"] = np.where(rng.random(k2) < 0.3, phones(rng, k2), c["phone"])
    c["_dup"] = "cross"
    c["_variation"] = np.where(cccd_here, "cccd_here", "cmnd_here") + np.where(ascii_here, "+name_ascii", "")
    # The original listing: the other document, and the ASCII name if this copy keeps the diacritics.
    base.loc[base.index[idx2], "id_number"] = orig_ids
    base.loc[base.index[idx2], "id_kind"] = np.where(cccd_here, "cmnd", "cccd")
    base.loc[base.index[idx2], "full_name"] = np.where(ascii_here, c_orig_names, ascii_c)
    base.loc[base.index[idx2], "_dup"] = "cross_origin"
    base.loc[base.index[idx2], "_variation"] = np.where(cccd_here, "cmnd_here", "cccd_here") + np.where(ascii_here, "", "+name_ascii")

    entries = pd.concat([base, w, c], ignore_index=True)
    return _finish_entries(rng, entries)


def _finish_entries(rng: np.random.Generator, entries: pd.DataFrame) -> pd.DataFrame:
    # Sort into each district's list: by commune, random order inside (so repeats are not always adjacent).
    order = np.lexsort((rng.random(len(entries)), entries["commune_code"].to_numpy(dtype=object).astype(np.int64),
                        entries["_listed_district"].to_numpy(dtype=object).astype(np.int64)))
    entries = entries.iloc[order].reset_index(drop=True)
    entries["entry_id"] = np.arange(len(entries))
    return entries
