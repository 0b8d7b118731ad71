"""A fork server for the `flask <command>` processes that end-to-end tests start.

Each such process used to pay for a fresh interpreter importing Flask, SQLAlchemy, pydantic and every module of
the app (about 3 s of CPU); a slow phase starts a hundred of them. This server imports those modules once, then
forks a child per request that runs `flask --app wsgi <command>` through Flask's own command-line entry point with
the test's environment, working directory and log file, so `create_app` and everything after it run in the child
exactly as in a fresh process. It never calls `create_app` itself: that registers listeners and a tracer provider
per call, which a child must do once, for itself.

Protocol, one Unix-socket connection per child: the client sends one JSON line {argv, env, cwd, log}; the server
answers `pid N`, and later `exit CODE` (as `subprocess.Popen.returncode` spells it) when the child has ended.
The server exits, terminating its children, when its standard input closes (its pytest worker is gone).
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import pkgutil
import selectors
import signal
import socket
import sys
import threading
import traceback

import cronmanager

# What create_app imports inside its functions rather than at a module's top (alembic alone is ~0.2 s a child);
# one missing from this list only costs each child its import.
LAZY_IMPORTS = ("flask.cli", "flask_migrate", "flask_cors", "flask_talisman", "rq_dashboard", "dotenv",
                "redis_sentinel_url")


def _preload() -> None:
    """Every module of the package (create_app's and those commands import lazily), with what they import."""
    for module in pkgutil.walk_packages(cronmanager.__path__, "cronmanager."):
        try:
            importlib.import_module(module.name)
        except Exception:  # an optional module: the child imports it (or fails on it) itself
            pass
    for name in LAZY_IMPORTS:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def _run_child(request: dict, server_fds: list[int]) -> None:
    """In the forked child: become `flask <argv>` with the request's environment, then exit as an interpreter
    does (non-daemon threads joined, atexit handlers run, streams flushed)."""
    code = 1
    try:
        for fd in server_fds:  # the listener, selector and other children's connections
            os.close(fd)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        for fd, path in ((1, request["log"]), (2, request.get("err") or request["log"])):
            out = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            os.dup2(out, fd)
            os.close(out)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        sys.argv = ["flask", *request["argv"]]
        from flask.cli import main

        try:
            main()
            code = 0
        except SystemExit as done:
            if done.code is None or isinstance(done.code, int):
                code = done.code or 0
            else:
                print(done.code, file=sys.stderr)
        threading._shutdown()  # type: ignore[attr-defined]  # what interpreter shutdown calls first
        atexit._run_exitfuncs()
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)


def serve(path: str) -> None:
    _preload()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(sys.stdin, selectors.EVENT_READ)
    children: dict[int, socket.socket] = {}
    print("ready", flush=True)
    try:
        while True:
            for key, _ in selector.select(timeout=0.05):
                if key.fileobj is sys.stdin:
                    if not sys.stdin.buffer.read1(4096):
                        return
                    continue
                conn, _ = listener.accept()
                request = json.loads(conn.makefile("rb").readline())
                pid = os.fork()
                if pid == 0:
                    _run_child(request, [listener.fileno(), selector.fileno(), conn.fileno(),
                                         *(c.fileno() for c in children.values())])
                children[pid] = conn
                conn.sendall(f"pid {pid}\n".encode())
            while children:
                pid, status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
                conn = children.pop(pid, None)
                if conn is not None:
                    try:
                        conn.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
                    except OSError:
                        pass
                    conn.close()
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


if __name__ == "__main__":
    serve(sys.argv[1])
