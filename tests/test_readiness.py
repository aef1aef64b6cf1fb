"""Readiness on small provinces whose answer is known by hand (pure: frames in, frames out)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from campaign.config import load_campaign
from campaign.readiness.present import render_text, to_json
from campaign.readiness.rules import ReadinessInputs, ReadinessRules, assess
from campaign.readiness.status import NOT_READY, READY, UNKNOWN, WARNINGS, worst

TODAY = dt.date(2021, 7, 28)
RECEIVED = dt.datetime(2021, 7, 27, 3, 0, tzinfo=dt.UTC)   # 27/7 10:00 in Gia Lai
ROLES = ["reception", "screening", "vaccinator", "recorder", "observation"]


@pytest.fixture(scope="module")
def rules() -> ReadinessRules:
    return ReadinessRules.from_config(load_campaign())


class Province:
    """A province under construction: rows per kind, and the submissions behind them."""

    def __init__(self, *districts: str) -> None:
        self.districts = list(districts)
        self.rows: dict[str, list[dict]] = {k: [] for k in
                                            ("facilities", "infrastructure", "training", "staff", "communication")}
        self.subs: list[dict] = []

    def submit(self, district: str, kind: str, rows: list[dict], *, facility: str | None = None,
               received: dt.datetime = RECEIVED) -> int:
        sid = 1 + max((x["submission_id"] for x in self.subs), default=0)
        # a snapshot supersedes the current one of the same district, kind and facility scope (as intake does)
        old = {x["submission_id"] for x in self.subs
               if (x["district"], x["kind"], x["facility_scope"]) == (district, kind, facility)}
        self.subs = [x for x in self.subs if x["submission_id"] not in old]
        self.rows[kind] = [r for r in self.rows[kind] if r["submission_id"] not in old]
        self.subs.append({"submission_id": sid, "district": district, "kind": kind, "facility_scope": facility,
                          "version": 1, "received_at": received})
        for r in rows:
            self.rows[kind].append({"district": district, "submission_id": sid, "received_at": received, **r})
        return sid

    def facility(self, district: str, code: str, tables: int = 1) -> dict:
        return {"facility_code": code, "facility_name": f"Trạm y tế {code}", "vaccination_tables": tables}

    def inputs(self) -> ReadinessInputs:
        frames = {k: pd.DataFrame(v) if v else pd.DataFrame(columns=["district", "submission_id", "received_at"])
                  for k, v in self.rows.items()}
        return ReadinessInputs(districts=self.districts, submissions=pd.DataFrame(
            self.subs, columns=["submission_id", "district", "kind", "facility_scope", "version", "received_at"]),
            **frames)


def infra(code: str, computers: int = 1, qr: int = 1, printers: int = 1, internet: str = "yes") -> dict:
    return {"facility_code": code, "computers_available": computers, "qr_scanners_available": qr,
            "printers_available": printers, "internet_available": internet, "computers_needed": None}


def trained(code: str, name: str, role: str, *, completed: str = "yes", date: dt.date = dt.date(2021, 7, 26),
            id_number: str | None = None, staff_type: str = "health_staff", phone: str | None = None) -> dict:
    return {"full_name": name, "staff_type": staff_type, "facility_code": code, "role_trained": role,
            "training_date": date, "completed": completed, "id_number": id_number, "phone": phone}


def member(code: str, name: str, role: str, *, team: int = 1, day: dt.date = dt.date(2021, 7, 29),
           part: str = "morning", updated: dt.date | None = dt.date(2021, 7, 28), id_number: str | None = None,
           phone: str | None = None) -> dict:
    return {"facility_code": code, "session_date": day, "session_part": part, "team_no": team, "full_name": name,
            "role": role, "staff_type": "health_staff", "phone": phone, "id_number": id_number, "updated_on": updated}


def full_team(code: str, prefix: str, **kw) -> list[dict]:
    return [member(code, f"{prefix} {role}", role, **kw) for role in ROLES]


def full_training(code: str, prefix: str) -> list[dict]:
    return [trained(code, f"{prefix} {role}", role) for role in ROLES]


def communication_done(*, day: dt.date = dt.date(2021, 7, 27)) -> list[dict]:
    """The directive's three messages on the grassroots information system and in the press."""
    return [{"activity": "Phát loa", "channel": "loudspeaker", "message": "both", "activity_date": day},
            {"activity": "Bản tin đài xã", "channel": "commune_radio", "message": "follow_news", "activity_date": day},
            {"activity": "Đăng Báo Gia Lai", "channel": "press", "message": "certificate_lookup", "activity_date": day}]


