"""A kind's canonical rows for one district file, with commune names as that file writes them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from campaign.synth import defects as dfx
from campaign.synth.files.emit import Context, district_info
from campaign.synth.files.layouts import Layout
from campaign.synth.world.draw import object_frame


def commune_cells(names: pd.Series, shorts: pd.Series, style: str) -> np.ndarray:
    """Commune names as this file writes them (a few hundred distinct pairs: format those, map back)."""
    names = np.asarray(names, dtype=object)
    shorts = np.asarray(shorts, dtype=object)
    codes, uniq = pd.factorize(names)  # a full name determines its short name
    if not len(codes):
        return np.array([], dtype=object)
    first = np.zeros(len(uniq), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    table = np.array([dfx.commune_text(a, shorts[i], style) if a else "" for a, i in zip(uniq, first, strict=True)],
                     dtype=object)
    out = np.full(len(codes), "", dtype=object)
    ok = codes >= 0
    out[ok] = table[codes[ok]]
    return out


def target_list_frame(ctx: Context, entries: pd.DataFrame, district: str, layout: Layout) -> pd.DataFrame:
    d_name, d_short, _ = district_info(ctx, district)
    e = entries
    n = len(e)
    f = object_frame({
        "entry_id": e["entry_id"].to_numpy(), "person_key": e["person_key"].to_numpy(),
        "full_name": e["full_name"].to_numpy(dtype=object), "birth_date": e["birth_date"].to_numpy(),
        "sex": np.where(e["female"].to_numpy(dtype=bool), "female", "male").astype(object),
        "female": e["female"].to_numpy(dtype=bool), "ethnic": e["ethnic"].to_numpy(),
        "priority_group": e["priority_group"].to_numpy(), "workplace": e["workplace"].to_numpy(dtype=object),
        "phone": e["phone"].to_numpy(dtype=object), "id_number": e["id_number"].to_numpy(dtype=object),
        "insurance_number": e["insurance_number"].to_numpy(dtype=object),
        "social_insurance": e["social_insurance"].to_numpy(dtype=object),
        "province_name": np.full(n, "Gia Lai" if layout.commune_style == "short" else "Tỉnh Gia Lai", dtype=object),
        "province_code": np.full(n, "64", dtype=object),
        "district_name": np.full(n, d_short if layout.commune_style == "short" else d_name, dtype=object),
        "district_code": np.full(n, district, dtype=object),
        "commune_name": e["commune_name"].to_numpy(dtype=object), "commune_short": e["commune_short"].to_numpy(dtype=object),
        "commune_code": e["commune_code"].to_numpy(dtype=object),
        "address_detail": e["address_detail"].to_numpy(dtype=object),
        "dose1_product": e["dose1_product"].to_numpy(dtype=object), "dose1_date": e["dose1_date"].to_numpy(),
        "dose1_lot": e["dose1_lot"].to_numpy(dtype=object), "dose1_site": e["dose1_site"].to_numpy(dtype=object),
        "dose2_product": np.full(n, "", dtype=object), "dose2_date": np.full(n, np.datetime64("NaT"), dtype="datetime64[D]"),
        "dose2_lot": np.full(n, "", dtype=object), "dose2_site": np.full(n, "", dtype=object),
        "note": np.where(e["priority_group"].to_numpy() == 11, "Hộ nghèo", "").astype(object),
        "_dup": e["_dup"].to_numpy(dtype=object), "_defect": e["_defect"].to_numpy(dtype=object),
    })
    f["commune_name"] = commune_cells(f["commune_name"], f["commune_short"], layout.commune_style)
    return f


def facility_frame(ctx: Context, fac: pd.DataFrame, layout: Layout) -> pd.DataFrame:
    f = fac.copy()
    f["commune_name"] = commune_cells(f["commune_name"], f["commune_short"], layout.commune_style)
    return f


def blank_self_ambiguous(ctx: Context, frame: pd.DataFrame, code_col: str, name_col: str) -> pd.DataFrame:
    """Kinds without a commune-code column: leave the (optional) commune empty where the official name
    alone is ambiguous (Xã Ia Bang), so no row carries a reason nobody planted."""
    if code_col in frame and ctx.self_ambiguous:
        m = frame[code_col].isin(ctx.self_ambiguous).to_numpy()
        frame.loc[m, name_col] = ""
    return frame
