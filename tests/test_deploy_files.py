"""The files in deploy/ (issue 22, docs/deploy.md) agree with the instance closeboard writes, and Dagster and
its official Helm chart accept them. No processes: the instance files are loaded by Dagster itself (on
SQLite in a temp dir, for the queue and limits they configure), the Helm values are checked against the
keys the chart's values schema documents (helm/dagster/schema in dagster-io/dagster, chart 1.13.27) and
turned into the instance the chart's templates write from them.

A deployment serves a group of companies (`entities:`): its queue is the group's, closeboard's
WriterRunCoordinator with the writer tag limited per value (one writer per entity); deploy/dagster.yaml
keeps the single company's queue as a commented variant, checked here too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster import DagsterInstance

from connectors.config import parse_config
from pipelines.instance import ENTITY_CONCURRENCY, WAREHOUSE_TAG_KEY, WriterRunCoordinator, instance_config
from tests.conftest import REPO, demo_config

DEPLOY = REPO / "deploy"
PG_URL_ENV = "DAGSTER_PG_URL"
SHARED_KEYS = ("storage", "run_coordinator", "run_monitoring", "concurrency", "telemetry")


def settings() -> Any:
    return parse_config({**demo_config(), "instance": {"postgres_url": "${DAGSTER_PG_URL}"}}).instance


def compose_instance() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "dagster.yaml").read_text(encoding="utf-8"))


def helm_values() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text(encoding="utf-8"))


def load_queue(tmp_path: Path, run_coordinator: dict[str, Any], concurrency: dict[str, Any]) -> DagsterInstance:
    """A Dagster instance (SQLite under tmp_path) with this run coordinator and these limits, as Dagster
    loads a dagster.yaml: its config schema checks them, the coordinator class is imported."""
    (tmp_path / "dagster.yaml").write_text(
        yaml.safe_dump(
            {"run_coordinator": run_coordinator, "concurrency": concurrency, "telemetry": {"enabled": False}}
        ),
        encoding="utf-8",
    )
    return DagsterInstance.from_config(str(tmp_path))


def assert_one_writer_per_entity(instance: DagsterInstance) -> None:
    assert type(instance.run_coordinator) is WriterRunCoordinator
    config = instance.get_concurrency_config()
    (limit,) = config.run_queue_config.tag_concurrency_limits
    assert limit == ENTITY_CONCURRENCY["runs"]["tag_concurrency_limits"][0]
    assert (limit["key"], limit["value"], limit["limit"]) == (WAREHOUSE_TAG_KEY, {"applyLimitPerUniqueValue": True}, 1)
    assert config.pool_config.default_pool_limit is None  # the warehouse pool unlimited: a file per entity
    assert config.pool_config.pool_granularity.value == "run"


# --- deploy/dagster.yaml: the instance of deploy/compose.yaml ---------------------------------------------


def test_compose_instance_is_the_groups_instance_closeboard_writes() -> None:
    ours = instance_config(settings(), entities=True)
    compose = compose_instance()
    for key in SHARED_KEYS:
        assert compose[key] == ours[key], key
    assert compose["run_coordinator"] == {
        "module": "pipelines.instance",
        "class": "WriterRunCoordinator",
        "config": {
            "dequeue_interval_seconds": 1,
            "max_user_code_failure_retries": 6,
            "user_code_failure_retry_delay": 15,
        },
    }
    assert compose["run_launcher"]["class"] == "DockerRunLauncher"
    assert set(compose["run_launcher"]["config"]["env_vars"]) >= {PG_URL_ENV, "CLOSEBOARD_HOME"}


def test_compose_instances_single_company_variant_is_what_closeboard_writes_for_one() -> None:
    """The commented variant (for a closeboard.yaml without `entities:`) is the single company's queue."""
    lines = (DEPLOY / "dagster.yaml").read_text(encoding="utf-8").splitlines()
    start = lines.index("#   run_coordinator:")
    block = []
    for line in lines[start:]:
        if not line.startswith("#   "):
            break
        block.append(line[4:])
    variant = yaml.safe_load("\n".join(block))
    ours = instance_config(settings())
    assert variant == {"run_coordinator": ours["run_coordinator"], "concurrency": ours["concurrency"]}


def test_dagster_loads_the_compose_queue_one_writer_per_entity(tmp_path: Path) -> None:
    compose = compose_instance()
    assert_one_writer_per_entity(load_queue(tmp_path, compose["run_coordinator"], compose["concurrency"]))


