"""The words shown to people live in config/vocabulary.yaml, read by campaign/vocabulary.py: every code the
program can produce has a label there, and the renderers that show a code show that label.

The code lists are read from the code and the configuration (the readiness constants and the store's check
constraints, the planner's source, config/input_kinds.yaml, the deadline states), never written here."""

from __future__ import annotations

import ast
import datetime as dt
import inspect
import typing
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from campaign import vocabulary
from campaign.config_directive import Requirement
from campaign.config_files import ConfigError
from campaign.config_kinds import KindSpec, load_input_kinds
from campaign.deadlines import present as deadline_present
from campaign.deadlines import rules as deadline_rules
from campaign.planning import present as planning_present
from campaign.planning import rules as planning_rules
from campaign.readiness import status as readiness_status
from campaign.reports import rules
from campaign.store import models
from campaign.vocabulary import (
    deliverable_state_label,
    kind_label,
    level_codes,
    level_label,
    load_vocabulary,
    party_label,
    report_state_label,
    status_label,
    unplanned_reason,
)

NOW = dt.datetime(2021, 7, 28, 9, 0, tzinfo=dt.UTC)


def _literal(model, field: str) -> tuple[str, ...]:
    """The values of a `Literal[...] | None` field of a config model."""
    literal = next(a for a in typing.get_args(model.model_fields[field].annotation) if a is not type(None))
    return typing.get_args(literal)


# --- every code has a label ------------------------------------------------------------------------------

def test_every_readiness_status_the_rules_emit_has_a_label() -> None:
    emitted = {readiness_status.READY, readiness_status.WARNINGS, readiness_status.NOT_READY, readiness_status.UNKNOWN}
    assert emitted == set(models.READINESS_STATUSES)   # what a readiness record may hold
    assert emitted == set(load_vocabulary().statuses)
    for status in emitted:
        assert status_label(status) != status and status_label(status, "en")
    assert set(_literal(Requirement, "readiness")) <= emitted   # what a deadline may require, worded on the board


def _unplanned_codes_in_planner() -> set[str]:
    """Every reason the planner writes, read from its source: `drop(mask, "<code>")`, the codes assigned to
    `reason`/`why` in a function that fills `unplanned`, and the last member of the tuples added to it."""
    tree = ast.parse(inspect.getsource(planning_rules))
    found: set[str] = set()

    def strings(node: ast.AST) -> set[str]:
        return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}

    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef) or "unplanned" not in ast.unparse(fn):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "drop":
                found |= strings(node.args[1])
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in ("reason", "why")
                                                       for t in node.targets):
                found |= strings(node.value)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr in ("append", "extend") and "unplanned" in ast.unparse(node.func.value)):
                indexes = {id(n.slice) for n in ast.walk(node) if isinstance(n, ast.Subscript)}   # p.loc[m, "x"]
                found |= {t.elts[-1].value for t in ast.walk(node) if isinstance(t, ast.Tuple) and t.elts
                          and id(t) not in indexes and isinstance(t.elts[-1], ast.Constant)
                          and isinstance(t.elts[-1].value, str)}
    return found


def test_every_unplanned_reason_the_planner_emits_has_a_label() -> None:
    emitted = _unplanned_codes_in_planner()
    assert emitted, "the planner's reasons were not found in its source"
    assert emitted <= set(planning_rules.UNPLANNED_REASONS), emitted - set(planning_rules.UNPLANNED_REASONS)
    assert set(planning_rules.UNPLANNED_REASONS) == set(load_vocabulary().unplanned)
    for code in planning_rules.UNPLANNED_REASONS:
        assert unplanned_reason(code) != code


def test_every_input_kind_has_its_label_and_input_kinds_yaml_words_none_of_its_own() -> None:
    kinds = load_input_kinds()
    assert list(load_vocabulary().kinds) == kinds.names
    assert "label" not in KindSpec.model_fields   # a `label:` in input_kinds.yaml is refused (Strict)
    for name in kinds.names:
        assert kind_label(name) != name
    assert kind_label(None) == "" and kind_label("no_such_kind") == "no_such_kind"


def test_every_level_and_deliverable_state_has_a_label() -> None:
    assert level_codes() == models.READINESS_LEVELS == models.REPORT_LEVELS == rules.LEVELS
    assert set(_literal(Requirement, "report")) <= set(level_codes())
    for level in level_codes():
        for form in ("name", "short", "report"):
            assert level_label(level, form=form) != level
    states = {deadline_rules.DONE_ON_TIME, deadline_rules.DONE_LATE, deadline_rules.DUE, deadline_rules.OVERDUE}
    assert states == set(load_vocabulary().deliverable_states)
    assert all(deliverable_state_label(s) != s for s in states)


def test_a_bad_vocabulary_fails_loudly_with_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "vocabulary.yaml"
    text = vocabulary.VOCABULARY_FILE.read_text(encoding="utf-8").replace("  ready: {vi:", "  ready: {vie:")
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"vocabulary\.yaml: key statuses\.ready"):
        load_vocabulary(bad)


# --- the renderers show the vocabulary's label -------------------------------------------------------------

