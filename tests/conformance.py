"""The official MCP conformance suite (npm ``@modelcontextprotocol/conformance``) and the vendors' own
MCP servers (``VENDOR_PACKAGES``, ``FROM_SOURCE``), installed once.

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
# the vendors' own MCP servers the adapter tests run, unmodified, against local stand-ins of their
# cloud APIs (tests/vendors/); installed beside the suite on the same Node
VENDOR_PACKAGES = {
    "@xeroapi/xero-mcp-server": "0.0.17",
    "@stripe/mcp": "0.3.3",
    "@hubspot/mcp-server": "0.4.0",
}
# vendor servers not published on npm: their source is committed under tests/vendors/<name>/upstream
# (unmodified, with its licence) and built here with npm into <cache>/<name>
REPO = Path(__file__).resolve().parent.parent
FROM_SOURCE = {"quickbooks": REPO / "tests" / "vendors" / "quickbooks" / "upstream"}


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


def package_dir(package: str, root: Path | None = None) -> Path:
    """Where an installed npm package lives (e.g. ``package_dir("@stripe/mcp") / "dist"``)."""
    return (root or cache_dir()) / "node_modules" / package


def built_dir(name: str, root: Path | None = None) -> Path:
    """Where a vendor server built from committed source (FROM_SOURCE) lives."""
    return (root or cache_dir()) / "built" / name


def _pinned() -> dict[str, str]:
    return {SUITE: SUITE_VERSION, **VENDOR_PACKAGES}


def _installed(root: Path) -> bool:
    node = bin_dir(root) / "node"
    if not node.exists():
        return False
    try:
        for package, version in _pinned().items():
            manifest = package_dir(package, root) / "package.json"
            if not manifest.exists() or json.loads(manifest.read_text(encoding="utf-8")).get("version") != version:
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
        _build_from_source(root, timeout=timeout)
        return bin_dir(root)
    npm = shutil.which("npm")
    if npm is None:
        raise Unavailable("npm is not installed (apt-get install -y npm)")
    probe = subprocess.run([npm, "view", NODE_SPEC, "version", "--json"], capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        raise Unavailable(f"the npm registry is not reachable: {(probe.stderr or probe.stdout).strip()[-400:]}")
    root.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(root),
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            NODE_SPEC,
            *(f"{p}@{v}" for p, v in _pinned().items()),
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0 or not _installed(root):
        raise RuntimeError(
            f"npm install of {NODE_SPEC} and {sorted(_pinned())} into {root} failed "
            f"(exit {done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}"
        )
    _build_from_source(root, timeout=timeout)
    return bin_dir(root)


def _source_digest(source: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(p for p in source.rglob("*") if p.is_file() and "node_modules" not in p.parts):
        digest.update(str(path.relative_to(source)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _build_from_source(root: Path, *, timeout: float) -> None:
    """Copy each committed vendor source to <root>/built/<name>, `npm install` and `npm run build` it on
    Node 22; skipped when the copy is already built from the same source."""
    for name, source in FROM_SOURCE.items():
        if not (source / "package.json").exists():
            continue
        target = built_dir(name, root)
        stamp = target / ".closeboard-source-sha256"
        digest = _source_digest(source)
        if stamp.exists() and stamp.read_text() == digest:
            continue
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("node_modules"))
        env = {**os.environ, "PATH": f"{bin_dir(root)}{os.pathsep}{os.environ.get('PATH', '')}"}
        npm = shutil.which("npm") or "npm"
        for step in ([npm, "install", "--no-audit", "--no-fund", "--loglevel=error"], [npm, "run", "build"]):
            done = subprocess.run(step, cwd=target, env=env, capture_output=True, text=True, timeout=timeout)
            if done.returncode != 0:
                raise RuntimeError(
                    f"building the {name} server ({' '.join(step[1:])}) in {target} failed "
                    f"(exit {done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}"
                )
        stamp.write_text(digest)


def ensure() -> Path:
    """`install()` for tests: skips the calling test when the suite cannot be installed here."""
    import pytest

    try:
        return install()
    except Unavailable as exc:
        pytest.skip(f"the npm registry tools (conformance suite, vendor servers) are unavailable: {exc}")


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


def run_scenario(
    kind: str,
    scenario: str,
    *,
    url: str | None = None,
    command: str | None = None,
    timeout: float = 120,
    extra: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> Result:
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
            [*args, "-o", out],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={
                **os.environ,
                "PATH": f"{bins}{os.pathsep}{os.environ.get('PATH', '')}",
                "NO_COLOR": "1",
                **(env or {}),
            },
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
            print(f"warning: MCP conformance suite not installed ({exc}); its tests will be skipped", file=sys.stderr)
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
