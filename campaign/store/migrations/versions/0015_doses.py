"""doses linked to people

Revision ID: 0015_doses
Revises: 0014_stock
Create Date: 2026-12-07

Issue 20.1: dose rows (results with vaccinated = yes, backfill) linked to master-list persons, each
person's dose history and its conflicts.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015_doses'
down_revision: str | Sequence[str] | None = '0014_stock'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
STATUS = "status IN ('linked', 'unlinked', 'ambiguous')"
SOURCE = "source IN ('result', 'backfill', 'target_list')"


def upgrade() -> None:
    op.create_table(
        "dose_link_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flow_run_id", sa.String(length=36), nullable=True),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("master_run_id", sa.Integer(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("linked", sa.Integer(), nullable=False),
        sa.Column("unlinked", sa.Integer(), nullable=False),
        sa.Column("ambiguous", sa.Integer(), nullable=False),
        sa.Column("conflicts", sa.Integer(), nullable=False),
        sa.Column("persons_changed", sa.Integer(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.Column("seconds", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dose_link_runs")),
    )
    op.create_table(
        "dose_links",
        sa.Column("id", RowId, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("district", sa.String(length=3), nullable=False),
        sa.Column("facility_code", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("person_id", sa.String(length=16), nullable=True),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("candidates", sa.String(length=200), nullable=True),
        sa.Column("dose_number", sa.Integer(), nullable=True),
        sa.Column("product", sa.String(length=32), nullable=True),
        sa.Column("lot", sa.String(length=50), nullable=True),
        sa.Column("given_on", sa.Date(), nullable=True),
        sa.CheckConstraint(STATUS, name=op.f("ck_dose_links_status")),
        sa.CheckConstraint(SOURCE, name=op.f("ck_dose_links_source")),
        sa.ForeignKeyConstraint(["run_id"], ["dose_link_runs.id"], name=op.f("fk_dose_links_run_id_dose_link_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dose_links")),
    )
    op.create_index(op.f("ix_dose_links_district"), "dose_links", ["district"], unique=False)
    op.create_index(op.f("ix_dose_links_person_id"), "dose_links", ["person_id"], unique=False)
    op.create_index("ix_dose_links_row", "dose_links", ["submission_id", "row_number"], unique=False)
    op.create_table(
        "dose_history",
        sa.Column("id", RowId, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.String(length=16), nullable=False),
        sa.Column("district", sa.String(length=3), nullable=False),
        sa.Column("dose_number", sa.Integer(), nullable=True),
        sa.Column("product", sa.String(length=32), nullable=True),
        sa.Column("given_on", sa.Date(), nullable=True),
        sa.Column("lot", sa.String(length=50), nullable=True),
        sa.Column("site", sa.String(length=50), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.CheckConstraint(SOURCE, name=op.f("ck_dose_history_source")),
        sa.ForeignKeyConstraint(["run_id"], ["dose_link_runs.id"], name=op.f("fk_dose_history_run_id_dose_link_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dose_history")),
    )
    op.create_index(op.f("ix_dose_history_person_id"), "dose_history", ["person_id"], unique=False)
    op.create_index("ix_dose_history_site_day", "dose_history", ["site", "given_on"], unique=False)
    op.create_table(
        "dose_conflicts",
        sa.Column("id", RowId, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.String(length=16), nullable=False),
        sa.Column("district", sa.String(length=3), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["dose_link_runs.id"],
                                name=op.f("fk_dose_conflicts_run_id_dose_link_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dose_conflicts")),
    )
    op.create_index(op.f("ix_dose_conflicts_person_id"), "dose_conflicts", ["person_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_dose_conflicts_person_id"), table_name="dose_conflicts")
    op.drop_table("dose_conflicts")
    op.drop_index("ix_dose_history_site_day", table_name="dose_history")
    op.drop_index(op.f("ix_dose_history_person_id"), table_name="dose_history")
    op.drop_table("dose_history")
    op.drop_index("ix_dose_links_row", table_name="dose_links")
    op.drop_index(op.f("ix_dose_links_person_id"), table_name="dose_links")
    op.drop_index(op.f("ix_dose_links_district"), table_name="dose_links")
    op.drop_table("dose_links")
    op.drop_table("dose_link_runs")
