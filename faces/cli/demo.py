"""`campaign demo`: a synthetic Gia Lai 2021 campaign, every pipeline run on it."""

from __future__ import annotations

from pathlib import Path

import click

from campaign.settings import get_settings
from faces.cli.common import drain_prefect, emit_json, prepare, say


@click.command()
@click.option("--people", type=click.IntRange(100, 2_000_000), default=50_000, show_default=True,
              help="People in the province's target lists (the whole province is about 1,000,000).")
@click.option("--seed", type=int, default=2021, show_default=True, help="Seed of the synthetic data.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the generated district files (default: CAMPAIGN_HOME/demo/inputs).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object on stdout.")
def demo(people: int, seed: int, out_dir: Path | None, as_json: bool) -> None:
    """Generate a synthetic Gia Lai 2021 campaign and run every pipeline on it, as of CAMPAIGN_NOW
    (default 2021-07-28 08:00 +07:00, the day the directive's annex is dated)."""
    import os

    from campaign import clock

    settings = get_settings()
    now = os.environ.get("CAMPAIGN_NOW") or clock.DEMO_NOW
    out_dir = (out_dir or settings.home / "demo" / "inputs").resolve()
    prepare()
    say(f"Generating {people} people and running the pipelines as of {clock.parse_instant(now).isoformat()} ...")
    from faces.cli.progress import shown
    from flows.demo import demo_flow

    with shown(as_json):   # the stages and a bar on a terminal (faces.cli.progress)
        summary = demo_flow(out_dir=str(out_dir), people=people, seed=seed, now=now)
    drain_prefect()
    from campaign.demo import render_text

    say(render_text(summary))
    # issue 22: the demo ends on the province's status, as `campaign status` shows it (stderr; --json unchanged)
    from faces.cli.status import show_status

    say("")
    show_status(clock.to_utc(clock.parse_instant(now)))
    if as_json:
        emit_json(summary)
