"""The master list on Spark (issue 21): the same model, the same rules outside the model, the same person
ids and review pairs as on DuckDB. A small generated province (the synthetic generator's people, plus the
hand-made hard cases of tests/test_master_list.py) is built on both engines, Spark in local mode.

Needs pyspark (the extra `spark`) and Java 17 (scripts/bootstrap.sh installs both). Without them the tests
skip, except under CI=true where they fail: CI must run the Spark engine.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaign.config import load_campaign
from campaign.master_list import run as ml_run
from campaign.master_list import store as ml_store
from campaign.master_list.dedupe import engines
from campaign.master_list.dedupe import model as linkage_model
from campaign.settings import Settings
from campaign.store.models import LinkageModel, MasterPerson, MasterRecord, ReviewPair
from tests.dedupe_support import row, store_rows, with_cases

PEOPLE = 2000
AT = dt.datetime(2021, 7, 28, 1, tzinfo=dt.UTC)
CASES = [
    # the same woman listed by two districts, her name typed without diacritics once, CMND then CCCD
    row("jarai", "Rơ Châm H'Nhiăl", "1984-03-17", "female", district="627", commune="23731", phone="+84351112233",
        id_number="231234567"),
    row("jarai", "Ro Cham H Nhial", "1984-03-17", "female", district="633", commune="23962", phone="+84351112233",
        id_number="064184001234"),
    # twins: every field alike but the given name (a rule outside the model: never merged, reviewed)
    row("twin_a", "Nguyễn Văn An", "2001-08-09", "male", district="622", commune="23566", phone="+84967778899"),
    row("twin_b", "Nguyễn Văn Bình", "2001-08-09", "male", district="622", commune="23566", phone="+84967778899"),
    # two known ID numbers that differ (a rule outside the model: never merged)
    row("ids_a", "Trần Thị Lan", "1990-05-05", "female", district="623", commune="23590", phone="+84901234567",
        id_number="064190001111"),
    row("ids_b", "Trần Thị Lan", "1990-05-05", "female", district="623", commune="23590", phone="+84901234567",
        id_number="064190002222"),
]


def _spark_ready() -> str | None:
    try:
        engines.check_available(engines.LinkageEngine(name="spark", checkpoint_dir=Path(".")))
    except engines.EngineUnavailable as err:
        return str(err)
    return None


_MISSING = _spark_ready()
if _MISSING and os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}:
    pytest.fail(f"CI=true: {_MISSING} (the Spark engine's tests never skip in CI)", pytrace=False)
pytestmark = [pytest.mark.slow, pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")]


@pytest.fixture(scope="module")
def spark_home(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("home")
    yield home
    engines.stop_spark()


def _spark(home: Path) -> engines.LinkageEngine:
    return engines.from_settings("spark", Settings(home=home))


def _outcome(engine) -> dict[str, pd.DataFrame]:
    """Everything a run leaves that people read: each row's person and status, the persons, the pairs."""
    with Session(engine) as s:
        records = pd.DataFrame(s.execute(select(MasterRecord.submission_id, MasterRecord.row_number,
                                                MasterRecord.person_id, MasterRecord.status)).all(),
                               columns=["submission_id", "row_number", "person_id", "status"])
        persons = pd.DataFrame(s.execute(select(
            MasterPerson.person_id, MasterPerson.rows, MasterPerson.districts, MasterPerson.eligible,
            MasterPerson.ineligible_reason, MasterPerson.invite_rank, MasterPerson.priority_group)).all(),
            columns=["person_id", "rows", "districts", "eligible", "ineligible_reason", "invite_rank",
                     "priority_group"])
        pairs = pd.DataFrame(s.execute(select(ReviewPair.pair_key, ReviewPair.submission_a, ReviewPair.row_a,
                                              ReviewPair.submission_b, ReviewPair.row_b,
                                              ReviewPair.match_probability, ReviewPair.reason)).all(),
                             columns=["pair_key", "submission_a", "row_a", "submission_b", "row_b",
                                      "match_probability", "reason"])
    return {"records": records.sort_values(["submission_id", "row_number"], ignore_index=True),
            "persons": persons.sort_values("person_id", ignore_index=True),
            "pairs": pairs.sort_values("pair_key", ignore_index=True)}


def _person(outcome: dict[str, pd.DataFrame], subs: dict[str, int], rows: pd.DataFrame, truth: str) -> set[str]:
    rec = outcome["records"].set_index(["submission_id", "row_number"])["person_id"]
    out = set()
    for district, part in rows.groupby("district"):
        numbers = pd.Series(range(2, len(part) + 2), index=part.index)
        for i in part.index[part["truth"] == truth]:
            out.add(rec[(subs[str(district)], int(numbers[i]))])
    return out


