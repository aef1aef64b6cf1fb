"""Vectorised helpers of the world's draws: whole columns at once, never a Python loop over people."""

from __future__ import annotations

import numpy as np
import pandas as pd


def object_frame(columns: dict[str, object]) -> pd.DataFrame:
    """A DataFrame whose string columns stay numpy object arrays: pandas 3 would otherwise validate every
    cell into its `str` dtype on construction, and hand back copies on every `to_numpy(dtype=object)`."""
    return pd.DataFrame({k: pd.Series(v, dtype=object, copy=False) if isinstance(v, np.ndarray) and v.dtype == object
                         else v for k, v in columns.items()})


def digit_strings(*parts: np.ndarray) -> np.ndarray:
    """Concatenate digit matrices (n x k, values 0-9) into str objects: the matrix of ASCII codes viewed
    as fixed-width bytes. Much faster than formatting and concatenating strings per part."""
    m = np.ascontiguousarray(np.concatenate(parts, axis=1).astype(np.uint8) + 48)
    width = m.shape[1]
    return m.view(f"S{width}").ravel().astype(f"U{width}").astype(object)


def int_digits(values: np.ndarray, width: int) -> np.ndarray:
    """The last `width` decimal digits of integers as an n x width matrix (leading zeros kept)."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (np.asarray(values, dtype=np.int64)[:, None] // powers) % 10


def table_digits(codes: list[str], idx: np.ndarray) -> np.ndarray:
    """Rows of a table of digit codes ("064", "052"...) picked by index, as a digit matrix."""
    table = np.array([[int(ch) for ch in c] for c in codes], dtype=np.int64)
    return table[idx]


def weighted_index(rng: np.random.Generator, weights: dict[str, float], n: int) -> np.ndarray:
    p = np.array(list(weights.values()), dtype=float)
    return rng.choice(len(p), n, p=p / p.sum())
