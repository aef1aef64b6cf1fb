"""Where Splink runs: the one place that knows the engines (issue 21).

The model (`model.settings`, a trained model's JSON), the rules outside the model (`clusters`), the person
ids and the review pairs do not depend on the engine: only the Splink database API a linker is given does.

- `duckdb` (the default): in-process DuckDB, nothing to install or start; one machine's memory.
- `spark`: Splink's Spark backend (`splink.backends.spark.SparkAPI`) on a Spark session whose master comes
  from the settings (`CAMPAIGN_SPARK_MASTER`, default `local[2]`: Spark in this process's JVM, 2 cores); a
  cluster's URL (`spark://host:7077`) spreads the same work over its executors. Needs the optional extra
  `spark` (pyspark) and Java 17. Every file Spark writes (intermediate tables broken out as parquet,
  shuffle spill, its warehouse) goes under the checkpoint directory, by default `CAMPAIGN_HOME/spark`:
  never outside CAMPAIGN_HOME.

A trained model is stored in one dialect, DuckDB's (the SQL of its comparison levels and blocking rules):
`in_dialect` rewrites it for Spark before a Spark linker reads it, and back after Spark trained it, so a
model trained on either engine is reused by the other.
"""

from __future__ import annotations

import copy
import functools
import itertools
import os
import secrets
import shutil
import socket
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from campaign.runtime import process_alive

EngineName = Literal["duckdb", "spark"]
ENGINES: tuple[str, ...] = ("duckdb", "spark")
CANONICAL_DIALECT = "duckdb"
# The same Jaro-Winkler similarity under each engine's name (DuckDB's built-in; the Scala UDF in the jar that
# ships with Splink, registered by SparkAPI).
_JARO_WINKLER = {"duckdb": "jaro_winkler_similarity", "spark": "jaro_winkler"}


class EngineUnavailable(RuntimeError):
    """The engine chosen cannot run here (pyspark or Java missing): said plainly, with the fix."""


@dataclass(frozen=True)
class LinkageEngine:
    """Which engine links the records and, for Spark, where it runs and writes."""

    name: EngineName = "duckdb"
    spark_master: str = "local[2]"
    checkpoint_dir: Path | None = None   # required for spark (under CAMPAIGN_HOME)
    driver_memory: str = "2g"
    shuffle_partitions: int = 8

    @property
    def dialect(self) -> str:
        return "spark" if self.name == "spark" else "duckdb"

    def db_api(self) -> Any:
        """A fresh Splink database API on this engine (one per linker: Splink keeps its tables there)."""
        if self.name == "duckdb":
            from splink import DuckDBAPI

            return DuckDBAPI()
        if self.name == "spark":
            from splink.backends.spark import SparkAPI

            return SparkAPI(spark_session=spark_session(self), break_lineage_method="parquet",
                            num_partitions_on_repartition=self.shuffle_partitions)
        raise ValueError(f"unknown linkage engine {self.name!r} (one of {', '.join(ENGINES)})")

    def register(self, db_api: Any, frame: Any) -> Any:
        """The records as the linker's input table. Spark's session outlives a linker and its views are
        the session's: each linker's input gets a name of its own."""
        if self.name == "spark":
            return db_api.register(frame, dataset_display_name=f"records_{next(_INPUTS)}")
        return db_api.register(frame, dataset_display_name="records")


_INPUTS = itertools.count(1)
DUCKDB = LinkageEngine()


def from_settings(name: str, settings: Any) -> LinkageEngine:
    """The engine of the campaign YAML's `master_list.engine`, placed by the settings (CAMPAIGN_SPARK_*)."""
    if name not in ENGINES:
        raise ValueError(f"unknown linkage engine {name!r} (one of {', '.join(ENGINES)})")
    if name == "duckdb":
        return DUCKDB
    return LinkageEngine(name="spark", spark_master=settings.spark_master, checkpoint_dir=settings.spark_dir,
                         driver_memory=settings.spark_driver_memory,
                         shuffle_partitions=settings.spark_shuffle_partitions)


def check_available(engine: LinkageEngine) -> None:
    """Raise `EngineUnavailable` with what to install if the engine cannot start here."""
    if engine.name != "spark":
        return
    try:
        import pyspark  # noqa: F401
    except ImportError as err:
        raise EngineUnavailable(
            "master_list.engine is spark but pyspark is not installed: `uv sync --extra spark` "
            "(scripts/bootstrap.sh does it)") from err
    java_home = os.environ.get("JAVA_HOME")
    java = Path(java_home) / "bin" / "java" if java_home else None
    if not (java and java.exists()) and shutil.which("java") is None:
        raise EngineUnavailable(
            "master_list.engine is spark but Java is not installed: `apt-get install openjdk-17-jre-headless` "
            "(scripts/bootstrap.sh does it as root)")


_started: list[tuple[Any, ...]] = []


def own_checkpoint_dir(root: Path) -> Path:
    """This process's own directory for Spark's intermediate tables: `root/checkpoints/<host>-<pid>-<random>`.
    CAMPAIGN_HOME (and so `root`) may be shared by several machines (docs/several-machines.md): another
    process's master-list build writes its parquet files beside it, so each process removes only its own
    (`stop_spark`). A sibling left by a process of this machine that is gone (killed, the machine
    restarted) is removed here; one of another machine is left alone (its process cannot be seen from here:
    `campaign master-list` on that machine removes it, or remove it by hand when no build runs there)."""
    base = root / "checkpoints"
    base.mkdir(parents=True, exist_ok=True)
    remove_dead_checkpoint_dirs(base)
    path = base / f"{_host()}-{os.getpid()}-{secrets.token_hex(4)}"
    path.mkdir()
    return path


