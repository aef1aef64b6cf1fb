"""The data-quality gate: the kind's Great Expectations suite on a standardized submission.

    result = run_gate(std, "target_list", max_rejected_share=0.5, data_docs_dir=Path("var/docs/sub-42"),
                      submission_label="submission-42", campaign_date=campaign.campaign.campaign_date)
    result.blocking   # [(reason code, Vietnamese detail)]: reject the submission when not empty

GX is the engine: the decision is read from the validation result (the failed expectations whose
`meta.severity` is `blocking`), and so are the Data Docs. It is kept fast on a million rows by what
it is given, not by doing its work elsewhere:

- a *gate frame*: only the columns the suite names, in dtypes GX vectorises (enum keys as
  categoricals, integers as float64, dates as datetime64[ns]), personal data masked (names, IDs and
  text as a presence mark, phones as "+8491#######", the natural key as a 64-bit hash), and helper
  columns (`_row_status`, `_has__<column>`, `_natural_key`; see `expectations.suites`). GX copies the
  whole frame up to three times per column-map rule (it drops the nulls of the rule's column for the
  condition, the unexpected values and the unexpected index list), so a narrow frame of one-byte
  categoricals is what makes a suite of twenty rules cost well under a second per million rows;
- the phone regex as a custom expectation evaluated once per category of the masked column
  (`expect_column_values_to_match_regex_by_category`), not once per row;
- `SUMMARY` results without unexpected values or index queries (no personal data in results or
  Data Docs, no million-element lists);
- GX's per-batch fingerprint (an MD5 of `hash_pandas_object` over the whole frame, ~1-3 s per million
  rows, used for nothing here: the submission keeps the file's SHA-256) is switched off.

One ephemeral context per process, created on first use (importing GX takes seconds) and shared by
the calls; runs are serialised by a lock (the datasource's execution engine holds the batch). GX
objects never leave this module: `GateResult` is plain data.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from campaign.config_kinds import ColumnSpec, KindSpec, load_input_kinds

from .suites import (
    COUNTED_MARK,
    HAS_PREFIX,
    NATURAL_KEY,
    PARAM_CAMPAIGN_DATE,
    PARAM_MIN_ACCEPTED_SHARE,
    PHONE_KEEP_DIGITS,
    PRESENT_MARK,
    ROW_STATUS,
    ROW_STATUSES,
    SUITES_DIR,
    custom_expectations,
    gate_representation,
    load_suite_document,
    referenced_columns,
    suite_path,
)

if TYPE_CHECKING:
    from campaign.domain.standardize import Standardized

RESULT_FORMAT: dict[str, Any] = {
    "result_format": "SUMMARY",
    "partial_unexpected_count": 0,  # no partial lists of values or row indices
    "exclude_unexpected_values": True,  # never a value in results or Data Docs
    "return_unexpected_index_query": False,  # else GX builds a string of every failing row's index
    "include_unexpected_rows": False,
}
# `1 - max_rejected_share` compared with GX's (rows - bad) / rows in floats misjudges some shares that
# sit exactly on the threshold (3/10 with 30%): a margin far below 1 / (rows * 10_000) settles them.
SHARE_EPSILON = 1e-12
_LABEL_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class GateResult:
    """What the gate decided, as plain data (picklable; no Great Expectations object).

    blocking         [(reason code, Vietnamese detail)]: the submission is rejected when not empty
    statistics       {"evaluated", "successful", "unsuccessful"} expectations
    failed           one dict per unsuccessful expectation, in suite order: expectation (GX type),
                     column (the canonical column the rule is about, or the helper for submission-level
                     rules: `_row_status`, `_natural_key`), gx_column (the gate-frame column GX checked,
                     e.g. `_has__phone`), severity, reason, unexpected_count, unexpected_percent (of the
                     rows the rule counts), error (GX's message when the rule raised; else None). Rules
                     on columns the file lacks are not run: their existence rule fails instead
    data_docs_index  the Data Docs page of this validation (None without `data_docs_dir`)
    seconds          wall time of the whole call; `timings` splits it: prepare (the gate frame), validate
                     (GX: get_batch and the validation), docs (0.0 without `data_docs_dir`)
    rows             data rows validated
    """

    kind: str
    submission_label: str
    blocking: list[tuple[str, str]]
    statistics: dict[str, int]
    failed: list[dict[str, Any]]
    data_docs_index: Path | None
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)
    rows: int = 0

    @property
    def rejected(self) -> bool:
        return bool(self.blocking)

    def failed_by_severity(self, severity: str) -> list[dict[str, Any]]:
        return [f for f in self.failed if f["severity"] == severity]


# ---------------------------------------------------------------------------------------------------------
# The gate frame
# ---------------------------------------------------------------------------------------------------------


def _notna(series: pd.Series) -> np.ndarray:
    return series.notna().to_numpy(dtype=bool)


def mask_phones(series: pd.Series, *, keep: int = PHONE_KEEP_DIGITS) -> pd.Categorical:
    """E.164 phones -> their masked shape, a categorical: "+84912345678" -> "+8491#######" ("+", the
    country code and `keep` more digits kept, every other digit a "#"). A value that is not "+" and
    digits, or longer than E.164's 15 digits, becomes "?" (the regex rule then fails). Numpy on a
    code-point matrix: no per-value Python."""
    n = len(series)
    width = 17  # "+" and at most 15 digits, and one more to tell the longer ones
    head = 1 + 2 + keep  # "+", a 2-digit country code, `keep` digits (a 1- or 3-digit code moves the split only)
    if n == 0:
        return pd.Categorical([], categories=[])
    values = series.to_numpy(dtype=object, na_value="")
    try:  # E.164 is ASCII: one byte per character (a quarter of the memory traffic of code points)
        m = values.astype(f"S{width}").view(np.uint8).reshape(n, width)
        zero = np.uint8(48)
    except UnicodeEncodeError:  # a non-ASCII character somewhere (a bug upstream): code points, same rules
        m = values.astype(f"U{width}").view(np.uint32).reshape(n, width)
        zero = np.uint32(48)
    filled = m != 0
    length = filled.sum(axis=1, dtype=np.int64)
    tail = m[:, 1:]
    ok = (m[:, 0] == 43) & (length > head) & (length < width) & (((tail - zero) < 10) | (tail == 0)).all(axis=1)
    head_value = np.zeros(n, dtype=np.int64)
    for j in range(1, head):
        head_value = head_value * 10 + m[:, j].astype(np.int64) - 48
    shape = np.where(ok, head_value * 32 + length, 0)  # one small integer per (kept digits, length)
    codes = np.full(n, -1, dtype=np.int64)
    labels: list[str] = []
    if ok.any():
        seen = np.flatnonzero(np.bincount(shape[ok]))
        lookup = np.zeros(int(seen[-1]) + 1, dtype=np.int64)
        lookup[seen] = np.arange(len(seen))
        codes[ok] = lookup[shape[ok]]
        for u in seen:
            kept, ln = divmod(int(u), 32)
            labels.append("+" + str(kept).zfill(head - 1) + "#" * (ln - head))
    bad = (length > 0) & ~ok
    if bad.any():
        codes[bad] = len(labels)
        labels.append("?")
    return pd.Categorical.from_codes(codes, categories=labels)


def natural_key_hash(clean: pd.DataFrame, columns: list[str], keep: np.ndarray,
                     present: dict[str, np.ndarray] | None = None) -> pd.arrays.IntegerArray:
    """A 64-bit hash of the natural key per row (nullable UInt64), NA where not `keep` or where every key
    value is missing. Equal keys hash equal within the process (text uses Python's own string hash,
    which each string caches); two different keys collide with probability ~n²/2⁶⁵."""
    n = len(clean)
    present = present if present is not None else {}
    h = np.full(n, np.uint64(0x9E3779B97F4A7C15), dtype=np.uint64)
    any_present = np.zeros(n, dtype=bool)
    with np.errstate(over="ignore"):
        for j, c in enumerate(columns):
            s = clean[c]
            p = present[c] if c in present else _notna(s)
            any_present |= p
            if s.dtype.kind == "M":
                v = s.to_numpy(dtype="datetime64[ns]").view(np.int64).view(np.uint64)
            elif s.dtype.kind in "iufb":  # numpy or nullable numbers / booleans
                v = s.astype("float64").to_numpy(na_value=np.nan).view(np.uint64)
            else:
                v = np.fromiter(map(hash, s.to_numpy(dtype=object)), dtype=np.int64, count=n).view(np.uint64)
            x = np.where(p, v, np.uint64(0)) + np.uint64((0x632BE59BD9B4E019 * (j + 1)) & 0xFFFFFFFFFFFFFFFF)
            x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            h = (h ^ x ^ (x >> np.uint64(31))) * np.uint64(0x100000001B3)
    mask = ~(keep & any_present)
    return pd.arrays.IntegerArray(np.where(mask, np.uint64(0), h), mask)


def _represent(col: ColumnSpec, series: pd.Series, present: np.ndarray | None) -> Any:
    how = gate_representation(col)
    if how == "masked":
        return pd.Categorical.from_codes(np.where(present, 0, -1).astype(np.int8), categories=[PRESENT_MARK])
    if how == "masked_phone":
        return mask_phones(series)
    if how == "category":
        return series.astype("category").array
    if how == "float":
        return series.astype("float64").to_numpy()
    if how == "datetime":
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            return series.dt.as_unit("ns").array
        return series.astype("datetime64[ns]").to_numpy()  # GX compares dates vectorised only at [ns]
    return series.astype("boolean").array


def row_status_codes(std: Standardized, repeats: pd.Series | np.ndarray | None = None) -> np.ndarray:
    """Per row the index in ROW_STATUSES: quarantined (the standardizer's verdict), repeat (a row of an
    event kind received before and not quarantined), warning (worst issue a warning), else ok."""
    n = len(std.clean)
    quarantined = np.asarray(std.quarantined, dtype=bool)
    codes = np.zeros(n, dtype=np.int8)
    codes[(std.row_severity == "warning").to_numpy(dtype=bool, na_value=False)] = 1
    if repeats is not None:
        rep = np.asarray(repeats, dtype=bool)
        if len(rep) != n:
            raise ValueError(f"repeats has {len(rep)} values for {n} rows")
        codes[rep & ~quarantined] = 3
    codes[quarantined] = 2
    return codes


def build_gate_frame(std: Standardized, spec: KindSpec, document: dict[str, Any],
                     repeats: pd.Series | np.ndarray | None = None) -> pd.DataFrame:
    """The frame the suite validates (see the module doc). Positions as index; columns the suite names
    that the file lacks are left out (their existence rule fails; their `_has__` helper is satisfied)."""
    clean = std.clean
    n = len(clean)
    present_columns = {c for c in clean.columns if c not in set(std.missing_columns)}
    names = {c.name for c in spec.columns}
    codes = row_status_codes(std, repeats)
    loaded = codes <= 1
    presence: dict[str, np.ndarray] = {}

    def present(name: str) -> np.ndarray:
        if name not in presence:
            presence[name] = _notna(clean[name])
        return presence[name]

    data: dict[str, Any] = {}
    for name in referenced_columns(document):
        if name == ROW_STATUS:
            data[name] = pd.Categorical.from_codes(codes, categories=list(ROW_STATUSES))
        elif name == NATURAL_KEY:
            key = [c for c in spec.natural_key if c in clean.columns]
            data[name] = natural_key_hash(clean, key, loaded, {c: present(c) for c in key})
        elif name.startswith(HAS_PREFIX):
            base = name[len(HAS_PREFIX):]
            satisfied = (present(base) | ~loaded) if base in present_columns else np.ones(n, dtype=bool)
            data[name] = pd.Categorical.from_codes(np.where(satisfied, 0, -1).astype(np.int8),
                                                   categories=[COUNTED_MARK])
        elif name in names and name in present_columns:
            col = spec.column(name)
            data[name] = _represent(col, clean[name], present(name) if gate_representation(col) == "masked" else None)
    return pd.DataFrame(data, index=pd.RangeIndex(n))


# ---------------------------------------------------------------------------------------------------------
# The engine: one ephemeral context per process
# ---------------------------------------------------------------------------------------------------------


class _Engine:
    def __init__(self) -> None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        _disable_dataframe_fingerprint()
        custom_expectations()  # before any suite is read: the JSON names them by type
        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        )
        self.gx = gx
        self.context = gx.get_context(mode="ephemeral", project_config=config)
        self.datasource = self.context.data_sources.add_pandas("campaign_gate")
        asset = self.datasource.add_dataframe_asset("standardized_submission")
        self.batch_definition = asset.add_batch_definition_whole_dataframe("whole_submission")
        self.lock = threading.Lock()
        self._kinds: dict[str, tuple[tuple[str, int, int], dict[str, Any], Any]] = {}

    def validation(self, kind: str, directory: Path) -> tuple[dict[str, Any], Any]:
        """The kind's suite document and ValidationDefinition; reloaded when its JSON file changes (a data
        steward's edit takes effect in a running worker)."""
        path = suite_path(kind, directory)
        stat = path.stat()
        stamp = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
        cached = self._kinds.get(kind)
        if cached is not None and cached[0] == stamp:
            return cached[1], cached[2]
        document = load_suite_document(kind, directory)
        name = f"gate-{kind}"
        if cached is not None:
            self.context.validation_definitions.delete(name)
            self.context.suites.delete(kind)
        suite = self.gx.ExpectationSuite(
            name=document["name"],
            expectations=[{k: v for k, v in e.items() if k not in ("id", "rendered_content")}
                          for e in document["expectations"]],
            meta=document.get("meta") or {},
            notes=document.get("notes"),
        )
        suite = self.context.suites.add(suite)
        vd = self.context.validation_definitions.add(
            self.gx.ValidationDefinition(name=name, data=self.batch_definition, suite=suite)
        )
        self._kinds[kind] = (stamp, document, vd)
        return document, vd

    def release(self) -> None:
        """Drop the batch the execution engine still holds (a million-row frame otherwise stays alive)."""
        manager = self.datasource.get_execution_engine().batch_manager
        manager.reset_batch_cache()  # the Batch objects
        manager.batch_data_cache.clear()  # the data they hold (not cleared by reset_batch_cache)


def _disable_dataframe_fingerprint() -> None:
    """GX fingerprints every in-memory dataframe smaller than `HASH_THRESHOLD` bytes (shallow) with an MD5
    of `hash_pandas_object` over every cell: seconds per million rows, for a marker nothing here reads.
    The threshold is a module constant read at each `get_batch`; setting it to 0 skips the fingerprint.
    (If a GX release drops the constant, this does nothing and the gate is merely slower.)"""
    from great_expectations.execution_engine import pandas_execution_engine

    if hasattr(pandas_execution_engine, "HASH_THRESHOLD"):
        pandas_execution_engine.HASH_THRESHOLD = 0


_ENGINE: _Engine | None = None
_ENGINE_LOCK = threading.Lock()


def _engine() -> _Engine:
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = _Engine()
        return _ENGINE


def warm_up() -> None:
    """Import GX and create the context now (a worker can call it at start; ~3-10 s)."""
    _engine()


# ---------------------------------------------------------------------------------------------------------
# The decision
# ---------------------------------------------------------------------------------------------------------


def _share_detail(result: dict[str, Any], max_rejected_share: float) -> str:
    bad = result.get("unexpected_count")
    considered = result.get("element_count")
    if bad is None or considered is None:
        return f"quá {max_rejected_share:.0%} số dòng"
    return f"{bad}/{considered} dòng, quá {max_rejected_share:.0%}"


def _decide(results: Any, max_rejected_share: float) -> tuple[list[tuple[str, str]], list[dict[str, Any]], dict[str, int]]:
    blocking: list[tuple[str, str]] = []
    failed: list[dict[str, Any]] = []
    missing_headers: list[str] = []
    missing_at: int | None = None  # where the one required_column_missing entry goes (suite order)
    for r in results.results:
        if r.success:
            continue
        cfg = r.expectation_config
        meta = dict(cfg.meta or {})
        kwargs = cfg.kwargs
        severity = meta.get("severity", "warning")
        reason = meta.get("reason")
        res = dict(r.result or {})
        info = r.exception_info or {}
        error = None
        if info.get("raised_exception"):
            error = str(info.get("exception_message"))
        else:  # several failing metrics come as {metric id: info}
            for v in info.values():
                if isinstance(v, dict) and v.get("raised_exception"):
                    error = str(v.get("exception_message"))
                    break
        column = kwargs.get("column")
        gx_column = column if isinstance(column, str) else None
        failed.append({
            "expectation": cfg.type,
            "column": meta.get("column") or gx_column,
            "gx_column": gx_column,
            "severity": severity,
            "reason": reason,
            "unexpected_count": res.get("unexpected_count"),
            "unexpected_percent": res.get("unexpected_percent"),
            "error": error,
        })
        if severity != "blocking":
            continue
        if error is not None:
            blocking.append((reason or "unreadable_file", f"không kiểm tra được quy tắc {cfg.type}: {error}"))
        elif reason == "required_column_missing":
            missing_at = len(blocking) if missing_at is None else missing_at
            missing_headers.append(f"«{meta.get('column_header') or column}»")
        elif reason == "too_many_rejected_rows":
            blocking.append((reason, _share_detail(res, max_rejected_share)))
        else:
            blocking.append((reason or "unreadable_file", str(meta.get("detail_vi") or cfg.description or cfg.type)))
    if missing_headers:
        blocking.insert(missing_at or 0, ("required_column_missing", f"thiếu cột bắt buộc: {', '.join(missing_headers)}"))
    stats = results.statistics or {}
    statistics = {
        "evaluated": int(stats.get("evaluated_expectations", 0)),
        "successful": int(stats.get("successful_expectations", 0)),
        "unsuccessful": int(stats.get("unsuccessful_expectations", 0)),
    }
    return blocking, failed, statistics


def _safe_label(label: str) -> str:
    cleaned = _LABEL_UNSAFE.sub("-", label).strip("-.")
    return cleaned[:80] or "submission"


def _build_docs(engine: _Engine, results: Any, data_docs_dir: Path) -> Path | None:
    """One local Data Docs site per submission in `data_docs_dir`: the validation page and an index that
    lists it. Suite pages, profiling and the 'how to' buttons (links to the internet) are left out."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    ctx = engine.context
    key = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=results.suite_name),
        run_id=results.meta["run_id"],
        batch_identifier=results.batch_id,
    )
    data_docs_dir = Path(data_docs_dir).resolve()
    data_docs_dir.mkdir(parents=True, exist_ok=True)
    site = f"gate-{uuid.uuid4().hex}"
    ctx.add_data_docs_site(site_name=site, site_config={
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(data_docs_dir)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "show_cta_footer": False},
        "site_section_builders": {"expectations": "0", "profiling": "0"},
    })
    try:
        ctx.build_data_docs(site_names=[site], resource_identifiers=[key])
        urls = ctx.get_docs_sites_urls(resource_identifier=key, site_name=site, only_if_exists=True)
    finally:
        ctx.delete_data_docs_site(site)
    for entry in urls:
        url = entry.get("site_url")
        if url and url.startswith("file://"):
            from urllib.parse import unquote, urlparse

            return Path(unquote(urlparse(url).path))
    return None


def _forget(engine: _Engine, results: Any) -> None:
    """Remove the stored validation result (the in-memory store would keep every submission's)."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    key = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=results.suite_name),
        run_id=results.meta["run_id"],
        batch_identifier=results.batch_id,
    )
    store = engine.context.validation_results_store
    if store.has_key(key):
        store.remove_key(key)


@contextlib.contextmanager
def _without_rules_on(vd: Any, columns: set[str]) -> Iterator[None]:
    """Run the suite without the rules on columns the file lacks (their existence rule stays and
    fails): a rule on an absent column can only raise, and GX would put its traceback in Data Docs.
    The stored suite is restored afterwards (the engine's lock is held)."""
    if not columns:
        yield
        return
    suite = vd.suite
    original = list(suite.expectations)
    suite.expectations = [e for e in original
                          if e.expectation_type == "expect_column_to_exist" or getattr(e, "column", None) not in columns]
    suite.save()
    try:
        yield
    finally:
        suite.expectations = original
        suite.save()


def run_gate(std: Standardized, kind: str, *, max_rejected_share: float, data_docs_dir: Path | None,
             submission_label: str, repeats: pd.Series | np.ndarray | None = None,
             campaign_date: dt.date, suites_dir: Path = SUITES_DIR) -> GateResult:
    """Validate a standardized submission with its kind's suite and decide.

    std                 `campaign.domain.standardize.standardize(...)` of the submission
    kind                an input kind (`config/input_kinds.yaml`)
    max_rejected_share  campaign.intake.max_rejected_share: more quarantined rows than this share rejects
    data_docs_dir       where to write this submission's Data Docs site (None: no docs)
    submission_label    names the validation run (and the page path): no personal data, e.g. "submission-42"
    repeats             event kinds: per row, True when the row was received in an earlier submission
                        (not counted in the share of rejected rows, not checked for duplicates)
    campaign_date       the latest acceptable birth date (the campaign config's campaign_date, passed in)
    """
    t0 = time.perf_counter()
    spec = load_input_kinds()[kind]
    if not 0 < max_rejected_share <= 1:
        raise ValueError(f"max_rejected_share must be in (0, 1], got {max_rejected_share}")
    engine = _engine()
    timings: dict[str, float] = {}
    with engine.lock:
        document, vd = engine.validation(kind, suites_dir)
        t1 = time.perf_counter()
        frame = build_gate_frame(std, spec, document, repeats)
        t2 = time.perf_counter()
        timings["prepare"] = t2 - t1
        from great_expectations.core.run_identifier import RunIdentifier

        run_id = RunIdentifier(run_name=_safe_label(submission_label), run_time=dt.datetime.now(dt.UTC))
        parameters = {
            PARAM_MIN_ACCEPTED_SHARE: max(0.0, 1.0 - float(max_rejected_share) - SHARE_EPSILON),
            PARAM_CAMPAIGN_DATE: dt.datetime.combine(campaign_date, dt.time()),
        }
        absent = {c for c in std.missing_columns if c not in frame.columns}
        results = None
        try:
            with _without_rules_on(vd, absent):
                results = vd.run(batch_parameters={"dataframe": frame}, expectation_parameters=parameters,
                                 result_format=dict(RESULT_FORMAT), run_id=run_id)
            t3 = time.perf_counter()
            timings["validate"] = t3 - t2
            docs_page = _build_docs(engine, results, data_docs_dir) if data_docs_dir is not None else None
            timings["docs"] = time.perf_counter() - t3 if data_docs_dir is not None else 0.0
            blocking, failed, statistics = _decide(results, max_rejected_share)
        finally:
            engine.release()
            if results is not None:
                _forget(engine, results)
    return GateResult(
        kind=kind, submission_label=submission_label, blocking=blocking, statistics=statistics, failed=failed,
        data_docs_index=docs_page, seconds=time.perf_counter() - t0, timings=timings, rows=len(frame),
    )


__all__ = [
    "RESULT_FORMAT",
    "GateResult",
    "build_gate_frame",
    "mask_phones",
    "natural_key_hash",
    "row_status_codes",
    "run_gate",
    "warm_up",
]
