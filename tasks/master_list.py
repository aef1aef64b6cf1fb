"""Master-list tasks: thin wrappers over campaign.master_list; they own the artifacts (no personal data:
counts per district, and the pairs under review with masked identifiers)."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from sqlalchemy.orm import Session

from campaign import clock
from campaign.master_list import present as ml_present
from campaign.master_list import review as ml_review
from campaign.master_list import run as ml_run
from campaign.master_list import store as ml_store
from campaign.readiness.present import district_names
from campaign.resources import get_resources


@task(name="build-master-list", cache_policy=NO_CACHE)
def build_master_list(now: str | None = None, retrain: bool = False) -> dict[str, Any]:
    """Link every current target list into the master list (the persisted model unless `retrain`);
    returns the summary of `campaign master-list --json`."""
    res = get_resources()
    at = clock.to_utc(clock.parse_instant(now) if now else clock.now())
    run_id = flow_run.get_id()
    result = ml_run.build(res.engine, res.campaign, as_of=at, flow_run_id=str(run_id) if run_id else None,
                      retrain=retrain, cache_dir=res.settings.home / "cache" / "master_list")
    return ml_present.to_json(result, names=district_names(res.campaign.district_codes))


@task(name="publish-master-list-artifacts", cache_policy=NO_CACHE)
def publish_master_list_artifacts(summary: dict[str, Any]) -> int:
    """A table of the districts' figures and a markdown page of the pairs to review (masked)."""
    res = get_resources()
    table = [{"district": f"{d['district']} {d.get('name') or ''}".strip(), "rows": d["rows"],
              "people": d["persons"], "eligible": d["eligible_persons"],
              "duplicates_within": d["duplicates_within"],
              "rows_in_clusters_across_districts": d["rows_in_clusters_across_districts"],
              "review": d["review"], "ineligible": d["ineligible"]} for d in summary["districts"]]
    p = summary["province"]
    create_table_artifact(
        key="master-list-districts", table=table or [{"district": "-", "rows": 0}],
        description=f"Master list run {summary['run_id']}: {summary['rows']} rows -> {summary['persons']} people "
                    f"({p.get('eligible_persons', 0)} eligible), {p.get('clusters_across_districts', 0)} people "
                    f"listed by two districts or more, {summary['review_pairs']} pairs to review"
                    f"{'; model trained in this run' if summary['model_trained'] else ''}")
    with Session(res.engine) as session:
        pairs = ml_review.open_pairs(session, limit=50, mask=True)
    lines = [f"# Pairs to review ({summary['review_pairs']})", "",
             "Decide with `campaign review decide PAIR same|different --by NAME`; decisions apply on the next run.",
             "", "| pair | probability | reason | A | B |", "| --- | --- | --- | --- | --- |"]
    for pr in pairs:
        lines.append(f"| {pr['pair']} | {pr['match_probability']:.3f} | {pr['reason']} | {ml_present.side_text(pr['a'])} | "
                     f"{ml_present.side_text(pr['b'])} |")
    create_markdown_artifact(key="master-list-review", markdown="\n".join(lines),
                             description=f"{summary['review_pairs']} pairs to review")
    return len(table)


@task(name="master-list-outputs", cache_policy=NO_CACHE)
def publish_master_list_outputs(manifest_path: str) -> dict[str, Any]:
    """The demo's files of the master list (the CSV of every source row) and its quality against the
    generator's truth (precision and recall of the links; only generated data has a truth)."""
    import json
    from pathlib import Path

    res = get_resources()
    out_dir = res.settings.outputs_dir / "master_list"
    csv_path = out_dir / "master_list.csv"
    truth = json.loads(Path(manifest_path).read_text(encoding="utf-8")).get("duplicates", [])
    from campaign.master_list.export.run import NoPersonsError, export_target_list

    exports = []
    with Session(res.engine) as session:
        ml_store.write_csv(session, csv_path)
        quality = ml_store.quality_against(session, truth)
        for district in res.campaign.district_codes:  # each district's list, ready for the national platform
            try:
                exports.append(export_target_list(session, district, out_dir / "national" / f"{district}.xlsx",
                                                  campaign=res.campaign).persons_written)
            except NoPersonsError:
                continue  # a district whose list has not come in yet
    create_markdown_artifact(
        key="master-list-quality",
        markdown=f"# Dedupe against the generator's truth\n\n```json\n{json.dumps(quality, indent=1)}\n```",
        description=f"precision {quality['precision']:.4f}, recall {quality['recall']:.4f}, "
                    f"{quality['review_share']:.2%} of rows in review")
    return {"paths": {"master_list_csv": str(csv_path), "national_exports": str(out_dir / "national")},
            "quality": quality, "exported_people": sum(exports), "exported_districts": len(exports)}
