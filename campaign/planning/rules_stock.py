"""Session planning, the pure part (`campaign.planning.rules`): doses. A facility's lots in whole vials
(the open-vial rule) and the appointment slots of a session."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd


class Stock:
    """One facility's lots in whole vials, earliest expiry first. A session opens whole vials; what an
    opened vial still holds when the session ends is discarded (the open-vial rule), never used later."""

    def __init__(self, lots: pd.DataFrame) -> None:
        lots = lots.sort_values(["expiry", "lot"], kind="stable")
        self.lots = [[str(p), str(lot), e, int(v), max(1, int(d))] for p, lot, e, v, d in zip(
            lots["product"], lots["lot"], lots["expiry"], lots["vials_on_hand"], lots["doses_per_vial"], strict=True)]
        self.reserved: dict[str, int] = {}   # doses held for dose 2s due inside the horizon
        self.opened = (0, 0)

    def usable(self, product: str, day: dt.date) -> int:
        """Doses in the unopened vials of the product usable on the day."""
        return sum(x[3] * x[4] for x in self.lots if x[0] == product and x[2] >= day)

    def free(self, product: str, day: dt.date) -> int:
        return max(0, self.usable(product, day) - self.reserved.get(product, 0))

    def products(self, day: dt.date) -> list[str]:
        """Products usable on the day, the one whose lot expires first first."""
        out: list[str] = []
        for p, _lot, e, n, _d in self.lots:
            if n > 0 and e >= day and p not in out:
                out.append(p)
        return out

    def open(self, product: str, doses: int, day: dt.date) -> list[str]:
        """Open the whole vials `doses` need, lot by lot (earliest expiry first); the lot of each dose
        (fewer when the stock runs out)."""
        out: list[str] = []
        self.opened = (0, 0)   # vials and doses the last call opened (a lot's own doses per vial)
        for x in self.lots:
            need = doses - len(out)
            if need <= 0:
                break
            if x[0] == product and x[2] >= day and x[3] > 0:
                vials = min(x[3], -(-need // x[4]))
                x[3] -= vials
                out.extend([x[1]] * min(need, vials * x[4]))
                self.opened = (self.opened[0] + vials, self.opened[1] + vials * x[4])
        return out


def slot_times(n: int, start: str, end: str) -> np.ndarray:
    """Staggered hourly slots: the session's hours, people spread evenly over them."""
    h0, m0 = (int(x) for x in start.split(":"))
    h1, m1 = (int(x) for x in end.split(":"))
    hours = max(1, math.ceil(((h1 * 60 + m1) - (h0 * 60 + m0)) / 60))
    per = max(1, math.ceil(n / hours))
    labels = np.array([f"{h0 + i:02d}:{m0:02d}" for i in range(hours)], dtype=object)
    return labels[np.arange(n) // per]
