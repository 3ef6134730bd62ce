"""The main page is the CFO view (issue 19 item 2): reports/views/cfo.md, in the views' grammar, lays
out the page; `closeboard demo` copies it into the home's views/ for the user to edit.

The gate: the default view renders the same page as the sections.yaml layout did. The page's embedded
data (meta, sections, datasets, tables, explanations) and its sections in order, captured from the
demo home's latest.html before the layout moved, are kept masked under tests/reports/snapshots/
(volatile values: times, run ids, the home's path, page cursors, call durations; a table summary's
rows, a lookup, in a fixed order); any difference fails the test, naming the part that differs.
Regenerate only on purpose: CLOSEBOARD_UPDATE_SNAPSHOT=1.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from reports.export import page_data
from reports.render import PageContext, layout, page_layout, render_html
from reports.render import page_data as render_page_data
from reports.views import page_sections, shipped_page_view
from warehouse.db import connect

SNAPSHOT = Path(__file__).parent / "snapshots" / "cfo_page.json"
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?( ?[+-]\d{2}:?\d{2}|Z| UTC)?")
CURSOR = re.compile(r'"cursor":"[^"]*"')  # a page cursor names the server's run
RUN_ID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
VOLATILE_KEYS = {"rendered_at", "run_id", "duration_ms", "loaded_at"}


def mask(value: Any, home: str) -> Any:
    """`value` with what changes from run to run replaced by a placeholder."""
    if isinstance(value, dict):
        return {k: "<volatile>" if k in VOLATILE_KEYS and v is not None else mask(v, home) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, home) for v in value]
    if isinstance(value, str):
        value = value.replace(home, "<home>")
        value = TIMESTAMP.sub("<time>", value)
        value = CURSOR.sub('"cursor":"<cursor>"', value)
        return RUN_ID.sub("<run>", value)
    return value


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def canonical(part: str, value: Any) -> Any:
    """A table's summary (the count and totals per period, facet and currency: a lookup) in a fixed
    row order; every other part as embedded."""
    if part != "tables":
        return value
    summary = value["summary"]
    return {**value, "summary": {**summary, "rows": sorted(summary["rows"], key=json.dumps)}}


def page_shape(home: Path) -> dict[str, Any]:
    """The rendered page as the snapshot keeps it: meta and sections whole, each dataset, table summary
    and explanation part by its digest (the page embeds ~1 MB; a digest still fails on any difference),
    and the sections and tiles in the order the HTML shows them."""
    page = home / "reports" / "latest.html"
    data = mask(page_data(page), str(home))
    html = page.read_text(encoding="utf-8")
    return {
        "html_sections": [
            list(s) for s in re.findall(r'<section class="section ([a-z_]+)-section" id="sec-([a-z_]+)"', html)
        ],
        "html_tiles": re.findall(r'<div class="tile" data-kpi="([a-z_]+)"', html),
        "meta": data["meta"],
        "sections": data["sections"],
        "digests": {
            f"{part}/{key}": digest(canonical(part, value))
            for part in ("datasets", "tables", "explain")
            for key, value in sorted(data[part].items())
        },
    }


def test_default_cfo_view_renders_the_page_of_the_sections_layout(demo_home: Path) -> None:
    shape = page_shape(demo_home)
    if os.environ.get("CLOSEBOARD_UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(json.dumps(shape, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert shape["html_sections"] == expected["html_sections"]
    assert shape["html_tiles"] == expected["html_tiles"]
    assert shape["meta"] == expected["meta"]
    for got, want in zip(shape["sections"], expected["sections"], strict=True):
        assert got == want, f"section {want['id']} differs"
    differ = sorted(
        k
        for k in expected["digests"].keys() | shape["digests"].keys()
        if expected["digests"].get(k) != shape["digests"].get(k)
    )
    assert differ == [], f"the page's embedded data differs in {differ}"


# --------------------------------------------------------------------------------------------- the user's copy


def shipped_text() -> str:
    return shipped_page_view().read_text(encoding="utf-8")


def block_of(text: str, section_id: str) -> str:
    """The fenced block of section `section_id` in a CFO view's text, fences included."""
    found = re.search(rf"```[a-z]+\nid: {section_id}\n.*?```\n", text, re.S)
    assert found, section_id
    return found.group(0)


def rendered(demo_home: Path, view: Path | None) -> tuple[dict[str, Any], str]:
    """The page's data and HTML laid out by the CFO view at `view`, from the demo home's read copy."""
    con = connect(demo_home / "warehouse.read.duckdb", read_only=True)
    try:
        data = render_page_data(con, PageContext("Demo Co", "USD", "cfo-test", {}, home=str(demo_home), view=view))
    finally:
        con.close()
    return data, render_html(data)


