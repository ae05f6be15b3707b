"""tax: products.tax_exempt; each sale keeps its tax figures and the rule text they came from (docs/tax.md)

Revision ID: 0014_tax
Revises: 0012_leases
Create Date: 2026-12-06 01:15:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0014_tax'
down_revision = "0013_payment_methods"
branch_labels = None
depends_on = None

MONEY = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
SALE_FIGURES = ('service_charge', 'tax_dpp', 'tax_ppn', 'tax_pbjt', 'cash_rounding')


def upgrade():
    # Plain ADD COLUMN (no table rebuild): SQLite would otherwise drop tables other rows point at.
    op.add_column('products', sa.Column('tax_exempt', sa.Boolean(create_constraint=False),
                                        server_default=sa.false(), nullable=False))
    for name in SALE_FIGURES:
        op.add_column('sales', sa.Column(name, MONEY, server_default='0', nullable=False))
    op.add_column('sales', sa.Column('tax_rule', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('sales', schema=None) as batch_op:
        batch_op.drop_column('tax_rule')
        for name in reversed(SALE_FIGURES):
            batch_op.drop_column(name)
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_column('tax_exempt')
