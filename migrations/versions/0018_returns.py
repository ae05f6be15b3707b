"""returns: goods brought back from a paid sale and the refund given (kasir/returns.py)

Revision ID: 0018_returns
Revises: 0017_catalogue
Create Date: 2026-12-06 02:20:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0018_returns'
down_revision = "0017_catalogue"
branch_labels = None
depends_on = None

_MONEY = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table(
        'sale_returns',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sale_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('method', sa.String(length=10), nullable=False),
        sa.Column('amount', _MONEY, nullable=False),
        sa.Column('cashier_id', sa.Integer(), nullable=True),
        sa.Column('approver_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['sale_id'], ['sales.id'], name=op.f('fk_sale_returns_sale_id_sales')),
        sa.ForeignKeyConstraint(['cashier_id'], ['users.id'], name=op.f('fk_sale_returns_cashier_id_users')),
        sa.ForeignKeyConstraint(['approver_id'], ['users.id'], name=op.f('fk_sale_returns_approver_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sale_returns')),
    )
    op.create_index(op.f('ix_sale_returns_sale_id'), 'sale_returns', ['sale_id'], unique=False)
    op.create_index(op.f('ix_sale_returns_created_at'), 'sale_returns', ['created_at'], unique=False)
    op.create_table(
        'sale_return_items',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('return_id', sa.Integer(), nullable=False),
        sa.Column('sale_item_id', sa.Integer(), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('amount', _MONEY, nullable=False),
        sa.ForeignKeyConstraint(['return_id'], ['sale_returns.id'],
                                name=op.f('fk_sale_return_items_return_id_sale_returns'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['sale_item_id'], ['sale_items.id'],
                                name=op.f('fk_sale_return_items_sale_item_id_sale_items')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sale_return_items')),
    )
    op.create_index(op.f('ix_sale_return_items_return_id'), 'sale_return_items', ['return_id'], unique=False)
    op.create_index(op.f('ix_sale_return_items_sale_item_id'), 'sale_return_items', ['sale_item_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_sale_return_items_sale_item_id'), table_name='sale_return_items')
    op.drop_index(op.f('ix_sale_return_items_return_id'), table_name='sale_return_items')
    op.drop_table('sale_return_items')
    op.drop_index(op.f('ix_sale_returns_created_at'), table_name='sale_returns')
    op.drop_index(op.f('ix_sale_returns_sale_id'), table_name='sale_returns')
    op.drop_table('sale_returns')
