"""portal job leases

Revision ID: 0016_job_leases
Revises: 0015_doses
Create Date: 2026-12-07

Issue 21.2: a worker holds a running job with a lease (`lease_owner`, `lease_expires_at`) that it renews
while it runs; a job whose lease expired is taken over by another worker. Replaces "queue again at start
everything left running", so that several portals and workers can share one database.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016_job_leases'
down_revision: str | Sequence[str] | None = '0015_doses'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('portal_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_owner', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_portal_jobs_lease', ['status', 'lease_expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('portal_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_portal_jobs_lease')
        batch_op.drop_column('lease_expires_at')
        batch_op.drop_column('lease_owner')
