"""The manifest of a synthetic campaign: every file written, every defect planted (with the reason intake
should give), which rows are the same person, and the upload schedule. Written as `manifest.json`."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass
class FileEntry:
    path: str
    district: str
    kind: str
    facility: str | None
    format: str
    encoding: str | None
    layout: str
    sheet: str | None
    header_rows: list[int]
    first_data_row: int | None
    rows: int
    planned_upload_at: str | None
    status: str  # on_time | last_minute | late | rejected_version | event | event_late
    version: int = 1
    sha256: str = ""
    # how the file's columns must be read (what `campaign intake --json` says): {heading as the reader
    # shows it (one line, NFC; "group - child" under a two-row header): field}, numbering columns left out
    columns: dict[str, str] = field(default_factory=dict)
    columns_ignored: list[str] = field(default_factory=list)  # headings no field means
    columns_ignored_with_data: list[str] = field(default_factory=list)  # those holding data: `column_ignored`


@dataclass
class DefectRecord:
    code: str
    category: str
    reason: str | None
    district: str
    kind: str
    file: str | None
    sheet: str | None = None
    row_number: int | None = None
    column: str | None = None
    col_number: int | None = None
    cell: str | None = None
    value: str | None = None
    note: str = ""
    rows_affected: int | None = None


@dataclass
class ScheduleEntry:
    district: str
    kind: str
    file: str | None
    planned_upload_at: str | None
    status: str
    deadline: str | None
    due_at: str | None
    on_time: bool | None


@dataclass
class Manifest:
    seed: int
    people: int
    defect_rate: float
    campaign: str
    files: list[FileEntry] = field(default_factory=list)
    defects: list[DefectRecord] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)
    schedule: list[ScheduleEntry] = field(default_factory=list)
    catalogue: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1, sort_keys=False)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        d = json.loads(text)
        return cls(seed=d["seed"], people=d["people"], defect_rate=d["defect_rate"], campaign=d["campaign"],
                   files=[FileEntry(**f) for f in d["files"]], defects=[DefectRecord(**x) for x in d["defects"]],
                   duplicates=d["duplicates"], schedule=[ScheduleEntry(**s) for s in d["schedule"]],
                   catalogue=d.get("catalogue", []))

    def file(self, path: str) -> FileEntry:
        return next(f for f in self.files if f.path == path)
