"""The `campaign` command line: a stable contract (docs/contracts.md) that tests and scripts rely on.

Exit codes: 0 done (intake: accepted or duplicate), 3 refused by a rule (intake: rejected), 2 usage error,
1 unexpected failure. `--json` prints one JSON object on stdout; human output goes to stderr.
Prefect is imported only by the commands that start flows, after the environment is configured.

`main` (the console entry point) is the group; each command group lives in its own module here and is
added below. Shared helpers: `faces.cli.common`.
"""

from __future__ import annotations

import traceback
from typing import Any

import click

from campaign.settings import get_settings
from faces.cli.aefi import aefi
from faces.cli.audit import audit
from faces.cli.common import EXIT_FAILURE, say
from faces.cli.data import data
from faces.cli.deadlines import deadlines, watch
from faces.cli.demo import demo
from faces.cli.doses import doses
from faces.cli.intake import intake, mappings, templates, withdraw
from faces.cli.master_list import export, master_list, review
from faces.cli.plan import plan
from faces.cli.readiness import readiness
from faces.cli.report import report
from faces.cli.results_daily import results_daily
from faces.cli.serve import portal, serve
from faces.cli.status import status as status_command  # the module keeps its name (tests patch it)
from faces.cli.stock import stock
from faces.cli.users import users

__all__ = ["main"]


class CampaignGroup(click.Group):
    """Turns unexpected exceptions into exit 1 with a short message (the traceback with --debug)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001
            from campaign.config_files import ConfigError
            from campaign.store.bulk import connection_lost_text

            if isinstance(exc, ConfigError):
                say(f"configuration error:\n{exc}")
            elif (lost := connection_lost_text(exc)) is not None:
                say(lost)   # not "unexpected": a database restart or a network cut; the person can try again
            else:
                say(f"unexpected failure: {type(exc).__name__}: {exc}")
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            ctx.exit(EXIT_FAILURE)


@click.group(cls=CampaignGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Print tracebacks of unexpected failures.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Campaign readiness orchestrator for directive 1038/UBND-KGVX (Gia Lai, 2021).

    Settings come from the environment: CAMPAIGN_DATABASE_URL (default: a SQLite file under ./var),
    CAMPAIGN_CONFIG (the campaign YAML), CAMPAIGN_NOW (the logical clock, ISO 8601, +07:00 when no offset),
    CAMPAIGN_HOME (./var).
    """
    ctx.obj = {"debug": debug}
    # Every command writes personal data (the database, exports, files): owner-only, whatever the shell's umask.
    from campaign.files import private_umask

    private_umask()
    # Fail at start on a bad config file, naming file, key and reason.
    from campaign.config import load_campaign
    from campaign.config_kinds import load_input_kinds
    from campaign.config_reasons import load_reasons

    load_campaign(get_settings().config)
    load_input_kinds()
    load_reasons()


# In the order the commands were written in (`campaign --help` lists them by name).
for _command in (demo, templates, intake, readiness, deadlines, watch, serve, portal, users, mappings, withdraw,
                 master_list, review, plan, report, export, data, audit, stock, aefi, results_daily, doses, status_command):
    main.add_command(_command)
del _command

# Issue 21.2: workers on more machines (appended: the list above keeps its order).
from faces.cli.worker import worker as _worker  # noqa: E402

main.add_command(_worker)
