"""`odoo`: Odoo through ``mcp-server-odoo`` (PyPI, github.com/ivnvxd/mcp-server-odoo).

Read from the source of PyPI ``mcp-server-odoo`` 0.8.0 and proved against it, unmodified, in
``tests/connectors/test_adapters_odoo_server.py`` (Odoo 17 replaced by a stand-in that answers
Odoo's external API, ``tests/vendors/odoo/standin.py``):

- The server needs ``mcp<2`` (its own requirement): ``uvx --from mcp-server-odoo==0.8.0
  mcp-server-odoo`` with, in ``env:``, ``ODOO_URL`` and ``ODOO_DB`` and either
  - standard mode (the Odoo "MCP Server" module installed): ``ODOO_API_KEY``. The server checks
    the key at ``/mcp/auth/validate``, asks ``/mcp/models/<model>/access`` before each read (the
    four models must be enabled for read) and calls ``execute_kw`` at ``/mcp/xmlrpc/object``; or
  - ``ODOO_YOLO=read`` (no module, plain ``/xmlrpc/2/common`` + ``/xmlrpc/2/object``):
    ``ODOO_USER`` with ``ODOO_API_KEY`` (an Odoo API key, used as the password) or
    ``ODOO_PASSWORD``. Writes are refused by the server in this mode.
  The server also reads a ``.env`` file in its working directory when there is one.
- ``mcp_server_odoo/tools.py`` registers ``search_records(model, domain, fields, limit, offset,
  order)``, ``get_record``, ``get_fields``, ``list_models``, ``aggregate_records``, ... (readOnlyHint)
  and the writes ``create_record``, ``update_record``, ``delete_record``, ``post_message``, which
  this adapter never declares (a config allow-listing them is refused; they are never called).
- ``search_records`` runs Odoo's ``search(domain, limit, offset, order)``, then
  ``search_count(domain)`` (``total``), then ``read(ids, fields)``, and answers ``SearchResult``
  ``{records, total, limit, offset, model, note}`` as structured content and the same JSON as
  text. ``limit`` is capped at ``ODOO_MCP_MAX_LIMIT`` (default 100) and echoed back; ``offset`` is
  refused beyond ``max(1000 * limit, 10000)`` (``config.max_offset_for``), so offset paging cannot
  read more than 100,000 journal items at the default limit. Records are Odoo ``read()`` output: a
  many2one is ``[id, "display name"]``, an empty field ``false``, money a JSON number (read as
  Decimal, never a float), a date ``"YYYY-MM-DD"``.
- errors raise ``ValidationError`` -> an ``isError`` result (the client reports it), e.g.
  "Access denied: Model 'account.payment' is not enabled for MCP access." or Odoo's own message.

Paging: by id, never by offset: each call asks for ``domain + [["id", ">", last id read]]``,
``order: "id asc"``, ``limit: options.page_size``, offset 0. The first answer's ``total`` is the
stream's total; on every later page the records read so far plus that page's ``total`` (the records
left) must equal it, and the pull must end with exactly that many, else the source fails naming the
tool (the data changed during the pull: a move reset to draft, an entry posted; worth a retry). A
server that capped the page below ``options.page_size`` is named (the echoed limit is checked).

Mapping (Odoo 16+ ``account_type``; docs/adapters.md):
- ``erp_accounts`` from ``account.account``: ``account_id`` is the Odoo id (what move lines carry).
  asset_cash asset/cash, asset_receivable asset/ar, asset_current, asset_non_current,
  asset_prepayments, asset_fixed asset; liability_payable liability/ap, liability_current,
  liability_credit_card liability, liability_non_current liability/debt; equity,
  equity_unaffected equity; income, income_other revenue; expense, expense_depreciation expense,
  expense_direct_cost expense/cogs; off_balance and unknown types are quarantined. Currency: the
  account's currency, else ``options.currency`` (the company currency).
- ``erp_journal_lines`` from ``account.move.line`` of posted moves (``parent_state = posted``:
  draft and cancelled moves' items are never read): entry_id the move id, line_no the line id,
  posted_date the line's ``date`` (the move's accounting date), debit/credit as Odoo keeps them
  (company currency, ``company_currency_id``), ``amount_currency`` when the line's currency
  differs; the partner is the customer on customer documents (out_*) and on receivable lines, the
  vendor on vendor documents (in_*) and on payable lines (so a payment's receivable line names its
  customer), and the document is the move itself for invoices, bills and refunds.
- ``erp_invoices`` / ``erp_bills`` from ``account.move`` (out_invoice/out_refund,
  in_invoice/in_refund; posted or cancelled, drafts are not read): refunds are credit notes with
  negative totals; total ``amount_total`` and balance ``amount_residual`` in the document's
  currency; status cancel void, residual 0 paid, else open.
- ``erp_payments`` from ``account.payment`` (not draft/cancelled): the document is the one
  invoice or bill it reconciles; none is unapplied cash; a payment reconciled with several
  documents is quarantined (the split is in ``account.partial.reconcile``, not read here).
  Inbound from a customer / outbound to a vendor is a payment, the reverse a refund.
- ``erp_trial_balance`` (R7), when ``aggregate_records`` is allow-listed: the ledger's own balances,
  one grouped read per month-end (``reports.MonthEndReports``: ``options.from_period`` / ``as_of`` /
  ``timezone``, from ``company:`` by default) of posted ``account.move.line`` dated up to that day,
  grouped by ``account_id``, summing ``debit`` and ``credit``: ``aggregate_records(model,
  groupby=["account_id"], aggregates=["debit:sum", "credit:sum"], domain=[["parent_state", "=",
  "posted"], ["date", "<=", day]], order="account_id", limit, offset)``. On Odoo < 19 the server
  calls ``read_group(domain, fields=aggregates, groupby, limit=limit + 1, offset, lazy=False,
  orderby)`` and answers ``{groups: [{account_id: [id, name], __count, "debit:sum", "credit:sum",
  __extra_domain}], model, groupby, aggregates, has_more, next_hint}`` (``formatted_read_group`` on
  19+, the same shape); ``limit`` is capped at ``ODOO_MCP_MAX_LIMIT``. This is one SQL aggregate on
  Odoo's side, so it sees the posted lines the paged ``search_records`` journal read may not be
  served (a record rule or search override on the user's journals, a filter): R7 then fails naming
  the accounts. Groups are paged by ``offset`` while ``has_more``; a report read in several pages is
  checked against one ungrouped read of the same domain (count, Σdebit, Σcredit), so groups shifting
  between pages fail the pull as "the data changed". Sums arrive as JSON numbers (Odoo sends the
  Postgres ``numeric`` sum as a float) and are read as Decimal, as whole cents.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from connectors.adapters._vendor import Unmappable, iso_date, map_each, money, optional_date, text
from connectors.adapters.base import Adapter, Mapped, Stream
from connectors.adapters.paging import Envelope, Paging
from connectors.adapters.reports import REPORT_COMPANY_OPTIONS, REPORT_OPTIONS, MonthEndReports, dated_reports
from connectors.adapters.reports import TABLE as REPORT_TABLE
from connectors.client import ConnectorError, Page

if TYPE_CHECKING:
    from connectors.client import SourceSession
    from connectors.config import ConnectorConfig

TOOL = "search_records"
AGGREGATE_TOOL = "aggregate_records"  # the ledger's own balances per account (R7's erp_trial_balance)
TB_ARGUMENTS = {
    "model": "account.move.line",
    "domain": [["parent_state", "=", "posted"]],
    "groupby": ["account_id"],
    "aggregates": ["debit:sum", "credit:sum"],
    "order": "account_id",
}
CENT = Decimal("0.01")
ACCOUNT_TYPES: dict[str, tuple[str, str | None]] = {
    "asset_cash": ("asset", "cash"),
    "asset_receivable": ("asset", "ar"),
    "asset_current": ("asset", None),
    "asset_non_current": ("asset", None),
    "asset_prepayments": ("asset", None),
    "asset_fixed": ("asset", None),
    "liability_payable": ("liability", "ap"),
    "liability_current": ("liability", None),
    "liability_credit_card": ("liability", None),
    "liability_non_current": ("liability", "debt"),
    "equity": ("equity", None),
    "equity_unaffected": ("equity", None),
    "income": ("revenue", None),
    "income_other": ("revenue", None),
    "expense": ("expense", None),
    "expense_depreciation": ("expense", None),
    "expense_direct_cost": ("expense", "cogs"),
}
# an invoice and a bill are both an account.move: the same fields, told apart by move_type
_DOCUMENT_FIELDS = [
    "id",
    "name",
    "move_type",
    "partner_id",
    "invoice_date",
    "invoice_date_due",
    "amount_total",
    "amount_residual",
    "currency_id",
    "state",
]
MODELS = {
    "erp_accounts": ("account.account", [], ["id", "code", "name", "account_type", "currency_id"]),
    "erp_journal_lines": (
        "account.move.line",
        [["parent_state", "=", "posted"]],
        [
            "id",
            "move_id",
            "date",
            "account_id",
            "debit",
            "credit",
            "currency_id",
            "amount_currency",
            "company_currency_id",
            "name",
            "partner_id",
            "move_type",
            "account_type",
        ],
    ),
    "erp_invoices": (
        "account.move",
        [["move_type", "in", ["out_invoice", "out_refund"]], ["state", "in", ["posted", "cancel"]]],
        _DOCUMENT_FIELDS,
    ),
    "erp_bills": (
        "account.move",
        [["move_type", "in", ["in_invoice", "in_refund"]], ["state", "in", ["posted", "cancel"]]],
        _DOCUMENT_FIELDS,
    ),
    "erp_payments": (
        "account.payment",
        [["state", "not in", ["draft", "cancel", "canceled", "rejected"]]],
        [
            "id",
            "name",
            "date",
            "amount",
            "currency_id",
            "payment_type",
            "partner_type",
            "reconciled_invoice_ids",
            "reconciled_bill_ids",
        ],
    ),
}


def _m2o(value: Any) -> tuple[str, str | None] | None:
    """A many2one ``[id, "name"]`` (``false`` when empty) as (id text, name)."""
    if value in (False, None):
        return None
    if isinstance(value, list) and value and isinstance(value[0], int | str):
        return str(value[0]), (str(value[1]) if len(value) > 1 else None)
    raise Unmappable(f"{value!r} is not a many2one [id, name]")


def _str(value: Any) -> str | None:
    return None if value in (False, None) else str(value)


def _cents(value: Any, what: str) -> Decimal:
    """A sum as whole cents: the Decimal of the digits sent (never a float); SQL NULL (False) is 0."""
    amount = Decimal(0) if value is False or value is None else money(value, what)
    cents = amount.quantize(CENT, rounding=ROUND_HALF_EVEN)
    if abs(amount - cents) > Decimal("0.000001"):
        raise Unmappable(f"{what} {value!r} is not a whole number of cents")
    if len(cents.as_tuple().digits) > 15:
        raise Unmappable(f"{what} {value!r} has more significant digits than the float Odoo sends it as keeps")
    return cents


class OdooAdapter(MonthEndReports, Adapter):
    name = "odoo"
    # aggregate_records is read when allow-listed: the ledger's own trial balance for R7
    default_tools = (TOOL, AGGREGATE_TOOL)
    options = ("currency", "page_size", *REPORT_OPTIONS)
    company_options = REPORT_COMPANY_OPTIONS
    allowed: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.currency: str | None = None
        self.page_size = 100

    def configure(self, config: ConnectorConfig) -> None:
        super().configure(config)
        self.allowed = frozenset(config.allow_tools)
        self.configure_report_dates(config.options)
        currency = config.options.get("currency")
        if currency is not None and not (isinstance(currency, str) and len(currency) == 3):
            raise ValueError("options.currency: the company currency code (e.g. EUR)")
        self.currency = currency
        self.page_size = int(config.options.get("page_size", 100))
        if self.page_size < 1:
            raise ValueError("options.page_size: at least 1 (the server caps it at ODOO_MCP_MAX_LIMIT, default 100)")

    def read_tools(self) -> frozenset[str]:
        return frozenset({TOOL, AGGREGATE_TOOL, "get_record", "list_models"})

    def streams(self) -> list[Stream]:
        return [
            *(
                Stream(table, TOOL, {"model": model, "domain": domain, "fields": fields, "order": "id asc"})
                for table, (model, domain, fields) in MODELS.items()
            ),
            *([Stream(REPORT_TABLE, AGGREGATE_TOOL, TB_ARGUMENTS)] if AGGREGATE_TOOL in self.allowed else []),
        ]

    def envelope(self, stream: Stream, payload: Any) -> Envelope:
        if not isinstance(payload, dict) or not isinstance(payload.get("records"), list) or "total" not in payload:
            raise ValueError("the answer is not {records: [...], total, limit, offset, model}")
        limit = payload.get("limit")
        if isinstance(limit, int) and limit < self.page_size and len(payload["records"]) == limit:
            raise ValueError(
                f"the server capped the page at {limit} records (ODOO_MCP_MAX_LIMIT): "
                f"set options.page_size to {limit} or less"
            )
        return Envelope(payload["records"], total=int(payload["total"]))

    def pages(self, session: SourceSession, stream: Stream) -> AsyncIterator[Page]:
        if stream.table != REPORT_TABLE:
            return self._records(session, stream)
        calls = 0

        async def read(day: date, number: int) -> tuple[list[dict[str, Any]], int | None, str | None, int]:
            nonlocal calls
            try:
                rows, nbytes, calls = await self._trial_balance(session, stream, day, calls)
            except Unmappable as exc:
                raise ConnectorError(session.name, stream.tool, f"the trial balance at {day}: {exc}") from None
            except ConnectorError as exc:
                if type(exc) is not ConnectorError:  # ToolNotAllowed, AuthRequired: as they are
                    raise
                raise ConnectorError(
                    exc.source, exc.tool, f"the trial balance at {day}: {exc.cause}", transient=exc.transient
                ) from None
            return rows, None, None, nbytes

        return dated_reports(session.name, stream.tool, self.report_dates(), read)

    async def _trial_balance(
        self, session: SourceSession, stream: Stream, day: date, calls: int
    ) -> tuple[list[dict[str, Any]], int, int]:
        """The ledger's balances at ``day``, one row per account: the groups page by page (offset),
        then, when it took more than one page, one ungrouped read that the pages must add up to.
        Returns the rows, the bytes read and the running number of calls (the caller, ``pages``,
        names the day in every error)."""
        tool, arguments = stream.tool, dict(stream.arguments)
        arguments["domain"] = [*arguments["domain"], ["date", "<=", day.isoformat()]]
        rows: dict[str, dict[str, Any]] = {}
        count, debit, credit, nbytes, offset = 0, Decimal(0), Decimal(0), 0, 0

        def changed(detail: str) -> ConnectorError:
            return ConnectorError(session.name, tool, f"{detail} (the data changed during the pull)", transient=True)

        pages = 0
        while True:
            pages += 1
            if pages > session.config.client.max_pages:
                raise ConnectorError(
                    session.name,
                    tool,
                    f"more than {session.config.client.max_pages} pages of {self.page_size} accounts",
                )
            calls += 1
            payload, size = await session.call(
                tool, {**arguments, "limit": self.page_size, "offset": offset}, page=calls
            )
            nbytes += size
            groups, more = self._groups(payload)
            for group in groups:
                account, n, d, c = self._group(group)
                count, debit, credit = count + n, debit + d, credit + c
                if account is None:  # section and note lines carry no account and no amount
                    if d or c:
                        raise Unmappable(f"{n} posted journal items without an account carry debit {d} and credit {c}")
                    continue
                if account in rows:
                    raise changed(f"account {account} is in two pages of groups")
                rows[account] = {"account_id": account, "debit": text(d), "credit": text(c)}
            offset += len(groups)
            if not more:
                break
            if not groups:
                raise Unmappable("the server says more groups follow (has_more) but sent none")
        if pages > 1:  # paged by offset: an account first posted to between pages shifts them
            calls += 1
            whole = {k: v for k, v in arguments.items() if k != "order"}
            payload, size = await session.call(tool, {**whole, "groupby": [], "limit": 1}, page=calls)
            nbytes += size
            groups, _ = self._groups(payload)
            if len(groups) != 1:
                raise Unmappable(f"the ungrouped read answered {len(groups)} groups, not 1")
            _, n, d, c = self._group(groups[0], grouped=False)
            if (n, d, c) != (count, debit, credit):
                raise changed(
                    f"{pages} pages of groups add up to {count} items, debit {debit}, credit {credit}, "
                    f"but the ledger's totals are {n} items, debit {d}, credit {c}"
                )
        return list(rows.values()), nbytes, calls

    @staticmethod
    def _groups(payload: Any) -> tuple[list[Any], bool]:
        if (
            not isinstance(payload, dict)
            or not isinstance(payload.get("groups"), list)
            or not isinstance(payload.get("has_more", False), bool)
        ):
            raise Unmappable("the answer is not {groups: [...], model, groupby, aggregates, has_more}")
        return payload["groups"], payload.get("has_more", False)

    @staticmethod
    def _group(group: Any, *, grouped: bool = True) -> tuple[str | None, int, Decimal, Decimal]:
        """(account id, item count, Σdebit, Σcredit) of one group."""
        if not isinstance(group, dict) or not all(k in group for k in ("__count", "debit:sum", "credit:sum")):
            raise Unmappable(f"a group without __count, debit:sum and credit:sum: {str(group)[:200]}")
        account = None
        if grouped:
            if "account_id" not in group:
                raise Unmappable(f"a group without account_id: {str(group)[:200]}")
            m2o = _m2o(group["account_id"])
            account = m2o[0] if m2o else None
        count = group["__count"]
        if (
            isinstance(count, bool)
            or not isinstance(count, int | Decimal)
            or (isinstance(count, Decimal) and not count.is_finite())
            or count < 0
            or count != int(count)
        ):
            raise Unmappable(f"account {account}: __count {count!r} is not a number of journal items")
        what = f"account {account}: " if grouped else "the ledger's total "
        return (
            account,
            int(count),
            _cents(group["debit:sum"], f"{what}debit"),
            _cents(group["credit:sum"], f"{what}credit"),
        )

    async def _records(self, session: SourceSession, stream: Stream) -> AsyncIterator[Page]:
        """Keyset pages by id (``id > last``, ``id asc``): no offset, so nothing shifts under the pull
        and the server's offset cap never applies; the totals must agree page after page."""
        model, domain = stream.arguments["model"], list(stream.arguments["domain"])
        last, fetched, total = 0, 0, None

        def changed(detail: str) -> ConnectorError:
            return ConnectorError(
                session.name, TOOL, f"{model}: {detail} (the data changed during the pull)", transient=True
            )

        for number in range(1, session.config.client.max_pages + 1):
            arguments = dict(stream.arguments, domain=[*domain, ["id", ">", last]], limit=self.page_size, offset=0)
            env, nbytes = await Paging.fetch(session, self, stream, arguments, number)
            ids = [r.get("id") if isinstance(r, dict) else None for r in env.items]
            if (
                not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
                or ids != sorted(set(ids))
                or (ids and ids[0] <= last)
                or len(ids) > self.page_size
            ):
                raise ConnectorError(
                    session.name,
                    TOOL,
                    f"{model} page {number}: not at most {self.page_size} "
                    f"records in ascending id order after id {last}: ids {ids[:5]}...",
                )
            if env.total is None:
                raise ConnectorError(session.name, TOOL, f"{model} page {number}: no total")
            if total is None:
                total = env.total
            elif fetched + env.total != total:
                raise changed(
                    f"{fetched} records read and {env.total} left after id {last}, "
                    f"but the first page reported a total of {total}"
                )
            fetched += len(ids)
            last = ids[-1] if ids else last
            yield Page(env.items, None, total, env.as_of, number, nbytes)
            if len(ids) < self.page_size or fetched >= total:
                if fetched != total:
                    raise changed(f"read {fetched} records but the server reported a total of {total}")
                return
        raise ConnectorError(session.name, TOOL, f"{model}: more than {session.config.client.max_pages} pages")

    def map_items(self, stream: Stream, items: Sequence[Any]) -> Mapped:
        if stream.table == REPORT_TABLE:  # read whole or failed in pages(): already canonical rows
            return Mapped(self.to_batch(stream, items))
        one = {
            "erp_accounts": self._account,
            "erp_journal_lines": self._line,
            "erp_invoices": self._document,
            "erp_bills": self._document,
            "erp_payments": self._payment,
        }[stream.table]
        return map_each(stream.table, f"{TOOL} {stream.arguments['model']}", items, one)

    def _account(self, r: dict[str, Any]) -> dict[str, Any]:
        kind = r.get("account_type")
        if kind not in ACCOUNT_TYPES:
            raise Unmappable(f"account_type {kind!r} is not a balance sheet or P&L type this adapter maps")
        currency = _m2o(r.get("currency_id"))
        ccy = currency[1] if currency else self.currency
        if not ccy:
            raise Unmappable("no account currency and no options.currency (the company currency)")
        type_, subtype = ACCOUNT_TYPES[kind]
        return {
            "account_id": str(r["id"]),
            "name": " ".join(x for x in (_str(r.get("code")), _str(r.get("name"))) if x),
            "type": type_,
            "subtype": subtype,
            "currency": ccy,
            "parent_id": None,
        }

    def _line(self, r: dict[str, Any]) -> dict[str, Any]:
        move, account = _m2o(r.get("move_id")), _m2o(r.get("account_id"))
        if move is None or account is None:
            raise Unmappable("a journal item without its move or account")
        company = _m2o(r.get("company_currency_id"))
        currency = company[1] if company else self.currency
        if not currency:
            raise Unmappable("no company_currency_id and no options.currency")
        line_currency = _m2o(r.get("currency_id"))
        foreign = line_currency is not None and line_currency[1] != currency
        debit, credit = money(r.get("debit"), "debit"), money(r.get("credit"), "credit")
        if debit < 0 or credit < 0:
            raise Unmappable("a negative debit or credit")
        partner = _m2o(r.get("partner_id"))
        move_type, account_type = r.get("move_type") or "entry", r.get("account_type")
        customer = (
            partner[0] if partner and (move_type.startswith("out_") or account_type == "asset_receivable") else None
        )
        vendor = (
            partner[0] if partner and (move_type.startswith("in_") or account_type == "liability_payable") else None
        )
        return {
            "entry_id": move[0],
            "line_no": str(r["id"]),
            "posted_date": iso_date(r.get("date"), "date"),
            "account_id": account[0],
            "debit": text(debit),
            "credit": text(credit),
            "currency": currency,
            "amount_currency": text(money(r.get("amount_currency"), "amount_currency")) if foreign else None,
            "description": _str(r.get("name")),
            "customer_id": customer,
            "vendor_id": vendor,
            "document_id": move[0] if move_type != "entry" else None,
        }

    def _document(self, r: dict[str, Any]) -> dict[str, Any]:
        move_type = r.get("move_type")
        if move_type not in ("out_invoice", "out_refund", "in_invoice", "in_refund"):
            raise Unmappable(f"move_type {move_type!r} is not an invoice, bill or refund")
        partner, currency = _m2o(r.get("partner_id")), _m2o(r.get("currency_id"))
        if partner is None:
            raise Unmappable("a document without a partner")
        if currency is None:
            raise Unmappable("a document without a currency")
        total, residual = (
            money(r.get("amount_total"), "amount_total"),
            money(r.get("amount_residual"), "amount_residual"),
        )
        sign = Decimal(-1) if move_type.endswith("refund") else Decimal(1)
        status = "void" if r.get("state") == "cancel" else ("paid" if residual == 0 else "open")
        party = "customer" if move_type.startswith("out_") else "vendor"
        key = "invoice_id" if party == "customer" else "bill_id"
        return {
            key: str(r["id"]),
            f"{party}_id": partner[0],
            f"{party}_name": partner[1],
            "issue_date": iso_date(r.get("invoice_date"), "invoice_date"),
            "due_date": optional_date(r.get("invoice_date_due"), "invoice_date_due"),
            "total": text(sign * total),
            "balance": text(sign * residual),
            "currency": currency[1],
            "status": status,
            "doc_type": "credit_note" if move_type.endswith("refund") else "invoice",
            "voided_date": None,
        }

    def _payment(self, r: dict[str, Any]) -> dict[str, Any]:
        documents = [*(r.get("reconciled_invoice_ids") or []), *(r.get("reconciled_bill_ids") or [])]
        if len(documents) > 1:
            raise Unmappable(
                f"reconciled with {len(documents)} documents: the split per document is in "
                "account.partial.reconcile, which this adapter does not read"
            )
        currency = _m2o(r.get("currency_id"))
        if currency is None:
            raise Unmappable("a payment without a currency")
        direction = (r.get("partner_type"), r.get("payment_type"))
        kind = {
            ("customer", "inbound"): "payment",
            ("supplier", "outbound"): "payment",
            ("customer", "outbound"): "refund",
            ("supplier", "inbound"): "refund",
        }.get(direction)
        if kind is None:
            raise Unmappable(f"partner_type/payment_type {direction} is not a customer or vendor payment")
        return {
            "payment_id": str(r["id"]),
            "line_no": "1",
            "document_id": str(documents[0]) if documents else None,
            "paid_date": iso_date(r.get("date"), "date"),
            "amount": text(money(r.get("amount"), "amount")),
            "currency": currency[1],
            "kind": kind,
        }
