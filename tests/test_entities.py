"""Many companies (issue 22): a closeboard.yaml with `entities:`, each entity with its own data home under
<home>/entities/<id>/, refreshed by the group's Dagster code location (the refresh partitioned by entity,
in this process with the bundled servers in memory), the CLI's `--entity`, the group's dagster.yaml and
the portfolio page in Chromium. Three demo entities, two of them in USD and one in EUR: the portfolio adds
figures up per currency only."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
import yaml

from connectors.config import ConfigError, load_config, load_group
from connectors.periods import period_range, shift
from pipelines.close import HISTORY_KEY, close_run_config
from pipelines.entities import (
    ENTITY_PARTITIONS,
    RANGE_TAGS,
    DemoEntity,
    build_group_definitions,
    demo_entities,
    entity_config_file,
    history_partition_key,
)
from pipelines.instance import ENTITY_CONCURRENCY, ensure_dagster_home, instance_config
from pipelines.resources import GroupResource, SourcesResource
from pipelines.runner import QUIET
from tests.conftest import (
    AS_OF,
    FIRST_PERIOD,
    cli_in_process,
    copy_home,
    demo_config,
    edit_config,
    read,
    step_errors,
)
from tests import groups
from tests.mail import Hooks, Watch
from tests.reference import reference_kpis
from tests.reports.conftest import CHROMIUM
from warehouse.home import Home

# two entities share a currency, so the portfolio has a total to add up, and one does not
ENTITIES = (
    DemoEntity("north", "North Inc.", "USD", 42),
    DemoEntity("south", "South LLC", "USD", 7),
    DemoEntity("rhein", "Rhein GmbH", "EUR", 1051),
)
LAST_ENDED = f"{AS_OF.year}-{AS_OF.month - 1:02d}" if AS_OF.month > 1 else f"{AS_OF.year - 1}-12"
PORTFOLIO_KPIS = ("revenue", "net_income", "cash", "ar", "ap")


def make_group(root: Path, entities: tuple[DemoEntity, ...] = ENTITIES, extra: dict | None = None) -> Path:
    """`tests.groups.make_group` with this file's three companies by default."""
    return groups.make_group(root, entities, extra)


def group_definitions(root: Path) -> dg.Definitions:
    group = load_group(root / "closeboard.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return build_group_definitions(
            group,
            Home(root),
            closeboard=GroupResource(config_path=str(group.path), home=str(root)),
            sources=SourcesResource(in_memory=True),
        )


@pytest.fixture(scope="module")
def group_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The three entities refreshed one after the other by the group's partitioned `refresh` job, on the
    group's own Dagster instance (its dagster.yaml as closeboard writes it)."""
    root = tmp_path_factory.mktemp("group") / "home"
    make_group(root)
    defs = group_definitions(root)
    ensure_dagster_home(Home(root), root / "closeboard.yaml")
    with dg.DagsterInstance.from_config(str(root / "dagster")) as instance:
        instance.add_dynamic_partitions(ENTITY_PARTITIONS.name, [e.id for e in ENTITIES])
        for entity in ENTITIES:
            result = defs.resolve_job_def("refresh").execute_in_process(
                instance=instance, partition_key=entity.id, run_config=QUIET, raise_on_error=False
            )
            assert result.success, f"{entity.id}: {step_errors(result)}"
    yield root


# --- configuration ------------------------------------------------------------------------------------


