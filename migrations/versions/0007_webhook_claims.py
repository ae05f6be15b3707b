"""webhook_events.next_attempt_at: a delivery is claimed (leased) by the request or job processing it

Revision ID: 0007_webhook_claims
Revises: 0006_provider_call_stats
Create Date: 2026-12-01 13:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007_webhook_claims'
down_revision = '0006_provider_call_stats'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_column('next_attempt_at')
