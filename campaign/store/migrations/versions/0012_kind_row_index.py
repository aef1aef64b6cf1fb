"""kind row index

Revision ID: 0012_kind_row_index
Revises: 0011_audit_log
Create Date: 2026-12-07

The kind tables' single-column index on `submission_id` goes: `ix_<table>_submission_row`
(submission_id, row_number) starts with the same column and serves every lookup by submission on both
databases, so the second index only cost time on every row of a load (issue 16: ~0.5 s of a 1M-row load).
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0012_kind_row_index'
down_revision: str | Sequence[str] | None = '0011_audit_log'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every kind table (generated from config/input_kinds.yaml; the same ten since 0001).
KIND_TABLES = ("facilities_rows", "infrastructure_rows", "training_rows", "communication_rows", "staff_rows",
               "target_list_rows", "vaccine_stock_rows", "vaccinations_rows", "aefi_rows", "backfill_rows")


def upgrade() -> None:
    for table in KIND_TABLES:
        op.drop_index(op.f(f"ix_{table}_submission_id"), table_name=table)


def downgrade() -> None:
    for table in KIND_TABLES:
        op.create_index(op.f(f"ix_{table}_submission_id"), table, ["submission_id"], unique=False)