def test_group_file_problems_are_listed_together(tmp_path: Path) -> None:
    (tmp_path / "own").mkdir()
    inline = demo_config(sources=("erp",))
    (tmp_path / "closeboard.yaml").write_text(
        yaml.safe_dump(
            {
                "company": demo_config()["company"],
                "entities": [
                    {"id": "a", "path": "missing/closeboard.yaml"},
                    {"id": "Bad Id"},
                    {"id": "c", **inline},
                    {"id": "c", **demo_config(sources=("erp",))},
                    {"id": "d", "path": "own/closeboard.yaml", "company": demo_config()["company"]},
                ],
            }
        )
    )
    with pytest.raises(ConfigError) as caught:
        load_group(tmp_path / "closeboard.yaml")
    text = "\n".join(caught.value.problems)
    assert "top level: 'company' belongs to each entity" in text
    assert f"entities[0] (a).path: {tmp_path / 'missing' / 'closeboard.yaml'} does not exist" in text
    assert "entities[1].id: expected an id of lowercase letters" in text and "'Bad Id'" in text
    assert "entities[3] (c): duplicate id 'c'" in text
    assert "entities[4] (d): give `path:` or the sections inline, not both" in text
    assert "entities[2]" not in text  # the first inline `c` is a valid closeboard.yaml of its own
    # an inline entity's own problems carry its place in the file
    (tmp_path / "closeboard.yaml").write_text(yaml.safe_dump({"entities": [{"id": "x", "company": {"name": "X"}}]}))
    with pytest.raises(ConfigError, match=r"entities\[0\] \(x\): company.currency: missing"):
        load_group(tmp_path / "closeboard.yaml")


def test_a_group_file_is_not_a_company_and_an_unknown_entity_names_the_known_ones(tmp_path: Path) -> None:
    path = make_group(tmp_path, ENTITIES[:1])
    with pytest.raises(ConfigError, match=r"declares entities \(north\): name one with `closeboard --entity ID"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"no entity 'west'; the entities are: north"):
        load_group(path).entity("west")
    assert load_group(tmp_path / "entities" / "north" / "closeboard.yaml") is None  # a single company's file


def test_an_inline_entity_reads_as_its_own_closeboard_yaml_in_its_home(tmp_path: Path) -> None:
    inline = demo_config(sources=("erp",))
    inline["views"] = "shared-views"
    (tmp_path / "closeboard.yaml").write_text(yaml.safe_dump({"entities": [{"id": "solo", **inline}]}))
    group = load_group(tmp_path / "closeboard.yaml")
    written = entity_config_file(group, "solo", Home(tmp_path))
    assert written == tmp_path / "entities" / "solo" / "closeboard.yaml"
    config = load_config(written)
    assert config.company.name == inline["company"]["name"] and list(config.connectors) == ["erp"]
    assert config.views == str(tmp_path / "shared-views")  # still relative to the group's file


def test_demo_entities_differ_in_currency_and_seed() -> None:
    made = demo_entities(8)
    assert len({e.id for e in made}) == 8 and len({e.seed for e in made}) == 8
    assert {e.currency for e in made[:3]} == {"USD", "EUR", "GBP"}


