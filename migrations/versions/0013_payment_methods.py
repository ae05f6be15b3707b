"""payments.method (qris, va, link) and payments.instructions (a VA's bank and number, or a link's URL)

Revision ID: 0013_payment_methods
Revises: 0012_leases
Create Date: 2026-12-06 01:10:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013_payment_methods'
down_revision = "0012_leases"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('method', sa.String(length=10), server_default='qris', nullable=False))
        batch_op.add_column(sa.Column('instructions', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_column('instructions')
        batch_op.drop_column('method')
