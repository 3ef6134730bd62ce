"""Served mode: the dashboard over HTTP on this machine, with a reload control that refreshes.

`closeboard serve` runs `serve(home)`: starlette + uvicorn on 127.0.0.1 by default.
- GET /, /latest.html, /history.html and archived pages (any .html under <home>/reports, and the .js
  and .css archived pages share): the file
  as rendered, with a served-mode block injected into pages that carry the marker: a fresh token
  for this page view, the API paths and the max age.
- POST /api/refresh: launches the Dagster `refresh` job. With a Dagster webserver URL (`dagster_url`,
  `closeboard serve --dagster-url`, $CLOSEBOARD_DAGSTER_URL) that answers, through its GraphQL API, as
  the UI's launch button does (the instance's run queue orders it after any other warehouse writer);
  otherwise, or when that webserver does not answer, as a `closeboard refresh` subprocess (never
  importing `pipelines`; the warehouse lock makes it wait for, or fail beside, any other run).
  `closeboard serve` keeps that process started ahead, its imports done and its stdio servers started
  (`python -m pipelines.warm`; `--lean` keeps none): a reload hands it the command and its run starts at once.
  Refused (403) without a token this server issued, or when the request's Origin is not this
  server's own origin.
- GET /api/explain?figure=KPI&period=P (or ?statement=income_statement|balance_sheet|cash_flow&rollup=R&line=ID&period=P):
  what `closeboard explain` gives for a tile, or the journal lines (and balances) behind a statement line, with
  every row (up to EXPLAIN_ROWS), read from the readers' copy; the page's click-to-explain fetches it.
  Refused (403) without a page token this server issued.
- GET /api/table?section=ID&period=P: every row of one of the page's tables (the file embeds the first
  rows of each period only), from the readers' copy; page token and Host checks as /api/explain.
- GET /api/status: the published run (reports/status.json) and the refresh job's state
  (running / succeeded / failed, whichever way it was launched) and last progress line, so a page
  can tell that newer data exists and follow a refresh it started.
Launching and polling (subprocess or GraphQL) run in a worker thread, never on the event loop.
- Every request must name a loopback Host (127.0.0.1, localhost, [::1]) or one given with
  `--allow-host`, else 421: a web page the user visits cannot reach the figures through DNS rebinding.
- Page tokens are stateless (an HMAC of the issue time under a per-process key), so no number of
  page views evicts a token another tab still holds.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from reports.render import SERVED_MARKER, json_for_script
from warehouse.home import Home

REPO_ROOT = Path(__file__).resolve().parent.parent
TOKEN_TTL_S = 24 * 3600
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
DAGSTER_LOCATION = "closeboard"  # workspace.yaml's location_name
DAGSTER_JOB = "refresh"
DAGSTER_TIMEOUT_S = 15  # per GraphQL request
DAGSTER_POLL_S = 0.5  # reuse a run status this fresh rather than ask the webserver again
DAGSTER_UNREACHABLE_S = 60  # a launched run whose webserver stays silent this long is reported failed
# DagsterRunStatus value -> the page's job state
_DAGSTER_STATES = {"SUCCESS": "succeeded", "FAILURE": "failed", "CANCELED": "failed"}


class DagsterUnreachable(Exception):
    """The Dagster webserver did not answer (connection refused, reset or timed out connecting)."""


class DagsterWebserver:
    """The `refresh` job on a running Dagster webserver, through dagster_graphql's client (blocking calls:
    run them in a thread)."""

    def __init__(self, url: str, tags: Mapping[str, str] | None = None) -> None:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        self.tags = dict(tags or {})  # an entity of a group: its partition and writer tags (issue 22)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not a Dagster webserver URL: {url!r}")
        self.url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self._args: dict[str, Any] = {
            "port_number": parts.port,
            "use_https": parts.scheme == "https",
            "path_prefix": parts.path.rstrip("/"),
            "timeout": DAGSTER_TIMEOUT_S,
        }
        self._host = parts.hostname
        self._client: Any = None

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        import requests
        from dagster_graphql import DagsterGraphQLClient

        if self._client is None:
            self._client = DagsterGraphQLClient(self._host, **self._args)
        try:
            return getattr(self._client, method)(*args, **kwargs)
        except Exception as error:
            cause: BaseException | None = error
            while cause is not None:
                if isinstance(cause, requests.exceptions.ConnectionError):
                    raise DagsterUnreachable(f"no answer from the Dagster webserver at {self.url}") from error
                cause = cause.__cause__ or cause.__context__
            raise

    def launch(self) -> str:
        return self._call(
            "submit_job_execution", DAGSTER_JOB, repository_location_name=DAGSTER_LOCATION, tags=self.tags or None
        )

    def status(self, run_id: str) -> str:
        """The run's DagsterRunStatus value: QUEUED, STARTING, STARTED, SUCCESS, FAILURE, CANCELED..."""
        return self._call("get_run_status", run_id).value

    def run_url(self, run_id: str) -> str:
        return f"{self.url}/runs/{run_id}"


