"""Adapters for closeboard's bundled servers (connectors/servers): their items already are
canonical records, so mapping is a column check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.adapters.base import Adapter, Stream

if TYPE_CHECKING:
    from connectors.config import ConnectorConfig


class ErpAdapter(Adapter):
    name = "builtin.erp"
    default_tools = (
        "get_company", "list_accounts", "list_journal_lines", "list_invoices", "list_bills",
        "list_payments", "get_ledger_summary", "list_fx_rates",
    )
    company_tool = "get_company"
    summary_tool = "get_ledger_summary"
    windowed_table = "erp_journal_lines"
    allowed: frozenset[str] = frozenset()

    def configure(self, config: ConnectorConfig) -> None:
        super().configure(config)
        self.allowed = frozenset(config.allow_tools)  # exchange rates are read only when allow-listed

    def streams(self, windows: list[tuple[str, str]] | None = None) -> list[Stream]:
        """Journal lines whole, or one stream per window of months when a refresh is incremental;
        documents are always pulled whole (old documents change balance)."""
        journal = (
            [Stream("erp_journal_lines", "list_journal_lines")]
            if windows is None
            else [Stream("erp_journal_lines", "list_journal_lines", {"date_from": f, "date_to": t}) for f, t in windows]
        )
        return [
            Stream("erp_accounts", "list_accounts"),
            *journal,
            Stream("erp_invoices", "list_invoices"),
            Stream("erp_bills", "list_bills"),
            Stream("erp_payments", "list_payments"),
            *([Stream("erp_fx_rates", "list_fx_rates")] if "list_fx_rates" in self.allowed else []),
        ]


class BankAdapter(Adapter):
    name = "builtin.bank"
    default_tools = ("list_bank_accounts", "list_transactions", "get_balances")

    def streams(self) -> list[Stream]:
        return [
            Stream("bank_accounts", "list_bank_accounts"),
            Stream("bank_transactions", "list_transactions"),
            Stream("bank_balances", "get_balances"),
        ]


class CrmAdapter(Adapter):
    name = "builtin.crm"
    default_tools = ("list_opportunities",)

    def streams(self) -> list[Stream]:
        return [Stream("crm_opportunities", "list_opportunities")]
