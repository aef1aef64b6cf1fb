"""Facilities of every district (stations, centres, hospitals, clinics, mobile sites) and their
infrastructure, with the readiness gaps planted in them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from campaign.synth import names as nm
from campaign.synth.world.identity import phones

LAT_RANGE = (13.0, 14.6)
LON_RANGE = (107.5, 108.9)
HOSPITALS = {
    "622": ["Bệnh viện Đa khoa tỉnh Gia Lai", "Bệnh viện Nhi tỉnh Gia Lai", "Bệnh viện Lao và Bệnh phổi tỉnh"],
    "623": ["Bệnh viện Đa khoa khu vực An Khê"],
    "624": ["Bệnh viện Đa khoa khu vực Ayun Pa"],
}


def draw_facilities(rng: np.random.Generator, districts: pd.DataFrame, communes: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for d in districts.itertuples():  # 17 districts
        dcode = d.code
        prefix = f"64{dcode}"
        dcomm = communes[communes.district_code == dcode]
        town = dcomm[dcomm.urban]
        seat = town.iloc[0] if len(town) else dcomm.iloc[0]
        dtype = str(d.type).lower() if isinstance(d.type, str) else "huyện"
        rows.append({"facility_code": f"{prefix}-TTYT-01", "facility_name": f"Trung tâm Y tế {dtype} {d.short_name}",
                     "facility_type": "district_centre", "commune_code": seat.code, "district_code": dcode})
        for i, c in enumerate(dcomm.itertuples(), start=1):
            rows.append({"facility_code": f"{prefix}-TYT-{i:02d}",
                         "facility_name": f"Trạm Y tế {str(c.type).lower()} {c.short_name}",
                         "facility_type": "commune_station", "commune_code": c.code, "district_code": dcode})
        for i, name in enumerate(HOSPITALS.get(dcode, []), start=1):
            cc = town.iloc[min(i, len(town) - 1)] if len(town) else seat
            rows.append({"facility_code": f"{prefix}-BV-{i:02d}", "facility_name": name, "facility_type": "hospital",
                         "commune_code": cc.code, "district_code": dcode})
        n_clinic = 4 if dcode == "622" else int(rng.integers(0, 3))
        for i in range(1, n_clinic + 1):
            cc = dcomm.iloc[int(rng.integers(0, len(dcomm)))]
            rows.append({"facility_code": f"{prefix}-PK-{i:02d}",
                         "facility_name": f"Phòng khám Đa khoa {['Hòa Bình', 'Thiện Tâm', 'An Phúc', 'Tâm Đức', 'Phước Thành'][i % 5]} {d.short_name}",
                         "facility_type": "clinic", "commune_code": cc.code, "district_code": dcode})
        # Mobile sites serve remote villages: more of them where the minority share is high.
        n_mobile = int(rng.integers(1, 3)) + (2 if d.ethnic_share >= 0.5 else 0)
        for i in range(1, n_mobile + 1):
            cc = dcomm.iloc[int(rng.integers(0, len(dcomm)))]
            village = nm.VILLAGE_NAMES[int(rng.integers(0, len(nm.VILLAGE_NAMES)))]
            rows.append({"facility_code": f"{prefix}-LD-{i:02d}",
                         "facility_name": f"Điểm tiêm lưu động làng {village} ({cc.short_name})",
                         "facility_type": "mobile_site", "commune_code": cc.code, "district_code": dcode})
    fac = pd.DataFrame(rows)
    fac = fac.merge(communes[["code", "name", "short_name", "urban"]].rename(
        columns={"code": "commune_code", "name": "commune_name", "short_name": "commune_short"}), on="commune_code")
    fac = fac.merge(districts[["code", "lat", "lon", "short_name"]].rename(
        columns={"code": "district_code", "short_name": "district_short"}), on="district_code")
    n = len(fac)
    fac["latitude"] = np.round(np.clip(fac["lat"] + rng.normal(0, 0.07, n), *LAT_RANGE), 6)
    fac["longitude"] = np.round(np.clip(fac["lon"] + rng.normal(0, 0.07, n), *LON_RANGE), 6)
    base = {"commune_station": (1, 3), "district_centre": (3, 5), "hospital": (2, 5), "clinic": (1, 3),
            "mobile_site": (1, 2)}
    lo = fac["facility_type"].map(lambda t: base[t][0]).to_numpy()
    hi = fac["facility_type"].map(lambda t: base[t][1]).to_numpy()
    fac["vaccination_tables"] = rng.integers(lo, hi)
    # A few facilities have no vaccination table yet: readiness must say so.
    zero = rng.choice(np.flatnonzero(fac["facility_type"].eq("commune_station").to_numpy()), 4, replace=False)
    fac.loc[zero, "vaccination_tables"] = 0
    fac["_anomaly"] = ""
    fac.loc[zero, "_anomaly"] = "facility_zero_tables"
    fac["_note"] = ""
    fem = rng.random(n) < 0.45
    fac["person_in_charge"] = nm.sample_names(rng, fem, np.where(rng.random(n) < 0.15, 1, 0))
    fac["phone_in_charge"] = phones(rng, n)
    house = rng.integers(1, 300, n).astype(str).astype(object)
    fac["address"] = np.where(fac["urban"], house + " " + nm._pick(rng, nm.STREETS, n) + ", " + fac["commune_name"],
                              "Thôn " + rng.integers(1, 12, n).astype(str).astype(object) + ", " + fac["commune_name"])
    fac = fac.drop(columns=["lat", "lon"]).sort_values(["district_code", "facility_code"], kind="stable")
    return fac.reset_index(drop=True)


def draw_infrastructure(rng: np.random.Generator, fac: pd.DataFrame) -> pd.DataFrame:
    n = len(fac)
    t = fac["vaccination_tables"].to_numpy()
    comp = t + rng.integers(0, 2, n)
    qr = t.copy()
    printers = np.ones(n, dtype=int) + (rng.random(n) < 0.2)
    internet = np.ones(n, dtype=bool)
    anomaly = np.full(n, "", dtype=object)
    note = np.full(n, "", dtype=object)
    active = np.flatnonzero(t > 0)
    gap = rng.choice(active, max(6, n // 25), replace=False)
    what = rng.integers(0, 4, len(gap))
    for i, w in zip(gap, what, strict=True):  # a few dozen facilities at most
        if w == 0:
            comp[i] = max(0, t[i] - 1 - int(rng.integers(0, 2)))
            note[i] = "computers"
        elif w == 1:
            internet[i] = False
            note[i] = "internet_lines"
        elif w == 2:
            printers[i] = 0
            note[i] = "printers"
        else:
            qr[i] = max(0, t[i] - 1)
            note[i] = "qr_scanners"
        anomaly[i] = "infrastructure_gap"
    need_c = np.maximum(t - comp, 0)
    need_q = np.maximum(t - qr, 0)
    need_p = np.maximum(1 - printers, 0)
    infra = pd.DataFrame({
        "facility_code": fac["facility_code"], "district_code": fac["district_code"],
        "computers_available": comp, "computers_needed": need_c, "internet_available": internet,
        "printers_available": printers, "printers_needed": need_p, "qr_scanners_available": qr,
        "qr_scanners_needed": need_q,
        "note": np.where(internet, "", "Chưa có đường truyền, đang đề nghị Viettel lắp đặt"),
        "_anomaly": anomaly, "_note": note,
    })
    # Two facilities are simply left out of their district's infrastructure file.
    rest = np.setdiff1d(active, gap)
    gone = rng.choice(rest, 2, replace=False)
    infra["_missing"] = False
    infra.loc[gone, "_missing"] = True
    infra.loc[gone, "_anomaly"] = "infrastructure_missing_facility"
    return infra
