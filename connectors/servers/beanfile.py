"""closeboard-beanfile: a beancount ledger file as the bundled ERP's read tools, read-only.

The ledger is loaded once with beancount's own loader (``beancount.loader.load_file``, its pickle cache
included) and mapped once to canonical records by the rules the ``beancount`` adapter follows
(``connectors.beancount_map``: account types from the roots, subtypes by globs, parent, entry_id
``FILE:LINE``, line_no the posting's position, description ``payee | narration``, document_id the first
link, the money rules and the rounding account). The tools are the bundled ERP's (same arguments,
cursor paging and compact JSON text), so ``adapter: builtin.erp`` reads a ledger with no adapter of its
own, incrementally: ``get_ledger_summary`` tells which months changed.

- ``list_accounts``: the ``open`` directives (plus the rounding account when the ledger opens none);
- ``list_journal_lines(date_from, date_to, cursor, limit)``: the postings that are money, one line each,
  date-ordered. Legs that are not money (a commodity without a price that balances within itself in
  its transaction) are left out and counted (``get_ledger_summary``'s ``left_out``). A transaction
  whose money does not balance is served with the reason in ``debit`` and ``credit`` (text, not a
  number) on every posting that is money, so the warehouse quarantines all of it with the reason;
- ``get_ledger_summary``: per month and account (lines, Σdebit, Σcredit) and one row per month with
  account ``#lines``: its lines and, as ``debit``, a digest of every served field of every line of the
  month (a transaction inserted above shifts the line numbers, hence the entry_ids, below it);
- ``get_trial_balance(date)``: the ledger's own balances (every posting's money in cents, 0 for a leg
  that is not money, the rounding account's share of the cent residuals), set-aside transactions
  included, so R7 names the accounts of a transaction the journal does not carry;
- ``list_fx_rates``: the ``price`` directives quoted in the reporting currency, the last of a day;
- ``get_company``: the ledger's title and reporting currency;
- ``list_invoices``, ``list_bills``, ``list_payments``, ``get_document_summary``: empty (a ledger has
  no documents), so the builtin adapter's pulls and summaries run unchanged.

The file (and every file it includes) is loaded again when one's (inode, size, mtime) changes; a cursor
keeps the snapshot it was cut from. Over stdio the load starts while the client connects; kept running
(``--http``) the server looks every second and loads a changed file at once, so a refresh finds it
loaded. A reload parses the file as Fava does (no pickle cache written). A ledger with errors fails
every tool with an error naming the file, the line and the cause (``--allow-errors`` serves it anyway,
as Fava and beancount-mcp do, and ``get_company`` counts them). Amounts are exact decimal text.

Run: ``python -m connectors.servers.beanfile --ledger FILE [--currency USD] [--rounding-account
Expenses:Rounding] [--subtype cash=Assets:Bank*,Assets:Cash*] [--http PORT]`` (``--help`` for all).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from mcp.server.mcpserver import MCPServer

from connectors.beancount_map import DEFAULT_ACCOUNT_TYPES, ZERO, Posting, Rules, books_rounding, map_entry, money, rate
from connectors.incremental import DIGEST_MODULUS
from connectors.incremental import LINES_DIGEST as SUMMARY_ACCOUNT
from connectors.servers.erp import (
    ACCOUNTS,
    BILLS,
    FX_RATES,
    INVOICES,
    JOURNAL_DAYS_DESCRIPTION,
    JOURNAL_LINES,
    PAYMENTS,
    add_erp_tools,
)
from connectors.servers.hosting import add_http_args, new_server, serve_http, token_from_env
from connectors.servers.specs import SourceError, TableSpec, page_description
from connectors.servers.store import DataSource, Loaded, dumps, format_decimal, now_utc, to_decimal

# the ledger's own balances (get_trial_balance): one row per posting, in the journal's columns
BALANCES = TableSpec("ledger_balances", "ledger", "erp_journal_lines", JOURNAL_LINES.docs, date_column="posted_date")
TABLES = (ACCOUNTS, JOURNAL_LINES, INVOICES, BILLS, PAYMENTS, FX_RATES, BALANCES)
_LINE_VALUES = itemgetter(*JOURNAL_LINES.column_names)
# beancount's options naming the five roots, and the type each one is
ROOT_OPTIONS = {
    "name_assets": "asset",
    "name_liabilities": "liability",
    "name_equity": "equity",
    "name_income": "revenue",
    "name_expenses": "expense",
}
MAX_ERRORS_SHOWN = 5
BEANCOUNT_MISSING = (
    "the beanfile server reads ledgers with beancount, which is not installed in the Python environment it "
    f"runs in ({sys.executable}): install closeboard's `beancount` extra there, `uv sync --extra beancount` "
    "in a checkout (plain `uv sync` also installs it, with the dev group) or `pip install 'closeboard[beancount]'`"
)


def _stat(path: Path) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return f"{path}:absent"
    return f"{path}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def _errors_text(ledger: Path, errors: Sequence[Any]) -> str:
    shown = []
    for error in errors[:MAX_ERRORS_SHOWN]:
        source = getattr(error, "source", None) or {}
        where = f"{source.get('filename') or ledger}:{source.get('lineno', '?')}"
        shown.append(f"{where}: {str(getattr(error, 'message', error)).strip()}")
    more = f" (and {len(errors) - MAX_ERRORS_SHOWN} more)" if len(errors) > MAX_ERRORS_SHOWN else ""
    return f"the ledger {ledger} does not load cleanly ({len(errors)} error(s){more}); fix it and retry: " + "; ".join(
        shown
    )


def _rows(spec: TableSpec, rows: list[dict[str, Any]]) -> pa.Table:
    """Records (dicts; keys beyond the spec's columns ignored) as a table of the spec's columns, as text."""
    struct = pa.struct([(c, pa.string()) for c in spec.column_names])
    return pa.Table.from_struct_array(pa.array(rows, type=struct))


def _balance_row(posted: str, account: str, value: Decimal) -> dict[str, Any]:
    return {
        "posted_date": posted,
        "account_id": account,
        "debit": money(value) if value > 0 else "0.00",
        "credit": money(-value) if value < 0 else "0.00",
    }


class LedgerSource(DataSource):
    """The ERP tables built from one beancount ledger; loaded again when a file of it changes."""

    def __init__(self, ledger: Path, rules: Rules, *, allow_errors: bool = False):
        self.ledger = Path(ledger).expanduser().resolve()
        self.allow_errors = allow_errors  # serve despite loader errors, as Fava and beancount-mcp do
        super().__init__(self.ledger.parent, TABLES)
        self.rules = rules  # currency "" : the ledger's operating_currency
        self.explicit_types = rules.account_types != DEFAULT_ACCOUNT_TYPES
        self._files: list[Path] = [self.ledger]
        self._seen: str | None = None
        self._failed: tuple[str, SourceError] | None = None
        self._reload = threading.Lock()
        self._facts: dict[str, dict[str, Any]] = {}  # version -> company, left_out

    # ---- loading

    def _signature(self) -> str:
        text = "\n".join(_stat(p) for p in self._files)
        return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()

    def current(self) -> str:
        """The version of the ledger as it is now, loaded if it changed (a SourceError if it does not load)."""
        with self._reload:
            version = self._signature()
            if version == self._seen:
                return version
            if self._failed is not None and self._failed[0] == version:
                raise self._failed[1]
            try:
                return self._read(version)
            except SourceError as exc:
                self._failed = (version, exc)
                raise

    def load(self, name: str) -> Loaded:
        version = self.current()
        with self._locks[name]:
            return self._versions[name][version]

    def company(self) -> dict[str, Any]:
        return dict(self._facts[self.current()]["company"])

    def left_out(self, version: str) -> dict[str, int]:
        return dict(self._facts[version]["left_out"])

    def _read(self, version: str) -> str:
        # beancount's loader and the mapping make ~100 objects a posting and free few: the cyclic garbage
        # collector would scan them again and again (measured: 10-25% of a load); it runs once after
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._load_and_map(version)
        finally:
            if enabled:
                gc.enable()

    def _load_and_map(self, version: str) -> str:
        try:
            from beancount import loader
        except ImportError:
            raise SourceError(BEANCOUNT_MISSING) from None

        reload = getattr(loader, "_load", None)
        if self._seen is None or reload is None:  # the first load: through beancount's pickle cache
            entries, errors, options = loader.load_file(str(self.ledger))
        else:  # a changed file: parsed as Fava reloads it (writing no cache a later start would miss anyway)
            entries, errors, options = reload([(str(self.ledger), True)], None, None, None)
        included = [Path(f) for f in options.get("include") or [self.ledger]]
        if included != self._files:  # the files it includes: their changes count from now on
            self._files = included
            version = self._signature()
        if errors and not self.allow_errors:
            raise SourceError(_errors_text(self.ledger, errors))
        rules = self._rules(options)
        tables, left_out, summary = self._map(entries, rules)
        for spec in TABLES:
            loaded = self._build(spec, tables.get(spec.name) or _rows(spec, []), version)
            with self._locks[spec.name]:
                self._keep(spec.name, loaded)
        title = options.get("title")
        self._facts[version] = {
            "company": {
                "name": title if title and title != "Beancount" else self.ledger.stem,
                "currency": rules.currency,
                "fiscal_year_start_month": 1,
                "timezone": None,
                "as_of": None,
                "first_period": None,
                "ledger_errors": len(errors),  # served anyway (--allow-errors); else none
            },
            "left_out": dict(sorted(left_out.items())),
            "summary": summary,
        }
        for old in [v for v in self._facts if v not in self._versions[JOURNAL_LINES.name]]:
            del self._facts[old]
        self._seen, self._failed = version, None
        return version

    def _rules(self, options: dict[str, Any]) -> Rules:
        currency = self.rules.currency or next(iter(options.get("operating_currency") or []), "")
        if not currency:
            raise SourceError(
                f"the ledger {self.ledger} names no operating_currency: give the reporting currency with --currency"
            )
        types = self.rules.account_types
        if not self.explicit_types:  # the ledger's own root names (option "name_assets" ...)
            types = {str(options.get(o) or root): t for o, t, root in _roots()}
        try:
            return replace(self.rules, currency=currency, account_types=types).check()
        except ValueError as exc:
            raise SourceError(f"{exc}") from None

    def _map(self, entries: list[Any], rules: Rules) -> tuple[dict[str, pa.Table], Counter[str], list[dict[str, Any]]]:
        """Every table at once, in one pass over the entries (see the module docstring), with the
        postings left out as not money and the whole ledger's summary."""
        from beancount.core import convert, data, prices
        from beancount.core.compare import hash_entry

        ccy = rules.currency
        price_map = None
        opened: dict[str, list[str]] = {}
        rates: dict[tuple[str, str], Decimal] = {}
        lines: list[dict[str, Any]] = []
        set_aside = 0  # lines served with their reason instead of money
        extra: list[dict[str, Any]] = []  # trial balance rows the journal does not carry
        left_out: Counter[str] = Counter()
        summary = Summary()

        for entry in entries:
            if isinstance(entry, data.Open):
                opened[entry.account] = list(entry.currencies or [])
                continue
            if isinstance(entry, data.Price):
                if entry.amount.currency == ccy and entry.amount.number is not None:
                    rates[(entry.date.isoformat(), entry.currency)] = entry.amount.number
                continue
            if not isinstance(entry, data.Transaction):
                continue
            meta = entry.meta or {}
            lineno = meta.get("lineno")
            entry_id = f"{meta.get('filename')}:{lineno}" if lineno is not None else hash_entry(entry)
            posted = entry.date.isoformat()
            description = " | ".join(filter(None, [entry.payee, entry.narration])) or None
            document_id = min(entry.links) if entry.links else None
            postings = []
            for p in entry.postings:
                units = p.units
                w = convert.get_weight(p)
                weight = (w.number, w.currency) if w is not None and w.number is not None else None
                converted = None
                if weight is not None and units.currency != ccy and w.currency != ccy:
                    if price_map is None:
                        price_map = prices.build_price_map(entries)
                    c = convert.convert_amount(w, ccy, price_map, date=entry.date)
                    converted = (c.number, c.currency) if c.number is not None else None
                postings.append(Posting(p.account, units.number, units.currency, weight, converted))
            mapped = map_entry(rules, entry_id, posted, description, document_id, postings)
            if mapped.left_out:
                left_out.update(mapped.left_out)
            # the trial balance: the journal's lines, and what it does not carry (legs that are not money
            # at 0.00, so their accounts are listed; a set-aside transaction's money and rounding)
            if mapped.left_out or mapped.set_aside:
                for p, value in zip(postings, mapped.values, strict=True):
                    if value is None or mapped.set_aside:
                        extra.append(_balance_row(posted, p.account, value or ZERO))
            if mapped.set_aside:
                if books_rounding(rules, mapped.residual):
                    extra.append(_balance_row(posted, str(rules.rounding_account), -mapped.residual))
                reason = f"set aside: {mapped.reason()}"
                served = [
                    {
                        "entry_id": entry_id,
                        "line_no": str(n),
                        "posted_date": posted,
                        "account_id": postings[n - 1].account,
                        "debit": reason,
                        "credit": reason,
                        "currency": postings[n - 1].units_currency or ccy,
                        "amount_currency": None,
                        "description": description,
                        "customer_id": None,
                        "vendor_id": None,
                        "document_id": document_id,
                    }
                    for n in mapped.set_aside_postings(postings)
                ]
                set_aside += len(served)
            else:
                served = mapped.lines
            for line in served:
                summary.add(line)
            lines.extend(served)
        accounts = sorted(opened)
        names: dict[str, str | None] = {}
        if rules.rounding_account and rules.rounding_account not in opened:
            accounts.append(rules.rounding_account)
            names[rules.rounding_account] = f"{rules.rounding_account} (closeboard rounding)"
        records = [rules.account(a, opened.get(a, []), opened, name=names.get(a)) for a in accounts]
        journal = _rows(JOURNAL_LINES, lines)
        money_lines = journal
        if set_aside:
            money_lines = journal.filter(pa.array([not str(line["debit"]).startswith("set aside") for line in lines]))
        balances = pa.concat_tables([money_lines, _rows(BALANCES, extra)])  # sorted by date when built
        tables = {
            ACCOUNTS.name: _rows(ACCOUNTS, records),
            JOURNAL_LINES.name: journal,
            FX_RATES.name: _rows(
                FX_RATES,
                [{"currency": c, "rate_date": d, "rate": money(rate(rates[(d, c)]))} for d, c in sorted(rates)],
            ),
            BALANCES.name: balances,
        }
        return tables, left_out, summary.items()

    # ---- the ledger summary

    def ledger_summary(self, table: str, date_from: str | None, date_to: str | None) -> str:
        version = self.current()
        loaded = self.load(table)

        def compute() -> tuple[str, int]:
            if date_from is None and date_to is None:
                items = self._facts[version]["summary"]  # made with the tables
            else:
                start, stop = self.date_window(loaded, date_from, date_to)
                summary = Summary()
                for line in loaded.out.slice(start, stop - start).to_pylist():
                    summary.add(line)
                items = summary.items()
            return dumps(items), len(items)

        items, total = self._cached(("ledger", table, date_from, date_to, version), compute)
        return (
            f'{{"items":{items},"next_cursor":null,"total":{total},"as_of":"{now_utc()}",'
            f'"left_out":{dumps(self.left_out(version))}}}'
        )

    def trial_balance(self, table: str, day: str) -> str:
        """As the bundled ERP's (per account, Σdebit and Σcredit of the rows dated up to ``day``), from
        the months before ``day``'s summed once per version and the rows of its month up to it."""
        loaded = self.load(table)

        def months() -> pa.Table:
            rows = loaded.full
            return (
                pa.table(
                    {
                        "month": pc.utf8_slice_codeunits(rows["posted_date"], 0, 7),
                        "account_id": rows["account_id"],
                        "debit": to_decimal(rows["debit"], "the ledger's balances"),
                        "credit": to_decimal(rows["credit"], "the ledger's balances"),
                    }
                )
                .group_by(["month", "account_id"])
                .aggregate([("debit", "sum"), ("credit", "sum")])
                .rename_columns(["month", "account_id", "debit", "credit"])
            )

        def compute() -> list[dict[str, Any]]:
            monthly = self._cached(("balance months", loaded.version), months)
            before = monthly.filter(pc.less(monthly["month"], day[:7])).select(["account_id", "debit", "credit"])
            start, stop = self.date_window(loaded, f"{day[:7]}-01", day)
            rows = loaded.full.slice(start, stop - start)
            within = pa.table(
                {
                    "account_id": rows["account_id"],
                    "debit": to_decimal(rows["debit"], "the ledger's balances").cast(before["debit"].type),
                    "credit": to_decimal(rows["credit"], "the ledger's balances").cast(before["credit"].type),
                }
            )
            grouped = (
                pa.concat_tables([before, within])
                .group_by(["account_id"])
                .aggregate([("debit", "sum"), ("credit", "sum")])
                .sort_by([("account_id", "ascending")])
            )
            return [
                {
                    "account_id": r["account_id"],
                    "debit": format_decimal(r["debit_sum"]),
                    "credit": format_decimal(r["credit_sum"]),
                }
                for r in grouped.to_pylist()
            ]

        items = self._cached(("trial_balance", table, day, loaded.version), compute)
        return dumps({"items": items, "next_cursor": None, "total": len(items), "as_of": now_utc()})


def _roots() -> list[tuple[str, str, str]]:
    """(option, type, beancount's default root name) for the five roots."""
    defaults = {t: root for root, t in DEFAULT_ACCOUNT_TYPES.items()}
    return [(option, kind, defaults[kind]) for option, kind in ROOT_OPTIONS.items()]


def _amount(text: str | None) -> Decimal:
    try:
        return Decimal(text) if text else ZERO
    except InvalidOperation:  # a set-aside line carries its reason: it moves nothing
        return ZERO


class Summary:
    """The ledger summary of the lines added: per month and account, lines, Σdebit, Σcredit; per month,
    ``#lines``: its lines and a digest of every served field of every line (order-independent), as a
    whole amount."""

    def __init__(self) -> None:
        self.sums: dict[tuple[str, str], list[Any]] = {}
        self.digests: dict[str, list[int]] = {}

    def add(self, line: dict[str, Any]) -> None:
        period = line["posted_date"][:7]
        total = self.sums.get((period, line["account_id"]))
        if total is None:
            total = self.sums[(period, line["account_id"])] = [0, ZERO, ZERO]
        total[0] += 1
        amount = line.get("_amount")  # the mapped lines carry their signed cents
        if amount is None:
            total[1] += _amount(line["debit"])
            total[2] += _amount(line["credit"])
        elif amount > 0:
            total[1] += amount
        else:
            total[2] -= amount
        digest = self.digests.get(period)
        if digest is None:
            digest = self.digests[period] = [0, 0]
        digest[0] += 1
        text = repr(_LINE_VALUES(line)).encode()  # a tuple of strings and None: the same in every process
        digest[1] += int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")

    def items(self) -> list[dict[str, Any]]:
        items = [
            {
                "period": period,
                "account_id": SUMMARY_ACCOUNT,
                "lines": count,
                "debit": f"{digest % DIGEST_MODULUS}.00",
                "credit": "0.00",
            }
            for period, (count, digest) in self.digests.items()
        ]
        items += [
            {"period": p, "account_id": a, "lines": n, "debit": format_decimal(d), "credit": format_decimal(c)}
            for (p, a), (n, d, c) in self.sums.items()
        ]
        items.sort(key=lambda i: (i["period"], i["account_id"]))
        return items


# --------------------------------------------------------------------------------------------- server


DESCRIPTIONS = {
    "get_company": 'The ledger. Returns compact JSON text {"name": the ledger\'s title, "currency": its reporting '
    'currency, "fiscal_year_start_month": 1, "timezone": null, "as_of": null, "first_period": null, '
    '"ledger_errors": int (errors beancount reported and the server was started to serve anyway)}.',
    "list_accounts": page_description("The accounts the ledger opens.", ACCOUNTS),
    "list_journal_lines": page_description(
        "The ledger's postings that are money, one line each, in posted_date order (legs in a commodity "
        "without a price that balance within it are left out). A transaction whose money does not "
        "balance carries the reason, as text, in debit and credit of each of its lines.",
        JOURNAL_LINES,
        "Filters: date_from / date_to on posted_date, both inclusive.",
    ),
    **{
        name: page_description("Always empty: a ledger keeps no documents.", spec)
        for name, spec in (("list_invoices", INVOICES), ("list_bills", BILLS), ("list_payments", PAYMENTS))
    },
    "get_ledger_summary": "One row per month and account over the journal lines, in a single call, so a client "
    "can tell which months changed without pulling them. Filters: date_from / date_to on posted_date, both "
    "inclusive. Returns compact JSON text "
    '{"items": [...], "next_cursor": null, "total": int (number of items), "as_of": ISO-8601 UTC time, '
    '"left_out": {commodity: postings left out as not money}}. Each item: '
    '{"period": "YYYY-MM", "account_id": string, "lines": int, "debit": exact decimal string (sum), '
    '"credit": exact decimal string (sum)}, ordered by period then account_id; one more row per month '
    f'with account_id "{SUMMARY_ACCOUNT}": its lines and, as debit, a digest of every field of every '
    "line of the month (a whole number; it changes when any line changes, its entry_id included).",
    "get_trial_balance": "The ledger's own trial balance at a date, in a single call: per account, the cumulative "
    "sums of debit and credit of every posting that is money, in cents, dated up to `date` (inclusive), "
    "transactions set aside from the journal included, with the rounding account's share of the "
    "cent residuals. Returns compact JSON text "
    '{"items": [...], "next_cursor": null, "total": int (number of items), "as_of": ISO-8601 UTC time}. '
    'Each item: {"account_id": string, "debit": exact decimal string, "credit": exact decimal string}, '
    "ordered by account_id.",
    "list_fx_rates": page_description(
        "The ledger's price directives quoted in the reporting currency, the last of a day.",
        FX_RATES,
        "Filters: date_from / date_to on rate_date, both inclusive.",
    ),
    "get_document_summary": "Always empty (a ledger keeps no documents): "
    '{"items": [], "next_cursor": null, "total": 0, "as_of": ISO-8601 UTC time}.',
    "get_journal_summary": "One row per month of posted_date over the journal lines (postings that are money), "
    "in a single call: whether a month's lines changed in any field, without pulling them (the ledger "
    f'summary\'s "{SUMMARY_ACCOUNT}" rows say the same). Filters: date_from / date_to on posted_date, both '
    "inclusive. Returns compact JSON text "
    '{"items": [...], "next_cursor": null, "total": int (number of items), "as_of": ISO-8601 UTC time}. '
    'Each item: {"period": "YYYY-MM", "count": int (lines), "debit" and "credit": exact decimal strings '
    '(sums), "digest": 16 hex digits, a hash of every field of every line of the month (independent of '
    "their order)}, ordered by period.",
    "get_journal_days": JOURNAL_DAYS_DESCRIPTION,
}


def build_server(ledger: Path, rules: Rules | None = None, *, allow_errors: bool = False) -> MCPServer:
    """The server over one ledger file: the bundled ERP's tools (connectors.servers.erp.add_erp_tools) with
    this server's descriptions; ``rules`` with currency "" takes the ledger's operating_currency."""
    src = LedgerSource(ledger, rules or Rules(""), allow_errors=allow_errors)
    server = new_server(
        "closeboard-beanfile",
        title="closeboard ERP from a beancount ledger (read-only)",
        instructions="Read-only ERP built from one beancount ledger file: chart of accounts, journal lines "
        "(postings), prices. List tools page with cursor/limit and answer compact JSON text.",
    )
    add_erp_tools(server, src, DESCRIPTIONS, company_fields=None, balances=BALANCES.name)
    server.ledger_source = src  # type: ignore[attr-defined]  # for main(): load before the first call
    return server


# --------------------------------------------------------------------------------------------- command line


def _pairs(values: list[str], flag: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key or not rest:
            raise ValueError(f"{flag} {value!r}: expected NAME=VALUE")
        pairs.append((key.strip(), rest.strip()))
    return pairs


def parse_rules(args: argparse.Namespace) -> Rules:
    """The mapping rules from the command line (ValueError naming the flag that is wrong)."""
    subtypes = None
    if args.subtype:
        subtypes = {k: tuple(g for g in v.split(",") if g) for k, v in _pairs(args.subtype, "--subtype")}
    types = dict(_pairs(args.account_type, "--account-type")) if args.account_type else None
    try:
        tolerance = Decimal(args.rounding_tolerance)
    except InvalidOperation:
        raise ValueError("--rounding-tolerance: expected a decimal amount such as 0.05") from None
    rules = Rules(args.currency or "", rounding_account=args.rounding_account, rounding_tolerance=tolerance)
    if subtypes is not None:
        rules = replace(rules, subtypes=subtypes)
    if types is not None:
        rules = replace(rules, account_types=types)
    return rules.check()


PROG = "python -m connectors.servers.beanfile"


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Serve a beancount ledger as the bundled ERP's read-only MCP tools (stdio unless --http).",
        epilog=f"Example: {PROG} --ledger books.beancount --rounding-account Expenses:Rounding --http 9104",
    )
    parser.add_argument("--ledger", type=Path, required=True, metavar="FILE", help="the beancount ledger file")
    parser.add_argument("--currency", help="the reporting currency (default: the ledger's operating_currency)")
    parser.add_argument(
        "--rounding-account", help="account for the cents conversions leave (e.g. Expenses:Rounding); none: set aside"
    )
    parser.add_argument("--rounding-tolerance", default="0.05", help="largest residual booked to it (default 0.05)")
    parser.add_argument(
        "--subtype",
        action="append",
        default=[],
        metavar="NAME=GLOB[,GLOB]",
        help="account subtype by globs, first match wins; repeat per subtype; replaces the defaults "
        "(cash=Assets:Bank*,Assets:Cash* ar=Assets:Receivable* ap=Liabilities:Payable* ...)",
    )
    parser.add_argument(
        "--account-type",
        action="append",
        default=[],
        metavar="ROOT=TYPE",
        help="type of a root account (default: the ledger's five roots as asset, liability, equity, revenue, expense)",
    )
    parser.add_argument(
        "--allow-errors",
        action="store_true",
        help="serve a ledger beancount reports errors for, as Fava and beancount-mcp do (default: every tool "
        "fails naming them); get_company counts them",
    )
    add_http_args(parser)
    return parser


def server_from_args(argv: Sequence[str]) -> tuple[MCPServer, argparse.Namespace]:
    """The server the command line ``argv`` (without the program) describes, not yet serving."""
    parser = arguments()
    args = parser.parse_args(list(argv))
    ledger = args.ledger.expanduser().resolve()
    if not ledger.is_file():
        parser.error(f"ledger file not found: {ledger}")
    try:
        rules = parse_rules(args)
    except ValueError as exc:
        parser.error(str(exc))
    return build_server(ledger, rules, allow_errors=args.allow_errors), args


def main(argv: Sequence[str] | None = None) -> None:
    server, args = server_from_args(sys.argv[1:] if argv is None else argv)
    token = token_from_env(arguments(), args)
    # load while the client connects (stdio); kept running (HTTP), load again as soon as the file changes,
    # so a refresh finds it loaded. A ledger that does not load fails each tool call with the reason.
    every = None if args.http is None else WATCH_EVERY_S
    threading.Thread(target=_keep_loaded, args=(server.ledger_source, every), daemon=True).start()  # type: ignore[attr-defined]
    if args.http is None:
        server.run("stdio")
        return
    import anyio

    anyio.run(serve_http, server, args.host, args.http, token)


WATCH_EVERY_S = 1.0


def _keep_loaded(src: LedgerSource, every: float | None) -> None:
    """Load the ledger now and, every `every` seconds, again if one of its files changed."""
    while True:
        try:
            src.current()
        except SourceError:
            pass  # told by every tool call
        if every is None:
            return
        time.sleep(every)


if __name__ == "__main__":
    main()
