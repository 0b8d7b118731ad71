"""cronmanager.rq_namespace against RQ's own source: every key literal in RQ and rq-scheduler is accounted for,
and every key the namespaced classes build starts with the prefix. No Redis server is needed: only key names are
built (tests/e2e/test_redis_namespace.py checks a running stack)."""

from __future__ import annotations

import ast
from pathlib import Path

import rq
import rq_scheduler
from redis import Redis
from rq import Queue, SimpleWorker
from rq.executions import ExecutionRegistry
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.worker import BaseWorker
from rq_scheduler import Scheduler

from cronmanager.rq_namespace import rq_namespace

# Each literal RQ 2.12 and rq-scheduler 0.14 build a Redis key (or pub/sub channel) from, and what moves it under
# the prefix. A new literal after an upgrade fails the test below until it is handled or shown unused here.
PREFIXED = {
    ("rq/job.py", "rq:job:"): "Job.redis_job_namespace_prefix",
    ("rq/queue.py", "rq:queue:"): "Queue.redis_queue_namespace_prefix (intermediate lists derive from it)",
    ("rq/queue.py", "rq:queues"): "Queue.redis_queues_keys",
    ("rq/queue.py", "rq:clean_registries:"): "NamespacedQueue.registry_cleaning_key",
    ("rq/registry.py", "rq:registry:{0}"): "BaseRegistry's template; RQ only instantiates the subclasses below",
    ("rq/registry.py", "rq:wip:{0}"): "registry key_template",
    ("rq/registry.py", "rq:finished:{0}"): "registry key_template",
    ("rq/registry.py", "rq:failed:{0}"): "registry key_template",
    ("rq/registry.py", "rq:deferred:{0}"): "registry key_template",
    ("rq/registry.py", "rq:scheduled:{0}"): "registry key_template",
    ("rq/registry.py", "rq:canceled:{0}"): "registry key_template",
    ("rq/results.py", "rq:results:"): "NamespacedResult.get_key (the module-level get_key is unused by RQ)",
    ("rq/executions.py", "rq:execution:"): "NamespacedExecution.key",
    ("rq/executions.py", "rq:executions:{0}"): "NamespacedExecutionRegistry.key_template",
    ("rq/worker/base.py", "rq:worker:"): "Worker.redis_worker_namespace_prefix (and the process title)",
    ("rq/worker_registration.py", "rq:workers"): "Worker.redis_workers_keys, NamespacedWorker registration",
    ("rq/worker_registration.py", "rq:workers:%s"): "NamespacedWorker registration and cleaning",
    ("rq/suspension.py", "rq:suspended"): "NamespacedWorker.check_for_suspension",
    ("rq/command.py", "rq:pubsub:%s"): "NamespacedWorker.pubsub_channel_name (a channel, not a key)",
    ("rq_scheduler/scheduler.py", "rq:scheduler_instance:"): "Scheduler.redis_scheduler_namespace_prefix",
    ("rq_scheduler/scheduler.py", "rq:scheduler"): "Scheduler.scheduler_key",
    ("rq_scheduler/scheduler.py", "rq:scheduler_lock"): "Scheduler.scheduler_lock_key",
    ("rq_scheduler/scheduler.py", "rq:scheduler:scheduled_jobs"): "Scheduler.scheduled_jobs_key",
}
UNUSED = {
    ("rq/scheduler.py", "rq:scheduler:%s"): "RQ's own scheduler: workers run with with_scheduler=False",
    ("rq/scheduler.py", "rq:scheduler-lock:%s"): "RQ's own scheduler",
    ("rq/scripts.py", "rq:queues"): "unique scheduling of Queue.enqueue_at/schedule_job, never called",
    ("rq/group.py", "rq:group:"): "job groups",
    ("rq/group.py", "rq:groups"): "job groups (the namespaced worker's maintenance skips them)",
    ("rq/cron.py", "rq:cron_job:"): "rq cron",
    ("rq/cron.py", "rq:cron_scheduler:"): "rq cron",
    ("rq/cron_job_registry.py", "rq:cron_jobs"): "rq cron",
    ("rq/cron_scheduler_registry.py", "rq:cron_schedulers"): "rq cron",
}


def _rq_literals() -> set[tuple[str, str]]:
    found = set()
    for package in (rq, rq_scheduler):
        root = Path(package.__file__).parent
        for path in root.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("rq:"):
                    found.add((f"{root.name}/{path.relative_to(root).as_posix()}", node.value))
    return found


def test_every_key_literal_of_rq_and_rq_scheduler_is_accounted_for():
    assert _rq_literals() == set(PREFIXED) | set(UNUSED)


def test_every_key_the_namespaced_classes_build_starts_with_the_prefix():
    ns = rq_namespace("{cm}")  # a Redis Cluster hash tag: braces must survive the registries' str.format
    r = Redis()  # never connected: only names are built
    queue = ns.Queue("cm-fires", connection=r)
    job = ns.Job.create("time.sleep", args=(0,), connection=r, id="j1", origin=queue.name)
    worker = ns.Worker([queue], connection=r, name="w1", prepare_for_work=False)
    scheduler = ns.Scheduler(queue_name=queue.name, connection=r, name="s1")
    registries = [getattr(queue, f"{kind}_job_registry") for kind in
                  ("started", "finished", "failed", "deferred", "scheduled", "canceled")]
    registries += [job.started_job_registry, job.failed_job_registry, job.finished_job_registry,
                   job.execution_registry, queue.failed_job_registry.get_queue().started_job_registry]
    keys = [queue.key, queue.intermediate_queue_key, queue.registry_cleaning_key, queue.redis_queues_keys, job.key,
            job.dependents_key, job.dependencies_key, ns.Result.get_key(job.id), ns.Execution("e1", job.id, r).key,
            worker.key, worker.redis_workers_keys, ns.workers_by_queue_key(queue.name), ns.suspended_key,
            worker.pubsub_channel_name, scheduler.key, scheduler.scheduler_key, scheduler.scheduler_lock_key,
            scheduler.scheduled_jobs_key, *(registry.key for registry in registries)]
    assert [k for k in keys if not k.startswith("{cm}:rq:")] == []
    assert queue.started_job_registry.key == "{cm}:rq:wip:cm-fires"
    assert {type(registry).__name__ for registry in registries} >= {"StartedJobRegistry", "ExecutionRegistry"}
    assert all(registry.job_class is ns.Job for registry in registries if not isinstance(registry,
                                                                                      ExecutionRegistry))


def test_each_prefix_has_its_own_cached_classes_and_rq_itself_is_left_alone():
    a, b = rq_namespace("a"), rq_namespace("b")
    assert rq_namespace("a") is a and a.Job is not b.Job and a.Queue is not b.Queue
    assert a.worker_class(SimpleWorker) is a.Worker and issubclass(a.Worker, SimpleWorker)
    assert a.Queue.job_class is a.Job and a.Worker.queue_class is a.Queue and a.Worker.job_class is a.Job
    assert a.Scheduler.job_class is a.Job and a.Scheduler.queue_class is a.Queue
    assert isinstance(a.registry(StartedJobRegistry)("q", connection=Redis()), StartedJobRegistry)
    assert (Queue.redis_queue_namespace_prefix, Queue.redis_queues_keys, Job.redis_job_namespace_prefix,
            BaseWorker.redis_worker_namespace_prefix, BaseWorker.redis_workers_keys, Scheduler.scheduled_jobs_key,
            StartedJobRegistry.key_template) == ("rq:queue:", "rq:queues", "rq:job:", "rq:worker:", "rq:workers",
                                                 "rq:scheduler:scheduled_jobs", "rq:wip:{0}")
