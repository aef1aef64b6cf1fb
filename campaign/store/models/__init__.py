"""The application's tables: submissions and their provenance, one typed table per input kind, deadlines,
readiness, the master list, plans, reports, the portal's accounts and the audit log.

Portable between SQLite (default, one province on one machine) and PostgreSQL (production). Every
constraint is named through `NAMING_CONVENTION` (base.py) so that Alembic migrations are deterministic.

One module per area; this package imports every one of them, in a fixed order, so that all mapped
classes and tables are registered on `Base.metadata` (which Alembic's migrations and autogenerate read)
before any is used, and the ORM guard of submissions is installed. Its public API is the model classes
and their vocabularies below: `from campaign.store.models import Submission`.

The per-kind tables (`<kind>_rows`, kinds.py) are generated from `config/input_kinds.yaml`, the single
source of the column specification: changing that file changes `Base.metadata`, and
`tests/test_migrations.py` then fails until a migration is added.
"""

# ruff: noqa: I001
# The order of these imports is the order the tables are added to `Base.metadata`: keep it.
from campaign.store.models.base import NAMING_CONVENTION, Base, UTCDateTime, utcnow
from campaign.store.models.submissions import (
    CHANNELS,
    KIND_MODES,
    SEVERITIES,
    SUBMISSION_STATUSES,
    ImmutableFieldError,
    QuarantineRow,
    RowIssue,
    StoredFile,
    Submission,
)
from campaign.store.models.deadlines import (
    OUTBOX_CHANNELS,
    OUTBOX_STATUSES,
    DeadlineExtension,
    Escalation,
    OutboxMessage,
)
from campaign.store.models.readiness import READINESS_LEVELS, READINESS_STATUSES, ReadinessRecord
from campaign.store.models.master_list import (
    MASTER_STATUSES,
    REVIEW_DECISIONS,
    LinkageModel,
    MasterListRun,
    MasterPerson,
    MasterRecord,
    PersonKey,
    ReviewDecision,
    ReviewPair,
)
from campaign.store.models.planning import (
    PLAN_SOURCES,
    PlanInvitation,
    PlanRun,
    PlanSession,
    PlanStandby,
    PlanUnplanned,
)
from campaign.store.models.reports import REPORT_LEVELS, ReportRecord
from campaign.store.models.portal import (
    JOB_ACTIONS,
    JOB_STATUSES,
    USER_ROLES,
    PortalJob,
    PortalSession,
    PortalUser,
)
from campaign.store.models.audit import AUDIT_ACTIONS, AUDIT_OUTCOMES, AuditEvent
from campaign.store.models.column_mappings import ColumnMapping
from campaign.store.models.kinds import (
    KIND_MODELS,
    KIND_TABLES,
    PROVENANCE_COLUMNS,
    build_kind_table,
    column_type,
    kind_table_name,
)

__all__ = [
    "AUDIT_ACTIONS",
    "AUDIT_OUTCOMES",
    "CHANNELS",
    "JOB_ACTIONS",
    "JOB_STATUSES",
    "KIND_MODELS",
    "KIND_MODES",
    "KIND_TABLES",
    "MASTER_STATUSES",
    "NAMING_CONVENTION",
    "OUTBOX_CHANNELS",
    "OUTBOX_STATUSES",
    "PLAN_SOURCES",
    "PROVENANCE_COLUMNS",
    "READINESS_LEVELS",
    "READINESS_STATUSES",
    "REPORT_LEVELS",
    "REVIEW_DECISIONS",
    "SEVERITIES",
    "SUBMISSION_STATUSES",
    "USER_ROLES",
    "AuditEvent",
    "Base",
    "ColumnMapping",
    "DeadlineExtension",
    "Escalation",
    "ImmutableFieldError",
    "LinkageModel",
    "MasterListRun",
    "MasterPerson",
    "MasterRecord",
    "OutboxMessage",
    "PersonKey",
    "PlanInvitation",
    "PlanRun",
    "PlanSession",
    "PlanStandby",
    "PlanUnplanned",
    "PortalJob",
    "PortalSession",
    "PortalUser",
    "QuarantineRow",
    "ReadinessRecord",
    "ReportRecord",
    "ReviewDecision",
    "ReviewPair",
    "RowIssue",
    "StoredFile",
    "Submission",
    "UTCDateTime",
    "build_kind_table",
    "column_type",
    "kind_table_name",
    "utcnow",
]
from campaign.store.models.doses import DOSE_LINK_STATUSES, DOSE_SOURCES, DoseConflict, DoseLink, DoseLinkRun, DoseRecord  # noqa: E402,F401
