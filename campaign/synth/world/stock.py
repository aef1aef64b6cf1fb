"""Vaccine stock per facility: province-wide lots shared by facilities, one lot already expired."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from campaign.config import CampaignConfig

PRODUCT_SHARES = {"astrazeneca": 0.6, "vero_cell": 0.25, "moderna": 0.1, "pfizer": 0.05}
LOT_FORMS = {"astrazeneca": ("ABV", 4), "pfizer": ("FF", 4), "moderna": ("300", 5), "vero_cell": ("2021", 5),
             "sputnik_v": ("II", 5), "hayat_vax": ("HV", 4), "abdala": ("AB", 4)}


def _lot(rng: np.random.Generator, product: str) -> str:
    pre, width = LOT_FORMS.get(product, ("L", 5))
    return pre + str(int(rng.integers(0, 10**width))).zfill(width)


def draw_stock(rng: np.random.Generator, fac: pd.DataFrame, campaign: CampaignConfig, days: list[dt.date]) -> pd.DataFrame:
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
