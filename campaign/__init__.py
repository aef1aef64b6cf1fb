"""The campaign readiness orchestrator's core (no Prefect here; see docs/architecture.md)."""

import pandas as _pd

# pandas 3 backs its default string dtype with pyarrow whenever pyarrow is installed (Splink brings it).
# Arrow strings cannot hold the lone surrogates that hostile district files may carry (intake must
# report them, not crash), and everything here was built and measured on Python-backed strings: keep
# those, for every entry point that imports the core.
_pd.set_option("mode.string_storage", "python")

# With the `spark` extra installed, Great Expectations imports pyspark, which warns on every import that it
# "does not yet fully support pandas >= 3.0.0" (on stderr of every command that validates a file). The
# master list's Spark engine is tested on this pandas (tests/test_master_list_spark.py): not the clerk's
# concern, and not a line to print to them.
import warnings as _warnings  # noqa: E402

_warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
