"""Plant known discrepancies into generated demo files, so reconciliation can be shown (and tested)
to catch them. ``plant(out_dir, kinds)`` edits the files ``generate`` wrote and returns, per planted
kind, what was changed: the record, its date and the period and check expected to flag it. The same
description is written to ``<out_dir>/_plants.json``.

Kinds (each in its own month and on its own records, so they can be planted together):
- ``unbalanced_entry``   a depreciation entry's debit raised by 0.01 (R1), as_of month - 14
- ``stale_bank_line``    a payroll-account bank debit with no book entry, statements include it; it
                         turns stale (R2 fails) stale_after_days later, as_of month - 18
- ``dropped_bank_txn``   a bank feed that drops an operating-account payment while the statement
                         balances keep it (R2), as_of month - 8
- ``ar_drift``           a customer payment 0.01 short in the ERP's payment register, the invoice
                         balance following it: AR subledger 0.01 off its control account (R3), month - 12
- ``ap_drift``           a paid bill's total and balance 0.01 higher than booked (R4), month - 10
- ``total_mismatch``     the ERP's list_invoices reports one row more than it serves (R6, open month),
                         through the servers' test switch file ``_switches.json``
- ``orphan_won_deal``    a won CRM deal for a customer the ERP does not know (R5), month - 6
"""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from connectors.periods import period_of, shift

KINDS = (
    "unbalanced_entry",
    "stale_bank_line",
    "dropped_bank_txn",
    "ar_drift",
    "ap_drift",
    "total_mismatch",
    "orphan_won_deal",
)
MONTH_OFFSET = {
    "unbalanced_entry": -14,
    "stale_bank_line": -18,
    "dropped_bank_txn": -8,
    "ar_drift": -12,
    "ap_drift": -10,
    "orphan_won_deal": -6,
}


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, header, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    tmp.replace(path)


def _month(as_of: date, offset: int) -> str:
    return shift(period_of(as_of), offset)


def _money(d: Decimal) -> str:
    return f"{d.quantize(Decimal('0.01'))}"


def plant(out_dir: Path, kinds: list[str] | tuple[str, ...]) -> dict[str, dict]:
    out = Path(out_dir)
    company = json.loads((out / "company.json").read_text(encoding="utf-8"))
    as_of = date.fromisoformat(company["as_of"])
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown plant(s) {unknown}; known: {', '.join(KINDS)}")
    planted: dict[str, dict] = {}
    for kind in KINDS:  # a fixed order, whatever the request's
        if kind in kinds:
            planted[kind] = globals()[f"_plant_{kind}"](out, as_of)
    previous = out / "_plants.json"
    merged = json.loads(previous.read_text(encoding="utf-8")) if previous.exists() else {}
    merged.update(planted)
    previous.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return planted


def _plant_unbalanced_entry(out: Path, as_of: date) -> dict:
    period = _month(as_of, MONTH_OFFSET["unbalanced_entry"])
    path = out / "erp" / "journal_lines.csv"
    header, rows = _read(path)
    for row in rows:
        if row["description"] == f"Depreciation {period}" and Decimal(row["debit"]) > 0:
            row["debit"] = _money(Decimal(row["debit"]) + Decimal("0.01"))
            _write(path, header, rows)
            return {
                "check": "R1_trial_balance",
                "period": row["posted_date"][:7],
                "record_id": row["entry_id"],
                "record_date": row["posted_date"],
                "amount": "0.01",
            }
    raise LookupError(f"no depreciation entry in {period}")


def _plant_stale_bank_line(out: Path, as_of: date) -> dict:
    period = _month(as_of, MONTH_OFFSET["stale_bank_line"])
    day = date.fromisoformat(f"{period}-10")
    amount = Decimal("-123.45")
    path = out / "bank" / "transactions.csv"
    header, rows = _read(path)
    txn_id = "TXN-PLANTED-1"
    rows.append(
        {
            "txn_id": txn_id,
            "bank_account_id": "BA-002",
            "booked_date": day.isoformat(),
            "amount": _money(amount),
            "description": "UNIDENTIFIED DEBIT",
            "reference": "",
        }
    )
    rows.sort(key=lambda r: (r["booked_date"], r["txn_id"]))
    _write(path, header, rows)
    _shift_balances(out, "BA-002", day, amount)
    return {
        "check": "R2_bank_vs_book",
        "period": period,
        "record_id": txn_id,
        "record_date": day.isoformat(),
        "amount": _money(amount),
        "bank_account_id": "BA-002",
    }


def _shift_balances(out: Path, bank_account_id: str, day: date, amount: Decimal) -> None:
    path = out / "bank" / "balances.csv"
    header, rows = _read(path)
    for row in rows:
        if row["bank_account_id"] == bank_account_id and row["balance_date"] >= day.isoformat():
            row["closing_balance"] = _money(Decimal(row["closing_balance"]) + amount)
    _write(path, header, rows)


