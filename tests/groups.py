"""A group of demo companies (issue 22, `entities:`) as the entity tests and the deployment tests build it."""

from __future__ import annotations

from pathlib import Path

import yaml

from pipelines.entities import DemoEntity, generate_demo_entity, write_group_config
from tests.conftest import AS_OF, demo_config
from warehouse.home import Home


def make_group(
    root: Path,
    entities: tuple[DemoEntity, ...],
    extra: dict | None = None,
    *,
    sources: tuple[str, ...] | None = None,
) -> Path:
    """A group's data home at `root`: each entity's demo data and closeboard.yaml (the demo's, with its
    own name and currency, only `sources` when given) under entities/<id>/, and the group's closeboard.yaml
    naming them; not refreshed."""
    home = Home(root)
    for entity in entities:
        generate_demo_entity(home, entity, as_of=AS_OF)
        raw = demo_config(sources)
        raw["company"].update(name=entity.name, currency=entity.currency)
        (home.entity(entity.id).root / "closeboard.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return write_group_config(home, [e.id for e in entities], extra)
