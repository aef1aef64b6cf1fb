"""Formula safety: what a spreadsheet would evaluate if it were typed or imported from CSV (OWASP "CSV
injection"), the apostrophe rule for CSV output, and the guard on texts the project composes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass



# Characters that make a spreadsheet evaluate a cell typed or imported as text (OWASP "CSV injection"),
# with the full-width forms that Excel's IME input accepts too.
FORMULA_TRIGGERS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")


# ---------------------------------------------------------------------------------------------------------
# Formula safety
# ---------------------------------------------------------------------------------------------------------


def starts_formula(text: object) -> bool:
    """Would a spreadsheet evaluate this text if it were typed or imported from CSV?"""
    return isinstance(text, str) and bool(text) and text[0] in FORMULA_TRIGGERS


def csv_safe(text: str | None) -> str:
    """A CSV field that Excel/LibreOffice will not evaluate: a leading apostrophe before a formula
    character (the apostrophe shows in the cell; it is the price of CSV, an .xlsx needs none)."""
    if text is None:
        return ""
    return "'" + text if starts_formula(text) else text


def safe_own(text: str) -> str:
    """Texts this module composes: never let one start with a formula character."""
    return "’" + text if starts_formula(text) else text
