"""``python -m connectors.demo --out DIR [--as-of YYYY-MM-DD] [--seed N] [--scale N] [--plant KIND]...``"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path

from connectors.demo.generator import generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m connectors.demo", description="Write the deterministic demo company files."
    )
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument(
        "--as-of", type=date.fromisoformat, default=None, help="the demo's today, YYYY-MM-DD (default: today in UTC)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--scale", type=int, default=1, help="multiplies customers, vendors and volume")
    parser.add_argument(
        "--plant",
        action="append",
        default=[],
        metavar="KIND",
        help="plant a discrepancy (repeatable; `all` for every kind), see connectors/demo/plant.py",
    )
    args = parser.parse_args(argv)
    if args.scale < 1:
        parser.error("--scale must be >= 1")
    as_of = args.as_of or datetime.now(timezone.utc).date()
    started = time.perf_counter()
    summary = generate(args.out, as_of=as_of, seed=args.seed, scale=args.scale)
    if args.plant:
        from connectors.demo.plant import KINDS, plant

        for kind, what in plant(args.out, list(KINDS) if "all" in args.plant else args.plant).items():
            print(f"planted {kind}: {what['check']} in {what['period']} ({what['record_id']})")
    counts = summary["counts"]
    print(
        f"demo company written to {args.out}: {counts['erp/journal_lines.csv']} journal lines, "
        f"{counts['erp/invoices.csv']} invoices, {counts['erp/bills.csv']} bills, "
        f"{counts['erp/payments.csv']} payment lines, {counts['bank/transactions.csv']} bank transactions, "
        f"{counts['crm/opportunities.csv']} opportunities; periods {summary['first_period']}..{summary['as_of'][:7]} "
        f"(as of {summary['as_of']}, seed {summary['seed']}, scale {summary['scale']}) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
