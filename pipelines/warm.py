"""A `closeboard` command started before it is asked for: `python -m pipelines.warm` imports what a
refresh imports on its way (Dagster and the code location, the MCP client, the run's runner: about
2 s of every refresh's start, at any scale), then reads the command's arguments, one JSON list on
one line of stdin, and runs `closeboard ARGS` (`pipelines.cli.run`: the same command, output and
exit status). `closeboard serve` keeps one ready for the page's reload button (reports/server.py
`RefreshJob`), so a reload starts its run at once.

Nothing of the data home is read before the arguments come, so what changed meanwhile is seen:
the run reads closeboard.yaml, starts its servers and reads its sources then. (The code location's
module reads closeboard.yaml at import, as every Dagster process does; a broken file ends this
process, and the server then starts the refresh afresh.) Closed without a line (the server stopped
or did not need it), the process ends without doing anything."""

from __future__ import annotations

import json
import sys


def main() -> None:
    import rich.console  # noqa: F401 - the refresh's progress lines

    import connectors.prestart  # noqa: F401 - the run's servers, started ahead of its source steps
    import pipelines.runner  # noqa: F401 - Dagster, the code location and the in-process runner
    import reports.summary  # noqa: F401 - the summary printed after the run
    from pipelines import cli

    line = sys.stdin.readline()
    if not line.strip():
        return
    arguments = json.loads(line)
    if not isinstance(arguments, list) or not all(isinstance(a, str) for a in arguments):
        sys.exit(f"pipelines.warm: expected one JSON list of arguments on stdin, got {line.strip()[:200]!r}")
    sys.argv = ["closeboard", *arguments]
    cli.run()


if __name__ == "__main__":
    main()