class RefreshJob:
    """At most one refresh at a time from this server: a run launched on the Dagster webserver when one is
    configured and answers, else a `closeboard refresh` subprocess whose output goes to a log file.
    Blocking (network, process start): call from a worker thread."""

    def __init__(
        self,
        home: Home,
        config: Path | None,
        command: list[str] | None = None,
        dagster_url: str | None = None,
        dagster_tags: Mapping[str, str] | None = None,
        *,
        warm: bool = False,
    ) -> None:
        self.home = home
        self.config = config
        self.command = command
        # `closeboard refresh` started ahead of the reload (pipelines/warm.py), when the command is closeboard's
        # and reloads run it here (with a Dagster webserver they run there, this only if it is unreachable)
        self.warm = warm and not command and not dagster_url
        self._ready: subprocess.Popen[bytes] | None = None
        self._ready_log = home.root / "serve" / "refresh.next.log"
        self.dagster = DagsterWebserver(dagster_url, dagster_tags) if dagster_url else None
        self._lock = threading.Lock()  # the state below; held briefly, never across a network call
        self._start_lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._polled_at = 0.0
        self.proc: subprocess.Popen[bytes] | None = None
        self.launcher: str | None = None  # "dagster" | "subprocess" for the latest refresh
        self.run_id: str | None = None  # the Dagster run, when launched on the webserver
        self.run_status: str | None = None  # its last DagsterRunStatus value
        self.fallback_reason: str | None = None
        self._unreachable_since: float | None = None
        self.state = "idle"
        self.started_at: str | None = None
        self.finished_at: str | None = None
        self.returncode: int | None = None
        self.error: str | None = None
        self.log_path = home.root / "serve" / "refresh.log"

    def _home_arguments(self) -> list[str]:
        """This home (and configuration) as `closeboard` and `python -m pipelines.warm` take them."""
        args = ["--home", str(self.home.root)]
        if self.config:
            args += ["--config", str(self.config)]
        return args

    def _arguments(self) -> list[str]:
        """`closeboard ARGUMENTS`: the refresh of this home (and configuration)."""
        return [*self._home_arguments(), "refresh"]

    def _command(self) -> list[str]:
        if self.command:
            return list(self.command)
        return [sys.executable, "-m", "pipelines.cli", *self._arguments()]

    def _spawn(self, command: list[str], log_path: Path, stdin: int) -> subprocess.Popen[bytes]:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("wb") as log:
            env = {**os.environ, "CLOSEBOARD_HOME": str(self.home.root)}
            return subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=env,
                stdin=stdin,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def prepare(self) -> None:
        """With `warm`: a refresh process ready for the next reload, its imports done and its stdio
        servers started meanwhile (`python -m pipelines.warm`), unless one is ready already. Called when
        the server starts and when a refresh has ended, never while one runs (it would take CPU from
        that run)."""
        with self._lock:
            if not self.warm or (self._ready is not None and self._ready.poll() is None):
                return
            command = [sys.executable, "-m", "pipelines.warm", *self._home_arguments()]
            self._ready = self._spawn(command, self._ready_log, subprocess.PIPE)

    @property
    def ready(self) -> subprocess.Popen[bytes] | None:
        """The refresh process kept ready for the next reload (None: none is)."""
        return self._ready

    def _take_ready(self) -> subprocess.Popen[bytes] | None:
        """The ready process, told to run the refresh (its log becomes the refresh's); None when there
        is none or it has ended (a closeboard.yaml broken when it started, a kill): then the refresh
        starts afresh. Called with the lock held."""
        ready, self._ready = self._ready, None
        if ready is None or ready.poll() is not None:
            return None
        try:
            assert ready.stdin is not None
            ready.stdin.write((json.dumps(self._arguments()) + "\n").encode())
            ready.stdin.close()
        except (OSError, ValueError):  # ending meanwhile: a pipe nobody reads
            _end(ready)
            return None
        os.replace(self._ready_log, self.log_path)
        return ready

    def start(self) -> bool:
        """Start a refresh unless one runs; False when one was already running."""
        with self._start_lock:  # one launch at a time; state reads go on meanwhile
            self._poll(max_age_s=0)
            with self._lock:
                if self.state == "running":
                    return False
            run_id, fallback, refused = None, None, None
            if self.dagster is not None:
                try:
                    run_id = self.dagster.launch()
                except DagsterUnreachable as unreachable:
                    fallback = f"{unreachable}: refreshing in the background instead"
                except Exception as error:  # the webserver answered and refused: say why, run nothing
                    refused = (
                        f"the Dagster webserver refused to launch `{DAGSTER_JOB}`: "
                        + (str(error).strip().splitlines() or [type(error).__name__])[0]
                    )
            with self._lock:
                self.started_at, self.finished_at, self.returncode = _now(), None, None
                self.error, self.fallback_reason, self._unreachable_since = refused, fallback, None
                self.proc, self.run_id, self.run_status, self._polled_at = None, run_id, None, 0.0
                if run_id is not None or refused is not None:
                    self.launcher = "dagster"
                    self.run_status = "QUEUED" if run_id else None
                    self.state = "running" if run_id else "failed"
                    self.finished_at = None if run_id else _now()
                    return True
                self.launcher = "subprocess"
                self.proc = self._take_ready() or self._spawn(self._command(), self.log_path, subprocess.DEVNULL)
                self.state = "running"
                return True

    def _poll(self, max_age_s: float = DAGSTER_POLL_S) -> None:
        """Bring the state up to date: the subprocess's exit, or the Dagster run's status (at most one
        GraphQL request in flight, none when the last answer is younger than max_age_s)."""
        ended = False
        with self._lock:
            if self.proc is not None and self.state == "running":
                code = self.proc.poll()
                if code is not None:
                    self.returncode = code
                    self.state = "succeeded" if code == 0 else "failed"
                    self.finished_at = _now()
                    ended = True
            dagster_run = self.state == "running" and self.launcher == "dagster" and self.dagster and self.run_id
        if ended:
            self.prepare()  # the next reload's process, now that this refresh no longer needs the CPU
        if not dagster_run:
            return
        with self._poll_lock:
            with self._lock:
                run_id = self.run_id
                if self.state != "running" or time.monotonic() - self._polled_at < max_age_s:
                    return
            try:
                status, error = self.dagster.status(run_id), None
            except Exception as failure:  # unreachable, or an answer we cannot read: retry on the next poll
                status, error = None, failure
            with self._lock:
                if self.run_id != run_id or self.state != "running":
                    return
                now = time.monotonic()
                self._polled_at = now
                if status is None:
                    self._unreachable_since = self._unreachable_since or now
                    if now - self._unreachable_since > DAGSTER_UNREACHABLE_S:
                        self.state, self.finished_at = "failed", _now()
                        self.error = (
                            f"lost the Dagster webserver while run {run_id} was "
                            f"{(self.run_status or 'queued').lower()}: {error}"
                        )
                    return
                self.run_status, self._unreachable_since = status, None
                state = _DAGSTER_STATES.get(status, "running")
                if state != "running":
                    self.state, self.finished_at = state, _now()
                    if state == "failed":
                        self.error = f"Dagster run {run_id} {status.lower()}: see {self.dagster.run_url(run_id)}"

    def _log_lines(self) -> list[str]:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        return [line.strip() for line in text.replace("\r", "\n").splitlines() if line.strip()]

    def snapshot(self) -> dict[str, Any]:
        self._poll()
        with self._lock:
            info: dict[str, Any] = {
                "state": self.state,
                "started_at": self.started_at,
                "finished_at": self.finished_at,
                "returncode": self.returncode,
                "launcher": self.launcher,
            }
            if self.fallback_reason:
                info["fallback"] = self.fallback_reason
            if self.launcher == "dagster":
                info["progress"] = (
                    f"Dagster run {self.run_id[:8]} {self.run_status.lower()}"
                    if self.run_id and self.run_status
                    else None
                )
                if self.run_id and self.dagster:
                    info.update(
                        dagster_run_id=self.run_id,
                        dagster_status=self.run_status,
                        dagster_run_url=self.dagster.run_url(self.run_id),
                    )
                if self.state == "failed":
                    info["error"] = self.error or "the Dagster run failed"
                return info
            lines = self._log_lines() if self.state != "idle" else []
            info["progress"] = lines[-1] if lines else None
            if self.state == "failed":
                errors = [line for line in lines if "✗" in line or "failed" in line]
                info["error"] = errors[-1] if errors else (lines[-1] if lines else "refresh failed")
            return info

    def stop(self) -> None:
        """End the running refresh and the ready process (the server is stopping)."""
        with self._lock:
            ready, self._ready = self._ready, None
            for proc in (self.proc, ready):
                if proc is not None:
                    _end(proc)


