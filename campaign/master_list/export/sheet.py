"""The national layout written on one xlsxwriter worksheet, strictly row by row (constant-memory mode),
and the workbook's properties.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import xlsxwriter

from campaign.config import CampaignConfig
from campaign.io.safety import starts_formula
from campaign.master_list.export.rules import COLUMNS, HEADER_ROWS, KIND, SHEET_NAME, TITLE_LINES
from campaign.store.models import MasterListRun
from campaign.vocabulary import kind_label


class Sheet:
    """The national layout on one xlsxwriter worksheet, written strictly row by row (constant memory)."""

    def __init__(self, wb: xlsxwriter.Workbook):
        self.ws = wb.add_worksheet(SHEET_NAME)
        self.f_title = wb.add_format({"bold": True, "font_size": 13})
        self.f_note = wb.add_format({"italic": True})
        head = {"bold": True, "text_wrap": True, "border": 1, "align": "center", "valign": "vcenter",
                "bg_color": "#DDEBF7", "num_format": "@"}
        self.f_head = wb.add_format(head)
        self.f_text = wb.add_format({"num_format": "@"})
        self.f_text_quoted = wb.add_format({"num_format": "@", "quote_prefix": True})
        self.f_number = wb.add_format({"num_format": "0"})
        merges = getattr(self.ws, "merge", None)
        if not isinstance(merges, list):  # pragma: no cover - guards an xlsxwriter internals change
            raise RuntimeError("xlsxwriter: worksheet.merge is not a list; cannot register merged header cells")
        self._merges: list[list[int]] = merges
        for j, col in enumerate(COLUMNS):
            fmt = self.f_number if col.cell in ("seq", "number") else self.f_text
            self.ws.set_column(j, j, col.width, fmt)

    def merge(self, r0: int, c0: int, r1: int, c1: int) -> None:
        """Register a merged range whose cells are (or will be) written in row order. xlsxwriter's
        `merge_range` writes the padding cells of every row at once, which constant-memory mode drops
        for all but the last merge of a two-row header."""
        self._merges.append([r0, c0, r1, c1])

    def write_titles(self) -> None:
        for r, line in enumerate(TITLE_LINES):
            if line:
                self.ws.write_string(r, 0, line, self.f_title if r == 0 else self.f_note)

    def write_header(self) -> None:
        top, sub = HEADER_ROWS[0] - 1, HEADER_ROWS[1] - 1  # 0-based
        j = 0
        while j < len(COLUMNS):  # row 5: single headers and group names
            col = COLUMNS[j]
            if col.group is None:
                self.ws.write_string(top, j, col.header, self.f_head)
                self.merge(top, j, sub, j)
                j += 1
                continue
            k = j
            while k + 1 < len(COLUMNS) and COLUMNS[k + 1].group == col.group:
                k += 1
            self.ws.write_string(top, j, col.group, self.f_head)
            for c in range(j + 1, k + 1):
                self.ws.write_blank(top, c, None, self.f_head)
            if k > j:
                self.merge(top, j, top, k)
            j = k + 1
        for j, col in enumerate(COLUMNS):  # row 6: sub-headers; formatted blanks under merged singles
            if col.group is None:
                self.ws.write_blank(sub, j, None, self.f_head)
            else:
                self.ws.write_string(sub, j, col.header, self.f_head)
        self.ws.set_row(top, 30)
        self.ws.set_row(sub, 45)
        self.ws.freeze_panes(sub + 1, 2)

    def write_row(self, r: int, cells: list[Any]) -> None:
        ws = self.ws
        for j, v in enumerate(cells):
            if v is None:
                continue
            if type(v) is int:
                ws.write_number(r, j, v)
            elif v:
                ws.write_string(r, j, v, self.f_text_quoted if starts_formula(v) else self.f_text)


def properties(unit: Any, code: str, run: MasterListRun, campaign: CampaignConfig) -> dict[str, Any]:
    """Workbook properties; created = the master list's as_of, so the same list gives the same bytes."""
    return {"title": f"{kind_label(KIND)} - {unit.name}", "subject": KIND,
            "author": "campaign-readiness", "company": campaign.campaign.name,
            "comments": f"master list run {run.id}; district {code}",
            "created": run.as_of.astimezone(dt.UTC).replace(tzinfo=None)}
