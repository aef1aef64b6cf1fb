"""Fast bulk insert of a DataFrame into a table, inside the caller's transaction.

SQLite: the raw DB-API `executemany` (SQLAlchemy's own executemany and `to_sql` are 2-10x slower).
PostgreSQL (psycopg 3): `COPY ... FROM STDIN`. Other dialects/drivers: SQLAlchemy executemany.

Values are converted column by column, vectorised where the dtype allows, to exactly what SQLAlchemy
would have bound, so rows read back through SQLAlchemy are the same whichever way they were written:
dates as `YYYY-MM-DD`, instants as UTC (`YYYY-MM-DD HH:MM:SS.ffffff` on SQLite), NA/NaN/NaT as NULL.

Strict, because a silent coercion is a wrong figure in a report: unknown columns, naive datetimes,
dates carrying a time of day, non-integral numbers for integer columns, values of the wrong type and
text longer than the column raise (on both databases alike; SQLite would accept them).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import JSON, Boolean, Column, Date, DateTime, Float, Integer, Numeric, String, Table
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator

CHUNK_ROWS = 50_000


class BulkInsertError(ValueError):
    """The frame does not fit the table; the message names the column."""


class ConnectionLost(RuntimeError):
    """The database connection broke during the load (server restarted or out of reach, backend terminated):
    the transaction died with it, so nothing of the load, nor the submission it belongs to, was written.
    `str()` is the message for the person who sent the file (Vietnamese), then the driver's own words."""

    code = "database_connection_lost"
    MESSAGE = ("mất kết nối tới cơ sở dữ liệu khi đang ghi dữ liệu của tệp; không dòng nào được ghi và tệp chưa "
               "được nhận. Xin gửi lại tệp sau ít phút")

    def __init__(self, detail: str):
        super().__init__(f"{self.MESSAGE} ({detail.strip()})")
        self.detail = detail


# The same loss at any other moment (a query, a commit): said the same way, wherever it is shown
CONNECTION_LOST_MESSAGE = ("mất kết nối tới cơ sở dữ liệu; việc đang làm dở không được ghi. Xin thử lại sau ít "
                           "phút; nếu vẫn lỗi, báo điều phối viên của Sở Y tế")


def connection_lost_text(exc: BaseException) -> str | None:
    """The Vietnamese sentence for an error that is a lost database connection (anywhere in its chain of
    causes), with the driver's words in brackets; None for any other error."""
    from sqlalchemy.exc import DBAPIError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionLost):
            return str(current)
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return f"{CONNECTION_LOST_MESSAGE} ({str(current.orig).strip().splitlines()[0]})"
        current = current.__cause__ or current.__context__
    return None


