"""Offline lookup of Vietnam's administrative units (GSO codes of 2021) by code or by name.

Why: district files name their districts and communes in every way people write them ("633", 633,
"Huyện Chư Sê", "H. Chư Sê", "chu se", "KBang" / "K'Bang", "Đăk" / "Đắk", "Tp. Pleiku"), and some names
collide once the diacritics are dropped (Ia Băng / Ia Bang in Chư Prông) or exist in several districts
(Ia O, Ia Sao, Tây Sơn, An Phú in Gia Lai). A lookup therefore always says whether it is sure
(`found`), torn between units (`ambiguous`) or lost (`unknown`), and communes are looked up within their
district. Data: `config/admin_units/gso_2021.csv.gz` (see the README there).
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from campaign.domain.text import collapse_spaces, exact_key, fold, has_diacritics, nfc

__all__ = ["DEFAULT_PATH", "AdminUnits", "Lookup", "Unit", "get_admin_units"]

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "config" / "admin_units" / "gso_2021.csv.gz"

Level = Literal["province", "district", "commune"]
Status = Literal["found", "ambiguous", "unknown"]
LEVELS: tuple[Level, ...] = ("province", "district", "commune")
WIDTH: dict[str, int] = {"province": 2, "district": 3, "commune": 5}


@dataclass(frozen=True)
class Unit:
    code: str  # "64", "633", "23557": zero-padded
    name: str  # official full name, e.g. "Huyện Chư Sê"
    short_name: str  # without the type prefix, e.g. "Chư Sê"
    type: str  # "tỉnh", "thành phố trung ương", "thành phố", "huyện", "thị xã", "quận", "xã", "phường", "thị trấn"
    level: Level
    parent_code: str | None


@dataclass(frozen=True)
class Lookup:
    """`found`: unit set, candidates == (unit,). `ambiguous`: unit None, candidates = every match.
    `unknown`: unit None; candidates = units of that code or name just outside the parent (for a
    commune: elsewhere in the same province), so callers can tell "outside the district" from "no such
    name"; empty when there is none."""

    status: Status
    unit: Unit | None
    candidates: tuple[Unit, ...] = ()


_UNKNOWN = Lookup("unknown", None, ())

# Type words as they begin official names (longest first).
_NAME_PREFIXES = ("Thành phố", "Thị trấn", "Thị xã", "Phường", "Huyện", "Quận", "Tỉnh", "Xã")

# A type prefix typed before a name. Strong: written with diacritics, or an abbreviation (TP, TX, TT, or a
# dotted letter): strip it first. Plain: the same words without diacritics ("Xa", "Quan", "Tinh"...) or a
# bare letter ("H Chư Sê"): also the start of real names (Xà Bang, Quan Hóa, Tịnh Biên, H Bông), so the
# full text is tried first.
_STRONG_PREFIX_RE = re.compile(
    r"^(?:(?P<w>thành\s*phố|thị\s*xã|thị\s*trấn|huyện|quận|xã|phường|tỉnh)[\s.:,-]+"
    r"|(?P<a>t\.?\s?[pxt](?=[\s.])\.?|[hqxpt]\.)[\s.:,-]*)(?P<rest>\S.*)$",
    re.IGNORECASE,
)
_PLAIN_PREFIX_RE = re.compile(
    r"^(?P<p>thanh\s+pho|thi\s+xa|thi\s+tran|huyen|quan|xa|phuong|tinh|[hqxp])\s+(?P<rest>\S.*)$",
    re.IGNORECASE,
)
_PREFIX_TYPES = {
    "thanhpho": "thành phố", "tp": "thành phố",
    "thixa": "thị xã", "tx": "thị xã",
    "thitran": "thị trấn", "tt": "thị trấn",
    "huyen": "huyện", "h": "huyện",
    "quan": "quận", "q": "quận",
    "xa": "xã", "x": "xã",
    "phuong": "phường", "p": "phường",
    "tinh": "tỉnh", "t": "tỉnh",
}  # fmt: skip
# A code, possibly as Excel wrote it ("633.0"), possibly with the name ("633 - Chư Sê", "Chư Sê (633)").
_CODE_RE = re.compile(r"^\s*(\d+)(?:[.,]0+)?\s*$")
_CODE_THEN_NAME_RE = re.compile(r"^\s*(\d{2,5})\s*[-–:.)|]\s*(\S.*)$")
_NAME_THEN_CODE_RE = re.compile(r"^(.*\S)\s*[(\[]\s*(\d{2,5})\s*[)\]]\s*$")
_LEADING_ZEROS_RE = re.compile(r"\b0+(?=\d)")
# Names people use for provinces that are not their GSO short names (folded).
_PROVINCE_ALIASES = {"hcm": "79", "tphcm": "79", "sai gon": "79", "hue": "46", "brvt": "77"}


