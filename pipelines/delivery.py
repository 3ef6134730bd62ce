"""Delivery in Dagster (issue 20): the month pack after sign-off or on business day N, and alerts
after each refresh. Thin: the work is in reports.delivery and reports.alerts.

- `deliver_pack` (op job, run config `ops.send_pack.config: {period, version}`): sends one version to
  delivery.recipients and the webhook; a blocked pack fails the run, naming why.
- `deliver_on_close` (sensor, `delivery.on: close`): a run of `deliver_pack` for every version signed
  off since its cursor (the first evaluation only sets the cursor: history is not sent), run key
  `deliver-P-vN`.
- `deliver_on_business_day` (schedule, `delivery.business_day: N`): on business day N (company
  timezone) the previous month's last closed version.
- `closeboard_alerts` (sensor): after each published refresh (reports/status.json's run id changes),
  the `alerts:` rules; it sends itself (small messages, as Dagster's own Slack sensors do) and
  launches nothing.

Each reads closeboard.yaml when it is evaluated (a changed `delivery:` needs no reload) and skips,
saying why, while `delivery:` is not configured. The log (`<home>/delivery.duckdb`) keeps every
version from going to the same recipient twice, whatever the cursors say.

`build` makes these for one company (a configuration and a data home); a group's code location
(pipelines/entities.py) calls it once per entity, with the entity's id as `entity`: the names then end
in `_<id>` (`deliver_pack_acme_us`, `deliver_on_close_acme_us`, ...) and each entity's sign-offs are
sent from its own home to its own recipients.
"""

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import dagster as dg

from connectors.config import Config, expand
from pipelines.schedules import business_day_of_month, previous_period
from pipelines.resources import CloseboardResource
from reports.alerts import send_alerts
from reports.delivery import Channels, DeliveryError, PackOutcome, closed_since, deliver_pack, pick_version
from warehouse.home import Home

DELIVERY_CRON = "0 9 * * *"  # the business-day schedule looks once a day, after the morning refresh
NOT_CONFIGURED = "no `delivery:` block in closeboard.yaml"


def channels(config: Config) -> Channels:
    """`delivery:` with its secrets expanded from the environment (ConfigError naming an unset one)."""
    d = config.delivery
    if d is None:
        raise DeliveryError(NOT_CONFIGURED)
    return Channels(
        sender=d.sender,
        smtp_host=d.smtp_host,
        smtp_port=d.smtp_port,
        starttls=d.starttls,
        user=d.user,
        password=expand(d.password, source="delivery") if d.password else None,
        timeout_s=d.timeout_s,
        webhook_url=expand(d.webhook, source="delivery") if d.webhook else None,
        page_url=d.page_url,
    )


def send_pack(
    config: Config,
    home: Home,
    period: str,
    version: int | None = None,
    *,
    to: tuple[str, ...] = (),
    trigger: str = "cli",
) -> PackOutcome:
    """One version to `to` (default: delivery.recipients and the webhook), as `closeboard send` does."""
    d = config.delivery
    if d is None:
        raise DeliveryError(NOT_CONFIGURED)
    return deliver_pack(
        home,
        channels(config),
        period,
        version,
        recipients=to or d.recipients,
        webhook=not to and bool(d.webhook),
        max_age_s=d.max_age_s,
        trigger=trigger,
        company=config.company.name,
    )


@dataclass(frozen=True)
class DeliveryDefinitions:
    jobs: list
    schedules: list
    sensors: list


DELIVERY_TAG = "closeboard/delivery"
ENTITY_TAG = "closeboard/entity"  # a group's delivery runs: whose pack (they write no warehouse)


def definition_name(base: str, entity: str | None = None) -> str:
    """`base`, or for one entity of a group `base_<id>` (Dagster names take letters, digits and _)."""
    return base if entity is None else f"{base}_{entity.replace('-', '_')}"


