"""Plain helpers every package may import: atomic file writes and terminal-safe text.

This module imports nothing of closeboard's and sits in `connectors`, the head of the one-way flow
connectors -> warehouse -> pipelines -> reports, so importing it never points back up the flow (a
new top-level package would change the layout DESIGN fixes). One definition each:

- `write_atomic(path, content)`: the file appears whole or not at all (a temporary name beside it,
  then `os.replace`), so a reader never sees half a page, token store, approval or status file, and
  a failure leaves the previous file in place. Used by the pages, history, exports, status.json, the
  token store and the tool approvals.
- `printable(text)`: text from a source or the warehouse with terminal escape sequences and control
  characters removed, before a CLI prints it.
- `exit_without_teardown(code)`: a process (a `closeboard` command, a bundled server) ends once its
  threads and exit handlers are done, without the interpreter's teardown.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn


def write_atomic(path: Path | str, content: str | bytes | Callable[[Path], object], *, mode: int = 0o666) -> Path:
    """Write `content` (text as UTF-8, bytes, or a function that writes the file at the path it is
    given, e.g. a PDF printer) to `path` atomically, flushed to disk before the rename. `mode` is
    the new file's permission (less the umask): 0o600 for a file only its owner may read."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        if callable(content):
            content(temp)
        else:
            data = content.encode("utf-8") if isinstance(content, str) else content
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return path


# ESC sequences (CSI, OSC, two-character), C0/C1 controls other than tab and newline, DEL, and the
# bidirectional overrides that make text read differently from what it is
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?|\x9b[0-?]*[ -/]*[@-~]"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)


def printable(text: str) -> str:
    """`text` (server text) without terminal escape sequences and control characters, so printing
    it cannot move the cursor, recolour or retitle a terminal. Escape markup separately."""
    return _CONTROL.sub("", text)


def exit_without_teardown(code: object = 0) -> NoReturn:
    """End this process as `sys.exit(code)` would, without the interpreter's teardown. Python's own
    shutdown is followed as far as anything of ours depends on it: the threads are waited for (and
    the thread pools told to finish, `threading._shutdown`), the exit handlers run (logging, temporary
    folders, DuckDB's and Dagster's own), stdout and stderr are flushed; then the process exits. The
    teardown left out freed every object and module one by one: ~0.8 s after a scale-100 refresh,
    0.15-0.2 s of every bundled server's exit (which each source step waits for when it closes its
    session); and with only its garbage collection left out, DuckDB's bindings (nanobind) reported the
    objects still alive as "leaked" on stderr, tens of lines after every command. Only for a process's
    outermost code (`pipelines.cli.run`, `connectors.servers.hosting.serve`), never inside a process
    that goes on, such as a test runner's."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"): the message on stderr, status 1
        print(code, file=sys.stderr)
        status = 1
    threading._shutdown()  # noqa: SLF001 - what Py_Finalize does first: pools told to stop, threads joined
    atexit._run_exitfuncs()  # noqa: SLF001 - then the exit handlers, in their order
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`closeboard ... | head`) or stream
            pass
    os._exit(status)
