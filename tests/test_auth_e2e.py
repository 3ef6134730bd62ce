"""Sign in once, end to end: the demo home's bank connector pointed at the bundled bank server with
`--oauth` (its built-in authorization server, on loopback), driven through the `closeboard` CLI.

`closeboard auth login bank --no-browser` refuses a forged redirect and accepts the pasted one; a run
in a new process (stdin closed) reuses the token; later runs (in this process, with no input, reading
the token file as any run does) refresh it once after it expired, and fail with the `auth login`
instruction, keeping the previous page, when the refresh is rejected. Afterwards no access
token, refresh token, client secret or Authorization value appears in DuckDB, the Dagster storage,
connector_calls, the page or the CLI output. (Sign-in before any token, pre-registered clients and
client credentials: tests/connectors/test_auth.py.)"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
import yaml

from tests.conftest import FAST_RETRIES, REPO, cli_env, cli_in_process, copy_home, free_port, read, stop_process
from tests.servers import start_oauth_bank

pytestmark = pytest.mark.slow  # the CLI as subprocesses against the bank server over HTTP with OAuth


def bank_state(home: Path) -> tuple:
    page = hashlib.sha256((home / "reports" / "latest.html").read_bytes()).hexdigest()
    return page, read(home, "select count(*), max(booked_date) from bank_transactions")[0]


def set_redirect(home: Path) -> None:
    """The bank connector's loopback redirect URI on a port that is free right now."""
    config = yaml.safe_load((home / "closeboard.yaml").read_text())
    config["connectors"]["bank"]["auth"]["redirect_uri"] = f"http://127.0.0.1:{free_port()}/callback"
    (home / "closeboard.yaml").write_text(yaml.safe_dump(config))


def login_via_cli(home: Path, outputs: list[str]) -> subprocess.CompletedProcess[str]:
    """`login_once`, on another redirect port when the listener could not bind the one picked."""
    for attempt in range(3):
        set_redirect(home)  # the port is picked right before the CLI binds it
        done = login_once(home, outputs)
        if done is not None or attempt == 2:
            assert done is not None, "the loopback listener could not bind three free ports"
            return done
    raise AssertionError("unreachable")  # pragma: no cover


def login_once(home: Path, outputs: list[str]) -> subprocess.CompletedProcess[str] | None:
    """`closeboard auth login bank --no-browser`, the person simulated: the printed address is opened
    (the server consents at once), a forged redirect hits the listener, the real one is pasted.
    None when the listener could not bind the redirect URI's port (taken since it was picked)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "--home",
            str(home),
            "auth",
            "login",
            "bank",
            "--no-browser",
            "--timeout",
            "60",
        ],
        cwd=REPO,
        env=cli_env(home, FAST_RETRIES),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        seen: list[str] = []
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("cannot listen on"):
                proc.kill()
                proc.communicate(timeout=30)
                return None
            if line.startswith("http"):
                break
        url = seen[-1].strip()
        assert url.startswith("http"), seen
        location = httpx2.get(url).headers["location"]
        forged = re.sub(r"state=[^&]+", "state=forged", location)
        assert httpx2.get(forged).status_code == 400  # the listener refuses a wrong state ...
        proc.stdin.write(location + "\n")  # ... and the pasted redirect URL completes the sign-in
        proc.stdin.flush()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    outputs.extend(["".join(seen), out, err])
    return subprocess.CompletedProcess(proc.args, proc.returncode, "".join(seen) + out, err)


def run(home: Path, outputs: list[str], *args: str, in_process: bool = False):  # noqa: ANN201
    """A CLI run with stdin closed (nothing may wait for input), in a new process or, `in_process`,
    in this one (click's runner: its input is empty); its output with lines unwrapped."""
    if in_process:
        proc = cli_in_process(*args, home=home, env=FAST_RETRIES, check=False)
    else:
        proc = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "--home", str(home), *args],
            cwd=REPO,
            env=cli_env(home, FAST_RETRIES),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=180,
        )
    outputs.extend([proc.stdout, proc.stderr])
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, " ".join(proc.stdout.split()), " ".join(proc.stderr.split())
    )


@pytest.fixture
def oauth_home(demo_home: Path, tmp_path: Path):  # noqa: ANN201
    home = copy_home(demo_home, tmp_path / "home")
    proc, base = start_oauth_bank(home / "demo")
    config = yaml.safe_load((home / "closeboard.yaml").read_text())
    config["connectors"]["bank"]["server"] = {"url": f"{base}/mcp"}
    config["connectors"]["bank"]["auth"] = {"kind": "oauth", "scopes": ["bank:read"]}  # redirect: at login
    config["connectors"]["bank"]["client"] = {"retries": 1, "backoff_s": 0.05}
    (home / "closeboard.yaml").write_text(yaml.safe_dump(config))
    yield home, base
    stop_process(proc)


