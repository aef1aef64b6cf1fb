"""How a file's columns were read: one `ColumnReading` per column of the file, and the words a district
reads about it (the feedback workbook, the portal, the CLI JSON all take them from here).

A reading says what a column of the district's file became: a field of the kind's column spec
(`full_name`, `id_number`, ...) matched from its heading, from its content, from the district's saved
way of reading that heading, or from a correction given with the upload; or ignored (with how many cells
it holds, so that nothing holding data is dropped without a word).

Pure data and functions; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from campaign.io.headers import heading_key

# how a column was read
HEADING, CONTENT, SAVED, GIVEN, IGNORED, NUMBERING = "heading", "content", "saved", "given", "ignored", "numbering"
HOW_VALUES = (HEADING, CONTENT, SAVED, GIVEN, IGNORED, NUMBERING)

# The words shown to districts about each way of reading (feedback workbook, portal page).
HOW_LABELS = {
    HEADING: "theo tiêu đề cột",
    CONTENT: "đoán theo nội dung, xin kiểm tra",
    SAVED: "theo cách đọc đã lưu của huyện",
    GIVEN: "theo cách đọc được chỉ định khi gửi",
    IGNORED: "không dùng",
    NUMBERING: "cột số thứ tự",
}


@dataclass(frozen=True)
class ColumnOverride:
    """A heading read a given way, whatever the matcher would say: `field` None means ignore it."""

    field: str | None
    source: str = GIVEN          # SAVED (the district's stored mapping) or GIVEN (with this upload)


@dataclass(frozen=True)
class ColumnReading:
    heading: str                 # as written in the file ("Mũi 1 - Tên vắc xin"; "Cột K" when unnamed)
    letter: str                  # the spreadsheet column letter ("K"); CSV: the letter of its position
    field: str | None            # the kind's column it was read as; None: not used
    how: str                     # one of HOW_VALUES
    cells: int                   # data cells holding a value

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ColumnReading:
        return cls(heading=str(d["heading"]), letter=str(d.get("letter") or ""), field=d.get("field"),
                   how=str(d["how"]), cells=int(d.get("cells") or 0))

    @property
    def used(self) -> bool:
        return self.field is not None

    @property
    def key(self) -> str:
        return heading_key(self.heading)


def columns_used(readings: Iterable[ColumnReading]) -> dict[str, str]:
    """{heading as written: field} for every column read as a field (the CLI JSON's `columns`). Two
    columns read as one field (split names "Họ" + "Tên") both appear."""
    return {r.heading: r.field for r in readings if r.field is not None}


def columns_ignored(readings: Iterable[ColumnReading]) -> list[str]:
    """Headings of the columns not used (numbering columns like STT left out)."""
    return [r.heading for r in readings if r.field is None and r.how != NUMBERING]


def ignored_with_data(readings: Iterable[ColumnReading]) -> list[ColumnReading]:
    """Columns holding data that nothing reads, unless the district itself said to ignore them."""
    return [r for r in readings if r.field is None and r.how == IGNORED and r.cells > 0]


def guessed(readings: Iterable[ColumnReading]) -> list[ColumnReading]:
    return [r for r in readings if r.how == CONTENT]


def describe_how(reading: ColumnReading) -> str:
    return HOW_LABELS.get(reading.how, reading.how)
