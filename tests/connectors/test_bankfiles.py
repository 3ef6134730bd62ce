"""The file-backed bank server: OFX, camt.053 and MT940 statements feed the builtin bank adapter."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pyarrow as pa
import pytest

from connectors.adapters import get_adapter
from connectors.client import ConnectorError, SourceSession
from connectors.config import ClientSettings, ConnectorConfig, ServerConfig
from connectors.pull import pull_source
from connectors.servers import bankfiles

FAST = ClientSettings(call_timeout_s=30, retries=0, backoff_s=0.01, page_limit=2)  # pages of 2: cursors are followed
ALLOW = ("list_bank_accounts", "list_transactions", "get_balances")

OFX = """OFXHEADER:100
DATA:OFXSGML
VERSION:102
SECURITY:NONE
ENCODING:USASCII
CHARSET:1252
COMPRESSION:NONE
OLDFILEUID:NONE
NEWFILEUID:NONE

<OFX>
<SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS><DTSERVER>20260131120000<LANGUAGE>ENG</SONRS></SIGNONMSGSRSV1>
<BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>
<STMTRS><CURDEF>USD<BANKACCTFROM><BANKID>121000248<ACCTID>000123<ACCTTYPE>CHECKING</BANKACCTFROM>
<BANKTRANLIST><DTSTART>20260101<DTEND>20260131
<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20260105<TRNAMT>-12.5<FITID>F1<NAME>Bank fee<MEMO>Monthly</STMTTRN>
<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20260110120000[-5:EST]<TRNAMT>250.00<FITID>F2<REFNUM>INV-7<NAME>Acme</STMTTRN>
<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20260120<TRNAMT>-0.01<FITID>F3<CHECKNUM>1001<NAME>Rounding</STMTTRN>
</BANKTRANLIST>
<LEDGERBAL><BALAMT>1237.49<DTASOF>20260131</LEDGERBAL>
</STMTRS></STMTTRNRS></BANKMSGSRSV1>
</OFX>
"""

CAMT = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
 <BkToCstmrStmt>
  <GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-02-01T06:00:00</CreDtTm></GrpHdr>
  <Stmt>
   <Id>S1</Id>
   <Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>
   <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">500.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-01-01</Dt></Dt></Bal>
   <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">1699.75</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-01-31</Dt></Dt></Bal>
   <Ntry>
    <NtryRef>N1</NtryRef><Amt Ccy="EUR">1234.50</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
    <BookgDt><Dt>2026-01-15</Dt></BookgDt><AcctSvcrRef>ASR-1</AcctSvcrRef>
    <NtryDtls><TxDtls><Refs><EndToEndId>INV-2026-001</EndToEndId></Refs><RmtInf><Ustrd>Invoice 2026-001 &amp; thanks</Ustrd></RmtInf></TxDtls></NtryDtls>
   </Ntry>
   <Ntry>
    <Amt Ccy="EUR">34.75</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
    <BookgDt><DtTm>2026-01-20T10:00:00</DtTm></BookgDt><AcctSvcrRef>ASR-2</AcctSvcrRef>
    <AddtlNtryInf>Card fee</AddtlNtryInf>
   </Ntry>
   <Ntry>
    <Amt Ccy="EUR">99.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>PDNG</Cd></Sts>
    <BookgDt><Dt>2026-01-31</Dt></BookgDt><AcctSvcrRef>ASR-3</AcctSvcrRef>
   </Ntry>
  </Stmt>
 </BkToCstmrStmt>
</Document>
"""

MT940 = """:20:STMT0001
:25:10020030/1234567
:28C:00001/001
:60F:C260101GBP1000,00
:61:2601020102D12,50NTRFNONREF//B1
:86:Rent January
:61:2601030103C100,00NMSCINV-42
:86:Payment from Acme
:62F:C260103GBP1087,50
-
:20:STMT0002
:25:10020030/1234567
:28C:00002/001
:60F:C260103GBP1087,50
:61:2601040104D7,25NCHGNONREF
:86:Charges
:62F:C260104GBP1080,25
-
"""

ACCOUNTS = "bank_account_id,name,gl_account_id\n000123,US operating,1010\nDE89370400440532013000,EUR account,1020\n"


def d(value: str) -> Decimal:
    return Decimal(value)


EXPECTED_TXNS = {  # txn_id: (account, booked_date, amount, description, reference)
    "000123:F1": ("000123", "2026-01-05", "-12.50", "Bank fee — Monthly", None),
    "000123:F2": ("000123", "2026-01-10", "250.00", "Acme", "INV-7"),
    "000123:F3": ("000123", "2026-01-20", "-0.01", "Rounding", "1001"),
    "DE89370400440532013000:ASR-1": (
        "DE89370400440532013000",
        "2026-01-15",
        "1234.50",
        "Invoice 2026-001 & thanks",
        "INV-2026-001",
    ),
    "DE89370400440532013000:ASR-2": ("DE89370400440532013000", "2026-01-20", "-34.75", "Card fee", None),
    "10020030/1234567:B1": ("10020030/1234567", "2026-01-02", "-12.50", "Rent January", None),
    "10020030/1234567:2026-01-03#2": ("10020030/1234567", "2026-01-03", "100.00", "Payment from Acme", "INV-42"),
    "10020030/1234567:2026-01-04#1": ("10020030/1234567", "2026-01-04", "-7.25", "Charges", None),
}