def test_the_group_instance_limits_one_writer_per_entity_and_a_company_keeps_its_own(tmp_path: Path) -> None:
    group = tmp_path / "group"
    make_group(group, ENTITIES[:1])
    written = yaml.safe_load((ensure_dagster_home(Home(group)) / "dagster.yaml").read_text())
    assert written["concurrency"] == ENTITY_CONCURRENCY
    assert written["concurrency"]["runs"]["tag_concurrency_limits"] == [
        {"key": "closeboard/warehouse", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    ]
    assert written["run_coordinator"] == {
        "module": "pipelines.instance",
        "class": "WriterRunCoordinator",
        "config": {"dequeue_interval_seconds": 1},
    }
    assert {k: v for k, v in written.items() if k not in ("concurrency", "run_coordinator")} == {
        k: v for k, v in instance_config(None).items() if k not in ("concurrency", "run_coordinator")
    }
    # each entity's own home (the CLI's in-process runs) keeps the single company's instance
    entity = Home(group).entity("north")
    assert yaml.safe_load((ensure_dagster_home(entity) / "dagster.yaml").read_text()) == instance_config(None)


def test_the_group_queue_gives_a_run_of_one_entity_s_partitions_its_writer_tag(tmp_path: Path) -> None:
    """Runs Dagster makes itself (a UI backfill of the close history: a partition range, no job tags) are
    queued with `closeboard/warehouse: <entity>`; a run that has the tag, names no partition or spans
    entities is queued as it came."""
    from dagster._core.remote_origin import GrpcServerCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
    from dagster._core.run_coordinator import SubmitRunContext

    from pipelines.instance import WriterRunCoordinator

    location = GrpcServerCodeLocationOrigin(host="127.0.0.1", port=1, location_name="closeboard")
    origin = RemoteJobOrigin(RemoteRepositoryOrigin(location, "__repository__"), "backfill_history")

    (tmp_path / "dagster").mkdir()  # the group's instance as closeboard writes it (the test above)
    (tmp_path / "dagster" / "dagster.yaml").write_text(yaml.safe_dump(instance_config(None, entities=True)))
    north, south = (history_partition_key(e, FIRST_PERIOD) for e in ("north", "south"))
    submitted = {
        "range": dict(zip(RANGE_TAGS, (north, history_partition_key("north", LAST_ENDED)), strict=True)),
        "one partition": {"dagster/partition": south, "dagster/partition/entity": "south"},
        "refresh partition": {"dagster/partition": "rhein"},
        "tagged": {"dagster/partition": "north", "closeboard/warehouse": "north"},
        "no partition": {"closeboard/entity": "north"},
        "across": dict(zip(RANGE_TAGS, (north, south), strict=True)),
    }
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster")) as instance:
        assert isinstance(instance.run_coordinator, WriterRunCoordinator)
        queued = {}
        for name, tags in submitted.items():
            run = instance.add_run(dg.DagsterRun(job_name="backfill_history", tags=tags, remote_job_origin=origin))
            queued[name] = instance.run_coordinator.submit_run(SubmitRunContext(run, None))
    assert all(run.status == dg.DagsterRunStatus.QUEUED for run in queued.values())
    writers = {name: run.tags.get("closeboard/warehouse") for name, run in queued.items()}
    assert writers == {
        "range": "north",
        "one partition": "south",
        "refresh partition": "rhein",
        "tagged": "north",
        "no partition": None,
        "across": None,
    }


# --- Dagster ---------------------------------------------------------------------------------------------


def test_the_group_refresh_is_partitioned_by_entity_and_tags_each_run_with_its_entity(tmp_path: Path) -> None:
    make_group(tmp_path, ENTITIES[:2], {"schedules": {"refresh_cron": "15 5 * * *"}})
    defs = group_definitions(tmp_path)
    job = defs.resolve_job_def("refresh")
    assert job.partitions_def == ENTITY_PARTITIONS
    assert job.get_tags_for_partition_key("south", None)["closeboard/warehouse"] == "south"
    partitioned = {spec.key.to_user_string() for a in defs.assets for spec in a.specs if a.partitions_def}
    assert {"erp_journal_lines", "mart_kpis", "recon_results", "dashboard", "portfolio"} <= partitioned
    with dg.instance_for_test() as instance:  # a schedule's context needs a persistent instance
        sensor = defs.resolve_sensor_def("entity_partitions")
        result = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        added = [r for r in result.dynamic_partitions_requests if isinstance(r, dg.AddDynamicPartitionsRequest)]
        assert [r.partition_keys for r in added] == [["north", "south"]]
        instance.add_dynamic_partitions("entity", ["north", "south", "gone"])
        again = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        assert [(type(r).__name__, list(r.partition_keys)) for r in again.dynamic_partitions_requests] == [
            ("DeleteDynamicPartitionsRequest", ["gone"])
        ]
        schedule = defs.resolve_schedule_def("refresh_all_entities")
        assert schedule.cron_schedule == "15 5 * * *"
        tick = datetime(2026, 6, 15, 5, 15, tzinfo=timezone.utc)
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=tick, repository_def=defs.get_repository_def()
        )
        requests = schedule.evaluate_tick(context).run_requests
        assert [(r.partition_key, r.tags["closeboard/warehouse"], r.run_key) for r in requests] == [
            ("north", "north", "refresh-north-2026-06-15T05:15"),
            ("south", "south", "refresh-south-2026-06-15T05:15"),
        ]


