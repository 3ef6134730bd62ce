"""Many companies (issue 22): a closeboard.yaml with `entities:`, each entity a company of its own.

- Each entity has its own data home `<home>/entities/<id>/` (warehouse, lock, reports, snapshots), so two
  entities never share a writer. Its configuration is its own closeboard.yaml (`path:`) or the sections
  written inline in the group's file, which `entity_config_file` writes to the entity's home (marked as
  generated) so every part of closeboard reads an entity exactly as it reads a single company.
- The CLI's `--entity ID` (pipelines/cli.py) resolves the entity's home and configuration once
  (`resolve_entity`); `closeboard demo --entities N` builds a group of demo companies (`demo_entities`).
- In Dagster (`build_group_definitions`): the refresh job's assets get a dynamic partition dimension
  `entity` whose keys the `entity_partitions` sensor keeps equal to the group's ids (Dagster's documented
  way to add dynamic partitions: a sensor's `dynamic_partitions_requests`); each run's partition names its
  entity (the resource, `GroupResource`, opens that entity's home) and carries the tag
  `closeboard/warehouse: <entity>`, which the group's dagster.yaml limits to one run per value
  (pipelines/instance.py), so entities run side by side and one entity never has two writers. The schedule
  `refresh_all_entities` asks for one run per entity; the `portfolio` step rewrites the group's portfolio
  page (reports/portfolio.py) after each entity's dashboard.
- The close history `close_snapshot` is partitioned by entity x month (`history_partitions`: the union of
  the entities' months, Dagster's multi-partitions being a cross product); each refresh and sign-off
  reports its entity's months there (the resource's `history_partition`). `backfill_history` takes them,
  `close_period` (partitioned by entity) signs a month off, `close_draft_all_entities` refreshes each
  entity on its close business day.
- Delivery (pipelines/delivery.py's `build`, once per entity: `deliver_pack_<id>`, `deliver_on_close_<id>`,
  `deliver_on_business_day_<id>`, `closeboard_alerts_<id>`): each entity's sign-offs go out from its own
  home to the recipients of its own closeboard.yaml (`EntityResource` reads it at each evaluation).
"""

import os
import shutil
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import yaml

from connectors.config import Config, ConfigError, GroupConfig, load_config, load_group
from connectors.periods import period_of, shift
from pipelines import progress
from pipelines.assets import dashboard, marts, source_assets
from pipelines.close import HISTORY_GROUP, close_run_config, sign_off
from pipelines.jobs import REFRESH_GROUPS
from pipelines.instance import (  # noqa: F401 (the tags' names, re-exported)
    ENTITY_DIMENSION_TAG,
    PARTITION_TAG,
    RANGE_TAGS,
    WAREHOUSE_TAG_KEY,
    partition_entities,
)
from pipelines.recon import reconciliation
from pipelines.resources import CloseboardResource, GroupResource, SourcesResource
from reports.views import PAGE_VIEW, shipped_page_view
from warehouse.home import Home

ENTITY_PARTITIONS = dg.DynamicPartitionsDefinition(name="entity")
PORTFOLIO_GROUP = "portfolio"
EASTERNMOST = "Etc/GMT-14"  # UTC+14: a month has begun here first, so every entity's open month exists


def entity_tags(entity_id: str) -> dict[str, str]:
    """The tags of a run on `entity_id` (besides Dagster's own `dagster/partition`)."""
    return {WAREHOUSE_TAG_KEY: entity_id}


def entity_run_tags(entity_id: str) -> dict[str, str]:
    """Every tag a launch of `entity_id`'s refresh names, its partition included (what the UI's launchpad
    sends for the partition; the served page's reload sends the same)."""
    return {PARTITION_TAG: entity_id, **entity_tags(entity_id)}


def history_partition_key(entity_id: str, period: str) -> str:
    """The close history's partition of `entity_id`'s month `period` (dimensions in name order)."""
    return str(dg.MultiPartitionKey({"entity": entity_id, "month": period}))