def _end(proc: subprocess.Popen[bytes]) -> None:
    """Terminate `proc` unless it has ended, and reap it (killed when it outlasts 10 s)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Tokens:
    """Tokens issued into served pages; a refresh request must carry one. Stateless: the issue time and
    an HMAC of it under this process's key, valid for TOKEN_TTL_S (a restart invalidates them all)."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def _sign(self, issued: str) -> str:
        return hmac.new(self._key, issued.encode(), hashlib.sha256).hexdigest()

    def issue(self) -> str:
        issued = str(int(time.time() * 1000))  # milliseconds, truncated: never later than now
        return f"{issued}.{self._sign(issued)}"

    def valid(self, token: str | None) -> bool:
        issued, _, signature = (token or "").rpartition(".")
        if not issued or not signature or not hmac.compare_digest(signature, self._sign(issued)):
            return False
        try:
            return 0 <= time.time() * 1000 - int(issued) < TOKEN_TTL_S * 1000
        except ValueError:
            return False


def host_name(header: str | None) -> str:
    """The name in a Host header, without its port: `[::1]:8765` -> `::1`, `LocalHost.:80` -> `localhost`."""
    value = (header or "").strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else ""
    return value.rsplit(":", 1)[0].rstrip(".") if value.count(":") <= 1 else value


