"""The campaign readiness orchestrator's core (no Prefect here; see docs/architecture.md)."""

import pandas as _pd

# pandas 3 backs its default string dtype with pyarrow whenever pyarrow is installed (Splink brings it).
# Arrow strings cannot hold the lone surrogates that hostile district files may carry (intake must
# report them, not crash), and everything here was built and measured on Python-backed strings: keep
# those, for every entry point that imports the core.
_pd.set_option("mode.string_storage", "python")