def run_entity(tags: Mapping[str, str]) -> str | None:
    """The entity a run of the group works on: its partition (a close-history partition is `entity|month`,
    a backfill range must keep to one entity), else its `closeboard/warehouse` tag."""
    named = partition_entities(tags)
    if len(named) > 1:
        raise dg.Failure(
            f"the partition range {tags[RANGE_TAGS[0]]} to {tags[RANGE_TAGS[1]]} spans entities "
            f"({', '.join(sorted(named))}): a run works on one entity; backfill each entity's months on their own",
            allow_retries=False,
        )
    return named.pop() if named else tags.get(WAREHOUSE_TAG_KEY)


# --- an entity's configuration and data home ---------------------------------------------------------


def _write_if_changed(target: Path, text: str) -> None:
    if target.exists() and target.read_text(encoding="utf-8") == text:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, target)


def entity_config_file(group: GroupConfig, entity_id: str, home: Home) -> Path:
    """The closeboard.yaml of `entity_id`: its own file (`path:`), or, for an entity written inline in the
    group's file, that block written to `<home>/entities/<id>/closeboard.yaml` (rewritten when the group's
    file changes it; a relative `views:` stays relative to the group's file)."""
    entity = group.entity(entity_id)
    if entity.path is not None:
        return entity.path
    raw = dict(entity.inline or {})
    views = raw.get("views")
    if isinstance(views, str) and not Path(views).expanduser().is_absolute():
        raw["views"] = str((group.path.parent / views).resolve())
    target = home.entity(entity_id).root / "closeboard.yaml"
    _write_if_changed(
        target,
        f"# Written by closeboard from {group.path} (entity {entity_id}): edit that file, not this one.\n"
        + yaml.safe_dump(raw, sort_keys=False),
    )
    return target


def resolve_entity(home: Home, config_file: Path, entity_id: str) -> tuple[Home, Path]:
    """(the entity's data home, its closeboard.yaml) for `--entity ID`; a ConfigError when `config_file`
    declares no entities or not this one (listing those it declares)."""
    group = load_group(config_file)
    if group is None:
        raise ConfigError(
            f"--entity {entity_id}: {config_file} declares no `entities:` (it is a single company's file)"
        )
    return home.entity(entity_id), entity_config_file(group, entity_id, home)


def entity_configs(group: GroupConfig, home: Home) -> dict[str, Config]:
    """Every entity's parsed configuration, by id."""
    return {e.id: load_config(entity_config_file(group, e.id, home)) for e in group.entities}


# --- the demo group -----------------------------------------------------------------------------------

DEMO_ENTITIES = (
    ("acme-us", "Acme Inc.", "USD"),
    ("acme-de", "Acme GmbH", "EUR"),
    ("acme-uk", "Acme Ltd", "GBP"),
    ("acme-ca", "Acme Canada Corp.", "CAD"),
    ("acme-ch", "Acme Schweiz AG", "CHF"),
    ("acme-au", "Acme Australia Pty Ltd", "AUD"),
)


@dataclass(frozen=True)
class DemoEntity:
    id: str
    name: str
    currency: str
    seed: int


def demo_entities(count: int, seed: int = 42) -> list[DemoEntity]:
    """`count` demo companies, each with its own name, currency and seed (past the six named ones, the
    names and currencies repeat with a number)."""
    if count < 1:
        raise ValueError("--entities: at least 1")
    out = []
    for i in range(count):
        entity_id, name, currency = DEMO_ENTITIES[i % len(DEMO_ENTITIES)]
        if i >= len(DEMO_ENTITIES):
            entity_id, name = f"{entity_id}-{i // len(DEMO_ENTITIES) + 1}", f"{name} {i // len(DEMO_ENTITIES) + 1}"
        out.append(DemoEntity(entity_id, name, currency, seed + 1009 * i))
    return out


