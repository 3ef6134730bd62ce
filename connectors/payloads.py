"""Reading a tool result: its size over every content kind (capped), its JSON payload (numbers as
Decimal, never float), a page's reported total and as-of, and the error a server reports as text."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

from connectors.audit import holds_secret, secrets_known
from connectors.plain import printable

_SIZE_ENCODER = msgspec.json.Encoder(enc_hook=str)


def _json_bytes(value: Any) -> int:
    try:
        return len(_SIZE_ENCODER.encode(value))
    except (TypeError, ValueError, OverflowError):
        return len(json.dumps(value, default=str).encode("utf-8", "surrogatepass"))


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def result_bytes(result: Any) -> int:
    """The size in UTF-8 bytes of everything a tool result carries: text blocks, structured content,
    embedded resources (text or base64 blob) and image / audio data."""
    total = 0 if result.structured_content is None else _json_bytes(result.structured_content)
    for block in result.content or ():
        for attr in ("text", "data"):
            value = getattr(block, attr, None)
            if isinstance(value, str):
                total += _utf8_len(value)
        resource = getattr(block, "resource", None)
        if resource is not None:
            for attr in ("text", "blob"):
                value = getattr(resource, attr, None)
                if isinstance(value, str):
                    total += _utf8_len(value)
    return total


def _texts(result: Any) -> list[str]:
    """Every text a tool result carries (text blocks, embedded text resources)."""
    texts = []
    for block in result.content or ():
        value = getattr(block, "text", None)
        if isinstance(value, str):
            texts.append(value)
        resource = getattr(block, "resource", None)
        if isinstance(getattr(resource, "text", None), str):
            texts.append(resource.text)
    return texts


def result_holds_secret(result: Any) -> bool:
    """Whether a value closeboard expanded appears anywhere in the result's text or structured
    content (``connectors.audit.holds_secret``: raw, JSON-escaped, URL-encoded or base64)."""
    if not secrets_known():
        return False
    if any(holds_secret(text) for text in _texts(result)):
        return True
    if result.structured_content is None:
        return False
    try:
        return holds_secret(_SIZE_ENCODER.encode(result.structured_content).decode("utf-8", "replace"))
    except (TypeError, ValueError, OverflowError):
        return holds_secret(json.dumps(result.structured_content, default=str))


def check_size(result: Any, limit_bytes: int) -> int:
    """`result_bytes`, or ValueError when it is over `limit_bytes`."""
    nbytes = result_bytes(result)
    if nbytes > limit_bytes:
        raise ValueError(
            f"response of {nbytes:,} bytes exceeds the cap of {limit_bytes:,} bytes "
            f"(client.max_response_bytes); nothing of it was used"
        )
    return nbytes


def parse_payload(result: Any, *, limit_bytes: int) -> tuple[Any, int]:
    """The JSON a tool answered, from structured content or from JSON text content.

    Numbers are parsed as Decimal so an amount sent as a JSON number keeps its digits. The size is
    in bytes over every content kind, refused over `limit_bytes` (the session checks it before any
    decoder runs; this check is for direct callers)."""
    nbytes = check_size(result, limit_bytes)
    if result.structured_content is not None and not _has_text(result):
        return result.structured_content, nbytes
    texts = [c.text for c in result.content if getattr(c, "type", None) == "text"]
    if not texts:
        raise ValueError("the result has neither structured content nor text content")
    text = texts[0] if len(texts) == 1 else "".join(texts)
    try:  # msgspec parses a page ~1.7x faster than json; anything it refuses (NaN, lone surrogates...)
        return _DECODER.decode(text), nbytes  # is read by json, so the result is the same either way
    except msgspec.DecodeError:
        pass
    try:
        return json.loads(text, parse_float=Decimal), nbytes
    except json.JSONDecodeError as exc:
        raise ValueError(f"response is not JSON ({exc.msg} at char {exc.pos}): {text[:120]!r}") from None


def parse_total(value: Any) -> int | None:
    """A page's reported ``total``: None, or a whole number >= 0 (an int, an integral decimal or its
    text). Anything else (Infinity, NaN, 1.5, -3, "many", true) is a ValueError naming the value."""
    if value is None:
        return None
    number: Decimal | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = Decimal(value)
    elif isinstance(value, Decimal | float | str) and not isinstance(value, bool):
        try:
            number = Decimal(str(value).strip()) if isinstance(value, str) else Decimal(value)
        except ArithmeticError:
            number = None
    if number is None or not number.is_finite() or number != number.to_integral_value() or number < 0:
        raise ValueError(f"malformed total {printable(repr(value))[:80]}: expected a whole number >= 0")
    return int(number)


def page_as_of(value: Any) -> str | None:
    """A page's ``as_of`` as it may be stored and shown (Dagster metadata, source_loads): text
    without control characters, at most 64 characters (a timestamp needs fewer)."""
    if value is None:
        return None
    return printable(str(value))[:64] or None


# JSON numbers with a fraction or exponent as Decimal (never float), like json.loads(parse_float=Decimal)
_DECODER = msgspec.json.Decoder(float_hook=Decimal)


def _has_text(result: Any) -> bool:
    return any(getattr(c, "type", None) == "text" for c in result.content)


Decoder = Callable[..., tuple[Any, int]]
"""``decode(result, *, limit_bytes) -> (payload, bytes)``: turns a tool result into a payload; a
``ValueError`` it raises becomes a ConnectorError naming the source and tool."""

_ERROR_TEXT = re.compile(r"^\s*(?:[A-Za-z]+ ){0,3}error\s*:", re.IGNORECASE)


def reported_error(result: Any) -> str | None:
    """The error a result reports: ``isError``, or text content that reads "Error: ..." (many real
    servers, mcp-server-sqlite among them, answer a failure as such text with ``isError`` false)."""
    texts = [getattr(c, "text", "") or "" for c in result.content if getattr(c, "type", None) == "text"]
    if result.is_error:
        return " ".join(texts)[:500] or "(no message)"
    if result.structured_content is None and texts and _ERROR_TEXT.match(texts[0]):
        return " ".join(texts)[:500]
    return None