def ready_district(p: Province, d: str, codes: list[str], tables: int = 1) -> None:
    p.submit(d, "facilities", [p.facility(d, c, tables) for c in codes])
    p.submit(d, "infrastructure", [infra(c, computers=tables, qr=tables) for c in codes])
    p.submit(d, "training", [t for c in codes for t in full_training(c, f"NV {c}")])
    p.submit(d, "staff", [m for c in codes for m in full_team(c, f"NV {c}")])
    p.submit(d, "communication", communication_done())


def status_of(result, code: str) -> str:
    f = result.facilities.set_index("facility_code")
    return f.at[code, "status"]


def gaps_of(result, code: str | None, district: str = "622") -> set[tuple[str, int, str]]:
    g = result.gaps
    mine = g[(g["district"] == district) & (g["facility"].isna() if code is None else g["facility"] == code)]
    return {(r.item, r.missing, r.severity) for r in mine.itertuples()}


# --- roll-ups --------------------------------------------------------------------------------------------


def test_worst_follows_the_design_precedence() -> None:
    assert worst([READY, WARNINGS]) == WARNINGS
    assert worst([READY, UNKNOWN, WARNINGS]) == UNKNOWN
    assert worst([UNKNOWN, NOT_READY, READY]) == NOT_READY
    assert worst([]) == UNKNOWN


def test_a_complete_district_is_ready(rules) -> None:
    p = Province("622")
    ready_district(p, "622", ["F1", "F2"])
    r = assess(p.inputs(), rules, today=TODAY)
    assert set(r.facilities["status"]) == {READY}
    assert r.gaps.empty
    d = r.districts.set_index("district").loc["622"]
    assert (d["status"], d["facilities_total"], d["facilities_ready"], d["communication"]) == (READY, 2, 2, READY)
    assert r.province["status"] == READY and r.province["districts_ready"] == 1
    coverage = r.training.set_index(["facility_code", "role"])
    assert coverage.loc[("F1", "vaccinator"), "people"] == 1 and coverage.loc[("F1", "vaccinator"), "trained"] == 1
    s = r.sessions.set_index("facility_code").loc["F1"]
    assert (s["teams"], s["complete_teams"], s["tables"], s["stale_teams"]) == (1, 1, 1, 0)


# --- unknowns --------------------------------------------------------------------------------------------


def test_no_submission_of_a_kind_is_unknown_not_ready(rules) -> None:
    p = Province("622", "623")
    p.submit("622", "facilities", [p.facility("622", "F1")])
    p.submit("622", "training", full_training("F1", "A"))
    p.submit("622", "staff", full_team("F1", "A"))
    p.submit("622", "communication", communication_done())
    r = assess(p.inputs(), rules, today=TODAY)
    f = r.facilities.set_index("facility_code").loc["F1"]
    assert (f["infrastructure"], f["training"], f["teams"], f["status"]) == (UNKNOWN, READY, READY, UNKNOWN)
    d = r.districts.set_index("district")
    assert d.at["622", "status"] == UNKNOWN
    # a district with nothing at all: unknown, no facilities, communication unknown
    assert (d.at["623", "status"], d.at["623", "facilities_total"], d.at["623", "communication"]) == (UNKNOWN, 0, UNKNOWN)
    assert r.province["status"] == UNKNOWN


def test_a_facility_missing_from_the_infrastructure_file_is_unknown(rules) -> None:
    p = Province("622")
    ready_district(p, "622", ["F1"])
    p.submit("622", "facilities", [p.facility("622", "F1"), p.facility("622", "F2")])   # a newer list
    r = assess(p.inputs(), rules, today=TODAY)
    f2 = r.facilities.set_index("facility_code").loc["F2"]
    assert f2["infrastructure"] == UNKNOWN and f2["teams"] == UNKNOWN
    assert f2["training"] == NOT_READY   # the district's training list has nobody for F2: a finding, not unknown
    assert ("trained:vaccinator", 1, "blocking") in gaps_of(r, "F2")


# --- infrastructure ------------------------------------------------------------------------------------------


