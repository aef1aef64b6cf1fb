"""Name pools and vectorised name sampling for the synthetic population.

Every name is assembled at random from the pools below: family names with rough national frequencies,
middle and given names by sex, and Jarai / Bahnar forms for the Central Highlands. No list of real
people is used; a generated name that happens to match a real person's is a coincidence of common names.
"""

from __future__ import annotations

import unicodedata

import numpy as np

# --- Kinh ------------------------------------------------------------------------------------------------
# Approximate shares of family names in Vietnam (Nguyễn ~38%); the tail is spread over common smaller ones.
KINH_FAMILY: dict[str, float] = {
    "Nguyễn": 38.0, "Trần": 11.0, "Lê": 9.5, "Phạm": 7.0, "Hoàng": 3.0, "Huỳnh": 2.0, "Phan": 4.5,
    "Vũ": 1.8, "Võ": 3.5, "Đặng": 2.1, "Bùi": 2.0, "Đỗ": 1.4, "Hồ": 1.3, "Ngô": 1.3, "Dương": 1.0,
    "Lý": 0.5, "Đào": 0.6, "Đoàn": 0.6, "Trương": 0.7, "Lương": 0.4, "Mai": 0.4, "Cao": 0.4, "Tạ": 0.2,
    "Lâm": 0.3, "Hà": 0.4, "Châu": 0.2, "Thái": 0.2, "Tô": 0.2, "Trịnh": 0.4, "Đinh": 0.5, "Lưu": 0.2,
}
KINH_MIDDLE_MALE: dict[str, float] = {
    "Văn": 40, "Đức": 8, "Minh": 8, "Hữu": 6, "Quang": 6, "Thanh": 5, "Công": 5, "Ngọc": 4, "Xuân": 4,
    "Đình": 4, "Anh": 3, "Trọng": 3, "Tấn": 2, "Hoài": 1, "Quốc": 1,
}
KINH_MIDDLE_FEMALE: dict[str, float] = {
    "Thị": 55, "Ngọc": 6, "Thanh": 5, "Thu": 5, "Minh": 3, "Kim": 4, "Mỹ": 3, "Hồng": 4, "Phương": 3,
    "Bích": 2, "Ánh": 2, "Thùy": 2, "Diệu": 2, "Khánh": 2, "Hoài": 2,
}
# A second middle name for some (Nguyễn Thị Minh Hằng); chosen from the same-sex pool minus Văn/Thị.
KINH_GIVEN_MALE = [
    "An", "Anh", "Bảo", "Bình", "Cường", "Dũng", "Dương", "Đạt", "Định", "Đức", "Hải", "Hiếu", "Hòa",
    "Hoà", "Hoàng", "Hùng", "Huy", "Hưng", "Khánh", "Khoa", "Kiên", "Lâm", "Long", "Lộc", "Minh", "Nam",
    "Nghĩa", "Nhân", "Phong", "Phúc", "Quân", "Quang", "Sơn", "Tài", "Tâm", "Thắng", "Thành", "Thiện",
    "Thịnh", "Trung", "Tú", "Tuấn", "Việt", "Vinh", "Vũ", "Hậu", "Tín", "Toàn", "Trí", "Tùng", "Phát",
    "Hiệp", "Lợi", "Thuận", "Tiến", "Hòa", "Khải", "Duy", "Kha", "Thông",
]
KINH_GIVEN_FEMALE = [
    "An", "Anh", "Ánh", "Bích", "Chi", "Diệp", "Dung", "Duyên", "Giang", "Hà", "Hạnh", "Hằng", "Hiền",
    "Hoa", "Hoài", "Hồng", "Huệ", "Hương", "Huyền", "Lan", "Liên", "Linh", "Loan", "Mai", "My", "Nga",
    "Ngân", "Ngọc", "Nhung", "Oanh", "Phương", "Quyên", "Quỳnh", "Tâm", "Thảo", "Thu", "Thủy", "Thuỷ",
    "Thúy", "Thuý", "Trang", "Trinh", "Tuyết", "Uyên", "Vân", "Vy", "Xuân", "Yến", "Hòa", "Hoà", "Thoa",
    "Lệ", "Nhi", "Hậu", "Thơ", "Lý", "Ngà", "Sương", "Tuyền", "Diễm",
]

