"""referred

Revision ID: 0009_referred
Revises: 0008_column_readings
Create Date: 2026-12-07

A person whose latest screening said "Chuyển tiêm tại bệnh viện" (`master_persons.referred`): the planner
sends them to a hospital site of their district, or leaves them unplanned with `referred_no_hospital` (20
characters: `plan_unplanned.reason` widened to 32); facility plans are deliverables owed by facilities, whose
codes (up to 32 characters) are the party of their escalations and extensions (issue 17).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009_referred'
down_revision: str | Sequence[str] | None = '0008_column_readings'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('master_persons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('referred', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('plan_unplanned', schema=None) as batch_op:
        batch_op.alter_column('reason', existing_type=sa.String(length=16), type_=sa.String(length=32),
                              existing_nullable=False)


    for table in ('escalations', 'deadline_extensions'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('party', existing_type=sa.String(length=8), type_=sa.String(length=32),
                                  existing_nullable=False)


def downgrade() -> None:
    for table in ('escalations', 'deadline_extensions'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('party', existing_type=sa.String(length=32), type_=sa.String(length=8),
                                  existing_nullable=False)
    with op.batch_alter_table('plan_unplanned', schema=None) as batch_op:
        batch_op.alter_column('reason', existing_type=sa.String(length=32), type_=sa.String(length=16),
                              existing_nullable=False)
    with op.batch_alter_table('master_persons', schema=None) as batch_op:
        batch_op.drop_column('referred')
