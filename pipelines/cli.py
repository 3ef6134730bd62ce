"""`closeboard`: the command line a finance team and its operators use."""

from __future__ import annotations

import os
import sys
import time
from datetime import date
from pathlib import Path

import click
import yaml

from warehouse.home import Home

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = REPO_ROOT / "closeboard.yaml"


class Env:
    def __init__(self, config: str | None, home: str | None) -> None:
        self.home = Home.resolve(home)
        self.config_arg = config

    def config_path(self) -> Path:
        from pipelines.resources import config_path

        return config_path(self.config_arg, self.home)

    def export(self, config: Path) -> None:
        """Make the home and config visible to the job's resource and to stdio servers."""
        os.environ["CLOSEBOARD_HOME"] = str(self.home.root)
        os.environ["CLOSEBOARD_CONFIG"] = str(config)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", type=click.Path(dir_okay=False), help="closeboard.yaml (default: $CLOSEBOARD_CONFIG or ./closeboard.yaml)")
@click.option("--home", type=click.Path(file_okay=False), help="data home (default: $CLOSEBOARD_HOME or ./var)")
@click.pass_context
def main(ctx: click.Context, config: str | None, home: str | None) -> None:
    """closeboard: the monthly close as a living dashboard."""
    ctx.obj = Env(config, home)


def _write_demo_config(env: Env, summary: dict) -> Path:
    raw = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    raw["company"]["first_period"] = summary["first_period"]
    raw["company"]["as_of"] = summary["as_of"]
    target = env.home.root / "closeboard.yaml"
    target.write_text(
        "# Written by `closeboard demo` from closeboard.yaml; first_period and as_of follow the demo data.\n"
        + yaml.safe_dump(raw, sort_keys=False),
        encoding="utf-8",
    )
    return target


def _run_refresh(env: Env, config: Path) -> str:
    """Run the `refresh` job in-process with progress lines; returns the run id or exits 1."""
    from rich.console import Console

    from pipelines import progress
    from pipelines.definitions import WAREHOUSE_TAG, defs
    from pipelines.instance import instance

    env.export(config)
    console = Console(stderr=True, highlight=False)
    started = time.perf_counter()
    stop = progress.listen(lambda line: console.print(f"[dim]{time.perf_counter() - started:6.1f}s[/dim]  {line}"))
    try:
        with console.status("refreshing…"), instance(env.home) as dagster_instance:
            result = defs.resolve_job_def("refresh").execute_in_process(
                instance=dagster_instance, raise_on_error=False, tags=WAREHOUSE_TAG,
                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            )
    finally:
        stop()
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure and event.step_failure_data is not None:
                error = event.step_failure_data.error
                while error is not None and (error.cause or error.context) is not None:
                    error = error.cause or error.context  # the user's error, not Dagster's wrappers
                message = error.message.strip() if error else "unknown error"
                console.print(f"[red]✗ {event.step_key}[/red]: {message}")
        console.print("[red]refresh failed[/red]: the previous warehouse and dashboard are unchanged.")
        sys.exit(1)
    console.print(f"[green]✓[/green] refresh {result.run_id} finished in {time.perf_counter() - started:.1f} s")
    return result.run_id


def _print_summary(env: Env) -> None:
    from reports.summary import summary_lines

    for line in summary_lines(env.home):
        click.echo(line)


@main.command()
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), help="the demo's today (default: today)")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--scale", type=int, default=1, show_default=True, help="multiplies the demo's volume")
@click.option("--regenerate", is_flag=True, help="write the demo data again even if it exists")
@click.pass_obj
def demo(env: Env, as_of, seed: int, scale: int, regenerate: bool) -> None:
    """Generate the demo company (if absent), refresh everything, print the dashboard path."""
    import json

    from connectors.demo import generate

    env.home.ensure()
    day = as_of.date() if as_of else date.today()
    company_file = env.home.demo / "company.json"
    existing = json.loads(company_file.read_text()) if company_file.exists() else None
    wanted = {"as_of": day.isoformat(), "seed": seed, "scale": scale}
    if regenerate or not existing or any(existing.get(k) != v for k, v in wanted.items()):
        click.echo(f"generating the demo company (as of {day}, seed {seed}, scale {scale}) in {env.home.demo}")
        summary = generate(env.home.demo, as_of=day, seed=seed, scale=scale)
    else:
        summary = existing
    config = Path(env.config_arg).resolve() if env.config_arg else _write_demo_config(env, summary)
    _run_refresh(env, config)
    _print_summary(env)


@main.command()
@click.pass_obj
def refresh(env: Env) -> None:
    """Pull fresh data from every configured source and re-render the dashboard."""
    _run_refresh(env, env.config_path())
    _print_summary(env)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=3000, type=int, show_default=True)
@click.pass_obj
def ui(env: Env, host: str, port: int) -> None:
    """Start the Dagster UI and daemon on this data home (dagster dev -w workspace.yaml).

    Open the printed URL, go to Jobs > refresh and press Materialize all to refresh by hand."""
    from pipelines.instance import ensure_dagster_home

    config = env.config_path()
    env.export(config)
    os.environ["DAGSTER_HOME"] = str(ensure_dagster_home(env.home))
    click.echo(f"Dagster UI on http://{host}:{port} (data home {env.home.root}, config {config})", err=True)
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "dagster", "dev", "-w", str(REPO_ROOT / "workspace.yaml"),
                              "-h", host, "-p", str(port)])


if __name__ == "__main__":
    main()
