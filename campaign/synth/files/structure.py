"""The rows among and below the data that both writers add (blank rows, a repeated header, the totals
row), and what a writer reports back about where everything landed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from campaign.config_kinds import KindSpec
from campaign.synth.files.layouts import Layout, OutCol


@dataclass
class Written:
    sheet: str | None
    header_rows: list[int]
    data_rows: np.ndarray  # row number of every data row (1-based, as Excel shows it / CSV line)
    structure: list[tuple[str, int, str]]  # (code, row_number, note)


def insert_plan(rng: np.random.Generator, n: int, layout: Layout) -> dict[int, list[str]]:
    """Non-data rows inside the data: {data index before which they go: [kinds]}."""
    plan: dict[int, list[str]] = {}
    if n < 4:
        return plan
    for _ in range(layout.blank_rows):
        plan.setdefault(int(rng.integers(1, n)), []).append("blank")
    if layout.header_repeat:
        plan.setdefault(int(rng.integers(n // 3, max(n // 3 + 1, 2 * n // 3))), []).append("header_repeat")
    return plan


def totals_row(cols: list[OutCol], cells: list[np.ndarray], n: int, fmt: str, spec: KindSpec) -> list[Any]:
    row: list[Any] = [""] * len(cols)
    row[0] = "Tổng cộng"
    types = {c.name: c.type for c in spec.columns}
    summed = False
    for j, c in enumerate(cols):
        if c.role == "data" and types.get(c.name) == "integer" and c.name not in ("priority_group", "team_no", "dose_number", "doses_per_vial"):
            vals = [v for v in cells[j] if isinstance(v, (int, np.integer)) or (isinstance(v, str) and v.isdigit())]
            total = int(sum(int(v) for v in vals))
            row[j] = total if fmt == "xlsx" else str(total)
            summed = True
    if not summed and len(cols) > 1:
        row[1] = f"{n} người" if spec.name == "target_list" else f"{n} dòng"
    return row
