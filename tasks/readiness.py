"""Readiness tasks: thin wrappers over campaign.readiness; they own the run id and the artifacts."""

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
from campaign.readiness import ReadinessRules, assess, district_names, load_inputs, record, to_json
from campaign.resources import get_resources
from campaign.store.models import ReadinessRecord
from campaign.vocabulary import status_label


@task(name="assess-readiness", cache_policy=NO_CACHE)
def assess_readiness(now: str | None = None, district: str | None = None) -> dict[str, Any]:
    """Assess every facility and district from the current submissions, keep the records (history) and
    return the summary (`--json` of `campaign readiness`) with the run id under `run_id`."""
    res = get_resources()
    at = clock.to_utc(clock.parse_instant(now) if now else clock.now())
    run_id = str(flow_run.get_id() or uuid.uuid4())
    with Session(res.engine) as session, session.begin():
        inputs = load_inputs(session, res.campaign.district_codes)
        result = assess(inputs, ReadinessRules.from_config(res.campaign), today=clock.local(at).date())
        record(session, result, run_id=run_id, as_of=at)
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


def readiness_artifacts(records: list[ReadinessRecord], names: dict[str, str]
                        ) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The artifacts' content, from one run's records (the counts `assess` made, nothing counted here):
    ([{key, table, description}] one per district, {markdown, description} of the province)."""
    province = next(r for r in records if r.level == "province")
    districts = [r for r in records if r.level == "district"]
    tables = []
    for d in districts:
        facilities = [r for r in records if r.level == "facility" and r.district == d.district]
        table = [{"facility": f.facility_code, "status": f.status, **{k: f.details.get(k) for k in
                  ("infrastructure", "training", "teams")},
                  "blocking_gaps": sum(1 for g in f.details["gaps"] if g["severity"] == "blocking"),
                  "warnings": sum(1 for g in f.details["gaps"] if g["severity"] == "warning"),
                  "first_gap": next((f"{g['item']} x{g['missing']}: {g['detail']}" for g in f.details["gaps"]), "")}
                 for f in facilities]
        for g in d.details.get("gaps", []):
            table.append({"facility": "(district)", "status": g["severity"], "infrastructure": "", "training": "",
                          "teams": "", "blocking_gaps": int(g["severity"] == "blocking"),
                          "warnings": int(g["severity"] == "warning"), "first_gap": f"{g['item']}: {g['detail']}"})
        tables.append(dict(
            key=f"readiness-{d.district}", table=table or [{"facility": "-", "status": d.status}],
            description=f"{d.district} {names.get(d.district, '')}: {d.status} "
                        f"({status_label(d.status, capitalized=False)}), "
                        f"{d.facilities_ready}/{d.facilities_total} facilities ready, communication "
                        f"{d.details.get('communication')}; as of {clock.local(province.as_of):%d/%m/%Y %H:%M}"))
    lines = [f"# Readiness of the province as of {clock.local(province.as_of):%d/%m/%Y %H:%M}",
             "", f"**{province.status}** ({status_label(province.status, capitalized=False)}): "
             f"{province.facilities_ready}/"
             f"{province.facilities_total} facilities ready, {province.details.get('districts_ready', 0)}/"
             f"{province.details.get('districts_total', 0)} districts ready.", "",
             f"| district | status | facilities ready | {status_label('not_ready', 'en')} | "
             f"{status_label('unknown', 'en')} | communication |",
             "| --- | --- | --- | --- | --- | --- |"]
    for d in districts:
        by = d.details.get("by_status", {})
        lines.append(f"| {d.district} {names.get(d.district, '')} | {d.status} | {d.facilities_ready}/"
                     f"{d.facilities_total} | {by.get('not_ready', 0)} | {by.get('unknown', 0)} | "
                     f"{d.details.get('communication')} |")
    return tables, {"markdown": "\n".join(lines), "description": f"Province readiness: {province.status}"}