def insert_frame(conn: Connection, table: Table, frame: pd.DataFrame) -> int:
    """Insert every row of `frame` (columns named as `table`'s) into `table`; returns the row count.

    Runs in `conn`'s transaction (begun if none is open) and is undone by its rollback. Columns of
    `table` missing from `frame` get their server defaults or NULL; a missing column with a Python-side
    default (SQLAlchemy `default=`) is refused, as the DB-API path cannot apply it.
    """
    if frame.columns.has_duplicates:
        raise BulkInsertError(
            f"{table.name}: duplicate columns {sorted(frame.columns[frame.columns.duplicated()])}"
        )
    unknown = [c for c in frame.columns if c not in table.c]
    if unknown:
        raise BulkInsertError(f"{table.name}: no such columns {unknown}")
    # This path bypasses SQLAlchemy's Python-side defaults: refuse rather than insert NULL instead.
    defaulted = [c.name for c in table.c if c.name not in frame.columns and c.default is not None]
    if defaulted:
        raise BulkInsertError(f"{table.name}: give {defaulted} (Python-side defaults are not applied)")
    if len(frame) == 0:
        return 0
    columns = [table.c[name] for name in frame.columns]
    if not conn.in_transaction():
        conn.begin()  # committed or rolled back by the caller, like an autobegun transaction

    # `target`: the form values take: SQLite storage strings, COPY text, or Python objects.
    writer: Callable[[Connection, Table, list[Column[Any]], list[list[Any]]], None]
    if conn.dialect.name == "sqlite":
        writer, target = _write_sqlite, "sqlite"
    elif conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        writer, target = _write_postgresql_copy, "copy"
    else:
        writer, target = _write_generic, "python"

    # Only the columns holding a value are bound: an all-empty optional column (the template columns a
    # district's file does not have: 18 of a target list's 27 for a 9-column file) is left to its NULL,
    # found with one vectorised test per column instead of converting and binding a million NULLs.
    def holds_a_value(series: pd.Series) -> bool:
        return bool(series.iloc[:1000].notna().any() or series.notna().any())   # most answer in the first rows

    bound = [col for col in columns if col.server_default is not None or holds_a_value(frame[col.name])]

    def convert(start: int) -> tuple[list[Column[Any]], list[list[Any]]]:
        chunk = frame.iloc[start : start + CHUNK_ROWS]
        used: list[Column[Any]] = []
        values: list[list[Any]] = []
        for col in bound:
            converted = _convert(chunk[col.name], col, target, conn)
            # empty in this chunk (the loop stops at the first value of a column holding one)
            if col.server_default is None and all(v is None for v in converted):
                continue
            used.append(col)
            values.append(converted)
        if not used:  # every value missing: rows of NULLs (and ids) still count
            used, values = [columns[0]], [[None] * len(chunk)]
        return used, values

    starts = list(range(0, len(frame), CHUNK_ROWS))
    if target == "sqlite":
        # sqlite3 binds every value with the GIL held and gives it up only for each row's step: a helper
        # thread converting meanwhile takes the GIL for its whole switch interval each time, so the writer
        # crawls until the chunk is converted (measured on 1M rows: 6.0-7.3 s threaded, 5.4-5.7 s in turn).
        with _sqlite_cache_for(conn, len(frame)):
            for start in starts:
                writer(conn, table, *convert(start))
        return len(frame)
    if len(starts) == 1:
        writer(conn, table, *convert(starts[0]))
        return len(frame)
    # PostgreSQL: the next chunk is converted in a helper thread while this one is written (psycopg's COPY
    # releases the GIL while the server works: 1.32x -> 1.21x the driver alone, see BENCHMARKS.md). The
    # connection is used by this thread only.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bulk-convert") as pool:
        pending = pool.submit(convert, starts[0])
        for following in [*starts[1:], None]:
            used, values = pending.result()
            if following is not None:
                pending = pool.submit(convert, following)
            writer(conn, table, used, values)
    return len(frame)


# ---------------------------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------------------------


# SQLite's page cache is 2 MB by default: a big load spills its table and index pages to the WAL again and
# again while the indexes are updated. A cache sized to the load keeps them until the commit (1M rows of a
# target list: ~40% less insert time, see BENCHMARKS.md, issue 16), bounded so that memory stays small.
SQLITE_CACHE_BYTES_PER_ROW = 300
SQLITE_CACHE_MAX_KIB = 256 * 1024


