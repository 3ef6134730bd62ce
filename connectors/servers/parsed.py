"""A bundled server's parsed files, kept on disk from one of its processes to the next (`--cache DIR`).

A refresh starts its stdio servers afresh, and each parsed its CSV files again: at scale 100 the ERP's
1.14M journal lines (110 MB) took ~0.8 s (1.4 s of CPU) of every refresh's warm-up, most often for a
file that had not changed since the last refresh or had only had lines appended. With a cache folder,
a server keeps each table as it parsed it (every column text, in the file's order) in an Arrow IPC
file there, with the file's (inode, size, mtime) and a SHA-256 of its bytes. At the next start:

- the same (inode, size, mtime), not modified in the last seconds: the table is mapped from the cache
  and nothing is parsed. This is the trust the server already puts in a file's stat between two of
  its calls (`store.RACY_NS`), carried from one process to the next;
- the file grew and its first bytes hash to the cached ones (lines appended, as an ERP export or a
  bank feed grows): only the new lines are parsed, and added after the cached ones;
- anything else (an edit, a truncation, another file): the file is parsed whole.

The cache is then written again, to a temporary file renamed over the previous one (a server still
mapping the previous one keeps reading it; a cache file changed in place under a server mapping it
would stop that server, so the folder is the servers' alone: delete it, never edit it). A file modified in the last seconds is neither read from
the cache nor written to it. A cache that cannot be read or written is passed over: the file is parsed
as without one. The cached table is what parsing gives, so what the server serves never depends on
whether the cache was used (tests/connectors/test_parsed_cache.py holds them equal).

The summaries a server computes from a table (its month summaries, the ERP's ledger summary) are kept
in the same folder (`answers/`), with the same trust: under the file's (inode, size, mtime), the table's
spec and the answering code's identity, so the next process answers them without computing while the
file is unchanged (at scale 100 the ERP computed ~1.5 s of them at every start, beside the other
servers' starts, on files that had not changed). A changed file, spec or code computes them again.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from connectors.plain import write_atomic

FORMAT = "closeboard-parsed-1"  # what a cache file holds: a new format is never read as the old one
META = b"closeboard"  # the schema metadata key of the file's description
ANSWERS = "closeboard-answers-1"  # what a kept answers file holds


class ParsedFiles:
    """The parsed tables of one data folder's CSV files, kept in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder).expanduser().resolve()
        self._answers_lock = threading.Lock()  # the warm-up and the calls keep answers from their threads

    def table(
        self,
        relative: str,
        source: Path,
        key: tuple[int, int, int],
        read: Callable[[], bytes],
        parse: Callable[[bytes], pa.Table],
        parse_rows: Callable[[bytes, list[str]], pa.Table],
    ) -> pa.Table:
        """The table of `source` (data folder path `relative`), whose stat key is `key` and which was
        not modified in the last seconds: from the cache when it holds this version, else parsed
        (`parse(data)` the whole file, `parse_rows(data, columns)` lines without a header, `data` as
        `read()` gives it) and cached."""
        cached = self._read(relative, source)
        if cached is not None and tuple(cached[0]["key"]) == key:
            return cached[1]
        data = read()
        whole = memoryview(data)
        digest, table, hashed = hashlib.sha256(), None, 0
        if cached is not None:
            meta, old = cached
            size = meta["size"]
            if 0 < size <= len(data) and data[size - 1 : size] == b"\n":
                digest.update(whole[:size])
                hashed = size
                if digest.hexdigest() == meta["sha256"]:  # lines appended to the cached file
                    tail = data[size:]
                    table = pa.concat_tables([old, parse_rows(tail, old.column_names)]) if tail.strip() else old
        digest.update(whole[hashed:])  # the whole file hashed once, whichever way it went
        if table is None:
            table = parse(data)
        if table.num_columns:
            self._write(relative, source, key, len(data), digest.hexdigest(), table)
        return table

    def _path(self, relative: str) -> Path:
        return self.folder / (relative.replace("/", "__") + ".arrow")

    def _read(self, relative: str, source: Path) -> tuple[dict[str, Any], pa.Table] | None:
        try:
            with pa.memory_map(str(self._path(relative))) as mapped:
                reader = ipc.open_file(mapped)
                meta = json.loads(reader.schema.metadata[META])
                if not _describes(meta, source):
                    return None
                table = reader.read_all()
        except (OSError, KeyError, TypeError, ValueError, pa.ArrowException):
            return None  # none yet, or not one this server can read: the file is parsed
        return meta, table.replace_schema_metadata(None)

    def _write(
        self, relative: str, source: Path, key: tuple[int, int, int], size: int, sha256: str, table: pa.Table
    ) -> None:
        meta = {"format": FORMAT, "source": str(source), "key": list(key), "size": size, "sha256": sha256}
        schema = table.schema.with_metadata({META: json.dumps(meta).encode()})

        def write(temp: Path) -> None:
            with pa.OSFile(str(temp), "wb") as sink, ipc.new_file(sink, schema) as writer:
                writer.write_table(table)

        try:
            write_atomic(self._path(relative), write)
        except (OSError, pa.ArrowException):
            pass  # a cache that cannot be written: the next start parses again

    def answer(self, relative: str, source: Path, key: tuple[int, int, int], code: str, name: str) -> Any:
        """The answer `name` kept for `source` at stat `key` by answering code `code`, or None."""
        return self._answers(relative, source, key, code).get(name)

    def keep_answer(
        self, relative: str, source: Path, key: tuple[int, int, int], code: str, name: str, value: Any
    ) -> None:
        """Keep `value` as the answer `name` for `source` at `key` (answers of another version or code
        are dropped). A folder that cannot be written keeps nothing: the next start computes it again."""
        with self._answers_lock:
            answers = {**self._answers(relative, source, key, code), name: value}
            kept = {"format": ANSWERS, "source": str(source), "key": list(key), "code": code, "answers": answers}
            try:
                write_atomic(self._answers_path(relative), json.dumps(kept, separators=(",", ":")))
            except OSError:
                pass

    def _answers(self, relative: str, source: Path, key: tuple[int, int, int], code: str) -> dict[str, Any]:
        try:
            kept = json.loads(self._answers_path(relative).read_bytes())
        except (OSError, ValueError):
            return {}  # none yet, or not readable: computed again
        if not (
            isinstance(kept, dict)
            and kept.get("format") == ANSWERS
            and kept.get("source") == str(source)
            and kept.get("key") == list(key)
            and kept.get("code") == code
            and isinstance(kept.get("answers"), dict)
        ):
            return {}
        return kept["answers"]

    def _answers_path(self, relative: str) -> Path:
        return self.folder / "answers" / (relative.replace("/", "__") + ".json")


def _describes(meta: Any, source: Path) -> bool:
    """Whether a cache file's description is this format's, of `source`."""
    return (
        isinstance(meta, dict)
        and meta.get("format") == FORMAT
        and meta.get("source") == str(source)
        and isinstance(meta.get("key"), list)
        and len(meta["key"]) == 3
        and isinstance(meta.get("size"), int)
        and isinstance(meta.get("sha256"), str)
    )
