"""Decoders for servers that answer text rather than JSON (issue 7, "what real servers are like").

- ``python_repr``: mcp-server-sqlite answers ``str(list_of_dicts)``, a Python literal. It is read
  with ``ast.literal_eval`` (no code runs); a float literal becomes the Decimal of its own digits
  (Python prints the shortest text that round-trips), so ``1234.5`` stays 1234.5, never a double.
- ``key_value_blocks``: Xero-style text, one "Key: Value" block per record, blocks separated by a
  blank line.
Both take the tool result's text content; ``result_text`` joins it and enforces the size cap.
"""

from __future__ import annotations

import ast
from decimal import Decimal
from typing import Any


def result_text(result: Any, *, limit_bytes: int) -> str:
    """The text content of a tool result, joined; a ValueError when there is none or too much."""
    texts = [c.text for c in result.content if getattr(c, "type", None) == "text"]
    if not texts:
        raise ValueError("the result has no text content")
    text = texts[0] if len(texts) == 1 else "".join(texts)
    if len(text) > limit_bytes:
        raise ValueError(f"response of {len(text)} bytes exceeds the cap of {limit_bytes} bytes")
    return text


def _exact(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, list | tuple):
        return [_exact(v) for v in value]
    if isinstance(value, dict):
        return {k: _exact(v) for k, v in value.items()}
    return value


def python_repr(text: str) -> Any:
    """A Python literal (``[{'a': 1, 'b': 'x', 'c': None}]``) with floats as exact Decimals."""
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise ValueError(f"response is not a Python literal ({type(exc).__name__}): {text[:120]!r}") from None
    return _exact(value)


def key_value_blocks(text: str) -> list[dict[str, str]]:
    """ "Key: Value" lines, one block per record, blocks separated by blank lines. A line without a
    colon continues the previous value."""
    records: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last: str | None = None
    for line in text.splitlines():
        if not line.strip():
            if current:
                records.append(current)
            current, last = {}, None
            continue
        key, sep, value = line.partition(":")
        if sep and key.strip() and not key.startswith((" ", "\t")):
            last = key.strip()
            current[last] = value.strip()
        elif last is not None:
            current[last] = f"{current[last]}\n{line.strip()}"
        else:
            raise ValueError(f"a line that is not 'Key: Value': {line[:80]!r}")
    if current:
        records.append(current)
    return records
