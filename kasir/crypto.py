"""AES-256-GCM secret box for keys kept in the database (DESIGN §12), and the masked hint shown in admin.

The 32-byte key comes from KASIR_ENCRYPTION_KEY (base64 or hex) or from `instance/encryption.key`,
generated with mode 0600 on first use. Each value gets its own random 96-bit nonce; the stored form is
`v1:` + base64(nonce + ciphertext + tag), so a later key or algorithm can be told apart.
"""
import base64
import binascii
import os
import re
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

from .config import read_or_create_secret

VERSION_PREFIX = "v1:"
NONCE_BYTES = 12
KEY_FILE_NAME = "encryption.key"
# Secrets stored under the settings key are bound to it: a value copied to another key does not decrypt.
_ASSOCIATED_DATA_PREFIX = b"kasir-setting:"


class DecryptionError(Exception):
    """The stored value cannot be read with this key (key changed, or the value was tampered with)."""


def parse_key(text: str) -> bytes:
    """A 32-byte key from 64 hex digits or base64; ValueError for anything else."""
    text = text.strip()
    if re.fullmatch(r"[0-9a-fA-F]{64}", text):
        return bytes.fromhex(text)
    try:
        key = base64.b64decode(text, validate=True) if text else b""
    except binascii.Error:
        key = b""
    if len(key) != 32:
        raise ValueError("KASIR_ENCRYPTION_KEY must be 32 bytes, as 64 hex digits or base64")
    return key


def load_key(instance: Path, configured: str | None = None) -> bytes:
    configured = configured if configured is not None else os.environ.get("KASIR_ENCRYPTION_KEY", "")
    if configured.strip():
        return parse_key(configured)
    return parse_key(read_or_create_secret(instance / KEY_FILE_NAME, 32))


class SecretBox:
    def __init__(self, key: bytes):
        self._aead = AESGCM(key)

    def encrypt(self, plaintext: str, *, context: str = "") -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), _ASSOCIATED_DATA_PREFIX + context.encode())
        return VERSION_PREFIX + base64.b64encode(nonce + sealed).decode()

    def decrypt(self, stored: str, *, context: str = "") -> str:
        if not stored.startswith(VERSION_PREFIX):
            raise DecryptionError("unknown format")
        try:
            blob = base64.b64decode(stored[len(VERSION_PREFIX):], validate=True)
            plain = self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:],
                                       _ASSOCIATED_DATA_PREFIX + context.encode())
        except (binascii.Error, InvalidTag, ValueError):
            raise DecryptionError("cannot decrypt: wrong key or damaged value") from None
        return plain.decode()


def app_box() -> SecretBox:
    """The box of the running app (key from its config, read once at startup)."""
    return SecretBox(parse_key(current_app.config["KASIR_ENCRYPTION_KEY"]))


# "SB-Mid-server-", "Mid-server-", "xnd_development_": a key's public kind, safe to show.
_KNOWN_PREFIX = re.compile(r"^(?:[A-Za-z]{1,12}[-_]){1,3}")
VISIBLE_TAIL = 4


def mask(secret: str | None) -> str:
    """`SB-Mid-server-****abcd`: the kind of key and its last 4 characters, never more than a quarter of it."""
    if not secret:
        return ""
    prefix_match = _KNOWN_PREFIX.match(secret)
    prefix = prefix_match.group(0) if prefix_match else ""
    rest = secret[len(prefix):]
    if len(rest) < VISIBLE_TAIL * 4:
        return f"{prefix}****"
    return f"{prefix}****{rest[-VISIBLE_TAIL:]}"
