"""The REAL beancount-mcp server as the tests configure it (through uvx, in its own environment: it
needs mcp<2), and the ledgers the tests hand it (tests/connectors/fixtures/beancount)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

UVX_ARGS = ["--with", "mcp<2", "--from", "beancount-mcp", "beancount-mcp"]
FIXTURES = Path(__file__).parent / "fixtures" / "beancount"


def server(uvx: str, ledger: Path) -> dict[str, Any]:
    """closeboard.yaml's `server:` for beancount-mcp over stdio on `ledger`."""
    return {"command": uvx, "args": [*UVX_ARGS, "--transport", "stdio", str(ledger)]}


def raw_config(uvx: str, ledger: Path, *, allow: list[str] | None = None, **options: Any) -> dict[str, Any]:
    """A closeboard.yaml (parsed) whose only connector is the `beancount` adapter on `ledger`."""
    return {
        "company": {"name": "Beancount Co", "currency": "USD", "first_period": "2026-01"},
        "connectors": {
            "erp": {
                "adapter": "beancount",
                "server": server(uvx, ledger),
                "allow_tools": allow or ["beancount_query"],
                "client": {"call_timeout_s": 120, "retries": 1, "backoff_s": 0.01},
                "options": {"currency": "USD", **options},
            }
        },
    }