# what else a page may load from the reports folder: an archived page's shared parts (reports/history.py)
ASSET_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
EXPLAIN_ROWS = 100_000  # the rows one explanation may carry to the served page ("all of them")


def explanation(home: Home, query: Mapping[str, str]) -> tuple[dict[str, Any], int]:
    """The answer of GET /api/explain and its HTTP status: the explanation, or {error} (400 for an
    unknown figure, period or line, 404 without a warehouse)."""
    from reports import explain as explain_module
    from warehouse.db import connect

    if not home.read_copy.exists():
        return {"error": "no warehouse yet: run a refresh"}, 404
    period = query.get("period") or None
    con = connect(home.read_copy, read_only=True)
    try:
        if "figure" in query:
            return explain_module.explain(con, query["figure"], period, limit=EXPLAIN_ROWS), 200
        statements = ("income_statement", *explain_module.BALANCE_STATEMENTS)
        if query.get("statement") not in statements or not query.get("line") or not period:
            return {"error": f"give figure=KPI, or statement={'|'.join(statements)} with rollup, line and period"}, 400
        return explain_module.explain_statement_line(
            con,
            query.get("rollup") or "account",
            query["line"],
            period,
            limit=EXPLAIN_ROWS,
            statement=query["statement"],
        ), 200
    except explain_module.ExplainError as exc:
        return {"error": str(exc)}, 400
    finally:
        con.close()