def test_both_engines_give_the_same_master_list(fresh_migrated_engine, tmp_path, spark_home) -> None:
    campaign = load_campaign()
    rows = with_cases(CASES, people=PEOPLE)
    (tmp_path / "duckdb").mkdir()
    (tmp_path / "spark").mkdir()
    with fresh_migrated_engine("sqlite", tmp_path / "duckdb") as on_duckdb, \
            fresh_migrated_engine("sqlite", tmp_path / "spark") as on_spark:
        subs = store_rows(on_duckdb, rows)
        assert store_rows(on_spark, rows) == subs
        first = ml_run.build(on_duckdb, campaign, as_of=AT, retrain=True, linkage=engines.DUCKDB)
        assert first.trained and first.engine == "duckdb"
        # the model is trained once and stored; the other engine applies the same stored model
        with Session(on_duckdb) as s:
            stored = s.get(LinkageModel, first.model_id)
            model, trained_rows = stored.model, stored.trained_rows
        with Session(on_spark) as s, s.begin():
            ml_store.add_model(s, model, trained_rows=trained_rows, seconds=0.0)
        # another machine's build on the shared CAMPAIGN_HOME: its intermediate tables stay (never removed here)
        theirs = spark_home / "spark" / "checkpoints" / "otherhost-1-abcd1234" / "part-0000.parquet"
        theirs.parent.mkdir(parents=True)
        theirs.write_bytes(b"x")
        second = ml_run.build(on_spark, campaign, as_of=AT, linkage=_spark(spark_home))
        assert not second.trained and second.engine == "spark"
        a, b = _outcome(on_duckdb), _outcome(on_spark)
    assert (first.rows, first.persons, first.review_pairs) == (second.rows, second.persons, second.review_pairs)
    assert first.stats == second.stats
    pd.testing.assert_frame_equal(a["records"], b["records"])
    pd.testing.assert_frame_equal(a["persons"], b["persons"])
    pd.testing.assert_frame_equal(a["pairs"], b["pairs"], check_exact=False, rtol=1e-9)
    # not a vacuous equality: people merged across districts, pairs to review, the rules outside the model
    assert (a["records"]["status"] == "merged").sum() > 0 and len(a["pairs"]) > 0
    for outcome in (a, b):
        assert len(_person(outcome, subs, rows, "jarai")) == 1
        twins = _person(outcome, subs, rows, "twin_a") | _person(outcome, subs, rows, "twin_b")
        assert len(twins) == 2      # given names must agree
        two_ids = _person(outcome, subs, rows, "ids_a") | _person(outcome, subs, rows, "ids_b")
        assert len(two_ids) == 2    # two known ID numbers must not differ
    # Spark wrote only under its directory inside CAMPAIGN_HOME
    assert (spark_home / "spark" / "local").is_dir()
    assert theirs.exists()
    own = [p for p in theirs.parent.parent.iterdir() if p.name.startswith(f"{engines._host()}-{os.getpid()}-")]
    assert len(own) == 1 and own[0].is_dir()   # this process's own, removed when its session stops
    engines.stop_spark()
    assert theirs.exists() and not own[0].exists()


def test_the_model_reads_the_same_in_both_dialects() -> None:
    spec = linkage_model.settings()
    spark = engines.in_dialect(spec, "spark")
    conditions = [lv["sql_condition"] for c in spark["comparisons"] for lv in c["comparison_levels"]]
    assert any("jaro_winkler(" in c.lower() for c in conditions)
    assert not any("jaro_winkler_similarity" in c.lower() or '"' in c for c in conditions)
    back = engines.in_dialect(spark, "duckdb")
    again = [lv["sql_condition"] for c in back["comparisons"] for lv in c["comparison_levels"]]
    assert any("jaro_winkler_similarity(" in c.lower() for c in again)
    assert engines.in_dialect(spark, "spark") is spark     # already in the dialect: untouched
    assert [lv.get("m_probability") for c in back["comparisons"] for lv in c["comparison_levels"]] == \
        [lv.get("m_probability") for c in spec["comparisons"] for lv in c["comparison_levels"]]


def test_spark_writes_only_under_campaign_home(tmp_path) -> None:
    home = tmp_path / "home"
    assert Settings(home=home).spark_dir == (home / "spark").resolve()
    assert Settings(home=home, spark_checkpoint_dir=Path("work/spark")).spark_dir == (home / "work/spark").resolve()
    with pytest.raises(ValueError, match="outside CAMPAIGN_HOME"):
        _ = Settings(home=home, spark_checkpoint_dir=tmp_path / "elsewhere").spark_dir
    with pytest.raises(ValueError, match="outside CAMPAIGN_HOME"):
        _ = Settings(home=home, spark_checkpoint_dir=Path("../escape")).spark_dir


def test_master_list_command_on_spark(prefect_harness, campaign_home, tmp_path, monkeypatch) -> None:
    """`campaign master-list` with `master_list: engine: spark` in the campaign YAML (Spark in local mode)."""
    from click.testing import CliRunner

    from campaign.config_files import DEFAULT_CAMPAIGN_FILE
    from campaign.resources import get_resources, reset_resources
    from faces.cli import main

    text = DEFAULT_CAMPAIGN_FILE.read_text(encoding="utf-8")
    assert "\nmaster_list:\n" in text
    config = tmp_path / "campaign.yaml"
    config.write_text(text.replace("\nmaster_list:\n", "\nmaster_list:\n  engine: spark\n", 1), encoding="utf-8")
    monkeypatch.setenv("CAMPAIGN_CONFIG", str(config))
    reset_resources()
    assert get_resources().campaign.master_list.engine == "spark"
    rows = with_cases(CASES, people=1000)
    res = get_resources()
    store_rows(res.engine, rows)
    # the model trained on DuckDB first (training on Spark in local mode takes minutes on this machine's
    # 2 shared cores: docs/scaling.md); the command then links on Spark with the stored model
    first = ml_run.build(res.engine, res.campaign, as_of=AT, retrain=True, linkage=engines.DUCKDB)
    built = CliRunner().invoke(main, ["master-list", "--json", "--at", "2021-07-28T08:00"])
    assert built.exit_code == 0, built.output
    summary = json.loads(built.stdout.strip().splitlines()[-1])
    assert summary["engine"] == "spark" and summary["rows"] == len(rows) and not summary["model_trained"]
    assert (summary["persons"], summary["review_pairs"]) == (first.persons, first.review_pairs)
    assert (campaign_home / "spark" / "local").is_dir()
    engines.stop_spark()
    shutil.rmtree(campaign_home / "spark", ignore_errors=True)
