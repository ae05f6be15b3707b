"""webhook_rejections (refused deliveries counted, not stored) and webhook_events.transaction_key (replays
under a new event id are duplicates)

Revision ID: 0008_webhook_intake_bounds
Revises: 0007_webhook_claims
Create Date: 2026-12-04 17:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008_webhook_intake_bounds'
down_revision = '0007_webhook_claims'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('webhook_rejections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hour', sa.DateTime(timezone=True), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('samples', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_rejections')),
    sa.UniqueConstraint('hour', 'provider', 'source', 'outcome',
                        name='uq_webhook_rejections_hour_provider_source_outcome')
    )
    with op.batch_alter_table('webhook_rejections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_rejections_hour'), ['hour'], unique=False)
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('transaction_key', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_webhook_events_provider_transaction_key', ['provider', 'transaction_key'])
        batch_op.create_index(batch_op.f('ix_webhook_events_received_at'), ['received_at'], unique=False)


def downgrade():
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_events_received_at'))
        batch_op.drop_constraint('uq_webhook_events_provider_transaction_key', type_='unique')
        batch_op.drop_column('transaction_key')
    with op.batch_alter_table('webhook_rejections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_rejections_hour'))
    op.drop_table('webhook_rejections')