@pytest.fixture
def statements(tmp_path: Path) -> Path:
    root = tmp_path / "statements"
    (root / "2026-01").mkdir(parents=True)
    (root / "2026-01" / "us.ofx").write_text(OFX, encoding="ascii")
    (root / "2026-01" / "eur.xml").write_text(CAMT, encoding="utf-8")
    (root / "2026-01" / "gbp.sta").write_text(MT940, encoding="ascii")
    (root / "accounts.csv").write_text(ACCOUNTS, encoding="utf-8")
    return root


def pull(root: Path, server: Any = None) -> dict[str, list[dict[str, Any]]]:
    config = ConnectorConfig(
        "bank",
        "builtin.bank",
        ServerConfig(command="python", args=("-m", "connectors.servers.bankfiles", "--data", str(root))),
        ALLOW,
        FAST,
    )
    batches: dict[str, list[pa.Table]] = {}

    async def go() -> None:
        async with SourceSession(config, server=server) as session:
            await pull_source(session, get_adapter("builtin.bank"), lambda t, b: batches.setdefault(t, []).append(b))

    anyio.run(go)
    return {t: [r for b in bs for r in b.to_pylist()] for t, bs in batches.items()}


def test_ofx_camt053_and_mt940_become_canonical_bank_records(statements: Path) -> None:
    tables = pull(statements, bankfiles.build_server(statements))
    txns = {
        r["txn_id"]: (r["bank_account_id"], r["booked_date"], r["amount"], r["description"], r["reference"])
        for r in tables["bank_transactions"]
    }
    assert txns == EXPECTED_TXNS  # the pending camt entry is not a booked line
    assert len(tables["bank_transactions"]) == len(EXPECTED_TXNS)
    assert sorted(tables["bank_accounts"], key=lambda r: r["bank_account_id"]) == [
        {"bank_account_id": "000123", "name": "US operating", "currency": "USD", "gl_account_id": "1010"},
        {"bank_account_id": "10020030/1234567", "name": "10020030/1234567", "currency": "GBP", "gl_account_id": None},
        {
            "bank_account_id": "DE89370400440532013000",
            "name": "EUR account",
            "currency": "EUR",
            "gl_account_id": "1020",
        },
    ]
    balances = {(r["bank_account_id"], r["balance_date"]): r["closing_balance"] for r in tables["bank_balances"]}
    assert balances == {
        ("000123", "2026-01-31"): "1237.49",
        ("DE89370400440532013000", "2026-01-31"): "1699.75",
        ("10020030/1234567", "2026-01-03"): "1087.50",
        ("10020030/1234567", "2026-01-04"): "1080.25",
    }
    # each statement's lines explain its closing balance exactly (opening + lines = closing)
    gbp = sum(d(t[2]) for t in EXPECTED_TXNS.values() if t[0] == "10020030/1234567")
    assert d("1000.00") + gbp == d(balances[("10020030/1234567", "2026-01-04")])
    eur = sum(d(t[2]) for t in EXPECTED_TXNS.values() if t[0].startswith("DE89"))
    assert d("500.00") + eur == d(balances[("DE89370400440532013000", "2026-01-31")])


@pytest.mark.parametrize(
    ("name", "content", "cause"),
    [
        ("bad.ofx", OFX.replace("<TRNAMT>250.00", "<TRNAMT>two hundred"), "not a readable OFX statement"),
        ("bad.xml", CAMT.replace("</Stmt>", "</Stmnt>"), "not well-formed XML"),
        (
            "bad.xml",
            CAMT.replace("<CdtDbtInd>DBIT</CdtDbtInd><Sts>", "<Sts>"),
            "Stmt 1 Ntry 2: needs Amt and CdtDbtInd",
        ),
        (
            "bad.sta",
            MT940.replace(":62F:C260103GBP1087,50\n", ""),
            "statement 1: needs :25: account and :62F: closing balance",
        ),
        ("bad.sta", "hello, this is not a statement\n", "not an MT940 statement"),
    ],
)
def test_a_malformed_file_is_a_tool_error_naming_the_file_and_the_cause(
    statements: Path, name: str, content: str, cause: str
) -> None:
    (statements / "2026-01" / name).write_text(content, encoding="utf-8")
    with pytest.raises(ConnectorError) as info:
        pull(statements, bankfiles.build_server(statements))
    message = str(info.value)
    assert "source 'bank', tool 'list_bank_accounts'" in message
    assert f"statement file 2026-01/{name}: " in message and cause in message


def test_a_new_statement_file_is_served_on_the_next_pull_over_stdio(statements: Path) -> None:
    (statements / "2026-01" / "gbp.sta").unlink()
    server = bankfiles.build_server(statements)
    first = pull(statements, server)
    assert {r["bank_account_id"] for r in first["bank_accounts"]} == {"000123", "DE89370400440532013000"}
    (statements / "2026-02").mkdir()
    (statements / "2026-02" / "gbp.mt940").write_text(MT940, encoding="ascii")
    again = pull(statements, server)  # the same server re-reads the changed directory
    assert len(again["bank_transactions"]) == len(EXPECTED_TXNS)
    over_stdio = pull(statements)  # a real process: python -m connectors.servers.bankfiles --data DIR
    assert over_stdio == again
