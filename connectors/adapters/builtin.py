"""Adapters for closeboard's bundled servers (connectors/servers): their items already are
canonical records, so mapping is a column check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from connectors.adapters._vendor import month_ends
from connectors.adapters.base import Adapter, Stream
from connectors.client import ConnectorError, Page

if TYPE_CHECKING:
    from connectors.client import SourceSession
    from connectors.config import ConnectorConfig

TRIAL_BALANCE_TOOL = "get_trial_balance"


class ErpAdapter(Adapter):
    name = "builtin.erp"
    default_tools = (
        "get_company", "list_accounts", "list_journal_lines", "list_invoices", "list_bills",
        "list_payments", "get_ledger_summary", "list_fx_rates", TRIAL_BALANCE_TOOL,
    )
    company_tool = "get_company"
    summary_tool = "get_ledger_summary"
    windowed_table = "erp_journal_lines"
    # the ERP's own trial balance (R7) is read at every month-end the report covers: from the first
    # reported period to the report date (the open month as at that day); company settings by default
    options = ("from_period", "as_of", "timezone")
    company_options = {"from_period": ("first_period", False), "as_of": ("as_of", False),
                       "timezone": ("timezone", False)}
    allowed: frozenset[str] = frozenset()
    from_period: str | None = None
    as_of: date | None = None
    timezone = "UTC"

    def configure(self, config: ConnectorConfig) -> None:
        super().configure(config)
        # exchange rates and the trial balance are read only when allow-listed
        self.allowed = frozenset(config.allow_tools)
        options = config.options
        self.from_period = str(options["from_period"]) if options.get("from_period") else None
        as_of = options.get("as_of")
        self.as_of = date.fromisoformat(str(as_of)) if as_of else None
        self.timezone = str(options.get("timezone") or "UTC")
        ZoneInfo(self.timezone)  # an unknown zone fails at config load

    def report_dates(self) -> list[date]:
        """The month-ends of the reported periods and the report date (the open month's cut-off)."""
        through = self.as_of or datetime.now(ZoneInfo(self.timezone)).date()
        return month_ends(self.from_period, through)[1:] if self.from_period else [through]

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
            *([Stream("erp_trial_balance", TRIAL_BALANCE_TOOL)] if TRIAL_BALANCE_TOOL in self.allowed else []),
        ]

    def pages(self, session: SourceSession, stream: Stream) -> AsyncIterator[Page]:
        if stream.table == "erp_trial_balance":
            return self._trial_balances(session, stream)
        return super().pages(session, stream)

    async def _trial_balances(self, session: SourceSession, stream: Stream) -> AsyncIterator[Page]:
        """One `get_trial_balance` call per report date; each item is dated with its report date."""
        reports = []
        for number, day in enumerate(self.report_dates(), start=1):
            payload, nbytes = await session.call(stream.tool, {"date": day.isoformat()}, page=number)
            envelope = self.envelope(stream, payload)
            if envelope.total is not None and envelope.total != len(envelope.items):
                raise ConnectorError(session.name, stream.tool, f"the trial balance at {day} lists "
                                     f"{len(envelope.items)} accounts but says total {envelope.total}")
            reports.append(([{**item, "balance_date": day.isoformat()} for item in envelope.items],
                            envelope.as_of, number, nbytes))
        total = sum(len(items) for items, *_ in reports)  # each report is whole, in one call
        for items, as_of, number, nbytes in reports:
            yield Page(items, None, total, as_of, number, nbytes)


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
