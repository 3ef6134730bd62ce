"""The audit trail of MCP calls and what keeps secrets and terminal tricks out of it.

``CallLog`` holds one ``CallRecord`` per call (a row of ``connector_calls``); a record's error and
arguments are redacted on the way in. ``register_secret`` / ``scrub`` blank every value closeboard
expanded from ``${ENV}`` or an ``auth:`` block and secret-looking values (bearer tokens, JWTs, API
keys); ``redact`` blanks arguments under secret-sounding keys; ``printable`` strips terminal escape
sequences and control characters from server text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

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
    forms = {value, json.dumps(value)[1:-1], repr(value)[1:-1]}  # as echoed raw, in JSON or in a repr
    forms = {f for f in forms if len(f) >= MIN_SECRET_CHARS} - _known_secrets
    if forms:
        _known_secrets.update(forms)
        _known_pattern = re.compile("|".join(re.escape(v) for v in sorted(_known_secrets, key=len, reverse=True)))


def scrub(text: str) -> str:
    """`text` with secrets blanked: the values closeboard expanded (``register_secret``) and
    secret-looking values (bearer tokens, JWTs, API keys)."""
    if _known_pattern is not None:
        text = _known_pattern.sub("***", text)
    return _SECRET_VALUE.sub("***", text)


# ESC sequences (CSI, OSC, two-character), C0/C1 controls other than tab and newline, DEL, and the
# bidirectional overrides that make text read differently from what it is
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?|\x9b[0-?]*[ -/]*[@-~]"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)


def printable(text: str) -> str:
    """`text` (server text) without terminal escape sequences and control characters, so printing
    it cannot move the cursor, recolour or retitle a terminal. Escape markup separately."""
    return _CONTROL.sub("", text)


class RedactedCause(Exception):
    """Stands in for a cause whose text held a secret (the secret blanked, the chain cut)."""


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("***" if any(w in str(k).lower() for w in _SECRET_WORDS) else _redacted(v))
                for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_redacted(v) for v in value]
    if isinstance(value, str):
        return scrub(value)
    return value


def redact(arguments: dict[str, Any]) -> str:
    """Arguments as JSON with anything that looks like a secret blanked: values under a key naming a
    key, token, secret, password or authorization (at any depth), and secret-looking values."""
    return json.dumps(_redacted(arguments), separators=(",", ":"), default=str)
