"""Served mode: the dashboard over HTTP on this machine, with a reload control that refreshes.

`closeboard serve` runs `serve(home)`: starlette + uvicorn on 127.0.0.1 by default.
- GET /, /latest.html, /history.html and archived pages (any .html under <home>/reports): the file
  as rendered, with a served-mode block injected into pages that carry the marker: a fresh token
  for this page view, the API paths and the max age.
- POST /api/refresh: starts `closeboard refresh` as a subprocess (never importing `pipelines`; the
  warehouse lock makes it wait for, or fail beside, any other run). Refused (403) without a token
  this server issued, or when the request's Origin is not this server's own origin.
- GET /api/status: the published run (reports/status.json) and the refresh job's state and last
  progress line, so a page can tell that newer data exists and follow a refresh it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from reports.render import SERVED_MARKER, json_for_script
from warehouse.home import Home

REPO_ROOT = Path(__file__).resolve().parent.parent
MAX_TOKENS = 1000
TOKEN_TTL_S = 24 * 3600


class RefreshJob:
    """At most one `closeboard refresh` subprocess at a time; its output goes to a log file."""

    def __init__(self, home: Home, config: Path | None, command: list[str] | None = None) -> None:
        self.home = home
        self.config = config
        self.command = command
        self._lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None
        self.state = "idle"
        self.started_at: str | None = None
        self.finished_at: str | None = None
        self.returncode: int | None = None
        self.log_path = home.root / "serve" / "refresh.log"

    def _command(self) -> list[str]:
        if self.command:
            return list(self.command)
        cmd = [sys.executable, "-m", "pipelines.cli", "--home", str(self.home.root)]
        if self.config:
            cmd += ["--config", str(self.config)]
        return cmd + ["refresh"]

    def start(self) -> bool:
        """Start a refresh unless one runs; False when one was already running."""
        with self._lock:
            self._poll()
            if self.state == "running":
                return False
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            log = self.log_path.open("wb")
            env = {**os.environ, "CLOSEBOARD_HOME": str(self.home.root)}
            self.proc = subprocess.Popen(
                self._command(), cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
            log.close()
            self.state = "running"
            self.started_at = _now()
            self.finished_at = None
            self.returncode = None
            return True

    def _poll(self) -> None:
        if self.proc is not None and self.state == "running":
            code = self.proc.poll()
            if code is not None:
                self.returncode = code
                self.state = "succeeded" if code == 0 else "failed"
                self.finished_at = _now()

    def _log_lines(self) -> list[str]:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        return [line.strip() for line in text.replace("\r", "\n").splitlines() if line.strip()]

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            self._poll()
            lines = self._log_lines() if self.state != "idle" else []
            info: dict[str, Any] = {
                "state": self.state, "started_at": self.started_at, "finished_at": self.finished_at,
                "returncode": self.returncode, "progress": lines[-1] if lines else None,
            }
            if self.state == "failed":
                errors = [line for line in lines if "✗" in line or "failed" in line]
                info["error"] = errors[-1] if errors else (lines[-1] if lines else "refresh failed")
            return info

    def stop(self) -> None:
        with self._lock:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Tokens:
    """Tokens issued into served pages; a refresh request must carry one (bounded, expiring)."""

    def __init__(self) -> None:
        self._issued: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def issue(self) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._issued[token] = time.monotonic()
            while len(self._issued) > MAX_TOKENS:
                self._issued.popitem(last=False)
        return token

    def valid(self, token: str | None) -> bool:
        if not token:
            return False
        with self._lock:
            issued = self._issued.get(token)
            return issued is not None and time.monotonic() - issued < TOKEN_TTL_S


def create_app(home: Home | str | Path, *, config: str | Path | None = None, max_age_s: float | None = None,
               refresh_command: list[str] | None = None) -> Starlette:
    home = home if isinstance(home, Home) else Home.resolve(home)
    reports_dir = home.reports
    tokens = Tokens()
    job = RefreshJob(home, Path(config) if config else None, refresh_command)

    def status_file() -> dict[str, Any]:
        try:
            return json.loads((reports_dir / "status.json").read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def page_file(name: str) -> Path | None:
        if not name.endswith(".html"):
            return None
        root = reports_dir.resolve()
        path = (root / name).resolve()
        if root not in path.parents or not path.is_file():
            return None
        return path

    async def page(request: Request) -> Response:
        name = request.path_params.get("path") or "latest.html"
        path = page_file(name)
        if path is None:
            return Response("not found", status_code=404, media_type="text/plain")
        html = path.read_text(encoding="utf-8")
        if SERVED_MARKER in html:
            served = {
                "token": tokens.issue(),
                "refresh_url": "/api/refresh",
                "status_url": "/api/status",
                "max_age_s": max_age_s,
            }
            block = f'<script type="application/json" id="cb-served">{json_for_script(served)}</script>'
            html = html.replace(SERVED_MARKER, block, 1)
        return Response(html, media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                                 "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"})

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
        started = job.start()
        body = {"started": started, "refresh": job.snapshot()}
        return JSONResponse(body, status_code=202 if started else 409)

    async def status(request: Request) -> Response:
        published = status_file()
        return JSONResponse(
            {
                "run_id": published.get("run_id"),
                "finished_at": published.get("finished_at"),
                "sources_as_of": published.get("sources_as_of"),
                "refresh": job.snapshot(),
            },
            headers={"Cache-Control": "no-store"},
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        job.stop()

    app = Starlette(
        routes=[
            Route("/", root),
            Route("/api/refresh", refresh, methods=["POST"]),
            Route("/api/status", status, methods=["GET"]),
            Route("/{path:path}", page, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.job = job
    app.state.tokens = tokens
    return app


def serve(home: Home | str | Path, host: str = "127.0.0.1", port: int = 8765, *, config: str | Path | None = None,
          max_age_s: float | None = None) -> None:
    """Serve <home>/reports until interrupted."""
    import uvicorn

    app = create_app(home, config=config, max_age_s=max_age_s)
    uvicorn.run(app, host=host, port=port, log_level="warning")
