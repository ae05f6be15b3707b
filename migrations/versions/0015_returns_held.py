"""returns_held: held bills (parked carts) of a register

Revision ID: 0015_returns_held
Revises: 0012_leases
Create Date: 2026-12-06 01:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0015_returns_held'
down_revision = "0014_tax"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'held_bills',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('register_id', sa.Integer(), nullable=False),
        sa.Column('cashier_id', sa.Integer(), nullable=True),
        sa.Column('sale_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['register_id'], ['registers.id'], name=op.f('fk_held_bills_register_id_registers')),
        sa.ForeignKeyConstraint(['cashier_id'], ['users.id'], name=op.f('fk_held_bills_cashier_id_users')),
        sa.ForeignKeyConstraint(['sale_id'], ['sales.id'], name=op.f('fk_held_bills_sale_id_sales'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_held_bills')),
        sa.UniqueConstraint('sale_id', name=op.f('uq_held_bills_sale_id')),
    )
    op.create_index(op.f('ix_held_bills_register_id'), 'held_bills', ['register_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_held_bills_register_id'), table_name='held_bills')
    op.drop_table('held_bills')
