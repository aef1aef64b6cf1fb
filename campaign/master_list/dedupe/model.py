"""The probabilistic model: Fellegi-Sunter with Splink on DuckDB (in memory, offline, no training data) or,
chosen by the campaign YAML (`master_list.engine`), on Spark (`engines`: the one place that knows them).

One place for the model's shape (`settings`), its unsupervised training (`train`), and scoring the
candidate pairs of a set of records (`score`). A trained model is a JSON document (Splink's own
format): the master-list pipeline stores it in the database and reuses it until told to retrain, so a
rebuild after one district's upload does not pay for training again (docs/contracts.md, the EM pitfall).

Why these comparisons (docs/domain.md): the given name (last word) carries most of a Vietnamese name's
evidence, the other words little (Nguyễn is ~38%), so they are two comparisons with term-frequency
adjustment on the given name; dates with day and month swapped are Excel's dd/mm vs mm/dd damage;
an ID compares only with an ID of the same document (a CMND says nothing about a CCCD); commune and
phone differ for people listed at home and at work.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from campaign.master_list.dedupe.engines import CANONICAL_DIALECT, DUCKDB, LinkageEngine, in_dialect

# Columns the model reads (a subset of records.RECORD_COLUMNS).
MODEL_COLUMNS = ["record_id", "district", "name_folded", "given_name", "given_marked", "other_names", "birth_date", "birth_year",
                 "birth_month", "birth_day", "sex", "commune_code", "phone", "cccd", "cmnd", "social_insurance",
                 "workplace", "priority_group", "dose1_date"]


def _exact_or_else(column: str, *, tf: bool = False) -> dict[str, Any]:
    exact: dict[str, Any] = {"sql_condition": f'"{column}_l" = "{column}_r"', "label_for_charts": "exact"}
    if tf:
        exact["tf_adjustment_column"] = column
        exact["tf_adjustment_weight"] = 1.0
    return {"output_column_name": column, "comparison_levels": [
        {"sql_condition": f'"{column}_l" IS NULL OR "{column}_r" IS NULL', "label_for_charts": "null",
         "is_null_level": True},
        exact,
        {"sql_condition": "ELSE", "label_for_charts": "else"},
    ]}


def _name(column: str, thresholds: tuple[float, ...], *, tf: bool) -> dict[str, Any]:
    levels: list[dict[str, Any]] = [
        {"sql_condition": f'"{column}_l" IS NULL OR "{column}_r" IS NULL', "label_for_charts": "null",
         "is_null_level": True},
        {"sql_condition": f'"{column}_l" = "{column}_r"', "label_for_charts": "exact",
         **({"tf_adjustment_column": column, "tf_adjustment_weight": 1.0} if tf else {})},
    ]
    for t in thresholds:
        levels.append({"sql_condition": f'jaro_winkler_similarity("{column}_l", "{column}_r") >= {t}',
                       "label_for_charts": f"jaro-winkler >= {t}"})
    levels.append({"sql_condition": "ELSE", "label_for_charts": "else"})
    return {"output_column_name": column, "comparison_levels": levels}


# Given names at least this alike (Jaro-Winkler, folded) count as the same name typed differently; below
# it they speak against a match: one threshold for the model's level and the rule outside the model.
GIVEN_NAME_SIMILAR = 0.92


def _given_name() -> dict[str, Any]:
    """Folded given names equal: the same name, unless both were typed with diacritics and differ in them
    (Hòa / Hoa, Đức / Dục: two people; the folded key alone would merge them)."""
    return {"output_column_name": "given_name", "comparison_levels": [
        {"sql_condition": "given_name_l IS NULL OR given_name_r IS NULL", "label_for_charts": "null",
         "is_null_level": True},
        {"sql_condition": "given_name_l = given_name_r AND (given_marked_l IS NULL OR given_marked_r IS NULL "
                          "OR given_marked_l = given_marked_r)", "label_for_charts": "same name",
         "tf_adjustment_column": "given_name", "tf_adjustment_weight": 1.0},
        # starting values for levels a small province may never show; EM refines them when it sees them
        {"sql_condition": "given_name_l = given_name_r", "label_for_charts": "same letters, other diacritics",
         "m_probability": 0.001},
        {"sql_condition": f"jaro_winkler_similarity(given_name_l, given_name_r) >= {GIVEN_NAME_SIMILAR}",
         "label_for_charts": f"jaro-winkler >= {GIVEN_NAME_SIMILAR}"},
        {"sql_condition": "ELSE", "label_for_charts": "else"},
    ]}


def _birth() -> dict[str, Any]:
    return {"output_column_name": "birth", "comparison_levels": [
        {"sql_condition": "birth_year_l IS NULL OR birth_year_r IS NULL", "label_for_charts": "null",
         "is_null_level": True},
        {"sql_condition": "birth_date_l = birth_date_r", "label_for_charts": "same day"},
        {"sql_condition": "birth_year_l = birth_year_r AND birth_month_l = birth_day_r AND birth_day_l = birth_month_r",
         "label_for_charts": "day and month swapped", "m_probability": 0.01, "fix_m_probability": True},
        # a placeholder 01/01 or a year alone on either side: the year is all there is to compare
        {"sql_condition": "birth_year_l = birth_year_r AND (birth_date_l IS NULL OR birth_date_r IS NULL)",
         "label_for_charts": "same year, no day on one side"},
        {"sql_condition": "birth_year_l = birth_year_r", "label_for_charts": "same year, other day"},
        {"sql_condition": "abs(birth_year_l - birth_year_r) <= 1", "label_for_charts": "a year apart"},
        {"sql_condition": "ELSE", "label_for_charts": "else"},
    ]}


def _commune() -> dict[str, Any]:
    return {"output_column_name": "place", "comparison_levels": [
        {"sql_condition": "commune_code_l IS NULL OR commune_code_r IS NULL", "label_for_charts": "null",
         "is_null_level": True},
        {"sql_condition": "commune_code_l = commune_code_r", "label_for_charts": "same commune"},
        {"sql_condition": "district_l = district_r", "label_for_charts": "same district"},
        {"sql_condition": "ELSE", "label_for_charts": "else"},
    ]}


# Candidate pairs: a pair is scored when it agrees on one of these (DuckDB joins on equality). Each rule
# is tight on its own (at 1M rows: ~4M pairs in all, against 161M with name + birth year alone): the
# birth date with either part of the name (one part may be mistyped), both parts of the name with the
# birth year (the day may be damaged: swapped, year only), or an identifier or phone.
PREDICTION_BLOCKS = [
    ["birth_date", "given_name"],
    ["birth_date", "other_names"],
    ["given_name", "other_names", "birth_year"],
    ["phone"],
    ["cccd"],
    ["cmnd"],
    ["social_insurance"],
]


def _comparisons() -> list[dict[str, Any]]:
    return [
        _given_name(),
        _name("other_names", (0.92, 0.8), tf=True),
        _birth(),
        _exact_or_else("sex"),
        _commune(),
        _exact_or_else("phone", tf=True),
        _exact_or_else("cccd"),
        _exact_or_else("cmnd"),
        _exact_or_else("social_insurance"),
        _name("workplace", (0.9,), tf=True),
        _exact_or_else("priority_group"),
        _exact_or_else("dose1_date"),
    ]


def _shape_version() -> str:
    """A stored model is reused only if it has today's shape (comparisons and blocking): change either
    here and the next run retrains instead of scoring with parameters of other levels."""
    import hashlib
    import json

    shape = json.dumps([_comparisons(), PREDICTION_BLOCKS, MODEL_COLUMNS], sort_keys=True)
    return "master-list-" + hashlib.sha1(shape.encode()).hexdigest()[:10]


def settings() -> dict[str, Any]:
    from splink import block_on

    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "record_id",
        "probability_two_random_records_match": 1e-6,
        "blocking_rules_to_generate_predictions": [block_on(*b) for b in PREDICTION_BLOCKS],
        "comparisons": _comparisons(),
        "retain_intermediate_calculation_columns": False,
        "retain_matching_columns": False,
        "additional_columns_to_retain": [],
    }


@dataclass(frozen=True)
class Training:
    """How a model is trained; every number is a setting of `config/` (master_list.training)."""

    u_max_pairs: float = 2e6
    em_max_pairs: float = 2e6
    seed: int = 2021
    deterministic_recall: float = 0.8  # of the deterministic rules that estimate the prior of a match
    m_floor: float = 1e-3  # no agreement level is impossible among true matches: typos happen everywhere


def _linker(records: pd.DataFrame, model: dict[str, Any] | None, engine: LinkageEngine = DUCKDB):
    """A Splink linker on `engine` (the only place an engine is used): the model's SQL in its dialect."""
    from splink import Linker

    db_api = engine.db_api()
    frame = engine.register(db_api, records[MODEL_COLUMNS])
    # Splink warns about levels a small province never shows (their starting values stand): not news.
    spec = in_dialect(model if model is not None else settings(), engine.dialect)
    return Linker(frame, spec, log_level=logging.ERROR)


