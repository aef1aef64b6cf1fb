"""The master list: `campaign master-list` (build or show it), `review` (the candidate pairs a person
decides: decide, reverse, decisions) and `export` (a district's list in the national platform's layout)."""

from __future__ import annotations

from pathlib import Path

import click

from faces.cli.common import (
    EXIT_REFUSED,
    EXIT_USAGE,
    district_or_exit,
    drain_prefect,
    emit_json,
    instant_or_exit,
    prepare,
    say,
)


@click.command("master-list")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the list as CSV: one line per source row (person_id, submission_id, row_number, "
                   "district, status).")
@click.option("--district", "-d", default=None, help="Show only this district's figures (GSO code or name).")
@click.option("--retrain", is_flag=True, help="Train the linkage model again instead of reusing the stored one.")
@click.option("--latest", is_flag=True, help="Do not build: report (and write) the current list as it stands.")
@click.option("--at", "at", default=None, help="The run's logical time (ISO 8601; default CAMPAIGN_NOW or now).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object on stdout.")
@click.pass_context
def master_list(ctx: click.Context, out: Path | None, district: str | None, retrain: bool, latest: bool,
                at: str | None, as_json: bool) -> None:
    """Build the province's master target list from every district's current target list (a Prefect flow
    run): duplicates within and across districts linked, eligibility and order of invitation."""
    from sqlalchemy.orm import Session

    from campaign.master_list import present as ml_present
    from campaign.master_list import store as ml_store
    from campaign.readiness.present import district_names
    from campaign.resources import get_resources

    res = get_resources()
    code = district_or_exit(ctx, district, res.campaign)
    instant_or_exit(ctx, at, "--at")
    if latest:
        with Session(res.engine) as session:
            run = ml_store.latest_run(session)
            if run is None:
                say("no master list yet: run `campaign master-list` first")
                ctx.exit(EXIT_REFUSED)
            summary = ml_present.to_json(ml_store.result_of(run), names=district_names(res.campaign.district_codes))
    else:
        prepare()
        from faces.cli.progress import shown
        from flows.master_list import master_list_flow

        with shown(as_json):   # the stages on a terminal (faces.cli.progress)
            summary = master_list_flow(now=at, retrain=retrain)
        drain_prefect()
    if code:
        summary = {**summary, "districts": [d for d in summary["districts"] if d["district"] == code]}
    say(ml_present.render_text(summary))
    if out is not None:
        with Session(res.engine) as session:
            n = ml_store.write_csv(session, out)
        say(f"{n} rows written to {out}")
        summary = {**summary, "out": str(out)}
    if as_json:
        emit_json(summary)


@click.group(invoke_without_command=True)
@click.option("--district", "-d", default=None, help="Only pairs with a record of this district.")
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the pairs as one JSON object on stdout.")
@click.pass_context
def review(ctx: click.Context, district: str | None, limit: int, as_json: bool) -> None:
    """The candidate pairs of the master list that a person must decide, both records side by side.
    `campaign review decide PAIR same|different --by NAME` records a decision (applied on every later
    run); `campaign review reverse DECISION_ID --by NAME` takes one back."""
    if ctx.invoked_subcommand is not None:
        return
    from sqlalchemy.orm import Session

    from campaign.master_list import review as ml_review
    from campaign.master_list import rules as ml_rules
    from campaign.resources import get_resources

    res = get_resources()
    code = district_or_exit(ctx, district, res.campaign)
    with Session(res.engine) as session:
        total = ml_review.pairs_to_review(session)
        pairs = ml_review.open_pairs(session, district=code, limit=limit)
    say(f"{total} pairs to review; showing {len(pairs)}")
    fields = ml_rules.SIDE_COLUMNS
    for p in pairs:
        say(f"\npair {p['pair']}  probability {p['match_probability']:.3f}  ({p['reason']})")
        for f in fields:
            a, b = p["a"].get(f), p["b"].get(f)
            mark = " " if a == b else "≠"
            say(f"  {mark} {f:<17} {str(a if a is not None else '-'):<34} {b if b is not None else '-'}")
        say(f"    {'source':<17} {str(p['a']['submission_id']) + ':' + str(p['a']['row_number']):<34} "
            f"{p['b']['submission_id']}:{p['b']['row_number']}")
    if as_json:
        emit_json({"total": total, "pairs": pairs})


