"""Record linkage of the master list (campaign.master_list.dedupe): the hard cases of issue 5, pinned.

The model is trained once per session, unsupervised, on a generated province (20,000 people with the
generator's own within- and cross-district duplicates) plus the hand-made rows below; each case then
asks whether its rows end up as one person or not. The rules outside the model, the reviewers'
decisions, person ids and eligibility are tested on tiny frames.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from campaign.master_list.dedupe import model as linkage
from campaign.master_list.dedupe.clusters import (
    Thresholds,
    active_decisions,
    assign_person_ids,
    cluster,
    pair_key,
)
from campaign.master_list.dedupe.eligibility import PriorityRules, age_on, people
from campaign.master_list.dedupe.records import build_records
from tests.dedupe_support import row, with_cases

THRESHOLDS = Thresholds(match=0.95, review=0.5)

# Hand-made rows: same `truth` = same person. Birth dates are chosen apart from each other.
CASES = [
    # Jarai name, CMND in one district and CCCD in another, apostrophe and diacritics dropped in one list.
    row("jarai", "Rơ Châm H'Nhiăl", "1984-03-17", "female", district="627", commune="23731", phone="0351112233",
        id_number="231234567"),
    row("jarai", "Ro Cham H Nhial", "1984-03-17", "female", district="633", commune="23962", phone="0351112233",
        id_number="064184001234"),
    # Bahnar name listed twice in a district, once without diacritics and with another phone.
    row("bahnar", "Đinh Văn Byưh", "1979-09-02", "male", district="634", commune="23998", phone="0362223344",
        id_number="064079004321"),
    row("bahnar", "Dinh Van Byuh", "1979-09-02", "male", district="634", commune="23998", phone="0983334455"),
    # CMND vs CCCD across districts, a Kinh name, the phone kept.
    row("cmnd_cccd", "Phạm Quốc Hưng", "1968-11-23", "male", district="622", commune="23566", phone="0912345670",
        id_number="230987654", workplace="Điện lực Pleiku", priority=7),
    row("cmnd_cccd", "Pham Quoc Hung", "1968-11-23", "male", district="639", commune="23980", phone="0912345670",
        id_number="064068112233", workplace="Điện lực Pleiku", priority=7),
    # Two styles of tone placement (Hòa / Hoà) are one name: the same person.
    row("tone", "Lê Văn Hòa", "1990-06-14", "male", district="622", commune="23566", phone="0934445566"),
    row("tone", "Lê Văn Hoà", "1990-06-14", "male", district="622", commune="23566", phone="0934445566"),
    # Collision after folding: Hòa and Hoa, both typed with diacritics, two women of the same birth date.
    row("fold_a", "Trần Thị Hòa", "1975-02-27", "female", district="627", commune="23731", phone="0945556677"),
    row("fold_b", "Trần Thị Hoa", "1975-02-27", "female", district="633", commune="23962", phone="0356667788"),
    # Twins: same birth date, family, commune and phone (the mother's), different given names.
    row("twin_a", "Nguyễn Văn An", "2001-08-09", "male", district="622", commune="23566", phone="0967778899"),
    row("twin_b", "Nguyễn Văn Bình", "2001-08-09", "male", district="622", commune="23566", phone="0967778899"),
    row("twin_c", "Siu A Thuận", "1999-12-01", "male", district="627", commune="23731", phone="0388889900"),
    row("twin_d", "Siu A Thiện", "1999-12-01", "male", district="627", commune="23731", phone="0388889900"),
    # Excel damage: a CCCD that lost its leading zero was restored by intake (the same card again).
    row("restored", "Võ Thị Mai", "1986-04-30", "female", district="622", commune="23566", phone="0971112223",
        id_number="064186556677"),
    row("restored", "Vo Thi Mai", "1986-04-30", "female", district="634", commune="23998", phone="0389990001",
        id_number="064186556677"),
    # Everything alike but two different valid CCCDs: never one person.
    row("cccd_a", "Hoàng Minh Tuấn", "1993-07-21", "male", district="622", commune="23566", phone="0901212121",
        id_number="064093111111"),
    row("cccd_b", "Hoàng Minh Tuấn", "1993-07-21", "male", district="622", commune="23566", phone="0901212121",
        id_number="064093222222"),
    # Placeholder 01/01 (year only): not evidence; two namesakes in two districts stay apart.
    row("year_a", "Ksor Nay", "1960-01-01", "male", district="627", commune="23731", phone="0391231231"),
    row("year_b", "Ksor Nay", "1960-01-01", "male", district="633", commune="23962", phone="0861231231"),
]


@pytest.fixture(scope="module")
def linked():
    rows = with_cases(CASES)
    records = build_records(rows[[c for c in rows.columns if c != "truth"]])
    model = linkage.train(records)
    pairs = linkage.score(records, model, min_probability=THRESHOLDS.review)
    result = cluster(records, pairs, active_decisions(pd.DataFrame()), THRESHOLDS)
    return rows, records, model, pairs, result


def _labels_of(linked, truth: str) -> set[int]:
    rows, _records, _model, _pairs, result = linked
    return set(result.cluster[rows.index[rows["truth"] == truth]])


def _reviewed(linked, a: str, b: str) -> bool:
    rows, _records, _model, _pairs, result = linked
    ids_a, ids_b = set(rows.index[rows["truth"] == a]), set(rows.index[rows["truth"] == b])
    return any((a_ in ids_a and b_ in ids_b) or (a_ in ids_b and b_ in ids_a)
               for a_, b_ in zip(result.review["record_id_l"], result.review["record_id_r"], strict=True))


@pytest.mark.parametrize("truth", ["jarai", "bahnar", "cmnd_cccd", "tone", "restored"])
def test_the_same_person_written_differently_is_merged(linked, truth) -> None:
    assert len(_labels_of(linked, truth)) == 1


@pytest.mark.parametrize(("a", "b"), [("fold_a", "fold_b"), ("twin_a", "twin_b"), ("twin_c", "twin_d"),
                                      ("cccd_a", "cccd_b"), ("year_a", "year_b")])
def test_different_people_are_never_merged(linked, a, b) -> None:
    assert _labels_of(linked, a).isdisjoint(_labels_of(linked, b))


def test_two_valid_cccds_are_not_even_a_question(linked) -> None:
    assert not _reviewed(linked, "cccd_a", "cccd_b")


def test_the_generated_province_is_linked_with_high_precision_and_recall(linked) -> None:
    """The background's own planted duplicates (within and across districts), pairwise."""
    rows, _records, _model, _pairs, result = linked
    bg = rows["truth"].str.startswith("B").to_numpy()
    truth = rows["truth"].to_numpy()[bg]
    labels = result.cluster[bg]
    frame = pd.DataFrame({"truth": truth, "label": labels})

    def pairs(col: str) -> set[tuple[int, int]]:
        out = set()
        for _, idx in frame.groupby(col).indices.items():
            idx = sorted(idx)
            out.update((a, b) for i, a in enumerate(idx) for b in idx[i + 1:])
        return out

    true_pairs, found = pairs("truth"), pairs("label")
    assert len(true_pairs) > 100
    precision = len(true_pairs & found) / len(found)
    recall = len(true_pairs & found) / len(true_pairs)
    assert precision >= 0.995 and recall >= 0.95, (precision, recall)
    assert len(result.review) * 2 < 0.01 * len(rows)