def _saved(linker: Any) -> dict[str, Any]:
    """The linker's model as JSON, in the canonical dialect (whichever engine trained it)."""
    return in_dialect(linker.misc.save_model_to_json(), CANONICAL_DIALECT)


def train(records: pd.DataFrame, training: Training = Training(), engine: LinkageEngine = DUCKDB) -> dict[str, Any]:
    """Unsupervised training on the records themselves; returns the trained model (JSON-able)."""
    from splink import block_on

    linker = _linker(records, None, engine)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("cccd"), block_on("name_folded", "birth_date"), block_on("social_insurance")],
        recall=training.deterministic_recall,
    )
    # A small list without a single deterministic match (a district's first upload) estimates a prior of
    # 0, on which EM fails (log of 0): at least one match among all pairs is assumed.
    prior = _saved(linker)
    n = len(records)
    floor = 1.0 / max(n * (n - 1) / 2, 1.0)
    if not prior.get("probability_two_random_records_match", 0) >= floor:
        prior["probability_two_random_records_match"] = floor
        linker = _linker(records, prior, engine)
    linker.training.estimate_u_using_random_sampling(max_pairs=training.u_max_pairs, seed=training.seed)
    # Identifiers and phones almost never agree in a random sample: their u is the chance that two
    # random records share a value, computed exactly from the value frequencies.
    model = _with_exact_u(_saved(linker), records)
    linker = _linker(records, model, engine)
    # Two EM passes, each blocked on what the other estimates: together they cover every comparison. A
    # small list may have no pair under a training rule: that pass is skipped (the levels keep their
    # starting values) rather than failing the whole list.
    from splink.internals.exceptions import EMTrainingException

    for rule in (block_on("birth_date"), block_on("given_name", "other_names")):
        try:
            with em_m_floor():
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule, estimate_without_term_frequencies=True, max_pairs=training.em_max_pairs)
        except EMTrainingException:
            continue
    model = with_m_floor(_saved(linker), training.m_floor)
    model["campaign_model_version"] = MODEL_VERSION
    return model


