"""Staging: pages land as Parquet (one row group per page) under <home>/staging/<run_id>/<table>/,
so no DuckDB connection is open during MCP I/O and a failed pull never touches the warehouse."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


class Stager:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._writers: dict[str, pq.ParquetWriter] = {}

    def path(self, table: str) -> Path:
        return self.root / table / "part-0.parquet"

    def write(self, table: str, batch: pa.Table) -> None:
        writer = self._writers.get(table)
        if writer is None:
            path = self.path(table)
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = self._writers[table] = pq.ParquetWriter(path, batch.schema, compression="lz4")
        writer.write_table(batch, row_group_size=max(batch.num_rows, 1))

    def close(self) -> dict[str, Path]:
        """Finish every file; returns the staged path per table."""
        for writer in self._writers.values():
            writer.close()
        staged = {table: self.path(table) for table in self._writers}
        self._writers.clear()
        return staged

    def discard(self) -> None:
        for writer in self._writers.values():
            try:
                writer.close()
            except Exception:
                pass
        self._writers.clear()
        shutil.rmtree(self.root, ignore_errors=True)