def test_a_stored_model_scores_the_same_as_the_fresh_one(linked) -> None:
    import json

    _rows, records, model, pairs, _result = linked
    again = linkage.score(records, json.loads(json.dumps(model)), min_probability=THRESHOLDS.review)
    assert len(again) == len(pairs)
    assert np.allclose(np.sort(again["match_probability"].to_numpy()), np.sort(pairs["match_probability"].to_numpy()))
    assert linkage.model_is_current(model) and not linkage.model_is_current({**model, "campaign_model_version": "x"})


# ---------------------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------------------


def _tiny(**over) -> pd.DataFrame:
    base = {"submission_id": 1, "sheet": "", "row_number": 2, "district": "622", "full_name": "Nguyễn Văn An",
            "birth_date": dt.date(1980, 5, 6), "sex": "male", "phone": "+84912345678", "id_number": None,
            "insurance_number": None, "commune_code": "23566"}
    return pd.DataFrame([{**base, **over}])


def test_records_fold_names_and_split_the_given_name() -> None:
    r = build_records(_tiny(full_name="Rơ Châm H'Nhiăl")).iloc[0]
    assert (r["name_folded"], r["given_name"], r["other_names"], r["given_marked"]) == \
        ("ro cham hnhial", "hnhial", "ro cham", "hnhiăl")
    ascii_only = build_records(_tiny(full_name="Ro Cham H Nhial")).iloc[0]
    assert ascii_only["given_name"] == "hnhial" and ascii_only["given_marked"] is None