SPLINK_MIN_PROBABILITY = 1e-300


@contextlib.contextmanager
def em_m_floor() -> Iterator[None]:
    """During EM, an m that reaches below Splink 5's smallest allowed value is kept at it instead of
    failing the whole training. On clean lists a level never seen among the probable matches (sex
    disagreeing, two workplaces almost alike) is driven to 0 within a few iterations, and Splink's setter
    raises (the province's demo list of 25,000 rows did). `with_m_floor` raises every such level to
    `m_floor` afterwards; the value kept here only lets EM finish."""
    from splink.internals.comparison_level import ComparisonLevel

    prop = ComparisonLevel.__dict__.get("m_probability")
    if not isinstance(prop, property) or prop.fset is None:   # another Splink: nothing to guard
        yield
        return

    def clamped(self: Any, value: Any) -> None:
        # (Splink also sets a text marker, "level not observed in training dataset": passed through)
        if isinstance(value, float | int) and value < SPLINK_MIN_PROBABILITY:
            value = SPLINK_MIN_PROBABILITY
        prop.fset(self, value)

    ComparisonLevel.m_probability = property(prop.fget, clamped, prop.fdel, prop.__doc__)
    try:
        yield
    finally:
        ComparisonLevel.m_probability = prop


def with_m_floor(model: dict[str, Any], floor: float) -> dict[str, Any]:
    """EM on clean-looking data drives the m of rare disagreements towards zero (sex disagreeing 1e-20,
    day and month swapped 1e-29 at 1M rows): one such field then outweighs a shared CCCD. Every level's
    m is kept at `floor` or above."""
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            m = level.get("m_probability")
            if not level.get("is_null_level") and m is not None and m < floor:
                level["m_probability"] = floor
    return model


