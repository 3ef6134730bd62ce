"""Progress lines for people watching a run from the CLI.

Steps call `emit`; by default the lines go nowhere beyond Dagster's own log. `closeboard demo`
and `closeboard refresh` install a printer, since they run the job in-process.
"""

from __future__ import annotations

from collections.abc import Callable

_listeners: list[Callable[[str], None]] = []


def emit(message: str) -> None:
    for listener in list(_listeners):
        listener(message)


def listen(listener: Callable[[str], None]) -> Callable[[], None]:
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)
