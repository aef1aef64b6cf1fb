"""The words shown to people, from `config/vocabulary.yaml`: the one place a status, a kind, a reason for
leaving someone out of a plan, a level or a party is worded.

Loaded and validated like `reasons.yaml` (campaign.config: a bad edit fails loudly with the file and the
key), once per process. Every accessor takes the stored code and gives its label; a code without a label
is given back as it is (tests/test_vocabulary.py holds every code the program can produce to a label).
`capitalized=False` lowers the first letter, for a label in the middle of a sentence.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Literal

from campaign.config_files import CONFIG_DIR, Strict, validate_file

VOCABULARY_FILE = CONFIG_DIR / "vocabulary.yaml"

Lang = Literal["vi", "en"]


class Words(Strict):
    """One thing's label, in Vietnamese and (where English text shows it) in English."""
    vi: str
    en: str | None = None


class LevelWords(Words):
    short: str
    report: str


class Vocabulary(Strict):
    statuses: dict[str, Words]
    deliverable_states: dict[str, str]
    report_states: dict[str, str]
    kinds: dict[str, str]
    unplanned: dict[str, str]
    levels: dict[str, LevelWords]
    parties: dict[str, str]
    stock: dict[str, str] = {}
    campaign_days: dict[str, str | list[str]] = {}   # the campaign days' words: reports II.3/II.4, the board, AEFI


@functools.cache
def load_vocabulary(path: str | Path = VOCABULARY_FILE) -> Vocabulary:
    return validate_file(Vocabulary, Path(path))


def _case(text: str, capitalized: bool) -> str:
    return text if capitalized else text[:1].lower() + text[1:]


def _pick(words: Words, lang: Lang) -> str:
    return words.en if lang == "en" and words.en else words.vi


def status_label(status: str, lang: Lang = "vi", *, capitalized: bool = True) -> str:
    """A readiness status (`ready`, `ready_with_warnings`, `not_ready`, `unknown`) in words."""
    words = load_vocabulary().statuses.get(status)
    return status if words is None else _case(_pick(words, lang), capitalized)


def deliverable_state_label(state: str) -> str:
    """A deliverable's state on the deadline board (`due`, `overdue`, `done_on_time`, `done_late`)."""
    return load_vocabulary().deliverable_states.get(state, state)


def report_state_label(state: str, *, capitalized: bool = True) -> str:
    """A report's state (`none`, `awaiting`, `approved`, `sent`; `awaiting_health_centre`, `awaiting_doh`)."""
    text = load_vocabulary().report_states.get(state)
    return state if text is None else _case(text, capitalized)


def kind_label(kind: str | None) -> str:
    """An input kind as a district reads it ("Danh sách đối tượng tiêm chủng"); "" for no kind."""
    if not kind:
        return ""
    return load_vocabulary().kinds.get(kind, kind)


def unplanned_reason(code: str) -> str:
    """Why a plan left a person out, in the middle of a sentence ("hết chỗ")."""
    return load_vocabulary().unplanned.get(code, code)


def level_codes() -> tuple[str, ...]:
    """The levels (facility, district, province), in the vocabulary's order."""
    return tuple(load_vocabulary().levels)


def level_label(level: str, lang: Lang = "vi", *, form: Literal["name", "short", "report"] = "name",
                capitalized: bool = False) -> str:
    """A level in words: its name ("cơ sở tiêm chủng"), its short name ("cơ sở") or what its report is
    called on the deadline board ("cấp huyện")."""
    words = load_vocabulary().levels.get(level)
    if words is None:
        return level
    text = _pick(words, lang) if form == "name" else words.short if form == "short" else words.report
    return text[:1].upper() + text[1:] if capitalized else text


def party_label(role: str, name: str = "") -> str:
    """A party where the campaign file gives no name: `doh` ("Sở Y tế"), `health_centre`,
    `health_centre_short`, `steering_committee` (`name`: the district's name)."""
    template = load_vocabulary().parties.get(role)
    return role if template is None else template.format(name=name)


def stock_words(key: str, **values: object) -> str:
    """A stock reconciliation phrase (`stock` section: `doses_<status>`, `pending_line` with {unit}, {n})."""
    template = load_vocabulary().stock.get(key)
    return key if template is None else template.format(**values)


class _Labels(Mapping[str, str]):
    """A section of the vocabulary as a read-only mapping (code -> label), read when looked into."""

    def __init__(self, section: str) -> None:
        self._section = section

    def _words(self) -> dict[str, str]:
        items = getattr(load_vocabulary(), self._section)
        return {k: v.vi if isinstance(v, Words) else v for k, v in items.items()}

    def __getitem__(self, code: str) -> str:
        return self._words()[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._words())

    def __len__(self) -> int:
        return len(self._words())


STATUS_LABELS: Mapping[str, str] = _Labels("statuses")
UNPLANNED_LABELS: Mapping[str, str] = _Labels("unplanned")


def campaign_days_word(code: str) -> str:
    """A word of the campaign days' parts (reports II.3/II.4, the board's "Trong đợt tiêm chủng", AEFI), by
    its code in `campaign_days` of config/vocabulary.yaml; a code without one is given back as it is."""
    word = load_vocabulary().campaign_days.get(code, code)
    return word if isinstance(word, str) else ", ".join(word)


def campaign_days_columns(code: str) -> list[str]:
    """A table's column headings of the campaign days' parts (a list in `campaign_days`)."""
    words = load_vocabulary().campaign_days.get(code)
    if not isinstance(words, list):
        raise KeyError(f"config/vocabulary.yaml: campaign_days.{code} is no list of column headings")
    return list(words)


def campaign_days_text(code: str, **values: object) -> str:
    """A sentence of the campaign days' parts with its {fields} filled in (`campaign_days` of
    config/vocabulary.yaml)."""
    return campaign_days_word(code).format(**values)
