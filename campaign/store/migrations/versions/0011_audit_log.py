"""audit log

Revision ID: 0011_audit_log
Revises: 0010_outbox_claim
Create Date: 2026-12-10

The audit log (`audit_events`, issue 18 "access"): who did what to what, from where, when and how it ended,
for the coordinators' page and for sign-in throttling per client address (its indexes serve both). And
`portal_users.locks_lifted_at`: when a coordinator last lifted an account's sign-in locks.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011_audit_log'
down_revision: str | Sequence[str] | None = '0010_outbox_claim'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIONS = ('sign_in', 'sign_in_failed', 'sign_out', 'upload', 'read_again', 'withdraw', 'download_feedback',
           'download_report', 'export', 'report_build', 'report_submit', 'approval', 'mappings_reset',
           'account_created', 'account_changed', 'account_disabled', 'password_reset', 'access_denied',
           'audit_purge', 'data_purge')
OUTCOMES = ('ok', 'pending', 'wrong_password', 'unknown_account', 'disabled', 'locked', 'throttled', 'refused',
            'failed')


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=True),
    sa.Column('district_code', sa.String(length=3), nullable=True),
    sa.Column('client', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=160), nullable=True),
    sa.Column('target_type', sa.String(length=16), nullable=True),
    sa.Column('target_id', sa.BigInteger(), nullable=True),
    sa.Column('target_label', sa.String(length=128), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.CheckConstraint(_in('action', ACTIONS), name=op.f('ck_audit_events_action')),
    sa.CheckConstraint(_in('outcome', OUTCOMES), name=op.f('ck_audit_events_outcome')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_action', ['action', 'at'], unique=False)
        batch_op.create_index('ix_audit_events_at', ['at'], unique=False)
        batch_op.create_index('ix_audit_events_client', ['client', 'action', 'at'], unique=False)
        batch_op.create_index('ix_audit_events_district', ['district_code', 'at'], unique=False)
        batch_op.create_index('ix_audit_events_user', ['user_id', 'action', 'at'], unique=False)
    with op.batch_alter_table('portal_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locks_lifted_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('portal_users', schema=None) as batch_op:
        batch_op.drop_column('locks_lifted_at')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_user')
        batch_op.drop_index('ix_audit_events_district')
        batch_op.drop_index('ix_audit_events_client')
        batch_op.drop_index('ix_audit_events_at')
        batch_op.drop_index('ix_audit_events_action')
    op.drop_table('audit_events')