def test_compose_runs_the_webserver_and_daemon_on_the_closeboard_image() -> None:
    """The run coordinator is closeboard's: the processes that load the instance import it from the image."""
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))["services"]
    image = services["closeboard-code"]["image"]
    for name in ("closeboard-webserver", "closeboard-daemon"):
        assert services[name]["image"] == image, name
        assert "./dagster.yaml:/opt/dagster/dagster_home/dagster.yaml:ro" in services[name]["volumes"], name


# --- deploy/helm/values.yaml: Dagster's official chart -------------------------------------------------------

# The keys the chart's values schema documents (helm/dagster/schema/schema/charts/dagster: values.py and
# subschema/*.py at 1.13.27): top level, a user deployment, the K8sRunLauncher, the external PostgreSQL,
# the daemon, the run coordinator, the webserver and concurrency.
CHART_KEYS = {
    "dagsterWebserver",
    "dagster-user-deployments",
    "postgresql",
    "generatePostgresqlPasswordSecret",
    "generateCeleryConfigSecret",
    "rabbitmq",
    "redis",
    "flower",
    "ingress",
    "imagePullSecrets",
    "computeLogManager",
    "scheduler",
    "runLauncher",
    "pythonLogs",
    "dagsterDaemon",
    "busybox",
    "migrate",
    "telemetry",
    "serviceAccount",
    "global",
    "retention",
    "additionalInstanceConfig",
    "concurrency",
}
# what the chart documents for each Deployment it makes (the code location's, the webserver's, the daemon's)
POD_KEYS = {
    "image",
    "env",
    "envConfigMaps",
    "envSecrets",
    "annotations",
    "labels",
    "nodeSelector",
    "affinity",
    "tolerations",
    "podSecurityContext",
    "securityContext",
    "resources",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "volumeMounts",
    "volumes",
    "schedulerName",
}
USER_DEPLOYMENT_KEYS = POD_KEYS | {
    "name",
    "dagsterApiGrpcArgs",
    "codeServerArgs",
    "includeConfigInLaunchedRuns",
    "port",
}
K8S_RUN_LAUNCHER_KEYS = {
    "image",
    "imagePullPolicy",
    "jobNamespace",
    "loadInclusterConfig",
    "kubeconfigFile",
    "envConfigMaps",
    "envSecrets",
    "envVars",
    "volumeMounts",
    "volumes",
    "labels",
    "failPodOnRunFailure",
    "resources",
    "schedulerName",
    "securityContext",
    "runK8sConfig",
}
POSTGRESQL_KEYS = {
    "image",
    "enabled",
    "postgresqlHost",
    "postgresqlUsername",
    "postgresqlPassword",
    "postgresqlDatabase",
    "postgresqlParams",
    "postgresqlScheme",
    "service",
}
DAEMON_KEYS = POD_KEYS | {
    "enabled",
    "runCoordinator",
    "heartbeatTolerance",
    "deploymentLabels",
    "checkDbReadyInitContainer",
    "runMonitoring",
    "runRetries",
    "sensors",
    "schedules",
    "backfills",
    "logFormat",
    "initContainerResources",
    "extraContainers",
    "extraPrependedInitContainers",
}
RUN_COORDINATOR_KEYS = {"enabled", "type", "config"}
RUN_COORDINATOR_TYPES = {"QueuedRunCoordinator": "queuedRunCoordinator", "CustomRunCoordinator": "customRunCoordinator"}
CUSTOM_RUN_COORDINATOR_KEYS = {"module", "class", "config"}  # all three required (ConfigurableClass)
WEBSERVER_KEYS = POD_KEYS | {
    "dbStatementTimeout",
    "dbPoolRecycle",
    "logLevel",
    "pathPrefix",
    "replicaCount",
    "nameOverride",
    "service",
    "workspace",
    "deploymentLabels",
    "enableReadOnly",
}
IMAGE_KEYS = {"repository", "tag", "pullPolicy"}
CONCURRENCY_KEYS = {"enabled", "pools", "runs"}
CONCURRENCY_POOLS_KEYS = {"defaultLimit", "granularity", "opGranularityRunBuffer"}
CONCURRENCY_RUNS_KEYS = {"maxConcurrentRuns", "tagConcurrencyLimits"}
TAG_LIMIT_KEYS = {"key", "value", "limit"}


