"""Adapters for closeboard's bundled servers (connectors/servers): their items already are
canonical records, so mapping is a column check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import TYPE_CHECKING, Any

from connectors.adapters.base import Adapter, Stream
from connectors.adapters.reports import REPORT_COMPANY_OPTIONS, REPORT_OPTIONS, MonthEndReports, dated_reports
from connectors.adapters.reports import TABLE as REPORT_TABLE
from connectors.client import ConnectorError
from connectors.periods import windows
from connectors.incremental import (
    DAY_DIGEST,
    DIGEST_MODULUS,
    JOURNAL_DIGEST,
    MonthSummary,
    SummaryRow,
    summary_rows,
)

if TYPE_CHECKING:
    from connectors.client import Page, SourceSession
    from connectors.config import ConnectorConfig

TRIAL_BALANCE_TOOL = "get_trial_balance"
JOURNAL_SUMMARY_TOOL = "get_journal_summary"
JOURNAL_DAYS_TOOL = "get_journal_days"


class ErpAdapter(MonthEndReports, Adapter):
    name = "builtin.erp"
    default_tools = (
        "get_company",
        "list_accounts",
        "list_journal_lines",
        "list_invoices",
        "list_bills",
        "list_payments",
        "get_ledger_summary",
        "list_fx_rates",
        TRIAL_BALANCE_TOOL,
        "get_document_summary",
        JOURNAL_SUMMARY_TOOL,
        JOURNAL_DAYS_TOOL,
    )
    company_tool = "get_company"
    summary_tool = "get_ledger_summary"
    windowed_table = "erp_journal_lines"
    # documents by the month they were issued (payments: paid), re-pulled where the month's digest changed
    month_summaries = tuple(
        MonthSummary(f"erp_{kind}", "get_document_summary", column, amounts, {"kind": kind})
        for kind, column, amounts in (
            ("invoices", "issue_date", ("total", "balance")),
            ("bills", "issue_date", ("total", "balance")),
            ("payments", "paid_date", ("amount",)),
        )
    )
    # the ERP's own trial balance (R7) is read at every month-end the report covers
    options = REPORT_OPTIONS
    company_options = REPORT_COMPANY_OPTIONS
    allowed: frozenset[str] = frozenset()

    async def ledger_summary(self, session: SourceSession, *, whole: bool = False) -> Any:
        """The ledger summary and, when get_journal_summary is allow-listed, one more row per month with
        account_id JOURNAL_DIGEST: its lines and, as debit, its lines' digest (modulo DIGEST_MODULUS, a whole
        amount the stored summary holds). A month whose lines changed in any field then shows as changed, and
        the open month is pulled again only when it did (connectors.incremental.stored_baseline). Not
        for a whole pull (`whole`): a server without a kept answer spends seconds on the digests of a
        large journal (~3 s of CPU at 1.1M lines) that the next refresh reads (and then stores) anyway;
        until it has, the open month is pulled as without the tool."""
        payload = await super().ledger_summary(session, whole=whole)
        if JOURNAL_SUMMARY_TOOL not in self.allowed or whole:
            return payload
        items = payload["items"] if isinstance(payload, dict) else payload
        return {"items": [*items, *await self._digests(session, JOURNAL_SUMMARY_TOOL, {}, "period", JOURNAL_DIGEST)]}

    async def day_digests(self, session: SourceSession, months: list[str] | None) -> frozenset[SummaryRow] | None:
        """get_journal_days over each run of `months` (None: the whole journal, one call), when
        allow-listed: a row per day, its lines and, as debit, their digest (modulo DIGEST_MODULUS), as
        `ledger_summary` gives a month's."""
        if JOURNAL_DAYS_TOOL not in self.allowed:
            return None
        asked = [{}] if months is None else [{"date_from": f, "date_to": t} for f, t in windows(months)]
        rows = [row for a in asked for row in await self._digests(session, JOURNAL_DAYS_TOOL, a, "date", DAY_DIGEST)]
        # undated lines have no day: the ledger summary has them pull the journal whole
        return summary_rows(row for row in rows if row["period"] is not None)

    async def _digests(
        self, session: SourceSession, tool: str, arguments: dict[str, Any], key: str, account: str
    ) -> list[dict[str, Any]]:
        """`tool`'s digest items (get_journal_summary's, get_journal_days') as ledger summary rows: period
        (the item's `key`), `account`, its lines and, as debit, its digest modulo DIGEST_MODULUS."""
        session.check_allowed(tool)
        answer, _ = await session.call(tool, arguments)
        try:
            return [
                {
                    "period": item[key],
                    "account_id": account,
                    "lines": item["count"],
                    "debit": int(item["digest"], 16) % DIGEST_MODULUS,
                    "credit": 0,
                }
                for item in self.envelope(Stream("erp_journal_lines", tool), answer).items
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise ConnectorError(session.name, tool, f"unreadable digests: {exc!r}") from None

    def used_tools(self) -> frozenset[str]:
        return super().used_tools() | (self.allowed & {JOURNAL_SUMMARY_TOOL, JOURNAL_DAYS_TOOL})

    def configure(self, config: ConnectorConfig) -> None:
        super().configure(config)
        # exchange rates, the trial balance and the journal summary are read only when allow-listed
        self.allowed = frozenset(config.allow_tools)
        self.configure_report_dates(config.options)

    def streams(self, windows: list[tuple[str, str]] | None = None) -> list[Stream]:
        """Journal lines whole, or one stream per window of months when a refresh is incremental
        (documents are windowed by connectors.pull from their summaries, `month_summaries`); the ERP's
        trial balance then only at the month-ends the windows can reach (`reports_since`)."""
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
            *(
                [Stream(REPORT_TABLE, TRIAL_BALANCE_TOOL, months_from=self.reports_since(windows))]
                if TRIAL_BALANCE_TOOL in self.allowed
                else []
            ),
        ]

    def pages(self, session: SourceSession, stream: Stream) -> AsyncIterator[Page]:
        if stream.table != REPORT_TABLE:
            return super().pages(session, stream)

        async def read(day: date, number: int) -> tuple[list[dict[str, Any]], int | None, str | None, int]:
            payload, nbytes = await session.call(stream.tool, {"date": day.isoformat()}, page=number)
            envelope = self.envelope(stream, payload)
            return envelope.items, envelope.total, envelope.as_of, nbytes

        return dated_reports(session.name, stream.tool, self.report_dates(stream.months_from), read)


class BankAdapter(Adapter):
    name = "builtin.bank"
    default_tools = ("list_bank_accounts", "list_transactions", "get_balances", "get_transaction_summary")
    month_summaries = (
        MonthSummary(
            "bank_transactions",
            "get_transaction_summary",
            "booked_date",
            ("amount",),
            by="bank_account_id",
        ),
    )

    def streams(self) -> list[Stream]:
        return [
            Stream("bank_accounts", "list_bank_accounts"),
            Stream("bank_transactions", "list_transactions"),
            Stream("bank_balances", "get_balances"),
        ]


class CrmAdapter(Adapter):
    name = "builtin.crm"
    default_tools = ("list_opportunities", "get_opportunity_summary")
    # pulled whole again only when the month summary of close_date changed (no date window to pull a month)
    month_summaries = (
        MonthSummary("crm_opportunities", "get_opportunity_summary", "close_date", ("amount",), windowed=False),
    )

    def streams(self) -> list[Stream]:
        return [Stream("crm_opportunities", "list_opportunities")]