def _plant_dropped_bank_txn(out: Path, as_of: date) -> dict:
    period = _month(as_of, MONTH_OFFSET["dropped_bank_txn"])
    path = out / "bank" / "transactions.csv"
    header, rows = _read(path)
    for row in rows:
        if (
            row["bank_account_id"] == "BA-001"
            and row["booked_date"][:7] == period
            and row["booked_date"][8:] >= "05"
            and row["description"].startswith("ACH DEBIT")
            and row["reference"].startswith("BILL-")
        ):
            break
    else:
        raise LookupError(f"no vendor payment on BA-001 in {period}")
    rows.remove(row)  # equal rows are the same record: which copy goes makes no difference
    dropped = row
    _write(path, header, rows)  # balances.csv keeps it: the statement still includes the payment
    _, lines = _read(out / "erp" / "journal_lines.csv")
    book = [
        r
        for r in lines
        if r["document_id"] == dropped["reference"]
        and r["account_id"] == "1110"
        and Decimal(r["credit"]) == -Decimal(dropped["amount"])
    ]
    book_line = book[-1]
    return {
        "check": "R2_bank_vs_book",
        "period": period,
        "txn_id": dropped["txn_id"],
        "record_id": f"{book_line['entry_id']}:{book_line['line_no']}",
        "record_date": book_line["posted_date"],
        "amount": dropped["amount"],
        "bank_account_id": "BA-001",
    }


def _plant_ar_drift(out: Path, as_of: date) -> dict:
    period = _month(as_of, MONTH_OFFSET["ar_drift"])
    pay_path, inv_path = out / "erp" / "payments.csv", out / "erp" / "invoices.csv"
    p_header, payments = _read(pay_path)
    i_header, invoices = _read(inv_path)
    by_id = {r["invoice_id"]: r for r in invoices}
    for row in payments:
        if (
            row["paid_date"][:7] == period
            and row["kind"] == "payment"
            and row["document_id"].startswith("INV-")
            and by_id[row["document_id"]]["status"] == "paid"
        ):
            break
    else:
        raise LookupError(f"no invoice payment in {period}")
    row["amount"] = _money(Decimal(row["amount"]) - Decimal("0.01"))
    invoice = by_id[row["document_id"]]
    invoice["balance"] = _money(Decimal(invoice["balance"]) + Decimal("0.01"))
    invoice["status"] = "open"
    _write(pay_path, p_header, payments)
    _write(inv_path, i_header, invoices)
    return {
        "check": "R3_ar",
        "period": period,
        "record_id": invoice["invoice_id"],
        "record_date": row["paid_date"],
        "amount": "0.01",
        "payment_id": row["payment_id"],
    }


def _plant_ap_drift(out: Path, as_of: date) -> dict:
    period = _month(as_of, MONTH_OFFSET["ap_drift"])
    path = out / "erp" / "bills.csv"
    header, bills = _read(path)
    for bill in bills:
        if bill["issue_date"][:7] == period and bill["status"] == "paid" and bill["bill_id"].startswith("BILL-"):
            break
    else:
        raise LookupError(f"no paid bill issued in {period}")
    bill["total"] = _money(Decimal(bill["total"]) + Decimal("0.01"))
    bill["balance"] = _money(Decimal(bill["balance"]) + Decimal("0.01"))
    bill["status"] = "open"
    _write(path, header, bills)
    return {
        "check": "R4_ap",
        "period": period,
        "record_id": bill["bill_id"],
        "record_date": bill["issue_date"],
        "amount": "0.01",
    }


def _plant_total_mismatch(out: Path, as_of: date) -> dict:
    path = out / "_switches.json"
    switches = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    switches.setdefault("total_offset", {})["invoices"] = 1
    path.write_text(json.dumps(switches, indent=2) + "\n", encoding="utf-8")
    return {
        "check": "R6_completeness",
        "period": period_of(as_of),
        "record_id": "erp_invoices",
        "record_date": None,
        "amount": "-1.00",
    }


def _plant_orphan_won_deal(out: Path, as_of: date) -> dict:
    period = _month(as_of, MONTH_OFFSET["orphan_won_deal"])
    close = date.fromisoformat(f"{period}-12")
    path = out / "crm" / "opportunities.csv"
    header, rows = _read(path)
    opp_id = "OPP-PLANTED-1"
    rows.append(
        {
            "opportunity_id": opp_id,
            "customer_id": "C9999",
            "customer_name": "Phantom Widgets Inc",
            "stage": "closed_won",
            "amount": "48000.00",
            "currency": "USD",
            "close_date": close.isoformat(),
            "probability": "100.00",
            "owner": "Alex Morgan",
            "is_won": "true",
            "is_closed": "true",
            "updated_at": (close + timedelta(days=1)).isoformat(),
        }
    )
    _write(path, header, rows)
    return {
        "check": "R5_bookings_vs_billings",
        "period": period,
        "record_id": opp_id,
        "record_date": close.isoformat(),
        "amount": "48000.00",
    }