def test_a_placeholder_date_keeps_only_its_year() -> None:
    r = build_records(_tiny(birth_date=dt.date(1960, 1, 1))).iloc[0]
    assert r["birth_date"] is None and r["birth_year"] == 1960
    flagged = build_records(_tiny(birth_date=dt.date(1960, 3, 1)),
                            pd.DataFrame([{"submission_id": 1, "row_number": 2, "code": "dob_year_only"}])).iloc[0]
    assert flagged["birth_date"] is None


def test_identifiers_are_keys_only_when_valid() -> None:
    cccd = build_records(_tiny(id_number="064080001234", insurance_number="DN4646480001234")).iloc[0]
    assert (cccd["cccd"], cccd["cmnd"], cccd["social_insurance"]) == ("064080001234", None, "6480001234")
    cmnd = build_records(_tiny(id_number="230123456", insurance_number="6480001234")).iloc[0]
    assert (cmnd["cccd"], cmnd["cmnd"], cmnd["social_insurance"]) == (None, "230123456", "6480001234")
    doubted = build_records(_tiny(id_number="064080001234"),
                            pd.DataFrame([{"submission_id": 1, "row_number": 2, "code": "cccd_sex_mismatch"}]))
    assert doubted.iloc[0]["cccd"] is None


def test_fingerprints_change_with_content_not_with_position() -> None:
    a = build_records(_tiny())
    moved = build_records(_tiny(submission_id=9, row_number=77))
    other_phone = build_records(_tiny(phone="+84912345679"))
    assert a["fingerprint"][0] == moved["fingerprint"][0] != other_phone["fingerprint"][0]
    assert a["soft_key"][0] == other_phone["soft_key"][0]


# ---------------------------------------------------------------------------------------------------------
# Clustering rules and decisions (tiny frames, no model)
# ---------------------------------------------------------------------------------------------------------


def _records(cccds: list[str | None]) -> pd.DataFrame:
    return pd.DataFrame({"record_id": np.arange(len(cccds)), "cccd": cccds,
                         "fingerprint": [_fp(i) for i in range(len(cccds))],
                         "soft_key": [f"s{i:019d}" for i in range(len(cccds))]})


def _fp(i: int) -> str:
    return f"{i:04d}" + "f" * 16


def _pairs(*edges: tuple[int, int, float, bool]) -> pd.DataFrame:
    return pd.DataFrame(edges, columns=["record_id_l", "record_id_r", "match_probability", "given_disagrees"])


def _decisions(*rows: tuple[int, int, str, bool]) -> pd.DataFrame:
    at = dt.datetime(2021, 7, 28, tzinfo=dt.UTC)
    return pd.DataFrame([{"id": i, "pair_key": pair_key(_fp(a), _fp(b)), "fingerprint_a": _fp(a),
                          "fingerprint_b": _fp(b), "decision": d,
                          "decided_at": at + dt.timedelta(minutes=i), "reversed_at": at if rev else None}
                         for i, (a, b, d, rev) in enumerate(rows)])


