"""Shared fixtures. Every database test runs twice: on SQLite and on PostgreSQL.

- `db_engine`: an empty application database (no tables), parametrised `sqlite` / `postgresql`.
  * SQLite: a file in the test's temp directory, through `campaign.store.db.make_engine` (WAL, FKs).
  * PostgreSQL: the database named by `CAMPAIGN_TEST_DATABASE_URL` (e.g.
    `postgresql+psycopg://postgres@127.0.0.1:5432/test`). Each test gets a fresh schema with a random
    name, put on the connection's search_path (`connect_args={"options": "-csearch_path=<schema>"}`),
    so tables and `alembic_version` land there; the schema is dropped with CASCADE afterwards.
- `migrated_engine`: the same, upgraded to Alembic head. SQLite copies a database migrated once per
  session (a file copy is ~100x faster than running the migration). PostgreSQL migrates a fresh schema
  too, but one test ahead, in a background thread, and drops used schemas there as well: DDL is the
  slow part of a PostgreSQL test (~0.5 s to migrate, ~0.2 s to drop on a 2-core machine).

Without `CAMPAIGN_TEST_DATABASE_URL` the `postgresql` variants are skipped with the reason shown by
`pytest -ra`, except when `CI=true`: there they fail, because CI must never skip the production database.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from campaign.store.db import make_engine, migrate

# The session-wide Prefect test harness (tests/prefect_harness.py, owned by the flows' tests).
pytest_plugins = ["prefect_harness"]

PG_URL_VAR = "CAMPAIGN_TEST_DATABASE_URL"
DATABASES = ("sqlite", "postgresql")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def _pg_url() -> str:
    url = os.environ.get(PG_URL_VAR, "").strip()
    if url:
        if make_url(url).get_backend_name() != "postgresql":
            pytest.fail(f"{PG_URL_VAR} must be a PostgreSQL URL, got {url!r}")
        return url
    reason = (
        f"PostgreSQL tests need {PG_URL_VAR}, e.g. "
        f"{PG_URL_VAR}=postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    if _in_ci():
        pytest.fail(f"CI=true: {reason} (PostgreSQL tests never skip in CI)")
    pytest.skip(reason)


class _PgSchemas:
    """Creates (and migrates) per-test schemas one ahead and drops used ones, in one worker thread."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.admin = make_engine(url, pool_size=1)
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-schemas")
        self.ready: Future[str] | None = None
        self.pending: list[Future[None]] = []

    def engine(self, schema: str) -> Engine:
        return make_engine(self.url, connect_args={"options": f"-csearch_path={schema}"}, pool_size=2)

    def _create(self, migrated: bool) -> str:
        schema = f"test_{uuid.uuid4().hex[:12]}"
        with self.admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        if migrated:
            engine = self.engine(schema)
            try:
                migrate(engine)
            finally:
                engine.dispose()
        return schema

    def _drop(self, schema: str) -> None:
        with self.admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))

    def take(self, migrated: bool) -> str:
        if not migrated:
            return self._create(False)
        schema = self.ready.result() if self.ready is not None else self._create(True)
        self.ready = self.worker.submit(self._create, True)
        return schema

    def release(self, schema: str) -> None:
        self.pending = [f for f in self.pending if not f.done()]
        self.pending.append(self.worker.submit(self._drop, schema))

    def close(self) -> None:
        if self.ready is not None:
            self.pending.append(self.worker.submit(self._drop, self.ready.result()))
        self.worker.shutdown(wait=True)
        for f in self.pending:
            f.result()  # surface a failed drop
        self.admin.dispose()


@pytest.fixture(scope="session")
def _pg_schemas() -> Iterator[_PgSchemas]:
    schemas = _PgSchemas(_pg_url())
    yield schemas
    schemas.close()


@pytest.fixture(scope="session")
def _sqlite_migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "campaign.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()  # the last connection closing checkpoints the WAL into the file
    return path


def _sqlite_files(path: Path) -> list[Path]:
    return [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]


@contextlib.contextmanager
def _engine(request: pytest.FixtureRequest, backend: str, directory: Path, migrated: bool) -> Iterator[Engine]:
    if backend == "sqlite":
        path = directory / "campaign.sqlite3"
        if migrated:
            template: Path = request.getfixturevalue("_sqlite_migrated_template")
            for src in _sqlite_files(template):
                shutil.copyfile(src, path.parent / src.name.replace(template.name, path.name))
        engine = make_engine(f"sqlite:///{path}")
        try:
            yield engine
        finally:
            engine.dispose()
        return
    schemas: _PgSchemas = request.getfixturevalue("_pg_schemas")
    schema = schemas.take(migrated)
    engine = schemas.engine(schema)
    try:
        yield engine
    finally:
        engine.dispose()  # before the drop: no connection of the test may hold locks in the schema
        schemas.release(schema)


@pytest.fixture(params=DATABASES)
def db_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty application database on SQLite, then on PostgreSQL."""
    with _engine(request, request.param, tmp_path, migrated=False) as engine:
        yield engine


@pytest.fixture(params=DATABASES)
def migrated_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An application database at Alembic head on SQLite, then on PostgreSQL."""
    with _engine(request, request.param, tmp_path, migrated=True) as engine:
        yield engine


@pytest.fixture
def fresh_migrated_engine(request: pytest.FixtureRequest):  # noqa: ANN201
    """`fresh_migrated_engine(backend, directory)`: a context manager giving one more database at Alembic
    head within a test (a property test wants a fresh one per example)."""
    return lambda backend, directory: _engine(request, backend, directory, migrated=True)