def test_infrastructure_need_comes_from_the_number_of_tables(rules) -> None:
    p = Province("622")
    ready_district(p, "622", ["F1"], tables=3)
    p.submit("622", "infrastructure", [infra("F1", computers=1, qr=0, printers=0, internet="no")])
    r = assess(p.inputs(), rules, today=TODAY)
    assert status_of(r, "F1") == NOT_READY
    infra_gaps = {g for g in gaps_of(r, "F1") if g[0] in ("computers", "qr_scanners", "printers", "internet_lines")}
    # QR scanners are "(nếu có)" in directive II.1: missing ones are a warning, never blocking
    assert infra_gaps == {("computers", 2, "blocking"), ("qr_scanners", 3, "warning"), ("printers", 1, "blocking"),
                          ("internet_lines", 1, "blocking")}


def test_a_fully_equipped_facility_without_qr_scanners_is_ready_with_warnings(rules) -> None:
    """Directive II.1: "Có phương án trang bị hạ tầng kỹ thuật phục vụ tiêm chủng, bao gồm: Máy tính, đường
    truyền Internet, máy in, máy quét QR (nếu có)." QR scanners only where there are any: not a requirement."""
    assert rules.infrastructure_levels["qr_scanners"] == "if_available"
    assert {rules.infrastructure_levels[k] for k in ("computers", "printers", "internet_lines")} == {"required"}
    p = Province("622")
    ready_district(p, "622", ["F1"])
    p.submit("622", "infrastructure", [infra("F1", qr=0)])
    r = assess(p.inputs(), rules, today=TODAY)
    f = r.facilities.set_index("facility_code").loc["F1"]
    assert (f["infrastructure"], f["status"]) == (WARNINGS, WARNINGS)
    assert gaps_of(r, "F1") == {("qr_scanners", 1, "warning")}
    assert r.districts.set_index("district").at["622", "status"] == WARNINGS


def test_an_if_available_item_never_hides_a_required_one(rules) -> None:
    """Directive II.1: "Máy tính, đường truyền Internet, máy in" are required; "máy quét QR (nếu có)" is not."""
    p = Province("622")
    ready_district(p, "622", ["F1"])
    p.submit("622", "infrastructure", [infra("F1", qr=0, printers=0)])
    r = assess(p.inputs(), rules, today=TODAY)
    assert status_of(r, "F1") == NOT_READY
    assert gaps_of(r, "F1") == {("qr_scanners", 1, "warning"), ("printers", 1, "blocking")}


def test_requirement_level_is_validated(tmp_path) -> None:
    import yaml

    from campaign.config_files import DEFAULT_CAMPAIGN_FILE, ConfigError

    data = yaml.safe_load(DEFAULT_CAMPAIGN_FILE.read_text(encoding="utf-8"))
    data["infrastructure_rules"]["qr_scanners"]["level"] = "optional"
    bad = tmp_path / "campaign.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match="infrastructure_rules.qr_scanners.level"):
        load_campaign(bad)


def test_a_facility_with_zero_tables_is_not_ready(rules) -> None:
    p = Province("622")
    ready_district(p, "622", ["F1"], tables=0)
    r = assess(p.inputs(), rules, today=TODAY)
    f = r.facilities.set_index("facility_code").loc["F1"]
    assert f["infrastructure"] == NOT_READY and f["status"] == NOT_READY
    assert ("vaccination_tables", 1, "blocking") in gaps_of(r, "F1")
    # per-site items are still needed, per-table ones are not
    assert not {g for g in gaps_of(r, "F1") if g[0] in ("computers", "qr_scanners")}


# --- training -----------------------------------------------------------------------------------------


def test_training_short_of_one_table_blocks_short_of_all_tables_warns(rules) -> None:
    p = Province("622")
    ready_district(p, "622", ["F1"], tables=2)
    # second team for the second table, fully trained except that only one vaccinator is trained
    p.submit("622", "training", full_training("F1", "NV F1") + [trained("F1", f"B {r}", r) for r in ROLES if r != "vaccinator"])
    r = assess(p.inputs(), rules, today=TODAY)
    assert ("trained:vaccinator", 1, "warning") in gaps_of(r, "F1")
    f = r.facilities.set_index("facility_code").loc["F1"]
    assert f["training"] == WARNINGS

    p.submit("622", "training", [t for t in full_training("F1", "NV F1") if t["role_trained"] != "recorder"])
    r = assess(p.inputs(), rules, today=TODAY)
    assert ("trained:recorder", 1, "blocking") in gaps_of(r, "F1")
    assert status_of(r, "F1") == NOT_READY


