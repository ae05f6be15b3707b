"""stock: per-product low-stock threshold, the stock movements ledger, sales.receipt_token (e-receipt link)

Revision ID: 0016_stock
Revises: 0012_leases
Create Date: 2026-12-06 01:20:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0016_stock'
down_revision = "0015_returns_held"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sales', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receipt_token', sa.String(length=48), nullable=True))
        batch_op.create_index(batch_op.f('ix_sales_receipt_token'), ['receipt_token'], unique=True)
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('low_stock_threshold', sa.Integer(), server_default='0', nullable=False))
    op.create_table(
        'stock_movements',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('change', sa.Integer(), nullable=False),
        sa.Column('stock_after', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.Column('actor', sa.String(length=40), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_stock_movements_product_id_products')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_movements')),
    )
    with op.batch_alter_table('stock_movements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_movements_product_id'), ['product_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_movements_at'), ['at'], unique=False)


def downgrade():
    with op.batch_alter_table('stock_movements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_movements_at'))
        batch_op.drop_index(batch_op.f('ix_stock_movements_product_id'))
    op.drop_table('stock_movements')
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_column('low_stock_threshold')
    with op.batch_alter_table('sales', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sales_receipt_token'))
        batch_op.drop_column('receipt_token')
