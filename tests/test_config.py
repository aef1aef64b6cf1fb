"""The campaign config, the column specifications and the reason catalogue load, and fail loudly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from campaign.config import load_campaign
from campaign.config_files import DEFAULT_CAMPAIGN_FILE, ConfigError
from campaign.config_kinds import load_input_kinds
from campaign.config_reasons import load_reasons

DESIGN_SEVERITIES = {
    "row": ["name_missing", "name_invalid", "dob_missing", "dob_invalid", "priority_group_invalid", "sex_invalid",
            "commune_unknown", "commune_ambiguous", "commune_outside_district"],
    "warning": ["under_age", "dob_year_only", "dob_day_month_ambiguous", "phone_missing", "phone_invalid",
                "id_invalid", "cccd_sex_mismatch", "cccd_birth_year_mismatch", "duplicate_in_file"],
    "repair": ["phone_converted", "id_zero_restored", "text_reencoded", "date_from_serial", "sex_from_cccd",
               "commune_from_name"],
    "blocking": ["unreadable_file", "wrong_kind", "required_column_missing", "too_many_rejected_rows"],
}


def test_gia_lai_campaign_loads_with_the_directive_facts():
    cfg = load_campaign()
    assert cfg.province.code == "64"
    assert len(cfg.province.districts) == 17 and "636" not in cfg.province.districts
    due = {d.id: d.due_at for d in cfg.deadlines}
    # "before 29/7/2021" is due at the start of 29/7 in Asia/Ho_Chi_Minh; the DoH's one a day later
    assert due["district_preparation"] == dt.datetime(2021, 7, 29, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    assert due["doh_central_report"] == dt.datetime(2021, 7, 30, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    assert set(cfg.teams.roles) == {"reception", "screening", "vaccinator", "recorder", "observation"}
    assert cfg.vaccine_products["pfizer"].doses_per_vial == 6
    assert sorted(cfg.priority_groups) == list(range(1, 17))
    assert cfg.intake.max_rejected_share == 0.5


def test_every_input_kind_of_the_design_has_a_column_spec():
    kinds = load_input_kinds()
    assert set(kinds.names) == {"facilities", "infrastructure", "training", "communication", "staff", "target_list",
                                "vaccine_stock", "vaccinations", "aefi", "backfill", "aefi_investigation",
                                "stock_ledger"}
    snapshot = {k for k, s in kinds.kinds.items() if s.mode == "snapshot"}
    assert snapshot == {"facilities", "infrastructure", "training", "communication", "staff", "target_list",
                        "vaccine_stock"}
    tl = kinds["target_list"]
    assert [c.name for c in tl.required_columns] == ["full_name", "birth_date", "sex", "priority_group", "phone",
                                                    "commune_name"]
    assert tl.column("id_number").pii and tl.column("phone").pii
    assert tl.column("sex").template_header == "Giới tính (*)"


def test_reason_catalogue_has_the_design_severities():
    reasons = load_reasons()
    for severity, codes in DESIGN_SEVERITIES.items():
        for code in codes:
            assert reasons.severity(code) == severity, code
    assert all(r.message for r in reasons.reasons.values())


def _broken_copy(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load(DEFAULT_CAMPAIGN_FILE.read_text(encoding="utf-8"))
    mutate(data)
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_bad_value_names_file_key_and_reason(tmp_path):
    path = _broken_copy(tmp_path, lambda d: d["capacity"].update(people_per_table_per_session=-5))
    with pytest.raises(ConfigError) as err:
        load_campaign(path)
    msg = str(err.value)
    assert str(path) in msg and "capacity.people_per_table_per_session" in msg and "greater than 0" in msg


def test_deadline_without_offset_is_refused(tmp_path):
    path = _broken_copy(tmp_path, lambda d: d["deadlines"][0].update(due_at="2021-07-29T00:00:00"))
    with pytest.raises(ConfigError, match=r"deadlines\.0\.due_at.*offset"):
        load_campaign(path)


def test_unknown_ladder_and_unknown_key_are_refused(tmp_path):
    path = _broken_copy(tmp_path, lambda d: d["deadlines"][0].update(escalation="nope"))
    with pytest.raises(ConfigError, match="escalation ladder 'nope' is not defined"):
        load_campaign(path)
    path = _broken_copy(tmp_path, lambda d: d.update(capacty={}))
    with pytest.raises(ConfigError, match="capacty"):
        load_campaign(path)


def test_not_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("campaign: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*line \d+.*not valid YAML"):
        load_campaign(bad)
    with pytest.raises(ConfigError, match="file not found"):
        load_campaign(tmp_path / "absent.yaml")


def test_escalation_step_needs_exactly_one_trigger(tmp_path):
    def mutate(d):
        d["escalation_ladders"]["district_ladder"][0]["when"] = {"window_elapsed": 0.5, "hours_before_due": 2}
    with pytest.raises(ConfigError, match="exactly one trigger"):
        load_campaign(_broken_copy(tmp_path, mutate))


def test_column_spec_errors_are_caught(tmp_path):
    from campaign.config_files import INPUT_KINDS_FILE

    data = yaml.safe_load(INPUT_KINDS_FILE.read_text(encoding="utf-8"))
    data["kinds"]["facilities"]["natural_key"] = ["no_such_column"]
    path = tmp_path / "kinds.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match="kinds.facilities.*no_such_column"):
        load_input_kinds(path)
