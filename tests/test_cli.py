"""The `campaign` command line: help for every command, exit codes and --json per docs/contracts.md."""

from __future__ import annotations

import json

import openpyxl
import pytest
import yaml
from click.testing import CliRunner

from campaign.config_files import DEFAULT_CAMPAIGN_FILE
from faces.cli import main

COMMANDS = ["demo", "templates", "intake", "withdraw", "readiness", "deadlines", "watch", "master-list", "review", "export"]
HEADER = "Họ và tên (*),Ngày sinh dạng dd/mm/yyyy (*),Giới tính (*),Mã nhóm đối tượng ưu tiên (*),Số điện thoại (*),Xã/Phường (*)\n"


@pytest.fixture()
def runner(campaign_home):
    return CliRunner()


def test_help_for_every_command(runner):
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output
        sub = runner.invoke(main, [command, "--help"])
        assert sub.exit_code == 0 and "Usage:" in sub.output, command


def test_usage_errors_exit_2(runner, tmp_path):
    path = tmp_path / "tl.csv"
    path.write_text(HEADER, encoding="utf-8")
    unknown_district = runner.invoke(main, ["intake", str(path), "--district", "Ba Đình", "--kind", "target_list"])
    assert unknown_district.exit_code == 2 and "unknown district" in unknown_district.output
    unknown_kind = runner.invoke(main, ["intake", str(path), "--district", "633", "--kind", "people"])
    assert unknown_kind.exit_code == 2 and "unknown kind" in unknown_kind.output
    missing_option = runner.invoke(main, ["intake", str(path)])
    assert missing_option.exit_code == 2
    no_file = runner.invoke(main, ["intake", str(tmp_path / "nope.csv"), "-d", "633", "-k", "target_list"])
    assert no_file.exit_code == 2
    # who submits is kept in a bounded column: too long is the operator's usage error, before any flow run
    long_by = runner.invoke(main, ["intake", str(path), "-d", "633", "-k", "target_list", "--by", "x" * 200])
    assert long_by.exit_code == 2 and "at most 128" in long_by.output
    no_submission = runner.invoke(main, ["withdraw", "999", "--reason", "x"])
    assert no_submission.exit_code == 2 and "no submission 999" in no_submission.output


def test_bad_config_fails_at_start_naming_file_and_key(runner, tmp_path, monkeypatch):
    data = yaml.safe_load(DEFAULT_CAMPAIGN_FILE.read_text(encoding="utf-8"))
    data["teams"]["max_team_age_days"] = "yesterday"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("CAMPAIGN_CONFIG", str(bad))
    from campaign.settings import get_settings

    get_settings.cache_clear()
    result = runner.invoke(main, ["templates", str(tmp_path / "t")])
    get_settings.cache_clear()
    assert result.exit_code == 1
    assert str(bad) in result.output and "teams.max_team_age_days" in result.output


def test_templates_for_every_kind_with_dropdowns_and_text_ids(runner, tmp_path):
    result = runner.invoke(main, ["templates", str(tmp_path / "t")])
    assert result.exit_code == 0
    files = sorted(p.name for p in (tmp_path / "t").iterdir())
    from campaign.config_kinds import load_input_kinds

    assert len(files) == len(load_input_kinds().names) and "target_list.xlsx" in files and "stock_ledger.xlsx" in files
    wb = openpyxl.load_workbook(tmp_path / "t" / "target_list.xlsx")
    ws = wb["Du lieu"]
    headers = [c.value for c in ws[4]]
    assert headers[:4] == ["STT", "Họ và tên (*)", "Ngày sinh dạng dd/mm/yyyy (*)", "Giới tính (*)"]
    phone_col = headers.index("Số điện thoại (*)") + 1
    letter = openpyxl.utils.get_column_letter(phone_col)
    assert ws.column_dimensions[letter].number_format == "@"  # the column is text: Excel keeps the leading zero
    validations = {str(dv.sqref).split(":")[0]: dv for dv in ws.data_validations.dataValidation}
    assert validations["D5"].type == "list"                       # sex
    assert validations["E5"].type == "whole"                      # priority group 1..16