def test_the_group_holds_the_close_history_by_entity_and_month_and_the_close_job_by_entity(tmp_path: Path) -> None:
    make_group(tmp_path, ENTITIES[:2])
    later = shift(FIRST_PERIOD, 3)  # south reports from a later month: the months are the union, from north's
    edit_config(tmp_path / "entities" / "south", lambda raw: raw["company"].update(first_period=later))
    defs = group_definitions(tmp_path)
    history = defs.resolve_assets_def(HISTORY_KEY)
    assert isinstance(history.partitions_def, dg.MultiPartitionsDefinition)
    dimensions = {d.name: d.partitions_def for d in history.partitions_def.partitions_defs}
    assert dimensions["entity"] == ENTITY_PARTITIONS
    months = dimensions["month"].get_partition_keys()
    assert months[0] == FIRST_PERIOD and f"{AS_OF:%Y-%m}" in months  # the open month is the extra partition
    assert history.backfill_policy == dg.BackfillPolicy.single_run()
    backfill = defs.resolve_job_def("backfill_history")
    assert backfill.partitions_def == history.partitions_def
    assert {k.to_user_string() for k in backfill.asset_layer.executable_asset_keys} == {"close_snapshot"}
    close_job = defs.resolve_job_def("close_period")
    assert close_job.partitions_def == ENTITY_PARTITIONS
    assert close_job.get_tags_for_partition_key("south", None)["closeboard/warehouse"] == "south"
    # the launchpad's proposal for an entity: its last ended month, waiting for a name
    assert close_job.get_run_config_for_partition_key("north") == close_run_config(LAST_ENDED, "", None)


def test_the_close_draft_refreshes_each_entity_on_its_own_close_business_day(tmp_path: Path) -> None:
    make_group(tmp_path, ENTITIES[:2])
    for entity, day in (("north", 3), ("south", 4)):
        edit_config(
            tmp_path / "entities" / entity, lambda raw, day=day: raw["schedules"].update(close_business_day=day)
        )
    defs = group_definitions(tmp_path)
    schedule = defs.resolve_schedule_def("close_draft_all_entities")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("entity", ["north", "south"])

        def tick(day: int) -> dg.ScheduleExecutionData:  # June 2026 starts on a Monday: day N is business day N
            when = datetime(2026, 6, day, 6, 0, tzinfo=timezone.utc)
            context = dg.build_schedule_context(
                instance=instance, scheduled_execution_time=when, repository_def=defs.get_repository_def()
            )
            return schedule.evaluate_tick(context)

        wednesday = tick(3).run_requests
        assert [
            (r.partition_key, r.tags["closeboard/warehouse"], r.tags["closeboard/close_draft"]) for r in wednesday
        ] == [("north", "north", "2026-05")]
        assert [r.partition_key for r in tick(4).run_requests] == ["south"]
        saturday = tick(6)
        assert not saturday.run_requests and "north, south" in saturday.skip_message


def test_each_entity_has_its_own_warehouse_figures_and_currency(group_home: Path) -> None:
    assert not (group_home / "warehouse.duckdb").exists()  # the group itself holds no warehouse
    for entity in ENTITIES:
        home = group_home / "entities" / entity.id
        assert read(home, "select currency from run_context") == [(entity.currency,)]
        expected = reference_kpis(home / "demo", FIRST_PERIOD, AS_OF)[LAST_ENDED]
        got = dict(read(home, "select kpi, value from reported_kpis where period = ?", [LAST_ENDED]))
        assert {k: got[k] for k in PORTFOLIO_KPIS} == {k: expected[k] for k in PORTFOLIO_KPIS}
    lines = {read(group_home / "entities" / e.id, "select count(*) from erp_journal_lines")[0] for e in ENTITIES}
    assert len(lines) == len(ENTITIES)  # three companies, not one copied
    with dg.DagsterInstance.from_config(str(group_home / "dagster")) as instance:
        runs = instance.get_runs()
    assert sorted(r.tags["closeboard/warehouse"] for r in runs) == sorted(e.id for e in ENTITIES)
    assert all(r.tags["dagster/partition"] == r.tags["closeboard/warehouse"] for r in runs)


# --- the CLI -------------------------------------------------------------------------------------------------


def test_entity_option_reads_that_entity_and_an_unknown_one_is_refused_with_the_known(group_home: Path) -> None:
    unknown = cli_in_process("--entity", "west", "history", home=group_home, check=False)
    assert unknown.returncode == 1 and "no entity 'west'; the entities are: north, south, rhein" in unknown.stderr
    without = cli_in_process("history", home=group_home, check=False)
    assert without.returncode == 1 and "declares entities (north, south, rhein)" in without.stderr
    assert "--entity ID history" in without.stderr
    for entity in ENTITIES:
        shown = cli_in_process("--entity", entity.id, "history", "--period", LAST_ENDED, home=group_home)
        value = read(
            group_home / "entities" / entity.id,
            "select value from reported_kpis where period = ? and kpi = 'revenue'",
            [LAST_ENDED],
        )[0][0]
        assert f"{value:,}" in shown.stdout.replace("(", "").replace(")", "")


