"""Stock task: a thin wrapper over campaign.stock; it owns the artifact (one table a day: per district the
balance, discrepancies, wastage, stock-out days and days left; codes and counts only, no personal data)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from sqlalchemy.orm import Session

from campaign import clock
from campaign.campaign_progress import stock_reconciled
from campaign.readiness.present import district_names
from campaign.resources import get_resources
from campaign.stock import present


def artifact_key(day: dt.date) -> str:
    return f"stock-{day.isoformat()}"


@task(name="publish-stock", cache_policy=NO_CACHE)
def publish_stock(now: str | None = None) -> dict[str, Any]:
    """The stock ledgers in force reconciled against the results in force (the same reconciliation and
    summary as `campaign stock --json`; none while no ledger is in force), as the table artifact
    `stock-<day of now>`; returns the summary (province and districts, without the discrepancy lines)."""
    res = get_resources()
    at = clock.to_utc(clock.parse_instant(now) if now else clock.now())
    with Session(res.engine) as session:
        summary, indicators, _findings = stock_reconciled(session, res.campaign, at)
    if summary["districts"]:
        day = clock.local(at).date()
        create_table_artifact(key=artifact_key(day),
                              table=present.district_rows(summary, indicators, district_names(res.campaign.district_codes)),
                              description=f"Sổ vắc xin theo huyện: tồn, chênh lệch, hao hụt, ngày hết vắc xin, số ngày "
                                          f"còn đủ vắc xin; lúc {clock.local(at):%d/%m/%Y %H:%M}")
    return summary
