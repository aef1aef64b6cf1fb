"""Readiness tasks: thin wrappers over campaign.readiness (run.py, present.py); they own the run id and the
artifacts."""

from __future__ import annotations

import uuid
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaign import clock
from campaign.readiness.present import district_names, readiness_artifacts, to_json
from campaign.readiness.run import assess_and_record
from campaign.resources import get_resources
from campaign.store.models import ReadinessRecord


@task(name="assess-readiness", cache_policy=NO_CACHE)
def assess_readiness(now: str | None = None, district: str | None = None) -> dict[str, Any]:
    """Assess every facility and district from the current submissions, keep the records (history) and
    return the summary (`--json` of `campaign readiness`) with the run id under `run_id`."""
    res = get_resources()
    at = clock.to_utc(clock.parse_instant(now) if now else clock.now())
    run_id = str(flow_run.get_id() or uuid.uuid4())
    with Session(res.engine) as session, session.begin():
        result = assess_and_record(session, res.campaign, at=at, run_id=run_id)
    summary = to_json(result, district=district, names=district_names(res.campaign.district_codes))
    return {"run_id": run_id, **summary}


@task(name="publish-readiness-artifacts", cache_policy=NO_CACHE)
def publish_readiness_artifacts(run_id: str) -> int:
    """One table artifact per district (its facilities) and one markdown artifact for the province, read
    back from the run's records (no personal data: facilities, statuses and gap counts)."""
    res = get_resources()
    names = district_names(res.campaign.district_codes)
    with Session(res.engine) as session:
        records = list(session.scalars(select(ReadinessRecord).where(ReadinessRecord.run_id == run_id)
                                       .order_by(ReadinessRecord.id)))
    tables, markdown = readiness_artifacts(records, names)
    for t in tables:
        create_table_artifact(key=t["key"], table=t["table"], description=t["description"])
    create_markdown_artifact(key="readiness-province", markdown=markdown["markdown"],
                             description=markdown["description"])
    return len(tables) + 1
