"""Where the configuration files under `config/` are, and how any one of them is read and validated.

Each file is validated at start so that a bad edit fails loudly with the file, the key and the reason
(`ConfigError`). One module per file reads it: `campaign.config` (the campaign YAML),
`campaign.config_kinds` (`input_kinds.yaml`, `headings.yaml`), `campaign.config_reasons` (`reasons.yaml`);
`campaign.config_directive` holds the campaign file's parts that trace the directive (its text, sources,
parties, deadlines, escalation ladders).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "config"
DEFAULT_CAMPAIGN_FILE = CONFIG_DIR / "gia_lai_2021.yaml"
INPUT_KINDS_FILE = CONFIG_DIR / "input_kinds.yaml"
REASONS_FILE = CONFIG_DIR / "reasons.yaml"
HEADINGS_FILE = CONFIG_DIR / "headings.yaml"
DIRECTIVE_TEXT_FILE = CONFIG_DIR / "directive-1038-UBND-KGVX.txt"   # the directive itself, as issued


class ConfigError(Exception):
    """A configuration file is missing, not YAML, or fails validation. The message names file, key, reason."""


class Strict(BaseModel):
    """The base of every configuration model: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# A time of day, "HH:MM".
HHMM = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"{path}:{line} not valid YAML: {getattr(exc, 'problem', exc)}") from None


def validate_file(model: type[BaseModel], path: Path) -> Any:
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            problems.append(f"{path}: key {key}: {err['msg']}")
        raise ConfigError("\n".join(problems)) from None
