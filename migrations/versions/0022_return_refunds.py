"""return refunds: a return's share given back through the gateway to a QRIS payment (kasir/returns.py)

Revision ID: 0022_return_refunds
Revises: 0021_product_imports
Create Date: 2026-12-06 04:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0022_return_refunds'
down_revision = "0021_product_imports"
branch_labels = None
depends_on = None

_MONEY = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    with op.batch_alter_table('sale_returns') as batch_op:
        batch_op.add_column(sa.Column('qris_amount', _MONEY, server_default='0', nullable=False))
        batch_op.add_column(sa.Column('payment_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('refund_key', sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(op.f('fk_sale_returns_payment_id_payments'), 'payments', ['payment_id'], ['id'])
        batch_op.create_unique_constraint(op.f('uq_sale_returns_refund_key'), ['refund_key'])


def downgrade():
    with op.batch_alter_table('sale_returns') as batch_op:
        batch_op.drop_constraint(op.f('uq_sale_returns_refund_key'), type_='unique')
        batch_op.drop_constraint(op.f('fk_sale_returns_payment_id_payments'), type_='foreignkey')
        batch_op.drop_column('refund_key')
        batch_op.drop_column('payment_id')
        batch_op.drop_column('qris_amount')
