"""catalogue: an index for the till's search over active products by name

Revision ID: 0017_catalogue
Revises: 0012_leases
Create Date: 2026-12-06 01:20:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0017_catalogue'
down_revision = "0016_stock"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.create_index('ix_products_active_name', ['active', 'name'], unique=False)


def downgrade():
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_index('ix_products_active_name')
