"""`config/input_kinds.yaml`: one column specification per input kind, the single source for templates,
store tables, reader aliases and GX suites; and `config/headings.yaml`, how clerks head those columns."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from campaign.config_files import HEADINGS_FILE, INPUT_KINDS_FILE, ConfigError, Strict, validate_file

ColumnType = Literal[
    "text", "integer", "decimal", "date", "datetime", "boolean", "enum", "phone", "id_number",
    "insurance_number", "facility_code", "admin_code",
]
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


class EnumValue(Strict):
    label: str
    variants: list[str] = Field(default_factory=list)


class ColumnSpec(Strict):
    name: str
    type: ColumnType
    required: bool = False
    header: str
    aliases: list[str] = Field(default_factory=list)
    enum: str | None = None
    pii: bool = False
    min: float | None = None
    max: float | None = None
    length: int | None = None

    @field_validator("name")
    @classmethod
    def _snake(cls, v: str) -> str:
        if not SNAKE.match(v):
            raise ValueError(f"column name {v!r} must be snake_case ASCII")
        return v

    @model_validator(mode="after")
    def _enum_given(self) -> ColumnSpec:
        if (self.type == "enum") != (self.enum is not None):
            raise ValueError("a column of type enum needs `enum:` and only enum columns may have it")
        return self

    @property
    def template_header(self) -> str:
        return f"{self.header} (*)" if self.required else self.header


class KindSpec(Strict):
    name: str = ""   # the kind's key in input_kinds.yaml (set by InputKinds); its words: campaign.vocabulary
    section: str
    mode: Literal["snapshot", "event"]
    scope: Literal["district", "facility"]
    natural_key: list[str]
    columns: list[ColumnSpec]
    # event kinds: a row with an earlier row's key but other values is "repeat" (not loaded, said so) or,
    # for kinds whose readers take the latest version of a key (a follow-up AEFI, a corrected ledger day),
    # "latest" (loaded as a correction, said so)
    corrections: Literal["repeat", "latest"] = "repeat"

    @model_validator(mode="after")
    def _consistent(self) -> KindSpec:
        names = [c.name for c in self.columns]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"columns defined twice: {sorted(dupes)}")
        unknown = [k for k in self.natural_key if k not in names]
        if unknown:
            raise ValueError(f"natural_key names unknown columns {unknown}")
        return self

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def required_columns(self) -> list[ColumnSpec]:
        return [c for c in self.columns if c.required]

    @property
    def pii_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.pii]


class InputKinds(Strict):
    enums: dict[str, dict[str, EnumValue]]
    kinds: dict[str, KindSpec]

    @model_validator(mode="after")
    def _enums_exist(self) -> InputKinds:
        for kind_name, kind in self.kinds.items():
            object.__setattr__(kind, "name", kind_name)
            for col in kind.columns:
                if col.enum is not None and col.enum not in self.enums:
                    raise ValueError(f"kinds.{kind_name}: column {col.name} names unknown enum {col.enum!r}")
        return self

    def __getitem__(self, kind: str) -> KindSpec:
        return self.kinds[kind]

    @property
    def names(self) -> list[str]:
        return list(self.kinds)


class NameParts(Strict):
    first: list[str]
    last: list[str]


class HeadingVocabulary(Strict):
    """config/headings.yaml: how clerks head their columns (concepts, filler words, extra headings)."""

    concepts: dict[str, list[str]]
    filler: list[str]
    extra: dict[str, dict[str, list[str]]] = Field(default_factory=dict)
    name_parts: NameParts

    @field_validator("concepts")
    @classmethod
    def _concept_names(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        bad = [k for k in v if not re.fullmatch(r"@[a-z_]+", k)]
        if bad:
            raise ValueError(f"concept names must look like @word: {bad}")
        return v


@functools.cache
def load_input_kinds(path: str | Path = INPUT_KINDS_FILE) -> InputKinds:
    return validate_file(InputKinds, Path(path))


@functools.cache
def load_heading_vocabulary(path: str | Path = HEADINGS_FILE) -> HeadingVocabulary:
    vocab = validate_file(HeadingVocabulary, Path(path))
    kinds = load_input_kinds()
    for kind, cols in vocab.extra.items():   # a typo here would silently teach nothing
        if kind not in kinds.kinds:
            raise ConfigError(f"{path}: extra: unknown kind {kind!r}")
        names = {c.name for c in kinds.kinds[kind].columns}
        unknown = sorted(set(cols) - names)
        if unknown:
            raise ConfigError(f"{path}: extra: {kind}: unknown columns {unknown}")
    return vocab
