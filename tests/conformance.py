"""The official MCP conformance suite (npm ``@modelcontextprotocol/conformance``), installed once.

The suite needs Node 22; the npm registry serves Node itself as the package ``node@22``, so both
are installed with the system's npm into one cache directory (no global install, no nvm):

    ~/.cache/closeboard/conformance/node_modules/.bin/{node,conformance}

(``$CLOSEBOARD_CONFORMANCE_DIR`` overrides the directory). ``install()`` is idempotent: it does
nothing when the pinned versions are already there. ``.ci/run`` calls ``python3 tests/conformance.py
install`` up front; tests call ``ensure()`` from a session fixture, which skips only when npm is
absent or the registry cannot be reached. Stdlib only, so it runs before ``uv sync``.

    python3 tests/conformance.py install          # exits 0 with a warning when the registry is unreachable
    python3 tests/conformance.py server URL SCENARIO...

From Python (server or client scenarios)::

    from tests.conformance import ensure, run_scenario
    bin_dir = ensure()                            # pytest.skip when the registry is unreachable
    result = run_scenario("server", "ping", url="http://127.0.0.1:9101/mcp")
    assert result.ok, result.output
    # client scenarios: run_scenario("client", "auth/metadata-default", command="python -m ...")
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

SUITE = "@modelcontextprotocol/conformance"
SUITE_VERSION = "0.1.16"
NODE = "node"
NODE_MAJOR = "22"
NODE_SPEC = f"{NODE}@{NODE_MAJOR}"


class Unavailable(RuntimeError):
    """npm is missing or the registry cannot be reached: the suite cannot be installed here."""


def cache_dir() -> Path:
    explicit = os.environ.get("CLOSEBOARD_CONFORMANCE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "closeboard" / "conformance"


def bin_dir(root: Path | None = None) -> Path:
    return (root or cache_dir()) / "node_modules" / ".bin"


def _installed(root: Path) -> bool:
    package = root / "node_modules" / SUITE / "package.json"
    node = bin_dir(root) / "node"
    if not package.exists() or not node.exists():
        return False
    try:
        if json.loads(package.read_text(encoding="utf-8")).get("version") != SUITE_VERSION:
            return False
        version = subprocess.run([str(node), "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, ValueError, subprocess.SubprocessError):
        return False
    return version.strip().startswith(f"v{NODE_MAJOR}.")


def install(root: Path | None = None, *, timeout: float = 600) -> Path:
    """Install Node 22 and the suite into `root` (default `cache_dir()`) unless already there;
    returns the bin directory. Raises Unavailable when npm is missing or the registry unreachable."""
    root = root or cache_dir()
    if _installed(root):
        return bin_dir(root)
    npm = shutil.which("npm")
    if npm is None:
        raise Unavailable("npm is not installed (apt-get install -y npm)")
    probe = subprocess.run([npm, "view", NODE_SPEC, "version", "--json"], capture_output=True, text=True,
                           timeout=120)
    if probe.returncode != 0:
        raise Unavailable(f"the npm registry is not reachable: {(probe.stderr or probe.stdout).strip()[-400:]}")
    root.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [npm, "install", "--prefix", str(root), "--no-audit", "--no-fund", "--loglevel=error",
         NODE_SPEC, f"{SUITE}@{SUITE_VERSION}"],
        capture_output=True, text=True, timeout=timeout,
    )
    if done.returncode != 0 or not _installed(root):
        raise RuntimeError(f"npm install of {NODE_SPEC} and {SUITE}@{SUITE_VERSION} into {root} failed "
                           f"(exit {done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}")
    return bin_dir(root)


def ensure() -> Path:
    """`install()` for tests: skips the calling test when the suite cannot be installed here."""
    import pytest

    try:
        return install()
    except Unavailable as exc:
        pytest.skip(f"MCP conformance suite unavailable: {exc}")


@dataclass
class Result:
    scenario: str
    returncode: int
    output: str
    checks: list[dict] = field(default_factory=list)

    @property
    def failed(self) -> list[dict]:
        return [c for c in self.checks if c.get("status") not in ("SUCCESS", "INFO")]

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and bool(self.checks) and not self.failed


def run_scenario(kind: str, scenario: str, *, url: str | None = None, command: str | None = None,
                 timeout: float = 120, extra: list[str] | None = None, env: dict[str, str] | None = None) -> Result:
    """Run one scenario: `kind` "server" (against `url`) or "client" (the suite starts `command`)."""
    bins = bin_dir()
    args = [str(bins / "node"), str(bins.parent / SUITE / "dist" / "index.js"), kind, "--scenario", scenario]
    if url is not None:
        args += ["--url", url]
    if command is not None:
        args += ["--command", command]
    args += extra or []
    with tempfile.TemporaryDirectory(prefix="conformance-") as out:
        done = subprocess.run(
            [*args, "-o", out], capture_output=True, text=True, timeout=timeout,
            env={**os.environ, "PATH": f"{bins}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1",
                 **(env or {})},
        )
        checks: list[dict] = []
        for path in sorted(Path(out).rglob("checks.json")):
            checks += json.loads(path.read_text(encoding="utf-8"))
    return Result(scenario, done.returncode, done.stdout + done.stderr, checks)


def main(argv: list[str]) -> int:
    if argv[:1] == ["install"]:
        try:
            print(f"MCP conformance suite ready in {install().parent.parent}")
        except Unavailable as exc:
            print(f"warning: MCP conformance suite not installed ({exc}); its tests will be skipped",
                  file=sys.stderr)
        return 0
    if len(argv) >= 3 and argv[0] == "server":
        install()
        results = [run_scenario("server", s, url=argv[1]) for s in argv[2:]]
        for r in results:
            print(f"{r.scenario}: {'ok' if r.ok else 'FAILED'}")
            if not r.ok:
                print(r.output)
        return 0 if all(r.ok for r in results) else 1
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