# --- Jarai and Bahnar ------------------------------------------------------------------------------------
# Clan names come first, as in Kinh names, but many are two words (Rơ Châm, Rah Lan), women carry the
# H' prefix on the given name and men often A or Y: "first word = family name" does not hold.
JARAI_FAMILY: dict[str, float] = {
    "Ksor": 16, "Rơ Châm": 10, "Siu": 14, "Nay": 10, "Rah Lan": 7, "Kpă": 8, "Rơ Mah": 9, "Puih": 7,
    "Rmah": 6, "Hiao": 3, "Rơ Ô": 3, "Kpuih": 3, "Rcom": 2, "Ralan": 1,
}
BAHNAR_FAMILY: dict[str, float] = {"Đinh": 60, "Đinh Văn": 10, "Hiao": 5, "Siu": 5, "Bùi": 3}
ETHNIC_MALE_PREFIX: dict[str, float] = {"": 40, "A": 25, "Y": 15, "Văn": 20}
ETHNIC_FEMALE_PREFIX: dict[str, float] = {"H'": 70, "Thị H'": 12, "Thị": 10, "": 8}
ETHNIC_GIVEN_MALE = [
    "Thuận", "Byưh", "Blơng", "Dlăn", "Hyưn", "Ngơi", "Pơi", "Yuh", "Djuan", "Blir", "Nhơn", "Hlim",
    "Kiên", "Thơ", "Glơi", "Hrin", "Kốp", "Lứ", "Nhưh", "Plao", "Rin", "Tham", "Ưng", "Wơn", "Yơn", "Đoan",
    "Hlăk", "Jun", "Kông", "Mlô", "Tlur", "Phú", "Dưm", "Bơ", "Hen",
]
ETHNIC_GIVEN_FEMALE = [
    "Blang", "Nhi", "Yăn", "Hlim", "Ngơn", "Lan", "Dun", "Hơn", "Ben", "Juin", "Lênh", "Nguyên", "Brưh",
    "Dơk", "Hjơ", "Jơn", "Kliu", "Lơp", "Mlai", "Nhiăl", "Plưm", "Rương", "Thiu", "Wiên", "Hyơn", "Nô",
    "Bí", "Blưh", "Her", "Lúi", "Mơn", "Phin", "Xuân", "Yơ", "Huê",
]

# Streets of a provincial town and village words, for the detailed address column.
STREETS = [
    "Hùng Vương", "Trần Phú", "Lê Lợi", "Phạm Văn Đồng", "Nguyễn Tất Thành", "Quang Trung", "Trường Chinh",
    "Lý Thái Tổ", "Hai Bà Trưng", "Trần Hưng Đạo", "Lê Duẩn", "Nguyễn Văn Cừ", "Phan Đình Phùng",
    "Cách Mạng Tháng Tám", "Tôn Đức Thắng", "Lê Thánh Tôn", "Nguyễn Viết Xuân",
]
VILLAGE_PREFIX = {"kinh": ["Thôn", "Tổ", "Tổ dân phố"], "ethnic": ["Làng", "Plei", "Buôn", "Thôn"]}
VILLAGE_NAMES = [
    "Ốp", "Ia Nueng", "Bông Phun", "Tơ Vơ", "Kép", "Đê Ktu", "Ia Jok", "Thung", "Klah", "Bi", "Lao Tiêng",
    "Chuét", "Ring", "Đăk Bang", "Tăng", "Mơ Nang", "Brêl", "Kon Sơ Lăl", "Dơ Nâu", "Krong", "Pơ Nang",
]


