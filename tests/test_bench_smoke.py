"""The benchmarks run end to end at scale 1 and print their figures (the figures are never asserted:
times vary; what is checked is that every measurement is there and counts the rows it should).

Slow: each starts the bundled servers over stdio and runs closeboard in processes of its own.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from connectors.demo import generate
from tests.conftest import bench

BENCH_AS_OF = date(2026, 11, 24)  # the as-of both benchmarks generate their demo company at
MIB = r"[\d,]+ MiB"


@pytest.mark.slow
def test_ingest_bench_compares_per_run_and_measures_each_process(tmp_path: Path) -> None:
    lines = generate(tmp_path / "demo", as_of=BENCH_AS_OF, scale=1)["counts"]["erp/journal_lines.csv"]
    out = bench("ingest.py", "--scale", "1", "--repeat", "2", timeout=900)
    assert re.search(rf"\(a\) bare MCP client loop : +{lines:,} rows .*decoder: closeboard's msgspec", out), out
    assert re.search(rf"\(b\) closeboard ingestion : +{lines:,} rows", out), out
    assert len(re.findall(r"^  run \d: bare .* ratio \d+\.\d\d$", out, re.M)) == 2, out
    assert re.search(r"ratio \(b\)/\(a\) per run +: \d+\.\d\d, \d+\.\d\d; median \d+\.\d\d", out), out
    assert re.search(
        rf"\(a\) client process {MIB}, its ERP server {MIB}; \(b\) closeboard process {MIB}, "
        rf"its ERP server {MIB}",
        out,
    ), out


@pytest.mark.slow
def test_refresh_bench_times_every_scenario_with_steps_and_memory() -> None:
    # every scenario in one benchmark process (what that changes: bench/refresh.py's docstring); each
    # refresh still starts its own stdio servers, and each is measured on its own
    out = bench("refresh.py", "--scale", "1", "--repeat", "1", "--one-process", timeout=1800)
    for scenario in ("cold", "unchanged", "new entry", "new cash", "backdated"):
        line = re.search(
            rf"^{scenario} +[\d.]+ s +peak RSS closeboard {MIB}; servers (.*) MiB.*\n +steps \(s, peak RSS sampled\): (.*)$",
            out,
            re.M,
        )
        assert line, f"{scenario} missing:\n{out}"
        servers, steps = line.groups()
        assert {"erp", "bank", "crm"} <= set(re.findall(r"(\w+) [\d,]+", servers)), out
        assert re.search(r"\breconciliation [\d.]+", steps) and re.search(r"\berp_source [\d.]+", steps), out
    assert "(signed off 2026-08, not timed)" in out
    assert re.search(r"^command +[\d.]+ s +`closeboard refresh`, nothing changed, from the process's start", out, re.M)
    assert re.search(
        r"^reload +[\d.]+ s +the same, handed to a process started ahead \(ready after [\d.]+ s\)", out, re.M
    )
