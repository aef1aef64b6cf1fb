"""Engines, sessions and migrations for the application's database (never Prefect's own).

    engine = make_engine()            # CAMPAIGN_DATABASE_URL, default SQLite under ./var/
    migrate(engine)                   # alembic upgrade head, no alembic.ini needed
    Session = session_factory(engine)

PostgreSQL in a non-default schema: put it on the connection's search_path, e.g.
`make_engine(url, connect_args={"options": "-csearch_path=campaign"})` or
`postgresql+psycopg://.../db?options=-csearch_path%3Dcampaign`; tables and `alembic_version` go there.

A new migration after a model or `input_kinds.yaml` change:
    from alembic import command
    command.revision(alembic_config(url), autogenerate=True, message="...")
then review the file (explicit operations only).
"""

from __future__ import annotations

import hashlib
import os
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.orm import Session, sessionmaker

from campaign.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30.0
# Alembic's `context` and `op` are module-global proxies: two migrations in threads of one process
# would run each other's operations. One at a time.
_ALEMBIC_LOCK = threading.RLock()


class PrefectDatabaseError(RuntimeError):
    """The URL points at Prefect's own database: a Prefect reset would drop the application's tables."""


# ---------------------------------------------------------------------------------------------------------
# Refusing Prefect's database
# ---------------------------------------------------------------------------------------------------------

_PREFECT_URL_VARS = ("PREFECT_API_DATABASE_CONNECTION_URL", "PREFECT_SERVER_DATABASE_CONNECTION_URL")


def _prefect_home() -> Path:
    return Path(os.path.expandvars(os.environ.get("PREFECT_HOME", "~/.prefect"))).expanduser()


def sqlite_file(url: URL) -> Path | None:
    db = url.database
    if not db or db == ":memory:" or db.startswith("file::memory:") or url.query.get("mode") == "memory":
        return None
    if db.startswith("file:"):
        db = db[5:].split("?", 1)[0]
    return Path(os.path.expandvars(db)).expanduser().resolve()


def _same_database(a: URL, b: URL) -> bool:
    backend_a, backend_b = a.get_backend_name(), b.get_backend_name()
    if backend_a != backend_b:
        return False
    if backend_a == "sqlite":
        fa, fb = sqlite_file(a), sqlite_file(b)
        return fa is not None and fa == fb
    # Same server and database is the same database, whatever the driver, user or schema.
    host = lambda u: (u.host or "localhost").lower().replace("127.0.0.1", "localhost")  # noqa: E731
    return host(a) == host(b) and (a.port or 0) == (b.port or 0) and a.database == b.database


def _profile_settings() -> dict[str, Any]:
    """The active Prefect profile's settings (profiles.toml), where a database URL may also be set."""
    path = Path(os.environ.get("PREFECT_PROFILES_PATH", _prefect_home() / "profiles.toml")).expanduser()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    active = os.environ.get("PREFECT_PROFILE") or data.get("active") or "ephemeral"
    settings = data.get("profiles", {}).get(active, {})
    return settings if isinstance(settings, dict) else {}


def prefect_database_urls() -> list[URL]:
    """Prefect's database as the environment (or the active profile) configures it, plus the default
    `prefect.db` under PREFECT_HOME and under ~/.prefect."""
    urls: list[URL] = []
    profile = _profile_settings()
    for var in _PREFECT_URL_VARS:
        raw = os.environ.get(var) or profile.get(var)
        if isinstance(raw, str) and raw:
            raw = raw.replace("${PREFECT_HOME}", str(_prefect_home()))
            try:
                urls.append(make_url(os.path.expandvars(raw)))
            except Exception:  # an unparsable Prefect setting is Prefect's problem, not ours
                continue
    urls.append(make_url(f"sqlite:///{_prefect_home() / 'prefect.db'}"))
    urls.append(make_url(f"sqlite:///{Path('~/.prefect/prefect.db').expanduser()}"))
    return urls


def ensure_not_prefect_database(url: str | URL) -> None:
    """Raise PrefectDatabaseError if `url` is Prefect's database (both keep an `alembic_version`)."""
    target = make_url(url)
    for prefect_url in prefect_database_urls():
        if _same_database(target, prefect_url):
            raise PrefectDatabaseError(
                f"{target.render_as_string(hide_password=True)} is Prefect's own database "
                f"({prefect_url.render_as_string(hide_password=True)}). The application needs its own: "
                "set CAMPAIGN_DATABASE_URL to another database or file (a Prefect reset drops every table "
                "and both keep an alembic_version table)."
            )


