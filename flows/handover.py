"""The flows a command may hand to the running `campaign serve` (campaign.handover): each takes the
command's parameters and returns what the command prints, computed by the same flow and the same words as
when the command runs it itself. The portal's `/internal/flows/<name>` calls `run`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _readiness(params: dict[str, Any]) -> dict[str, Any]:
    from campaign.readiness.present import render_text
    from flows.readiness import readiness_flow

    summary = readiness_flow(now=params.get("now"), district=params.get("district"))
    return {"result": summary, "text": render_text(summary)}


FLOWS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {"readiness": _readiness}


def run(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run flow `name` here with the command's `params` (KeyError: not a flow that can be handed over)."""
    return FLOWS[name](params)   # the served process lives on: its event worker delivers the run's events


def warm() -> None:
    """Import what the flows need before the first request (a served answer should not pay imports)."""
    import flows.readiness  # noqa: F401
    from campaign.readiness import present, rules  # noqa: F401
