"""Text shared by every report format: numbers and dates as Vietnamese documents write them."""

from __future__ import annotations

import datetime as dt
import math
import numbers
from typing import Any


def vn_number(value: Any, *, decimals: int = 2) -> str:
    """A table cell as Vietnamese text: numbers with "." between thousands and "," before decimals.

    None -> "-"; str passes through unchanged; int 12345 -> "12.345", -5 -> "-5"; float 0.5 -> "0,5",
    1234.5 -> "1.234,5" (rounded to `decimals`, trailing zeros dropped: 2.0 -> "2"); NaN/inf -> "-";
    bool -> "Có"/"Không"; date -> "28/07/2021"; datetime -> "28/07/2021 14:05"; anything else -> str().
    """
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "Có" if value else "Không"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}".replace(",", ".")
    if isinstance(value, numbers.Number):
        x = float(value)  # type: ignore[arg-type]
        if not math.isfinite(x):
            return "-"
        text = f"{x:,.{max(0, decimals)}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        if text.lstrip("-").strip("0,.") == "":   # -0.001 -> "-0" -> "0"
            text = "0"
        return text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    if isinstance(value, dt.datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def is_number(value: Any) -> bool:
    """A value shown right-aligned (bool is an int, but not a quantity)."""
    return isinstance(value, numbers.Number) and not isinstance(value, bool)