def _host() -> str:
    return socket.gethostname().replace("-", "_").replace(os.sep, "_") or "localhost"


def remove_dead_checkpoint_dirs(base: Path) -> list[Path]:
    """Remove the checkpoint directories under `base` of this machine's processes that are gone (named
    `<host>-<pid>-<random>` by `own_checkpoint_dir`); other machines' and anything else are kept. Returns
    the removed ones."""
    removed = []
    for path in base.iterdir() if base.is_dir() else ():
        host, _, rest = path.name.partition("-")
        pid, _, token = rest.partition("-")
        if host != _host() or not pid.isdigit() or not token or int(pid) == os.getpid() or process_alive(int(pid)):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


@functools.cache
def _session(master: str, checkpoint_dir: str, driver_memory: str, shuffle_partitions: int) -> Any:
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    root = Path(checkpoint_dir)
    for sub in ("local", "warehouse", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    checkpoints = own_checkpoint_dir(root)   # never another process's: CAMPAIGN_HOME may be shared
    # pyspark 4 warns that it does not yet fully support pandas 3; the records it is given are plain
    # strings, numbers and dates (tests/test_master_list_spark.py compares both engines' results)
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    # the JVM's temporary files under the directory too, and no hsperfdata file in /tmp
    tmp = f"-Djava.io.tmpdir={root / 'tmp'} -XX:-UsePerfData"
    builder = (SparkSession.builder.master(master).appName("campaign-master-list")
             .config("spark.jars", similarity_jar_location())
             .config("spark.driver.memory", driver_memory)
             .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
             .config("spark.default.parallelism", str(shuffle_partitions))
             .config("spark.local.dir", str(root / "local"))
             .config("spark.sql.warehouse.dir", str(root / "warehouse"))
             .config("spark.driver.extraJavaOptions", tmp)
             .config("spark.executor.extraJavaOptions", tmp)
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.ansi.enabled", "false"))  # Splink's SQL is written for ANSI mode off
    # pyspark hands the JVM's connection details over in a temporary file (Python's tempfile): there too
    # and the launcher's own small JVM (spark-class) writes no hsperfdata file in /tmp either
    saved, launcher = tempfile.tempdir, os.environ.get("SPARK_LAUNCHER_OPTS")
    tempfile.tempdir = str(root / "tmp")
    os.environ["SPARK_LAUNCHER_OPTS"] = f"{launcher or ''} -XX:-UsePerfData".strip()
    try:
        spark = builder.getOrCreate()
    finally:
        tempfile.tempdir = saved
        if launcher is None:
            os.environ.pop("SPARK_LAUNCHER_OPTS", None)
        else:
            os.environ["SPARK_LAUNCHER_OPTS"] = launcher
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir(str(checkpoints))
    _started.append((master, checkpoint_dir, checkpoints))
    return spark


def spark_session(engine: LinkageEngine) -> Any:
    """The process's Spark session for this engine (started once, reused by every linker)."""
    if engine.checkpoint_dir is None:
        raise ValueError("the spark engine needs a checkpoint directory (settings: CAMPAIGN_SPARK_DIR)")
    check_available(engine)
    wanted = (engine.spark_master, str(Path(engine.checkpoint_dir).resolve()))
    if any(started[:2] != wanted for started in _started):
        stop_spark()   # one Spark session per process: another master or directory starts it again
    return _session(engine.spark_master, str(Path(engine.checkpoint_dir).resolve()), engine.driver_memory,
                    engine.shuffle_partitions)


def stop_spark() -> None:
    """Stop the process's Spark session, if one was started (tests, benchmarks, the end of a command)."""
    if _session.cache_info().currsize == 0:
        return
    from pyspark.sql import SparkSession

    own = [Path(args[2]) for args in _started]
    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()
    _session.cache_clear()
    _started.clear()
    for path in own:   # this process's intermediate tables only (own_checkpoint_dir)
        shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------
# One model, two dialects
# ---------------------------------------------------------------------------------------------------------


def _translate(sql: str, source: str, target: str) -> str:
    import sqlglot
    from sqlglot import exp

    def rename(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.JarowinklerSimilarity):
            return exp.Anonymous(this=_JARO_WINKLER[target], expressions=[node.this, node.expression])
        if isinstance(node, exp.Anonymous) and node.name.lower() in _JARO_WINKLER.values():
            return exp.Anonymous(this=_JARO_WINKLER[target], expressions=node.expressions)
        return node

    return sqlglot.parse_one(sql, read=source).transform(rename).sql(dialect=target)


def in_dialect(model: dict[str, Any], dialect: str) -> dict[str, Any]:
    """The model (Splink settings or a trained model's JSON) with its SQL in `dialect`: the comparison
    levels' conditions and the blocking rules. The parameters (m, u, prior, term frequencies) stay as they
    are. A model without a dialect is in the canonical one (DuckDB's)."""
    source = model.get("sql_dialect") or CANONICAL_DIALECT
    if source == dialect:
        return model
    out = copy.deepcopy(model)
    for comparison in out.get("comparisons", []):
        for level in comparison.get("comparison_levels", []):
            if isinstance(level, dict) and isinstance(level.get("sql_condition"), str) \
                    and level["sql_condition"] != "ELSE":
                level["sql_condition"] = _translate(level["sql_condition"], source, dialect)
    for key in ("blocking_rules_to_generate_predictions",):
        rules = []
        for rule in out.get(key, []):
            if isinstance(rule, dict) and isinstance(rule.get("blocking_rule"), str):
                rule = {**rule, "blocking_rule": _translate(rule["blocking_rule"], source, dialect),
                        "sql_dialect": dialect}
            rules.append(rule)
        if key in out:
            out[key] = rules
    out["sql_dialect"] = dialect
    return out
