"""Districts and communes of the campaign's province, with the district facts (population, ethnic-minority
share, a centroid) that weight where people live and where facilities stand."""

from __future__ import annotations

import pandas as pd

from campaign.config import CampaignConfig
from campaign.domain.admin_units import get_admin_units

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


def prepare_admin(campaign: CampaignConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
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
