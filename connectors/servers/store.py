"""``DataSource``: each table of a bundled server in memory as a pyarrow Table of strings, sorted by
its date column, reloaded when its file's (inode, size, mtime) changes, answering paged queries by
OFFSET over a cached filtered table. A cursor names the file version it was cut from, so a client
that pages through a table sees one consistent snapshot (items and ``total`` agree) even if the file
changes mid-way; the previous version is kept for that, older ones are dropped. Money never passes
through a float: values stay the CSV's text; sums use Arrow decimals."""

from __future__ import annotations

import base64
import binascii
import contextlib
import csv
import functools
import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from connectors.servers.parsed import ParsedFiles
from connectors.servers.specs import DEFAULT_LIMIT, MAX_LIMIT, SourceError, TableSpec
from connectors.servers.switches import (
    SWITCHES_FILE,
    Switches,
    after_paged_call,
    before_paged_call,
    die_mid_pagination,
    hidden_entries,
    hide_entries,
    int_switch,
)

# --------------------------------------------------------------------------------------------- helpers

KEEP_VERSIONS = 2
"""File versions held per table: the current one and the one a client may still be paging through."""
CACHE_ENTRIES = 32  # cached filtered tables per DataSource
# rows whose text a month summary's digest holds at once: the whole 1.1M-line journal's text and its
# Python strings were ~300 MB more at the ERP server's peak
DIGEST_BATCH_ROWS = 65_536


def parse_date(value: str | None, name: str) -> str | None:
    """An ISO date argument, normalised to YYYY-MM-DD; None or "" means no bound."""
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise SourceError(f"{name} must be an ISO date YYYY-MM-DD, got {value!r}") from None


def normalise_timestamp(value: str) -> str | None:
    """ISO date or datetime -> fixed-width UTC text that sorts like time ("...T..:..:...ffffffZ")."""
    try:
        dt = datetime.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(value: str | None, name: str) -> str | None:
    if value is None or value == "":
        return None
    norm = normalise_timestamp(str(value))
    if norm is None:
        raise SourceError(f"{name} must be an ISO-8601 date or timestamp, got {value!r}")
    return norm


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def clamp_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    return max(1, min(MAX_LIMIT, int(limit)))


