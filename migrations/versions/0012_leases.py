"""leases: job leases in their own table, moved out of the `lease:<name>` settings rows

Revision ID: 0012_leases
Revises: 0011_payment_logs_event_at
Create Date: 2026-12-05 09:00:00.000000

"""
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0012_leases'
down_revision = '0011_payment_logs_event_at'
branch_labels = None
depends_on = None

PREFIX = 'lease:'
settings = sa.table('settings', sa.column('key', sa.String), sa.column('value', sa.Text),
                    sa.column('encrypted', sa.Boolean))
leases = sa.table('leases', sa.column('name', sa.String), sa.column('expires_at', sa.DateTime(timezone=True)))
LEASE_SETTINGS = settings.c.key.startswith(PREFIX)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def upgrade():
    op.create_table(
        'leases',
        sa.Column('name', sa.String(length=60), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_leases')),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(settings.c.key, settings.c.value).where(LEASE_SETTINGS)).all()
    if rows:  # a lease's end, stored as ISO text
        connection.execute(leases.insert(), [{'name': key[len(PREFIX):],
                                              'expires_at': _utc(datetime.fromisoformat(value))}
                                             for key, value in rows])
    connection.execute(settings.delete().where(LEASE_SETTINGS))


def downgrade():
    connection = op.get_bind()
    rows = connection.execute(sa.select(leases.c.name, leases.c.expires_at)).all()
    if rows:
        connection.execute(settings.insert(), [{'key': PREFIX + name, 'value': _utc(expires_at).isoformat(),
                                                'encrypted': False} for name, expires_at in rows])
    op.drop_table('leases')
