"""Benchmark target: answers after ?ms= milliseconds and counts duplicate fires by header. Run as its own process."""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

seen: set[tuple[str, str, str]] = set()
stats = {"requests": 0, "duplicates": 0}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        parsed = urlparse(self.path)
        if parsed.path == "/__stats":
            with lock:
                body = json.dumps(stats).encode()
        else:
            key = (self.headers.get("X-CronManager-Job", ""), self.headers.get("X-CronManager-Scheduled-For", ""),
                   self.headers.get("X-CronManager-Attempt", ""))
            with lock:
                stats["requests"] += 1
                if key[0]:
                    if key in seen:
                        stats["duplicates"] += 1
                    seen.add(key)
            delay = int(parse_qs(parsed.query).get("ms", ["0"])[0])
            if delay:
                time.sleep(delay / 1000)
            body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 4096


if __name__ == "__main__":
    server = Server(("127.0.0.1", int(sys.argv[1])), Handler)
    print("ready", flush=True)
    server.serve_forever()