# ---------------------------------------------------------------------------------------------------------
# Engines and sessions
# ---------------------------------------------------------------------------------------------------------


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    # Let SQLAlchemy own BEGIN (pysqlite's implicit transactions break SAVEPOINT and DDL atomicity).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")  # readers (portal, reports) do not block the loader
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; fsync per checkpoint, not per commit
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock up front: a read-then-write transaction then waits for another
    # writer (busy timeout) instead of failing with SQLITE_BUSY when it starts writing.
    mode = str(conn.get_execution_options().get("sqlite_begin", "DEFERRED")).upper()
    if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
        raise ValueError(f"sqlite_begin must be DEFERRED, IMMEDIATE or EXCLUSIVE, not {mode!r}")
    conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str | URL | None = None, **kwargs: Any) -> Engine:
    """An engine for the application database (default: settings' `resolved_database_url`).

    SQLite: creates the parent directory, WAL, foreign keys, a busy timeout, real transactions
    (SAVEPOINTs work). For a transaction that reads and then writes (e.g. the next version number,
    then the insert), begin it with the write lock: `engine.execution_options(sqlite_begin="IMMEDIATE")`
    (ignored on PostgreSQL). PostgreSQL: pool_pre_ping. Extra keyword arguments go to `create_engine`
    (`connect_args` merged). Refuses Prefect's own database.
    """
    sa_url = make_url(url if url is not None else get_settings().resolved_database_url)
    ensure_not_prefect_database(sa_url)
    backend = sa_url.get_backend_name()
    connect_args = dict(kwargs.pop("connect_args", {}))
    if backend == "sqlite":
        path = sqlite_file(sa_url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_S)  # the busy timeout: wait for a writer
        engine = create_engine(sa_url, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if backend == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
    return create_engine(sa_url, connect_args=connect_args, **kwargs)


def write_lock(session: Session, scope: str) -> None:
    """Serialize the writers of one scope (e.g. one district's uploads of one kind) until the transaction
    ends. PostgreSQL: a transaction-level advisory lock on the scope. SQLite has one writer at a time
    anyway: begin the transaction IMMEDIATE (`engine.execution_options(sqlite_begin="IMMEDIATE")`) and
    this is a no-op."""
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(scope.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def write_engine(engine: Engine) -> Engine:
    """The engine whose transactions take SQLite's write lock when they begin (BEGIN IMMEDIATE): for a
    transaction that reads and then writes. The same engine's pool; PostgreSQL ignores the option."""
    return engine.execution_options(sqlite_begin="IMMEDIATE")


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """One write transaction: `with write_session(engine) as session:` commits at the end, rolls back on
    an exception. On SQLite it holds the write lock from its first statement (see `write_engine`), so two
    writers never both read a state one of them is about to change."""
    with Session(write_engine(engine)) as session, session.begin():
        yield session


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (objects are handed on after the transaction)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


# ---------------------------------------------------------------------------------------------------------
# Migrations
# ---------------------------------------------------------------------------------------------------------


def alembic_config(url: str | URL | None = None, connection: Connection | None = None) -> Config:
    """An Alembic Config without alembic.ini: script location = this package's migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        cfg.set_main_option(
            "sqlalchemy.url", make_url(url).render_as_string(hide_password=False).replace("%", "%%")
        )
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """`alembic upgrade <revision>` in one transaction on `engine` (SQLite and PostgreSQL)."""
    ensure_not_prefect_database(engine.url)
    with _ALEMBIC_LOCK, engine.begin() as conn:
        command.upgrade(alembic_config(connection=conn), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    """`alembic downgrade <revision>`; tests and rehearsals only (production never loses data)."""
    ensure_not_prefect_database(engine.url)
    with _ALEMBIC_LOCK, engine.begin() as conn:
        command.downgrade(alembic_config(connection=conn), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with _ALEMBIC_LOCK, engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


__all__ = [
    "MIGRATIONS_DIR",
    "PrefectDatabaseError",
    "alembic_config",
    "current_revision",
    "downgrade",
    "ensure_not_prefect_database",
    "head_revision",
    "make_engine",
    "migrate",
    "prefect_database_urls",
    "session_factory",
]