def test_a_chain_may_not_join_two_cccds() -> None:
    recs = _records(["064080000001", None, "064080000002"])
    result = cluster(recs, _pairs((0, 1, 0.999, False), (1, 2, 0.998, False)), pd.DataFrame(), THRESHOLDS)
    assert result.cluster[0] == result.cluster[1] != result.cluster[2]
    assert result.refused_pairs == 1
    assert result.review[["record_id_l", "record_id_r"]].values.tolist() == [[1, 2]]
    assert result.review["reason"].tolist() == ["conflict"]


def test_the_band_between_thresholds_goes_to_review_and_a_disagreeing_given_name_is_never_merged() -> None:
    recs = _records([None] * 6)
    result = cluster(recs, _pairs((0, 1, 0.7, False), (2, 3, 0.999, True), (4, 5, 0.3, False)), pd.DataFrame(),
                     THRESHOLDS)
    assert len(set(result.cluster)) == 6
    assert sorted(result.review["reason"]) == ["given_name", "probability"]


def test_decisions_join_separate_and_can_be_reversed() -> None:
    recs = _records([None] * 4)
    pairs = _pairs((0, 1, 0.999, False), (2, 3, 0.7, False))
    decided = active_decisions(_decisions((0, 1, "different", False), (2, 3, "same", False)))
    result = cluster(recs, pairs, decided, THRESHOLDS)
    assert result.cluster[0] != result.cluster[1] and result.cluster[2] == result.cluster[3]
    assert result.review.empty
    # the latest decision that is not reversed applies
    history = _decisions((0, 1, "different", False), (0, 1, "same", True))
    assert active_decisions(history)["decision"].tolist() == ["different"]
    assert active_decisions(_decisions((0, 1, "different", True))).empty
    undone = cluster(recs, pairs, active_decisions(_decisions((0, 1, "different", True))), THRESHOLDS)
    assert undone.cluster[0] == undone.cluster[1]


def test_person_ids_are_stable_through_reruns_merges_and_splits() -> None:
    recs = _records([None] * 4)
    first, remember, nxt = assign_person_ids(recs, np.array([0, 0, 1, 2]), pd.DataFrame(columns=["key", "person_id"]), 1)
    assert list(first) == ["P00000001", "P00000001", "P00000002", "P00000003"] and nxt == 4
    known = remember[["key", "person_id"]]
    again, _, _ = assign_person_ids(recs, np.array([0, 0, 1, 2]), known, nxt)
    assert list(again) == list(first)
    merged, _, _ = assign_person_ids(recs, np.array([0, 0, 0, 1]), known, nxt)  # records 2 joins 0 and 1
    assert merged[2] == "P00000001" and merged[3] == "P00000003"
    split, _, n2 = assign_person_ids(recs, np.array([0, 1, 2, 3]), known, nxt)  # 0 and 1 split apart
    assert split[0] == "P00000001" and split[1] == "P00000004" and n2 == 5
    # a corrected row (new fingerprint) inherits its id through the soft key
    fps = recs["fingerprint"].tolist()
    changed = recs.assign(fingerprint=[*fps[:2], "new" + "0" * 17, fps[3]])
    kept, _, _ = assign_person_ids(changed, np.array([0, 0, 1, 2]), known, nxt)
    assert kept[2] == "P00000002"


# ---------------------------------------------------------------------------------------------------------
# Eligibility, priority, order of invitation
# ---------------------------------------------------------------------------------------------------------


def _people_records(n: int, **cols) -> pd.DataFrame:
    base = {"record_id": np.arange(n), "district": ["622"] * n, "commune_code": ["23566"] * n,
            "cccd": [None] * n, "cmnd": [None] * n, "birth_date": ["1980-05-06"] * n, "birth_year": [1980] * n,
            "birth_month": [5] * n, "birth_day": [6] * n, "priority_group": [16] * n, "dose1_date": [None] * n,
            "dose2_date": [None] * n, "received_at": [dt.datetime(2021, 7, 20)] * n}
    base.update(cols)
    return pd.DataFrame(base)


def test_age_counts_from_the_first_of_january_when_only_the_year_is_known() -> None:
    on = dt.date(2021, 7, 29)
    ages = age_on(pd.Series([2003, 2003, 2003]), pd.Series([7, 7, None]), pd.Series([29, 30, None]), on)
    assert list(ages) == [18, 17, 18]


