"""A district typed by a person -> a district of the campaign: the one rule every face and core step uses
(the CLI's `--district`, intake's request, the export, a deadline extension's party).

    resolve_district(text, campaign) -> Unit   (its `.code`, `.name`); DistrictError when unknown or ambiguous

The text is a GSO code ("633", 633), a name with or without diacritics ("Chư Sê", "chu se"), with its type
("H. Chư Sê") or its code ("633 - Chư Sê"): `AdminUnits.resolve_district` within the campaign's province.
A district of the province that the campaign does not cover is unknown here.
"""

from __future__ import annotations

from typing import Any

from campaign.config import CampaignConfig
from campaign.domain.admin_units import AdminUnits, Unit, get_admin_units


class DistrictError(ValueError):
    """A district that names none of the campaign's districts, or several; `str()` is the message shown to
    people. `candidates`: the districts an ambiguous text matches (empty when unknown)."""

    def __init__(self, message: str, *, text: Any, candidates: tuple[Unit, ...] = ()) -> None:
        super().__init__(message)
        self.text = text
        self.candidates = candidates

    @property
    def ambiguous(self) -> bool:
        return bool(self.candidates)


def resolve_district(text: Any, campaign: CampaignConfig, units: AdminUnits | None = None) -> Unit:
    """The campaign's district that `text` names, or a DistrictError naming the text (and, when ambiguous,
    every district it could be)."""
    found = (units or get_admin_units()).resolve_district(str(text).strip(), campaign.province.code)
    if found.status == "ambiguous":
        names = ", ".join(f"{u.code} {u.name}" for u in found.candidates)
        raise DistrictError(f"district {text!r} is ambiguous: {names}", text=text, candidates=found.candidates)
    if found.status != "found" or found.unit is None or found.unit.code not in campaign.district_codes:
        raise DistrictError(f"unknown district {text!r} in province {campaign.province.name}", text=text)
    return found.unit
