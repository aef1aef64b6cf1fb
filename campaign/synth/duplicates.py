"""The truth about duplicate people: which target-list rows, in which files, are the same person."""

from __future__ import annotations

import numpy as np
import pandas as pd

from campaign.synth.files.emit import Context


def duplicate_truth(ctx: Context, entries: pd.DataFrame) -> list[dict]:
    """Which target-list rows are the same person: listed twice in a district, by two districts, or an
    exact copy of a row. Each cluster: the person, how it arose, and every row (file, sheet, row)."""
    if not ctx.placements:
        return []
    dup = entries["_dup"].to_numpy(dtype=object) != ""
    copied = np.concatenate([ids[cp] for _, _, ids, _, cp in ctx.placements])
    eid = entries["entry_id"].to_numpy()
    pk = entries["person_key"].to_numpy()
    people = np.unique(pk[dup | np.isin(eid, copied)])
    wanted = eid[np.isin(pk, people)]  # integer isin: cheap even on a million rows
    place = pd.concat([pd.DataFrame({"entry_id": ids[m], "file": f, "sheet": sh, "row_number": rn[m], "copy": cp[m]})
                       for f, sh, ids, rn, cp in ctx.placements for m in [np.isin(ids, wanted)]], ignore_index=True)
    ent = entries.loc[np.isin(pk, people), ["entry_id", "person_key", "_dup", "_listed_district", "_variation"]]
    rows = ent.merge(place, on="entry_id")
    rows["variation"] = np.where(rows["copy"], "exact_copy", rows["_variation"].fillna(""))
    rows["how"] = np.where(rows["copy"], "exact_copy",
                           np.where(rows["_dup"].str.startswith("cross"), "cross_district",
                                    np.where(rows["_dup"].eq("within"), "within_district", "")))
    rows = rows.sort_values(["person_key", "file", "row_number"], kind="stable")
    out = []
    for person, g in rows.groupby("person_key", sort=True):  # a few thousand clusters at most
        if len(g) < 2:
            continue
        out.append({"person": f"P{int(person):07d}", "kinds": sorted({h for h in g["how"] if h}),
                    "rows": [{"file": f, "sheet": None if pd.isna(sh) else sh, "row_number": int(r), "district": str(d),
                              "variation": v or None}
                             for f, sh, r, d, v in zip(g["file"], g["sheet"], g["row_number"], g["_listed_district"],
                                                       g["variation"], strict=True)]})
    return out
