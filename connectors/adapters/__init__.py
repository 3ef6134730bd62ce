"""Adapters map one MCP server family's tools to canonical records.

An adapter names the tables it feeds, the tool (and fixed arguments) each is read from, the
tools it needs by default, and turns a page of the tool's items into an Arrow batch of
canonical columns (text). It raises `MalformedItem` for an item it cannot read at all;
values that are present but unparseable are left for the warehouse to quarantine.
"""

from __future__ import annotations

from importlib import import_module

from typing import TYPE_CHECKING

from connectors.adapters.base import Adapter, MalformedItem, Mapped, Stream

if TYPE_CHECKING:
    from connectors.config import ConnectorConfig

_REGISTRY = {
    "builtin.erp": "connectors.adapters.builtin:ErpAdapter",
    "builtin.bank": "connectors.adapters.builtin:BankAdapter",
    "builtin.crm": "connectors.adapters.builtin:CrmAdapter",
    "builtin.budget": "connectors.adapters.budget:BudgetAdapter",
    "sql": "connectors.adapters.sql:SqlAdapter",
    "beancount": "connectors.adapters.beancount:BeancountAdapter",
    "xero": "connectors.adapters.xero:XeroAdapter",
    "quickbooks": "connectors.adapters.quickbooks:QuickBooksAdapter",
    "odoo": "connectors.adapters.odoo:OdooAdapter",
    "hubspot": "connectors.adapters.hubspot:HubSpotAdapter",
    "stripe": "connectors.adapters.stripe:StripeAdapter",
}


def get_adapter(name: str) -> Adapter:
    """The adapter registered under `name` (config key `adapter`), or a `module:Class` path."""
    target = _REGISTRY.get(name, name)
    if ":" not in target:
        raise KeyError(f"unknown adapter {name!r}; known: {sorted(_REGISTRY)}")
    module, _, attr = target.partition(":")
    return getattr(import_module(module), attr)()


def adapter_for(config: ConnectorConfig) -> Adapter:
    """The connector's adapter, configured with its `options` (ValueError when they are wrong)."""
    adapter = get_adapter(config.adapter)
    adapter.configure(config)
    return adapter


__all__ = ["Adapter", "MalformedItem", "Mapped", "Stream", "adapter_for", "get_adapter"]
