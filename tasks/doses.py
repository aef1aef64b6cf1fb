"""Doses linked to people: a thin task over campaign.doses.run; it owns the artifact (counts per district,
no personal data)."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from sqlalchemy.orm import Session

from campaign import clock
from campaign.doses import present as doses_present
from campaign.doses import run as doses_run
from campaign.doses import store as doses_store
from campaign.readiness.present import district_names
from campaign.resources import get_resources


@task(name="link-doses", cache_policy=NO_CACHE)
def link_doses(now: str | None = None, limit: int = 200) -> dict[str, Any]:
    """Link the current results and backfill rows to the master list, set each person's dose fields;
    returns the summary of `campaign doses --json` (the first `limit` rows for review)."""
    res = get_resources()
    at = clock.to_utc(clock.parse_instant(now) if now else clock.now())
    run_id = flow_run.get_id()
    result = doses_run.link(res.engine, res.campaign, as_of=at, flow_run_id=str(run_id) if run_id else None,
                            cache_dir=res.settings.home / "cache" / "master_list")
    with Session(res.engine) as session:
        links = doses_store.links(session, limit=limit)
        found = doses_store.conflicts(session)
    doc = doses_present.to_json(result, links, found, names=district_names(res.campaign.district_codes))
    create_table_artifact(
        key="doses-linked", table=[{k: d[k] for k in ("district", "name", "rows", "linked", "linked_by_id",
                                                      "unlinked", "ambiguous", "conflicts")}
                                   for d in doc["districts"]] or [{"district": "-", "rows": 0}],
        description=f"Doses linked (run {doc['run_id']}): {doc['rows']} rows, {doc['linked']} linked, "
                    f"{doc['unlinked']} unlinked, {doc['ambiguous']} ambiguous, {doc['conflicts']} conflicts; "
                    f"{doc['persons_changed']} people's dose fields changed")
    return doc
