"""`closeboard`: the command line a finance team and its operators use."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import click

from connectors.plain import exit_without_teardown
from warehouse.home import Home

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = REPO_ROOT / "closeboard.yaml"


class Env:
    def __init__(self, config: str | None, home: str | None) -> None:
        self.home = Home.resolve(home)
        self.config_arg = config
        self.entity: str | None = None  # `--entity ID`: one entity of a group (issue 22)
        self.group_home: Home | None = None  # that group's home (its portfolio page) and closeboard.yaml
        self.group_config: Path | None = None

    def select_entity(self, entity_id: str) -> None:
        """Point this command at one entity of the group's closeboard.yaml: its data home
        (<home>/entities/ID) and its configuration, resolved once; exit 1 naming the known entities."""
        from connectors.config import ConfigError
        from pipelines.entities import resolve_entity

        try:
            home, config = resolve_entity(self.home, self.config_path(), entity_id)
        except ConfigError as exc:
            for problem in exc.problems:
                click.echo(f"✗ {problem}", err=True)
            sys.exit(1)
        self.group_config = self.config_path()
        self.group_home, self.home, self.config_arg, self.entity = self.home, home, str(config), entity_id

    def group(self) -> Any:
        """The group (`entities:`) this command's closeboard.yaml declares, None for a single company or
        with `--entity`; exit 1 listing its problems."""
        from connectors.config import ConfigError, load_group

        if self.entity is not None:
            return None
        try:
            return load_group(self.config_path())
        except ConfigError as exc:
            for problem in exc.problems:
                click.echo(f"✗ {problem}", err=True)
            sys.exit(1)

    def config_path(self) -> Path:
        from warehouse.home import config_path

        return config_path(self.config_arg, self.home)

    def export(self, config: Path) -> None:
        """Make the home and config visible to the job's resource and to stdio servers."""
        os.environ["CLOSEBOARD_HOME"] = str(self.home.root)
        os.environ["CLOSEBOARD_CONFIG"] = str(config)

    def load(self, config_file: Path | None = None) -> Any:
        """The exported configuration, or exit 1 listing every problem with it (before anything is
        started or created)."""
        from connectors.config import ConfigError, load_config

        config_file = config_file or self.config_path()
        try:
            config = load_config(config_file)
        except ConfigError as exc:
            for problem in exc.problems:
                click.echo(f"✗ {problem}", err=True)
            sys.exit(1)
        self.export(config_file)
        return config


def example(*commands: str) -> str:
    """A command's help epilog: its examples, kept as written (click's \\b: no re-wrapping)."""
    return "\b\nExamples:\n" + "\n".join(f"  {c}" for c in commands)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    help="closeboard.yaml (default: $CLOSEBOARD_CONFIG, else the data home's closeboard.yaml, else ./closeboard.yaml)",
)
@click.option("--home", type=click.Path(file_okay=False), help="data home (default: $CLOSEBOARD_HOME or ./var)")
@click.option(
    "--entity",
    metavar="ID",
    default=None,
    help="one entity of a group (a closeboard.yaml with `entities:`): its own configuration and data home "
    "<home>/entities/ID",
)
@click.pass_context
def main(ctx: click.Context, config: str | None, home: str | None, entity: str | None) -> None:
    """closeboard: the monthly close as a living dashboard."""
    ctx.obj = Env(config, home)
    if entity is not None:
        ctx.obj.select_entity(entity)
    elif ctx.invoked_subcommand not in GROUP_COMMANDS and not ctx.resilient_parsing:
        group = ctx.obj.group()  # a group's file: the other commands read one entity
        if group is not None:
            click.echo(
                f"✗ {group.path} declares entities ({', '.join(group.ids)}): name one with "
                f"`closeboard --entity ID {ctx.invoked_subcommand} ...`",
                err=True,
            )
            sys.exit(1)


GROUP_COMMANDS = ("refresh", "demo", "ui")  # what a group's file runs without --entity (every entity, the UI)


@main.group()
def auth() -> None:
    """Sign in to hosted MCP servers (connectors with an `auth:` block); tokens are never shown."""


def _auth_connectors(env: Env, source: str | None) -> dict:
    config = env.load()
    if source is not None and source not in config.connectors:
        click.echo(f"✗ {source}: not a configured source ({', '.join(config.connectors)})", err=True)
        sys.exit(1)
    return config.connectors if source is None else {source: config.connectors[source]}