@contextmanager
def _sqlite_cache_for(conn: Connection, rows: int) -> Iterator[None]:
    dbapi = conn.connection.dbapi_connection
    before = dbapi.execute("PRAGMA cache_size").fetchone()[0]
    wanted = min(SQLITE_CACHE_MAX_KIB, rows * SQLITE_CACHE_BYTES_PER_ROW // 1024)
    if wanted <= abs(before) * (1 if before < 0 else 4):   # already large enough (pages of ~4 KiB)
        yield
        return
    dbapi.execute(f"PRAGMA cache_size = -{wanted}")
    try:
        yield
    finally:
        dbapi.execute(f"PRAGMA cache_size = {before}")   # the pooled connection goes back as it came


def _rows(values: list[list[Any]]) -> Iterator[tuple[Any, ...]]:
    return zip(*values, strict=True)


def _write_sqlite(
    conn: Connection, table: Table, columns: list[Column[Any]], values: list[list[Any]]
) -> None:
    prep = conn.dialect.identifier_preparer
    names = ", ".join(prep.quote(c.name) for c in columns)
    marks = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {prep.format_table(table)} ({names}) VALUES ({marks})"
    cursor = conn.connection.dbapi_connection.cursor()  # same DB-API connection: same transaction
    try:
        cursor.executemany(sql, _rows(values))
    finally:
        cursor.close()


def _write_postgresql_copy(
    conn: Connection, table: Table, columns: list[Column[Any]], values: list[list[Any]]
) -> None:
    import psycopg

    prep = conn.dialect.identifier_preparer
    names = ", ".join(prep.quote(c.name) for c in columns)
    sql = f"COPY {prep.format_table(table)} ({names}) FROM STDIN"
    raw = conn.connection.dbapi_connection
    try:
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            for row in _rows(values):
                copy.write_row(row)
    except psycopg.OperationalError as exc:
        if not (raw.broken or raw.closed):
            raise
        # SQLAlchemy did not see the error (raw DB-API use): drop the dead connection from the pool, so
        # that the caller's rollback and the next checkout do not use it
        conn.invalidate(exc)
        raise ConnectionLost(str(exc)) from exc


def _write_generic(
    conn: Connection, table: Table, columns: list[Column[Any]], values: list[list[Any]]
) -> None:
    names = [c.name for c in columns]
    conn.execute(table.insert(), [dict(zip(names, row, strict=True)) for row in _rows(values)])


# ---------------------------------------------------------------------------------------------------------
# Column conversion
# ---------------------------------------------------------------------------------------------------------


def _storage_type(column: Column[Any]) -> Any:
    t = column.type
    return t.impl if isinstance(t, TypeDecorator) else t


def _pylist(series: pd.Series) -> list[Any]:
    """Python scalars, None for every kind of missing value (NaN, NA, NaT, None)."""
    values = series.tolist()  # ~5x faster than to_numpy(object, na_value=None) on pandas 3 strings
    missing = series.isna().to_numpy()
    if missing.all():
        return [None] * len(values)
    for i in np.flatnonzero(missing).tolist():
        values[i] = None
    return values


def _via_uniques(series: pd.Series, fmt: Callable[[Any], Any]) -> list[Any]:
    """`fmt` applied once per distinct value (birth dates repeat: ~30k distinct in 1M rows)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return _take(codes, [fmt(u) for u in uniques])


def _take(codes: np.ndarray, formatted_uniques: list[Any]) -> list[Any]:
    table = np.empty(len(formatted_uniques) + 1, dtype=object)
    table[: len(formatted_uniques)] = formatted_uniques
    table[-1] = None  # factorize's code -1 (missing) takes the last slot
    return table[codes].tolist()


def _fail(column: Column[Any], problem: str) -> BulkInsertError:
    return BulkInsertError(f"{column.table.name}.{column.name}: {problem}")


def _check_inferred(series: pd.Series, column: Column[Any], allowed: set[str]) -> None:
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    if inferred not in allowed | {"empty"}:
        raise _fail(column, f"expected {'/'.join(sorted(allowed))} values, got {inferred}")


def _convert(series: pd.Series, column: Column[Any], target: str, conn: Connection) -> list[Any]:
    storage = _storage_type(column)
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(series.cat.categories.dtype)
    if isinstance(storage, JSON):
        if target == "python":
            return _pylist(series)
        dumps = getattr(conn.dialect, "_json_serializer", None) or json.dumps
        return [None if v is None else dumps(v) for v in _pylist(series)]
    if isinstance(storage, DateTime):
        return _datetimes(series, column, target)
    if isinstance(storage, Date):
        return _dates(series, column, target)
    if isinstance(storage, Boolean):
        _check_inferred(series, column, {"boolean"})
        return _pylist(series)
    if isinstance(storage, Integer):
        return _integers(series, column)
    if isinstance(storage, Float | Numeric):
        _check_inferred(series, column, {"integer", "floating", "mixed-integer-float", "decimal"})
        return _pylist(series.astype("float64"))
    if isinstance(storage, String):
        return _strings(series, column)
    return _pylist(series)


def _integers(series: pd.Series, column: Column[Any]) -> list[Any]:
    _check_inferred(series, column, {"integer", "floating", "mixed-integer-float"})
    if not pd.api.types.is_integer_dtype(series.dtype):
        try:
            series = series.astype("Int64")  # refuses 2.5, accepts 2.0 (Excel gives floats)
        except (TypeError, ValueError) as exc:
            raise _fail(column, f"not whole numbers ({exc})") from None
    return _pylist(series)


def _strings(series: pd.Series, column: Column[Any]) -> list[Any]:
    if not pd.api.types.is_string_dtype(series.dtype) or series.dtype == object:
        _check_inferred(series, column, {"string"})
    values = _pylist(series)
    length = _storage_type(column).length
    if length is not None:
        longest = max(map(len, filter(None, values)), default=0)
        if longest > length:
            raise _fail(column, f"a value of {longest} characters exceeds the column's {length}")
    return values


def _dates(series: pd.Series, column: Column[Any], target: str) -> list[Any]:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        raise _fail(column, "a date column got timezone-aware datetimes")
    if pd.api.types.is_datetime64_dtype(series.dtype):
        return _dates_from_datetime64(series, column, target)

    def fmt(value: Any) -> Any:
        if isinstance(value, dt.datetime):
            if value.tzinfo is not None or value.time() != dt.time(0):
                raise _fail(column, f"a date column got the instant {value!r}")
            value = value.date()
        elif not isinstance(value, dt.date):
            raise _fail(column, f"expected dates, got {type(value).__name__}")
        return value if target == "python" else _date_text(value)

    return _via_uniques(series, fmt)


def _date_text(value: dt.date) -> str:
    return value.isoformat()  # YYYY-MM-DD, zero-padded: SQLAlchemy's SQLite DATE storage format


def _dates_from_datetime64(series: pd.Series, column: Column[Any], target: str) -> list[Any]:
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    stamps = np.asarray(uniques.to_numpy())
    days = stamps.astype("datetime64[D]")
    if (stamps != days).any():
        raise _fail(column, "a date column got datetimes with a time of day")
    if target == "python":
        return _take(codes, days.tolist())  # datetime.date objects
    return _take(codes, np.datetime_as_string(days, unit="D").tolist())


def _datetimes(series: pd.Series, column: Column[Any], target: str) -> list[Any]:
    # SQLite's DATETIME storage format of the UTC instant; COPY into timestamptz spells the offset out.
    suffix = {"sqlite": "", "copy": "+00:00"}.get(target)
    if pd.api.types.is_datetime64_dtype(series.dtype) and series.notna().any():
        raise _fail(column, "naive datetimes: localize them (tz_localize) before storing")
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        naive_utc = pd.DatetimeIndex(uniques).tz_convert("UTC").tz_localize(None)
        instants = naive_utc.to_numpy().astype("datetime64[us]")
        if suffix is None:
            return _take(codes, [v.replace(tzinfo=dt.UTC) for v in instants.tolist()])
        texts = np.datetime_as_string(instants, unit="us").tolist()  # YYYY-MM-DDTHH:MM:SS.ffffff
        return _take(codes, [f"{v[:10]} {v[11:]}{suffix}" for v in texts])

    def fmt(value: Any) -> Any:
        if not isinstance(value, dt.datetime):
            raise _fail(column, f"expected datetimes, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise _fail(column, f"naive datetime {value!r}: give a UTC offset (tz_localize)")
        utc = value.astimezone(dt.UTC)
        if isinstance(utc, pd.Timestamp):
            utc = utc.to_pydatetime()
        return utc if suffix is None else f"{utc:%Y-%m-%d %H:%M:%S.%f}{suffix}"

    return _via_uniques(series, fmt)


__all__ = ["CHUNK_ROWS", "CONNECTION_LOST_MESSAGE", "BulkInsertError", "ConnectionLost", "connection_lost_text",
           "insert_frame"]
