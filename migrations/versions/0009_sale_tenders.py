"""sale_tenders: the money taken for a sale (the money rule of a sale, DESIGN §3); existing sales carried over

Revision ID: 0009_sale_tenders
Revises: 0008_webhook_intake_bounds
Create Date: 2026-12-04 17:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009_sale_tenders'
down_revision = '0008_webhook_intake_bounds'
branch_labels = None
depends_on = None

MONEY = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

# One tender per sale closed before tenders existed: it was paid by its one method, in full.
_FIRST_PAID_PAYMENT = """(SELECT p.id FROM payments p WHERE p.sale_id = s.id AND p.status IN ('PAID', 'REFUNDED')
                          ORDER BY p.paid_at, p.created_at LIMIT 1)"""
CARRY_OVER = [
    """INSERT INTO sale_tenders (sale_id, method, amount, tendered, "change", edc_reference, payment_id, cashier_id,
                                 created_at)
       SELECT s.id, 'CASH', s.total, s.tendered, s."change", NULL, NULL, s.cashier_id, COALESCE(s.paid_at, s.created_at)
       FROM sales s WHERE s.status IN ('PAID', 'VOID') AND s.method = 'CASH' AND s.total > 0""",
    """INSERT INTO sale_tenders (sale_id, method, amount, tendered, "change", edc_reference, payment_id, cashier_id,
                                 created_at)
       SELECT s.id, 'DEBIT', s.total, NULL, NULL, s.edc_reference, NULL, s.cashier_id, COALESCE(s.paid_at, s.created_at)
       FROM sales s WHERE s.status IN ('PAID', 'VOID') AND s.method = 'DEBIT' AND s.total > 0""",
    f"""INSERT INTO sale_tenders (sale_id, method, amount, tendered, "change", edc_reference, payment_id, cashier_id,
                                  created_at)
        SELECT s.id, 'QRIS', s.total, NULL, NULL, NULL, {_FIRST_PAID_PAYMENT}, s.cashier_id,
               COALESCE(s.paid_at, s.created_at)
        FROM sales s WHERE s.status IN ('PAID', 'VOID') AND s.method = 'QRIS' AND s.total > 0""",
    # A QRIS tender settles no more than its payment brought in.
    """UPDATE sale_tenders SET amount = (SELECT p.amount FROM payments p WHERE p.id = sale_tenders.payment_id)
       WHERE payment_id IS NOT NULL
         AND (SELECT p.amount FROM payments p WHERE p.id = sale_tenders.payment_id) < amount""",
]


def upgrade():
    op.create_table('sale_tenders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sale_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('amount', MONEY, nullable=False),
    sa.Column('tendered', MONEY, nullable=True),
    sa.Column('change', MONEY, nullable=True),
    sa.Column('edc_reference', sa.String(length=40), nullable=True),
    sa.Column('payment_id', sa.String(length=36), nullable=True),
    sa.Column('cashier_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cashier_id'], ['users.id'], name=op.f('fk_sale_tenders_cashier_id_users')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_sale_tenders_payment_id_payments')),
    sa.ForeignKeyConstraint(['sale_id'], ['sales.id'], name=op.f('fk_sale_tenders_sale_id_sales')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sale_tenders')),
    sa.UniqueConstraint('payment_id', name=op.f('uq_sale_tenders_payment_id'))
    )
    with op.batch_alter_table('sale_tenders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sale_tenders_sale_id'), ['sale_id'], unique=False)
    for statement in CARRY_OVER:
        op.execute(statement)


def downgrade():
    with op.batch_alter_table('sale_tenders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sale_tenders_sale_id'))
    op.drop_table('sale_tenders')
