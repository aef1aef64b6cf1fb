"""column readings

Revision ID: 0008_column_readings
Revises: 0007_portal
Create Date: 2026-12-07

How each submission's columns were read (`submissions.columns`) and the headings a district taught the
system once (`column_mappings`) (issue 16).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008_column_readings'
down_revision: str | Sequence[str] | None = '0007_portal'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('column_mappings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('district_code', sa.String(length=3), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('heading_key', sa.String(length=300), nullable=False),
    sa.Column('heading', sa.String(length=300), nullable=False),
    sa.Column('field', sa.String(length=64), nullable=True),
    sa.Column('set_by', sa.String(length=128), nullable=False),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_column_mappings')),
    sa.UniqueConstraint('district_code', 'kind', 'heading_key', name=op.f('uq_column_mappings_district_code_kind_heading_key'))
    )
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('columns', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_column('columns')
    op.drop_table('column_mappings')
