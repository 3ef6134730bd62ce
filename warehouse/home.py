"""The data home: where the warehouse, staging, rendered pages and Dagster state live."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def resolve(cls, value: str | os.PathLike[str] | None = None) -> Home:
        """`value`, else $CLOSEBOARD_HOME, else ./var; always absolute."""
        chosen = value or os.environ.get("CLOSEBOARD_HOME") or "var"
        return cls(Path(chosen).expanduser().resolve())

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def read_copy(self) -> Path:
        return self.root / "warehouse.read.duckdb"

    @property
    def lock(self) -> Path:
        return self.root / "warehouse.lock"

    @property
    def staging(self) -> Path:
        return self.root / "staging"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def dagster(self) -> Path:
        return self.root / "dagster"

    @property
    def demo(self) -> Path:
        return self.root / "demo"

    @property
    def entities(self) -> Path:
        return self.root / "entities"

    def entity(self, entity_id: str) -> Home:
        """The data home of one entity of a group (issue 22): `<home>/entities/<id>/`, laid out as any
        home (its own warehouse, lock, reports, snapshots and demo data)."""
        return Home(self.entities / entity_id)

    def ensure(self) -> Home:
        for path in (self.root, self.reports, self.staging):
            path.mkdir(parents=True, exist_ok=True)
        return self


def config_path(value: str | os.PathLike[str] | None = None, home: Home | None = None) -> Path:
    """`value`, else $CLOSEBOARD_CONFIG, else the data home's closeboard.yaml (the one `closeboard
    demo` writes) when it exists, else ./closeboard.yaml; absolute."""
    chosen = value or os.environ.get("CLOSEBOARD_CONFIG")
    if not chosen and home is not None and (home.root / "closeboard.yaml").exists():
        chosen = home.root / "closeboard.yaml"
    return Path(chosen or "closeboard.yaml").expanduser().resolve()
