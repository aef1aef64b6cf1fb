"""The campaign's flow runs that ended Crashed or Failed, read from the Prefect API for the coordinators'
board (issue 18: a run whose process died is marked Crashed, and the board shows it).

Reading Prefect never breaks or slows the board: one short timeout per request and no retries, and any
failure (no API configured, the server down or slow, an error answer) becomes one Vietnamese sentence in
the section instead of an error page. Without PREFECT_API_URL nothing is started: Prefect's client would
otherwise start an ephemeral API server (seconds, and a process) from a page request. The words shown are
in faces/portal/pages.py; this module only reads.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from urllib.parse import urlsplit

from faces.portal import pages

log = logging.getLogger("campaign.portal")
TIMEOUT_S = 2.0


def prefect_api_url() -> str | None:
    """The Prefect API this process talks to (PREFECT_API_URL, or a test harness's), None if not set."""
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value() or "") or None


def _server(api: str) -> str:
    """The API's host and port, as shown: never a user name or password the URL may carry."""
    parts = urlsplit(api)
    if not parts.hostname:
        return api[:80]
    return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname


def read_troubled_runs(api: str | None, *, now: dt.datetime, days: int = pages.RUN_DAYS,
                       limit: int = pages.RUN_LIMIT, timeout: float = TIMEOUT_S) -> dict[str, Any]:
    """The flow runs that entered Crashed or Failed in the `days` before `now` (the real clock), newest
    first, at most `limit`: {"rows": [pages.flow_run_rows], "error": a sentence or None, "days": days}."""
    out: dict[str, Any] = {"rows": [], "error": None, "days": days}
    if not api:
        out["error"] = pages.runs_unreadable("not_configured")
        return out
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterId,
        FlowRunFilter,
        FlowRunFilterEndTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.settings import PREFECT_API_URL, PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    server = _server(api)
    # the end time, not the start: a run that crashed before it started (its infrastructure failed) has
    # none, and Prefect sets the end time of every run entering a final state, forced ones included
    wanted = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.CRASHED,
                                                                                      StateType.FAILED])),
                           end_time=FlowRunFilterEndTime(after_=now - dt.timedelta(days=days)))
    try:
        with (temporary_settings(updates={PREFECT_API_URL: api, PREFECT_CLIENT_MAX_RETRIES: 0}),
              get_client(httpx_settings={"timeout": timeout}, sync_client=True) as client):
            found = client.read_flow_runs(flow_run_filter=wanted, sort=FlowRunSort.END_TIME_DESC, limit=limit)
            flow_ids = sorted({r.flow_id for r in found}, key=str)
            flows = (client.read_flows(flow_filter=FlowFilter(id=FlowFilterId(any_=flow_ids)), limit=len(flow_ids))
                     if flow_ids else [])
    except httpx.TimeoutException:
        out["error"] = pages.runs_unreadable("timeout", server=server, seconds=timeout)
    except httpx.HTTPStatusError as exc:
        out["error"] = pages.runs_unreadable("refused", server=server, status=exc.response.status_code)
    except (httpx.TransportError, OSError):
        out["error"] = pages.runs_unreadable("unreachable", server=server)
    except Exception as exc:   # noqa: BLE001 - the board is shown whatever Prefect does; the cause is logged
        log.warning("portal: could not read the flow runs from Prefect at %s", server, exc_info=True)
        out["error"] = pages.runs_unreadable("other", server=server, error=type(exc).__name__)
    else:
        out["rows"] = pages.flow_run_rows(found, {f.id: f.name for f in flows})
    return out
