"""The progress the long commands show (demo, intake, master-list, plan, report): the stage and a bar on
stderr, drawn with rich, only when stderr is a terminal and the command is not asked for `--json`; piped or
under `--json`, nothing is added to either output. The core only reports (`campaign.progress`); drawing is
here, so the portal's workers and the flows under `campaign serve` draw nothing.

    with shown(as_json):
        summary = some_flow(...)
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


def wanted(as_json: bool) -> bool:
    """A bar only on a terminal, never under --json (a program reads that) nor with CAMPAIGN_PROGRESS=0."""
    if as_json or os.environ.get("CAMPAIGN_PROGRESS", "").strip() == "0":
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):   # a closed or replaced stream
        return False


@contextlib.contextmanager
def shown(as_json: bool) -> Iterator[None]:
    """Show the reported stages and counts (`campaign.progress.report`) while the block runs, on stderr, when
    `wanted`; the bar disappears when the block ends (the command's own summary follows)."""
    if not wanted(as_json):
        yield
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from campaign import progress

    console = Console(stderr=True)
    with Progress(SpinnerColumn(), TextColumn("[progress.description]{task.description}"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("…", total=None)

        def on_step(step: progress.Step) -> None:
            if step.total is not None:   # a counted stage: the bar shows how much of it is done
                bar.update(task, description=step.stage, completed=step.done or 0, total=step.total)
            else:                        # a stage within it (or alone): the words change, the count stays
                bar.update(task, description=step.stage)

        with progress.listening(on_step):
            yield
