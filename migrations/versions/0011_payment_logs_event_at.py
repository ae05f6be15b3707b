"""payment_logs index on (event, at): the day report finds a day's refunds by event and time

Revision ID: 0011_payment_logs_event_at
Revises: 0010_session_revocation
Create Date: 2026-12-04 18:20:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011_payment_logs_event_at'
down_revision = '0010_session_revocation'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('payment_logs', schema=None) as batch_op:
        batch_op.create_index('ix_payment_logs_event_at', ['event', 'at'], unique=False)


def downgrade():
    with op.batch_alter_table('payment_logs', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_logs_event_at')
