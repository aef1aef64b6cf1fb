"""Session planning, the pure part (`campaign.planning.rules`): what a plan is worth. Its summary per
district and for the province, the least open-vial wastage for the same doses, priority inversions, and
the quality figures recorded with a plan."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from campaign.planning.rules import Plan, Product
    from campaign.planning.store import PlanInputs


def wastage_lower_bound(invitations: pd.DataFrame, products: dict[str, Product]) -> int:
    """The least open-vial wastage for the same doses: at most one partly used vial per facility and
    product over the whole plan."""
    if invitations.empty:
        return 0
    per = invitations.groupby(["facility_code", "product"]).size()
    vial = per.index.get_level_values("product").map({k: v.doses_per_vial for k, v in products.items()})
    return int(((-per.to_numpy()) % np.nan_to_num(vial.to_numpy(dtype=float), nan=1).astype(int)).sum())


def priority_inversions(people: pd.DataFrame, invitations: pd.DataFrame, priority_order: list[int]) -> dict:
    """Dose-1 invitations of a lower priority while an eligible person of a higher priority of the same
    commune was left waiting. Explained: kept from the published plan, moved up from a standby list."""
    rank = {g: i for i, g in enumerate(priority_order)}
    pr = people.set_index("person_id")
    inv = invitations[invitations["dose"] == 1]
    invited = set(inv["person_id"])
    pool = people[people["eligible"].astype(bool) & people["next_dose"].eq(1)]
    waiting = pool[~pool["person_id"].isin(invited)]
    best_waiting = waiting.assign(_r=pd.to_numeric(waiting["priority_group"], errors="coerce").map(rank)) \
        .groupby("commune_code")["_r"].min()
    r = inv.assign(commune_code=inv["person_id"].map(pr["commune_code"]),
                   _r=pd.to_numeric(inv["person_id"].map(pr["priority_group"]), errors="coerce").map(rank))
    inverted = r[r["_r"] > r["commune_code"].map(best_waiting)]
    by_source = inverted["source"].value_counts().to_dict()
    explained = {k: int(v) for k, v in by_source.items() if k != "planned"}
    return {"unexplained": int(by_source.get("planned", 0)), "explained": explained}


def summarize(sessions: pd.DataFrame, invitations: pd.DataFrame, unplanned: pd.DataFrame,
              people: pd.DataFrame, products: dict[str, Product]) -> dict:
    """Per district and for the province: people planned (a person recalled for dose 2 in the same plan
    counts once; `invitations` counts both), unplanned by reason, vials to open, planned wastage and its
    lower bound for the same sessions."""
    by_district: dict[str, dict] = {}
    planned = invitations.groupby("district")["person_id"].nunique() if len(invitations) else pd.Series(dtype=int)
    reasons = unplanned.groupby(["district", "reason"]).size() if len(unplanned) else pd.Series(dtype=int)
    for d in sorted(set(people["district"].dropna())):
        s = sessions[sessions["district"] == d]
        u = reasons.xs(d, level="district").to_dict() if len(reasons) and d in reasons.index.get_level_values(0) else {}
        by_district[d] = {"planned": int(planned.get(d, 0)), "unplanned": {k: int(v) for k, v in u.items()},
                          "sessions": int(s[["facility_code", "date", "part"]].drop_duplicates().shape[0]),
                          "vials": int(s["vials"].sum()), "wasted_doses": int(s["wasted_doses"].sum())}
    doses = int(sessions["invited"].sum()) if len(sessions) else 0
    return {"districts": by_district,
            "province": {"planned": int(invitations["person_id"].nunique()) if len(invitations) else 0,
                         "invitations": int(len(invitations)), "unplanned": int(len(unplanned)),
                         "unplanned_by_reason": {k: int(v) for k, v in unplanned["reason"].value_counts().items()},
                         "dose2_planned": int((invitations["dose"] == 2).sum()) if len(invitations) else 0,
                         "sessions": int(sessions[["facility_code", "date", "part"]].drop_duplicates().shape[0]),
                         "vials": int(sessions["vials"].sum()) if len(sessions) else 0,
                         "doses": doses,
                         "wasted_doses": int(sessions["wasted_doses"].sum()) if len(sessions) else 0,
                         "wastage_lower_bound": wastage_lower_bound(invitations, products)}}


def quality(plan: Plan, inputs: PlanInputs, priority_order: list[int]) -> dict[str, Any]:
    """What the plan is worth: capacity used, people served in their own commune, planned wastage above
    its lower bound (as a share of the doses), priority inversions (explained and not)."""
    s, inv = plan.sessions, plan.invitations
    held = s.drop_duplicates(["facility_code", "date", "part"])
    capacity = int(held["capacity"].sum()) if len(held) else 0
    fac_commune = inputs.facilities.set_index("facility_code")["commune_code"]
    person_commune = inputs.people.set_index("person_id")["commune_code"]
    own = (inv["facility_code"].map(fac_commune).to_numpy() == inv["person_id"].map(person_commune).to_numpy()) \
        if len(inv) else np.array([], dtype=bool)
    p = plan.summary["province"]
    doses = p["doses"]
    return {
        "capacity_of_sessions_held": capacity,
        "capacity_used": round(len(inv) / capacity, 4) if capacity else None,
        "own_commune_share": round(float(own.mean()), 4) if len(own) else None,
        "wasted_doses": p["wasted_doses"], "wastage_lower_bound": p["wastage_lower_bound"],
        "wastage_above_bound_share": round((p["wasted_doses"] - p["wastage_lower_bound"]) / doses, 5) if doses else 0.0,
        "priority_inversions": priority_inversions(inputs.people, inv, priority_order),
        "published_kept": int((inv["source"] == "published").sum()) if len(inv) else 0,
        "from_standby": int((inv["source"] == "standby").sum()) if len(inv) else 0,
        "published_freed": int(len(plan.freed)),
    }
