"""closeboard-bankfiles: bank statements from files, for a bank without an MCP server, read-only.

Serves the same tools as the bundled bank server (``list_bank_accounts``, ``list_transactions``,
``get_balances``; same arguments, paging and JSON shape), so it feeds the ``builtin.bank``
adapter unchanged. Data root (``--data DIR``), every file below it by extension:

- ``*.ofx``, ``*.qfx``: OFX 1.x (SGML) or 2.x (XML) bank and credit-card statements, read with
  ``ofxtools``: account ``ACCTID``, ``CURDEF``, each ``STMTTRN`` (``FITID`` -> txn_id, ``DTPOSTED``,
  ``TRNAMT``, ``NAME``/``MEMO``, ``REFNUM``/``CHECKNUM``), ``LEDGERBAL`` as the closing balance;
- ``*.xml``: ISO 20022 camt.053 (any version; namespaces ignored): per ``Stmt`` the account
  (``IBAN`` or ``Othr/Id``) and currency, each booked ``Ntry`` (amount signed by ``CdtDbtInd``,
  ``BookgDt``, ``AcctSvcrRef`` or ``NtryRef`` -> txn_id, remittance text, end-to-end id as
  reference) and the ``CLBD`` closing balance;
- ``*.sta``, ``*.mt940``, ``*.940``: SWIFT MT940 read with ``mt-940``: ``:25:`` account, ``:61:``
  lines (bank reference, else the account, date and position, -> txn_id; customer reference as
  reference; ``:86:`` as description), ``:62F:`` closing balance.
- ``accounts.csv`` (optional): ``bank_account_id,name,gl_account_id`` naming each account and the
  ERP account it is booked to (R2 needs it); an account missing there is served with its number as
  name and no gl_account_id.

Files are re-read when any of them changes; a cursor keeps the snapshot it was cut from. A file that
cannot be read fails every tool with an error naming the file and the cause (a statement silently
skipped would show as a reconciliation gap instead). Amounts stay exact (Decimal text).
Run: ``python -m connectors.servers.bankfiles --data DIR [--http PORT]``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pyarrow as pa
from mcp.server.mcpserver import MCPServer

from connectors.servers.bank import BALANCES, BANK_ACCOUNTS, TRANSACTIONS, add_bank_tools
from connectors.servers.hosting import new_server, serve
from connectors.servers.specs import SourceError
from connectors.servers.store import DataSource, Loaded

OFX_SUFFIXES = {".ofx", ".qfx"}
CAMT_SUFFIXES = {".xml"}
MT940_SUFFIXES = {".sta", ".mt940", ".940"}
ACCOUNTS_FILE = "accounts.csv"


class StatementError(ValueError):
    """A statement file that cannot be read; the message names the cause."""


@dataclass
class Statement:
    account: str
    currency: str | None
    transactions: list[dict[str, str | None]] = field(default_factory=list)
    balances: list[tuple[str, Decimal]] = field(default_factory=list)  # (date, closing balance)


def money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"))) if value.as_tuple().exponent >= -2 else format(value, "f")  # type: ignore[operator]


def _txn(
    account: str, txn_id: str, booked: date, amount: Decimal, description: str | None, reference: str | None
) -> dict[str, str | None]:
    return {
        "txn_id": f"{account}:{txn_id}",
        "bank_account_id": account,
        "booked_date": booked.isoformat(),
        "amount": money(amount),
        "description": description or None,
        "reference": reference or None,
    }


# --------------------------------------------------------------------------------------------- OFX


def read_ofx(data: bytes) -> list[Statement]:
    from ofxtools.Parser import OFXTree

    tree = OFXTree()
    try:
        tree.parse(io.BytesIO(data))
        ofx = tree.convert()
    except Exception as exc:  # ofxtools raises its own errors, ValueError, KeyError ...
        raise StatementError(f"not a readable OFX statement: {type(exc).__name__}: {exc}") from None
    statements = []
    for stmt in ofx.statements:
        account = str(stmt.account.acctid)
        out = Statement(account, str(stmt.curdef) if stmt.curdef else None)
        for tr in stmt.banktranlist or ():
            reference = tr.refnum or tr.checknum
            description = " — ".join(str(p) for p in (tr.name, tr.memo) if p)
            out.transactions.append(
                _txn(account, str(tr.fitid), tr.dtposted.date(), Decimal(tr.trnamt), description, reference)
            )
        if stmt.ledgerbal is not None:
            out.balances.append((stmt.ledgerbal.dtasof.date().isoformat(), Decimal(stmt.ledgerbal.balamt)))
        statements.append(out)
    if not statements:
        raise StatementError("an OFX file without a bank or credit-card statement")
    return statements


# --------------------------------------------------------------------------------------------- camt.053


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(elem: ET.Element, path: str) -> ET.Element | None:
    """First descendant along a '/'-separated path of local names (namespaces ignored)."""
    current: list[ET.Element] = [elem]
    for name in path.split("/"):
        current = [c for e in current for c in e if _local(c.tag) == name]
        if not current:
            return None
    return current[0]


def _text(elem: ET.Element, path: str) -> str | None:
    found = _find(elem, path)
    return found.text.strip() if found is not None and found.text and found.text.strip() else None


def _children(elem: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in elem if _local(c.tag) == name]


def _amount(elem: ET.Element, where: str) -> Decimal:
    amt, sign = _text(elem, "Amt"), _text(elem, "CdtDbtInd")
    if amt is None or sign not in ("CRDT", "DBIT"):
        raise StatementError(f"{where}: needs Amt and CdtDbtInd CRDT or DBIT")
    try:
        value = Decimal(amt)
    except InvalidOperation:
        raise StatementError(f"{where}: amount {amt!r} is not a number") from None
    return value if sign == "CRDT" else -value


def _day(elem: ET.Element, path: str, where: str) -> date:
    text = _text(elem, f"{path}/Dt") or _text(elem, f"{path}/DtTm")
    if text is None:
        raise StatementError(f"{where}: no {path}/Dt")
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise StatementError(f"{where}: {path} {text!r} is not a date") from None


def read_camt053(data: bytes) -> list[Statement]:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise StatementError(f"not well-formed XML: {exc}") from None
    report = _find(root, "BkToCstmrStmt") if _local(root.tag) == "Document" else None
    if report is None:
        raise StatementError(f"not a camt.053 statement (root {_local(root.tag)!r}, no Document/BkToCstmrStmt)")
    statements = []
    for s_index, stmt in enumerate(_children(report, "Stmt"), 1):
        account = _text(stmt, "Acct/Id/IBAN") or _text(stmt, "Acct/Id/Othr/Id")
        if account is None:
            raise StatementError(f"Stmt {s_index}: no account (Acct/Id/IBAN or Acct/Id/Othr/Id)")
        out = Statement(account, _text(stmt, "Acct/Ccy"))
        for bal in _children(stmt, "Bal"):
            if _text(bal, "Tp/CdOrPrtry/Cd") == "CLBD":
                where = f"Stmt {s_index} closing balance"
                out.balances.append((_day(bal, "Dt", where).isoformat(), _amount(bal, where)))
        for n_index, entry in enumerate(_children(stmt, "Ntry"), 1):
            where = f"Stmt {s_index} Ntry {n_index}"
            status = _text(entry, "Sts/Cd") or _text(entry, "Sts")
            if status not in (None, "BOOK"):
                continue  # pending or information-only entries are not booked statement lines
            booked = _day(entry, "BookgDt", where)
            ref = _text(entry, "AcctSvcrRef") or _text(entry, "NtryRef")
            if ref is None:
                ref = f"{booked.isoformat()}#{n_index}"
            details = _find(entry, "NtryDtls/TxDtls")
            remittance = (_text(details, "RmtInf/Ustrd") if details is not None else None) or _text(
                entry, "AddtlNtryInf"
            )
            e2e = _text(details, "Refs/EndToEndId") if details is not None else None
            if e2e == "NOTPROVIDED":
                e2e = None
            out.transactions.append(_txn(account, ref, booked, _amount(entry, where), remittance, e2e))
        statements.append(out)
    if not statements:
        raise StatementError("a camt.053 document without a Stmt")
    return statements


# --------------------------------------------------------------------------------------------- MT940


def read_mt940(data: bytes) -> list[Statement]:
    import mt940

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    blocks = [b for b in re.split(r"(?m)^(?=:20:)", text) if b.strip()]
    if not blocks or not blocks[0].lstrip().startswith(":20:"):
        raise StatementError("not an MT940 statement (no :20: transaction reference)")
    statements = []
    for s_index, block in enumerate(blocks, 1):
        parsed = mt940.models.Transactions()
        try:
            parsed.parse(block)
        except Exception as exc:  # mt940 raises assorted errors on bad tags
            raise StatementError(f"statement {s_index}: {type(exc).__name__}: {exc}") from None
        account = parsed.data.get("account_identification")
        closing = parsed.data.get("final_closing_balance")
        if not account or closing is None:
            raise StatementError(f"statement {s_index}: needs :25: account and :62F: closing balance")
        out = Statement(account, closing.amount.currency)
        seen: dict[str, int] = {}
        for t_index, tr in enumerate(parsed, 1):
            d = tr.data
            booked = date(d["date"].year, d["date"].month, d["date"].day)
            bank_ref = d.get("bank_reference")
            key = bank_ref if bank_ref and bank_ref != "NONREF" else f"{booked.isoformat()}#{t_index}"
            seen[key] = seen.get(key, 0) + 1
            key = key if seen[key] == 1 else f"{key}#{seen[key]}"
            customer_ref = d.get("customer_reference")
            reference = None if customer_ref in (None, "", "NONREF") else customer_ref
            out.transactions.append(
                _txn(account, key, booked, Decimal(d["amount"].amount), d.get("transaction_details"), reference)
            )
        out.balances.append((closing.date.isoformat(), Decimal(closing.amount.amount)))
        statements.append(out)
    return statements


READERS = {
    **{s: read_ofx for s in OFX_SUFFIXES},
    **{s: read_camt053 for s in CAMT_SUFFIXES},
    **{s: read_mt940 for s in MT940_SUFFIXES},
}


# --------------------------------------------------------------------------------------------- source


class StatementSource(DataSource):
    """The bank tables built from every statement file under the root; re-read when any changes."""

    def __init__(self, root: Path):
        super().__init__(root, (BANK_ACCOUNTS, TRANSACTIONS, BALANCES))
        self._seen: str | None = None

    def files(self) -> list[Path]:
        return sorted(
            p for p in self.root.rglob("*") if p.is_file() and (p.suffix.lower() in READERS or p.name == ACCOUNTS_FILE)
        )

    def _signature(self, files: list[Path]) -> str:
        parts = []
        for path in files:
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            parts.append(f"{path.relative_to(self.root)}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}")
        return hashlib.blake2b("\n".join(parts).encode(), digest_size=6).hexdigest()

    def load(self, name: str) -> Loaded:
        files = self.files()
        version = self._signature(files)
        with self._locks[name]:
            held = self._versions[name].get(version)
        if held is not None and version == self._seen:
            return held
        tables = self._read_all(files)
        for spec in (BANK_ACCOUNTS, TRANSACTIONS, BALANCES):
            loaded = self._build(spec, tables[spec.name], version)
            with self._locks[spec.name]:
                self._keep(spec.name, loaded)
        self._seen = version
        with self._locks[name]:
            return self._versions[name][version]

    def _read_all(self, files: list[Path]) -> dict[str, pa.Table]:
        names: dict[str, dict[str, str | None]] = {}
        statements: list[Statement] = []
        for path in files:
            rel = path.relative_to(self.root).as_posix()
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise SourceError(f"statement file {rel}: cannot read: {exc}") from None
            if path.name == ACCOUNTS_FILE:
                names = _read_accounts(data, rel)
                continue
            try:
                statements += READERS[path.suffix.lower()](data)
            except StatementError as exc:
                raise SourceError(f"statement file {rel}: {exc}") from None
        accounts: dict[str, dict[str, str | None]] = {}
        txns: dict[str, dict[str, str | None]] = {}
        balances: dict[tuple[str, str], str] = {}
        for stmt in statements:
            info = names.get(stmt.account, {})
            accounts.setdefault(
                stmt.account,
                {
                    "bank_account_id": stmt.account,
                    "name": info.get("name") or stmt.account,
                    "currency": stmt.currency,
                    "gl_account_id": info.get("gl_account_id"),
                },
            )
            for t in stmt.transactions:
                txns[t["txn_id"]] = t  # overlapping statements repeat lines: keep one
            for day, amount in stmt.balances:
                balances[(stmt.account, day)] = money(amount)
        return {
            "bank_accounts": _table(
                BANK_ACCOUNTS.column_names, sorted(accounts.values(), key=lambda r: r["bank_account_id"])
            ),
            "transactions": _table(
                TRANSACTIONS.column_names, sorted(txns.values(), key=lambda r: (r["booked_date"], r["txn_id"]))
            ),
            "balances": _table(
                BALANCES.column_names,
                [
                    {"bank_account_id": a, "balance_date": d, "closing_balance": v}
                    for (a, d), v in sorted(balances.items())
                ],
            ),
        }


def _read_accounts(data: bytes, rel: str) -> dict[str, dict[str, str | None]]:
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    if rows and "bank_account_id" not in rows[0]:
        raise SourceError(f"{rel}: needs the columns bank_account_id,name,gl_account_id")
    return {
        r["bank_account_id"]: {"name": r.get("name") or None, "gl_account_id": r.get("gl_account_id") or None}
        for r in rows
        if r.get("bank_account_id")
    }


def _table(columns: tuple[str, ...], rows: list[dict[str, str | None]]) -> pa.Table:
    return pa.table({c: pa.array([r.get(c) for r in rows], pa.string()) for c in columns})


# --------------------------------------------------------------------------------------------- server


def build_server(data_dir: Path) -> MCPServer:
    server = new_server(
        "closeboard-bankfiles",
        title="closeboard bank statements from files (read-only)",
        instructions="Read-only bank feed built from OFX, camt.053 and MT940 statement files: accounts, "
        "statement lines, closing balances. List tools page with cursor/limit and answer compact JSON text.",
    )
    return add_bank_tools(server, StatementSource(data_dir), "The bank accounts found in the statement files.")


def main(argv: Sequence[str] | None = None) -> None:
    serve(build_server, sys.argv[1:] if argv is None else argv, prog="python -m connectors.servers.bankfiles")


if __name__ == "__main__":
    main()
