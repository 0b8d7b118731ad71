"""This process's CPU seconds, resident memory and open descriptors, read as prometheus_client's process
collector reads them (from /proc), in a form any process can hand to another.

/metrics is served by the web process, but workers and the scheduler serve no HTTP: each process publishes its
own figures with its heartbeat (cronmanager.lib.redis_keys.publish_process_stats) and the scrape relabels them by
process type and instance. Where /proc is missing (not Linux) there is nothing to report.
"""

from __future__ import annotations

from prometheus_client import ProcessCollector

# the collector's sample names, kept as they are so dashboards built for them work
CPU, RSS, FDS, START = ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
                        "process_start_time_seconds")
KEPT = (CPU, RSS, FDS, START)
_collector = ProcessCollector(registry=None)


def snapshot() -> dict[str, float]:
    """The kept samples of this process, right now (empty where /proc cannot be read)."""
    return {s.name: s.value for family in _collector.collect() for s in family.samples if s.name in KEPT}
