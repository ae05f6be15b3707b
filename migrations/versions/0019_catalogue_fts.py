"""catalogue_fts: a SQLite FTS5 index over product names for the till's and the admin's search

Revision ID: 0019_catalogue_fts
Revises: 0017_catalogue
Create Date: 2026-12-06 02:20:00.000000

SQLite only (PostgreSQL keeps the LIKE query of kasir.products.search). An external-content FTS5 table
(`products_fts`, rowid = products.id) holds the names; triggers keep it in sync. The models do not know the
table: migrations/env.py leaves it out of autogenerate (include_object).

Caution for later migrations: a `batch_alter_table("products")` on SQLite recreates the products table and
so drops these triggers; such a migration must create them again (TRIGGERS below) and rebuild the index.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0019_catalogue_fts'
down_revision = "0018_returns"
branch_labels = None
depends_on = None

# unicode61 folds case and diacritics like the LIKE search's lower(); prefix='2 3' indexes the short
# prefixes typed while searching as you type (docs/performance.md has the measurement).
CREATE_TABLE = ("CREATE VIRTUAL TABLE products_fts USING fts5(name, content='products', content_rowid='id', "
                "tokenize='unicode61', prefix='2 3')")
TRIGGERS = (
    "CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN "
    "INSERT INTO products_fts(rowid, name) VALUES (new.id, new.name); END",
    "CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN "
    "INSERT INTO products_fts(products_fts, rowid, name) VALUES ('delete', old.id, old.name); END",
    # Only a name change touches the index: stock and price change on every sale.
    "CREATE TRIGGER products_fts_update AFTER UPDATE OF name ON products BEGIN "
    "INSERT INTO products_fts(products_fts, rowid, name) VALUES ('delete', old.id, old.name); "
    "INSERT INTO products_fts(rowid, name) VALUES (new.id, new.name); END",
)


def upgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(CREATE_TABLE)
    for trigger in TRIGGERS:
        op.execute(trigger)
    op.execute("INSERT INTO products_fts(products_fts) VALUES ('rebuild')")


def downgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in ("products_fts_update", "products_fts_delete", "products_fts_insert"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS products_fts")
