"""API keys: tokens shown once, stored as a SHA-256 hash, identified by a short prefix."""
import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import bindparam, select

from ..clock import utcnow
from ..database import write_transaction
from ..extensions import db
from ..poll_cache import first_row
from .models import ApiKey

TOKEN_PREFIX = "kasir_"
PREFIX_LENGTH = len(TOKEN_PREFIX) + 8
# Writing last_used_at on every request would take the write lock for nothing.
LAST_USED_RESOLUTION = timedelta(minutes=1)


# An app polls with its key each second: the key's row comes through the poll cache. Built once.
_ACTIVE_KEY = select(ApiKey.id, ApiKey.prefix, ApiKey.last_used_at) \
    .where(ApiKey.token_hash == bindparam("token_hash"), ApiKey.revoked_at.is_(None))


class ApiKeyError(ValueError):
    pass


def hash_token(token: str) -> str:
    # 256 random bits need no slow hash: nobody can brute-force the preimage of a SHA-256 of that.
    return hashlib.sha256(token.encode()).hexdigest()


def create_key(name: str) -> tuple[ApiKey, str]:
    """Create a key; returns it with its token, which is not kept anywhere and cannot be shown again."""
    name = " ".join(name.split())
    if not 1 <= len(name) <= 80:
        raise ApiKeyError("Nama API key wajib diisi (maksimal 80 karakter).")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(name=name, prefix=token[:PREFIX_LENGTH], token_hash=hash_token(token))
    db.session.add(key)
    db.session.commit()
    return key, token


def list_keys() -> list[ApiKey]:
    return db.session.scalars(db.select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())).all()


def revoke_key(prefix: str) -> ApiKey:
    key = db.session.scalar(db.select(ApiKey).where(ApiKey.prefix == prefix.strip()))
    if key is None:
        raise ApiKeyError(f"API key dengan awalan '{prefix}' tidak ada.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        db.session.commit()
    return key


def is_token_shaped(token: str) -> bool:
    return token.startswith(TOKEN_PREFIX) and len(token) <= 100


def stamp_is_fresh(last_used_at) -> bool:
    """Whether a key's last-used stamp is recent enough that this request need not write it."""
    return last_used_at is not None and utcnow() - last_used_at <= LAST_USED_RESOLUTION


def authenticate(token: str):
    """The active key for a bearer token (a row of its id, prefix and last_used_at), or None."""
    if not is_token_shaped(token):
        return None
    key = first_row(_ACTIVE_KEY, token_hash=hash_token(token))
    if key is not None and not stamp_is_fresh(key.last_used_at):
        with write_transaction():
            db.session.execute(db.update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=utcnow()))
    return key
