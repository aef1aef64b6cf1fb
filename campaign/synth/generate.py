"""The synthetic world: a Gia Lai 2021 campaign as DataFrames, drawn from one seeded generator.

Real: the province, its 17 districts and 220 communes (GSO codes, from `campaign.domain.admin_units`),
the campaign's products, roles and deadlines (from `config/`). Random: everything about people,
facilities' staff, stock and events. No real personal data is ever used.

Everything about people is vectorised (numpy over whole columns); Python loops run over districts,
facilities or priority groups only, never over people. Same seed -> same world.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from campaign.config import CampaignConfig, load_campaign
from campaign.domain.admin_units import get_admin_units
from campaign.synth import names as nm

TZ = dt.timezone(dt.timedelta(hours=7))
EXCEL_EPOCH = np.datetime64("1899-12-30")

# --- district facts (approximate; rounded 2019 census populations in thousands, ethnic-minority share,
# main minority: 1 Jarai, 2 Bahnar, and a rough centroid for facility GPS) -------------------------------
DISTRICT_FACTS: dict[str, tuple[float, float, int, float, float]] = {
    "622": (254, 0.12, 1, 13.98, 108.00),
    "623": (65, 0.10, 2, 13.96, 108.66),
    "624": (39, 0.40, 1, 13.40, 108.44),
    "625": (67, 0.45, 2, 14.13, 108.55),
    "626": (126, 0.50, 2, 14.03, 108.12),
    "627": (76, 0.45, 1, 14.15, 107.98),
    "628": (99, 0.45, 1, 13.98, 107.75),
    "629": (64, 0.50, 2, 13.95, 108.30),
    "630": (48, 0.60, 2, 13.73, 108.55),
    "631": (72, 0.45, 1, 13.78, 107.65),
    "632": (123, 0.45, 1, 13.58, 107.85),
    "633": (121, 0.45, 1, 13.70, 108.08),
    "634": (42, 0.35, 2, 13.93, 108.55),
    "635": (54, 0.55, 1, 13.53, 108.47),
    "637": (83, 0.55, 1, 13.22, 108.68),
    "638": (79, 0.50, 1, 13.50, 108.30),
    "639": (75, 0.50, 1, 13.50, 108.05),
}
LAT_RANGE = (13.0, 14.6)
LON_RANGE = (107.5, 108.9)

# Priority groups (3355/QĐ-BYT): plausible shares of a July 2021 target list, and the age range of each.
PRIORITY_SHARES = np.array([4, 6, 2, 2, 0.05, 0.3, 5, 12, 20, 3, 6, 0.5, 12, 0.5, 14, 12.65], dtype=float)
PRIORITY_SHARES /= PRIORITY_SHARES.sum()
WORKING_AGE = (20, 60)
PRIORITY_AGES: dict[int, tuple[int, int]] = {
    1: (22, 62), 2: (20, 60), 3: (19, 55), 4: (20, 58), 5: (25, 60), 6: (23, 60), 7: (20, 60), 8: (18, 62),
    9: (18, 95), 10: (18, 90), 11: (18, 90), 12: (18, 45), 13: (18, 60), 14: (30, 85), 15: (18, 65),
    16: (18, 90),
}

# Mobile prefixes in use in 2021 and their carrier weights; the old 11-digit prefix of each (DOMAIN.md).
PHONE_PREFIXES: dict[str, float] = {
    "086": 4, "096": 7, "097": 8, "098": 8, "032": 4, "033": 4, "034": 4, "035": 4, "036": 3, "037": 3,
    "038": 3, "039": 3, "089": 2, "090": 5, "093": 4, "070": 2, "076": 1.5, "077": 1.5, "078": 1.5,
    "079": 1.5, "088": 2, "091": 4, "094": 3, "081": 1.5, "082": 1.5, "083": 1.5, "084": 1.5, "085": 1.5,
    "092": 0.6, "056": 0.6, "058": 0.6, "099": 0.2, "059": 0.2,
}
OLD_PREFIX_OF: dict[str, str] = {
    "032": "0162", "033": "0163", "034": "0164", "035": "0165", "036": "0166", "037": "0167", "038": "0168",
    "039": "0169", "070": "0120", "079": "0121", "077": "0122", "076": "0126", "078": "0128", "083": "0123",
    "084": "0124", "085": "0125", "081": "0127", "082": "0129", "056": "0186", "058": "0188", "059": "0199",
}
# Birth-registration provinces (first 3 CCCD digits): Gia Lai, and the provinces its migrants came from.
BIRTH_PROVINCES: dict[str, float] = {
    "064": 74, "052": 8, "051": 3, "054": 2, "040": 3, "042": 2, "038": 2, "034": 1.5, "049": 2, "066": 1,
    "062": 1, "079": 0.5,
}
# Old 9-digit CMND: a 2-digit issuing prefix (never 0, so no leading zero can be lost) + 7 digits.
CMND_PREFIX = {"064": "23", "052": "21", "051": "21", "054": "22", "040": "18", "042": "18", "038": "17",
               "034": "15", "049": "20", "066": "24", "062": "23", "079": "27"}

PRODUCT_SHARES = {"astrazeneca": 0.6, "vero_cell": 0.25, "moderna": 0.1, "pfizer": 0.05}
LOT_FORMS = {"astrazeneca": ("ABV", 4), "pfizer": ("FF", 4), "moderna": ("300", 5), "vero_cell": ("2021", 5),
             "sputnik_v": ("II", 5), "hayat_vax": ("HV", 4), "abdala": ("AB", 4)}
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

COMM_ACTIVITIES = {
    "loudspeaker": ["Phát thanh trên loa truyền thanh các thôn, làng", "Tiếp sóng bản tin tiêm chủng trên loa xã"],
    "commune_radio": ["Bản tin tiêm chủng trên đài truyền thanh xã", "Chuyên mục tiêm chủng trên đài truyền thanh xã"],
    "press": ["Đăng tin trên Báo Gia Lai", "Phóng sự trên Đài Phát thanh - Truyền hình tỉnh"],
    "social_media": ["Đăng bài hướng dẫn trên trang Facebook của Trung tâm Y tế", "Chia sẻ hướng dẫn qua nhóm Zalo thôn, tổ"],
    "sms": ["Nhắn tin SMS đến thuê bao trên địa bàn"],
    "leaflet": ["Phát tờ rơi tại chợ và trạm y tế", "Treo băng rôn tại trung tâm xã"],
    "meeting": ["Họp dân tại nhà văn hóa thôn", "Tuyên truyền trực tiếp đến từng hộ gia đình"],
}
ROLES = ["reception", "screening", "vaccinator", "recorder", "observation"]
CLINICAL_ROLES = ["screening", "vaccinator", "observation"]
SUPPORT_ROLES = ["reception", "recorder"]


@dataclass
class World:
    """Every entity of the synthetic campaign. Columns named like the input kinds' canonical columns
    hold the true values; columns starting with `_` are bookkeeping (anomaly codes, ids, truth)."""

    seed: int
    campaign: CampaignConfig
    districts: pd.DataFrame
    communes: pd.DataFrame
    facilities: pd.DataFrame
    infrastructure: pd.DataFrame
    staff_pool: pd.DataFrame
    training: pd.DataFrame
    communication: pd.DataFrame
    staff: pd.DataFrame
    people: pd.DataFrame
    entries: pd.DataFrame  # target-list rows: people, plus within- and cross-district duplicates
    stock: pd.DataFrame
    vaccinations: pd.DataFrame
    aefi: pd.DataFrame
    backfill: pd.DataFrame
    session_days: list[dt.date] = field(default_factory=list)
    anomalies: list[dict] = field(default_factory=list)  # facility-level truths with no row to point at


# ---------------------------------------------------------------------------------------------------------
# Administrative units
# ---------------------------------------------------------------------------------------------------------


def load_admin(campaign: CampaignConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Districts and communes of the campaign's province from the administrative-unit list."""
    units = get_admin_units()
    d_rows, c_rows = [], []
    for code in campaign.district_codes:
        d = units.district(code)
        d_rows.append({"code": d.code, "name": d.name, "short_name": d.short_name, "type": d.type})
        for c in units.communes_of(code):
            c_rows.append({"code": c.code, "name": c.name, "short_name": c.short_name, "type": c.type,
                           "district_code": code})
    districts = pd.DataFrame(d_rows)
    communes = pd.DataFrame(c_rows).sort_values(["district_code", "code"], kind="stable").reset_index(drop=True)
    return districts, communes