def counters(base: str) -> dict[str, int]:
    return httpx2.get(f"{base}/_test/counters").json()["counters"]


def test_sign_in_once_then_every_run_reads_without_a_person(
    oauth_home: tuple[Path, str], capfd: pytest.CaptureFixture[str]
) -> None:
    home, base = oauth_home
    outputs: list[str] = []
    secrets: set[str] = set()
    token_file = home / "secrets" / "auth" / "bank.json"

    def remember() -> None:
        data = json.loads(token_file.read_text())
        secrets.update(
            v
            for v in (
                data["tokens"].get("access_token"),
                data["tokens"].get("refresh_token"),
                data.get("client_info", {}).get("client_secret"),
            )
            if v
        )

    login = login_via_cli(home, outputs)
    assert login.returncode == 0, login.stderr
    assert "refused a callback: the state does not match" in login.stdout and "✓ bank: oauth, signed in" in login.stdout
    assert (
        oct(token_file.stat().st_mode & 0o777) == "0o600" and oct(token_file.parent.stat().st_mode & 0o777) == "0o700"
    )
    remember()
    assert counters(base)["authorize"] == 1

    # a run in a new process reuses the stored token
    assert run(home, outputs, "refresh").returncode == 0
    assert counters(base)["authorize"] == 1 and counters(base).get("refresh", 0) == 0
    # a line appended at the server arrives through the OAuth connection
    with (home / "demo" / "bank" / "transactions.csv").open("a", encoding="utf-8") as f:
        f.write("TXN-OAUTH-1,BA-001,2026-06-14,-12.34,OAuth probe,\n")

    # after the access token expired: one refresh, no new sign-in (the later runs in this process: the
    # token comes from the file all the same; what they write to the terminal is collected below)
    httpx2.post(f"{base}/_test/expire")
    data = json.loads(token_file.read_text())
    token_file.write_text(json.dumps(dict(data, expires_at=time.time() - 1)))
    assert run(home, outputs, "refresh", in_process=True).returncode == 0
    assert counters(base)["authorize"] == 1 and counters(base)["refresh"] == 1
    assert read(home, "select count(*) from bank_transactions where txn_id = 'TXN-OAUTH-1'") == [(1,)]
    remember()
    good = bank_state(home)

    # the authorization server rejects the refresh: the run fails with the instruction, nothing waits
    httpx2.post(f"{base}/_test/revoke_refresh")
    httpx2.post(f"{base}/_test/expire")
    token_file.write_text(json.dumps(dict(json.loads(token_file.read_text()), expires_at=time.time() - 1)))
    proc = run(home, outputs, "refresh", in_process=True)
    assert proc.returncode == 1 and "source 'bank'" in proc.stderr
    assert "run `closeboard auth login bank`" in proc.stderr
    assert bank_state(home) == good
    assert counters(base)["authorize"] == 1

    status = run(home, outputs, "auth", "status", in_process=True)
    assert "bank: oauth, not signed in: run `closeboard auth login bank`" in status.stdout

    assert read(home, "select count(*) from connector_calls where source = 'bank' and status = 'ok'")[0][0] > 0

    # no secret anywhere a person or another program can read (nor in what the in-process runs'
    # loggers wrote to this process's terminal)
    outputs.extend(capfd.readouterr())
    assert len(secrets) >= 4  # two access tokens, two refresh tokens, the registered client's secret
    places = [
        home / "warehouse.duckdb",
        home / "warehouse.read.duckdb",
        *[p for p in (home / "dagster").rglob("*") if p.is_file()],
        *[p for p in (home / "reports").rglob("*") if p.is_file()],
    ]
    assert any(p.suffix == ".html" for p in places) and any("dagster" in p.parts for p in places)
    for secret in secrets:
        needle = secret.encode()
        leaks = [str(p) for p in places if needle in p.read_bytes()]
        leaks += [f"output {i}" for i, text in enumerate(outputs) if secret in text]
        assert not leaks, f"a secret ({secret[:4]}...) appears in {leaks}"
    tables = [t for (t,) in read(home, "select table_name from information_schema.tables where table_schema = 'main'")]
    for table in tables:
        rows = read(home, f'select t::varchar from "{table}" as t')
        text = "\n".join(r[0] for r in rows)
        assert not [s for s in secrets if s in text], table
