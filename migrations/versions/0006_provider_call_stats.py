"""provider_call_stats: per-minute counts and latency of provider calls, for the payments dashboard

Revision ID: 0006_provider_call_stats
Revises: 0005_shifts
Create Date: 2026-12-01 13:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0006_provider_call_stats'
down_revision = '0005_shifts'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('provider_call_stats',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('minute', sa.DateTime(timezone=True), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('operation', sa.String(length=20), nullable=False),
    sa.Column('calls', sa.Integer(), nullable=False),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.Column('total_ms', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('max_ms', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_call_stats'))
    )
    with op.batch_alter_table('provider_call_stats', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provider_call_stats_minute'), ['minute'], unique=False)


def downgrade():
    with op.batch_alter_table('provider_call_stats', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_provider_call_stats_minute'))
    op.drop_table('provider_call_stats')