def test_the_users_cfo_view_lays_out_the_page(demo_home: Path, tmp_path: Path) -> None:
    """Moving a block moves its section, deleting one leaves it out, a label edited is the page's label;
    every other section is the shipped one, unchanged."""
    text = shipped_text()
    sources, pipeline = block_of(text, "sources"), block_of(text, "pipeline")
    text = text.replace(sources, "").replace(pipeline, "")
    text = text.replace("## Key figures\n", "## Sources first\n\n" + sources + "\n## Key figures\n")
    text = text.replace("label: Revenue, format", "label: Sales, format")
    view = tmp_path / "views" / "cfo.md"
    view.parent.mkdir()
    view.write_text(text, encoding="utf-8")
    spec, note = page_layout(view)
    assert note is None
    shipped = {s["id"]: s for s in layout()["sections"]}
    order = [s["id"] for s in spec["sections"]]
    assert order == ["sources"] + [i for i in shipped if i not in ("sources", "pipeline")]
    for section in spec["sections"]:
        if section["id"] != "kpis":
            assert section == shipped[section["id"]]
    data, html = rendered(demo_home, view)
    assert [s["id"] for s in data["sections"]] == order
    assert re.findall(r'data-section="([a-z_]+)"', html) == order
    tiles = re.findall(r'<div class="tile" data-kpi="([a-z_]+)"[^>]*>\s*<div class="tile-label">([^<]*)<', html)
    assert tiles[0] == ("revenue", "Sales")
    assert [k for k, _ in tiles] == [t["kpi"] for t in shipped["kpis"]["tiles"]]
    assert "pipeline_by_stage.sql" not in data["datasets"]  # a section left out reads nothing


BROKEN = {
    # case: (what replaces what in the shipped text, the line's text, what the message says)
    "unknown query": (("query: ar_aging\n", "query: ar_agin\n"), "query: ar_agin", "did you mean ar_aging?"),
    "unknown kpi": (("{kpi: opex,", "{kpi: opexx,"), "kpis:", "'opexx' is not a KPI"),
    "unknown key": (("spark_periods: 13\n", "sparks: 13\n"), "sparks: 13", "unknown key 'sparks'"),
    "unknown format": (  # the page's own display names are not tokens
        ("label: Days overdue, format: int", "label: Days overdue, format: integer"),
        "columns:",
        "unknown format 'integer'",
    ),
    "rows not a count": (("rows: 20\n", "rows: twenty\n"), "rows: twenty", "'twenty' is not a whole number"),
    "items not a table": (("items: recon_items\n", "items: recon\n"), "items: recon", "'recon' is not a table"),
    "bad yaml": (("title: Bills due\n", "title: Bills: due\n"), "title: Bills: due", "not valid YAML"),
    "a sql block": (("## Trends\n", "## Trends\n\n```sql mine\nselect 1\n```\n"), "```sql mine", "not ```sql blocks"),
    "duplicate id": (
        ("id: bills_due\n", "id: open_invoices\n"),
        "id: open_invoices",
        "a second section 'open_invoices'",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_cfo_view_falls_back_to_the_shipped_one_naming_file_line_and_fix(case: str, tmp_path: Path) -> None:
    (old, new), line_text, message = BROKEN[case]
    text = shipped_text()
    assert old in text
    view = tmp_path / "cfo.md"
    view.write_text(text.replace(old, new, 1), encoding="utf-8")
    spec, note = page_layout(view)
    assert spec["sections"] == layout()["sections"]  # the shipped layout, whole
    (problem, *_) = [p for p in page_sections(view, spec)[1]]
    lines = view.read_text(encoding="utf-8").splitlines()
    at = [n for n, x in enumerate(lines, start=1) if x.startswith(line_text)]
    at = at[-1] if case == "duplicate id" else at[0]  # the second section is the one named
    assert problem.file == str(view) and problem.line == at, (problem, at)
    assert message in problem.message or message in problem.fix, problem
    assert problem.fix
    assert note is not None and f"{view}:{problem.line}:" in note and "shipped CFO view" in note


def test_a_missing_cfo_view_is_said_and_the_shipped_one_is_used(tmp_path: Path) -> None:
    spec, note = page_layout(tmp_path / "views" / "cfo.md")
    assert spec["sections"] == layout()["sections"]
    assert note is not None and "no " + str(tmp_path / "views" / "cfo.md") in note and "shipped" in note
    assert page_layout(None)[1] is None


def test_the_demo_copies_the_cfo_view_and_keeps_the_users(tmp_path: Path) -> None:
    from pipelines.cli import Env, _write_demo_config

    summary = {"first_period": "2024-06", "as_of": "2026-06-15"}
    _write_demo_config(Env(None, str(tmp_path)), summary)
    assert (tmp_path / "views" / "cfo.md").read_text(encoding="utf-8") == shipped_text()
    (tmp_path / "views" / "cfo.md").write_text("# mine\n", encoding="utf-8")
    _write_demo_config(Env(None, str(tmp_path)), summary)
    assert (tmp_path / "views" / "cfo.md").read_text(encoding="utf-8") == "# mine\n"