@auth.command(
    "login",
    epilog=example(
        "closeboard auth login bank", "closeboard auth login bank --no-browser  # print the address instead"
    ),
)
@click.argument("source")
@click.option(
    "--no-browser",
    "no_browser",
    is_flag=True,
    help="print the sign-in address instead of opening a browser, and accept the pasted redirect URL",
)
@click.option(
    "--timeout", "timeout_s", type=float, default=300.0, show_default=True, help="seconds to wait for consent"
)
@click.pass_obj
def auth_login(env: Env, source: str, no_browser: bool, timeout_s: float) -> None:
    """Sign SOURCE in once (a browser consent for oauth, a token fetch for client_credentials)."""
    import anyio

    from connectors.auth.login import LoginError, login
    from connectors.config import ConfigError

    connector = _auth_connectors(env, source)[source]
    try:
        result = anyio.run(
            lambda: login(
                connector, env.home.root, open_browser=not no_browser, out=lambda s: click.echo(s), timeout_s=timeout_s
            )
        )
    except (LoginError, ConfigError) as exc:
        click.echo(f"✗ {source}: {exc}", err=True)
        sys.exit(1)
    click.echo(f"✓ {result.line()}")


@auth.command("status", epilog=example("closeboard auth status"))
@click.pass_obj
def auth_status(env: Env) -> None:
    """Per source: auth kind, account or tenant where known, granted scopes and expiry (never a token)."""
    from connectors.auth.login import status

    for connector in _auth_connectors(env, None).values():
        click.echo(status(connector, env.home.root).line())


@auth.command("logout", epilog=example("closeboard auth logout bank"))
@click.argument("source")
@click.pass_obj
def auth_logout(env: Env, source: str) -> None:
    """Delete SOURCE's stored tokens, revoking them where the server offers revocation."""
    import anyio

    from connectors.auth.login import logout

    for line in anyio.run(logout, _auth_connectors(env, source)[source], env.home.root):
        click.echo(line)


def _write_demo_config(env: Env, summary: dict) -> Path:
    from pipelines.entities import write_demo_config

    return write_demo_config(env.home, summary)


def start_servers_ahead(config: str | None, home: str | None) -> None:
    """The stdio servers `closeboard [--config C] [--home H] refresh` will read, started now for its run
    (`connectors.prestart.ServerPool.start_ahead`; pipelines/warm.py). None when the file is not one
    company's readable closeboard.yaml: the command, run later, says why."""
    from connectors.config import ConfigError, load_config
    from connectors.prestart import ServerPool, stdio_servers
    from connectors.records import SOURCES

    env = Env(config, home)
    path = env.config_path()
    try:
        settings = load_config(path)
    except ConfigError:
        return
    env.export(path)  # the servers' environment as the command's run makes it
    ServerPool.start_ahead(stdio_servers(settings, env.home.root, SOURCES))


def _run_refresh(env: Env, config: Path) -> str:
    """Run the `refresh` job in-process with progress lines; returns the run id or exits 1."""
    # checked whole before anything is imported, started or created (exits 1 listing every problem)
    settings = env.load(config)
    from connectors.prestart import run_with_servers
    from connectors.records import SOURCES

    # the run's stdio servers start while this process imports Dagster (and wait for their sessions)
    with run_with_servers(settings, env.home.root, SOURCES) as run_id:
        from rich.console import Console
        from rich.markup import escape

        from pipelines import progress
        from pipelines.runner import execute

        console = Console(stderr=True, highlight=False)
        started = time.perf_counter()
        # progress lines carry source names, paths and counts: printed as text, never read as markup
        stop = progress.listen(
            lambda line: console.print(f"[dim]{time.perf_counter() - started:6.1f}s[/dim]  {escape(line)}")
        )
        try:
            with console.status("refreshing…"):
                outcome = execute("refresh", env.home, run_id=run_id)
        finally:
            stop()
    if not outcome.success:
        from connectors.plain import printable

        for step, message in outcome.errors:  # server text: neither markup nor terminal control
            console.print(f"[red]✗ {escape(printable(str(step)))}[/red]: {escape(printable(str(message)))}")
        console.print("[red]refresh failed[/red]: the previous warehouse and dashboard are unchanged.")
        sys.exit(1)
    console.print(f"[green]✓[/green] refresh {outcome.run_id} finished in {time.perf_counter() - started:.1f} s")
    return outcome.run_id


