"""The automations of `flows/automations.yaml` as Prefect objects, created by `campaign serve`."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any
from uuid import UUID

import yaml

AUTOMATIONS_FILE = Path(__file__).with_name("automations.yaml")


def load_documents(path: Path = AUTOMATIONS_FILE) -> list[dict[str, Any]]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def heartbeat_seconds() -> int:
    """How often flow runs send a heartbeat (PREFECT_FLOWS_HEARTBEAT_FREQUENCY; campaign/runtime.py sets 30)."""
    from prefect.settings import get_current_settings

    from campaign.runtime import HEARTBEAT_SECONDS

    return get_current_settings().flows.heartbeat_frequency or HEARTBEAT_SECONDS


def build(deployment_ids: dict[str, UUID], path: Path = AUTOMATIONS_FILE) -> list[Any]:
    """Automation models, each `deployment: <name>` of an action replaced by that deployment's id, and a
    trigger's `within_heartbeats: N` by N heartbeats in seconds (a window shorter than the heartbeats would
    crash live runs)."""
    from prefect.automations import Automation

    out = []
    for doc in load_documents(path):
        doc = copy.deepcopy(doc)
        beats = doc["trigger"].pop("within_heartbeats", None)
        if beats is not None:
            doc["trigger"]["within"] = beats * heartbeat_seconds()
        for action in doc.get("actions", []):
            name = action.pop("deployment", None)
            if name is not None:
                if name not in deployment_ids:
                    raise KeyError(f"automation {doc['name']}: no served deployment named {name!r}")
                action["source"] = "selected"
                action["deployment_id"] = deployment_ids[name]
        out.append(Automation.model_validate({"enabled": True, **doc}))
    return out


def _same(a: Any, b: Any) -> bool:
    from prefect.events.schemas.automations import AutomationCore

    def shape(x: Any) -> dict[str, Any]:
        return x.model_dump(include=set(AutomationCore.model_fields), exclude={"trigger": {"id"}})
    return shape(a) == shape(b)


def create_all(deployment_ids: dict[str, UUID], path: Path = AUTOMATIONS_FILE) -> list[str]:
    """Create every automation; one already there unchanged is kept, others of its name are replaced (so an
    edited file takes effect). Kept, not re-created: a proactive trigger's state (which runs sent heartbeats)
    belongs to the automation, and a new one would forget the runs that died while `serve` was stopped."""
    from prefect.client.orchestration import get_client

    names = []
    with get_client(sync_client=True) as client:
        for automation in build(deployment_ids, path):
            # `Automation.read(name=)` gives one automation, not a list: iterating it gave its fields
            # (tuples), and the second start of `campaign serve` died on `tuple.delete`
            existing = client.read_automations_by_name(automation.name)
            kept = next((old for old in existing if _same(old, automation)), None)
            for old in existing:
                if old is not kept:
                    client.delete_automation(old.id)
            if kept is None:
                automation.create()
            names.append(automation.name)
    return names
