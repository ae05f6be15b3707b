"""Shared fixtures, one module a topic under tests/fixtures/; plain helpers live in tests/support/.

The database is a SQLite file, or with TEST_DATABASE_URL=postgresql+psycopg://… a fresh PostgreSQL database
per test (and per live server), copied from a template that the real migrations built once per session.
"""
pytest_plugins = [
    "fixtures.databases",
    "fixtures.app",
    "fixtures.till",
    "fixtures.api",
    "fixtures.payments",
    "fixtures.days",
    "fixtures.upgrade",
    "fixtures.servers",
    "fixtures.browser",
    "fixtures.smtp",
]
