"""State hooks every flow of the campaign carries."""

from __future__ import annotations

import logging
from typing import Any

from campaign.runtime import note_run_for_reaper

log = logging.getLogger("flows.hooks")


def note_flow_run(_flow: Any, flow_run: Any, _state: Any) -> None:
    """on_running: note the run and the API it reports to, so that the command's reaper can mark it Crashed
    if the command is killed (campaign/runtime.py)."""
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            api = str(client.api_url)
        note_run_for_reaper(api, str(flow_run.id))
    except Exception as exc:  # noqa: BLE001 - a note for the reaper must never fail the run
        log.warning("could not note flow run for the reaper: %s", exc)
