"""Benchmark OTLP/HTTP receiver: accepts trace exports, decodes them, counts spans (the tracing-on burst run).

A separate process, like a collector next to the service; it answers 200 to every export so the exporter's
cost is measured, not a back-end's.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

stats = {"exports": 0, "spans": 0, "bytes": 0}
lock = threading.Lock()
RESPONSE = ExportTraceServiceResponse().SerializeToString()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        request = ExportTraceServiceRequest.FromString(body)
        spans = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
        with lock:
            stats["exports"] += 1
            stats["spans"] += spans
            stats["bytes"] += len(body)
        self._send(RESPONSE, "application/x-protobuf")

    def do_GET(self) -> None:
        with lock:
            self._send(json.dumps(stats).encode(), "application/json")

    def _send(self, payload: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()