def test_the_deadline_board_words_readiness_and_reports_from_the_vocabulary() -> None:
    from campaign.deadlines.rules import completion

    item = deadline_rules.Deliverable(deadline="d", name="d", party="622", opens_at=NOW, due_at=NOW, kinds=("staff",),
                                      report="district", ladder="default", readiness="ready_with_warnings")
    _, missing = completion(item, {})
    assert missing == ["staff", f"mức sẵn sàng: {status_label('ready_with_warnings', capitalized=False)}",
                       f"báo cáo ({level_label('district', form='report')}) đã duyệt và gửi"]
    assert deadline_present.STEP_TITLES["overdue"] == deliverable_state_label("overdue")


def test_the_plan_summary_words_unplanned_reasons_from_the_vocabulary() -> None:
    reasons = {code: i + 1 for i, code in enumerate(planning_rules.UNPLANNED_REASONS)}
    summary = {"run_id": 1, "from": "2021-07-28", "days": 3, "published": False, "quality": {},
               "province": {"planned": 0, "invitations": 0, "dose2_planned": 0, "sessions": 0, "vials": 0,
                            "wasted_doses": 0, "wastage_lower_bound": 0, "unplanned_by_reason": reasons},
               "districts": [{"district": "622", "name": "X", "planned": 0, "sessions": 0, "vials": 0,
                              "unplanned": reasons}]}
    text = planning_present.render_text(summary)
    for code, n in reasons.items():
        assert text.count(f"{unplanned_reason(code)} {n}") == 2, code


def test_the_report_words_statuses_from_the_vocabulary() -> None:
    by_status = {s: i + 1 for i, s in enumerate(models.READINESS_STATUSES)}
    section = rules._infrastructure(None, SimpleNamespace(level="province"), pd.DataFrame(), pd.DataFrame(),
                                      {"facilities_by_status": by_status})
    assert section.tables[0].rows == [[status_label(s), n] for s, n in by_status.items()]


def test_the_readiness_artifact_words_statuses_from_the_vocabulary() -> None:
    from campaign.readiness import present as readiness_present

    def record(level: str, status: str, **details) -> SimpleNamespace:
        return SimpleNamespace(level=level, status=status, district="622", facility_code=None, as_of=NOW,
                               facilities_ready=0, facilities_total=1, details={"gaps": [], **details})

    records = [record("province", "unknown"), record("district", "not_ready")]
    tables, markdown = readiness_present.readiness_artifacts(records, {})
    assert f"**unknown** ({status_label('unknown', capitalized=False)})" in markdown["markdown"]
    assert f"not_ready ({status_label('not_ready', capitalized=False)})" in tables[0]["description"]
    assert f"| {status_label('not_ready', 'en')} | {status_label('unknown', 'en')} |" in markdown["markdown"]


def test_parties_without_a_name_in_the_campaign_file_are_worded_by_the_vocabulary() -> None:
    assert party_label("doh") == "Sở Y tế"
    assert party_label("health_centre", "Chư Sê") == "Trung tâm Y tế Chư Sê"
    assert report_state_label("sent", capitalized=False) == "đã gửi"


# --- the campaign days' words (issue 20, reviewer): none inline in the report's builders or the board ------

_VIETNAMESE = set("àáảãạăắằẳẵặâấầẩẫậèéẻẽẹêếềểễệìíỉĩịòóỏõọôốồổỗộơớờởỡợùúủũụưứừửữựỳýỷỹỵđ")


def _words_in(text: str) -> bool:
    return bool(_VIETNAMESE & set(text.lower()))


def test_the_campaign_days_builders_and_the_boards_part_word_nothing_themselves() -> None:
    """Every user-facing Vietnamese word lives in config/vocabulary.yaml: campaign/reports/rules_during.py holds
    no Vietnamese string but its docstrings, the board's "Trong đợt tiêm chủng" part none at all; the words
    they show are the vocabulary's `campaign_days`."""
    from campaign.config_files import PROJECT_ROOT
    from campaign.reports import rules_during
    from campaign.vocabulary import campaign_days_columns, campaign_days_word
    from faces.portal import board_campaign

    tree = ast.parse(inspect.getsource(rules_during))
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    inline = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
              and id(n) not in docstrings and _words_in(n.value)]
    assert inline == []
    template = (PROJECT_ROOT / "faces/portal/templates/board.html.j2").read_text(encoding="utf-8")
    part = template[template.index('id="trong-dot"'):]
    part = part[:part.index("</section>")]
    assert not _words_in(part), part
    assert all(k in load_vocabulary().campaign_days for k in board_campaign.BOARD_WORDS)
    assert campaign_days_word("board_title") == "Trong đợt tiêm chủng"
    assert len(campaign_days_columns("aefi_columns")) == 6
    with pytest.raises(KeyError):
        campaign_days_columns("board_title")


@pytest.mark.parametrize("module", ["campaign.campaign_progress", "campaign.demo_days"])
def test_the_progress_columns_and_the_demos_campaign_days_word_nothing_themselves(module: str) -> None:
    """The progress artifacts' column titles and the demo's "Trong đợt tiêm" lines are the vocabulary's
    `campaign_days.progress_*` and `demo_*` (issue 20, reviewer: words outside vocabulary.yaml)."""
    import importlib

    tree = ast.parse(inspect.getsource(importlib.import_module(module)))
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    inline = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
              and id(n) not in docstrings and _words_in(n.value)]
    assert inline == []
