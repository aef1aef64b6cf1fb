"""The application's store: SQLAlchemy models, engines, Alembic migrations and bulk loading."""

from typing import Any

from campaign.store.db import (
    PrefectDatabaseError,
    downgrade,
    ensure_not_prefect_database,
    make_engine,
    migrate,
    session_factory,
)
from campaign.store.models import (
    KIND_MODELS,
    KIND_TABLES,
    PROVENANCE_COLUMNS,
    Base,
    Escalation,
    ImmutableFieldError,
    OutboxMessage,
    QuarantineRow,
    RowIssue,
    StoredFile,
    Submission,
    UTCDateTime,
)

__all__ = [
    "KIND_MODELS",
    "KIND_TABLES",
    "PROVENANCE_COLUMNS",
    "Base",
    "Escalation",
    "ImmutableFieldError",
    "OutboxMessage",
    "PrefectDatabaseError",
    "QuarantineRow",
    "RowIssue",
    "StoredFile",
    "Submission",
    "UTCDateTime",
    "downgrade",
    "ensure_not_prefect_database",
    "insert_frame",
    "make_engine",
    "migrate",
    "session_factory",
]


def __getattr__(name: str) -> Any:
    # pandas loads only for bulk loading, not for every user of the models (CLI start-up time).
    if name == "insert_frame":
        from campaign.store.bulk import insert_frame

        return insert_frame
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