def test_a_missed_session_made_up_later_is_not_a_gap(rules) -> None:
    p = Province("622")
    ready_district(p, "622", ["F1"])
    p.submit("622", "training", full_training("F1", "NV F1") + [
        trained("F1", "NV F1 recorder", "recorder", completed="no", date=dt.date(2021, 7, 20))])
    r = assess(p.inputs(), rules, today=TODAY)
    assert "training_not_completed" not in {g[0] for g in gaps_of(r, "F1")}
    assert status_of(r, "F1") == READY


def test_training_still_to_be_held_and_not_completed(rules) -> None:
    p = Province("622")
    ready_district(p, "622", ["F1"])
    p.submit("622", "training", full_training("F1", "NV F1") + [
        trained("F1", "Mới 1", "recorder", completed="no", date=dt.date(2021, 7, 30)),
        trained("F1", "Mới 2", "recorder", completed="no", date=dt.date(2021, 7, 30)),
        trained("F1", "Vắng", "screening", completed="no", date=dt.date(2021, 7, 20)),
    ])
    r = assess(p.inputs(), rules, today=TODAY)
    hold = r.training_to_hold
    assert hold[["facility_code", "training_date", "people"]].values.tolist() == [["F1", dt.date(2021, 7, 30), 2]]
    assert ("training_not_completed", 1, "warning") in gaps_of(r, "F1")
    assert status_of(r, "F1") == WARNINGS


# --- teams ---------------------------------------------------------------------------------------------


def test_an_untrained_team_member_leaves_the_role_uncovered(rules) -> None:
    p = Province("622")
    ready_district(p, "622", ["F1"])
    team = full_team("F1", "NV F1")
    team[2] = member("F1", "Người Mới", "vaccinator")   # nobody of that name was trained
    p.submit("622", "staff", team)
    r = assess(p.inputs(), rules, today=TODAY)
    gaps = gaps_of(r, "F1")
    assert ("untrained_member", 1, "warning") in gaps
    assert ("team:2021-07-29:morning", 1, "blocking") in gaps
    detail = r.gaps[r.gaps["item"] == "team:2021-07-29:morning"]["detail"].iloc[0]
    assert "vaccinator thiếu 1" in detail
    assert status_of(r, "F1") == NOT_READY
    s = r.sessions.set_index("facility_code").loc["F1"]
    assert (s["teams"], s["complete_teams"]) == (1, 0)


def test_a_trained_person_can_take_another_role_of_the_team(rules) -> None:
    p = Province("622")
    ready_district(p, "622", ["F1"])
    team = full_team("F1", "NV F1")
    team[2] = member("F1", "NV F1 recorder", "vaccinator")      # teams rotate roles between sessions
    team[3] = member("F1", "NV F1 vaccinator", "recorder")
    p.submit("622", "staff", team)
    r = assess(p.inputs(), rules, today=TODAY)
    assert status_of(r, "F1") == READY
    coverage = r.training.set_index(["facility_code", "role"])
    assert coverage.loc[("F1", "vaccinator"), "people"] == 2   # one trained as vaccinator, one rostered there


def test_people_are_matched_by_id_before_name(rules) -> None:
    p = Province("622")
    ready_district(p, "622", ["F1"])
    p.submit("622", "training", [trained("F1", f"NV F1 {r}", r) for r in ROLES if r != "vaccinator"]
             + [trained("F9", "Nguyen Van A", "vaccinator", id_number="079123456789")])   # trained elsewhere
    team = full_team("F1", "NV F1")
    team[2] = member("F1", "Nguyễn Văn A.", "vaccinator", id_number="079123456789")
    p.submit("622", "staff", team)
    r = assess(p.inputs(), rules, today=TODAY)
    assert not any(g[0].startswith("team:") for g in gaps_of(r, "F1"))
    assert r.sessions.set_index("facility_code").at["F1", "complete_teams"] == 1


