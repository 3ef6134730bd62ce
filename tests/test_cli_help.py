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
from tests.processes import EXIT_PROBE

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


def command_process(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`closeboard ARGS` on `home` as its console script runs it (`pipelines.cli.run`), with an exit
    handler of its own registered first (so it runs last) that says it ran, and an object that says
    when the interpreter's teardown frees it."""
    script = EXIT_PROBE + (
        "import sys\n"
        f"sys.argv = ['closeboard', '--home', {str(home)!r}, *{list(args)!r}]\n"
        "from pipelines.cli import run\n"
        "run()\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True
    )


def test_a_command_s_process_ends_without_teardown_and_without_a_word_more(tmp_path: Path) -> None:
    """The interpreter's teardown went through every object a refresh left (~0.8 s at scale 100); a
    command's process skips it once its exit handlers have run. Skipping only the final collection
    made DuckDB's bindings report every object still alive as leaked: tens of lines on stderr after
    every command that opened a warehouse (`history` does, even on an empty home)."""
    done = command_process(tmp_path, "history")
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("exit handler ran"), done.stdout
    assert "leaked" not in done.stderr and "nanobind" not in done.stderr, done.stderr[-2000:]
    refused = command_process(tmp_path, "no-such-command")
    assert refused.returncode == 2 and "No such command 'no-such-command'" in refused.stderr
    assert refused.stdout.rstrip().endswith("exit handler ran"), refused.stdout
