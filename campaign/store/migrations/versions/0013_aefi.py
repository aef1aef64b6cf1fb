"""aefi investigation kind

Revision ID: 0013_aefi
Revises: 0012_kind_row_index
Create Date: 2026-12-07

Issue 20.4: the district's investigation of a serious AEFI is a new input kind, `aefi_investigation`
(config/input_kinds.yaml): its table `aefi_investigation_rows`, with the provenance columns and the
(submission_id, row_number) index every kind table has.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013_aefi'
down_revision: str | Sequence[str] | None = '0012_kind_row_index'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "aefi_investigation_rows"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("district", sa.String(length=3), nullable=False),
        sa.Column("sheet", sa.String(length=100), nullable=True),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=True),
        sa.Column("investigated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("causality", sa.String(length=32), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"],
                                name=op.f(f"fk_{TABLE}_submission_id_submissions")),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TABLE}")),
    )
    op.create_index(f"ix_{TABLE}_submission_row", TABLE, ["submission_id", "row_number"], unique=False)


def downgrade() -> None:
    op.drop_index(f"ix_{TABLE}_submission_row", table_name=TABLE)
    op.drop_table(TABLE)
