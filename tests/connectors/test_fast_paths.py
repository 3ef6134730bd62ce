"""The ingestion fast paths give exactly what the plain paths give: msgspec page decoding (numbers
with a fraction as Decimal, never float; json's reading where msgspec refuses), the struct-array text
batch, and staging pages gathered into large Parquet row groups."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.adapters.base import to_text_batch
from connectors.payloads import parse_payload
from connectors.records import CANONICAL, text_schema
from warehouse.staging import Stager


def text_result(text: str) -> SimpleNamespace:
    return SimpleNamespace(structured_content=None, content=[SimpleNamespace(type="text", text=text)])


def plain(text: str) -> object:
    return json.loads(text, parse_float=Decimal)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.decimals(allow_nan=False, allow_infinity=False, places=None).map(lambda d: d.normalize())
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@settings(deadline=None, max_examples=50, derandomize=True, database=None)
@given(json_values)
def test_a_page_decodes_exactly_as_json_with_decimal_floats(value: object) -> None:
    text = _dumps_exact(value)
    payload, nbytes = parse_payload(text_result(text), limit_bytes=10**7)
    assert nbytes == len(text)
    assert payload == plain(text)
    assert repr(payload) == repr(plain(text))  # same types too: Decimal stays Decimal, int stays int


def _dumps_exact(value: object) -> str:
    """JSON text with Decimals written as JSON numbers, digit for digit."""
    if isinstance(value, Decimal):
        text = format(value, "f") if abs(value.adjusted()) < 20 else str(value)
        return text if any(c in text for c in ".eE") else text + ".0"
    if isinstance(value, list):
        return "[" + ",".join(_dumps_exact(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(k) + ":" + _dumps_exact(v) for k, v in value.items()) + "}"
    return json.dumps(value)


def test_money_sent_as_a_json_number_keeps_every_digit_and_json_reads_what_msgspec_refuses() -> None:
    text = '{"items":[{"debit":0.285,"credit":1234567890123456.78,"big":123456789012345678901234567890}]}'
    payload, _ = parse_payload(text_result(text), limit_bytes=10**6)
    item = payload["items"][0]
    assert item == {
        "debit": Decimal("0.285"),
        "credit": Decimal("1234567890123456.78"),
        "big": 123456789012345678901234567890,
    }
    assert all(not isinstance(v, float) for v in item.values())
    for odd in ['{"a": NaN}', '{"a": "\\ud800"}']:  # json reads these; msgspec does not
        assert repr(parse_payload(text_result(odd), limit_bytes=100)[0]) == repr(plain(odd))


def test_the_struct_array_batch_equals_the_value_by_value_batch() -> None:
    columns = CANONICAL["erp_journal_lines"]
    items = [
        {c: (f"{c}-{i}" if (i + n) % 3 else None) for n, c in enumerate(columns) if (i + n) % 5} | {"extra": "dropped"}
        for i in range(40)
    ]
    batch = to_text_batch("erp_journal_lines", items)
    assert batch.schema == text_schema("erp_journal_lines")
    assert batch.to_pylist() == [{c: item.get(c) for c in columns} for item in items]
    mixed = to_text_batch("erp_journal_lines", [{"line_no": 3, "debit": Decimal("1.50")}])  # the slow path
    assert mixed.to_pylist()[0]["line_no"] == "3" and mixed.to_pylist()[0]["debit"] == "1.50"


def test_staged_pages_are_gathered_into_row_groups_in_the_order_received(tmp_path: Path) -> None:
    stager = Stager(tmp_path, row_group=10)
    for page in range(7):
        stager.write("t", pa.table({"a": [f"{page}-{i}" for i in range(4)]}))
    stager.write("u", pa.table({"b": ["only"]}))
    staged = stager.close()
    file = pq.ParquetFile(staged["t"])
    assert [file.metadata.row_group(i).num_rows for i in range(file.num_row_groups)] == [12, 12, 4]
    assert pq.read_table(staged["t"]).column("a").to_pylist() == [f"{p}-{i}" for p in range(7) for i in range(4)]
    assert pq.read_table(staged["u"]).column("b").to_pylist() == ["only"]


DATES = st.sampled_from([None, "2025-12-31", "2026-01-01", "2026-01-02", "2026-02-01", "2026-02-01T09:00"])


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    head=st.lists(DATES, max_size=30),
    tail=st.lists(DATES, max_size=5),
    chunks=st.integers(min_value=1, max_value=3),
)
def test_a_server_sorts_a_file_by_date_as_a_stable_sort_does(head: list, tail: list, chunks: int) -> None:
    """A bundled server serves a table in date order (`store._sorted_by`): a file sorted but for a few
    appended rows (a backdated entry) is put together from slices of itself, any other order is taken
    row by row; either way exactly the rows a stable sort gives, nulls last, ties in file order."""
    import pyarrow.compute as pc

    from connectors.servers import store

    dates = sorted(head, key=lambda d: (d is None, d or "")) + tail  # mostly in order, as a ledger file is
    rows = pa.table({"posted_date": pa.array(dates, pa.string()), "line": pa.array(range(len(dates)))})
    cut = len(dates) // chunks
    table = pa.concat_tables([rows.slice(i * cut, cut if i < chunks - 1 else None) for i in range(chunks)])
    expected = table.take(pc.sort_indices(table, sort_keys=[("posted_date", "ascending", "at_end")]))
    assert store._sorted_by(table, "posted_date").equals(expected)
    shuffled = table.take(
        pa.array(sorted(range(len(dates)), key=lambda i: (i * 7919) % max(len(dates), 1)), pa.int64())
    )
    again = shuffled.take(pc.sort_indices(shuffled, sort_keys=[("posted_date", "ascending", "at_end")]))
    assert store._sorted_by(shuffled, "posted_date").equals(again)


def test_a_file_in_many_runs_is_taken_row_by_row(monkeypatch) -> None:
    import pyarrow.compute as pc

    from connectors.servers import store

    table = pa.table({"d": pa.array(["2026-01-02", "2026-01-01", None] * 5, pa.string()), "i": pa.array(range(15))})
    monkeypatch.setattr(store, "MAX_RUNS", 2)  # more runs than that: the sort takes the rows one by one
    expected = table.take(pc.sort_indices(table, sort_keys=[("d", "ascending", "at_end")]))
    assert store._sorted_by(table, "d").equals(expected)
