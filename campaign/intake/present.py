"""What intake answers: the outcome of one upload (to JSON for the CLI, the portal and the flow run; its
exit code)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from campaign.intake.rules import REJECTED


@dataclass
class IntakeOutcome:
    submission_id: int
    district: str
    kind: str
    status: str
    rows_total: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_skipped: int = 0
    rows_with_warnings: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    feedback_file: str | None = None
    data_docs: str | None = None
    facility: str | None = None
    version: int | None = None
    message: str | None = None
    columns: dict[str, str] = field(default_factory=dict)        # {heading as written: field} of columns used
    columns_ignored: list[str] = field(default_factory=list)     # headings of the columns not used
    column_readings: list[dict[str, Any]] = field(default_factory=list)  # ColumnReading.to_json() per column

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("column_readings")   # the JSON says it as `columns` / `columns_ignored`
        return out

    def set_readings(self, readings: list[dict[str, Any]] | None) -> None:
        from campaign.io.columns import ColumnReading, columns_ignored, columns_used

        rs = [ColumnReading.from_json(r) for r in readings or []]
        self.column_readings = [r.to_json() for r in rs]
        self.columns, self.columns_ignored = columns_used(rs), columns_ignored(rs)

    @property
    def exit_code(self) -> int:
        return 3 if self.status == REJECTED else 0