def _name_key(text: str, *, keep_marks: bool) -> str:
    """Index key of a name: `exact_key` or `fold`, with "Phường 01" = "Phường 1"."""
    key = exact_key(text) if keep_marks else fold(text)
    return _LEADING_ZEROS_RE.sub("", key) if any(c.isdigit() for c in key) else key


def _code_digits(value: Any) -> tuple[str, bool] | None:
    """Digits of a code given as str / int / integral float, and whether it came as text (so that its
    length, zero-padding included, can tell its level)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, np.integer)):
        return (str(int(value)), False) if value >= 0 else None
    if isinstance(value, (float, np.floating)):
        return (
            (str(int(value)), False)
            if np.isfinite(value) and float(value).is_integer() and value >= 0
            else None
        )
    if isinstance(value, str):
        m = _CODE_RE.match(value)
        return (m.group(1), True) if m else None
    return None


def _pad(digits: str, width: int) -> str | None:
    if len(digits) > width:
        digits = digits.lstrip("0") or "0"
        if len(digits) > width:
            return None
    return digits.zfill(width)


def _short_name(name: str) -> str:
    for prefix in _NAME_PREFIXES:
        if name[: len(prefix)].casefold() == prefix.casefold() and name[len(prefix) : len(prefix) + 1] == " ":
            return name[len(prefix) + 1 :].strip()
    return name


class AdminUnits:
    """All units of one GSO export, indexed by code and by name key per level."""

    def __init__(self, units: Iterable[Unit]):
        self._by_code: dict[str, dict[str, Unit]] = {lvl: {} for lvl in LEVELS}
        self._children: dict[str, list[Unit]] = defaultdict(list)
        self._exact: dict[str, dict[str, list[Unit]]] = {lvl: defaultdict(list) for lvl in LEVELS}
        self._folded: dict[str, dict[str, list[Unit]]] = {lvl: defaultdict(list) for lvl in LEVELS}
        self._compact: dict[str, dict[str, list[Unit]]] = {lvl: defaultdict(list) for lvl in LEVELS}
        for u in units:
            if u.code in self._by_code[u.level]:
                continue
            self._by_code[u.level][u.code] = u
            if u.parent_code is not None:
                self._children[u.parent_code].append(u)
            self._exact[u.level][_name_key(u.short_name, keep_marks=True)].append(u)
            folded = _name_key(u.short_name, keep_marks=False)
            self._folded[u.level][folded].append(u)
            self._compact[u.level][folded.replace(" ", "")].append(u)
        for lst in self._children.values():
            lst.sort(key=lambda u: u.code)
        self._ancestors: dict[str, frozenset[str]] = {}
        for lvl in LEVELS:
            for code, u in self._by_code[lvl].items():
                chain = []
                parent = u.parent_code
                while parent is not None:
                    chain.append(parent)
                    p = self._by_code["district"].get(parent) if len(parent) == 3 else None
                    parent = p.parent_code if p else None
                self._ancestors[f"{lvl}:{code}"] = frozenset(chain)

    # -- loading ------------------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path | None = None) -> AdminUnits:
        """Read the CSV (gzip or plain) written by scripts/build_admin_units.py."""
        p = Path(path) if path is not None else DEFAULT_PATH
        raw = p.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        reader = csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))
        return cls(_units_from_rows(reader))

    # -- by code ------------------------------------------------------------------------------------------

    def get(self, code: str | int) -> Unit | None:
        """Any level. Text codes choose the level by their length ("64", "633", "23557"; "1" is a
        province); numbers by their size (64 -> province, 633 -> district, 23557 -> commune)."""
        parsed = _code_digits(code)
        if parsed is None:
            return None
        digits, as_text = parsed
        size = len(digits) if as_text else len(digits.lstrip("0") or "0")
        level = "province" if size <= 2 else "district" if size == 3 else "commune" if size <= 5 else None
        return self._unit(level, digits) if level else None

    def province(self, code: Any) -> Unit | None:
        return self._unit("province", code)

    def district(self, code: Any) -> Unit | None:
        return self._unit("district", code)

    def commune(self, code: Any) -> Unit | None:
        return self._unit("commune", code)

    def _unit(self, level: str, code: Any) -> Unit | None:
        parsed = _code_digits(code)
        if parsed is None:
            return None
        padded = _pad(parsed[0], WIDTH[level])
        return self._by_code[level].get(padded) if padded else None

    def districts_of(self, province_code: Any) -> list[Unit]:
        p = self.province(province_code)
        return list(self._children.get(p.code, ())) if p else []

    def communes_of(self, district_code: Any) -> list[Unit]:
        d = self.district(district_code)
        return list(self._children.get(d.code, ())) if d else []

    def units(self, level: str) -> list[Unit]:
        """Every unit of a level, by code."""
        return sorted(self._by_code[_check_level(level)].values(), key=lambda u: u.code)

    # -- by name or code ----------------------------------------------------------------------------------

    def lookup(self, text: Any, level: str, parent_code: Any = None) -> Lookup:
        """Resolve a code or a name at `level`, within `parent_code` when given (any ancestor: a
        district or a province for communes; a province for districts). Never raises on the text.

        Digits are a code (zero-padded to the level); "633 - Chư Sê" and "Chư Sê (633)" are tried by
        code, then by name. A name may carry its type ("Huyện", "H.", "TP", "Tp.", "Thành phố", "TX",
        "Thị xã", "Xã", "X.", "Phường", "P.", "Thị trấn", "TT", "Tỉnh", with or without diacritics).
        Text with diacritics matching exactly one official name as written (NFC, either tone style,
        any case) is found; otherwise the folded names decide (`fold`: no diacritics, K'Bang = KBang):
        one match is found, several are ambiguous (Ia Bang in Chư Prông: Ia Băng or Ia Bang), unless
        the typed type prefix singles one out ("Xã Yên Viên" vs "Thị trấn Yên Viên"). Words run
        together ("Ayunpa") are a last resort."""
        level = _check_level(level)
        parent = self._parent_code(parent_code, level)
        if parent_code is not None and parent is None:
            return _UNKNOWN  # a parent that does not exist contains nothing
        if isinstance(text, (int, float, np.integer, np.floating)) and not isinstance(text, bool):
            return self._by_code_lookup(text, level, parent) or _UNKNOWN
        raw = collapse_spaces(nfc(text))
        if not raw:
            return _UNKNOWN
        if _CODE_RE.match(raw):
            by_code = self._by_code_lookup(raw, level, parent)
            if by_code is not None and by_code.status == "found":
                return by_code
            by_name = self._by_name(raw, level, parent)
            return by_name if by_name.status != "unknown" or by_code is None else by_code
        m = _CODE_THEN_NAME_RE.match(raw) or _NAME_THEN_CODE_RE.match(raw)
        if m:
            code, name = (m.group(1), m.group(2)) if m.re is _CODE_THEN_NAME_RE else (m.group(2), m.group(1))
            by_code = self._by_code_lookup(code, level, parent)
            if by_code is not None and by_code.status == "found":
                return by_code
            return self._by_name(name, level, parent)
        return self._by_name(raw, level, parent)

    def resolve_district(self, text: Any, province_code: Any = "64") -> Lookup:
        """A district of a province by code (633, "633") or name ("Chư Sê", "chu se", "H. Chư Sê")."""
        return self.lookup(text, "district", province_code)

    def lookup_communes(self, names: pd.Series, district_code: Any) -> pd.DataFrame:
        """Commune codes for a column of names (or codes) within one district, resolved once per distinct
        value. Columns: `code` (found only), `status` (found / ambiguous / unknown; blank -> unknown),
        `outside_code` (unknown here but exactly one commune of that name elsewhere in the province:
        the reason `commune_outside_district`). Index: the input's."""
        s = names if isinstance(names, pd.Series) else pd.Series(names)
        try:
            codes, uniques = pd.factorize(s, use_na_sentinel=True)
        except TypeError:
            s = s.map(lambda v: v if isinstance(v, (str, int, float)) else str(v))
            codes, uniques = pd.factorize(s, use_na_sentinel=True)
        district = self.district(district_code)
        province = district.parent_code if district else None
        n = len(uniques)
        code_arr = np.full(n + 1, np.nan, dtype=object)
        status_arr = np.full(n + 1, "unknown", dtype=object)
        outside_arr = np.full(n + 1, np.nan, dtype=object)
        for i, value in enumerate(uniques):
            res = self.lookup(value, "commune", district_code)
            status_arr[i] = res.status
            if res.status == "found" and res.unit is not None:
                code_arr[i] = res.unit.code
            elif (
                res.status == "unknown"
                and len(res.candidates) == 1
                and self._within(res.candidates[0], province)
            ):
                outside_arr[i] = res.candidates[0].code
        return pd.DataFrame(
            {
                "code": pd.array(code_arr[codes], dtype="str"),
                "status": pd.array(status_arr[codes], dtype="str"),
                "outside_code": pd.array(outside_arr[codes], dtype="str"),
            },
            index=s.index,
        )

    # -- internals ----------------------------------------------------------------------------------------

    def _parent_code(self, parent_code: Any, level: str) -> str | None:
        """Normalise a parent code, or None when it names no unit that can contain `level`. Text keeps
        its own length ("64" province, "633" district); a number below 100 is a province, else a
        district (as `get` reads it)."""
        if parent_code is None or level == "province":
            return None
        parsed = _code_digits(parent_code)
        if parsed is None:
            return None
        digits, as_text = parsed
        width = len(digits) if as_text and len(digits) in (2, 3) else 2 if int(digits) < 100 else 3
        if level == "district" and width != 2:
            return None
        padded = _pad(digits, width)
        table = self._by_code["province" if width == 2 else "district"]
        return padded if padded in table else None

    def _within(self, unit: Unit, parent: str | None) -> bool:
        return parent is None or parent in self._ancestors[f"{unit.level}:{unit.code}"]

    def _scope_above(self, parent: str | None) -> str | None:
        """Where to look for a name that is not in `parent`: a district's province."""
        if parent is not None and len(parent) == 3:
            d = self._by_code["district"].get(parent)
            return d.parent_code if d else None
        return None

    def _by_code_lookup(self, code: Any, level: str, parent: str | None) -> Lookup | None:
        unit = self._unit(level, code)
        if unit is None:
            return None
        if self._within(unit, parent):
            return Lookup("found", unit, (unit,))
        return Lookup("unknown", None, (unit,))

    def _by_name(self, text: str, level: str, parent: str | None) -> Lookup:
        tries: list[tuple[str, str | None]] = []  # (name, type hint)
        strong = _STRONG_PREFIX_RE.match(text)
        plain = None if strong else _PLAIN_PREFIX_RE.match(text)
        if strong:
            tries.append((strong.group("rest"), _prefix_type(strong.group("w") or strong.group("a"))))
        tries.append((text, None))
        if plain:
            tries.append((plain.group("rest"), _prefix_type(plain.group("p"))))
        for name, type_hint in tries:
            result = self._match(name, level, parent, type_hint)
            if result.status != "unknown":
                return result
        # Nothing inside the parent: is it a unit just outside (another district of the province)?
        scope = self._scope_above(parent)
        if scope is not None:
            for name, type_hint in tries:
                result = self._match(name, level, scope, type_hint)
                if result.status != "unknown":
                    return Lookup("unknown", None, result.candidates)
        return _UNKNOWN

    def _match(self, name: str, level: str, parent: str | None, type_hint: str | None) -> Lookup:
        if level == "province" and parent is None:
            alias = _PROVINCE_ALIASES.get(fold(name))
            if alias:
                unit = self._by_code["province"][alias]
                return Lookup("found", unit, (unit,))
        if has_diacritics(name):
            exact = [
                u
                for u in self._exact[level].get(_name_key(name, keep_marks=True), ())
                if self._within(u, parent)
            ]
            if exact:
                return _decide(exact, type_hint)
        key = _name_key(name, keep_marks=False)
        folded = [u for u in self._folded[level].get(key, ()) if self._within(u, parent)]
        if folded:
            return _decide(folded, type_hint)
        # Last resort, words run together or split ("Ayunpa", "Chưsê", "Pley Ku").
        compact = [u for u in self._compact[level].get(key.replace(" ", ""), ()) if self._within(u, parent)]
        return _decide(compact, type_hint) if compact else _UNKNOWN


def _decide(candidates: list[Unit], type_hint: str | None) -> Lookup:
    if len(candidates) > 1 and type_hint:
        typed = [u for u in candidates if u.type == type_hint or u.type.startswith(type_hint + " ")]
        if len(typed) == 1:
            candidates = typed
    if len(candidates) == 1:
        return Lookup("found", candidates[0], (candidates[0],))
    return Lookup("ambiguous", None, tuple(sorted(candidates, key=lambda u: u.code)))


def _prefix_type(prefix: str) -> str | None:
    return _PREFIX_TYPES.get(fold(prefix).replace(" ", ""))


def _check_level(level: str) -> Level:
    if level not in WIDTH:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    return level  # type: ignore[return-value]


def _units_from_rows(rows: Iterable[dict[str, str]]) -> Iterable[Unit]:
    seen: set[str] = set()
    for r in rows:
        pc, dc, cc = r["province_code"].strip(), r["district_code"].strip(), r["commune_code"].strip()
        if pc not in seen:
            seen.add(pc)
            yield Unit(
                pc, r["province_name"], _short_name(r["province_name"]), r["province_type"], "province", None
            )
        if dc not in seen:
            seen.add(dc)
            yield Unit(
                dc, r["district_name"], _short_name(r["district_name"]), r["district_type"], "district", pc
            )
        if cc:
            yield Unit(
                cc, r["commune_name"], _short_name(r["commune_name"]), r["commune_type"], "commune", dc
            )


@functools.cache
def district_name_table(path: str | Path | None = None) -> dict[str, str]:
    """GSO district code -> name, read from the same CSV without building the whole index: the summaries
    that only name their 17 districts paid ~1.5 s (5 s on a loaded 2-core machine) for the 11,000 communes'
    search keys (issue 22). `AdminUnits.district(code).name` gives the same names (tested)."""
    p = Path(path) if path is not None else DEFAULT_PATH
    raw = p.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return {r["district_code"].strip(): r["district_name"]
            for r in csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))) if r["district_code"].strip()}


def district_name(code: Any) -> str | None:
    """The name of a district by its GSO code (`622`, 622), from `district_name_table`."""
    parsed = _code_digits(code)
    padded = _pad(parsed[0], WIDTH["district"]) if parsed is not None else None
    return district_name_table().get(padded) if padded else None


@functools.cache
def get_admin_units() -> AdminUnits:
    """The GSO 2021 units from `config/`, loaded once per process."""
    return AdminUnits.load()
