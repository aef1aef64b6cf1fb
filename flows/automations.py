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


def build(deployment_ids: dict[str, UUID], path: Path = AUTOMATIONS_FILE) -> list[Any]:
    """Automation models, each `deployment: <name>` of an action replaced by that deployment's id."""
    from prefect.automations import Automation

    out = []
    for doc in load_documents(path):
        doc = copy.deepcopy(doc)
        for action in doc.get("actions", []):
            name = action.pop("deployment", None)
            if name is not None:
                if name not in deployment_ids:
                    raise KeyError(f"automation {doc['name']}: no served deployment named {name!r}")
                action["source"] = "selected"
                action["deployment_id"] = deployment_ids[name]
        out.append(Automation.model_validate({"enabled": True, **doc}))
    return out


def create_all(deployment_ids: dict[str, UUID], path: Path = AUTOMATIONS_FILE) -> list[str]:
    """Create every automation, replacing any of the same name (so an edited file takes effect)."""
    from prefect.automations import Automation

    names = []
    for automation in build(deployment_ids, path):
        try:
            for old in Automation.read(name=automation.name) or []:
                old.delete()
        except ValueError:
            pass
        automation.create()
        names.append(automation.name)
    return names
