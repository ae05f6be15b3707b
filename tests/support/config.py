"""Settings every test shares: the project's folders, the demo logins, the base app config, SQLite or PostgreSQL."""
import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
ADMIN = ("owner", "rahasia-toko-1")
CASHIER = ("siti", "2468")
# postgresql+psycopg://user@127.0.0.1:port/db: run the suite on PostgreSQL (.ci/postgres starts a cluster).
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgresql")


def sqlite_only(reason: str):
    """Mark a test about the SQLite file itself (backup copy, power cut, …): skipped on PostgreSQL."""
    return pytest.mark.skipif(ON_POSTGRES, reason=f"SQLite only: {reason}")


BASE_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret",
    "RATELIMIT_ENABLED": False,
    "WTF_CSRF_ENABLED": False,
    "JOBS_ENABLED": False,
}
