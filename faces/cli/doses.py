"""`campaign doses`: results and backfill rows linked to master-list people; the rows for review (linked
to nobody, or to two people) with their reason and the conflicts of dose histories; `--person` shows one
person's dose history."""

from __future__ import annotations

import click

from faces.cli.common import (
    EXIT_REFUSED,
    district_or_exit,
    drain_prefect,
    emit_json,
    instant_or_exit,
    prepare,
    say,
)


@click.command("doses")
@click.option("--district", "-d", default=None, help="Only this district's rows and conflicts (GSO code or name).")
@click.option("--latest", is_flag=True, help="Do not link again: show the latest linking as it stands.")
@click.option("--person", "person", default=None, help="Show this person's dose history (person id).")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True, help="Rows for review shown.")
@click.option("--at", "at", default=None, help="The run's logical time (ISO 8601; default CAMPAIGN_NOW or now).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.pass_context
def doses(ctx: click.Context, district: str | None, latest: bool, person: str | None, limit: int, at: str | None,
          as_json: bool) -> None:
    """Link the current results (vaccinated) and backfill rows to the master list (a Prefect flow run): by
    CMND/CCCD first, otherwise by the master list's model; each person's dose history sets eligibility
    and the next dose. Lists the rows for review and the conflicts (Vietnamese)."""
    from sqlalchemy.orm import Session

    from campaign.doses import present as doses_present
    from campaign.doses import store as doses_store
    from campaign.readiness.present import district_names
    from campaign.resources import get_resources

    res = get_resources()
    code = district_or_exit(ctx, district, res.campaign)
    instant_or_exit(ctx, at, "--at")
    if person:
        with Session(res.engine) as session:
            h = doses_store.person_history(session, [person])
        rows = doses_present.history_rows(h)
        for r in rows:
            say(f"{r['person_id']} mũi {r['dose_number']} {r['given_on'] or '-'} {r['product'] or '-'} "
                f"lô {r['lot'] or '-'} tại {r['site'] or '-'} ({r['source_text']})")
        if not rows:
            say(f"{person}: chưa có mũi tiêm nào được ghi nhận")
        if as_json:
            emit_json({"person_id": person, "doses": rows})
        return
    if not latest:
        prepare()
        from flows.doses import link_doses_flow

        link_doses_flow(now=at)
        drain_prefect()
    with Session(res.engine) as session:
        run = doses_store.latest_run(session)
        if run is None:
            say("chưa ghép mũi tiêm lần nào: chạy `campaign doses` (không có --latest)")
            ctx.exit(EXIT_REFUSED)
        links = doses_store.links(session, district=code, limit=limit)
        found = doses_store.conflicts(session, district=code)
    doc = doses_present.to_json(doses_store.result_of(run), links, found,
                                names=district_names(res.campaign.district_codes))
    if code:
        doc["districts"] = [d for d in doc["districts"] if d["district"] == code]
    say("\n".join(doses_present.text_lines(doc)))
    if as_json:
        emit_json(doc)