TABLE_ROWS = 200_000  # the rows one table may carry to the served page ("all of them")


def page_layout_file(home: Home) -> str | None:
    """The CFO view the latest page was laid out by (the copy the refresh keeps beside it: the user's
    views/cfo.md when it was valid, else the shipped one), so a table's rows come from the section the
    page shows even after views/cfo.md is edited; None (the shipped layout) for a page rendered without it."""
    from reports.views import PAGE_LAYOUT_COPY

    copy = home.reports / PAGE_LAYOUT_COPY
    return str(copy) if copy.is_file() else None


def table(home: Home, query: Mapping[str, str]) -> tuple[dict[str, Any], int]:
    """The answer of GET /api/table and its HTTP status: every row of a table section of the page (of
    one period), read from the readers' copy, or {error} (400 for an unknown table or period, 404
    without a warehouse)."""
    from reports.tables import full_table
    from warehouse.db import connect

    if not home.read_copy.exists():
        return {"error": "no warehouse yet: run a refresh"}, 404
    con = connect(home.read_copy, read_only=True)
    try:
        rows = full_table(con, query.get("section") or "", query.get("period") or None, view=page_layout_file(home))
    except ValueError as exc:
        return {"error": str(exc)}, 400
    finally:
        con.close()
    if len(rows["rows"]) > TABLE_ROWS:
        return {
            "error": f"{len(rows['rows'])} rows: more than the {TABLE_ROWS} one page shows; use closeboard export"
        }, 400
    return rows, 200


