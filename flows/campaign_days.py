"""The campaign days after the plan (issue 20.5), as the demo runs them: generate the days from the
published plan, take in each file at its planned upload time (the same intake task as every upload), and
at the end of each day (its logical `now`, 21:00 Gia Lai time) call the day's steps: the demo's
`campaign_days_steps` (the deadline watch, and the new steps of issue 20 once they are merged)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from campaign import clock
from campaign.config_kinds import load_input_kinds
from campaign.demo import PlannedUpload, campaign_day_ends, planned_uploads
from tasks.campaign_days import generate_days
from tasks.intake import intake_submission, publish_intake_artifact

DayEnd = Callable[[str, str], dict[str, Any]]


def run_campaign_days(out_dir: str, *, days: int = 3, seed: int = 2021, steps: DayEnd | None = None,
                      day_end: str = "21:00") -> dict[str, Any]:
    """Generate `days` days after the latest published plan under `out_dir`, take in each day's files up to the
    day's end, then call `steps(day, now)`. Files planned after the last day's end stay `later`. A kind not in
    config/input_kinds.yaml (the stock ledger until issue 20.3 is merged) is listed, not taken in."""
    manifest_path = generate_days(out_dir, days, seed)
    path = Path(manifest_path)
    ends = campaign_day_ends(path, day_end)
    uploads, later = planned_uploads(path, ends[-1][1])
    known = set(load_input_kinds().kinds)
    out: dict[str, Any] = {"manifest": manifest_path, "outcomes": [], "days": [], "not_taken_in": [],
                           "later": [u.__dict__ for u in later]}
    pending: list[PlannedUpload] = list(uploads)
    for day, end in ends:
        due = [u for u in pending if clock.parse_instant(u.planned_at) <= end]
        pending = [u for u in pending if u not in due]
        for u in due:
            if u.kind not in known:
                out["not_taken_in"].append({**u.__dict__, "day": day})
                continue
            outcome = intake_submission(u.path, u.district, u.kind, u.facility, "demo", "demo", u.planned_at)
            publish_intake_artifact(outcome)
            out["outcomes"].append({**outcome, "day": day})
        now = end.isoformat()
        out["days"].append({"date": day, "now": now, "steps": steps(day, now) if steps else {}})
    return out
