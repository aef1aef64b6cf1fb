"""`config/reasons.yaml`: the reason-code catalogue, with severities and Vietnamese messages."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from campaign.config_files import REASONS_FILE, Strict, validate_file

Severity = Literal["blocking", "row", "warning", "repair"]


class Reason(Strict):
    severity: Severity
    message: str


class ReasonCatalogue(Strict):
    reasons: dict[str, Reason]

    def __getitem__(self, code: str) -> Reason:
        return self.reasons[code]

    def severity(self, code: str) -> Severity:
        return self.reasons[code].severity

    def codes(self, severity: Severity) -> list[str]:
        return [c for c, r in self.reasons.items() if r.severity == severity]


@functools.cache
def load_reasons(path: str | Path = REASONS_FILE) -> ReasonCatalogue:
    return validate_file(ReasonCatalogue, Path(path))
