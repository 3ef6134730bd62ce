"""The audit trail of MCP calls and what keeps secrets and terminal tricks out of it.

``CallLog`` holds one ``CallRecord`` per call (a row of ``connector_calls``); a record's error and
arguments are redacted on the way in. ``register_secret`` / ``scrub`` blank every value closeboard
expanded from ``${ENV}``, ``pass_env`` or an ``auth:`` block (raw, JSON-escaped, URL-encoded or
base64) and secret-looking values (bearer tokens, JWTs, API keys); ``holds_secret`` /
``blank_secrets`` screen the records a server sends for those values; ``redact`` blanks arguments
under secret-sounding keys; error text is made printable (``connectors.plain.printable``: no
terminal escape sequences or control characters).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, quote_plus

from connectors.plain import printable

_SECRET_WORDS = ("key", "token", "secret", "password", "authorization", "auth")


@dataclass
class CallRecord:
    """One MCP call: a row of `connector_calls`."""

    source: str
    tool: str
    arguments: str
    page: int | None
    items: int | None
    bytes: int | None
    duration_ms: int
    status: str
    error: str | None = None
    called_at: datetime | None = None  # when the call started (UTC)
    # a call that opened its session (the first, or the first after a reconnect): the opening's time (the
    # server started or reached, `initialize`, the tools listed and verified), not part of `duration_ms`
    session_ms: int | None = None

    def __post_init__(self) -> None:
        if self.called_at is None:
            self.called_at = datetime.now(timezone.utc)


@dataclass
class CallLog:
    records: list[CallRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # things worth telling whoever runs the pull (e.g. tool approval)

    def add(self, record: CallRecord) -> None:
        """Keep `record`; its error and arguments are redacted here, the one way into the log."""
        if record.error is not None:
            record.error = printable(scrub(record.error))
        record.arguments = scrub(record.arguments)
        self.records.append(record)


# values that are secrets whatever their key: an Authorization value, a JWT, vendors' key prefixes
_SECRET_VALUE = re.compile(
    r"(?i)\b(?:bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
    r"|\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{8,}|\b(?:ghp|gho|ghs|xox[abpr])[_-][A-Za-z0-9-]{8,}"
)


MIN_SECRET_CHARS = 4
"""Expanded values shorter than this are not redacted: blanking every "1" or "on" in a message would
destroy it and hides nothing (a secret that short is guessable anyway)."""
_known_secrets: set[str] = set()
_known_pattern: re.Pattern[str] | None = None


def register_secret(value: str | None) -> None:
    """Make `scrub` blank `value` wherever it appears, from now on in this process: every value
    closeboard expands from ``${ENV}`` (server env, headers, args, url) or an ``auth:`` block."""
    global _known_pattern
    if not value or len(value) < MIN_SECRET_CHARS:
        return
    forms = {f for f in secret_forms(value) if len(f) >= MIN_SECRET_CHARS} - _known_secrets
    if forms:
        _known_secrets.update(forms)
        _known_pattern = re.compile("|".join(re.escape(v) for v in sorted(_known_secrets, key=len, reverse=True)))


def secret_forms(value: str) -> set[str]:
    """The ways a server may echo `value`: raw, JSON-escaped, in a repr, URL-encoded, and base64
    (standard and URL-safe, with and without padding)."""
    forms = {value, json.dumps(value)[1:-1], repr(value)[1:-1], quote(value, safe=""), quote_plus(value)}
    raw = value.encode("utf-8", "surrogatepass")
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode("ascii")
        forms |= {text, text.rstrip("=")}
    return forms


def secrets_known() -> bool:
    return bool(_known_secrets)


def holds_secret(text: str) -> bool:
    """Whether `text` holds a value closeboard expanded (any of its forms): a plain substring test
    per form, cheap enough to run over every page a server sends."""
    return any(form in text for form in _known_secrets)


def blank_secrets(value: Any) -> tuple[Any, bool]:
    """`value` (a decoded record: dicts, lists, text) with every value closeboard expanded blanked
    as ``***`` in its text and keys, and whether anything was blanked. Only those values: a record's
    own text that merely looks like a token is data."""
    if _known_pattern is None:
        return value, False
    if isinstance(value, str):
        blanked = _known_pattern.sub("***", value)
        return blanked, blanked != value
    if isinstance(value, dict):
        changed, out = False, {}
        for key, item in value.items():
            new_key, key_changed = blank_secrets(key) if isinstance(key, str) else (key, False)
            new_item, item_changed = blank_secrets(item)
            out[new_key] = new_item
            changed = changed or key_changed or item_changed
        return (out, True) if changed else (value, False)
    if isinstance(value, list | tuple):
        pairs = [blank_secrets(item) for item in value]
        if any(changed for _, changed in pairs):
            return type(value)(item for item, _ in pairs), True
    return value, False


def scrub(text: str) -> str:
    """`text` with secrets blanked: the values closeboard expanded (``register_secret``) and
    secret-looking values (bearer tokens, JWTs, API keys)."""
    if _known_pattern is not None:
        text = _known_pattern.sub("***", text)
    return _SECRET_VALUE.sub("***", text)


class RedactedCause(Exception):
    """Stands in for a cause whose text held a secret (the secret blanked, the chain cut)."""


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: ("***" if any(w in str(k).lower() for w in _SECRET_WORDS) else _redacted(v))
            for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
        }
    if isinstance(value, list | tuple):
        return [_redacted(v) for v in value]
    if isinstance(value, str):
        return scrub(value)
    return value


def redact(arguments: dict[str, Any]) -> str:
    """Arguments as JSON with anything that looks like a secret blanked: values under a key naming a
    key, token, secret, password or authorization (at any depth), and secret-looking values."""
    return json.dumps(_redacted(arguments), separators=(",", ":"), default=str)
