"""A `closeboard` command started before it is asked for: `python -m pipelines.warm [--home H] [--config C]`
imports what a refresh imports on its way (Dagster and the code location, the MCP client, the run's
runner: about 2 s of every refresh's start, at any scale) and starts the stdio servers that refresh of
home H (and closeboard.yaml C) will read (`pipelines.cli.start_servers_ahead`: a server at scale 100 takes
~1 s to read its files), then reads the command's arguments, one JSON list on one line of stdin, and
runs `closeboard ARGS` (`pipelines.cli.run`: the same command, output and exit status). `closeboard
serve` keeps one ready for the page's reload button (reports/server.py `RefreshJob`), so a reload
starts its run at once and its first source step does not wait for its server.

What changed meanwhile is seen: the run reads closeboard.yaml again and adopts a server started ahead
only when the run's parameters for it are the same (connectors/prestart.py; the others are stopped and
its own started), and a bundled server reads its files again when they change. (The code location's
module reads closeboard.yaml at import, as every Dagster process does; a broken file ends this
process, and the server then starts the refresh afresh.) Closed without a line, or terminated while it
waits (the server stopped or did not need it), the process stops its servers and ends without doing
anything."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Any, NoReturn


def _stop(_signum: int, _frame: Any) -> NoReturn:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.warm")
    parser.add_argument("--home", help="the data home whose refresh's servers to start ahead")
    parser.add_argument("--config", help="its closeboard.yaml (default: as `closeboard` resolves it)")
    options = parser.parse_args(argv)
    import rich.console  # noqa: F401 - the refresh's progress lines

    from connectors.prestart import ServerPool
    import pipelines.runner  # noqa: F401 - Dagster, the code location and the in-process runner
    import reports.summary  # noqa: F401 - the summary printed after the run
    from pipelines import cli

    signal.signal(signal.SIGTERM, _stop)  # terminated while waiting: the servers started ahead stop too
    try:
        if options.home is not None or options.config is not None:
            cli.start_servers_ahead(options.config, options.home)
        line = sys.stdin.readline()
        arguments = json.loads(line) if line.strip() else []
        if not isinstance(arguments, list) or not all(isinstance(a, str) for a in arguments):
            sys.exit(f"pipelines.warm: expected one JSON list of arguments on stdin, got {line.strip()[:200]!r}")
        if not arguments:  # closed without a command: nothing to run
            sys.exit(0)
    except BaseException:  # no command to run (or a broken one): the servers started ahead end first
        ServerPool.end_ahead()
        raise
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # from here on as `closeboard` itself
    sys.argv = ["closeboard", *arguments]
    cli.run(cleanup=ServerPool.end_ahead)  # a refresh's run has taken them (ServerPool.of_run)


if __name__ == "__main__":
    main()