def create_app(
    home: Home | str | Path,
    *,
    config: str | Path | None = None,
    max_age_s: float | None = None,
    refresh_command: list[str] | None = None,
    dagster_url: str | None = None,
    allow_hosts: tuple[str, ...] = (),
    dagster_tags: Mapping[str, str] | None = None,
    warm_refresh: bool = False,
) -> "_HostCheck":
    """The served pages' app. With `warm_refresh`, a refresh process is kept ready for the next reload
    (`RefreshJob.prepare`; `closeboard serve` asks for it)."""
    home = home if isinstance(home, Home) else Home.resolve(home)
    allowed_hosts = {*LOOPBACK_HOSTS, *(host_name(h) for h in allow_hosts)}
    reports_dir = home.reports
    tokens = Tokens()
    job = RefreshJob(
        home,
        Path(config) if config else None,
        refresh_command,
        dagster_url=dagster_url or None,
        dagster_tags=dagster_tags,
        warm=warm_refresh,
    )

    def status_file() -> dict[str, Any]:
        try:
            return json.loads((reports_dir / "status.json").read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def page_file(name: str) -> Path | None:
        if not name.endswith((".html", *ASSET_TYPES)):
            return None
        root = reports_dir.resolve()
        try:
            path = (root / name).resolve()
            if root not in path.parents or not path.is_file():
                return None
        except (OSError, ValueError):  # a NUL byte, a name too long: not a page
            return None
        return path

    async def page(request: Request) -> Response:
        name = request.path_params.get("path") or "latest.html"
        path = page_file(name)
        if path is None:
            return Response("not found", status_code=404, media_type="text/plain")
        if path.suffix in ASSET_TYPES:  # an archived page's shared script, style or data
            return Response(
                path.read_bytes(),
                media_type=ASSET_TYPES[path.suffix],
                headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
            )
        html = path.read_text(encoding="utf-8")
        if SERVED_MARKER in html:
            served = {
                "token": tokens.issue(),
                "refresh_url": "/api/refresh",
                "status_url": "/api/status",
                "explain_url": "/api/explain",
                "table_url": "/api/table",
                "max_age_s": max_age_s,
            }
            block = f'<script type="application/json" id="cb-served">{json_for_script(served)}</script>'
            html = html.replace(SERVED_MARKER, block, 1)
        return Response(
            html,
            media_type="text/html; charset=utf-8",
            headers={
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "same-origin",
                "X-Frame-Options": "DENY",
            },
        )

    async def root(request: Request) -> Response:
        return RedirectResponse("/latest.html")

    def same_origin(request: Request) -> bool:
        origin = request.headers.get("origin")
        host = request.headers.get("host")
        if not origin or not host:
            return False
        return origin == f"{request.url.scheme}://{host}"

    async def refresh(request: Request) -> Response:
        if not same_origin(request):
            return JSONResponse({"error": "cross-origin request refused"}, status_code=403)
        if not tokens.valid(request.headers.get("x-closeboard-token")):
            return JSONResponse({"error": "missing or unknown page token: reload the page"}, status_code=403)
        started = await run_in_threadpool(job.start)
        body = {"started": started, "refresh": await run_in_threadpool(job.snapshot)}
        return JSONResponse(body, status_code=202 if started else 409)

    async def explain(request: Request) -> Response:
        return await read_api(request, explanation)

    async def rows(request: Request) -> Response:
        return await read_api(request, table)

    async def read_api(request: Request, answer: Any) -> Response:
        """A read-only API call of a served page: refused (403) without a page token this server issued."""
        if not tokens.valid(request.headers.get("x-closeboard-token")):
            return JSONResponse({"error": "missing or unknown page token: reload the page"}, status_code=403)
        body, code = await run_in_threadpool(answer, home, dict(request.query_params))
        return Response(
            json.dumps(body, ensure_ascii=False, default=str),
            status_code=code,
            media_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    async def status(request: Request) -> Response:
        published = await run_in_threadpool(status_file)
        snapshot = await run_in_threadpool(job.snapshot)
        return JSONResponse(
            {
                "run_id": published.get("run_id"),
                "finished_at": published.get("finished_at"),
                "sources_as_of": published.get("sources_as_of"),
                "refresh": snapshot,
            },
            headers={"Cache-Control": "no-store"},
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(job.prepare)
        yield
        await run_in_threadpool(job.stop)

    app = Starlette(
        routes=[
            Route("/", root),
            Route("/api/refresh", refresh, methods=["POST"]),
            Route("/api/status", status, methods=["GET"]),
            Route("/api/explain", explain, methods=["GET"]),
            Route("/api/table", rows, methods=["GET"]),
            Route("/{path:path}", page, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.job = job
    app.state.tokens = tokens
    return _HostCheck(app, allowed_hosts)


class _HostCheck:
    """ASGI wrapper: answer 421 to a request whose Host is not an allowed name (DNS rebinding)."""

    def __init__(self, app: Starlette, allowed: set[str]) -> None:
        self.app, self.allowed, self.state = app, allowed, app.state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            if host_name(headers.get(b"host", b"").decode("latin-1")) not in self.allowed:
                response = Response(
                    "misdirected request: this server answers only its own host names "
                    "(closeboard serve --allow-host NAME to add one)",
                    status_code=421,
                    media_type="text/plain",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def serve(
    home: Home | str | Path,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    config: str | Path | None = None,
    max_age_s: float | None = None,
    dagster_url: str | None = None,
    allow_hosts: tuple[str, ...] = (),
    dagster_tags: Mapping[str, str] | None = None,
    warm_refresh: bool = True,
) -> None:
    """Serve <home>/reports until interrupted. With `dagster_url` (a running Dagster webserver, e.g.
    `closeboard ui` on the same data home), reloads launch the `refresh` job there, with `dagster_tags`
    (an entity of a group: its partition, so the group's partitioned refresh runs for it)."""
    import uvicorn

    listening = () if host in ("0.0.0.0", "::") else (host,)  # a named interface answers to its own name
    app = create_app(
        home,
        config=config,
        max_age_s=max_age_s,
        dagster_url=dagster_url,
        allow_hosts=(*listening, *allow_hosts),
        dagster_tags=dagster_tags,
        warm_refresh=warm_refresh,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