def generate_demo_entity(home: Home, entity: DemoEntity, *, as_of: date, scale: int = 1) -> dict:
    """The demo data of one entity under its home's demo/ (kept when already generated alike); returns
    the generator's summary (company.json)."""
    import json

    from connectors.demo import generate

    folder = home.entity(entity.id).demo
    wanted = {"as_of": as_of.isoformat(), "seed": entity.seed, "scale": scale, "currency": entity.currency}
    existing = folder / "company.json"
    if existing.exists():
        summary = json.loads(existing.read_text(encoding="utf-8"))
        if all(summary.get(k) == v for k, v in wanted.items()) and summary.get("name") == entity.name:
            return summary
    return generate(folder, as_of=as_of, seed=entity.seed, scale=scale, currency=entity.currency, name=entity.name)


EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "closeboard.yaml"
DEMO_VIEWS = Path(__file__).resolve().parent.parent / "connectors" / "demo" / "views"


def write_demo_config(home: Home, summary: dict) -> Path:
    """The demo's closeboard.yaml in `home` (the repository's example with the demo data's first_period,
    as_of, name and currency) and the example views (the user's own are kept)."""
    raw = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    raw["company"]["first_period"] = summary["first_period"]
    raw["company"]["as_of"] = summary["as_of"]
    raw["company"].update(name=summary.get("name", raw["company"]["name"]))  # a group's demo entities differ
    raw["company"].update(currency=summary.get("currency", raw["company"]["currency"]))
    target = home.root / "closeboard.yaml"
    target.write_text(
        "# Written by `closeboard demo` from closeboard.yaml; first_period and as_of follow the demo data.\n"
        + yaml.safe_dump(raw, sort_keys=False),
        encoding="utf-8",
    )
    views = home.root / "views"  # the three example views of docs/views.md; the user's own are kept
    if not views.exists():
        shutil.copytree(DEMO_VIEWS, views)
    if not (views / PAGE_VIEW).exists():  # the CFO page's own view, the user's to edit (reports/views/cfo.md)
        shutil.copyfile(shipped_page_view(), views / PAGE_VIEW)
    return target


def write_demo_entity(home: Home, entity: DemoEntity, *, as_of: date, scale: int = 1) -> Path:
    """One demo entity of the group at `home`: its data and its closeboard.yaml; returns that file."""
    summary = generate_demo_entity(home, entity, as_of=as_of, scale=scale)
    return write_demo_config(home.entity(entity.id), summary)


def write_group_config(home: Home, entity_ids: list[str], extra: dict | None = None) -> Path:
    """`<home>/closeboard.yaml` naming each entity's own file (`entities/<id>/closeboard.yaml`)."""
    raw = {"entities": [{"id": e, "path": f"entities/{e}/closeboard.yaml"} for e in entity_ids], **(extra or {})}
    target = home.root / "closeboard.yaml"
    _write_if_changed(
        target,
        "# Written by `closeboard demo --entities`: a group of companies, each with its own closeboard.yaml\n"
        "# and data home under entities/<id>/ (docs/deploy.md).\n" + yaml.safe_dump(raw, sort_keys=False),
    )
    return target


# --- the portfolio page ---------------------------------------------------------------------------------


def write_group_portfolio(group: GroupConfig, home: Home) -> Path:
    """Rewrite `<home>/reports/portfolio.html` from every entity's read copy (under a lock: the last
    entity to finish writes a page with everyone's latest figures)."""
    from filelock import FileLock

    from reports.portfolio import write_portfolio

    entities = portfolio_entities(group, home)
    home.reports.mkdir(parents=True, exist_ok=True)
    with FileLock(str(home.reports / "portfolio.lock"), timeout=120):
        return write_portfolio(home.reports / "portfolio.html", entities)


