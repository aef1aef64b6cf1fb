"""The master list's own linkage model scoring dose rows against the list's records (issue 20.1: "the
same linkage model as the master list: name, birth date, commune, phone").

The stored model (`linkage_models`, trained by the master list on its records) is used with Splink's
`link_only` instead of `dedupe_only`: the same comparisons, m and u parameters and candidate blocks, one
side the dose rows, the other the records; only the prior is the linking's own (1 / records: a dose row
of a listed person is one of the records). What a dose row does not have (workplace, priority group, the
list's dose-1 date, insurance number; the commune of a result) is a null level: no evidence either way.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from campaign.master_list.dedupe.model import MODEL_COLUMNS, given_names_disagree
from campaign.master_list.dedupe.records import build_records

PAIR_COLUMNS = ["dose", "record", "match_probability", "given_disagrees", "cccd_differs"]


def dose_records(doses: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    """The comparison view (`records.build_records`) of dose rows, with their normalized identity numbers."""
    rows = pd.DataFrame({
        "submission_id": doses["submission_id"].to_numpy(), "sheet": None, "row_number": doses["row_number"].to_numpy(),
        "district": doses["district"].to_numpy(dtype=object), "full_name": doses["full_name"].to_numpy(dtype=object),
        "birth_date": doses["birth_date"].to_numpy(dtype=object), "sex": doses["sex"].to_numpy(dtype=object),
        "phone": doses["phone"].to_numpy(dtype=object), "id_number": ids.to_numpy(dtype=object),
        "insurance_number": None, "commune_code": doses["commune_code"].to_numpy(dtype=object)})
    return build_records(rows, None)


def score(records: pd.DataFrame, mine: pd.DataFrame, model: dict[str, Any], *, min_probability: float) -> pd.DataFrame:
    """Candidate pairs (PAIR_COLUMNS) of dose records `mine` (positions 0..n-1: `dose`) against the list's
    `records` (positions: `record`), at or above `min_probability`."""
    from splink import DuckDBAPI, Linker

    if mine.empty or records.empty or not model:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("dose", "record") else float) for c in PAIR_COLUMNS})
    n_list = len(records)
    left = records[MODEL_COLUMNS].assign(record_id=np.arange(n_list, dtype=np.int64))
    right = mine[MODEL_COLUMNS].assign(record_id=np.arange(len(mine), dtype=np.int64) + n_list)
    spec = {k: v for k, v in model.items() if k != "campaign_model_version"}
    spec["link_type"] = "link_only"
    # The prior is the one thing that differs: the list's model knows how often two of its records are one
    # person (duplicates in the list); a dose row of a listed person is one of the list's records: one in
    # `n_list` for a random pair.
    spec["probability_two_random_records_match"] = 1.0 / n_list
    db_api = DuckDBAPI()
    a = db_api.register(left, dataset_display_name="master_records")
    b = db_api.register(right, dataset_display_name="dose_rows")
    linker = Linker([a, b], spec, log_level=logging.ERROR)
    pairs = linker.inference.predict(threshold_match_probability=min_probability).as_pandas_dataframe()
    if pairs.empty:
        return score(records.iloc[0:0], mine, model, min_probability=min_probability)
    lo = np.minimum(pairs["record_id_l"].to_numpy(dtype=np.int64), pairs["record_id_r"].to_numpy(dtype=np.int64))
    hi = np.maximum(pairs["record_id_l"].to_numpy(dtype=np.int64), pairs["record_id_r"].to_numpy(dtype=np.int64))
    out = pd.DataFrame({"record_id_l": lo, "record_id_r": hi,
                        "match_probability": pairs["match_probability"].to_numpy(dtype=float)})
    out = out[(out["record_id_l"] < n_list) & (out["record_id_r"] >= n_list)].reset_index(drop=True)
    both = pd.concat([left, right], ignore_index=True)
    out["given_disagrees"] = given_names_disagree(both, out)
    cccd = both["cccd"].to_numpy(dtype=object)
    l_id, r_id = cccd[out["record_id_l"].to_numpy()], cccd[out["record_id_r"].to_numpy()]
    differs = pd.notna(l_id) & pd.notna(r_id) & (l_id != r_id)
    return pd.DataFrame({"dose": out["record_id_r"].to_numpy() - n_list, "record": out["record_id_l"].to_numpy(),
                         "match_probability": out["match_probability"].to_numpy(),
                         "given_disagrees": out["given_disagrees"].to_numpy(dtype=bool), "cccd_differs": differs})