@review.command("decide")
@click.argument("pair")
@click.argument("decision", type=click.Choice(["same", "different"]))
@click.option("--by", "by", required=True, help="Who decides (kept with the decision).")
@click.option("--note", default=None, help="Why (optional).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def review_decide(ctx: click.Context, pair: str, decision: str, by: str, note: str | None, as_json: bool) -> None:
    """Record that the two records of PAIR are the same person or different people."""
    from sqlalchemy.orm import Session

    from campaign import clock
    from campaign.master_list import review as ml_review
    from campaign.resources import get_resources

    res = get_resources()
    try:
        with Session(res.engine) as session, session.begin():
            made = ml_review.decide(session, pair, decision, by=by, at=clock.to_utc(clock.now()), note=note)
            result = {"decision_id": made.id, "pair": pair, "decision": decision, "decided_by": by}
    except ml_review.ReviewError as exc:
        say(f"usage error: {exc}")
        ctx.exit(EXIT_USAGE)
    say(f"decision {result['decision_id']}: pair {pair} = {decision} (applies from the next master-list run)")
    if as_json:
        emit_json(result)


@review.command("reverse")
@click.argument("decision_id", type=int)
@click.option("--by", "by", required=True, help="Who takes the decision back.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def review_reverse(ctx: click.Context, decision_id: int, by: str, as_json: bool) -> None:
    """Take back a decision: from the next run on, the pair is judged by the model again."""
    from sqlalchemy.orm import Session

    from campaign import clock
    from campaign.master_list import review as ml_review
    from campaign.resources import get_resources

    res = get_resources()
    try:
        with Session(res.engine) as session, session.begin():
            made = ml_review.reverse(session, decision_id, by=by, at=clock.to_utc(clock.now()))
            result = {"decision_id": made.id, "pair": made.pair_key, "reversed_by": by}
    except ml_review.ReviewError as exc:
        say(f"usage error: {exc}")
        ctx.exit(EXIT_USAGE)
    say(f"decision {decision_id} reversed (applies from the next master-list run)")
    if as_json:
        emit_json(result)


@review.command("decisions")
@click.option("--json", "as_json", is_flag=True)
def review_decisions(as_json: bool) -> None:
    """Every decision ever recorded, with who, when, and whether it was reversed."""
    from sqlalchemy.orm import Session

    from campaign.master_list import review as ml_review
    from campaign.resources import get_resources

    with Session(get_resources().engine) as session:
        rows = ml_review.decisions(session)
    for d in rows:
        state = f"reversed {d['reversed_at']} by {d['reversed_by']}" if d["reversed_at"] else "in force"
        say(f"{d['id']:>5} {d['pair']} {d['decision']:<9} by {d['decided_by']} at {d['decided_at']} ({state})")
    if as_json:
        emit_json({"decisions": rows})


@click.command()
@click.option("--kind", required=True, type=click.Choice(["target_list"]),
              help="What to export (the national platform's subject-list import layout).")
@click.option("--district", "-d", required=True, help="The district (GSO code or name).")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="The .xlsx file to write.")
@click.option("--include-ineligible", is_flag=True, help="Also the people not eligible now (listed last, with why).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def export(ctx: click.Context, kind: str, district: str, out: Path, include_ineligible: bool, as_json: bool) -> None:
    """A district's standardized, deduplicated list from the current master list, in the national
    platform's subject-list import layout (one row per person, in the order of invitation)."""
    from sqlalchemy.orm import Session

    from campaign.master_list.export.run import ExportError, export_target_list
    from campaign.resources import get_resources

    res = get_resources()
    try:
        with Session(res.engine) as session:
            result = export_target_list(session, district, out, include_ineligible=include_ineligible,
                                        campaign=res.campaign)
    except ExportError as exc:
        say(f"{'usage error' if exc.exit_code == EXIT_USAGE else 'refused'}: {exc}")
        ctx.exit(exc.exit_code)
    from campaign import audit as audit_log
    from campaign.store.db import write_session
    with write_session(res.engine) as session:
        audit_log.record(session, "export", actor=audit_log.cli_actor(), target_type="district",
                         target_label=result.district, details={"persons": result.persons_written})
    summary = result.to_json()
    say(f"{result.persons_written} people of {result.district} {result.district_name} written to {result.path}"
        f" ({result.ineligible_excluded} not eligible left out)")
    if result.stale:
        say("warning: target lists changed after this master list was built; run `campaign master-list` "
            "for an up-to-date file")
    if as_json:
        emit_json(summary)