def portfolio_entities(group: GroupConfig, home: Home) -> list:
    """Every entity of the group as the portfolio page and `closeboard mcp`'s list_entities show it."""
    from reports.portfolio import PortfolioEntity

    names = {entity_id: config.company.name for entity_id, config in entity_configs(group, home).items()}
    return [PortfolioEntity(e, names[e], home.entity(e)) for e in group.ids]


# --- Dagster: the group's code location ------------------------------------------------------------------


@dg.asset(
    name="portfolio",
    group_name=PORTFOLIO_GROUP,
    deps=[dashboard.key],
    partitions_def=ENTITY_PARTITIONS,
    description="The portfolio page over every entity (reports/portfolio.html in the group's home), rewritten "
    "after each entity's dashboard.",
    kinds={"html"},
)
def portfolio(context: dg.AssetExecutionContext, closeboard: CloseboardResource) -> dg.MaterializeResult:
    page = closeboard.portfolio()
    progress.emit(f"reports: portfolio written to {page}")
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(page))})


def _partitioned(assets: list[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    return [a.map_asset_specs(lambda spec: spec.replace_attributes(partitions_def=ENTITY_PARTITIONS)) for a in assets]


def history_partitions(configs: list[Config]) -> dg.MultiPartitionsDefinition:
    """The close history's partitions: entity x month. Dagster's multi-partitions are a cross product (one
    month list for every entity), so the months are the union of the entities': from the earliest
    first_period to the open month (in the entities' time zone; where they differ, the easternmost, so the
    open month is there as soon as it began for anyone). A month before an entity's first period is no
    reported period: taking its snapshot appends nothing."""
    zones = {c.company.timezone for c in configs}
    months = dg.MonthlyPartitionsDefinition(
        start_date=min(c.company.first_period for c in configs),
        fmt="%Y-%m",
        end_offset=1,
        timezone=zones.pop() if len(zones) == 1 else EASTERNMOST,
    )
    return dg.MultiPartitionsDefinition({"entity": ENTITY_PARTITIONS, "month": months})


def group_assets(configs: list[Config]) -> list[dg.AssetsDefinition]:
    """The refresh's assets (every source, the marts, the reconciliation and its checks, the snapshot step
    and the page), partitioned by entity, the portfolio, and the close history `close_snapshot` partitioned
    by entity x month (each refresh and sign-off reports its entity's months there)."""
    from pipelines.close import close_assets

    first = configs[0]  # the source steps' retry policy and the snapshot step: the first entity's settings
    sources = source_assets(first)
    refresh_step, history = close_assets(first, upstream=sorted(reconciliation.keys))
    months = history_partitions(configs)
    history = history.map_asset_specs(lambda spec: spec.replace_attributes(partitions_def=months))
    return [*_partitioned([*sources, marts, reconciliation, dashboard, refresh_step]), portfolio, history]


refresh_entities = dg.define_asset_job(
    "refresh",
    selection=dg.AssetSelection.groups(*REFRESH_GROUPS, PORTFOLIO_GROUP),
    description="Pull one entity's sources (the partition), rebuild its statements and key figures, render its "
    "dashboard and the group's portfolio page.",
    config=dg.PartitionedConfig(
        partitions_def=ENTITY_PARTITIONS,
        run_config_for_partition_key_fn=lambda _key: {},
        tags_for_partition_key_fn=entity_tags,
    ),
)


def group_jobs(group: GroupConfig, configs: Mapping[str, Config], history: dg.PartitionsDefinition) -> list:
    """The group's jobs besides `refresh`: `backfill_history` over the close history's entity x month
    partitions and `close_period`, the sign-off of one entity's month (partition: the entity; run config
    `ops.sign_off.config: {period, by, override}`, the partition's own config proposing its last ended
    month). Every run carries the tag `closeboard/warehouse: <entity>`, so the queue keeps one writer per
    entity."""

    backfill = dg.define_asset_job(
        "backfill_history",
        selection=dg.AssetSelection.groups(HISTORY_GROUP),
        description="Take the close snapshots of one entity's months (no source is read); a backfill over "
        "several entities runs each entity's range on its own. A single-run backfill takes no per-partition "
        "tags (Dagster refuses a PartitionedConfig there): the group's run queue gives each run its entity's "
        "closeboard/warehouse tag (pipelines.instance.WriterRunCoordinator), so it waits for that entity's "
        "other writers.",
        partitions_def=history,
    )

    def proposed_close(entity_id: str) -> dict:
        company = configs[entity_id].company
        return close_run_config(shift(period_of(company.report_date()), -1), "", None)

    @dg.job(
        name="close_period",
        description=f"Sign off one entity's month (the partition is the entity, one of {', '.join(group.ids)}; "
        "run config: ops.sign_off.config: period, by, override).",
        config=dg.PartitionedConfig(
            partitions_def=ENTITY_PARTITIONS,
            run_config_for_partition_key_fn=proposed_close,
            tags_for_partition_key_fn=entity_tags,
        ),
    )
    def close_period() -> None:
        sign_off()

    return [backfill, close_period]


def close_draft_schedule(group: GroupConfig, configs: Mapping[str, Config]) -> dg.ScheduleDefinition:
    """`close_draft_all_entities`: on the group's refresh cron, one refresh per entity for which today (in its
    own time zone) is its `schedules.close_business_day`, tagged with the month it drafts. An entity's refresh
    appends the draft of every ended month whose figures changed, so this is the group's close draft (one
    asset job cannot hold the refresh's entity partitions and the history's entity x month ones)."""
    from pipelines.schedules import business_day_of_month, previous_period

    @dg.schedule(
        name="close_draft_all_entities",
        job=refresh_entities,
        cron_schedule=group.schedules.refresh_cron,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="On each entity's close business day (its own time zone), refresh it so the previous month's "
        "draft close snapshot is there for sign-off; skips the other entities and days.",
    )
    def close_draft_all_entities(context: dg.ScheduleEvaluationContext):
        known = set(context.instance.get_dynamic_partitions(ENTITY_PARTITIONS.name))
        when = context.scheduled_execution_time or datetime.now(timezone.utc)
        requests, waiting = [], []
        for entity_id in group.ids:
            config = configs[entity_id]
            today = when.astimezone(ZoneInfo(config.company.timezone)).date()
            if entity_id not in known or business_day_of_month(today) != config.schedules.close_business_day:
                waiting.append(entity_id)
                continue
            period = previous_period(today)
            tags = {**entity_tags(entity_id), "closeboard/close_draft": period}
            requests.append(
                dg.RunRequest(run_key=f"close-draft-{entity_id}-{period}", partition_key=entity_id, tags=tags)
            )
        return requests or dg.SkipReason(f"no entity's close business day today ({', '.join(waiting)})")

    return close_draft_all_entities


def build_group_sensors_and_schedules(group: GroupConfig) -> tuple[list, list]:
    """The sensor keeping the `entity` partitions equal to the group's ids, and the schedule refreshing
    every entity (one run each) on the group's `schedules.refresh_cron`."""
    ids = group.ids

    @dg.sensor(
        name="entity_partitions",
        minimum_interval_seconds=15,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Keeps the `entity` partitions equal to the entities of {group.path}; launches nothing.",
    )
    def entity_partitions(context: dg.SensorEvaluationContext):
        existing = set(context.instance.get_dynamic_partitions(ENTITY_PARTITIONS.name))
        added, removed = [e for e in ids if e not in existing], sorted(existing - set(ids))
        requests = []
        if added:
            requests.append(ENTITY_PARTITIONS.build_add_request(added))
        if removed:
            requests.append(ENTITY_PARTITIONS.build_delete_request(removed))
        return dg.SensorResult(
            dynamic_partitions_requests=requests,
            skip_reason=None if requests else dg.SkipReason(f"the entities are {', '.join(ids)}"),
        )

    @dg.schedule(
        name="refresh_all_entities",
        job=refresh_entities,
        cron_schedule=group.schedules.refresh_cron,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Refresh every entity ({group.schedules.refresh_cron}): one run per entity, side by side "
        "(one writer per entity).",
    )
    def refresh_all_entities(context: dg.ScheduleEvaluationContext):
        known = set(context.instance.get_dynamic_partitions(ENTITY_PARTITIONS.name))
        tick = (context.scheduled_execution_time or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M")
        requests = [
            dg.RunRequest(run_key=f"refresh-{e}-{tick}", partition_key=e, tags=entity_tags(e))
            for e in ids
            if e in known
        ]
        return requests or dg.SkipReason("no entity partition yet (the entity_partitions sensor adds them)")

    return [entity_partitions], [refresh_all_entities]


class EntityResource(GroupResource):
    """One entity of a group, named outside any run: what its delivery job, sensors and schedule read (its
    closeboard.yaml, again at each evaluation, and its data home). Never a run's resource: delivery writes
    no warehouse and takes no writer lock."""

    entity: str

    @property
    def data_home(self) -> Home:
        return self.group_home.entity(self.entity)

    def settings(self) -> Config:
        return load_config(entity_config_file(self.group(), self.entity, self.group_home))


def entity_delivery(group: GroupConfig, home: Home, configs: Mapping[str, Config], closeboard: CloseboardResource):
    """Each entity's delivery job, schedule and sensors (pipelines/delivery.py), as (jobs, schedules, sensors);
    `closeboard` names the group's configuration and home. Two ids that would give one Dagster name (`a-b`
    and `a_b`) are refused, naming both."""
    from pipelines.delivery import build, definition_name

    names: dict[str, str] = {}
    for entity_id in group.ids:
        other = names.setdefault(definition_name("", entity_id), entity_id)
        if other != entity_id:
            raise ConfigError(
                f"{group.path}: entities {other!r} and {entity_id!r} would share the Dagster names of their "
                "delivery jobs and sensors (- and _ are alike there); rename one"
            )
    jobs, schedules, sensors = [], [], []
    for entity_id in group.ids:
        resource = EntityResource(
            config_path=closeboard.config_path or str(group.path),
            home=closeboard.home or str(home.root),
            entity=entity_id,
        )
        made = build(configs[entity_id], resource, entity=entity_id)
        jobs += made.jobs
        schedules += made.schedules
        sensors += made.sensors
    return jobs, schedules, sensors


def build_group_definitions(
    group: GroupConfig,
    home: Home,
    *,
    closeboard: CloseboardResource | None = None,
    sources: SourcesResource | None = None,
) -> dg.Definitions:
    """The code location of a group: the partitioned refresh, the portfolio, the close history (entity x
    month), `backfill_history` and `close_period`, the sensors (entity partitions, runs whose CLI process
    died), the refresh of every entity and each entity's delivery."""
    from pipelines.schedules import SENSORS

    configs = entity_configs(group, home)
    closeboard = closeboard or GroupResource(config_path=str(group.path), home=str(home.root))
    sensors, schedules = build_group_sensors_and_schedules(group)
    schedules.append(close_draft_schedule(group, configs))
    delivery_jobs, delivery_schedules, delivery_sensors = entity_delivery(group, home, configs, closeboard)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        assets = group_assets(list(configs.values()))
        return dg.Definitions(
            assets=assets,
            jobs=[refresh_entities, *group_jobs(group, configs, assets[-1].partitions_def), *delivery_jobs],
            schedules=[*schedules, *delivery_schedules],
            sensors=[*SENSORS, *sensors, *delivery_sensors],
            resources={"closeboard": closeboard, "sources": sources or SourcesResource()},
            executor=dg.in_process_executor,
        )
