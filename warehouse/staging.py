"""Staging: pages land as Parquet under <home>/staging/<run_id>/<table>/, so no DuckDB connection is
open during MCP I/O and a failed pull never touches the warehouse.

Pages are gathered into row groups of about DuckDB's own row-group size before they are written:
DuckDB reads and inserts a few large row groups faster than hundreds of page-sized ones (publishing
1.14M journal lines: ~0.3 s less than with one row group per page of 5,000)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROW_GROUP = 122_880  # DuckDB's row-group size; at most this many rows per table wait in memory


class Stager:
    def __init__(self, root: Path, *, row_group: int = ROW_GROUP) -> None:
        self.root = root
        self.row_group = row_group
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._pending: dict[str, list[pa.Table]] = {}

    def path(self, table: str) -> Path:
        return self.root / table / "part-0.parquet"

    def write(self, table: str, batch: pa.Table) -> None:
        writer = self._writers.get(table)
        if writer is None:
            path = self.path(table)
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = self._writers[table] = pq.ParquetWriter(path, batch.schema, compression="lz4")
            self._pending[table] = []
        pending = self._pending[table]
        if not batch.schema.equals(writer.schema):
            self._flush(table)
            writer.write_table(batch)  # refuses it, naming both schemas
            return
        pending.append(batch)
        if sum(b.num_rows for b in pending) >= self.row_group:
            self._flush(table)

    def _flush(self, table: str) -> None:
        pending = self._pending.get(table)
        if not pending:
            return
        rows = pa.concat_tables(pending) if len(pending) > 1 else pending[0]
        pending.clear()
        self._writers[table].write_table(rows, row_group_size=max(rows.num_rows, 1))

    def close(self) -> dict[str, Path]:
        """Finish every file; returns the staged path per table."""
        for table, writer in self._writers.items():
            self._flush(table)
            writer.close()
        staged = {table: self.path(table) for table in self._writers}
        self._writers.clear()
        self._pending.clear()
        return staged

    def discard(self) -> None:
        self._pending.clear()
        for writer in self._writers.values():
            try:
                writer.close()
            except Exception:
                pass
        self._writers.clear()
        shutil.rmtree(self.root, ignore_errors=True)
