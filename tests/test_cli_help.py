"""Every CLI command explains itself: `--help` shows at least one example of it, and the README
shows how it is used."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pipelines.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name)


ALL = list(commands(main))


def test_the_cli_has_the_commands_people_use() -> None:
    assert {"refresh", "demo", "close", "checks", "serve", "ui"} <= {p[-1] for p in ALL}


@pytest.mark.parametrize("path", ALL, ids=" ".join)
def test_each_command_has_help_with_an_example_and_is_in_the_readme(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    name = "closeboard " + " ".join(path)
    examples = result.output.split("Examples:", 1)
    assert len(examples) == 2, f"`{name} --help` shows no example:\n{result.output}"
    assert name in examples[1], f"`{name} --help`'s examples do not run it:\n{examples[1]}"
    assert name in README, f"the README never shows `{name}`"


def test_a_command_s_process_ends_without_collecting_its_garbage(tmp_path: Path) -> None:
    """Python's shutdown went through every object a refresh left (~0.8 s at scale 100) before the
    process ended; a command's process skips that collection, its exit handlers still run."""
    script = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('collecting at exit:', gc.isenabled()))  # runs after the CLI's\n"
        "from pipelines.cli import main\n"
        f"main(['--home', {str(tmp_path)!r}, 'history'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True
    )
    assert "collecting at exit: False" in done.stdout, (done.stdout, done.stderr)
