"""AES-256-GCM secret box, key handling and masked hints (kasir/crypto.py)."""
import base64
import os
import stat

import pytest

from kasir.crypto import DecryptionError, SecretBox, load_key, mask, parse_key

KEY = bytes(range(32))


def test_round_trip_with_a_fresh_nonce_each_time():
    box = SecretBox(KEY)
    first, second = box.encrypt("SB-Mid-server-abc", context="k"), box.encrypt("SB-Mid-server-abc", context="k")
    assert first != second and first.startswith("v1:") and "abc" not in first
    assert box.decrypt(first, context="k") == box.decrypt(second, context="k") == "SB-Mid-server-abc"


@pytest.mark.parametrize("change", ["key", "context", "tamper", "format"])
def test_anything_else_does_not_decrypt(change):
    sealed = SecretBox(KEY).encrypt("secret-value", context="midtrans_server_key")
    box, context = SecretBox(KEY), "midtrans_server_key"
    if change == "key":
        box = SecretBox(bytes(32))
    elif change == "context":
        context = "xendit_secret_key"
    elif change == "tamper":
        raw = bytearray(base64.b64decode(sealed[3:]))
        raw[-1] ^= 1
        sealed = "v1:" + base64.b64encode(bytes(raw)).decode()
    else:
        sealed = "plain text"
    with pytest.raises(DecryptionError):
        box.decrypt(sealed, context=context)


def test_keys_from_hex_or_base64_only():
    assert parse_key(KEY.hex()) == KEY == parse_key(base64.b64encode(KEY).decode())
    for bad in ("", "short", KEY.hex()[:-2], base64.b64encode(bytes(16)).decode()):
        with pytest.raises(ValueError):
            parse_key(bad)


def test_key_file_is_created_once_with_mode_0600(tmp_path, monkeypatch):
    monkeypatch.delenv("KASIR_ENCRYPTION_KEY", raising=False)
    first = load_key(tmp_path)
    assert load_key(tmp_path) == first and len(first) == 32
    assert stat.S_IMODE(os.stat(tmp_path / "encryption.key").st_mode) == 0o600
    monkeypatch.setenv("KASIR_ENCRYPTION_KEY", KEY.hex())
    assert load_key(tmp_path) == KEY


@pytest.mark.parametrize("secret, hint", [
    ("SB-Mid-server-AbCdEfGhIjKlMnOp1234", "SB-Mid-server-****1234"),
    ("Mid-server-AbCdEfGhIjKlMnOp5678", "Mid-server-****5678"),
    ("xnd_development_P0sT1vEnUmBeRsAnDlEtTeRs9876", "xnd_development_****9876"),
    ("short-tok", "short-****"),
    ("abc", "****"),
    ("", ""),
])
def test_mask_shows_the_kind_and_the_last_four_at_most(secret, hint):
    assert mask(secret) == hint
