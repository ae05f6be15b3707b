"""Keep gateway keys, tokens and signatures out of every log line (DESIGN §12).

Known secret values are registered when they are loaded; patterns catch the shapes of keys and headers
we never registered (a key pasted into a form, an Authorization header in a library's debug output).
`install()` redacts each log record once, when it is created, so every handler sees the cleaned text.
"""
import base64
import logging
import re
import threading

REDACTED = "[redacted]"
_MIN_SECRET_LENGTH = 8
_MAX_REGISTERED = 200

_PATTERNS = (
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?(?:basic|bearer)\s+)[A-Za-z0-9+/=._~-]+"),
    re.compile(r"\b(?:SB-)?Mid-(?:server|client)-[A-Za-z0-9_-]+"),
    re.compile(r"\bxnd_(?:development|production|public_development|public_production)_[A-Za-z0-9_-]+"),
    re.compile(r"(?i)((?:signature_key|x-callback-token|x-signature|x-callback-signature)['\"]?\s*[:=]\s*['\"]?)"
               r"[A-Za-z0-9+/=_-]{8,}"),
)

_lock = threading.Lock()
_secrets: set[str] = set()
_longest_first: tuple[str, ...] = ()  # _secrets, sorted once per change rather than on every log line
_installed = False


def register_secret(value: str | None) -> None:
    """Remember a secret (and its Basic-auth form) so that no log line can carry it."""
    if not value or len(value) < _MIN_SECRET_LENGTH:
        return
    global _longest_first
    with _lock:
        if value in _secrets or len(_secrets) >= _MAX_REGISTERED:
            return
        _secrets.add(value)
        _secrets.add(base64.b64encode(f"{value}:".encode()).decode())
        _longest_first = tuple(sorted(_secrets, key=len, reverse=True))


def _keep_label(match: re.Match) -> str:
    return (match.group(1) if match.groups() else "") + REDACTED


def pattern_redactor(patterns: tuple[re.Pattern, ...]):
    """text -> text with what `patterns` match blanked (a pattern's first group, the label, stays).
    Most lines hold nothing: one case-insensitive search over all patterns first finds those that might."""
    might_match = re.compile("|".join(f"(?:{pattern.pattern.removeprefix('(?i)')})" for pattern in patterns),
                             re.IGNORECASE)

    def apply(text: str) -> str:
        if might_match.search(text) is None:
            return text
        for pattern in patterns:
            text = pattern.sub(_keep_label, text)
        return text

    return apply


_redact_patterns = pattern_redactor(_PATTERNS)


def redact(text: str) -> str:
    for secret in _longest_first:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _redact_patterns(text)


def install() -> None:
    """Redact every log record at creation, whatever logger or handler it goes to (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    make_record = logging.getLogRecordFactory()

    def redacting_factory(*args, **kwargs):
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call is logging's own business, not ours
            return record
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return record

    logging.setLogRecordFactory(redacting_factory)