def test_a_double_booked_person_blocks_both_facilities(rules) -> None:
    p = Province("622")
    ready_district(p, "622", ["F1", "F2"])
    staff = full_team("F1", "NV F1") + full_team("F2", "NV F2")
    staff[0]["id_number"] = "079111111111"
    staff[5]["id_number"] = "079111111111"    # the same person on reception at F1 and at F2, same morning
    p.submit("622", "staff", staff)
    r = assess(p.inputs(), rules, today=TODAY)
    for code in ("F1", "F2"):
        assert ("double_booked", 1, "blocking") in gaps_of(r, code)
        assert status_of(r, code) == NOT_READY
        assert r.sessions.set_index("facility_code").at[code, "complete_teams"] == 0
    # the afternoon is another session: no clash
    staff[5]["session_part"] = "afternoon"
    p.submit("622", "staff", staff)
    r = assess(p.inputs(), rules, today=TODAY)
    assert not any(g[0] == "double_booked" for g in gaps_of(r, "F1"))


def test_same_name_twice_in_one_session_of_a_facility_is_double_booked(rules) -> None:
    p = Province("622")
    ready_district(p, "622", ["F1"], tables=2)
    p.submit("622", "infrastructure", [infra("F1", computers=2, qr=2)])
    staff = full_team("F1", "NV F1") + full_team("F1", "NV F1", team=2)
    p.submit("622", "staff", staff)
    r = assess(p.inputs(), rules, today=TODAY)
    assert ("double_booked", 5, "blocking") in gaps_of(r, "F1")


def test_fewer_complete_teams_than_tables_warns(rules) -> None:
    p = Province("622")
    ready_district(p, "622", ["F1"], tables=2)
    p.submit("622", "training", full_training("F1", "NV F1") + full_training("F1", "B"))
    r = assess(p.inputs(), rules, today=TODAY)
    assert ("team:2021-07-29:morning", 1, "warning") in gaps_of(r, "F1")
    assert status_of(r, "F1") == WARNINGS


def test_a_team_not_updated_before_an_imminent_session_is_flagged(rules) -> None:
    p = Province("622")
    ready_district(p, "622", ["F1"])
    p.submit("622", "staff", full_team("F1", "NV F1", updated=dt.date(2021, 7, 20))
             + full_team("F1", "NV F1", day=dt.date(2021, 8, 10), updated=dt.date(2021, 7, 20)))
    r = assess(p.inputs(), rules, today=TODAY)
    gaps = gaps_of(r, "F1")
    assert ("team_not_updated:2021-07-29:morning", 1, "warning") in gaps
    assert not any(g[0].startswith("team_not_updated:2021-08-10") for g in gaps)   # far ahead: not yet judged
    assert status_of(r, "F1") == WARNINGS


def test_the_upload_date_stands_for_a_missing_update_date(rules) -> None:
    p = Province("622")
    ready_district(p, "622", ["F1"])
    p.submit("622", "staff", full_team("F1", "NV F1", updated=None), received=RECEIVED)   # received 27/7
    r = assess(p.inputs(), rules, today=TODAY)
    assert status_of(r, "F1") == WARNINGS   # 29/7 session, updated 27/7: two days > one
    p.submit("622", "staff", full_team("F1", "NV F1", updated=None),
             received=dt.datetime(2021, 7, 28, 1, 0, tzinfo=dt.UTC))
    r = assess(p.inputs(), rules, today=TODAY)
    assert status_of(r, "F1") == READY


def test_past_sessions_only_is_a_warning(rules) -> None:
    p = Province("622")
    ready_district(p, "622", ["F1"])
    p.submit("622", "staff", full_team("F1", "NV F1", day=dt.date(2021, 7, 20)))
    r = assess(p.inputs(), rules, today=TODAY)
    assert ("no_upcoming_session", 1, "warning") in gaps_of(r, "F1")
    assert r.sessions.empty


def test_a_facility_upload_newer_than_the_district_file_wins_for_that_facility(rules) -> None:
    p = Province("622")
    ready_district(p, "622", ["F1", "F2"])
    broken = full_team("F2", "NV F2")[:4]   # no observation
    p.submit("622", "staff", broken, facility="F2", received=RECEIVED + dt.timedelta(hours=2))
    r = assess(p.inputs(), rules, today=TODAY)
    assert status_of(r, "F1") == READY and status_of(r, "F2") == NOT_READY


# --- communication ---------------------------------------------------------------------------------------