@pytest.mark.prefect
def test_intake_json_and_exit_codes(runner, prefect_harness, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "Nguyễn Văn An,25/05/1980,0,9,0912345678,Ia Blang\n", encoding="utf-8")
    result = runner.invoke(main, ["intake", str(good), "--district", "chu se", "--kind", "target_list", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["status"] == "accepted" and payload["district"] == "633"
    assert {"submission_id", "kind", "rows_total", "rows_skipped", "rows_with_warnings", "reasons",
            "feedback_file"} <= set(payload)
    again = runner.invoke(main, ["intake", str(good), "-d", "633", "-k", "target_list", "--json"])
    assert again.exit_code == 0
    assert json.loads(again.stdout.strip().splitlines()[-1])["status"] == "duplicate"

    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"PK\x03\x04 definitely not a workbook")
    rejected = runner.invoke(main, ["intake", str(bad), "-d", "633", "-k", "target_list", "--json"])
    assert rejected.exit_code == 3
    assert json.loads(rejected.stdout.strip().splitlines()[-1])["status"] == "rejected"

    withdrawn = runner.invoke(main, ["withdraw", str(payload["submission_id"]), "--reason", "nhầm tệp", "--json"])
    assert withdrawn.exit_code == 0
    assert json.loads(withdrawn.stdout.strip().splitlines()[-1])["status"] == "withdrawn"


def test_readiness_json_district_and_history(runner, prefect_harness):
    first = runner.invoke(main, ["readiness", "--json", "--at", "2021-07-28T08:00"])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary["province"]["status"] == "unknown"          # nothing submitted yet: unknown, not ready
    assert len(summary["districts"]) == 17 and all(d["status"] == "unknown" for d in summary["districts"])
    assert "facilities" not in summary

    one = runner.invoke(main, ["readiness", "--district", "chu se", "--json"])
    assert one.exit_code == 0, one.output
    detail = json.loads(one.stdout.strip().splitlines()[-1])
    assert [d["district"] for d in detail["districts"]] == ["633"] and detail["facilities"] == []

    past = runner.invoke(main, ["readiness", "--history", "--district", "633", "--json"])
    assert past.exit_code == 0
    runs = json.loads(past.stdout.strip().splitlines()[-1])["history"]
    assert len(runs) >= 2 and runs[0]["status"] == "unknown"

    assert runner.invoke(main, ["readiness", "--district", "Ba Đình"]).exit_code == 2
    assert runner.invoke(main, ["readiness", "--at", "yesterday-ish"]).exit_code == 2


def test_deadlines_board_extend_and_watch(runner, prefect_harness, monkeypatch):
    import socket

    from campaign.resources import reset_resources

    with socket.socket() as s:   # a port nobody listens on: the mail server is down
        s.bind(("127.0.0.1", 0))
        monkeypatch.setenv("CAMPAIGN_SMTP_PORT", str(s.getsockname()[1]))
    reset_resources()
    board = runner.invoke(main, ["deadlines", "--at", "2021-07-29T01:00", "--json"])
    assert board.exit_code == 0, board.output
    summary = json.loads(board.stdout.strip().splitlines()[-1])
    mine = {(d["deadline"], d["party"]): d for d in summary["deliverables"]}
    assert mine[("district_preparation", "633")]["state"] == "overdue"
    assert summary["escalations_sent"] == []            # the board sends nothing

    moved = runner.invoke(main, ["deadlines", "extend", "district_preparation", "--party", "chu se",
                                 "--to", "2021-07-30T00:00", "--reason", "mất điện", "--by", "coordinator"])
    assert moved.exit_code == 0, moved.output
    after = json.loads(runner.invoke(main, ["deadlines", "--at", "2021-07-29T01:00", "--json"]).stdout.strip()
                       .splitlines()[-1])
    mine = {(d["deadline"], d["party"]): d for d in after["deliverables"]}
    assert mine[("district_preparation", "633")]["state"] == "due"
    assert mine[("district_preparation", "633")]["extension_reason"] == "mất điện"
    assert mine[("district_preparation", "622")]["state"] == "overdue"

    watched = runner.invoke(main, ["watch", "--at", "2021-07-28T16:00", "--json"])
    assert watched.exit_code == 0, watched.output
    result = json.loads(watched.stdout.strip().splitlines()[-1])
    # 17 districts x 2 reminders, but 633's preparation deadline moved: its reminder is now 29/7 04:00
    assert len(result["written_now"]) == 33
    assert ("district_preparation", "633") not in {(w["deadline"], w["party"]) for w in result["written_now"]}
    # no mail server in this test: every send fails and waits for its retry
    assert result["delivery"]["sent"] == 0 and result["delivery"]["failed"] == 33

    assert runner.invoke(main, ["deadlines", "extend", "nope", "--party", "633", "--to", "2021-07-30",
                                "--reason", "x"]).exit_code == 2
    assert runner.invoke(main, ["deadlines", "extend", "doh_central_report", "--party", "633", "--to",
                                "2021-07-30", "--reason", "x"]).exit_code == 2
    assert runner.invoke(main, ["deadlines", "--at", "not a time"]).exit_code == 2


def test_report_levels_of_the_command_line_are_the_database_s():
    """`--level` accepts exactly the levels a report record may hold, in the order the help shows."""
    from campaign.store.models import REPORT_LEVELS
    from faces.cli.report import LEVELS

    assert tuple(LEVELS) == REPORT_LEVELS
