"""Alert latency: from a fire's final failed attempt to the message arriving at the receiver, over 200 alerts.

    .venv/bin/python -m bench.alert_latency [--jobs 200] [--burst]

Starts real processes (2 `flask worker`, 1 `flask scheduler`) on a throw-away PostgreSQL database, as
bench.engine_bench does, and a local receiver that plays both the failing target (every GET answers 500) and a
Slack incoming webhook (every POST is timed on arrival). Each job fails once per minute at its own second (with
`--burst`, every job in the same second); its first failure opens an incident and sends one Slack message. The
latency of a job is the arrival of its message minus `completed_at` of its first failed execution (both on this
machine's clock). Prints p50/p95/p99/max; the goal is p99 <= 5 s.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2.extras

from bench.common import pct
from bench.engine_bench import Bench

TITLE = re.compile(r"Job '(bench-\d+)' is failing")


class Receiver:
    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                at = time.time()
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                match = TITLE.fullmatch(body.get("text", ""))
                if match:
                    with outer.lock:
                        outer.arrivals.setdefault(match.group(1), at)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def insert_jobs(bench: Bench, n: int, url: str, burst: bool) -> None:
    """Job k fires every minute at second (start + k) % 60, or all at `start` with burst."""
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
    rows = []
    for k in range(n):
        at = start + timedelta(seconds=0 if burst else k % 60)
        rows.append((str(uuid.uuid4()), f"bench-{k}", f"{at.second} * * * * *", url, bench.user_id, bench.user_id,
                     at))
    with bench.conn.cursor() as cur:
        psycopg2.extras.execute_values(cur, """
            INSERT INTO cron_jobs (id, name, description, cron_expression, timezone, endpoint_url, http_method,
              headers, query_params, is_active, retry_count, timeout_ms, concurrency_policy, misfire_grace_s,
              alert_after_failures, auto_reschedule, owner_id, created_by, next_run_at, status,
              consecutive_failures, created_at, updated_at)
            VALUES %s""", rows, template="(%s, %s, '', %s, 'UTC', %s, 'GET', '{}', '{}', true, 0, 5000, 'allow', 60,"
                                         " 3, 'off', %s, %s, %s, 'PENDING', 0, now(), now())")
        cur.execute("INSERT INTO alert_channels (id, user_id, kind, name, target, config, is_active,"
                    " consecutive_errors, created_at) VALUES (%s, %s, 'slack', 'bench', %s, '{}', true, 0, now())",
                    (str(uuid.uuid4()), bench.user_id, url + "/slack"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--burst", action="store_true", help="every job fails in the same second")
    args = parser.parse_args()
    receiver = Receiver()
    bench = Bench(quick=True)
    try:
        bench.setup()
        insert_jobs(bench, args.jobs, receiver.url, args.burst)
        bench.start_ours({"ALERT_RETRY_BACKOFF_S": "1,5"})
        bench.wait(lambda: len(receiver.arrivals) >= args.jobs, 180, "every alert at the receiver")
        bench.query_exec("UPDATE cron_jobs SET is_active = false, next_run_at = NULL")
        first_failed = dict(bench.query(
            "SELECT j.name, min(e.completed_at) FROM cron_executions e JOIN cron_jobs j ON j.id = e.cron_job_id"
            " WHERE e.status = 'FAILED' GROUP BY j.name"))
        latencies = [receiver.arrivals[name] - first_failed[name].timestamp() for name in receiver.arrivals]
        extra = bench.query("SELECT count(*) FROM alert_deliveries WHERE event = 'job.failing' AND kind = 'slack'"
                            )[0][0] - args.jobs
        stages = bench.query(
            "SELECT extract(epoch FROM d.created_at - e.completed_at), extract(epoch FROM d.sent_at - d.created_at)"
            " FROM alert_deliveries d JOIN cron_executions e ON e.id = (d.payload->'execution'->>'id')::bigint"
            " WHERE d.kind = 'slack' AND d.event = 'job.failing'")
        queued = [float(a) for a, _b in stages]
        sending = [float(b) for _a, b in stages if b is not None]
        print(json.dumps({
            "alerts": len(latencies), "mode": "burst" if args.burst else "spread over a minute",
            "p50_s": round(pct(latencies, 50), 3), "p95_s": round(pct(latencies, 95), 3),
            "p99_s": round(pct(latencies, 99), 3), "max_s": round(max(latencies), 3),
            "duplicate_failing_messages": extra,
            "queued_after_attempt_p99_s": round(pct(queued, 99), 3),
            "sent_after_queued_p99_s": round(pct(sending, 99), 3),
        }, indent=2))
    finally:
        bench.teardown()
        receiver.server.shutdown()


if __name__ == "__main__":
    main()