def test_press_and_loudspeakers_with_the_three_messages_is_ready(rules) -> None:
    """Directive section 3 (districts): "Chỉ đạo hệ thống thông tin cơ sở hoạt động trên địa bàn tỉnh tăng
    cường tuyên truyền, hướng dẫn người dân, tổ chức thuộc địa bàn quản lý có nhu cầu đăng ký tiêm chủng sử
    dụng chức năng “Đăng ký tiêm/Đăng ký tiêm chủng”; tuyên truyền để người dân theo dõi các thông tin về
    tiêm chủng, tra cứu chứng nhận tiêm chủng Covid-19 qua cổng https://tiemchungcovid19.gov.vn và ứng dụng
    “Sổ sức khỏe điện tử”"; sections 1-2 name "cơ quan thông tấn báo chí" too. No social media needed."""
    day = dt.date(2021, 7, 27)
    p = Province("622")
    ready_district(p, "622", ["F1"])
    p.submit("622", "communication", [
        {"activity": "Phát loa", "channel": "loudspeaker", "message": "how_to_register", "activity_date": day},
        {"activity": "Phát loa", "channel": "loudspeaker", "message": "follow_news", "activity_date": day - dt.timedelta(1)},
        {"activity": "Báo Gia Lai", "channel": "press", "message": "certificate_lookup", "activity_date": day}])
    r = assess(p.inputs(), rules, today=TODAY)
    d = r.districts.set_index("district").loc["622"]
    assert (d["communication"], d["status"]) == (READY, READY)
    assert gaps_of(r, None) == set()
    assert r.communication.set_index("message")["channel"].to_dict() == {
        "how_to_register": "loudspeaker", "follow_news": "loudspeaker", "certificate_lookup": "press"}


def test_the_three_messages_are_required(rules) -> None:
    """Directive II.1: "Tuyên truyền cho người dân, tổ chức thực hiện đăng ký tiêm, theo dõi các thông tin
    về tiêm chủng và tra cứu chứng nhận tiêm chủng Covid-19 qua cổng https://tiemchungcovid19.gov.vn và ứng
    dụng “Sổ sức khỏe điện tử”": following the news is the third message; "all_three" carries them all."""
    day = dt.date(2021, 7, 27)
    p = Province("622")
    ready_district(p, "622", ["F1"])
    done = [{"activity": "Phát loa", "channel": "loudspeaker", "message": "both", "activity_date": day},
            {"activity": "Đài xã", "channel": "commune_radio", "message": "follow_news",
             "activity_date": dt.date(2021, 7, 30)}]   # planned, not yet out
    p.submit("622", "communication", done)
    r = assess(p.inputs(), rules, today=TODAY)
    assert gaps_of(r, None) == {("communication:follow_news@grassroots+press", 1, "blocking")}
    d = r.districts.set_index("district").loc["622"]
    assert d["communication"] == NOT_READY and d["status"] == NOT_READY
    assert d["facilities_ready"] == 1   # the facility itself is ready
    cov = r.communication.set_index("message")["done"]
    assert cov["how_to_register"] and cov["certificate_lookup"] and not cov["follow_news"]
    p.submit("622", "communication", [{"activity": "Phát loa", "channel": "commune_radio", "message": "all_three",
                                       "activity_date": day}])
    assert assess(p.inputs(), rules, today=TODAY).districts.set_index("district").at["622", "communication"] == READY


def test_the_grassroots_system_must_be_used_other_channels_do_not_count(rules) -> None:
    """Directive section 3: "Chỉ đạo hệ thống thông tin cơ sở hoạt động trên địa bàn tỉnh tăng cường tuyên
    truyền": a district directs the grassroots system (loudspeakers, commune radio); the press
    ("cơ quan thông tấn báo chí", sections 1-2) counts too; social media, SMS... are allowed, not required."""
    day = dt.date(2021, 7, 27)
    p = Province("622")
    ready_district(p, "622", ["F1"])
    p.submit("622", "communication", [
        {"activity": "Báo Gia Lai", "channel": "press", "message": "all_three", "activity_date": day},
        {"activity": "Zalo", "channel": "social_media", "message": "all_three", "activity_date": day}])
    r = assess(p.inputs(), rules, today=TODAY)
    assert gaps_of(r, None) == {("communication:channel@grassroots", 1, "blocking")}
    p.submit("622", "communication", [
        {"activity": "Zalo", "channel": "social_media", "message": "all_three", "activity_date": day},
        {"activity": "Tờ rơi", "channel": "leaflet", "message": "all_three", "activity_date": day}])
    r = assess(p.inputs(), rules, today=TODAY)
    assert {g[0] for g in gaps_of(r, None)} == {"communication:how_to_register@grassroots+press",
                                                "communication:follow_news@grassroots+press",
                                                "communication:certificate_lookup@grassroots+press",
                                                "communication:channel@grassroots"}