def build(
    config: Config,
    closeboard: CloseboardResource,
    default_status: dg.DefaultScheduleStatus = dg.DefaultScheduleStatus.RUNNING,
    *,
    entity: str | None = None,
) -> DeliveryDefinitions:
    """The delivery job, schedule and sensors; `closeboard` names the configuration and the data home
    (read when evaluated, never held: delivery reads the readers' copy, not the warehouse). With
    `entity` (one entity of a group), every name ends in `_<entity>` and its runs carry its id."""
    sensor_status = dg.DefaultSensorStatus(default_status.value)
    entity_tags = {} if entity is None else {ENTITY_TAG: entity}
    op_name = definition_name("send_pack", entity)

    def pack_request(period: str, version: int) -> dg.RunRequest:
        return dg.RunRequest(
            run_key=f"deliver-{period}-v{version}",
            run_config={"ops": {op_name: {"config": {"period": period, "version": version}}}},
            tags={DELIVERY_TAG: f"{period} v{version}", **entity_tags},
        )

    @dg.op(
        name=op_name,
        config_schema={
            "period": dg.Field(str, description="the month, YYYY-MM"),
            "version": dg.Field(int, default_value=0, description="the snapshot version (0: the last closed one)"),
        },
        description="Send one close snapshot version: e-mail with the PDF and XLSX, and the webhook.",
    )
    def send_pack_op(context: dg.OpExecutionContext) -> None:
        cfg = context.op_config
        try:
            outcome = send_pack(
                closeboard.settings(),
                closeboard.data_home,
                cfg["period"],
                cfg["version"] or None,
                trigger=f"dagster run {context.run_id}",
            )
        except DeliveryError as exc:
            raise dg.Failure(description=f"not delivered: {exc}", allow_retries=False) from None
        context.add_output_metadata(
            {"status": outcome.status, "sent_to": ", ".join(outcome.sent_to), "detail": outcome.detail}
        )
        if outcome.status == "blocked":
            raise dg.Failure(description=f"pack blocked: {outcome.line()}", allow_retries=False)
        context.log.info(outcome.line())

    @dg.job(
        name=definition_name("deliver_pack", entity),
        description=f"Send {config.company.name}'s close pack for a month (run config: "
        f"ops.{op_name}.config: period, version).",
        tags=entity_tags,
    )
    def deliver_pack_job() -> None:
        send_pack_op()

    @dg.sensor(
        name=definition_name("deliver_on_close", entity),
        job=deliver_pack_job,
        minimum_interval_seconds=60,
        default_status=sensor_status,
        description="delivery.on: close — sends each version signed off since the last evaluation.",
    )
    def deliver_on_close(context: dg.SensorEvaluationContext):
        config = closeboard.settings()
        if config.delivery is None or config.delivery.on != "close":
            return dg.SkipReason(NOT_CONFIGURED if config.delivery is None else "delivery.on is business_day")
        since = datetime.fromisoformat(context.cursor) if context.cursor else None
        try:
            closed = closed_since(closeboard.data_home, since)
        except DeliveryError as exc:
            return dg.SkipReason(str(exc))
        if since is None:  # the first look: what is closed already is history, not news
            latest = max((s.closed_at for s in closed), default=datetime.now(timezone.utc))
            context.update_cursor(latest.isoformat())
            return dg.SkipReason(f"watching sign-offs after {latest:%Y-%m-%d %H:%M} UTC")
        if not closed:
            return dg.SkipReason("no version signed off since the last look")
        context.update_cursor(max(s.closed_at for s in closed).isoformat())
        return [pack_request(s.period, s.version) for s in closed]

    @dg.schedule(
        name=definition_name("deliver_on_business_day", entity),
        job=deliver_pack_job,
        cron_schedule=DELIVERY_CRON,
        execution_timezone=config.company.timezone,
        default_status=default_status,
        description="delivery.business_day: N — on business day N the previous month's closed pack.",
    )
    def deliver_on_business_day(context: dg.ScheduleEvaluationContext):
        config = closeboard.settings()
        d = config.delivery
        if d is None or d.on != "business_day" or d.business_day is None:
            return dg.SkipReason(NOT_CONFIGURED if d is None else "delivery.on is close")
        zone = ZoneInfo(config.company.timezone)
        today = (context.scheduled_execution_time or datetime.now(zone)).astimezone(zone).date()
        if business_day_of_month(today) != d.business_day:
            return dg.SkipReason(f"{today} is not business day {d.business_day}")
        period = previous_period(today)
        try:
            version = pick_version(closeboard.data_home, period)
        except DeliveryError as exc:
            return dg.SkipReason(str(exc))
        return pack_request(period, version)

    @dg.sensor(
        name=definition_name("closeboard_alerts", entity),
        minimum_interval_seconds=60,
        default_status=sensor_status,
        description="After each refresh: the alerts: rules, one message per rule and period version.",
    )
    def closeboard_alerts(context: dg.SensorEvaluationContext):
        config = closeboard.settings()
        if not config.alerts:
            return dg.SkipReason("no `alerts:` rules in closeboard.yaml")
        home = closeboard.data_home
        status = home.reports / "status.json"
        run_id = json.loads(status.read_text(encoding="utf-8"))["run_id"] if status.exists() else None
        if run_id is None or run_id == context.cursor:
            return dg.SkipReason("no refresh published since the last look")
        d = config.delivery
        sent = send_alerts(
            home,
            channels(config),
            config.alerts,
            company=config.company.name,
            currency=config.company.currency,
            stale_after_days=config.reconciliation.stale_after_days,
            recipients=d.recipients if d else (),
            trigger="sensor closeboard_alerts",
        )
        context.update_cursor(run_id)  # after sending: a failure is tried again at the next tick
        return dg.SkipReason(f"{len(sent)} alert(s) sent after run {run_id}" + "".join(f"\n{s}" for s in sent))

    return DeliveryDefinitions([deliver_pack_job], [deliver_on_business_day], [deliver_on_close, closeboard_alerts])