def _print_summary(env: Env) -> None:
    from rich.console import Console
    from rich.text import Text

    from reports.summary import summary_lines

    console = Console(highlight=False, soft_wrap=True)
    for line, style in summary_lines(env.home):
        console.print(Text(line, style=style or ""))  # Text: server text is never read as markup


@main.command(epilog=example("closeboard demo", "closeboard demo --as-of 2026-11-24 --regenerate"))
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), help="the demo's today (default: today)")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--scale", type=int, default=1, show_default=True, help="multiplies the demo's volume")
@click.option("--regenerate", is_flag=True, help="write the demo data again even if it exists")
@click.option(
    "--plant",
    "plants",
    multiple=True,
    metavar="KIND",
    help="plant a discrepancy for reconciliation to catch (repeatable; `all` for every kind; "
    "implies --regenerate): unbalanced_entry, stale_bank_line, dropped_bank_txn, ar_drift, "
    "ap_drift, total_mismatch, orphan_won_deal",
)
@click.option(
    "--entities",
    "entities",
    type=click.IntRange(1, 60),
    default=None,
    help="a group of N demo companies (own names, currencies and seeds) under <home>/entities/, and the "
    "portfolio page over them",
)
@click.pass_obj
def demo(
    env: Env, as_of, seed: int, scale: int, regenerate: bool, plants: tuple[str, ...], entities: int | None
) -> None:
    """Generate the demo company (if absent), refresh everything, print the dashboard path."""
    import json

    from connectors.demo import generate

    env.home.ensure()
    day = as_of.date() if as_of else date.today()
    if entities is not None:
        _demo_group(env, entities, day, seed, scale)
        return
    company_file = env.home.demo / "company.json"
    existing = json.loads(company_file.read_text()) if company_file.exists() else None
    wanted = {"as_of": day.isoformat(), "seed": seed, "scale": scale}
    if plants or regenerate or not existing or any(existing.get(k) != v for k, v in wanted.items()):
        click.echo(f"generating the demo company (as of {day}, seed {seed}, scale {scale}) in {env.home.demo}")
        summary = generate(env.home.demo, as_of=day, seed=seed, scale=scale)
        if plants:
            from connectors.demo.plant import KINDS, plant

            kinds = list(KINDS) if "all" in plants else list(plants)
            for kind, what in plant(env.home.demo, kinds).items():
                click.echo(f"planted {kind}: {what['check']} in {what['period']} ({what['record_id']})")
    else:
        summary = existing
    config = Path(env.config_arg).resolve() if env.config_arg else _write_demo_config(env, summary)
    _run_refresh(env, config)
    _print_summary(env)


def _demo_group(env: Env, count: int, day: date, seed: int, scale: int) -> None:
    """`closeboard demo --entities N`: N demo companies, each refreshed in turn, and the portfolio."""
    from pipelines.entities import demo_entities, write_demo_entity, write_group_config

    made = demo_entities(count, seed)
    for entity in made:
        click.echo(f"generating {entity.id} ({entity.name}, {entity.currency}) in {env.home.entity(entity.id).demo}")
        write_demo_entity(env.home, entity, as_of=day, scale=scale)
    group_config = (
        Path(env.config_arg).resolve() if env.config_arg else write_group_config(env.home, [e.id for e in made])
    )
    _refresh_group(env, group_config)


def _refresh_group(env: Env, group_config: Path) -> None:
    """Refresh every entity of the group in turn (in this process), then write the portfolio page; exit 1
    after the portfolio when an entity failed (the others are refreshed all the same)."""
    from connectors.config import load_group

    group, failed = load_group(group_config), []
    for entity_id in group.ids:
        click.echo(f"— entity {entity_id}", err=True)
        entity = Env(str(group_config), str(env.home.root))
        entity.select_entity(entity_id)
        try:
            _run_refresh(entity, Path(entity.config_arg))
        except SystemExit:
            failed.append(entity_id)
    _write_portfolio(env.home, group_config)
    if failed:
        click.echo(f"✗ refresh failed for {', '.join(failed)}", err=True)
        sys.exit(1)


def _write_portfolio(group_home: Home, group_config: Path) -> None:
    from connectors.config import load_group
    from pipelines.entities import write_group_portfolio

    click.echo(f"portfolio: {write_group_portfolio(load_group(group_config), group_home)}")