# --- the summary ------------------------------------------------------------------------------------------


def test_json_and_text_summaries(rules) -> None:
    p = Province("622", "623")
    ready_district(p, "622", ["F1"])
    ready_district(p, "623", ["G1"], tables=0)
    r = assess(p.inputs(), rules, today=TODAY)
    js = to_json(r, names={"622": "Pleiku"})
    assert js["province"]["status"] == NOT_READY and js["province"]["facilities_ready"] == 1
    by = {d["district"]: d for d in js["districts"]}
    assert by["622"]["status"] == READY and by["622"]["name"] == "Pleiku" and by["622"]["gaps"] == []
    assert {"facility": "G1", "item": "vaccination_tables", "missing": 1, "owner": "facility",
            "detail": "cơ sở không có bàn tiêm nào"} in by["623"]["gaps"]
    one = to_json(r, district="623")
    assert [d["district"] for d in one["districts"]] == ["623"]
    assert one["facilities"][0]["facility_code"] == "G1" and one["facilities"][0]["status"] == NOT_READY
    text = render_text(one)
    assert "623" in text and "vaccination_tables" in text


def test_viettel_is_named_beside_a_districts_training_gaps(rules) -> None:
    """Directive, section 4: "Viettel Gia Lai: Phối hợp với Sở Y tế, Trung tâm Y tế tập huấn, hướng dẫn các cơ
    sở tiêm chủng để lập kế hoạch và triển khai đào tạo, tập huấn cho các cá nhân tham gia sử dụng Nền tảng"."""
    assert rules.partners == {"training": ("Viettel Gia Lai",)}
    p = Province("622", "623")
    ready_district(p, "622", ["F1"])
    ready_district(p, "623", ["F2"])
    p.submit("623", "training", [])                  # 623's training list is emptied: training gaps
    summary = to_json(assess(p.inputs(), rules, today=TODAY))
    rows = {d["district"]: d for d in summary["districts"]}
    assert rows["622"]["partners"] == rows["623"]["partners"] == {"training": ["Viettel Gia Lai"]}
    text = render_text(summary).splitlines()
    assert any(line.strip().startswith("623") and "training with Viettel Gia Lai" in line for line in text)
    assert not any(line.strip().startswith("622") and "Viettel" in line for line in text)


def test_a_person_trained_twice_for_a_role_counts_once_namesakes_with_other_ids_twice(rules) -> None:
    # by: province (the training lists count people, not rows: a repeated line or a second session of the
    # same person adds nobody; two people of the same name with different ID numbers are two people)
    p = Province("622")
    ready_district(p, "622", ["F1", "F2"], tables=2)
    per_table = rules.roles["vaccinator"]
    base = full_training("F1", "NV F1") + full_training("F2", "NV F2")
    again = [trained("F1", "NV F1 vaccinator", "vaccinator", date=dt.date(2021, 7, 27))] * 2
    p.submit("622", "training", base + again)
    r = assess(p.inputs(), rules, today=TODAY)
    assert ("trained:vaccinator", per_table * 2 - 1, "warning") in gaps_of(r, "F1")
    # F2's vaccinators never count for F1
    p.submit("622", "training", base + again + [trained("F2", "B vaccinator", "vaccinator")])
    r = assess(p.inputs(), rules, today=TODAY)
    assert ("trained:vaccinator", per_table * 2 - 1, "warning") in gaps_of(r, "F1")
    namesakes = [trained("F1", "Nguyễn Văn An", "vaccinator", id_number=n) for n in ("064000000001", "064000000002")]
    p.submit("622", "training", [t for t in base if t["full_name"] != "NV F1 vaccinator"] + namesakes)
    r = assess(p.inputs(), rules, today=TODAY)
    assert "trained:vaccinator" not in {g[0] for g in gaps_of(r, "F1")}
