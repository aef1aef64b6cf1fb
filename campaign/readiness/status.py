"""Readiness statuses, how they roll up, and the one count of them every output shows.

Statuses (docs/contracts.md): `ready`, `ready_with_warnings`, `not_ready`, `unknown`; a roll-up takes the worst by
the precedence not_ready > unknown > ready_with_warnings > ready. `count_facilities`, `count_districts`
and `counts_of` are the single source of the readiness figures (the CLI, the portal, the Prefect artifacts,
the demo and the reports all show these; tests/test_figures_agree.py). Their words are in
`campaign.vocabulary` (`status_label`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from campaign.readiness.rules import Assessment

READY, WARNINGS, NOT_READY, UNKNOWN = "ready", "ready_with_warnings", "not_ready", "unknown"
STATUSES = (READY, WARNINGS, UNKNOWN, NOT_READY)   # from best to worst
_RANK = {s: i for i, s in enumerate(STATUSES)}

# A facility or district in one of these statuses counts as ready ("ready_with_warnings" is ready).
READY_STATUSES = (READY, WARNINGS)


def count_facilities(statuses: Iterable[str]) -> dict[str, Any]:
    """The one count of facilities every output shows (CLI, portal, artifacts, demo, reports):
    `facilities_total`, `facilities_ready` (ready + ready_with_warnings) and `facilities_by_status`."""
    statuses = list(statuses)
    by_status = {s: statuses.count(s) for s in STATUSES}
    return {"facilities_total": len(statuses), "facilities_ready": sum(by_status[s] for s in READY_STATUSES),
            "facilities_by_status": by_status}


def count_districts(statuses: Iterable[str]) -> dict[str, Any]:
    """The one count of districts: `districts_total`, `districts_ready` (ready + ready_with_warnings) and
    `districts_by_status`."""
    statuses = list(statuses)
    by_status = {s: statuses.count(s) for s in STATUSES}
    return {"districts_total": len(statuses), "districts_ready": sum(by_status[s] for s in READY_STATUSES),
            "districts_by_status": by_status}


def worst(statuses: Iterable[str]) -> str:
    """The roll-up of statuses (an empty roll-up is unknown)."""
    ranked = [_RANK[s] for s in statuses]
    return STATUSES[max(ranked)] if ranked else UNKNOWN


def counts_of(result: Assessment, *, district: str | None = None, facility: str | None = None) -> dict[str, Any]:
    """The facility counts of the province (no argument), of one district or of one facility, read from the
    assessment as `assess` counted them (`count_facilities`): what the reports show next to the CLI."""
    if facility is not None:
        f = result.facilities
        mine = f["facility_code"] == facility
        if district is not None:
            mine &= f["district"] == district
        return count_facilities(f.loc[mine, "status"])
    if district is not None:
        rows = result.districts[result.districts["district"] == district].to_dict("records")
        row = rows[0] if rows else count_facilities([])
    else:
        row = result.province
    return {"facilities_total": int(row["facilities_total"]), "facilities_ready": int(row["facilities_ready"]),
            "facilities_by_status": {s: int(n) for s, n in row["facilities_by_status"].items()}}