def chart_instance(values: dict[str, Any]) -> dict[str, Any]:
    """The run_coordinator and concurrency the chart writes into the instance's dagster.yaml from `values`
    (templates/helpers/instance/_run-coordinator.tpl and _concurrency.tpl: the custom coordinator's module,
    class and config as given; the concurrency keys in snake case, a tag limit's value as given)."""
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    custom = coordinator["config"]["customRunCoordinator"]
    concurrency = values["concurrency"]
    pools = {
        snake: concurrency["pools"][camel]
        for camel, snake in (("defaultLimit", "default_limit"), ("granularity", "granularity"))
        if camel in concurrency["pools"]
    }
    runs: dict[str, Any] = {"tag_concurrency_limits": concurrency["runs"]["tagConcurrencyLimits"]}
    if "maxConcurrentRuns" in concurrency["runs"]:
        runs["max_concurrent_runs"] = concurrency["runs"]["maxConcurrentRuns"]
    return {
        "run_coordinator": {"module": custom["module"], "class": custom["class"], "config": custom["config"]},
        "concurrency": {"pools": pools, "runs": runs},
    }


def test_helm_values_use_the_keys_the_dagster_chart_documents() -> None:
    values = helm_values()
    assert set(values) <= CHART_KEYS, set(values) - CHART_KEYS
    (code,) = values["dagster-user-deployments"]["deployments"]
    assert set(code) <= USER_DEPLOYMENT_KEYS, set(code) - USER_DEPLOYMENT_KEYS
    assert code["dagsterApiGrpcArgs"][:2] == ["-m", "pipelines.definitions"]
    assert set(code["image"]) == IMAGE_KEYS
    assert code["envSecrets"] and all(set(s) == {"name"} for s in code["envSecrets"])
    launcher = values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    assert set(launcher["config"]["k8sRunLauncher"]) <= K8S_RUN_LAUNCHER_KEYS
    assert launcher["config"]["k8sRunLauncher"]["envSecrets"] == code["envSecrets"]
    assert values["global"]["postgresqlSecretName"] and values["generatePostgresqlPasswordSecret"] is False
    assert set(values["postgresql"]) <= POSTGRESQL_KEYS
    daemon = values["dagsterDaemon"]
    assert set(daemon) <= DAEMON_KEYS, set(daemon) - DAEMON_KEYS
    assert daemon["runMonitoring"]["enabled"] is True
    webserver = values["dagsterWebserver"]
    assert set(webserver) <= WEBSERVER_KEYS, set(webserver) - WEBSERVER_KEYS
    concurrency = values["concurrency"]
    assert set(concurrency) <= CONCURRENCY_KEYS and concurrency["enabled"] is True
    assert set(concurrency["pools"]) <= CONCURRENCY_POOLS_KEYS
    assert set(concurrency["runs"]) <= CONCURRENCY_RUNS_KEYS
    assert all(set(limit) <= TAG_LIMIT_KEYS for limit in concurrency["runs"]["tagConcurrencyLimits"])


def test_helm_values_run_the_groups_queue_through_the_charts_custom_run_coordinator() -> None:
    values = helm_values()
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    assert set(coordinator) == RUN_COORDINATOR_KEYS and coordinator["enabled"] is True
    assert coordinator["type"] == "CustomRunCoordinator"
    # the chart's schema: the type's own config block, and only that one
    assert set(coordinator["config"]) == {RUN_COORDINATOR_TYPES[coordinator["type"]]}
    custom = coordinator["config"]["customRunCoordinator"]
    assert set(custom) == CUSTOM_RUN_COORDINATOR_KEYS and isinstance(custom["config"], dict)
    ours = instance_config(settings(), entities=True)
    rendered = chart_instance(values)
    assert rendered["run_coordinator"] == ours["run_coordinator"]
    # the chart refuses limits in both places only for its QueuedRunCoordinator: the custom one takes none
    assert not {"tag_concurrency_limits", "max_concurrent_runs"} & set(custom["config"])
    assert (
        rendered["concurrency"]["runs"]["tag_concurrency_limits"]
        == ours["concurrency"]["runs"]["tag_concurrency_limits"]
    )
    assert rendered["concurrency"]["pools"] == ours["concurrency"]["pools"]


def test_dagster_loads_the_instance_the_chart_writes_one_writer_per_entity(tmp_path: Path) -> None:
    rendered = chart_instance(helm_values())
    instance = load_queue(tmp_path, rendered["run_coordinator"], rendered["concurrency"])
    assert_one_writer_per_entity(instance)
    max_runs = helm_values()["concurrency"]["runs"].get("maxConcurrentRuns")
    assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == max_runs


@pytest.mark.parametrize("process", ["dagsterWebserver", "dagsterDaemon"])
def test_helm_runs_the_webserver_and_daemon_on_the_closeboard_image(process: str) -> None:
    """They load the instance, whose run coordinator is closeboard's: the chart's default images lack it."""
    values = helm_values()
    (code,) = values["dagster-user-deployments"]["deployments"]
    assert values[process]["image"] == code["image"]
