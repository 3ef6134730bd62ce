"""The bundled servers' fork server: what every bundled server imports, imported once.

A bundled server (`python -m connectors.servers.<name> ...`) spends ~0.6 s of CPU importing the MCP
SDK (its ~550 pydantic models) and pyarrow before it reads a file, and a refresh starts its four at
once: ~2.4 s of CPU on a two-core machine while the run itself starts, so its first source step
waits for its server. This process imports them once and forks each server from itself when asked
(connectors/forking.py, for connectors/prestart.py's `ServerPool`): the server then runs exactly as
`python -m connectors.servers.<name> ARGS` would, with the environment and working folder asked for,
its stdin, stdout and stderr the pipes and file it is handed, in a session (and process group) of its
own; only the imports are shared, copy-on-write.

    python -m connectors.servers.forkserver FD

FD is one end of a Unix SOCK_SEQPACKET socket pair. Each request is one message, a JSON object
{"id", "module", "args", "env", "cwd"} with three file descriptors (the server's stdin, stdout and
stderr); the answer {"id", "pid"} (or {"id", "error"}) follows at once. When a forked server exits,
{"exit": pid, "status": code} is sent (code as `subprocess.Popen.returncode`: negative for a signal):
its parent is this process, which reaps it. The fork server ends when the socket is closed and its
last server has exited. It never starts a thread: a fork copies only the thread that forks.
"""

from __future__ import annotations

import json
import os
import runpy
import select
import signal
import socket
import sys
import traceback
from typing import Any, NoReturn

import setproctitle

MODULE_PREFIX = "connectors.servers."
MAX_MESSAGE = 1 << 20  # a request: a module, its arguments and an environment


def preload() -> None:
    """What every bundled server imports before it reads a file, that starts no thread: the MCP SDK (most
    of a server's start). Not pyarrow (~0.15 s more): its import starts threads (its allocator's), and a
    fork copies only the thread that forks, so a lock one of them held would stay held in the server."""
    import mcp.server.mcpserver  # noqa: F401
    import mcp.server.stdio  # noqa: F401
    import pydantic  # noqa: F401


def threads() -> int:
    """This process's threads, as the kernel counts them (native ones included)."""
    return len(os.listdir("/proc/self/task"))


def become(request: dict[str, Any], fds: list[int], inherited: set[int]) -> NoReturn:
    """In the forked child: run `request`'s server module as `python -m` would, then exit."""
    code: object = 1
    try:
        os.setsid()  # a session and process group of its own, as the stdio client starts servers
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in (set(fds) | inherited) - {0, 1, 2}:
            os.close(fd)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.path[0] = request["cwd"]  # `python -m` puts the working folder first
        sys.argv = [request["module"], *request["args"]]
        # `ps` shows the server's command line, not this one's
        setproctitle.setproctitle(" ".join([sys.executable, "-m", request["module"], *request["args"]]))
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = exc.code
    except BaseException:
        traceback.print_exc()
    from connectors.plain import exit_without_teardown

    exit_without_teardown(code)


def _send(sock: socket.socket, message: dict[str, Any]) -> bool:
    try:
        sock.send(json.dumps(message).encode())
        return True
    except OSError:  # the pool is gone: nobody is left to tell
        return False


def serve(sock: socket.socket) -> None:
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a child's exit wakes the select below
    listening, children = True, 0
    while listening or children:
        readable, _, _ = select.select([sock, wake_r] if listening else [wake_r], [], [])
        if wake_r in readable:
            os.read(wake_r, 4096)
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            children -= 1
            listening = _send(sock, {"exit": pid, "status": os.waitstatus_to_exitcode(status)}) and listening
        if sock not in readable:
            continue
        try:
            data, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 3)
        except OSError:
            data, fds = b"", []
        if not data:
            listening = False
            for fd in fds:
                os.close(fd)
            continue
        request = json.loads(data)
        if len(fds) != 3 or not str(request.get("module", "")).startswith(MODULE_PREFIX):
            for fd in fds:
                os.close(fd)
            listening = _send(sock, {"id": request.get("id"), "error": "not a bundled server request"}) and listening
            continue
        try:
            pid = os.fork()
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            listening = _send(sock, {"id": request["id"], "error": f"fork failed: {exc}"}) and listening
            continue
        if pid == 0:
            become(request, fds, {sock.fileno(), wake_r, wake_w})
        for fd in fds:
            os.close(fd)
        children += 1
        listening = _send(sock, {"id": request["id"], "pid": pid}) and listening


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    sock = socket.socket(fileno=int(args[0]))
    # set up while the environment is still the one the process started with (the title is written
    # over the command line and, past its end, the environment, which setproctitle moves first)
    setproctitle.setproctitle(setproctitle.getproctitle())
    preload()
    if threads() != 1:  # forking now could leave a server waiting forever on a lock: refuse, servers start by command
        print(f"fork server: {threads()} threads after the imports, so no server is forked", file=sys.stderr)
        sys.exit(1)
    serve(sock)


if __name__ == "__main__":
    main()
