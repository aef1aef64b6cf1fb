"""Quality of the dedupe against a known truth (generated data): pairwise precision and recall.

A pair is two source rows. True pairs: every two loaded rows of one true person; found pairs: every two
rows the master list gave one person id. Rows the truth does not mention are people listed once. The
"reviewed" figures count the pairs under review as if a reviewer decided them correctly (what the list
becomes once the review list is worked through).
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations
from typing import Any

import pandas as pd

Key = tuple[str, str | None, int]   # (district, sheet or None, row number as Excel shows it)


def row_key(district: Any, sheet: Any, row_number: Any) -> Key:
    return (str(district), sheet if isinstance(sheet, str) and sheet else None, int(row_number))


def _pairs(groups: Iterable[list[Key]]) -> set[tuple[Key, Key]]:
    out: set[tuple[Key, Key]] = set()
    for g in groups:
        out.update(combinations(sorted(g), 2))
    return out


def pairwise_quality(records: pd.DataFrame, truth: list[list[Key]],
                     review: Iterable[tuple[Key, Key]] = ()) -> dict[str, Any]:
    """`records`: the master list (district, sheet, row_number, person_id); `truth`: the clusters of rows
    that are one person (e.g. a generator manifest's `duplicates`); `review`: pairs under review."""
    keys = [row_key(d, s, r) for d, s, r in zip(records["district"], records["sheet"], records["row_number"],
                                             strict=True)]
    loaded = set(keys)
    true_pairs = _pairs([[k for k in g if k in loaded] for g in truth])
    by_person = pd.Series(keys, index=records["person_id"].to_numpy())
    multi = by_person[by_person.index.duplicated(keep=False)]
    found = _pairs(multi.groupby(level=0).agg(list).tolist())
    review_pairs = {tuple(sorted(p)) for p in review}
    hit = len(true_pairs & found)
    resolved = found | (review_pairs & true_pairs)
    hit_resolved = len(true_pairs & resolved)
    in_review = {k for p in review_pairs for k in p}
    return {
        "rows": len(keys), "true_pairs": len(true_pairs), "found_pairs": len(found), "correct_pairs": hit,
        "precision": hit / len(found) if found else 1.0,
        "recall": hit / len(true_pairs) if true_pairs else 1.0,
        "review_pairs": len(review_pairs), "rows_in_review": len(in_review),
        "review_share": len(in_review) / len(keys) if keys else 0.0,
        "precision_reviewed": hit_resolved / len(resolved) if resolved else 1.0,
        "recall_reviewed": hit_resolved / len(true_pairs) if true_pairs else 1.0,
    }


def manifest_truth(duplicates: list[dict[str, Any]]) -> list[list[Key]]:
    """A generator manifest's `duplicates` as clusters of row keys."""
    return [[row_key(r["district"], r.get("sheet"), r["row_number"]) for r in c["rows"]] for c in duplicates]
