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
would stop that server, so the folder is the servers' alone: delete it, never edit it). A file modified in the
last seconds is never taken from the cache by its stat, nor written to it: its bytes are read, and only lines
appended to the cached version (its bytes hash-checked) are parsed, as an export appended to just before a
refresh is. A cache that cannot be read or written is passed over: the file is parsed
as without one. The cached table is what parsing gives, so what the server serves never depends on
whether the cache was used (tests/connectors/test_parsed_cache.py holds them equal).

The summaries a server computes from a table (its month summaries, the ERP's ledger summary) are kept
in the same folder (`answers/`), with the same trust: under the file's (inode, size, mtime), the table's
spec and the answering code's identity, so the next process answers them without computing while the
file is unchanged (at scale 100 the ERP computed ~1.5 s of them at every start, beside the other
servers' starts, on files that had not changed). When the file only had lines appended, a summary of the
whole window is the kept one with the new lines' own summary added (counts, exact sums and the digests,
sums of row hashes, all add up: `store.added`); the previous version's answers are kept for that. A file
modified in the last seconds is added to the same way, and nothing is kept for it. Any
other change to the file, and another spec or code, computes them again.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from connectors.plain import write_atomic

FORMAT = "closeboard-parsed-1"  # what a cache file holds: a new format is never read as the old one
META = b"closeboard"  # the schema metadata key of the file's description
ANSWERS = "closeboard-answers-2"  # what a kept answers file holds


@dataclass(frozen=True)
class Parsed:
    """A parsed table; when it is the cached one with lines appended, also the cached version's stat
    key (`grown_from`) and the appended rows alone (`appended`), parsed as the rest; when the file was
    read, the SHA-256 of its bytes (`sha256`, hex)."""

    table: pa.Table
    grown_from: tuple[int, int, int] | None = None
    appended: pa.Table | None = None
    sha256: str | None = None


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
        *,
        racy: bool = False,
    ) -> Parsed:
        """The table of `source` (data folder path `relative`), whose stat key is `key`: from the cache
        when it holds this version, else parsed (`parse(data)` the whole file, `parse_rows(data, columns)`
        lines without a header, `data` as `read()` gives it) and cached. A file modified in the last
        seconds (`racy`: its stat may not tell its next change apart) is always read: the cache serves only
        the lines its bytes show were there before (hash-checked), and nothing is cached for it."""
        cached = self._read(relative, source)
        if not racy and cached is not None and tuple(cached[0]["key"]) == key:
            return Parsed(cached[1])
        data = read()
        whole = memoryview(data)
        digest, parsed, hashed = hashlib.sha256(), None, 0
        if cached is not None:
            meta, old = cached
            size = meta["size"]
            if 0 < size <= len(data) and data[size - 1 : size] == b"\n":
                digest.update(whole[:size])
                hashed = size
                if digest.hexdigest() == meta["sha256"]:  # lines appended to the cached file
                    tail = data[size:]
                    rows = parse_rows(tail, old.column_names) if tail.strip() else old.slice(0, 0)
                    parsed = Parsed(pa.concat_tables([old, rows]), tuple(meta["key"]), rows)
        digest.update(whole[hashed:])  # the whole file hashed once, whichever way it went
        parsed = replace(parsed or Parsed(parse(data)), sha256=digest.hexdigest())
        if parsed.table.num_columns and not racy:
            self._write(relative, source, key, len(data), parsed.sha256, parsed.table)
        return parsed

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
        for version in self._answers(relative, source, code):
            if version["key"] == list(key):
                return version["answers"].get(name)
        return None

    def keep_answer(
        self, relative: str, source: Path, key: tuple[int, int, int], code: str, name: str, value: Any
    ) -> None:
        """Keep `value` as the answer `name` for `source` at `key`. The answers of one earlier version
        stay beside this one's (a grown file's other summaries are added to them); older versions and
        other code's are dropped. A folder that cannot be written keeps nothing: the next start
        computes it again."""
        with self._answers_lock:
            versions = self._answers(relative, source, code)
            this = next((v for v in versions if v["key"] == list(key)), {"key": list(key), "answers": {}})
            this["answers"][name] = value
            earlier = [v for v in versions if v is not this][:1]
            kept = {"format": ANSWERS, "source": str(source), "code": code, "versions": [this, *earlier]}
            try:
                write_atomic(self._answers_path(relative), json.dumps(kept, separators=(",", ":")))
            except OSError:
                pass

    def _answers(self, relative: str, source: Path, code: str) -> list[dict[str, Any]]:
        """The versions kept for `source` by `code`, newest first: each {"key": [...], "answers": {...}}."""
        try:
            kept = json.loads(self._answers_path(relative).read_bytes())
        except (OSError, ValueError):
            return []  # none yet, or not readable: computed again
        if not (
            isinstance(kept, dict)
            and kept.get("format") == ANSWERS
            and kept.get("source") == str(source)
            and kept.get("code") == code
            and isinstance(kept.get("versions"), list)
        ):
            return []
        return [
            v
            for v in kept["versions"]
            if isinstance(v, dict) and isinstance(v.get("key"), list) and isinstance(v.get("answers"), dict)
        ]

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