def test_eligibility_priority_and_order() -> None:
    recs = _people_records(
        7, birth_year=[1980, 2005, 1950, 1980, 1980, 1980, 1980], birth_month=[5, 5, 5, 5, 5, 5, 5],
        priority_group=[16, 16, 16, 3, 1, 11, 11], dose2_date=[None, None, None, None, None, "2021-06-01", None],
        commune_code=["23566", "23566", "23566", "23566", "23566", "23566", "23563"])
    person = np.array(["A", "B", "C", "D", "D", "E", "F"], dtype=object)
    events = pd.DataFrame({"record_id": [0], "session_date": [dt.date(2021, 7, 29)],
                           "screening_result": ["deferred"], "vaccinated": ["no"], "dose_number": [1],
                           "product": [None]})
    out = people(recs, person, events, campaign_date=dt.date(2021, 7, 29), min_age=18,
                 rules=PriorityRules(outbreak_communes=frozenset({"23563"}))).set_index("person_id")
    assert out.loc["A", "ineligible_reason"] == "deferred"
    assert out.loc["B", "ineligible_reason"] == "under_age"
    assert out.loc["E", "ineligible_reason"] == "fully_vaccinated"
    assert out.loc["C", "priority_group"] == 9 and out.loc["C", "priority_note"] == "age_group"
    assert out.loc["D", "priority_group"] == 1 and out.loc["D", "priority_note"] == "priority_conflict"
    assert out.loc["D", "rows"] == 2
    # outbreak commune first, then the priority order
    assert out.loc["F", "invite_rank"] == 1 and out.loc["D", "invite_rank"] == 2 and out.loc["C", "invite_rank"] == 3
    # the deferred keep a rank: they return to the pool of the next plan, from the day after the deferral
    assert out.loc["A", "invite_rank"] == 4 and out.loc["A", "deferred_on"] == dt.date(2021, 7, 29)
    assert pd.isna(out.loc["B", "invite_rank"]) and out.loc["B", "deferred_on"] is None


def test_dose_one_for_planning_is_the_latest_known_with_its_product() -> None:
    recs = _people_records(3, dose1_date=["2021-05-01", None, "2021-05-01"],
                           dose1_product=["astrazeneca", None, "pfizer"])
    events = pd.DataFrame({"record_id": [2], "session_date": [dt.date(2021, 6, 20)], "screening_result": ["eligible"],
                           "vaccinated": ["yes"], "dose_number": [1], "product": ["moderna"]})
    out = people(recs, np.array(["A", "B", "C"], dtype=object), events, campaign_date=dt.date(2021, 7, 29),
                 min_age=18, rules=PriorityRules()).set_index("person_id")
    assert out.loc["A", "dose1_date"] == dt.date(2021, 5, 1) and out.loc["A", "dose1_product"] == "astrazeneca"
    assert out.loc["B", "dose1_date"] is None and out.loc["B", "next_dose"] == 1
    # the list says 1 May, the vaccination record 20 June: dose 2 counts from the later one
    assert out.loc["C", "dose1_date"] == dt.date(2021, 6, 20) and out.loc["C", "dose1_product"] == "moderna"


def test_a_dose_given_after_a_deferral_lifts_it_and_sets_the_next_dose() -> None:
    recs = _people_records(1)
    events = pd.DataFrame({"record_id": [0, 0], "session_date": [dt.date(2021, 7, 29), dt.date(2021, 7, 31)],
                           "screening_result": ["deferred", "eligible"], "vaccinated": ["no", "yes"],
                           "dose_number": [1, 1]})
    out = people(recs, np.array(["A"], dtype=object), events, campaign_date=dt.date(2021, 7, 29), min_age=18,
                 rules=PriorityRules()).iloc[0]
    assert bool(out["eligible"]) and out["next_dose"] == 2


