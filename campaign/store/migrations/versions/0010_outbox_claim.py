"""outbox claim

Revision ID: 0010_outbox_claim
Revises: 0009_referred
Create Date: 2026-12-10

An outbox message is claimed before it is sent (issue 18, "each message once"): `claimed_by` (the watch
that holds it) and `claimed_until` (its lease; a watch that died mid-send lets it go when the lease
expires). A pending message with a live lease is being sent; the status values are unchanged.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010_outbox_claim'
down_revision: str | Sequence[str] | None = '0009_referred'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('claimed_by')
