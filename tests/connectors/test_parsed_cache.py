"""A bundled server's parsed files kept between its processes (connectors/servers/parsed.py): what a
server serves is the same with or without the cache, and the cache saves the parsing only when the file
is the one it holds, or that file with lines appended. Each `DataSource` here stands for a server
process started afresh on the same data and cache folders; the files are the demo's."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import anyio
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from connectors.client import SourceSession
from connectors.config import ClientSettings, ConnectorConfig, ServerConfig
from connectors.servers import bank, erp, store
from connectors.servers.parsed import META
from connectors.servers.store import DataSource
from connectors.servers.switches import SWITCHES_FILE
from tests.conftest import copy_demo

TABLE = erp.JOURNAL_LINES.name
DAY_AGO = time.time() - 86_400  # a modification this old is not "recent" (store.RACY_NS)


@pytest.fixture
def data(demo_data: Path, tmp_path: Path) -> Path:
    root = copy_demo(demo_data, tmp_path)
    os.utime(root / erp.JOURNAL_LINES.path, (DAY_AGO, DAY_AGO))
    return root


def journal(data: Path) -> Path:
    return data / erp.JOURNAL_LINES.path


class Parses:
    """Counts what a server parses: whole files, and lines without a header (the appended ones)."""

    def __init__(self, source: DataSource, monkeypatch: pytest.MonkeyPatch) -> None:
        self.whole: list[int] = []
        self.rows: list[int] = []
        whole, rows = source._parse_csv, source._csv_rows

        def parse_csv(spec, data: bytes):  # noqa: ANN001, ANN202
            self.whole.append(len(data))
            return whole(spec, data)

        def csv_rows(spec, data: bytes, names, *, skip_rows: int = 0):  # noqa: ANN001, ANN202
            if not skip_rows:
                self.rows.append(len(data))
            return rows(spec, data, names, skip_rows=skip_rows)

        monkeypatch.setattr(source, "_parse_csv", parse_csv)
        monkeypatch.setattr(source, "_csv_rows", csv_rows)


def started(data: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[DataSource, Parses]:
    """A server's data source as a new process has it, with what it parses counted."""
    source = DataSource(data, erp.TABLES, cache)
    return source, Parses(source, monkeypatch)


def assert_served_as_without_cache(source: DataSource, data: Path) -> None:
    loaded, parsed = source.load(TABLE), DataSource(data, erp.TABLES).load(TABLE)
    assert loaded.full.equals(parsed.full) and loaded.out.equals(parsed.out)
    assert loaded.dates.equals(parsed.dates) and loaded.dated_rows == parsed.dated_rows
    assert loaded.version == parsed.version  # cursors cut by either process page the same snapshot