EXACT_U_COLUMNS = ("phone", "cccd", "cmnd", "social_insurance", "dose1_date")


def exact_agreement_u(values: pd.Series) -> float:
    """P(two random records with a value share it) = sum over values of n_v(n_v-1) / (n(n-1))."""
    counts = values.dropna().value_counts().to_numpy(dtype="float64")
    n = counts.sum()
    if n < 2:
        return 1e-9
    return max(float((counts * (counts - 1)).sum() / (n * (n - 1))), 1.0 / (n * n))


def _with_exact_u(model: dict[str, Any], records: pd.DataFrame) -> dict[str, Any]:
    for comparison in model["comparisons"]:
        column = comparison["output_column_name"]
        if column not in EXACT_U_COLUMNS:
            continue
        u = exact_agreement_u(records[column])
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            level["u_probability"] = u if level.get("label_for_charts") == "exact" else 1.0 - u
            level["fix_u_probability"] = True
    return model


def score(records: pd.DataFrame, model: dict[str, Any], *, min_probability: float,
          engine: LinkageEngine = DUCKDB) -> pd.DataFrame:
    """Every candidate pair (blocking above) at or above `min_probability`: `record_id_l` < `record_id_r`,
    `match_probability`, and what the rules outside the model read: `given_disagrees` (the given
    names are evidence against the match: twins and siblings share everything else)."""
    spec = {k: v for k, v in model.items() if k != "campaign_model_version"}
    linker = _linker(records, spec, engine)
    pairs = linker.inference.predict(threshold_match_probability=min_probability).as_pandas_dataframe()
    if pairs.empty:
        return empty_pairs()
    out = pd.DataFrame({
        "record_id_l": pairs["record_id_l"].astype("int64"),
        "record_id_r": pairs["record_id_r"].astype("int64"),
        "match_probability": pairs["match_probability"].astype("float64"),
    })
    lo = out[["record_id_l", "record_id_r"]].min(axis=1)
    hi = out[["record_id_l", "record_id_r"]].max(axis=1)
    out["record_id_l"], out["record_id_r"] = lo, hi
    out["given_disagrees"] = given_names_disagree(records, out)
    return out.reset_index(drop=True)


def given_names_disagree(records: pd.DataFrame, pairs: pd.DataFrame) -> np.ndarray:
    """Per pair: the given names speak against the match (a rule outside the model, whatever weights EM
    learned): different letters (Jaro-Winkler below GIVEN_NAME_SIMILAR after folding), or the same letters typed with
    different diacritics on both sides (Hòa / Hoa). Missing on either side: no opinion."""
    import duckdb

    if pairs.empty:
        return np.zeros(0, dtype=bool)
    given = records["given_name"].to_numpy(dtype=object)
    marked = records["given_marked"].to_numpy(dtype=object)
    left, right = pairs["record_id_l"].to_numpy(), pairs["record_id_r"].to_numpy()
    frame = pd.DataFrame({"gl": given[left], "gr": given[right], "ml": marked[left], "mr": marked[right]})
    con = duckdb.connect()
    try:
        con.register("p", frame)
        flag = con.execute(
            "SELECT CASE WHEN gl IS NULL OR gr IS NULL THEN FALSE "
            "WHEN gl = gr THEN (ml IS NOT NULL AND mr IS NOT NULL AND ml <> mr) "
            f"ELSE jaro_winkler_similarity(gl, gr) < {GIVEN_NAME_SIMILAR} END FROM p").fetchnumpy()
    finally:
        con.close()
    return next(iter(flag.values())).astype(bool)


def empty_pairs() -> pd.DataFrame:
    return pd.DataFrame({"record_id_l": pd.Series(dtype="int64"), "record_id_r": pd.Series(dtype="int64"),
                         "match_probability": pd.Series(dtype="float64"), "given_disagrees": pd.Series(dtype="bool")})


MODEL_VERSION = _shape_version()


def model_is_current(model: dict[str, Any] | None) -> bool:
    return bool(model) and model.get("campaign_model_version") == MODEL_VERSION
