"""closeboard-crmcsv: a CRM from a CSV export (HubSpot or Salesforce deals, any spreadsheet), read-only.

Serves the same tools as the bundled CRM server (``list_opportunities``: same arguments, paging and
JSON shape; ``get_opportunity_summary``, the change marker; both built by ``crm.add_crm_tools``), so it
feeds the ``builtin.crm`` adapter unchanged.

Run: ``python -m connectors.servers.crmcsv --file EXPORT.csv [--file MORE.csv] [--columns MAPPING]``,
or ``--data DIR`` for every ``*.csv`` below DIR (a ``columns.yaml``/``columns.yml``/``columns.json``
there is the mapping unless ``--columns`` names one); ``--http PORT`` as for the other servers.

Columns. Each canonical column is read from the first header present among its defaults (header
names compared case-insensitively, spaces collapsed)::

    opportunity_id  Record ID | Deal ID | Opportunity ID | ID                           (required)
    stage           Deal Stage | Stage | Opportunity Stage                             (required)
    amount          Amount | Deal Amount | Opportunity Amount                          (required)
    currency        Currency | Deal Currency Code | Opportunity Currency | Amount Currency | Currency Code
    customer_id     Company ID | Account ID | Associated Company IDs | Associated Company ID | Customer ID
    customer_name   Company | Company Name | Associated Company | Associated Company (Primary) |
                    Account Name | Account | Customer | Customer Name
    close_date      Close Date | Expected Close Date
    probability     Probability (%) | Probability | Deal Probability | Deal Stage Probability
    owner           Deal Owner | Opportunity Owner | Owner
    is_won          Won | Is Won | Is Closed Won
    is_closed       Closed | Is Closed
    updated_at      Last Modified Date | Last Modified | Last Modified Date/Time (drives updated_since)

Other columns ("Deal Name", "Pipeline", ...) are ignored. The mapping file (YAML or JSON) may set::

    columns: {amount: "Amount in company currency", opportunity_id: "Deal ID"}  # canonical -> header
    currency: USD                 # when the export has no currency column
    date_format: "%m/%d/%Y"       # dates that are not ISO YYYY-MM-DD (strptime)
    decimal_comma: false          # true for "1.234,50"
    probability_scale: percent    # or fraction (0.2 means 20 %)
    won_stages: [Closed Won]      # default: closed won, closedwon, won (case-insensitive)
    lost_stages: [Closed Lost]    # default: closed lost, closedlost, lost
    empty_amount: error           # or zero (an open deal with no amount yet counts 0) or skip
    encoding: utf-8-sig

Values: amounts may carry a currency symbol or code, thousands separators and accounting
parentheses ("$1,234.50", "(250.00)"), and stay exact decimal text. Each mode reads one strict
pattern (``parse_amount``): by default ``,`` thousands groups of exactly three and ``.`` decimals;
with ``decimal_comma`` ``.`` or space thousands groups and ``,`` decimals. Anything else ("12,50"
by default, "1.5" or "$1,234.50" with decimal_comma) fails naming the file, line and column
rather than being guessed; ``is_won``/``is_closed`` columns
take true/false, yes/no, 1/0, else they follow the stage; an "Associated Company IDs" list
("123;456") gives its first id. Like the statement-file bank server, a file that cannot be read
fails every call with an error naming the file, the line and the cause (a row silently skipped
would show up only as a bookings gap): a missing required column, a row with the wrong number of
fields, a repeated id, an amount or date that cannot be read, an unknown mapping key. Files are
re-read when they (or the mapping) change; a cursor keeps the snapshot it was cut from.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pyarrow as pa
import yaml
from mcp.server.mcpserver import MCPServer

from connectors.servers.crm import OPPORTUNITIES, add_crm_tools
from connectors.servers.hosting import new_server, serve
from connectors.servers.specs import SourceError
from connectors.servers.store import DataSource, Loaded

DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "opportunity_id": ("record id", "deal id", "opportunity id", "id"),
    "stage": ("deal stage", "stage", "opportunity stage"),
    "amount": ("amount", "deal amount", "opportunity amount"),
    "currency": ("currency", "deal currency code", "opportunity currency", "amount currency", "currency code"),
    "customer_id": ("company id", "account id", "associated company ids", "associated company id", "customer id"),
    "customer_name": (
        "company",
        "company name",
        "associated company",
        "associated company (primary)",
        "account name",
        "account",
        "customer",
        "customer name",
    ),
    "close_date": ("close date", "expected close date"),
    "probability": ("probability (%)", "probability", "deal probability", "deal stage probability"),
    "owner": ("deal owner", "opportunity owner", "owner"),
    "is_won": ("won", "is won", "is closed won"),
    "is_closed": ("closed", "is closed"),
    "updated_at": ("last modified date", "last modified", "last modified date/time"),
}
REQUIRED = ("opportunity_id", "stage", "amount")
MAPPING_KEYS = (
    "columns",
    "currency",
    "date_format",
    "decimal_comma",
    "probability_scale",
    "won_stages",
    "lost_stages",
    "empty_amount",
    "encoding",
)
MAPPING_NAMES = ("columns.yaml", "columns.yml", "columns.json")
TRUE = {"true", "yes", "y", "1", "won"}
FALSE = {"false", "no", "n", "0", "lost"}


def _key(header: str) -> str:
    return " ".join(header.replace("\ufeff", "").split()).casefold()


@dataclass
class Mapping:
    columns: dict[str, str] = field(default_factory=dict)
    currency: str | None = None
    date_format: str | None = None
    decimal_comma: bool = False
    probability_scale: str = "percent"
    won_stages: frozenset[str] = frozenset({"closed won", "closedwon", "won"})
    lost_stages: frozenset[str] = frozenset({"closed lost", "closedlost", "lost"})
    empty_amount: str = "error"
    encoding: str = "utf-8-sig"


def read_mapping(path: Path | None) -> Mapping:
    if path is None:
        return Mapping()
    where = f"column mapping {path.name}"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise SourceError(f"{where}: not found ({path})") from None
    except (OSError, yaml.YAMLError) as exc:
        raise SourceError(f"{where}: cannot read: {exc}") from None
    if not isinstance(raw, dict):
        raise SourceError(f"{where}: must be a mapping of settings ({', '.join(MAPPING_KEYS)})")
    unknown = sorted(set(raw) - set(MAPPING_KEYS))
    if unknown:
        raise SourceError(f"{where}: unknown keys {unknown} (known: {list(MAPPING_KEYS)})")
    m = Mapping()
    columns = raw.get("columns") or {}
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise SourceError(f"{where}: columns must map canonical column -> export header")
    bad = sorted(set(columns) - set(DEFAULT_COLUMNS))
    if bad:
        raise SourceError(f"{where}: columns {bad} are not CRM columns (known: {list(DEFAULT_COLUMNS)})")
    m.columns = {str(k): v for k, v in columns.items()}
    if raw.get("currency") is not None:
        currency = str(raw["currency"]).strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            raise SourceError(f"{where}: currency must be a 3-letter ISO 4217 code, got {raw['currency']!r}")
        m.currency = currency
    m.date_format = str(raw["date_format"]) if raw.get("date_format") else None
    m.decimal_comma = bool(raw.get("decimal_comma", False))
    m.probability_scale = str(raw.get("probability_scale", "percent"))
    if m.probability_scale not in ("percent", "fraction"):
        raise SourceError(f"{where}: probability_scale is percent or fraction, got {m.probability_scale!r}")
    for name in ("won_stages", "lost_stages"):
        if name in raw:
            values = raw[name]
            if not isinstance(values, list):
                raise SourceError(f"{where}: {name} must be a list of stage names")
            setattr(m, name, frozenset(_key(str(v)) for v in values))
    m.empty_amount = str(raw.get("empty_amount", "error"))
    if m.empty_amount not in ("error", "zero", "skip"):
        raise SourceError(f"{where}: empty_amount is error, zero or skip, got {m.empty_amount!r}")
    m.encoding = str(raw.get("encoding", "utf-8-sig"))
    return m


class RowError(ValueError):
    """A value in a row that cannot be read; the message names the column and the cause."""


_SYMBOL = "$€£¥"
_CURRENCY = rf"(?:[{_SYMBOL}]|[A-Za-z]{{3}})"
_NUMBER = {  # digits, thousands groups of exactly three, decimals
    False: r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?",  # 1,234.50
    True: r"(?:[0-9]{1,3}(?:\.[0-9]{3})+|[0-9]{1,3}(?: [0-9]{3})+|[0-9]+)(?:,[0-9]+)?",  # 1.234,50 / 1 234,50
}
_AMOUNT = {
    mode: re.compile(
        rf"(?P<c1>{_CURRENCY})? ?(?P<open>\()?(?P<c2>{_CURRENCY})? ?(?P<sign>[-+])?(?P<c3>{_CURRENCY})? ?"
        rf"(?P<number>{number})(?: ?(?P<c4>{_CURRENCY}))?(?P<close>\))?(?: ?(?P<c5>{_CURRENCY}))?"
    )
    for mode, number in _NUMBER.items()
}
_SHAPE = {
    False: "an amount like 1234.50, 1,234.50, -1234.50, (1,234.50), $1,234.50 or 1,234.50 USD "
    "(set decimal_comma: true in the column mapping for 1.234,50)",
    True: "an amount like 1234,50, 1.234,50, 1 234,50, -1234,50, (1.234,50) or 1.234,50 EUR "
    "(decimal_comma is true in the column mapping)",
}


def parse_amount(text: str, decimal_comma: bool) -> str:
    """Exact decimal text of an export's amount, read by one strict pattern per mode: an optional
    currency symbol or 3-letter code, an optional sign or accounting parentheses, digits with
    optional thousands groups of exactly three (``,`` by default; ``.`` or a space with
    ``decimal_comma``) and optional decimals (``.`` by default, ``,`` with ``decimal_comma``).
    Anything else is refused, never guessed: ``12,50`` is not 1250 and ``1.5`` is not 15."""
    t = " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").replace("\u2212", "-").split())
    match = _AMOUNT[decimal_comma].fullmatch(t)
    currencies = [match[g] for g in ("c1", "c2", "c3", "c4", "c5") if match and match[g]] if match else []
    if (
        match is None
        or bool(match["open"]) != bool(match["close"])
        or (match["open"] and match["sign"])
        or len(currencies) > 1
    ):
        raise RowError(f"amount {text!r} is not a number: expected {_SHAPE[decimal_comma]}")
    number = match["number"]
    number = number.replace(".", "").replace(" ", "").replace(",", ".") if decimal_comma else number.replace(",", "")
    value = Decimal(number)
    if (match["open"] or match["sign"] == "-") and value:
        value = -value
    return format(value, "f")


def parse_date(text: str, date_format: str | None, column: str) -> str:
    t = text.strip()
    if date_format:
        try:
            return datetime.strptime(t, date_format).date().isoformat()
        except ValueError:
            pass  # an ISO value in the same column is fine too
    try:
        return date.fromisoformat(t[:10]).isoformat()
    except ValueError:
        hint = (
            f"does not match date_format {date_format!r}"
            if date_format
            else ('is not YYYY-MM-DD: set date_format in the column mapping (e.g. "%m/%d/%Y")')
        )
        raise RowError(f"{column} {text!r} {hint}") from None


def parse_flag(text: str, column: str) -> bool:
    t = text.strip().casefold()
    if t in TRUE:
        return True
    if t in FALSE:
        return False
    raise RowError(f"{column} {text!r} is not true/false, yes/no or 1/0")


def read_export(data: bytes, name: str, mapping: Mapping) -> list[dict[str, str | None]]:
    """The opportunities of one export file; SourceError naming the file, line and cause."""
    try:
        text = data.decode(mapping.encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise SourceError(
            f"CRM export {name}: cannot decode as {mapping.encoding} ({exc}); set encoding in the column mapping"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise SourceError(f"CRM export {name}: not a readable CSV file: {exc}") from None
    if not header or not any(h.strip() for h in header):
        raise SourceError(f"CRM export {name}: no header line")
    positions: dict[str, int] = {}
    for index, title in enumerate(header):
        positions.setdefault(_key(title), index)
    where: dict[str, int] = {}
    for column, candidates in DEFAULT_COLUMNS.items():
        if column in mapping.columns:
            wanted = mapping.columns[column]
            if _key(wanted) not in positions:
                raise SourceError(
                    f"CRM export {name}: the column mapping reads {column} from {wanted!r}, which is not in the header"
                )
            where[column] = positions[_key(wanted)]
            continue
        found = next((positions[c] for c in candidates if c in positions), None)
        if found is not None:
            where[column] = found
    missing = [c for c in REQUIRED if c not in where]
    if missing:
        accepted = "; ".join(f"{c}: {' | '.join(DEFAULT_COLUMNS[c])}" for c in missing)
        raise SourceError(
            f"CRM export {name}: no column for {missing} (accepted headers: {accepted}); "
            "name it in the column mapping (--columns)"
        )
    if "currency" not in where and mapping.currency is None:
        raise SourceError(f"CRM export {name}: no currency column; set currency in the column mapping")
    title = {c: header[i].strip() for c, i in where.items()}
    rows: list[dict[str, str | None]] = []
    seen: dict[str, int] = {}
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise SourceError(f"CRM export {name}, line {reader.line_num}: not readable CSV: {exc}") from None
        line = reader.line_num
        if not record or not any(v.strip() for v in record):
            continue
        if len(record) != len(header):
            raise SourceError(
                f"CRM export {name}, line {line}: {len(record)} fields where the header has {len(header)}"
            )
        try:
            row = _row(record, where, title, mapping)
        except RowError as exc:
            raise SourceError(f"CRM export {name}, line {line}: {exc}") from None
        if row is None:
            continue
        oid = row["opportunity_id"]
        assert oid is not None
        if oid in seen:
            raise SourceError(
                f"CRM export {name}, line {line}: {title['opportunity_id']} {oid!r} repeats line {seen[oid]}"
            )
        seen[oid] = line
        rows.append(row)
    return rows


def _row(record: list[str], where: dict[str, int], title: dict[str, str], m: Mapping) -> dict[str, str | None] | None:
    def get(column: str) -> str | None:
        value = record[where[column]].strip() if column in where else ""
        return value or None

    oid, stage, amount_text = get("opportunity_id"), get("stage"), get("amount")
    if oid is None:
        raise RowError(f"no {title['opportunity_id']}")
    if stage is None:
        raise RowError(f"{oid}: no {title['stage']}")
    if amount_text is None:
        if m.empty_amount == "skip":
            return None
        if m.empty_amount == "error":
            raise RowError(
                f"{oid}: no {title['amount']} (set empty_amount: zero or skip in the column mapping to accept it)"
            )
        amount = "0"
    else:
        try:
            amount = parse_amount(amount_text, m.decimal_comma)
        except RowError as exc:
            raise RowError(f"{oid}: {title['amount']}: {exc}") from None
    currency = (get("currency") or m.currency or "").upper()
    if not currency:
        raise RowError(f"{oid}: no {title.get('currency', 'currency')} and no default currency in the column mapping")
    close = get("close_date")
    probability = get("probability")
    try:
        close_date = parse_date(close, m.date_format, title["close_date"]) if close else None
        if probability is not None:
            value = Decimal(probability.rstrip("%").strip())
            if not value.is_finite():
                raise InvalidOperation
            if m.probability_scale == "fraction":
                value *= 100
            probability = format(value.normalize(), "f") if value else "0"
        stage_key = _key(stage)
        won_text, closed_text = get("is_won"), get("is_closed")
        won = parse_flag(won_text, title["is_won"]) if won_text else stage_key in m.won_stages
        closed = parse_flag(closed_text, title["is_closed"]) if closed_text else (won or stage_key in m.lost_stages)
    except InvalidOperation:
        raise RowError(f"{oid}: {title['probability']} {probability!r} is not a number") from None
    except RowError as exc:
        raise RowError(f"{oid}: {exc}") from None
    customer_id = get("customer_id")
    if customer_id and ";" in customer_id:  # HubSpot "Associated Company IDs": "123;456"
        customer_id = customer_id.split(";")[0].strip() or None
    return {
        "opportunity_id": oid,
        "customer_id": customer_id,
        "customer_name": get("customer_name"),
        "stage": stage,
        "amount": amount,
        "currency": currency,
        "close_date": close_date,
        "probability": probability,
        "owner": get("owner"),
        "is_won": "true" if won else "false",
        "is_closed": "true" if closed or won else "false",
        "updated_at": get("updated_at"),
    }


class ExportSource(DataSource):
    """The opportunities of every export file; re-read when a file or the mapping changes."""

    def __init__(self, root: Path, files: Sequence[Path] = (), columns: Path | None = None):
        super().__init__(root, (OPPORTUNITIES,))
        self.explicit = [Path(f) for f in files]
        self.columns = columns
        self._seen: str | None = None

    def files(self) -> list[Path]:
        if self.explicit:
            return self.explicit
        return sorted(p for p in self.root.rglob("*.csv") if p.is_file())

    def mapping_file(self) -> Path | None:
        if self.columns is not None:
            return self.columns
        return next((self.root / n for n in MAPPING_NAMES if (self.root / n).is_file()), None)

    def _signature(self, paths: list[Path]) -> str:
        parts = []
        for path in paths:
            try:
                st = os.stat(path)
            except FileNotFoundError:
                parts.append(f"{path}:absent")
                continue
            parts.append(f"{path}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}")
        return hashlib.blake2b("\n".join(parts).encode(), digest_size=6).hexdigest()

    def load(self, name: str) -> Loaded:
        files, mapping_path = self.files(), self.mapping_file()
        version = self._signature([*files, *([mapping_path] if mapping_path else [])])
        with self._locks[name]:
            held = self._versions[name].get(version)
        if held is not None and version == self._seen:
            return held
        if not files:
            raise SourceError(f"no CRM export (*.csv) under {self.root}")
        mapping = read_mapping(mapping_path)
        rows: list[dict[str, str | None]] = []
        origin: dict[str, str] = {}
        for path in files:
            label = path.name if self.explicit else path.relative_to(self.root).as_posix()
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                raise SourceError(f"CRM export {label}: not found ({path})") from None
            except OSError as exc:
                raise SourceError(f"CRM export {label}: cannot read: {exc}") from None
            for row in read_export(data, label, mapping):
                oid = str(row["opportunity_id"])
                if oid in origin:
                    raise SourceError(f"CRM export {label}: opportunity {oid!r} is also in {origin[oid]}")
                origin[oid] = label
                rows.append(row)
        columns = (*OPPORTUNITIES.column_names, "updated_at")
        table = pa.table({c: pa.array([r.get(c) for r in rows], pa.string()) for c in columns})
        loaded = self._build(OPPORTUNITIES, table, version)
        with self._locks[name]:
            self._keep(name, loaded)
        self._seen = version
        return loaded


def build_server(data_dir: Path, files: Sequence[Path] = (), columns: Path | None = None) -> MCPServer:
    server = new_server(
        "closeboard-crmcsv",
        title="closeboard CRM from a CSV export (read-only)",
        instructions="Read-only CRM built from deal/opportunity CSV exports. Pages with cursor/limit, "
        "answers compact JSON text.",
    )
    source = ExportSource(data_dir, files, columns)
    return add_crm_tools(server, source, "Sales opportunities from the CRM export, open and closed.")


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    prog = "python -m connectors.servers.crmcsv"
    parser = argparse.ArgumentParser(prog=prog, add_help=False)
    parser.add_argument("--file", action="append", type=Path, default=[])
    parser.add_argument("--columns", type=Path, default=None)
    known, rest = parser.parse_known_args(args)
    if "-h" in rest or "--help" in rest:
        print(f"{prog} --file EXPORT.csv [--file ...] [--columns MAPPING.yaml] | --data DIR  (see the module docs)\n")
    files = [f.expanduser().resolve() for f in known.file]
    columns = known.columns.expanduser().resolve() if known.columns else None
    if files and "--data" not in rest:
        rest += ["--data", str(files[0].parent)]
    serve(lambda data_dir: build_server(data_dir, files, columns), rest, prog=prog)


if __name__ == "__main__":
    main()