def append(path: Path, lines: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(lines)
    os.utime(path, (DAY_AGO + 60, DAY_AGO + 60))


def test_an_unchanged_file_is_read_from_the_cache_without_parsing(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, parses = started(data, tmp_path / "cache", monkeypatch)
    assert_served_as_without_cache(first, data)
    assert parses.whole == [journal(data).stat().st_size]  # the first start parses and keeps it
    again, parses = started(data, tmp_path / "cache", monkeypatch)
    assert_served_as_without_cache(again, data)
    assert parses.whole == [] and parses.rows == []


def test_appended_lines_are_the_only_ones_parsed(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started(data, tmp_path / "cache", monkeypatch)[0].load(TABLE)
    lines = (
        "JE-CACHE-1,1,2026-11-20,6600,12.34,0.00,USD,,appended accrual,,,\n"
        "JE-CACHE-1,2,2026-11-20,2200,0.00,12.34,USD,,appended accrual,,,\n"
        "JE-CACHE-2,1,2025-01-15,6600,5.00,0.00,USD,,backdated,,,\n"  # out of date order: sorted in
        "JE-CACHE-2,2,2025-01-15,2200,0.00,5.00,USD,,backdated,,,\n"
    )
    append(journal(data), lines)
    grown, parses = started(data, tmp_path / "cache", monkeypatch)
    assert_served_as_without_cache(grown, data)
    assert parses.whole == [] and parses.rows == [len(lines.encode())]
    assert grown.load(TABLE).full.num_rows == DataSource(data, erp.TABLES).load(TABLE).full.num_rows
    assert "JE-CACHE-2" in grown.load(TABLE).full["entry_id"].to_pylist()
    again, parses = started(data, tmp_path / "cache", monkeypatch)  # the grown file is what is cached now
    assert_served_as_without_cache(again, data)
    assert parses.whole == [] and parses.rows == []


@pytest.mark.parametrize("change", ["edit", "truncate", "no final newline"])
def test_any_other_change_parses_the_whole_file(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    path = journal(data)
    if change == "no final newline":  # the cached file's last line could be continued: not an append
        path.write_bytes(path.read_bytes().rstrip(b"\n"))
        os.utime(path, (DAY_AGO, DAY_AGO))
    started(data, tmp_path / "cache", monkeypatch)[0].load(TABLE)
    text = path.read_bytes()
    if change == "edit":  # one amount in the middle, same size
        at = text.index(b",0.00,", len(text) // 2)
        text = text[:at] + b",0.01," + text[at + 6 :]
    elif change == "truncate":
        text = text[: text.rindex(b"\n", 0, len(text) - 1) + 1]
    else:
        text += b"9,appended,,\n"  # continues the last line
    path.write_bytes(text)
    os.utime(path, (DAY_AGO + 60, DAY_AGO + 60))
    changed, parses = started(data, tmp_path / "cache", monkeypatch)
    if change == "no final newline":
        with pytest.raises(Exception, match="journal_lines.csv"):  # 13 columns: the file is unreadable
            DataSource(data, erp.TABLES).load(TABLE)
        with pytest.raises(Exception, match="journal_lines.csv"):
            changed.load(TABLE)
        return
    assert_served_as_without_cache(changed, data)
    assert parses.whole == [len(text)] and parses.rows == []


@pytest.mark.parametrize("damage", ["cut short", "described without its size"])
def test_a_cache_that_cannot_be_read_is_passed_over_and_written_again(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    cache = tmp_path / "cache"
    started(data, cache, monkeypatch)[0].load(TABLE)
    (kept,) = [p for p in cache.iterdir() if "journal_lines" in p.name]
    if damage == "cut short":
        kept.write_bytes(kept.read_bytes()[:1000])
    else:
        with pa.memory_map(str(kept)) as mapped:
            table = ipc.open_file(mapped).read_all()
        meta = json.loads(table.schema.metadata[META])
        del meta["size"]
        damaged = kept.with_name("damaged")  # then renamed over it, as the server writes (never in place)
        with (
            pa.OSFile(str(damaged), "wb") as sink,
            ipc.new_file(sink, table.schema.with_metadata({META: json.dumps(meta).encode()})) as writer,
        ):
            writer.write_table(table)
        damaged.replace(kept)
    broken, parses = started(data, cache, monkeypatch)
    assert_served_as_without_cache(broken, data)
    assert len(parses.whole) == 1
    again, parses = started(data, cache, monkeypatch)
    assert_served_as_without_cache(again, data)
    assert parses.whole == []


def test_a_file_modified_seconds_ago_is_neither_read_from_nor_written_to_the_cache(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.utime(journal(data))  # now: its (size, mtime) may not tell the next change apart
    source, parses = started(data, tmp_path / "cache", monkeypatch)
    assert_served_as_without_cache(source, data)
    assert len(parses.whole) == 1
    assert not [p for p in (tmp_path / "cache").glob("*") if "journal_lines" in p.name]


def test_lines_appended_seconds_ago_are_parsed_alone_and_nothing_is_cached_for_them(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An export appended to just before a refresh: its stat may not tell the next change apart, so the
    cache is not taken by it, but the bytes show the cached lines still there (hash-checked): only the new
    ones are parsed, and nothing is cached under the new stat until the window has passed."""
    started(data, tmp_path / "cache", monkeypatch)[0].load(TABLE)
    cached = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "cache").glob("*journal_lines*")}
    lines = "JE-RACY-1,1,2026-11-20,6600,3.21,0.00,USD,,just exported,,,\nJE-RACY-1,2,2026-11-20,2200,0.00,3.21,USD,,just exported,,,\n"
    with journal(data).open("a", encoding="utf-8") as f:
        f.write(lines)  # modified now
    grown, parses = started(data, tmp_path / "cache", monkeypatch)
    assert_served_as_without_cache(grown, data)
    assert parses.whole == [] and parses.rows == [len(lines.encode())]
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "cache").glob("*journal_lines*")} == cached


def test_another_data_folder_s_cache_is_never_read(
    data: Path, demo_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = copy_demo(demo_data, tmp_path / "other")
    append(journal(other), "JE-OTHER,1,2026-11-20,6600,1.00,0.00,USD,,other books,,,\n")
    started(data, tmp_path / "cache", monkeypatch)[0].load(TABLE)
    source, parses = started(other, tmp_path / "cache", monkeypatch)
    assert_served_as_without_cache(source, other)
    assert parses.whole == [journal(other).stat().st_size]


def test_a_server_process_started_with_cache_keeps_its_parsed_files_for_the_next(data: Path, tmp_path: Path) -> None:
    """`python -m connectors.servers.erp --data DIR --cache DIR` over stdio, started twice: the first
    writes the cache (the parsed journal and its summary), the second answers the same from it and
    leaves it as it is."""
    cache = tmp_path / "cache"
    server = ServerConfig(
        command=sys.executable, args=("-m", "connectors.servers.erp", "--data", str(data), "--cache", str(cache))
    )
    config = ConnectorConfig(
        "erp", "builtin.erp", server, ("get_ledger_summary",), ClientSettings(call_timeout_s=60, retries=0)
    )

    async def summary() -> list[dict]:
        async with SourceSession(config) as session:
            payload, _ = await session.call("get_ledger_summary", {})
            return payload["items"]

    first = anyio.run(summary)
    (kept,) = [p for p in cache.iterdir() if "journal_lines" in p.name]
    answers = cache / "answers" / "erp__journal_lines.csv.json"  # the summary it computed, kept too
    written = kept.stat().st_mtime_ns, answers.stat().st_mtime_ns
    assert anyio.run(summary) == first and first
    assert (kept.stat().st_mtime_ns, answers.stat().st_mtime_ns) == written  # read, not written again


# ---- the summaries kept with the parsed files (DataSource._lasting)

INVOICES = erp.TABLES[[t.name for t in erp.TABLES].index("invoices")]


class Computes:
    """Counts the rows the summaries a server computes read (each summary reads its rows' months or
    days through `store._cut_dates`)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.rows: list[int] = []
        cut_dates = store._cut_dates

        def counted(dates, width):  # noqa: ANN001, ANN202
            self.rows.append(len(dates))
            return cut_dates(dates, width)

        monkeypatch.setattr(store, "_cut_dates", counted)

    @property
    def count(self) -> int:
        return len(self.rows)


def summaries(source: DataSource) -> list[list[dict]]:
    """The ledger summary and the invoices' month summary, as the tools answer them (less `as_of`)."""
    answers = [
        source.ledger_summary(TABLE, None, None),
        source.month_summary(erp._dated("invoices", None, None), erp.DOCUMENT_KINDS["invoices"]),
    ]
    return [json.loads(a)["items"] for a in answers]


@pytest.fixture
def settled(data: Path) -> Path:
    """The demo data with the invoices as old as the journal (not modified in the last seconds)."""
    os.utime(data / INVOICES.path, (DAY_AGO, DAY_AGO))
    return data


def test_the_summaries_of_unchanged_files_are_read_back_not_computed(
    settled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    computes = Computes(monkeypatch)
    first = summaries(DataSource(settled, erp.TABLES, tmp_path / "cache"))
    assert computes.count == 2
    assert first == summaries(DataSource(settled, erp.TABLES))  # the same as a server without a cache
    computes.rows.clear()
    assert summaries(DataSource(settled, erp.TABLES, tmp_path / "cache")) == first  # the next process
    assert computes.count == 0


GROWN = {
    "an existing month and account": "JE-CACHE-3,1,2025-03-10,6600,7.00,0.00,USD,,backdated,,,\n"
    "JE-CACHE-3,2,2025-03-10,2200,0.00,7.00,USD,,backdated,,,\n",
    "a new month, a new account, a third decimal": "JE-CACHE-4,1,2027-01-05,6999,0.125,0.00,USD,,ahead,,,\n"
    "JE-CACHE-4,2,2027-01-05,2200,0.00,0.125,USD,,ahead,,,\n",
    "a date that is no date": "JE-CACHE-5,1,2026-02-30,6600,1.00,0.00,USD,,no such day,,,\n",
    "no line, a blank one": "\n",
}


@pytest.mark.parametrize("lines", GROWN.values(), ids=GROWN.keys())
def test_a_grown_file_s_summary_is_the_kept_one_with_the_appended_lines_added(
    settled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: str
) -> None:
    """The appended lines alone are summarised and added to the kept summary: exactly the summary of
    the whole file, item for item, in the same order."""
    summaries(DataSource(settled, erp.TABLES, tmp_path / "cache"))
    append(journal(settled), lines)
    computes = Computes(monkeypatch)
    grown = summaries(DataSource(settled, erp.TABLES, tmp_path / "cache"))
    assert computes.rows == [len(lines.strip().splitlines())]  # the appended lines; the invoices read back
    assert grown == summaries(DataSource(settled, erp.TABLES))
    computes.rows.clear()
    assert summaries(DataSource(settled, erp.TABLES, tmp_path / "cache")) == grown  # and kept for the next
    assert computes.rows == []


def test_grown_bank_lines_add_to_each_account_s_month_digest(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bank feed that grew (the month summary by account, with its digest of every field): the
    kept summary with the new lines' added is the whole file's; a second version's other summary
    (one account's) is added to its own kept one, not computed whole."""
    lines = data / bank.TRANSACTIONS.path
    os.utime(lines, (DAY_AGO, DAY_AGO))
    accounts = sorted(set(DataSource(data, bank.TABLES).load("transactions").full["bank_account_id"].to_pylist()))

    def answers(source: DataSource) -> list[list[dict]]:
        texts = [bank.transaction_summary(source), bank.transaction_summary(source, accounts[-1])]
        return [json.loads(t)["items"] for t in texts]

    answers(DataSource(data, bank.TABLES, tmp_path / "cache"))
    append(lines, f"TXN-CACHE-1,{accounts[0]},2026-11-20,-120.50,CARD PAYMENT,\n")
    append(lines, f"TXN-CACHE-2,{accounts[-1]},2024-07-02,99.99,LATE CREDIT,REF-1\n")
    computes = Computes(monkeypatch)
    grown = answers(DataSource(data, bank.TABLES, tmp_path / "cache"))
    assert computes.rows == [2, 1]  # the two appended lines, then the one of the account asked for
    assert grown == answers(DataSource(data, bank.TABLES))


def test_a_file_modified_seconds_ago_keeps_no_summary(
    settled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.utime(journal(settled))
    summaries(DataSource(settled, erp.TABLES, tmp_path / "cache"))
    computes = Computes(monkeypatch)
    summaries(DataSource(settled, erp.TABLES, tmp_path / "cache"))
    assert computes.count == 1  # the journal's again (racy); the invoices' read back
    assert [p.name for p in (tmp_path / "cache" / "answers").iterdir()] == ["erp__invoices.csv.json"]


def test_a_summary_of_lines_appended_seconds_ago_adds_them_and_keeps_nothing(
    settled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summaries(DataSource(settled, erp.TABLES, tmp_path / "cache"))
    kept = (tmp_path / "cache" / "answers" / "erp__journal_lines.csv.json").read_bytes()
    lines = GROWN["an existing month and account"]
    with journal(settled).open("a", encoding="utf-8") as f:
        f.write(lines)  # modified now
    computes = Computes(monkeypatch)
    grown = summaries(DataSource(settled, erp.TABLES, tmp_path / "cache"))
    assert computes.rows == [len(lines.strip().splitlines())]  # the appended lines; the invoices read back
    assert grown == summaries(DataSource(settled, erp.TABLES))
    assert (tmp_path / "cache" / "answers" / "erp__journal_lines.csv.json").read_bytes() == kept


def test_summaries_kept_by_other_code_or_under_another_switch_are_computed_again(
    settled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = summaries(DataSource(settled, erp.TABLES, tmp_path / "cache"))
    computes = Computes(monkeypatch)
    monkeypatch.setattr(store, "_answering_code", lambda: "another version of closeboard")
    assert summaries(DataSource(settled, erp.TABLES, tmp_path / "cache")) == first
    assert computes.count == 2
    monkeypatch.undo()
    (settled / SWITCHES_FILE).write_text(json.dumps({"hidden_entries": ["JE-000001"]}))
    computes = Computes(monkeypatch)
    hidden = summaries(DataSource(settled, erp.TABLES, tmp_path / "cache"))
    assert computes.count == 2 and hidden[0] != first[0]
    assert hidden == summaries(DataSource(settled, erp.TABLES))