# --- the portfolio page ---------------------------------------------------------------------------------------


def test_portfolio_shows_each_entity_in_its_own_currency_and_never_sums_across(group_home: Path) -> None:
    page_path = group_home / "reports" / "portfolio.html"
    assert page_path.exists()
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    figures = {
        e.id: dict(
            read(
                group_home / "entities" / e.id,
                "select kpi, value from reported_kpis where period = ?",
                [LAST_ENDED],
            )
        )
        for e in ENTITIES
    }
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page()
        requests, errors = [], []
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_path.as_uri())
        rows = page.locator("#entities tbody tr")
        assert rows.count() == len(ENTITIES)
        for entity in ENTITIES:
            row = page.locator(f"#entities tr[data-entity='{entity.id}']")
            assert row.get_attribute("data-currency") == entity.currency
            assert row.locator("td.currency").inner_text() == entity.currency
            for kpi in PORTFOLIO_KPIS:
                cell = row.locator(f"td[data-kpi='{kpi}']")
                assert Decimal(cell.get_attribute("data-value")) == figures[entity.id][kpi]
            href = row.locator("a").get_attribute("href")
            assert (
                page_path.parent / href
            ).resolve() == group_home / "entities" / entity.id / "reports" / "latest.html"
            assert (page_path.parent / href).resolve().exists()
            assert row.locator("[data-checks]").get_attribute("data-checks") in ("pass", "warn", "fail")
            assert row.locator("[data-as-of]").get_attribute("data-as-of")
        totals = page.locator("#totals tbody tr")
        assert sorted(totals.nth(i).get_attribute("data-currency") for i in range(totals.count())) == ["EUR", "USD"]
        for currency in ("USD", "EUR"):
            members = [e.id for e in ENTITIES if e.currency == currency]
            row = page.locator(f"#totals tr[data-currency='{currency}']")
            for kpi in PORTFOLIO_KPIS:
                shown = Decimal(row.locator(f"td[data-kpi='{kpi}']").get_attribute("data-value"))
                assert shown == sum((figures[m][kpi] for m in members), Decimal(0))
                everything = sum((figures[e.id][kpi] for e in ENTITIES), Decimal(0))
                assert shown != everything  # the EUR entity is never in the USD total, nor the reverse
        text = page.locator("body").inner_text()
        browser.close()
    assert not errors
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    assert "€" in text and "$" in text


def test_closeboard_mcp_of_an_entity_lists_the_group_s_entities(group_home: Path) -> None:
    import json

    import anyio
    from mcp.client import Client

    from pipelines.entities import portfolio_entities
    from reports.mcp_server import build_server

    group = load_group(group_home / "closeboard.yaml")
    home = Home(group_home).entity("rhein")

    async def ask() -> tuple[list[str], dict]:
        async with Client(build_server(home, entities=portfolio_entities(group, Home(group_home)))) as client:
            tools = [t.name for t in (await client.list_tools()).tools]
            result = await client.call_tool("list_entities", {})
            assert not result.is_error, result.content[0].text
            return tools, json.loads(result.content[0].text)

    tools, answer = anyio.run(ask)
    assert "list_entities" in tools
    assert answer["serving"] == "rhein"
    assert [e["id"] for e in answer["entities"]] == [e.id for e in ENTITIES]
    for row in answer["entities"]:
        expected = dict(
            read(
                group_home / "entities" / row["id"],
                "select kpi, value from reported_kpis where period = ?",
                [LAST_ENDED],
            )
        )
        assert row["currency"] == next(e.currency for e in ENTITIES if e.id == row["id"])
        assert {k: Decimal(row["figures"][k]) for k in PORTFOLIO_KPIS} == {k: expected[k] for k in PORTFOLIO_KPIS}
        assert "href" not in row and str(group_home) not in json.dumps(row)  # no paths to the client


# --- the close history and the sign-off in the group's location -----------------------------------------------