def _prepare_admin(campaign: CampaignConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    districts, communes = load_admin(campaign)
    facts = pd.DataFrame.from_dict(DISTRICT_FACTS, orient="index",
                                   columns=["population", "ethnic_share", "ethnic_group", "lat", "lon"])
    districts = districts.join(facts, on="code")
    # Unknown districts (another campaign YAML) get neutral facts rather than failing.
    districts = districts.fillna({"population": 50.0, "ethnic_share": 0.3, "ethnic_group": 1,
                                  "lat": 13.8, "lon": 108.2})
    districts["ethnic_group"] = districts["ethnic_group"].astype(int)
    ctype = communes["type"].astype(str).str.lower()
    communes["urban"] = ctype.str.contains("phường") | ctype.str.contains("thị trấn")
    return districts, communes


# ---------------------------------------------------------------------------------------------------------
# Small vectorised helpers
# ---------------------------------------------------------------------------------------------------------


def object_frame(columns: dict[str, object]) -> pd.DataFrame:
    """A DataFrame whose string columns stay numpy object arrays: pandas 3 would otherwise validate every
    cell into its `str` dtype on construction, and hand back copies on every `to_numpy(dtype=object)`."""
    return pd.DataFrame({k: pd.Series(v, dtype=object, copy=False) if isinstance(v, np.ndarray) and v.dtype == object
                         else v for k, v in columns.items()})


def digit_strings(*parts: np.ndarray) -> np.ndarray:
    """Concatenate digit matrices (n x k, values 0-9) into str objects: the matrix of ASCII codes viewed
    as fixed-width bytes. Much faster than formatting and concatenating strings per part."""
    m = np.ascontiguousarray(np.concatenate(parts, axis=1).astype(np.uint8) + 48)
    width = m.shape[1]
    return m.view(f"S{width}").ravel().astype(f"U{width}").astype(object)


def int_digits(values: np.ndarray, width: int) -> np.ndarray:
    """The last `width` decimal digits of integers as an n x width matrix (leading zeros kept)."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (np.asarray(values, dtype=np.int64)[:, None] // powers) % 10


def table_digits(codes: list[str], idx: np.ndarray) -> np.ndarray:
    """Rows of a table of digit codes ("064", "052"...) picked by index, as a digit matrix."""
    table = np.array([[int(ch) for ch in c] for c in codes], dtype=np.int64)
    return table[idx]


def _digits(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    """n random digit strings of a fixed width (leading zeros kept)."""
    return digit_strings(rng.integers(0, 10, (n, width)))


def _weighted_index(rng: np.random.Generator, weights: dict[str, float], n: int) -> np.ndarray:
    p = np.array(list(weights.values()), dtype=float)
    return rng.choice(len(p), n, p=p / p.sum())


def _weighted(rng: np.random.Generator, weights: dict[str, float], n: int) -> np.ndarray:
    return np.array(list(weights), dtype=object)[_weighted_index(rng, weights, n)]


def phones(rng: np.random.Generator, n: int) -> np.ndarray:
    prefix = table_digits(list(PHONE_PREFIXES), _weighted_index(rng, PHONE_PREFIXES, n))
    return digit_strings(prefix, rng.integers(0, 10, (n, 7)))


def cccd_numbers(rng: np.random.Generator, birth: np.ndarray, is_female: np.ndarray,
                 province: np.ndarray | None = None) -> np.ndarray:
    """12-digit CCCD: birth province (3) + century/sex digit (0/1 19xx, 2/3 20xx) + yy + 6 random digits.
    `province`: indices into BIRTH_PROVINCES (drawn when None)."""
    n = len(birth)
    years = birth.astype("datetime64[Y]").astype(int) + 1970
    century = np.where(years >= 2000, 2, 0) + np.asarray(is_female, dtype=int)
    if province is None:
        province = _weighted_index(rng, BIRTH_PROVINCES, n)
    return digit_strings(table_digits(list(BIRTH_PROVINCES), province), century[:, None], int_digits(years % 100, 2),
                         rng.integers(0, 10, (n, 6)))


def _age_to_birth(rng: np.random.Generator, ages: np.ndarray, on: dt.date) -> np.ndarray:
    """Birth dates of people whose age in whole years on `on` is `ages` (a margin keeps birthdays clear)."""
    frac = rng.uniform(0.02, 0.98, len(ages))
    days = np.floor((ages + frac) * 365.2425).astype("int64")
    return np.datetime64(on, "D") - days.astype("timedelta64[D]")


def _age_pyramid(lo: int, hi: int) -> np.ndarray:
    ages = np.arange(lo, hi + 1)
    w = np.where(ages <= 45, 1.0, np.clip(1.0 - (ages - 45) / 50.0, 0.04, 1.0))
    return w / w.sum()


def sample_ages(rng: np.random.Generator, groups: np.ndarray) -> np.ndarray:
    """Ages by priority group (one vectorised draw per group, 16 iterations)."""
    ages = np.empty(len(groups), dtype=np.int64)
    for g, (lo, hi) in PRIORITY_AGES.items():
        mask = groups == g
        k = int(mask.sum())
        if not k:
            continue
        if g == 9:  # chronic illness or 65+: mostly the elderly
            old = rng.random(k) < 0.7
            a = np.where(old, rng.integers(65, 96, k), rng.choice(np.arange(18, 65), k, p=_age_pyramid(18, 64)))
        else:
            a = rng.choice(np.arange(lo, hi + 1), k, p=_age_pyramid(lo, hi))
        ages[mask] = a
    return ages


def excel_serial(dates: np.ndarray) -> np.ndarray:
    return (dates.astype("datetime64[D]") - EXCEL_EPOCH).astype(np.int64)


# ---------------------------------------------------------------------------------------------------------
# Facilities, infrastructure, staff, training, communication
# ---------------------------------------------------------------------------------------------------------

HOSPITALS = {
    "622": ["Bệnh viện Đa khoa tỉnh Gia Lai", "Bệnh viện Nhi tỉnh Gia Lai", "Bệnh viện Lao và Bệnh phổi tỉnh"],
    "623": ["Bệnh viện Đa khoa khu vực An Khê"],
    "624": ["Bệnh viện Đa khoa khu vực Ayun Pa"],
}


def _facilities(rng: np.random.Generator, districts: pd.DataFrame, communes: pd.DataFrame) -> pd.DataFrame:
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


def _infrastructure(rng: np.random.Generator, fac: pd.DataFrame) -> pd.DataFrame:
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


def _staff_pool(rng: np.random.Generator, fac: pd.DataFrame, districts: pd.DataFrame) -> pd.DataFrame:
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
    birth = _age_to_birth(rng, rng.integers(20, 58, k), dt.date(2021, 7, 29))
    has_id = rng.random(k) < 0.7
    pool["id_number"] = np.where(has_id, cccd_numbers(rng, birth, pool["_female"].to_numpy()), "")
    pool["person_key"] = "S" + pd.Series(np.arange(k)).astype(str).str.zfill(6).to_numpy()
    return pool.reset_index(drop=True)


def _training(rng: np.random.Generator, pool: pd.DataFrame, days: list[dt.date]) -> tuple[pd.DataFrame, set[str]]:
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


def _teams(rng: np.random.Generator, fac: pd.DataFrame, pool: pd.DataFrame, days: list[dt.date],
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


def _communication(rng: np.random.Generator, districts: pd.DataFrame, communes: pd.DataFrame,
                   days: list[dt.date]) -> tuple[pd.DataFrame, list[str]]:
    rows = []
    missing_cert = list(rng.choice(districts["code"].to_numpy(), 2, replace=False))
    channels = list(COMM_ACTIVITIES)
    for d in districts.itertuples():
        k = int(rng.integers(6, 13))
        dcomm = communes[communes.district_code == d.code]
        # the directive's channels first (section 3: the grassroots information system, "hệ thống thông tin cơ
        # sở"; sections 1-2: the press) with its three messages, then any channel (social media, SMS... are
        # allowed, not required); a district of `missing_cert` never mentions the certificate look-up
        for j in range(k):
            if j >= 3:
                ch = channels[int(rng.integers(0, len(channels)))]
            else:
                ch = [["loudspeaker", "commune_radio"][int(d.code) % 2], ["commune_radio", "press"][int(d.code) % 3 == 0],
                      ["loudspeaker", "press"][int(d.code) % 4 == 1]][j]
            acts = COMM_ACTIVITIES[ch]
            if d.code in missing_cert:
                msg = ["how_to_register", "follow_news", "other"][int(rng.random() < 0.2) * 2 if j != 1 else 1]
            else:
                msg = ["how_to_register", "follow_news", "certificate_lookup", "both", "all_three", "other"][
                    int(rng.choice(6, p=[0.3, 0.15, 0.15, 0.2, 0.1, 0.1]))]
                if j < 3 and not (j == 0 and msg == "all_three"):   # one row may carry the three messages
                    msg = ["how_to_register", "follow_news", "certificate_lookup"][j]
            date = days[0] - dt.timedelta(days=int(rng.integers(2, 15)))
            pick = dcomm.iloc[int(rng.integers(0, len(dcomm)))]
            commune, c_short, c_code = ("", "", "") if ch in ("press", "sms") else (pick["name"], pick["short_name"], pick["code"])
            reach = int(rng.integers(200, 5000)) if ch != "press" else int(rng.integers(5000, 60000))
            rows.append({"district_code": d.code, "activity": acts[int(rng.integers(0, len(acts)))], "channel": ch,
                         "message": msg, "activity_date": np.datetime64(date), "commune_name": commune, "reach": reach,
                         "_commune_short": c_short, "_commune_code": c_code, "_anomaly": "", "_note": ""})
    comm = pd.DataFrame(rows)
    # Two activities of the same channel on the same day would collide on the natural key: shift them.
    while True:
        dup = comm.duplicated(["district_code", "activity", "channel", "activity_date"]).to_numpy()
        if not dup.any():
            break
        comm.loc[dup, "activity_date"] = comm.loc[dup, "activity_date"] - np.timedelta64(1, "D")
    comm = comm.sort_values(["district_code", "activity_date"], kind="stable").reset_index(drop=True)
    return comm, sorted(str(x) for x in missing_cert)


# ---------------------------------------------------------------------------------------------------------
# People and their target-list entries
# ---------------------------------------------------------------------------------------------------------


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


def _people(rng: np.random.Generator, n: int, districts: pd.DataFrame, communes: pd.DataFrame,
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
    birth = _age_to_birth(rng, ages, on)
    full_name = nm.sample_names(rng, female, ethnic)

    # Identity documents: CCCD (new chip cards, spring 2021), old CMND, or none (more often in villages).
    p_none = np.where(ethnic > 0, 0.3, 0.15)
    u = rng.random(n)
    id_kind = np.where(u < p_none, "", np.where(u < p_none + 0.4, "cmnd", "cccd")).astype(object)
    bprov = np.where(ethnic > 0, 0, _weighted_index(rng, BIRTH_PROVINCES, n))  # index 0 is Gia Lai (064)
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


def _entries(rng: np.random.Generator, people: pd.DataFrame, districts: pd.DataFrame,
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


# ---------------------------------------------------------------------------------------------------------
# Vaccine stock and campaign events
# ---------------------------------------------------------------------------------------------------------


def _lot(rng: np.random.Generator, product: str) -> str:
    pre, width = LOT_FORMS.get(product, ("L", 5))
    return pre + str(int(rng.integers(0, 10**width))).zfill(width)


def _stock(rng: np.random.Generator, fac: pd.DataFrame, campaign: CampaignConfig, days: list[dt.date]) -> pd.DataFrame:
    rows = []
    products = [p for p in PRODUCT_SHARES if p in campaign.vaccine_products]
    shares = np.array([PRODUCT_SHARES[p] for p in products])
    # Lots are province-wide shipments: a handful per product, shared by facilities.
    lots = {p: [_lot(rng, p) for _ in range(3)] for p in products}
    expiry = {(p, lot): days[0] + dt.timedelta(days=int(rng.integers(40, 160))) for p in products for lot in lots[p]}
    received = days[0] - dt.timedelta(days=6)
    for f in fac.itertuples():  # ~300 facilities
        if f.vaccination_tables == 0:
            continue
        main = "astrazeneca" if "astrazeneca" in products else products[0]
        chosen = [main]
        if rng.random() < 0.5:
            other = products[int(rng.choice(len(products), p=shares / shares.sum()))]
            if other != main:
                chosen.append(other)
        for p in chosen:
            lot = lots[p][int(rng.integers(0, 3))]
            dpv = campaign.vaccine_products[p].doses_per_vial
            vials = int(rng.integers(20, 120) * f.vaccination_tables * (10 / dpv) ** 0.5)
            issued = int(vials * rng.uniform(0.0, 0.2))
            rows.append({"facility_code": f.facility_code, "district_code": f.district_code, "product": p, "lot": lot,
                         "expiry_date": np.datetime64(expiry[(p, lot)]), "doses_per_vial": dpv,
                         "vials_received": vials, "vials_issued": issued, "vials_on_hand": vials - issued,
                         "received_date": np.datetime64(received - dt.timedelta(days=int(rng.integers(0, 4)))),
                         "_anomaly": "", "_note": ""})
    stock = pd.DataFrame(rows)
    # One lot already expired at one facility (readiness must flag it).
    i = int(rng.integers(0, len(stock)))
    stock.loc[i, "expiry_date"] = np.datetime64(days[0] - dt.timedelta(days=3))
    stock.loc[i, "lot"] = _lot(rng, stock.loc[i, "product"])
    stock.loc[i, "_anomaly"] = "stock_expired_lot"
    return stock.reset_index(drop=True)


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


def _events(rng: np.random.Generator, people: pd.DataFrame, fac: pd.DataFrame, stock: pd.DataFrame,
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


# ---------------------------------------------------------------------------------------------------------
# The world
# ---------------------------------------------------------------------------------------------------------


def session_days(campaign: CampaignConfig) -> list[dt.date]:
    """The first three campaign days, from the campaign date on."""
    d0 = campaign.campaign.campaign_date
    return [d0 + dt.timedelta(days=i) for i in range(3)]


def build_world(people: int = 50_000, seed: int = 2021, campaign: CampaignConfig | None = None,
                rng: np.random.Generator | None = None) -> World:
    """Draw the whole synthetic campaign. Deterministic for a given seed and campaign."""
    campaign = campaign or load_campaign()
    rng = rng or np.random.Generator(np.random.PCG64(seed))
    days = session_days(campaign)
    districts, communes = _prepare_admin(campaign)
    fac = _facilities(rng, districts, communes)
    infra = _infrastructure(rng, fac)
    pool = _staff_pool(rng, fac, districts)
    training, untrained = _training(rng, pool, days)
    staff, missing_role = _teams(rng, fac, pool, days, untrained)
    comm, missing_cert = _communication(rng, districts, communes, days)
    ppl = _people(rng, people, districts, communes, fac, campaign.campaign.campaign_date)
    entries = _entries(rng, ppl, districts, communes)
    stock = _stock(rng, fac, campaign, days)
    vac, aefi, back = _events(rng, ppl, fac, stock, campaign, days)
    anomalies = [{"code": "comm_missing_certificate_lookup", "district": d, "kind": "communication",
                  "note": "no activity carries the certificate-lookup message"} for d in missing_cert]
    for f, day, part, team, role in missing_role:
        anomalies.append({"code": "team_missing_role", "district": f[2:5], "kind": "staff", "facility": f,
                          "note": f"{day.isoformat()} {part} team {team} has no {role}"})
    return World(seed=seed, campaign=campaign, districts=districts, communes=communes, facilities=fac,
                 infrastructure=infra, staff_pool=pool, training=training, communication=comm, staff=staff,
                 people=ppl, entries=entries, stock=stock, vaccinations=vac, aefi=aefi, backfill=back,
                 session_days=days, anomalies=anomalies)
