"""bench/entities.py runs end to end at a tiny scale (two entities, scale 1) and prints both wall times
(the figures are never asserted: times vary; what is checked is that every measurement is there and that
each entity's warehouse holds the journal lines its demo data has).

Slow: each refresh is `closeboard --entity ID refresh` in a process of its own with the servers over stdio.
"""

from __future__ import annotations

import re
from datetime import date

import pytest

from pipelines.entities import demo_entities
from tests.conftest import bench

AS_OF = date(2026, 11, 24)


@pytest.mark.slow
def test_entities_bench_prints_the_wall_time_with_one_and_with_two_concurrent_runs(tmp_path) -> None:
    work = str(tmp_path / "work")  # the ERP alone: one MCP server per refresh keeps the four refreshes short
    out = bench("entities.py", "--entities", "2", "--scale", "1", "--sources", "erp", "--keep", work, timeout=1200)
    entities = demo_entities(2)
    assert re.search(r"^generated 2 entities at scale 1 in [\d.]+ s: acme-us \(USD\), acme-de \(EUR\)$", out, re.M), out
    for k, label in ((1, "1 concurrent run "), (2, "2 concurrent runs")):
        assert re.search(
            rf"^{label}: wall +[\d.]+ s for 2 entities; refresh median [\d.]+ s, slowest [\d.]+ s; speed-up [\d.]+x$",
            out,
            re.M,
        ), out
        for entity in entities:  # every entity refreshed in both rounds, each in its own home
            assert (
                tmp_path / "work" / f"concurrency-{k}" / "entities" / entity.id / "reports" / "latest.html"
            ).exists()
    for entity in entities:
        match = re.search(
            rf"^  {entity.id} +([\d,]+) journal lines  warehouse +[\d.]+ MiB  read copy +[\d.]+ MiB$", out, re.M
        )
        assert match, out
        with (
            tmp_path / "work" / "template" / "entities" / entity.id / "demo" / "erp" / "journal_lines.csv"
        ).open() as f:
            expected = sum(1 for _ in f) - 1
        assert int(match.group(1).replace(",", "")) == expected
