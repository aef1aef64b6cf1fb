"""Which target-list rows carry which cell defect: only rows that qualify, only where the row's file has
the column, evenly over the catalogue. Also the communes that set traps (names that collide without
diacritics, names ambiguous even as written, invented names that are no commune)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from campaign.domain.admin_units import get_admin_units
from campaign.domain.text import fold
from campaign.synth import defects as dfx
from campaign.synth.files.layouts import Layout, OutCol
from campaign.synth.names import strip_diacritics


def commune_traps(communes: pd.DataFrame) -> tuple[set[str], set[str], list[str]]:
    """Communes that collide once diacritics are dropped, those ambiguous even as officially written,
    and invented names that are no commune of the province."""
    units = get_admin_units()
    colliding, self_amb = set(), set()
    for c in communes.itertuples():
        if units.lookup(strip_diacritics(c.name), "commune", c.district_code).status == "ambiguous":
            colliding.add(c.code)
        if units.lookup(c.name, "commune", c.district_code).status == "ambiguous":
            self_amb.add(c.code)
    province = {fold(s) for s in communes["short_name"]} | {fold(s) for s in communes["name"]}
    unknown = []
    for name in dfx.NOT_A_COMMUNE:
        short = name.split(" ", 1)[1] if name.split(" ", 1)[0] in ("Xã", "Phường") else name
        if fold(name) not in province and fold(short) not in province:
            unknown.append(name)
    return colliding, self_amb, unknown


def plan_target_defects(rng: np.random.Generator, entries: pd.DataFrame, layouts: dict[str, Layout],
                          columns: dict[str, list[OutCol]], colliding: set[str], self_amb: set[str],
                          rate: float) -> np.ndarray:
    """The defect code of every entry ("" for none), at `rate` of the rows. Depends on the chosen layouts
    and columns, so it is drawn after them."""
    codes, uniques = pd.factorize(entries["_listed_district"].to_numpy(dtype=object))

    def per_row(f) -> np.ndarray:
        """A per-file trait spread over the file's rows (computed per district, taken by index)."""
        table = np.array([f(layouts[d], {c.name for c in columns[d] if c.role == "data"}) for d in uniques],
                         dtype=object)
        return table[codes]

    traits = pd.DataFrame({
        "fmt": per_row(lambda lay, cols: lay.fmt), "encoding": per_row(lambda lay, cols: lay.encoding or ""),
        "numeric_ids": per_row(lambda lay, cols: lay.numeric_ids).astype(bool),
        "numeric_phones": per_row(lambda lay, cols: lay.numeric_phones).astype(bool),
        "date_style": per_row(lambda lay, cols: lay.effective_date_style),
        "has_commune_code": per_row(lambda lay, cols: "commune_code" in cols).astype(bool),
        "sex_marks": per_row(lambda lay, cols: lay.sex_style == "marks").astype(bool),
        "has_insurance": per_row(lambda lay, cols: "insurance_number" in cols).astype(bool),
    })
    traits.attrs["colliding"] = colliding
    traits.attrs["self_ambiguous"] = self_amb
    eligible = dfx.eligibility(entries, traits)
    # a defect needs its column in the file (optional columns are left out of some layouts)
    for code in list(eligible):
        for col in (dfx.CATALOGUE[code].column, *dfx.ALSO_NEEDS.get(code, ())):
            if col:
                eligible[code] = eligible[code] & per_row(lambda lay, cols, col=col: col in cols).astype(bool)
    total = max(len(dfx.TARGET_LIST_CELL_CODES), int(round(rate * len(entries))))
    return dfx.choose(rng, eligible, total, entries["full_name"].to_numpy(dtype=object))