def test_em_keeps_a_vanishing_m_at_splinks_floor_instead_of_failing() -> None:
    """Splink 5 refuses an m below 1e-300; EM drives a level never seen among matches there (the 50,000-
    people demo did). Inside em_m_floor the value is kept at the floor; outside, Splink's rule stands."""
    from splink.internals.comparison_level import ComparisonLevel
    from splink.internals.dialects import SplinkDialect

    from campaign.master_list.dedupe.model import SPLINK_MIN_PROBABILITY, em_m_floor

    level = ComparisonLevel("ELSE", SplinkDialect.from_string("duckdb"), label_for_charts="else")
    with em_m_floor():
        level.m_probability = 0.0
        assert level.m_probability == SPLINK_MIN_PROBABILITY
        level.m_probability = 0.25
        assert level.m_probability == 0.25
        level.m_probability = "level not observed in training dataset"   # Splink's marker passes through
    with pytest.raises(ValueError, match="below the minimum"):
        level.m_probability = 0.0


def test_abdala_counts_three_doses_before_fully_vaccinated() -> None:
    """vaccine_products.abdala.doses: 3 (docs/domain.md: "3 doses, 14 days apart"): after dose 2 of Abdala a
    person is not fully vaccinated; their next dose is 3, due from dose 2. A 2-dose product stops at 2."""
    from campaign.config import load_campaign

    doses = {k: v.doses for k, v in load_campaign().vaccine_products.items()}
    assert doses["abdala"] == 3 and doses["astrazeneca"] == 2
    recs = _people_records(3, dose1_date=["2021-07-01"] * 3, dose1_product=["abdala", "astrazeneca", "abdala"])
    events = pd.DataFrame({"record_id": [0, 1, 2, 2], "session_date": [dt.date(2021, 7, 15)] * 3 + [dt.date(2021, 7, 29)],
                           "screening_result": ["eligible"] * 4, "vaccinated": ["yes"] * 4, "dose_number": [2, 2, 2, 3],
                           "product": ["abdala", "astrazeneca", "abdala", "abdala"]})
    out = people(recs, np.array(["A", "B", "C"], dtype=object), events, campaign_date=dt.date(2021, 7, 29),
                 min_age=18, rules=PriorityRules(product_doses=doses)).set_index("person_id")
    assert bool(out.loc["A", "eligible"]) and out.loc["A", "next_dose"] == 3
    assert out.loc["A", "dose1_date"] == dt.date(2021, 7, 15) and out.loc["A", "dose1_product"] == "abdala"
    assert out.loc["B", "ineligible_reason"] == "fully_vaccinated"
    assert out.loc["C", "ineligible_reason"] == "fully_vaccinated"
    # without the product's dose count (the old rule) dose 2 of Abdala looked like a full course
    old = people(recs, np.array(["A", "B", "C"], dtype=object), events, campaign_date=dt.date(2021, 7, 29),
                 min_age=18, rules=PriorityRules()).set_index("person_id")
    assert old.loc["A", "ineligible_reason"] == "fully_vaccinated"


def test_abdala_dose_2_without_a_recorded_dose_1_still_needs_dose_3() -> None:
    """The course is the product's even when only dose 2 was recorded (dose 1 given elsewhere, never
    uploaded): Abdala's dose 2 alone is not a full course."""
    from campaign.config import load_campaign

    doses = {k: v.doses for k, v in load_campaign().vaccine_products.items()}
    recs = _people_records(2)
    events = pd.DataFrame({"record_id": [0, 1], "session_date": [dt.date(2021, 7, 15)] * 2,
                           "screening_result": ["eligible"] * 2, "vaccinated": ["yes"] * 2, "dose_number": [2, 2],
                           "product": ["abdala", "pfizer"]})
    out = people(recs, np.array(["A", "B"], dtype=object), events, campaign_date=dt.date(2021, 7, 29),
                 min_age=18, rules=PriorityRules(product_doses=doses)).set_index("person_id")
    assert bool(out.loc["A", "eligible"]) and out.loc["A", "next_dose"] == 3
    assert out.loc["A", "dose1_date"] == dt.date(2021, 7, 15)
    assert out.loc["B", "ineligible_reason"] == "fully_vaccinated"
