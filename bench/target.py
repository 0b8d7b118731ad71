"""Benchmark target: answers after ?ms= milliseconds and counts duplicate fires by header.

asyncio, so thousands of slow requests in flight cost this process little CPU: on a 2-core machine the target
must not eat the cores of the system under test (in production the target is someone else's server).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import datetime
from urllib.parse import parse_qs, urlparse

seen: set[tuple[str, str, str]] = set()
stats = {"requests": 0, "duplicates": 0}
lags: dict[str, list[float]] = {}  # path -> arrival minus X-CronManager-Scheduled-For, seconds (first attempts)


def percentile(values: list[float], p: float) -> float | None:
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))] if values else None


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            length = int(headers.get("content-length") or 0)
            if length:
                await reader.readexactly(length)
            parsed = urlparse(target)
            if parsed.path == "/__stats":
                body = json.dumps(stats).encode()
            elif parsed.path == "/__lags":
                values = sorted(lags.get(parse_qs(parsed.query)["path"][0], []))
                body = json.dumps({"n": len(values), "p50": percentile(values, 50), "p99": percentile(values, 99),
                                   "max": percentile(values, 100)}).encode()
            else:
                key = (headers.get("x-cronmanager-job", ""), headers.get("x-cronmanager-scheduled-for", ""),
                       headers.get("x-cronmanager-attempt", ""))
                stats["requests"] += 1
                if key[1] and key[2] == "1":
                    scheduled = datetime.fromisoformat(key[1].replace("Z", "+00:00")).timestamp()
                    lags.setdefault(parsed.path, []).append(time.time() - scheduled)
                if key[0]:
                    if key in seen:
                        stats["duplicates"] += 1
                    seen.add(key)
                delay = int(parse_qs(parsed.query).get("ms", ["0"])[0])
                if delay:
                    await asyncio.sleep(delay / 1000)
                body = b"ok"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            await writer.drain()
            if headers.get("connection", "").lower() == "close" or method == "":
                break
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
