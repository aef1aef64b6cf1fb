"""What a report says, independent of its format: sections of paragraphs, tables and charts. Built by
`campaign.reports.rules`, rendered by `render_docx`, `render_pdf` and `render_html` (all three from the
same model: the DOCX an official edits and signs, the PDF beside it, the HTML for the portal)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

DRAFTED_LABEL = "Đơn vị tham mưu, dự thảo"


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Any]]          # cells: str, int, float or None (rendered "-")
    note: str | None = None        # a line under the table (e.g. "12 more rows in the appendix")


@dataclass
class Chart:
    title: str
    kind: Literal["bar", "barh", "line"]
    labels: list[str]                     # categories (bar) or x values as text (line)
    series: dict[str, list[float]]        # one or more named series, each len(labels) long
    y_label: str = ""


@dataclass
class Section:
    number: str                    # "II.1", "II.2.a", ...
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    subsections: list[Section] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)   # missing data said on the page, shown highlighted


@dataclass
class Report:
    level: Literal["facility", "district", "province"]
    unit: str                      # facility code, district GSO code, province GSO code
    unit_name: str
    issuer: str                    # the heading's authority line, e.g. "SỞ Y TẾ TỈNH GIA LAI"
    title: str                     # e.g. "KẾ HOẠCH TRIỂN KHAI NỀN TẢNG QUẢN LÝ TIÊM CHỦNG COVID-19"
    place_date: str                # e.g. "Gia Lai, ngày 28 tháng 7 năm 2021"
    as_of: dt.datetime             # the logical time it was built for
    version: int
    sections: list[Section]
    appendix: Table                # the submissions every figure comes from (district, kind, version, time)
    signature: tuple[str, str] = ("GIÁM ĐỐC", "(Ký, ghi rõ họ tên, đóng dấu)")
    # who drafted it for the issuer (a district's report: its health centre, "tham mưu"), shown as
    # "Đơn vị tham mưu, dự thảo: ..." under the signature, never under "Nơi nhận" (the drafter is not a
    # recipient); None when the issuer drafted it itself
    drafted_by: str | None = None
    # "Nơi nhận": who the report is sent to (`reports.recipients.<level>`), by name where a party's contact
    # holds the address, else the address ("Lưu: VT." is added by the renderers)
    recipients: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)   # key figures, for tests and the JSON summary

    def all_sections(self) -> list[Section]:
        """Every section, depth first (the order they are printed in)."""
        out: list[Section] = []

        def walk(sections: list[Section]) -> None:
            for s in sections:
                out.append(s)
                walk(s.subsections)
        walk(self.sections)
        return out
