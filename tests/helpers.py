"""Helpers shared by test modules: serving the test app on a real socket, running the schemathesis CLI at it."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def served(app) -> Iterator[str]:  # noqa: ANN001
    """The app on 127.0.0.1 (threaded werkzeug), for clients that speak real HTTP; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


def schemathesis_run(base_url: str, token: str, report_dir: Path, *extra: str,
                     timeout: float = 600) -> subprocess.CompletedProcess:
    """`schemathesis run` exactly as from outside: every check, every phase, the token in a header."""
    command = [str(Path(sys.executable).parent / "schemathesis"), "run", f"{base_url}/api/v1/openapi.json",
               "-c", "all", "--phases", "examples,coverage,fuzzing,stateful", "-H", f"Authorization: Bearer {token}",
               "--report", "har", "--report-dir", str(report_dir), "--no-color", *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