def encode_cursor(version: str, query_digest: str, offset: int) -> str:
    raw = f"{version}.{query_digest}.{offset}".encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, query_digest: str) -> tuple[str, int]:
    """-> (file version, offset). Rejects anything this server did not cut for this query."""
    try:
        padded = cursor.strip() + "=" * (-len(cursor.strip()) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
        version, digest, offset_text = raw.split(".")
        offset = int(offset_text)
    except (ValueError, UnicodeError, binascii.Error):
        raise SourceError(f"invalid cursor {cursor!r}: pass next_cursor from the previous page unchanged") from None
    if offset < 0 or not version:
        raise SourceError(f"invalid cursor {cursor!r}: pass next_cursor from the previous page unchanged")
    if digest != query_digest:
        raise SourceError(
            "cursor does not belong to this query: keep the same tool arguments while following next_cursor"
        )
    return version, offset


RACY_NS = 2_000_000_000
"""A file modified this close to the moment it was read may change again without changing its
(size, mtime) - timestamps are coarse - so its content is re-checked by hash until that window passes
(git's "racily clean" entries)."""


def _stat_key(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _file_version(key: tuple[int, int, int], digest: str | None = None) -> str:
    """A file version: the same in every process for the same file (cursors survive a restart)."""
    text = f"{key[0]}:{key[1]}:{key[2]}" + (f":{digest}" if digest else "")
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def _digest(data: bytes) -> str:
    """A file's content digest: SHA-256, the parsed cache's own (`Parsed.sha256`), so a file it read is
    not hashed twice (and the CPU's SHA instructions make it ~2x blake2b's speed here)."""
    return hashlib.sha256(data).hexdigest()


def format_decimal(value: Decimal | None) -> str:
    """Exact money text with at least two decimals ("0.00", "12.30", "0.125")."""
    if value is None:
        return "0.00"
    if value.as_tuple().exponent >= -2:  # type: ignore[operator]
        return str(value.quantize(Decimal("0.01")))
    text = format(value.normalize(), "f")
    if "." not in text or len(text.split(".")[1]) < 2:
        text = str(Decimal(text).quantize(Decimal("0.01")))
    return text


def to_decimal(column: pa.ChunkedArray | pa.Array, label: str) -> pa.ChunkedArray | pa.Array:
    """Money text -> Arrow decimal, exactly (scale 2 if every value fits, else scale 10)."""
    for dtype in (pa.decimal128(18, 2), pa.decimal128(38, 10)):
        try:
            return pc.cast(column, dtype)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    raise SourceError(f"{label} holds a value that is not a decimal number")


# --------------------------------------------------------------------------------------------- JSON

_NULL = "\x00N"  # stands for null while rows are joined; a raw NUL never survives escaping
_NEEDS_ESCAPE = r'["\\\x00-\x1f]'


def _json_string_bodies(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Each value as the inside of a JSON string literal; null as the _NULL sentinel."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not pa.types.is_string(column.type):
        column = pc.cast(column, pa.string())
    needs = pc.fill_null(pc.match_substring_regex(column, _NEEDS_ESCAPE), False)
    if pc.any(needs).as_py():
        raw = column.filter(needs).to_pylist()
        escaped = pa.array([json.dumps(v, ensure_ascii=False)[1:-1] for v in raw], pa.string())
        column = pc.replace_with_mask(column, needs, escaped)
    return pc.fill_null(column, _NULL)


def items_json(table: pa.Table) -> str:
    """``json.dumps(table.to_pylist())`` for a table of strings, built column-wise in Arrow (faster)."""
    if table.num_rows == 0:
        return "[]"
    parts: list[Any] = []
    for i, name in enumerate(table.column_names):
        parts.append(("{" if i == 0 else '",') + json.dumps(name, ensure_ascii=False) + ':"')
        parts.append(_json_string_bodies(table.column(i)))
    parts.append('"}')
    rows = pc.binary_join_element_wise(*parts, "")
    return ("[" + ",".join(rows.to_pylist()) + "]").replace(f'"{_NULL}"', "null")


# --------------------------------------------------------------------------------------------- store


@dataclass(frozen=True)
class Query:
    """A filter over one table; its digest ties cursors to it."""

    table: str
    date_from: str | None = None
    date_to: str | None = None
    equals: tuple[tuple[str, str], ...] = ()
    since: tuple[tuple[str, str], ...] = ()  # column >= value (normalised timestamps); null kept

    def digest(self) -> str:
        text = repr((self.table, self.date_from, self.date_to, self.equals, self.since))
        return hashlib.blake2b(text.encode(), digest_size=4).hexdigest()


@dataclass
class Loaded:
    version: str
    full: pa.Table  # every file column (strings), sorted by the date column, nulls last
    out: pa.Table  # exactly the canonical columns, same rows and order
    dates: pa.Array | None  # the date column as one array (for binary search)
    dated_rows: int  # rows with a date (they come first)
    key: tuple[int, int, int] | None = None  # the file's (inode, size, mtime_ns) when read
    digest: str | None = None  # content hash, kept while the version is racy
    grown_from: tuple[int, int, int] | None = None  # the cached version this one appended lines to
    appended: Loaded | None = None  # those lines alone (parsed.Parsed)


class DataSource:
    """The files of one server family under a data root, with reload-on-change and a query cache."""

    def __init__(self, root: Path, specs: Sequence[TableSpec], cache: Path | None = None):
        """`cache`: a folder where the parsed files are kept from one process to the next
        (connectors/servers/parsed.py); None parses every file each process."""
        self.root = Path(root).expanduser().resolve()
        self.parsed = ParsedFiles(cache) if cache is not None else None
        if not self.root.is_dir():
            raise FileNotFoundError(f"data directory not found: {self.root}")
        self.specs = {spec.name: spec for spec in specs}
        self._locks = {name: threading.Lock() for name in self.specs}
        self._versions: dict[str, OrderedDict[str, Loaded]] = {name: OrderedDict() for name in self.specs}
        self._cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._computing: dict[tuple[Any, ...], threading.Lock] = {}  # keys being computed, one thread each
        self.switches = Switches(self.root / SWITCHES_FILE)

    # ---- company.json

    def company(self) -> dict[str, Any]:
        """``company.json``, read on every call (it is small)."""
        path = self.root / "company.json"
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SourceError(f"company.json not found in the data directory {self.root}") from None
        except OSError as exc:
            raise SourceError(f"company.json: cannot read: {exc}") from None
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise SourceError(f"company.json is not readable JSON: {exc}") from None
        if not isinstance(value, dict):
            raise SourceError("company.json must hold a JSON object")
        return value

    # ---- loading

    def load(self, name: str) -> Loaded:
        """The current version of a table, re-read if its file changed since the last call."""
        spec = self.specs[name]
        path = self.root / spec.path
        with self._locks[name]:
            versions = self._versions[name]
            current = versions[next(reversed(versions))] if versions else None
            try:
                st = os.stat(path)
            except FileNotFoundError:
                if not spec.optional:
                    raise SourceError(f"{spec.path} not found in the data directory {self.root}") from None
                if current is not None and current.version == "absent":
                    return current
                return self._keep(name, self._build(spec, pa.table({}), "absent"))
            key = _stat_key(st)
            started = time.time_ns()
            digest_suffix = None
            if current is not None and current.key == key:
                if current.digest is None:
                    return current
                data = self._read_bytes(spec, path)
                if _digest(data) == current.digest:
                    if key[2] <= started - RACY_NS:
                        current.digest = None  # any later change will show in the mtime
                    return current
                digest_suffix = _digest(data)  # changed within one timestamp tick: same key, new content
            elif self.parsed is not None:
                racy = key[2] > started - RACY_NS
                parsed = self.parsed.table(
                    spec.path,
                    path,
                    key,
                    lambda: self._read_bytes(spec, path),
                    lambda data: self._parse_csv(spec, data),
                    lambda data, names: self._csv_rows(spec, data, names),
                    racy=racy,
                )
                loaded = self._build(spec, parsed.table, _file_version(key))
                loaded.key = key
                if racy:  # its content is checked again until the window passes, as without a cache
                    loaded.digest = parsed.sha256  # a racy file is always read: its bytes' `_digest`
                if parsed.grown_from is not None and parsed.appended is not None:
                    loaded.grown_from = parsed.grown_from
                    loaded.appended = self._build(spec, parsed.appended, f"{loaded.version}+appended")
                return self._keep(name, loaded)
            else:
                data = self._read_bytes(spec, path)
            loaded = self._build(spec, self._parse_csv(spec, data), _file_version(key, digest_suffix))
            loaded.key = key
            loaded.digest = _digest(data) if key[2] > started - RACY_NS else None
            del data
            return self._keep(name, loaded)

    def load_all(self) -> None:
        """Read every table now (`hosting.warm_up`); a file that cannot be read is left for the call
        that reads it to report."""
        for name in self.specs:
            with contextlib.suppress(SourceError):
                self.load(name)

    def _keep(self, name: str, loaded: Loaded) -> Loaded:
        versions = self._versions[name]
        versions.pop(loaded.version, None)
        versions[loaded.version] = loaded
        while len(versions) > KEEP_VERSIONS:
            versions.popitem(last=False)
        pa.default_memory_pool().release_unused()  # the CSV reader's scratch space (mimalloc keeps it)
        return loaded

    def loaded_version(self, name: str, version: str) -> Loaded:
        """The table as it was at ``version`` (a cursor's), if this process still holds it."""
        current = self.load(name)
        if current.version == version:
            return current
        with self._locks[name]:
            held = self._versions[name].get(version)
        if held is None:
            raise SourceError(
                f"{self.specs[name].path} changed while paging and the snapshot this cursor belongs to "
                "is no longer held: start again without a cursor"
            )
        return held

    def _build(self, spec: TableSpec, table: pa.Table, version: str) -> Loaded:
        n = table.num_rows
        for col in spec.timestamp_columns:
            if col in table.column_names:
                values = [None if v is None else normalise_timestamp(v) for v in table[col].to_pylist()]
                idx = table.column_names.index(col)
                table = table.set_column(idx, col, pa.array(values, pa.string()))
        dates = None
        dated = n
        if spec.date_column is not None:
            if spec.date_column in table.column_names:
                col = table[spec.date_column]
                if not _is_sorted(col):
                    table = _sorted_by(table, spec.date_column)
                dates = table[spec.date_column].combine_chunks()
                dated = n - dates.null_count
            else:
                dates, dated = pa.nulls(n, pa.string()), 0
        out = pa.table(
            {c: table[c] if c in table.column_names else pa.nulls(n, pa.string()) for c in spec.column_names}
        )
        return Loaded(version=version, full=table, out=out, dates=dates, dated_rows=dated)

    def _read_bytes(self, spec: TableSpec, path: Path) -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise SourceError(f"{spec.path}: cannot read: {exc}") from None

    def _parse_csv(self, spec: TableSpec, data: bytes) -> pa.Table:
        """Every column as text; "" is null. The header names the columns."""
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        first = data.split(b"\n", 1)[0]
        try:
            header = first.decode("utf-8")
        except UnicodeError as exc:
            raise SourceError(f"{spec.path}: the header is not UTF-8: {exc}") from None
        if not header.strip():
            return pa.table({})
        return self._csv_rows(spec, data, next(csv.reader([header.rstrip("\r")])), skip_rows=1)

    def _csv_rows(self, spec: TableSpec, data: bytes, names: list[str], *, skip_rows: int = 0) -> pa.Table:
        """The CSV lines of `data` after `skip_rows`, in columns `names`, every one text ("" is null)."""
        try:
            return pacsv.read_csv(
                pa.BufferReader(data),
                read_options=pacsv.ReadOptions(column_names=names, skip_rows=skip_rows),
                convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.string() for c in names},
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                    null_values=[""],
                ),
            )
        except pa.ArrowInvalid as exc:
            raise SourceError(f"{spec.path}: not a readable CSV file: {exc}") from None

    # ---- filtering

    def _cached(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """`compute()`'s value, kept under `key`. One thread computes a key at a time: a call that
        asks while the warm-up computes the same answer (a server started ahead, asked before its
        warm-up is done) waits for that answer instead of computing it a second time alongside."""
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            computing = self._computing.setdefault(key, threading.Lock())
        with computing:
            with self._cache_lock:
                if key in self._cache:  # computed by the thread this one waited for
                    self._cache.move_to_end(key)
                    return self._cache[key]
            try:
                value = compute()
                with self._cache_lock:
                    self._cache[key] = value
                    while len(self._cache) > CACHE_ENTRIES:
                        self._cache.popitem(last=False)
            finally:
                with self._cache_lock:
                    self._computing.pop(key, None)
        return value

    def _lasting(
        self,
        table: str,
        loaded: Loaded,
        kind: tuple[Any, ...],
        compute: Callable[[Loaded], list[dict[str, Any]]],
        add: Callable[[list[dict[str, Any]], list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
    ) -> list[dict[str, Any]]:
        """`compute(loaded)` (summary items, JSON values), cached as `_cached` does and, with a cache
        folder, kept there for the next process (parsed.py): a summary of a file that keeps its
        (inode, size, mtime) and was not modified in the last seconds is read back, not computed. When
        the file only had lines appended to the version kept before, and `add` is given, the summary is
        the kept one with the appended lines' own summary added (`add(kept, compute(appended))`), also for
        a file modified in the last seconds; nothing is kept for one."""

        def kept_or_computed() -> list[dict[str, Any]]:
            code = _answering_code()
            if self.parsed is None or loaded.key is None or code is None:
                return compute(loaded)  # no folder, an absent optional file, unknown code
            racy = loaded.digest is not None  # modified seconds ago: nothing read or kept under its stat
            spec = self.specs[table]
            source = self.root / spec.path
            name = hashlib.blake2b(repr((spec, kind)).encode(), digest_size=16).hexdigest()
            value = None if racy else self.parsed.answer(spec.path, source, loaded.key, code, name)
            if value is not None:
                return value
            if add is not None and loaded.grown_from is not None and loaded.appended is not None:
                before = self.parsed.answer(spec.path, source, loaded.grown_from, code, name)
                if before is not None:
                    value = add(before, compute(loaded.appended))
            if value is None:
                value = compute(loaded)
            if not racy:
                self.parsed.keep_answer(spec.path, source, loaded.key, code, name, value)
            return value

        return self._cached((*kind, loaded.version), kept_or_computed)

    def date_window(self, loaded: Loaded, date_from: str | None, date_to: str | None) -> tuple[int, int]:
        """Row range [start, stop) whose date lies in the inclusive window (rows are date-sorted)."""
        if date_from is None and date_to is None:
            return 0, loaded.full.num_rows
        if loaded.dates is None:
            return 0, loaded.full.num_rows
        start = _lower_bound(loaded.dates, loaded.dated_rows, date_from) if date_from else 0
        # "\x7f" sorts after any text that may follow a date (e.g. a time), so date_to is inclusive.
        stop = _lower_bound(loaded.dates, loaded.dated_rows, date_to + "\x7f") if date_to else loaded.dated_rows
        return start, max(start, stop)

    def select(self, query: Query, loaded: Loaded) -> pa.Table:
        """The rows matching ``query`` in ``loaded``, canonical columns only (cached)."""

        def compute() -> pa.Table:
            start, stop = self.date_window(loaded, query.date_from, query.date_to)
            out = loaded.out.slice(start, stop - start)
            if not query.equals and not query.since:
                return out
            full = loaded.full.slice(start, stop - start)
            mask = None
            for col, value in query.equals:
                if col in full.column_names:
                    m = pc.fill_null(pc.equal(full[col], pa.scalar(value, pa.string())), False)
                else:
                    m = pa.array([False] * full.num_rows, pa.bool_())
                mask = m if mask is None else pc.and_(mask, m)
            for col, value in query.since:
                if col not in full.column_names:
                    continue
                m = pc.fill_null(pc.greater_equal(full[col], pa.scalar(value, pa.string())), True)
                mask = m if mask is None else pc.and_(mask, m)
            return out if mask is None else out.filter(mask)

        return self._cached(("select", query, loaded.version), compute)

    # ---- answers

    def page(self, query: Query, cursor: str | None, limit: int | None) -> str:
        switches = self.switches.get()
        before_paged_call(switches)
        digest = query.digest()
        if cursor:
            version, offset = decode_cursor(cursor, digest)
            loaded = self.loaded_version(query.table, version)
        else:
            loaded, offset = self.load(query.table), 0
        die_mid_pagination(switches, offset)
        selected = hide_entries(self.select(query, loaded), hidden_entries(switches))
        total = selected.num_rows
        size = clamp_limit(limit)
        cap = int_switch(switches, "max_page_size")
        if cap is not None and cap >= 1:
            size = min(size, cap)
        chunk = selected.slice(offset, size) if offset < total else selected.slice(0, 0)
        end = offset + chunk.num_rows
        next_cursor = encode_cursor(loaded.version, digest, end) if end < total else None
        # test switch ``total_offset`` ({table name: int}): a server whose reported total disagrees
        # with what it serves (reconciliation R6 must catch it); paging itself is unchanged
        offsets = switches.get("total_offset")
        offset_total = int_switch(offsets, query.table) if isinstance(offsets, dict) else None
        text = (
            f'{{"items":{items_json(chunk)},"next_cursor":{dumps(next_cursor)},'
            f'"total":{total + (offset_total or 0)},"as_of":"{now_utc()}"}}'
        )
        after_paged_call()
        return text

    def ledger_summary(self, table: str, date_from: str | None, date_to: str | None) -> str:
        """One row per month and account: lines, Σdebit, Σcredit (exact), over the date window."""
        spec = self.specs[table]
        hidden = hidden_entries(self.switches.get())

        def compute(loaded: Loaded) -> list[dict[str, Any]]:
            start, stop = self.date_window(loaded, date_from, date_to)
            full = hide_entries(loaded.full.slice(start, stop - start), hidden)
            n = full.num_rows

            def col(name: str) -> pa.ChunkedArray | pa.Array:
                return full[name] if name in full.column_names else pa.nulls(n, pa.string())

            assert spec.date_column is not None
            grouped = (
                pa.table(
                    {
                        "period": month_of(col(spec.date_column)),
                        "account_id": col("account_id"),
                        "debit": to_decimal(col("debit"), f"{spec.path} column debit"),
                        "credit": to_decimal(col("credit"), f"{spec.path} column credit"),
                    }
                )
                .group_by(["period", "account_id"])
                .aggregate([([], "count_all"), ("debit", "sum"), ("credit", "sum")])
            )
            grouped = grouped.sort_by([("period", "ascending"), ("account_id", "ascending")])
            return [
                {
                    "period": period,
                    "account_id": account,
                    "lines": lines,
                    "debit": format_decimal(debit),
                    "credit": format_decimal(credit),
                }
                for period, account, lines, debit, credit in zip(
                    grouped["period"].to_pylist(),
                    grouped["account_id"].to_pylist(),
                    grouped["count_all"].to_pylist(),
                    grouped["debit_sum"].to_pylist(),
                    grouped["credit_sum"].to_pylist(),
                    strict=True,
                )
            ]

        whole = date_from is None and date_to is None  # appended lines may fall anywhere in a window
        add = functools.partial(added, keys=("period", "account_id"), counts=("lines",), sums=("debit", "credit"))
        kind = ("ledger", table, date_from, date_to, tuple(sorted(hidden)))
        items = self._lasting(table, self.load(table), kind, compute, add if whole else None)
        return dumps({"items": items, "next_cursor": None, "total": len(items), "as_of": now_utc()})

    def month_summary(
        self,
        query: Query,
        amounts: Sequence[str],
        by: str | None = None,
        month_column: str | None = None,
        *,
        by_day: bool = False,
    ) -> str:
        """One row per month of the table's date column, or of `month_column` (and per ``by`` column
        when given) over the rows ``query`` serves: ``count``, the exact sum of each ``amounts`` column
        (values that are not decimal numbers are left out of the sum, never fail it) and ``digest``, a
        hash of every served column of every row of the month, whatever their order: any change to a
        row changes its month's digest. Rows without a date are one row with period null. `by_day`:
        one row per day instead, keyed "date" ('YYYY-MM-DD'), the same counts, sums and digests (a
        month's digest is the sum of its days' modulo 2**64); over a window, the days of the window
        (rows whose date is not a valid one are left out)."""
        items = self._summary_items(query, tuple(amounts), by, month_column, by_day)
        return dumps({"items": items, "next_cursor": None, "total": len(items), "as_of": now_utc()})

    def _summary_items(
        self, query: Query, amounts: tuple[str, ...], by: str | None, month_column: str | None, by_day: bool
    ) -> list[dict[str, Any]]:
        """`month_summary`'s items. The whole table's days are computed once (and kept, and added to
        as lines are appended, `_lasting`); its months are their sums, and a window's days are cut
        from them: the rows are hashed once for both, whatever the window."""
        whole = query.date_from is None and query.date_to is None  # appended rows may fall anywhere in a window
        if by is None and by_day and not whole:
            days = self._summary_items(replace(query, date_from=None, date_to=None), amounts, None, month_column, True)
            low, high = query.date_from or "", query.date_to or "\x7f"
            return [i for i in days if i["date"] is not None and low <= i["date"] <= high]
        if by is None and not by_day and whole:
            days = self._summary_items(query, amounts, None, month_column, True)
            months = [
                {"period": i["date"] and i["date"][:7], **{k: v for k, v in i.items() if k != "date"}} for i in days
            ]
            return added([], months, keys=("period",), counts=("count",), sums=amounts, digests=("digest",))
        date_column = month_column or self.specs[query.table].date_column
        first = "date" if by_day else "period"
        assert date_column is not None
        hidden = hidden_entries(self.switches.get())

        def compute(loaded: Loaded) -> list[dict[str, Any]]:
            rows = hide_entries(self.select(query, loaded), hidden)  # exactly what the list tool serves
            keys = [(day_of if by_day else month_of)(rows[date_column])]
            names = [first, *([by] if by else [])]
            if by:
                keys.append(rows[by])
            digests: dict[tuple[Any, ...], int] = {}
            blake2b = hashlib.blake2b
            for start in range(0, rows.num_rows, DIGEST_BATCH_ROWS):  # the rows' text a batch at a time
                batch, groups = rows.slice(start, DIGEST_BATCH_ROWS), (k.slice(start, DIGEST_BATCH_ROWS) for k in keys)
                text = pc.binary_join_element_wise(*(pc.fill_null(c, "\x00") for c in batch.columns), "\x1f")
                for group, row in zip(
                    zip(*(k.to_pylist() for k in groups), strict=True), text.to_pylist(), strict=True
                ):
                    value = int.from_bytes(blake2b(row.encode(), digest_size=8).digest(), "big")
                    digests[group] = (digests.get(group, 0) + value) % (1 << 64)
            sums = {a: _decimal_or_null(rows[a], f"{self.specs[query.table].path} column {a}") for a in amounts}
            grouped = (
                pa.table({**dict(zip(names, keys, strict=True)), **sums})
                .group_by(names)
                .aggregate([([], "count_all"), *((a, "sum") for a in amounts)])
                .sort_by([(n, "ascending") for n in names])
            )
            out = []
            for row in grouped.to_pylist():
                group = tuple(row[n] for n in names)
                out.append(
                    {
                        **{n: row[n] for n in names},
                        "count": row["count_all"],
                        **{a: format_decimal(row[f"{a}_sum"]) for a in amounts},
                        "digest": f"{digests[group]:016x}",
                    }
                )
            return out

        names = (first, *([by] if by else []))
        add = functools.partial(added, keys=names, counts=("count",), sums=amounts, digests=("digest",))
        kind = ("days" if by_day else "months", query, amounts, by, date_column, tuple(sorted(hidden)))
        return self._lasting(query.table, self.load(query.table), kind, compute, add if whole else None)

    def trial_balance(self, table: str, day: str) -> str:
        """The ERP's own report: per account, Σdebit and Σcredit of every line dated up to ``day``
        (inclusive), since inception; one page, ordered by account. It reads the file itself, so a
        line the list tools do not serve (test switch ``hidden_entries``) still counts here."""
        loaded = self.load(table)
        daily = self.daily_sums(table, loaded)

        def compute() -> list[dict[str, Any]]:
            upto = daily  # inclusive, as date_window: a value with a time after the date still counts
            if loaded.dates is not None:
                upto = daily.filter(pc.less(daily["day"], pa.scalar(day + "\x7f", pa.string())))
            grouped = (
                upto.group_by(["account_id"])
                .aggregate([("debit", "sum"), ("credit", "sum")])
                .sort_by([("account_id", "ascending")])
            )
            return [
                {"account_id": account, "debit": format_decimal(debit), "credit": format_decimal(credit)}
                for account, debit, credit in zip(
                    grouped["account_id"].to_pylist(),
                    grouped["debit_sum"].to_pylist(),
                    grouped["credit_sum"].to_pylist(),
                    strict=True,
                )
            ]

        items = self._cached(("trial_balance", table, day, loaded.version), compute)
        return dumps({"items": items, "next_cursor": None, "total": len(items), "as_of": now_utc()})

    def daily_sums(self, table: str, loaded: Loaded) -> pa.Table:
        """Per day and account of ``table``'s dated lines (every line when it has no date column,
        under a null day): Σdebit and Σcredit, exact (cached). Any day's trial balance sums these few
        rows instead of every line up to it (two reports a refresh: ~0.1 s each at scale 100)."""
        spec = self.specs[table]

        def compute() -> pa.Table:
            lines = loaded.full if loaded.dates is None else loaded.full.slice(0, loaded.dated_rows)
            n = lines.num_rows
            day = lines[spec.date_column] if loaded.dates is not None else pa.nulls(n, pa.string())
            return (
                pa.table(
                    {
                        "day": day,
                        "account_id": lines["account_id"],
                        "debit": to_decimal(lines["debit"], f"{spec.path} column debit"),
                        "credit": to_decimal(lines["credit"], f"{spec.path} column credit"),
                    }
                )
                .group_by(["day", "account_id"])
                .aggregate([("debit", "sum"), ("credit", "sum")])
                .rename_columns(["day", "account_id", "debit", "credit"])
            )

        return self._cached(("daily_sums", table, loaded.version), compute)


def added(
    kept: list[dict[str, Any]],
    more: list[dict[str, Any]],
    *,
    keys: Sequence[str],
    counts: Sequence[str],
    sums: Sequence[str],
    digests: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """A summary of a table's rows (`kept`: one item per group of `keys`) with the summary of more rows
    (`more`, the same shape) added: counts and exact sums added, digests (sums of row hashes modulo
    2**64, `DataSource.month_summary`) added too, groups in the order the summaries sort them (keys
    ascending, nulls last). What summarising all the rows at once gives, item for item."""
    groups = {tuple(item[k] for k in keys): dict(item) for item in kept}
    for item in more:
        group = tuple(item[k] for k in keys)
        total = groups.get(group)
        if total is None:
            groups[group] = dict(item)
            continue
        for c in counts:
            total[c] += item[c]
        for s in sums:
            total[s] = format_decimal(Decimal(total[s]) + Decimal(item[s]))
        for d in digests:
            total[d] = f"{(int(total[d], 16) + int(item[d], 16)) % (1 << 64):016x}"
    return [groups[g] for g in sorted(groups, key=lambda g: [(v is None, v or "") for v in g])]


@functools.cache
def _answering_code() -> str | None:
    """The identity of the code kept answers come from (`DataSource._lasting`): this module, the test
    switches it applies and pyarrow's version. Another one computes them again; None (the sources
    cannot be read, e.g. an install without them) keeps none."""
    here = Path(__file__).parent
    code = hashlib.sha256(pa.__version__.encode())
    try:
        for module in ("store.py", "switches.py"):
            code.update((here / module).read_bytes())
    except OSError:
        return None
    return code.hexdigest()


def month_of(dates: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Each date's month 'YYYY-MM'; null for a value that is not a valid ISO date (2026-02-30), which
    no date_from / date_to window serves: a client summing by month then pulls the table whole. Each
    distinct value is read once (a ledger has a few hundred posting days for a million lines: parsing
    every line's date took 1.4 s of the ledger summary at scale 100)."""
    return _cut_dates(dates, 7)


def day_of(dates: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Each date's day 'YYYY-MM-DD' (a time after it dropped), null where `month_of` is null."""
    return _cut_dates(dates, 10)


def _cut_dates(dates: pa.ChunkedArray | pa.Array, width: int) -> pa.Array:
    values = dates.combine_chunks() if isinstance(dates, pa.ChunkedArray) else dates
    encoded = pc.dictionary_encode(values)
    return pc.take(_periods_of_values(encoded.dictionary, width), encoded.indices)


def _periods_of_values(dates: pa.Array, width: int) -> pa.Array:
    """Each value of `dates`, one by one, cut to its first `width` characters (7: the month, 10: the
    day) when it is a valid ISO date, else null."""
    day = pc.utf8_slice_codeunits(dates, 0, 10)  # a time after the date is served by its day's window
    parsed = pc.strptime(day, format="%Y-%m-%d", unit="s", error_is_null=True)  # 02-30 reads as 03-02
    valid = pc.fill_null(pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), day), False)
    return pc.if_else(valid, pc.utf8_slice_codeunits(dates, 0, width), pa.scalar(None, pa.string()))


_DECIMAL_TEXT = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$"


def _decimal_or_null(column: pa.ChunkedArray | pa.Array, label: str) -> pa.ChunkedArray | pa.Array:
    """Money text -> Arrow decimal, exactly; a value that is not a decimal number becomes null."""
    valid = pc.fill_null(pc.match_substring_regex(column, _DECIMAL_TEXT), False)
    return to_decimal(pc.if_else(valid, pc.utf8_trim_whitespace(column), pa.scalar(None, pa.string())), label)


MAX_RUNS = 1024  # in-order runs up to which a sorted table is put together from slices of the file's


def _sorted_by(table: pa.Table, column: str) -> pa.Table:
    """`table` in `column`'s order, nulls last, rows of one value in file order (a stable sort). A file
    that is sorted but for a few rows (an entry backdated, appended at the end) comes out as a few
    slices of the table, without copying a row: taking 1.14M journal lines row by row cost 1.35 s of
    each ERP server start at scale 100, when one line was out of order."""
    order = pc.sort_indices(table, sort_keys=[(column, "ascending", "at_end")])
    if len(order) < 2:
        return table
    # where the order jumps: each run between two jumps is consecutive rows of the file
    rows = order.cast(pa.int64())
    jumps = pc.indices_nonzero(pc.not_equal(pc.subtract(rows[1:], rows[:-1]), 1))
    if len(jumps) >= MAX_RUNS:
        return table.take(order)
    jumps = jumps.to_pylist()
    starts = [0, *(j + 1 for j in jumps)]
    ends = [*(j + 1 for j in jumps), len(order)]
    return pa.concat_tables([table.slice(order[a].as_py(), b - a) for a, b in zip(starts, ends, strict=True)])


def _is_sorted(column: pa.ChunkedArray) -> bool:
    n = len(column)
    if column.null_count:
        return False
    if n < 2:
        return True
    return bool(pc.all(pc.less_equal(column.slice(0, n - 1), column.slice(1))).as_py())


def _lower_bound(values: pa.Array, n: int, target: str) -> int:
    """First index in values[0:n] (sorted, non-null) whose value is >= target."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) // 2
        if values[mid].as_py() < target:
            lo = mid + 1
        else:
            hi = mid
    return lo
