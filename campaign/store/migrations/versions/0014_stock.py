"""stock ledger

Revision ID: 0014_stock
Revises: 0013_aefi
Create Date: 2026-12-07

Issue 20.3, stock that reconciles: the new event kind `stock_ledger` (a facility's daily ledger, one row per
facility, product, lot and day) gets its table. Frozen copy of what config/input_kinds.yaml generated on
that day.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014_stock'
down_revision: str | Sequence[str] | None = '0013_aefi'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stock_ledger_rows",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("district", sa.String(length=3), nullable=False),
        sa.Column("sheet", sa.String(length=100), nullable=True),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("report_date", sa.Date(), nullable=True),
        sa.Column("facility_code", sa.String(length=32), nullable=True),
        sa.Column("product", sa.String(length=32), nullable=True),
        sa.Column("lot", sa.String(length=50), nullable=True),
        sa.Column("expiry_date", sa.Date(), nullable=True),
        sa.Column("doses_per_vial", sa.Integer(), nullable=True),
        sa.Column("vials_opening", sa.Integer(), nullable=True),
        sa.Column("vials_received", sa.Integer(), nullable=True),
        sa.Column("vials_issued", sa.Integer(), nullable=True),
        sa.Column("vials_used", sa.Integer(), nullable=True),
        sa.Column("vials_damaged", sa.Integer(), nullable=True),
        sa.Column("vials_expired", sa.Integer(), nullable=True),
        sa.Column("vials_closing", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"],
                                name=op.f("fk_stock_ledger_rows_submission_id_submissions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_ledger_rows")),
    )
    op.create_index(op.f("ix_stock_ledger_rows_submission_row"), "stock_ledger_rows",
                    ["submission_id", "row_number"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_stock_ledger_rows_submission_row"), table_name="stock_ledger_rows")
    op.drop_table("stock_ledger_rows")