def _history_events(instance: dg.DagsterInstance) -> list:
    return [
        e.asset_materialization
        for e in instance.fetch_materializations(HISTORY_KEY, limit=10_000).records
        if e.asset_materialization is not None
    ]


def test_each_entity_refresh_reports_its_own_months_of_the_close_history(group_home: Path) -> None:
    with dg.DagsterInstance.from_config(str(group_home / "dagster")) as instance:
        reported = {m.partition for m in _history_events(instance) if m.metadata["status"].value == "draft"}
    ended = period_range(FIRST_PERIOD, LAST_ENDED)  # every ended month got its first version at the refresh
    assert reported == {history_partition_key(e.id, p) for e in ENTITIES for p in ended}
    assert history_partition_key("north", LAST_ENDED) == f"north|{LAST_ENDED}"


def close_entity(
    defs: dg.Definitions, instance: dg.DagsterInstance, entity: str, period: str
) -> dg.ExecuteInProcessResult:
    """`close_period` for `entity`'s `period`, signed by Ana (the controller); asserts that it succeeded."""
    result = defs.resolve_job_def("close_period").execute_in_process(
        instance=instance,
        partition_key=entity,
        run_config={**QUIET, **close_run_config(period, "Ana (controller)", None)},
        raise_on_error=False,
    )
    assert result.success, step_errors(result)
    return result


def test_a_close_run_signs_off_one_entity_s_month_and_no_other(group_home: Path) -> None:
    period = shift(LAST_ENDED, -1)
    defs = group_definitions(group_home)
    with dg.DagsterInstance.from_config(str(group_home / "dagster")) as instance:
        result = close_entity(defs, instance, "rhein", period)
        assert instance.get_run_by_id(result.run_id).tags["closeboard/warehouse"] == "rhein"
        closed = [m for m in _history_events(instance) if m.metadata["status"].value == "closed"]
    assert [(m.partition, m.metadata["closed_by"].value) for m in closed] == [
        (history_partition_key("rhein", period), "Ana (controller)")
    ]
    signed = "select period, closed_by from close_snapshots where status = 'closed'"
    assert read(group_home / "entities" / "rhein", signed) == [(period, "Ana (controller)")]
    for other in ("north", "south"):
        assert read(group_home / "entities" / other, signed) == []


def test_a_history_run_keeps_to_one_entity(group_home: Path) -> None:
    defs = group_definitions(group_home)
    job = defs.resolve_job_def("backfill_history")
    first, last = history_partition_key("north", FIRST_PERIOD), history_partition_key("north", LAST_ENDED)
    with dg.DagsterInstance.from_config(str(group_home / "dagster")) as instance:
        before = read(group_home / "entities" / "north", "select count(*) from close_snapshots")
        ran = job.execute_in_process(
            instance=instance, tags=dict(zip(RANGE_TAGS, (first, last), strict=True)), run_config=QUIET
        )
        assert ran.success  # north's months, unchanged since its refresh: nothing appended
        assert read(group_home / "entities" / "north", "select count(*) from close_snapshots") == before
        across = job.execute_in_process(
            instance=instance,
            tags=dict(zip(RANGE_TAGS, (first, history_partition_key("south", FIRST_PERIOD)), strict=True)),
            run_config=QUIET,
            raise_on_error=False,
        )
    assert not across.success
    refused = [
        e.event_specific_data.error.message for e in across.all_events if e.event_type_value == "RESOURCE_INIT_FAILURE"
    ]
    assert len(refused) == 1 and "spans entities (north, south)" in refused[0]


# --- each entity's delivery in the group's location ------------------------------------------------------


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance, sensor: str, cursor: str | None = None) -> Any:
    """One evaluation of `sensor` (what the daemon does each minute)."""
    return defs.resolve_sensor_def(sensor).evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor))