@main.command(epilog=example("closeboard refresh", "closeboard --config /srv/books/closeboard.yaml refresh"))
@click.pass_obj
def refresh(env: Env) -> None:
    """Pull fresh data from every configured source and re-render the dashboard (a group's file without
    --entity: every entity in turn, then the portfolio page)."""
    if env.group() is not None:
        _refresh_group(env, env.config_path())
        return
    _run_refresh(env, env.config_path())
    _print_summary(env)
    if env.group_home is not None and env.group_config is not None:
        _write_portfolio(env.group_home, env.group_config)


@main.command(epilog=example("closeboard ui  # then open http://127.0.0.1:3000"))
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
    sys.exit(
        _run_until_signalled(
            [
                sys.executable,
                "-m",
                "dagster",
                "dev",
                "-w",
                str(REPO_ROOT / "workspace.yaml"),
                "-h",
                host,
                "-p",
                str(port),
            ]
        )
    )


UI_STOP_GRACE_S = 7.0  # the leader asked to stop (about 2 s), then SIGKILL to the group: gone within 10 s


class _Signalled(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _run_until_signalled(command: list[str]) -> int:
    """Run `dagster dev` in a process group of its own and take SIGTERM / SIGINT for it: its own process is
    asked to stop (it stops the webserver and the daemon, then the code servers) and the group is killed if
    anything of it is left after the grace period (pipelines/process_group.py). A watcher does the same
    when this process dies without a word (SIGKILL)."""
    import signal
    import subprocess

    from pipelines.process_group import stop_group

    def signalled(signum: int, _frame: Any) -> None:
        raise _Signalled(signum)  # the stop runs outside the handler, with the wait below unwound

    child: subprocess.Popen[bytes] | None = None
    signal.signal(signal.SIGTERM, signalled)
    signal.signal(signal.SIGINT, signalled)
    try:
        child = subprocess.Popen(command, start_new_session=True)
        _stop_group_when_this_process_dies(child.pid)
        return child.wait()
    except _Signalled as stopped:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C does not cut the stop short
        if child is not None:
            stop_group(child.pid, UI_STOP_GRACE_S)
        return 128 + stopped.signum


def _stop_group_when_this_process_dies(group: int) -> None:
    """Start the watcher (in a session of its own, not in the group it stops) with the read end of a pipe
    whose write end only this process holds."""
    import subprocess

    read_end, write_end = os.pipe()
    subprocess.Popen(
        [sys.executable, "-m", "pipelines.process_group", str(group), str(UI_STOP_GRACE_S)],
        stdin=read_end,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO_ROOT,
    )
    os.close(read_end)
    os.set_inheritable(write_end, False)  # kept open by this process alone, for as long as it lives
    _WATCHED.append(write_end)


_WATCHED: list[int] = []


@main.command(epilog=example("closeboard serve  # then open http://127.0.0.1:8765", "closeboard serve --max-age 900"))
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on (keep it local)")
@click.option("--port", default=8765, type=int, show_default=True)
@click.option(
    "--max-age",
    "max_age",
    type=float,
    default=None,
    help="seconds: a page opened with data older than this starts a refresh by itself",
)
@click.option(
    "--dagster-url",
    "dagster_url",
    envvar="CLOSEBOARD_DAGSTER_URL",
    default=None,
    help="a running Dagster webserver on this data home (e.g. `closeboard ui`'s http://127.0.0.1:3000): "
    "reloads launch the refresh job there; when unset or not answering, they run "
    "`closeboard refresh` in the background (default: $CLOSEBOARD_DAGSTER_URL)",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    help="a Host name the server also answers to (repeatable); only loopback names otherwise, "
    "so a web page cannot read the figures through DNS rebinding",
)
@click.option(
    "--lean",
    is_flag=True,
    help="keep no refresh process and no source servers started between reloads: less memory held "
    "while nobody reloads (~0.8 GB at the demo's size), each reload ~2 s slower",
)
@click.pass_obj
def serve(
    env: Env,
    host: str,
    port: int,
    max_age: float | None,
    dagster_url: str | None,
    allow_hosts: tuple[str, ...],
    lean: bool,
) -> None:
    """Serve the dashboard, history and archived pages; the page's reload button refreshes."""
    from pipelines.entities import entity_run_tags
    from reports.server import serve as serve_pages

    config = env.config_path()
    click.echo(
        f"closeboard dashboard on http://{host}:{port}/ (data home {env.home.root})"
        + (f", refreshing through Dagster at {dagster_url}" if dagster_url else ""),
        err=True,
    )
    serve_pages(
        env.home.root,
        host=host,
        port=port,
        config=config if config.exists() else None,
        max_age_s=max_age,
        dagster_url=dagster_url,
        allow_hosts=allow_hosts,
        dagster_tags=entity_run_tags(env.entity) if env.entity else None,  # the group's refresh is per entity
        warm_refresh=not lean,
    )


# --- the monthly close (issue 4): sign-off, history, backfill; pipelines/close.py, run by pipelines/runner.py ---


@main.command("close", epilog=example("closeboard close 2026-10 --by 'Ana (controller)'"))
@click.argument("period")
@click.option("--by", "by", required=True, help="who signs the month off (recorded)")
@click.option(
    "--override",
    "override",
    default=None,
    help="close although ERROR checks fail, for this reason (recorded with the name and time)",
)
@click.pass_obj
def close_cmd(env: Env, period: str, by: str, override: str | None) -> None:
    """Sign off PERIOD (YYYY-MM): append a closed version of its snapshot and republish."""
    from pipelines.close import close_run_config
    from pipelines.runner import execute

    env.export(env.config_path())
    from pipelines import progress

    pdf_lines: list[str] = []  # whether the closed version's PDF was archived beside its page (issue 20)
    stop = progress.listen(lambda line: pdf_lines.append(line) if line.startswith("PDF ") else None)
    try:
        outcome = execute("close_period", env.home, run_config=close_run_config(period, by, override))
    finally:
        stop()
    if not outcome.success:
        for _, error in outcome.errors or [("", "the close failed")]:
            click.echo(f"✗ {error}", err=True)
        sys.exit(1)
    from reports.history import history_lines

    click.echo(f"✓ {period} closed by {by}" + (f" (override: {override})" if override else ""))
    for line in pdf_lines:
        click.echo(("✓ " if line.startswith("PDF archived") else "! ") + line)
    for line in history_lines(env.home, period):
        click.echo(line)


@main.command(epilog=example("closeboard history", "closeboard history --period 2026-10"))
@click.option("--period", default=None, help="only this period (YYYY-MM)")
@click.pass_obj
def history(env: Env, period: str | None) -> None:
    """Print every close snapshot version: status, sign-off, override, KPIs and differences."""
    from reports.history import history_lines

    for line in history_lines(env.home, period):
        click.echo(line)


@main.command(epilog=example("closeboard backfill --from 2025-01 --to 2025-12"))
@click.option("--from", "first", default=None, help="first period (default: company.first_period)")
@click.option("--to", "last", default=None, help="last period (default: the last ended month)")
@click.pass_obj
def backfill(env: Env, first: str | None, last: str | None) -> None:
    """Take the close snapshots of every ended month in one run (no source is read)."""
    from connectors.config import load_config
    from pipelines.runner import backfill_tags, execute

    config_file = env.config_path()
    env.export(config_file)
    tags = backfill_tags(load_config(config_file), first, last)
    outcome = execute("backfill_history", env.home, tags=tags)
    if not outcome.success:
        for _, error in outcome.errors or [("", "the backfill failed")]:
            click.echo(f"✗ {error}", err=True)
        sys.exit(1)
    click.echo(
        f"✓ snapshots taken for {tags['dagster/asset_partition_range_start']} to "
        f"{tags['dagster/asset_partition_range_end']} (run {outcome.run_id})"
    )


@main.command(epilog=example("closeboard checks", "closeboard checks --period 2026-10"))
@click.option("--period", default=None, help="only this period (YYYY-MM), with each check's figures")
@click.option("--limit", default=50, show_default=True, help="items shown per failing or warning check")
@click.pass_obj
def checks(env: Env, period: str | None, limit: int) -> None:
    """Print the reconciliation verdicts R1-R6 and the offending items (reads the read copy only).

    Exits 1 when any shown verdict fails (an ERROR finding that blocks sign-off)."""
    from reports.checks_report import print_checks

    sys.exit(print_checks(env.home.read_copy, period, limit))


@main.command(
    epilog=example(
        "closeboard explain revenue --period 2026-05",
        "closeboard explain gross_margin_pct --period 2026-05 --limit 5",
        "closeboard explain cash --period 2026-05 --json  # for scripts and the page",
        "closeboard explain --statement income --line 4100 --period 2026-05  # an income-statement line",
        "closeboard explain --statement balance --line total_assets --period 2026-05",
        "closeboard explain --statement cash --line net_cash_operating",
        "closeboard explain --statement income --rollup subtype --line opex:payroll",
    )
    + "\n\n\b\nA statement line is named by --statement (income, balance or cash: the income statement,"
    "\nbalance sheet or cash flow) and --line, its line_id in mart_statements (an account id, a total"
    "\nsuch as total_revenue or net_income; with --rollup subtype, SECTION:SUBTYPE); an unknown line"
    "\nlists the lines of that statement."
)
@click.argument("kpi", required=False)
@click.option(
    "--statement",
    type=click.Choice(["income", "balance", "cash", "income_statement", "balance_sheet", "cash_flow"]),
    default=None,
    help="explain a line of this statement instead of a KPI (with --line)",
)
@click.option("--line", "line_id", default=None, help="the statement line's id (with --statement)")
@click.option(
    "--rollup",
    type=click.Choice(["account", "subtype"]),
    default="account",
    show_default=True,
    help="the statement's lines by account or by subtype (with --statement)",
)
@click.option("--period", default=None, help="the month (YYYY-MM; default: the last ended month)")
@click.option("--limit", default=20, show_default=True, help="journal lines or records listed per figure")
@click.option("--json", "as_json", is_flag=True, help="print the explanation as JSON")
@click.pass_obj
def explain(
    env: Env,
    kpi: str | None,
    statement: str | None,
    line_id: str | None,
    rollup: str,
    period: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Explain one figure: its definition in the mart, the sources and MCP calls that fed it, and the
    journal lines (or records) behind it, largest first, summing to it (reads the read copy only).

    A ratio or derived figure is explained as its formula over its components, each with its lines.
    A statement line (--statement, --line) is explained as the accounts it adds up, each with its sign,
    and the rows behind it (opening balances and journal lines on the balance sheet and cash flow).
    Exits 1 for an unknown KPI, line or period, naming those that exist."""
    from reports.explain import print_explain, print_statement_line

    if (kpi is None) == (statement is None) or (statement is None) != (line_id is None):
        raise click.UsageError("give a KPI, or --statement with --line (e.g. --statement income --line 4100)")
    if statement is not None:
        sys.exit(
            print_statement_line(
                env.home.read_copy, statement, line_id, period, rollup=rollup, limit=limit, as_json=as_json
            )
        )
    sys.exit(print_explain(env.home.read_copy, kpi, period, limit=limit, as_json=as_json))


@main.command(
    "mcp",
    epilog=example(
        "closeboard mcp  # stdio: what a desktop MCP client starts",
        "closeboard mcp --print-config  # the mcpServers snippet for that client",
        "closeboard mcp --http 8766 --token-env CLOSEBOARD_MCP_TOKEN",
    ),
)
@click.option(
    "--http",
    "http_port",
    type=int,
    default=None,
    metavar="PORT",
    help="serve streamable HTTP at http://HOST:PORT/mcp instead of stdio",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="HTTP bind address; on loopback only loopback Host headers are answered (DNS rebinding)",
)
@click.option(
    "--token-env",
    "token_env",
    default=None,
    metavar="NAME",
    help="over HTTP, require 'Authorization: Bearer <token>' with the token read from env var NAME",
)
@click.option(
    "--print-config",
    "print_config",
    is_flag=True,
    help="print the JSON a desktop MCP client (Claude Desktop-style mcpServers) needs, and exit",
)
@click.pass_obj
def mcp(env: Env, http_port: int | None, host: str, token_env: str | None, print_config: bool) -> None:
    """Serve the close as a read-only MCP server: list_periods, get_kpis, get_statement, explain,
    get_checks, get_check_items, get_history, over the read copy and the close snapshots only.
    Every call is logged to mcp_calls in <home>/mcp_audit.duckdb."""
    import json

    from reports.mcp_server import client_config, run

    if print_config:
        click.echo(json.dumps(client_config(env.home, http_port=http_port, host=host, token_env=token_env), indent=2))
        return
    token = os.environ.get(token_env) if token_env else None
    if token_env and not token:
        raise click.UsageError(f"--token-env {token_env}: the environment variable is not set")
    if token_env and http_port is None:
        raise click.UsageError("--token-env applies to --http only (a stdio server is the client's own child)")
    entities = None
    if env.group_home is not None and env.group_config is not None:  # --entity: list_entities names the others
        from connectors.config import load_group
        from pipelines.entities import portfolio_entities

        entities = portfolio_entities(load_group(env.group_config), env.group_home)
    run(env.home, http_port=http_port, host=host, token=token, entities=entities)


@main.command(
    "export",
    epilog=example(
        "closeboard export --period 2026-05 --pdf close-2026-05.pdf --xlsx close-2026-05.xlsx",
        "closeboard export --period 2026-04 --version 2 --pdf april-v2.pdf",
    ),
)
@click.option("--period", required=True, help="the month (YYYY-MM)")
@click.option("--version", "version", type=int, default=None, help="its snapshot version (default: the latest)")
@click.option(
    "--pdf",
    "pdf",
    type=click.Path(dir_okay=False),
    default=None,
    help="write the page, printed by headless Chromium, to this file",
)
@click.option(
    "--xlsx",
    "xlsx",
    type=click.Path(dir_okay=False),
    default=None,
    help="write the workbook (cover with checks, statements, KPIs, open invoices and bills) to this file",
)
@click.pass_obj
def export(env: Env, period: str, version: int | None, pdf: str | None, xlsx: str | None) -> None:
    """Export one close snapshot version as a PDF and/or an XLSX (reads the read copy and the
    version's archived page only). Exits 1 for an unknown period or version, naming those that exist."""
    from reports.export import ExportError, resolve, write_pdf, write_xlsx

    if not pdf and not xlsx:
        raise click.UsageError("name at least one of --pdf FILE and --xlsx FILE")
    try:
        pack = resolve(env.home, period, version)
        for target, write in ((pdf, lambda t: write_pdf(pack, t)), (xlsx, lambda t: write_xlsx(env.home, pack, t))):
            if target:
                click.echo(f"✓ {pack.label}: {write(Path(target))}")
    except ExportError as exc:
        click.echo(f"✗ {exc}", err=True)
        sys.exit(1)


@main.command(
    "send",
    epilog=example(
        "closeboard send --period 2026-05  # delivery.recipients and the webhook",
        "closeboard send --period 2026-05 --to cfo@example.com --to board@example.com",
    ),
)
@click.option("--period", required=True, help="the month (YYYY-MM)")
@click.option(
    "--version", "version", type=int, default=None, help="its snapshot version (default: the last closed one)"
)
@click.option(
    "--to",
    "to",
    multiple=True,
    metavar="ADDR",
    help="send to this address (repeatable; default: delivery.recipients and the webhook)",
)
@click.pass_obj
def send(env: Env, period: str, version: int | None, to: tuple[str, ...]) -> None:
    """E-mail one close snapshot version (the KPI summary, the PDF and XLSX attached) through the
    `delivery:` block; never twice to the same recipient, blocked (exit 1) while an ERROR check fails
    or a source's data is older than delivery.max_age, unless the sign-off carried an override."""
    from connectors.config import ConfigError
    from pipelines.delivery import send_pack
    from reports.delivery import DeliveryError

    config = env.load()
    try:
        outcome = send_pack(config, env.home, period, version, to=to)
    except (DeliveryError, ConfigError) as exc:
        click.echo(f"✗ {exc}", err=True)
        sys.exit(1)
    click.echo(f"{'✗' if outcome.status == 'blocked' else '✓'} {outcome.line()}")
    if outcome.status == "blocked":
        sys.exit(1)


@main.group()
def views() -> None:
    """The pages you describe: views/*.md (markdown with SQL blocks and components, docs/views.md)."""


@views.command("check", epilog=example("closeboard views check"))
@click.pass_obj
def views_check(env: Env) -> None:
    """Validate every view against the read copy: each problem with its file, line and fix; exit 1 if any."""
    from reports.views import check_views, views_folder

    folder = views_folder(env.load())
    if not env.home.read_copy.exists():
        click.echo(f"✗ no read copy at {env.home.read_copy}: run `closeboard refresh` first", err=True)
        sys.exit(1)
    checked = check_views(folder, env.home.read_copy)
    if not checked:
        click.echo(f"no views in {folder} (start one with `closeboard view new NAME`)")
    for view in checked:
        click.echo(f"{'✗' if view.problems else '✓'} {view.path}")
        for problem in view.problems:
            click.echo(f"  {problem}")
    sys.exit(1 if any(v.problems for v in checked) else 0)


@main.group()
def view() -> None:
    """One view: start a new page from a scaffold."""


@view.command("new", epilog=example("closeboard view new revenue_by_customer"))
@click.argument("name")
@click.pass_obj
def view_new(env: Env, name: str) -> None:
    """Write views/NAME.md with one tile, chart, table, statement and check card to edit (rendered at each refresh)."""
    from reports.views import scaffold, views_folder

    try:
        path = scaffold(views_folder(env.load()), name)
    except (ValueError, FileExistsError) as exc:
        click.echo(f"✗ {exc}", err=True)
        sys.exit(1)
    click.echo(f"wrote {path}: edit it, check it with `closeboard views check`, see it after `closeboard refresh`")


@main.group()
def connectors() -> None:
    """Inspect the configured MCP connectors."""


@connectors.command(
    "check",
    epilog=example(
        "closeboard connectors check", "closeboard connectors check --accept erp  # approve its changed tools"
    ),
)
@click.option(
    "--accept",
    "accept",
    multiple=True,
    metavar="SOURCE",
    help="record SOURCE's offered tool definitions as the approved ones (after reviewing the diff)",
)
@click.pass_obj
def connectors_check(env: Env, accept: tuple[str, ...]) -> None:
    """Connect to every configured server: its tools (allow-listed, read-only, used, approved), warnings,
    and how many records each canonical table would receive. Exits 1 when a required tool is missing or
    an approved tool changed; `--accept SOURCE` shows the differences and approves the new definitions."""
    import anyio

    from connectors.adapters.check import check_all, report_lines

    config = env.load()
    unknown = [s for s in accept if s not in config.connectors]
    if unknown:
        click.echo(
            f"✗ --accept {', '.join(unknown)}: not a configured source ({', '.join(config.connectors)})", err=True
        )
        sys.exit(1)
    from connectors.records import SOURCES
    from warehouse.recon import CHECK_SOURCES, CHECK_TITLES

    results = anyio.run(check_all, config, env.home.root, frozenset(accept))
    for line in report_lines(results):
        click.echo(line)
    if "erp" in config.connectors:  # R7's input: the ERP's own trial balance, where the adapter reads one
        from connectors.adapters import adapter_for

        erp = adapter_for(config.connectors["erp"])
        tool = next((s.tool for s in erp.streams() if s.table == "erp_trial_balance"), None)
        click.echo(
            f"erp: {CHECK_TITLES['R7_erp_report']}: "
            + (
                f"reads the ERP's own trial balance through {tool}"
                if tool
                else f"not available (adapter {erp.name!r} reads no trial balance with these allow_tools)"
            )
        )
    for source in (s for s in SOURCES if s not in config.connectors):  # optional: bank and CRM enrich the ERP
        checks = [CHECK_TITLES[c] for c, needed in CHECK_SOURCES.items() if source in needed]
        click.echo(
            f"{source}: not configured (optional); its tables stay empty and "
            + (
                f"{', '.join(checks)} report 'not configured'"
                if checks
                else "the page shows no budget columns (docs/budget.md)"
            )
        )
    sys.exit(0 if all(r.ok for r in results) else 1)


@connectors.command(
    "log", epilog=example("closeboard connectors log --last", "closeboard connectors log --source bank --limit 20")
)
@click.option("--source", default=None, help="only this source")
@click.option("--run", "run", default=None, metavar="RUN_ID", help="only this run (a prefix of its id is enough)")
@click.option("--last", is_flag=True, help="only the last run")
@click.option("--limit", default=50, show_default=True, help="the most recent calls shown")
@click.pass_obj
def connectors_log(env: Env, source: str | None, run: str | None, last: bool, limit: int) -> None:
    """Print the audit trail of MCP calls (connector_calls, read copy): when, run, source, tool, page,
    items, bytes, duration, status, arguments (secrets redacted) and error."""
    from reports.connectors_log import print_log

    if run and last:
        raise click.UsageError("--run and --last exclude each other")
    sys.exit(print_log(env.home.read_copy, source=source, run=run, last=last, limit=limit))


def run(cleanup: Callable[[], None] | None = None) -> None:
    """The `closeboard` process: `main`, then `cleanup` (pipelines/warm.py: the servers it started
    ahead that the command did not take), then the exit without the interpreter's teardown
    (`connectors.plain.exit_without_teardown`). An exception click does not turn into an exit status
    ends the process as Python ends it, with its traceback."""
    try:
        try:
            main()
        finally:
            if cleanup is not None:
                cleanup()
    except SystemExit as stop:
        exit_without_teardown(stop.code)
    exit_without_teardown(0)


if __name__ == "__main__":
    run()