def _pool(weights: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    keys = np.array([k for k, w in weights.items() if w > 0], dtype=object)
    p = np.array([w for w in weights.values() if w > 0], dtype=float)
    return keys, p / p.sum()


def _pick(rng: np.random.Generator, pool: tuple[np.ndarray, np.ndarray] | list[str], n: int) -> np.ndarray:
    if isinstance(pool, list):
        arr = np.array(pool, dtype=object)
        return arr[rng.integers(0, len(arr), n)]
    keys, p = pool
    return keys[rng.choice(len(keys), size=n, p=p)]


def _join(*parts: np.ndarray) -> np.ndarray:
    """Join name parts with single spaces, skipping empty parts (vectorised on object arrays)."""
    out = parts[0].astype(object)
    for part in parts[1:]:
        part = part.astype(object)
        sep = np.where((part == "") | (out == ""), "", " ").astype(object)
        out = out + sep + part
    return out


def _kinh_names(rng: np.random.Generator, is_female: np.ndarray) -> np.ndarray:
    n = len(is_female)
    family = _pick(rng, _pool(KINH_FAMILY), n)
    middle = np.where(is_female, _pick(rng, _pool(KINH_MIDDLE_FEMALE), n), _pick(rng, _pool(KINH_MIDDLE_MALE), n))
    given = np.where(is_female, _pick(rng, KINH_GIVEN_FEMALE, n), _pick(rng, KINH_GIVEN_MALE, n))
    names = family + " " + middle
    # a second middle name for some (Nguyễn Thị Minh Hằng), never the first one again
    two = np.flatnonzero(rng.random(n) < 0.12)
    if len(two):
        fem = is_female[two]
        second = np.where(fem, _pick(rng, _pool({k: w for k, w in KINH_MIDDLE_FEMALE.items() if k != "Thị"}), len(two)),
                          _pick(rng, _pool({k: w for k, w in KINH_MIDDLE_MALE.items() if k != "Văn"}), len(two)))
        keep = second != middle[two]
        names[two[keep]] = names[two[keep]] + " " + second[keep]
    return names + " " + given


def _ethnic_names(rng: np.random.Generator, is_female: np.ndarray, ethnic: np.ndarray) -> np.ndarray:
    n = len(is_female)
    family = np.where(ethnic == 2, _pick(rng, _pool(BAHNAR_FAMILY), n), _pick(rng, _pool(JARAI_FAMILY), n))
    family = np.where(is_female & (family == "Đinh Văn"), "Đinh", family)
    pre_m = _pick(rng, _pool(ETHNIC_MALE_PREFIX), n)
    pre_m = np.where((family == "Đinh Văn") & (pre_m == "Văn"), "", pre_m)  # "Đinh Văn" already carries Văn
    pre_f = _pick(rng, _pool(ETHNIC_FEMALE_PREFIX), n)
    g_m = _pick(rng, ETHNIC_GIVEN_MALE, n)
    g_f = _pick(rng, ETHNIC_GIVEN_FEMALE, n)
    # H' sticks to the given name (H'Blang); "Thị H'" keeps a space before H'.
    glued = (pre_f == "H'") | (pre_f == "Thị H'")
    f_given = np.where(glued, pre_f + g_f, _join(pre_f, g_f))
    m_given = _join(pre_m, g_m)
    return _join(family, np.where(is_female, f_given, m_given).astype(object))


def sample_names(rng: np.random.Generator, is_female: np.ndarray, ethnic: np.ndarray) -> np.ndarray:
    """Full names for people of the given sex and ethnicity (`ethnic`: 0 Kinh, 1 Jarai, 2 Bahnar).

    Vectorised: each part is drawn for a whole group at once, then the parts are joined column-wise.
    """
    is_female = np.asarray(is_female, dtype=bool)
    ethnic = np.asarray(ethnic)
    out = np.empty(len(is_female), dtype=object)
    kinh = np.flatnonzero(ethnic == 0)
    other = np.flatnonzero(ethnic > 0)
    if len(kinh):
        out[kinh] = _kinh_names(rng, is_female[kinh])
    if len(other):
        out[other] = _ethnic_names(rng, is_female[other], ethnic[other])
    return out


_NUMBERS = np.array([str(i) for i in range(400)], dtype=object)


def sample_addresses(rng: np.random.Generator, urban: np.ndarray, ethnic: np.ndarray) -> np.ndarray:
    """A detailed address: a house number and street in towns, a village (thôn/làng/plei) elsewhere."""
    n = len(urban)
    urban = np.asarray(urban, dtype=bool)
    ethnic = np.asarray(ethnic)
    out = np.empty(n, dtype=object)
    town = np.flatnonzero(urban)
    out[town] = _NUMBERS[rng.integers(1, 400, len(town))] + " " + _pick(rng, STREETS, len(town))
    kinh = np.flatnonzero(~urban & (ethnic == 0))
    out[kinh] = _pick(rng, VILLAGE_PREFIX["kinh"], len(kinh)) + " " + _NUMBERS[rng.integers(1, 16, len(kinh))]
    eth = np.flatnonzero(~urban & (ethnic > 0))
    out[eth] = _pick(rng, VILLAGE_PREFIX["ethnic"], len(eth)) + " " + _pick(rng, VILLAGE_NAMES, len(eth))
    return out


def strip_diacritics(text: str) -> str:
    """Remove Vietnamese diacritics but keep case ("Nguyễn Đức" -> "Nguyen Duc"): a name typed on a
    keyboard without a Vietnamese input method. (campaign.domain.text.fold also lowercases.)"""
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped.replace("đ", "d").replace("Đ", "D"))


def map_distinct(values: np.ndarray, func) -> np.ndarray:
    """Apply a per-string function to the distinct values only (names repeat a lot) and map back."""
    uniq, inverse = np.unique(np.asarray(values, dtype=object).astype(str), return_inverse=True)
    mapped = np.array([func(u) for u in uniq], dtype=object)
    return mapped[inverse]
