"""product_imports: a product CSV upserted in batches by a background job, with its progress

Revision ID: 0021_product_imports
Revises: 0020_email_outbox
Create Date: 2026-12-06 04:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0021_product_imports'
down_revision = "0020_email_outbox"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'product_imports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('slot', sa.Integer(), nullable=True),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('total_rows', sa.Integer(), nullable=False),
        sa.Column('rows_done', sa.Integer(), nullable=False),
        sa.Column('created', sa.Integer(), nullable=False),
        sa.Column('updated', sa.Integer(), nullable=False),
        sa.Column('actor', sa.String(length=40), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_product_imports')),
        sa.UniqueConstraint('slot', name=op.f('uq_product_imports_slot')),
    )
    op.create_table(
        'product_import_files',
        sa.Column('import_id', sa.Integer(), nullable=False),
        sa.Column('raw', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['import_id'], ['product_imports.id'],
                                name=op.f('fk_product_import_files_import_id_product_imports'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('import_id', name=op.f('pk_product_import_files')),
    )


def downgrade():
    op.drop_table('product_import_files')
    op.drop_table('product_imports')
