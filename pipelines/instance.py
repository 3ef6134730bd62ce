"""The Dagster instance inside the data home: runs persist, and warehouse writers queue one at a time."""

from __future__ import annotations

from pathlib import Path

import yaml
from dagster import DagsterInstance

from warehouse.home import Home

INSTANCE_CONFIG = {
    "run_coordinator": {
        "module": "dagster._core.run_coordinator",
        "class": "QueuedRunCoordinator",
    },
    "concurrency": {
        "runs": {"tag_concurrency_limits": [{"key": "closeboard/warehouse", "limit": 1}]},
        "pools": {"default_limit": 1, "granularity": "run"},
    },
    "telemetry": {"enabled": False},
}


def ensure_dagster_home(home: Home) -> Path:
    """<home>/dagster with a dagster.yaml (written only when absent, so an operator's edits stay)."""
    path = home.dagster
    path.mkdir(parents=True, exist_ok=True)
    config = path / "dagster.yaml"
    if not config.exists():
        config.write_text(yaml.safe_dump(INSTANCE_CONFIG, sort_keys=False), encoding="utf-8")
    return path


def instance(home: Home) -> DagsterInstance:
    return DagsterInstance.from_config(str(ensure_dagster_home(home)))
