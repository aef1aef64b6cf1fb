"""Events of the first campaign days: vaccinations (screening, product and lot from the facility's
stock, dose 2 when dose 1 is old enough), AEFI, and backfill (vaccinated but never recorded)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from campaign.config import CampaignConfig

DEFERRAL_REASONS = {
    "deferred": ["Sốt 38,5 độ", "Huyết áp cao (170/100)", "Đang mắc bệnh cấp tính", "Mới khỏi bệnh, chưa đủ 14 ngày",
                 "Đang mang thai", "Đang điều trị kháng sinh"],
    "contraindicated": ["Tiền sử phản vệ độ 3 với vắc xin", "Dị ứng với thành phần của vắc xin"],
    "referred": ["Suy giảm miễn dịch, chuyển bệnh viện", "Tiền sử dị ứng nặng, chuyển bệnh viện",
                 "Bệnh nền chưa ổn định, chuyển bệnh viện"],
}
AEFI_MILD = ["Sốt nhẹ", "Đau tại chỗ tiêm", "Mệt mỏi", "Đau đầu", "Buồn nôn", "Đau cơ", "Sưng đỏ tại chỗ tiêm",
             "Sốt 38 độ, đau đầu", "Chóng mặt nhẹ"]
AEFI_SERIOUS = ["Sốc phản vệ", "Khó thở, tím tái", "Co giật", "Tụt huyết áp, lơ mơ"]


def _session_times(rng: np.random.Generator, day_idx: np.ndarray, part: np.ndarray, days: list[dt.date],
                   campaign: CampaignConfig) -> np.ndarray:
    def minutes(hhmm: str) -> int:
        h, m = hhmm.split(":")
        return int(h) * 60 + int(m)

    s = campaign.teams.sessions
    m_start, m_end = minutes(s["morning"].start), minutes(s["morning"].end)
    a_start, a_end = minutes(s["afternoon"].start), minutes(s["afternoon"].end)
    n = len(day_idx)
    mins = np.where(part == 0, rng.integers(m_start, m_end - 30, n), rng.integers(a_start, a_end - 30, n))
    day = np.array([np.datetime64(d, "m") for d in days])[day_idx]
    return day + mins.astype("timedelta64[m]")


def draw_events(rng: np.random.Generator, people: pd.DataFrame, fac: pd.DataFrame, stock: pd.DataFrame,
            campaign: CampaignConfig, days: list[dt.date]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    n = len(people)
    # Who turns up in the first three days: ~15% of the list, health and front-line workers first.
    p_come = np.where(people["priority_group"].to_numpy() <= 4, 0.45, 0.12)
    come = rng.random(n) < p_come
    vidx = np.flatnonzero(come)
    v = people.iloc[vidx].reset_index(drop=True)
    k = len(v)
    # Facility: the commune's station, else the district centre (stations without tables send people there).
    tyt_of = fac[fac.facility_type.eq("commune_station")].set_index("commune_code")
    station = v["commune_code"].map(tyt_of["facility_code"]).to_numpy(dtype=object)
    tables = v["commune_code"].map(tyt_of["vaccination_tables"]).fillna(0).to_numpy()
    centre = ("64" + v["district_code"] + "-TTYT-01").to_numpy(dtype=object)
    use_centre = (tables == 0) | (rng.random(k) < 0.15) | (v["priority_group"].to_numpy() == 1)
    fcode = np.where(use_centre, centre, station)
    # Dose 2 for those whose dose 1 is old enough; everyone else dose 1.
    d1 = v["dose1_date"].to_numpy().astype("datetime64[D]")
    has_d1 = ~np.isnat(d1)
    day_idx = rng.integers(0, len(days), k)
    session_day = np.array([np.datetime64(d) for d in days])[day_idx]
    min_gap = np.timedelta64(campaign.vaccine_products["astrazeneca"].interval_days[0], "D") \
        if "astrazeneca" in campaign.vaccine_products else np.timedelta64(56, "D")
    dose = np.where(has_d1 & (session_day - d1 >= min_gap), 2, 1)
    keep = ~(has_d1 & (dose == 1))  # dose 1 given but too early for dose 2: not scheduled yet
    v, fcode, day_idx, dose = v[keep].reset_index(drop=True), fcode[keep], day_idx[keep], dose[keep]
    k = len(v)
    part = rng.integers(0, 2, k)
    at = _session_times(rng, day_idx, part, days, campaign)
    screen = rng.choice(4, k, p=[0.95, 0.035, 0.005, 0.01])
    screen_codes = np.array(["eligible", "deferred", "contraindicated", "referred"], dtype=object)[screen]
    vaccinated = screen == 0
    reason = np.full(k, "", dtype=object)
    for code in ("deferred", "contraindicated", "referred"):  # 3 iterations
        m = screen_codes == code
        opts = np.array(DEFERRAL_REASONS[code], dtype=object)
        reason[m] = opts[rng.integers(0, len(opts), int(m.sum()))]
    # Product and lot from the facility's stock: its first (AstraZeneca) lot, sometimes its second product.
    first = stock.groupby("facility_code").nth(0).set_index("facility_code")
    second = stock.groupby("facility_code").nth(1).set_index("facility_code")
    p1 = pd.Series(fcode).map(first["product"]).to_numpy(dtype=object)
    l1 = pd.Series(fcode).map(first["lot"]).to_numpy(dtype=object)
    p2 = pd.Series(fcode).map(second["product"]).fillna(pd.Series(fcode).map(first["product"])).to_numpy(dtype=object)
    l2 = pd.Series(fcode).map(second["lot"]).fillna(pd.Series(fcode).map(first["lot"])).to_numpy(dtype=object)
    use2 = (dose == 1) & (rng.random(k) < 0.4)
    product = np.where(use2, p2, p1)
    lot = np.where(use2, l2, l1)
    vac = pd.DataFrame({
        "facility_code": fcode, "district_code": v["district_code"], "person_key": v["person_key"],
        "full_name": v["full_name"], "birth_date": v["birth_date"], "sex": np.where(v["female"], "female", "male"),
        "id_number": v["id_number"], "phone": v["phone"],
        "session_date": np.array([np.datetime64(d) for d in days])[day_idx], "screening_result": screen_codes,
        "vaccinated": vaccinated, "product": np.where(vaccinated | (screen_codes == "deferred"), product, ""),
        "lot": np.where(vaccinated, lot, ""), "dose_number": dose,
        "vaccinated_at": np.where(vaccinated, at, np.datetime64("NaT")), "deferral_reason": reason,
        "_day": day_idx, "_anomaly": "", "_note": "",
    })
    vac.loc[~vac["vaccinated"], "product"] = ""
    vac = vac.sort_values(["district_code", "facility_code", "vaccinated_at"], kind="stable").reset_index(drop=True)

    # AEFI: ~1.5% of the vaccinated, almost all mild; at least one serious case.
    done = vac[vac["vaccinated"]].reset_index(drop=True)
    m = rng.random(len(done)) < 0.015
    if not m.any() and len(done):
        m[0] = True
    a = done[m].copy().reset_index(drop=True)
    ka = len(a)
    serious = rng.random(ka) < 0.03
    if ka and not serious.any():
        serious[int(rng.integers(0, ka))] = True
    delay = np.where(serious, rng.integers(5, 60, ka), rng.integers(30, 36 * 60, ka)).astype("timedelta64[m]")
    a["onset_at"] = a["vaccinated_at"].to_numpy().astype("datetime64[m]") + delay
    mild = np.array(AEFI_MILD, dtype=object)[rng.integers(0, len(AEFI_MILD), ka)]
    sev = np.array(AEFI_SERIOUS, dtype=object)[rng.integers(0, len(AEFI_SERIOUS), ka)]
    a["symptoms"] = np.where(serious, sev, mild)
    a["serious"] = serious
    a["outcome"] = np.where(serious, np.where(rng.random(ka) < 0.7, "hospitalised", "recovered"),
                            np.where(rng.random(ka) < 0.8, "recovered", "monitoring"))
    a["_anomaly"] = np.where(serious, "aefi_serious", "")
    aefi = a[["facility_code", "district_code", "person_key", "full_name", "birth_date", "sex", "id_number", "phone",
              "product", "lot", "dose_number", "vaccinated_at", "onset_at", "symptoms", "serious", "outcome",
              "_anomaly", "_note"]].reset_index(drop=True)

    # Backfill: people vaccinated in those days (or before) whom nobody recorded.
    rest = np.setdiff1d(np.arange(n), vidx)
    kb = max(3, int(len(rest) * 0.01))
    bidx = rng.choice(rest, min(kb, len(rest)), replace=False)
    b = people.iloc[np.sort(bidx)].reset_index(drop=True)
    kb = len(b)
    bday = rng.integers(0, len(days), kb)
    station_b = b["commune_code"].map(tyt_of["facility_code"]).to_numpy(dtype=object)
    tables_b = b["commune_code"].map(tyt_of["vaccination_tables"]).fillna(0).to_numpy()
    fcode_b = np.where(tables_b == 0, ("64" + b["district_code"] + "-TTYT-01").to_numpy(dtype=object), station_b)
    pb = pd.Series(fcode_b).map(first["product"]).to_numpy(dtype=object)
    lb = pd.Series(fcode_b).map(first["lot"]).to_numpy(dtype=object)
    back = pd.DataFrame({
        "facility_code": fcode_b, "district_code": b["district_code"], "person_key": b["person_key"],
        "full_name": b["full_name"], "birth_date": b["birth_date"], "sex": np.where(b["female"], "female", "male"),
        "id_number": b["id_number"], "phone": b["phone"], "commune_name": b["commune_name"],
        "_commune_short": b["commune_short"], "_commune_code": b["commune_code"], "product": pb,
        "lot": np.where(rng.random(kb) < 0.8, lb, ""), "dose_number": np.ones(kb, dtype=int),
        "vaccinated_on": np.array([np.datetime64(d) for d in days])[bday],
        "note": np.where(rng.random(kb) < 0.3, "Tiêm tại điểm lưu động, chưa nhập kịp", ""),
        "_anomaly": "", "_note": "",
    })
    back = back.sort_values(["district_code", "facility_code"], kind="stable").reset_index(drop=True)
    return vac, aefi, back
