"""How a person's numbers look: mobile phones on the 2021 prefixes, CCCD and old CMND numbers, ages by
priority group and the birth dates that give them. The prefix tables are also what the defects need
(an old 11-digit phone is the old prefix of a current one)."""

from __future__ import annotations

import datetime as dt

import numpy as np

from campaign.synth.world.draw import digit_strings, int_digits, table_digits, weighted_index

# Priority groups (3355/QĐ-BYT): plausible shares of a July 2021 target list, and the age range of each.
PRIORITY_SHARES = np.array([4, 6, 2, 2, 0.05, 0.3, 5, 12, 20, 3, 6, 0.5, 12, 0.5, 14, 12.65], dtype=float)
PRIORITY_SHARES /= PRIORITY_SHARES.sum()
PRIORITY_AGES: dict[int, tuple[int, int]] = {
    1: (22, 62), 2: (20, 60), 3: (19, 55), 4: (20, 58), 5: (25, 60), 6: (23, 60), 7: (20, 60), 8: (18, 62),
    9: (18, 95), 10: (18, 90), 11: (18, 90), 12: (18, 45), 13: (18, 60), 14: (30, 85), 15: (18, 65),
    16: (18, 90),
}
# Mobile prefixes in use in 2021 and their carrier weights; the old 11-digit prefix of each (docs/domain.md).
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


def phones(rng: np.random.Generator, n: int) -> np.ndarray:
    prefix = table_digits(list(PHONE_PREFIXES), weighted_index(rng, PHONE_PREFIXES, n))
    return digit_strings(prefix, rng.integers(0, 10, (n, 7)))


def cccd_numbers(rng: np.random.Generator, birth: np.ndarray, is_female: np.ndarray,
                 province: np.ndarray | None = None) -> np.ndarray:
    """12-digit CCCD: birth province (3) + century/sex digit (0/1 19xx, 2/3 20xx) + yy + 6 random digits.
    `province`: indices into BIRTH_PROVINCES (drawn when None)."""
    n = len(birth)
    years = birth.astype("datetime64[Y]").astype(int) + 1970
    century = np.where(years >= 2000, 2, 0) + np.asarray(is_female, dtype=int)
    if province is None:
        province = weighted_index(rng, BIRTH_PROVINCES, n)
    return digit_strings(table_digits(list(BIRTH_PROVINCES), province), century[:, None], int_digits(years % 100, 2),
                         rng.integers(0, 10, (n, 6)))


def birth_dates_for_ages(rng: np.random.Generator, ages: np.ndarray, on: dt.date) -> np.ndarray:
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