@pytest.mark.slow  # Chromium prints the pack's PDF
def test_each_entity_s_close_is_delivered_from_its_own_home_to_its_own_recipients(
    group_home: Path, tmp_path: Path, smtp: Any
) -> None:
    (inbox, port), root = smtp, copy_home(group_home, tmp_path / "home")
    watch = Watch(inbox, Hooks())
    recipients = {"north": ["cfo@north.example", "board@north.example"], "south": ["controller@south.example"]}
    cash = reference_kpis(root / "entities" / "south" / "demo", FIRST_PERIOD, AS_OF)[LAST_ENDED]["cash"]
    for entity, to in recipients.items():  # rhein has no `delivery:`: its sensors say so and send nothing

        def deliver(raw: dict, to: list[str] = to, entity: str = entity) -> None:
            smtp_block = {"host": "127.0.0.1", "port": port, "starttls": False}
            raw["delivery"] = {"smtp": smtp_block, "from": f"{entity} <close@{entity}.example>", "recipients": to}
            raw["delivery"].update(on="close", max_age=None)
            if entity == "south":  # fires: south's cash is a cent below the threshold
                raw["alerts"] = [{"rule": "cash_below", "threshold": str(cash + Decimal("0.01"))}]

        edit_config(root / "entities" / entity, deliver)
    defs = group_definitions(root)
    names = {"north": "North Inc.", "south": "South LLC"}
    with dg.DagsterInstance.from_config(str(root / "dagster")) as instance:
        first = {e.id: _tick(defs, instance, f"deliver_on_close_{e.id}") for e in ENTITIES}
        close_entity(defs, instance, "north", LAST_ENDED)
        after = {e.id: _tick(defs, instance, f"deliver_on_close_{e.id}", first[e.id].cursor) for e in ENTITIES}
        (request,) = after["north"].run_requests
        sent = defs.resolve_job_def("deliver_pack_north").execute_in_process(
            instance=instance, run_config={**QUIET, **request.run_config}, tags=request.tags, raise_on_error=False
        )
        assert sent.success, step_errors(sent)
        pack = watch.take()
        alerts = {e.id: _tick(defs, instance, f"closeboard_alerts_{e.id}") for e in ENTITIES}
        alerted = watch.take()

    assert all(not t.run_requests for t in first.values())  # what was closed before is history, not news
    assert after["south"].run_requests == [] and "no version signed off" in after["south"].skip_message
    assert after["rhein"].run_requests == [] and "no `delivery:` block" in after["rhein"].skip_message
    north = root / "entities" / "north"
    version = read(
        north, "select max(version) from close_snapshots where period = ? and status = 'closed'", [LAST_ENDED]
    )
    assert request.run_key == f"deliver-{LAST_ENDED}-v{version[0][0]}"
    assert request.tags["closeboard/entity"] == "north" and "closeboard/warehouse" not in request.tags
    (message,) = pack.emails
    assert sorted(pack.envelopes[0]) == sorted(recipients["north"])
    assert message["Subject"].startswith(f"North Inc. — {LAST_ENDED} monthly close, version {version[0][0]} (closed)")
    assert sorted(p.get_filename() for p in message.iter_attachments()) == [
        f"north-inc-{LAST_ENDED}-v{version[0][0]}.{kind}" for kind in ("pdf", "xlsx")
    ]
    body = message.get_body(("plain",)).get_content()
    revenue = read(north, "select value from mart_kpis where period = ? and kpi = 'revenue'", [LAST_ENDED])[0][0]
    assert f"${revenue:,.2f}" in body  # north's own figures, from north's warehouse
    logged = "select recipient from deliveries where kind = 'pack' and status = 'sent' order by recipient"
    assert [r for (r,) in _delivery_log(north, logged)] == sorted(recipients["north"])
    assert not (root / "delivery.duckdb").exists() and not (root / "entities" / "rhein" / "delivery.duckdb").exists()
    south = "select kind, recipient, status from deliveries order by kind, recipient"
    assert _delivery_log(root / "entities" / "south", south) == [("alert", recipients["south"][0], "sent")]
    # the alerts: south's rule, to south's recipients, naming south; the others have no rules
    (alert,) = alerted.emails
    assert alerted.envelopes == [recipients["south"]] and names["south"] in alert["Subject"]
    assert "cash" in alert["Subject"] and all("no `alerts:`" in alerts[e].skip_message for e in ("north", "rhein"))


def _delivery_log(home: Path, query: str) -> list[tuple]:
    import duckdb

    con = duckdb.connect(str(home / "delivery.duckdb"), read_only=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()
