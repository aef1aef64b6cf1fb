"""AEFI task: a thin wrapper over campaign.aefi; it owns the artifact (the serious cases' investigations and
their clocks, lots flagged: case ids, codes and counts only, never a name)."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from sqlalchemy.orm import Session

from campaign import clock
from campaign.aefi.present import artifact_rows, assessment_json
from campaign.aefi.run import assess
from campaign.resources import get_resources

ARTIFACT_KEY = "aefi-investigations"


@task(name="publish-aefi", cache_policy=NO_CACHE)
def publish_aefi(now: str | None = None) -> dict[str, Any]:
    """The serious AEFI cases with their 24-hour clocks and the lots flagged, as a table artifact; returns
    the summary (`campaign.aefi.rules.summary`, the figures the report and the board show)."""
    res = get_resources()
    at = clock.to_utc(clock.parse_instant(now) if now else clock.now())
    if res.campaign.aefi is None:
        return {}
    with Session(res.engine) as session:
        doc = assessment_json(assess(session, res.campaign, at))
    if doc["investigations"] or doc["lots_flagged"]:
        create_table_artifact(key=ARTIFACT_KEY, table=artifact_rows(doc),
                              description=f"Tai biến nặng sau tiêm chủng và lô vắc xin cần rà soát, lúc "
                                          f"{clock.local(at):%d/%m/%Y %H:%M}")
    return doc["summary"]
