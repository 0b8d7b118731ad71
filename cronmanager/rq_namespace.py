"""RQ's and rq-scheduler's classes with every Redis key under REDIS_PREFIX (`{prefix}:rq:...`).

RQ 2.12 names some keys from class attributes (`rq:queue:`, `rq:queues`, `rq:job:`, `rq:worker:`, `rq:workers`,
rq-scheduler's four keys) and the rest from literals in its code: the registries' key templates, results,
executions, the workers-by-queue sets, the registry-cleaning lock, the suspension flag. Setting RQ's own class
attributes would move every app of a process into one namespace (the tests build apps with different prefixes
side by side), so each prefix gets subclasses of its own, built once and cached. The overrides below are the
places where RQ 2.12 builds a key or an object without going through those classes; they mirror RQ's code,
which `requirements.txt` pins. A worker finds what a queue was given because both come from one namespace.

Not covered, because the product never uses them: job dependencies (`depends_on`), RQ's `Retry`/`Repeat` and
`enqueue_at`, RQ's own scheduler (`with_scheduler`), job groups and `rq cron`. `tests/unit/test_rq_namespace.py`
keeps that list honest against RQ's source.
"""

from __future__ import annotations

import functools
import time
from typing import Any
from uuid import uuid4

from redis import Redis
from redis.client import Pipeline
from rq import Queue, SimpleWorker
from rq.exceptions import InvalidJobOperation, StopRequested
from rq.executions import Execution, ExecutionRegistry
from rq.job import Job, JobStatus
from rq.registry import (
    BaseRegistry,
    CanceledJobRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from rq.results import Result
from rq.utils import as_text, compact, now, utcformat
from rq.worker import BaseWorker, WorkerStatus
from rq_scheduler import Scheduler

REGISTRIES: tuple[type[BaseRegistry], ...] = (StartedJobRegistry, FinishedJobRegistry, FailedJobRegistry,
                                               DeferredJobRegistry, ScheduledJobRegistry, CanceledJobRegistry)
# the registry a job sits in, by status (RQ's Job._remove_from_registries asks one status at a time)
STATUS_REGISTRY: dict[JobStatus, type[BaseRegistry]] = {
    JobStatus.FINISHED: FinishedJobRegistry, JobStatus.DEFERRED: DeferredJobRegistry,
    JobStatus.STARTED: StartedJobRegistry, JobStatus.SCHEDULED: ScheduledJobRegistry,
    JobStatus.FAILED: FailedJobRegistry, JobStatus.STOPPED: FailedJobRegistry, JobStatus.CANCELED: CanceledJobRegistry,
}


class RQNamespace:
    """The RQ classes of one prefix: `Queue`, `Job`, `Worker` (a SimpleWorker), `Scheduler` (rq-scheduler), the
    registries, `Result` and `Execution`. Get it through `rq_namespace(prefix)`."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        own = {"ns": self}
        self.Job: type[NamespacedJob] = type("Job", (NamespacedJob,), {
            **own, "redis_job_namespace_prefix": self.key("rq:job:")})
        self.Result: type[NamespacedResult] = type("Result", (NamespacedResult,), own)
        self.Execution: type[NamespacedExecution] = type("Execution", (NamespacedExecution,), own)
        self.ExecutionRegistry: type[NamespacedExecutionRegistry] = type(
            "ExecutionRegistry", (NamespacedExecutionRegistry,), {**own, "key_template": self.key_template(
                ExecutionRegistry.key_template)})
        self.registries: dict[str, type[BaseRegistry]] = {
            base.__name__: type(base.__name__, (NamespacedRegistry, base), {
                **own, "key_template": self.key_template(base.key_template)})
            for base in REGISTRIES}
        self.Queue: type[NamespacedQueue] = type("Queue", (NamespacedQueue,), {
            **own, "job_class": self.Job, "redis_queue_namespace_prefix": self.key("rq:queue:"),
            "redis_queues_keys": self.key("rq:queues")})
        self.Scheduler: type[Scheduler] = type("Scheduler", (Scheduler,), {
            "job_class": self.Job, "queue_class": self.Queue,
            "redis_scheduler_namespace_prefix": self.key(Scheduler.redis_scheduler_namespace_prefix),
            "scheduler_key": self.key(Scheduler.scheduler_key),
            "scheduler_lock_key": self.key(Scheduler.scheduler_lock_key),
            "scheduled_jobs_key": self.key(Scheduler.scheduled_jobs_key)})
        self.workers_key = self.key("rq:workers")
        self.suspended_key = self.key("rq:suspended")
        self._workers: dict[type[BaseWorker], type[BaseWorker]] = {}
        self.Worker = self.worker_class(SimpleWorker)

    def key(self, rq_key: str) -> str:
        """RQ's key (`rq:job:abc`) in this namespace (`{prefix}:rq:job:abc`)."""
        return f"{self.prefix}:{rq_key}"

    def key_template(self, rq_template: str) -> str:
        """A registry's str.format template in this namespace; braces in the prefix (Redis Cluster hash tags) stay
        literal."""
        return self.prefix.replace("{", "{{").replace("}", "}}") + ":" + rq_template

    def queue_key(self, name: str) -> str:
        return self.Queue.redis_queue_namespace_prefix + name

    def workers_by_queue_key(self, queue_name: str) -> str:
        return self.key(f"rq:workers:{queue_name}")

    def registry(self, base: type[BaseRegistry]) -> type[BaseRegistry]:
        return self.registries[base.__name__]

    def worker_class(self, base: type[BaseWorker]) -> type[BaseWorker]:
        """`base` (SimpleWorker or a subclass of it) in this namespace, made once per base."""
        if base not in self._workers:
            self._workers[base] = type(base.__name__, (NamespacedWorker, base), {
                "ns": self, "job_class": self.Job, "queue_class": self.Queue,
                "redis_worker_namespace_prefix": self.key("rq:worker:"), "redis_workers_keys": self.workers_key})
        return self._workers[base]


@functools.cache
def rq_namespace(prefix: str) -> RQNamespace:
    """One set of classes per prefix, so isinstance checks and RQ's class comparisons hold within a process."""
    return RQNamespace(prefix)


class NamespacedResult(Result):
    ns: RQNamespace

    @classmethod
    def get_key(cls, job_id: str) -> str:
        return cls.ns.key(f"rq:results:{job_id}")


class NamespacedExecution(Execution):
    """RQ's Execution names its key and its registry literally; the three writers below are RQ's with ours."""

    ns: RQNamespace

    @property
    def key(self) -> str:
        return self.ns.key(f"rq:execution:{self.composite_key}")

    @property
    def job(self) -> Job:
        if self._job is None:
            self._job = self.ns.Job.fetch(id=self.job_id, connection=self.connection)
        return self._job

    @classmethod
    def create(cls, job: Job, ttl: int, pipeline: Pipeline, worker_name: str = "") -> NamespacedExecution:
        execution = cls(id=uuid4().hex, job_id=job.id, connection=job.connection, worker_name=worker_name)
        execution.save(ttl=ttl, pipeline=pipeline)
        cls.ns.ExecutionRegistry(job_id=job.id, connection=pipeline).add(execution=execution, ttl=ttl,
                                                                         pipeline=pipeline)
        job.started_job_registry.add_execution(execution, pipeline=pipeline, ttl=ttl, xx=False)
        return execution

    def delete(self, job: Job, pipeline: Pipeline) -> None:
        pipeline.delete(self.key)
        job.started_job_registry.remove_execution(execution=self, pipeline=pipeline)
        self.ns.ExecutionRegistry(job_id=self.job_id, connection=self.connection).remove(execution=self,
                                                                                         pipeline=pipeline)

    def heartbeat(self, started_job_registry: StartedJobRegistry, ttl: int, pipeline: Pipeline) -> None:
        self.last_heartbeat = now()
        pipeline.hset(self.key, "last_heartbeat", self.last_heartbeat.timestamp())
        pipeline.expire(self.key, ttl)
        started_job_registry.add_execution(self, ttl=ttl, pipeline=pipeline, xx=True)
        self.ns.ExecutionRegistry(job_id=self.job_id, connection=pipeline).add(execution=self, ttl=ttl,
                                                                               pipeline=pipeline)


class NamespacedExecutionRegistry(ExecutionRegistry):
    ns: RQNamespace

    def get_executions(self, start: int = 0, end: int = -1) -> list[Execution]:
        return [self.ns.Execution.fetch(id=execution_id, job_id=self.job_id, connection=self.connection)
                for execution_id in self.get_execution_ids(start, end)]


class NamespacedRegistry(BaseRegistry):
    """Mixed in before each RQ registry class: jobs default to this namespace's Job, and the queue a job goes
    back to is this namespace's Queue."""

    ns: RQNamespace

    def __init__(self, name: str = "default", connection: Redis | None = None, job_class: type[Job] | None = None,
                 queue: Queue | None = None, serializer: Any = None, death_penalty_class: Any = None) -> None:
        super().__init__(name, connection, job_class or self.ns.Job, queue, serializer, death_penalty_class)

    def get_queue(self) -> Queue:
        return self.ns.Queue(self.name, connection=self.connection, job_class=self.job_class,
                             serializer=self.serializer)

    def requeue(self, job_or_id: Job | str, at_front: bool = False) -> Job:
        if isinstance(job_or_id, self.job_class):
            job, serializer = job_or_id, job_or_id.serializer
        else:
            serializer = self.serializer
            job = self.job_class.fetch(job_or_id, connection=self.connection, serializer=serializer)
        if not self.connection.zrem(self.key, job.id):
            raise InvalidJobOperation
        with self.connection.pipeline() as pipeline:
            queue = self.ns.Queue(job.origin, connection=self.connection, job_class=self.job_class,
                                  serializer=serializer)
            job.started_at = None
            job.ended_at = None
            job._exc_info = ""
            job.save()
            job = queue._enqueue_job(job, pipeline=pipeline, at_front=at_front)
            pipeline.execute()
        return job


class NamespacedQueue(Queue):
    ns: RQNamespace

    @property
    def registry_cleaning_key(self) -> str:
        return self.ns.key(f"rq:clean_registries:{self.name}")

    def _registry(self, base: type[BaseRegistry]) -> Any:
        return self.ns.registry(base)(queue=self, job_class=self.job_class, serializer=self.serializer)

    @property
    def started_job_registry(self) -> StartedJobRegistry:
        return self._registry(StartedJobRegistry)

    @property
    def finished_job_registry(self) -> FinishedJobRegistry:
        return self._registry(FinishedJobRegistry)

    @property
    def failed_job_registry(self) -> FailedJobRegistry:
        return self._registry(FailedJobRegistry)

    @property
    def deferred_job_registry(self) -> DeferredJobRegistry:
        return self._registry(DeferredJobRegistry)

    @property
    def scheduled_job_registry(self) -> ScheduledJobRegistry:
        return self._registry(ScheduledJobRegistry)

    @property
    def canceled_job_registry(self) -> CanceledJobRegistry:
        return self._registry(CanceledJobRegistry)


class NamespacedJob(Job):
    ns: RQNamespace

    def _registry(self, base: type[BaseRegistry]) -> Any:
        return self.ns.registry(base)(self.origin, connection=self.connection, job_class=self.__class__,
                                      serializer=self.serializer)

    @property
    def started_job_registry(self) -> StartedJobRegistry:
        return self._registry(StartedJobRegistry)

    @property
    def failed_job_registry(self) -> FailedJobRegistry:
        return self._registry(FailedJobRegistry)

    @property
    def finished_job_registry(self) -> FinishedJobRegistry:
        return self._registry(FinishedJobRegistry)

    @property
    def execution_registry(self) -> ExecutionRegistry:
        return self.ns.ExecutionRegistry(self.id, connection=self.connection)

    def results(self) -> list[Result]:
        return self.ns.Result.all(self, serializer=self.serializer)

    def latest_result(self, timeout: int = 0) -> Result | None:
        return self.ns.Result.fetch_latest(self, serializer=self.serializer, timeout=timeout)

    def _remove_from_registries(self, pipeline: Pipeline | None = None, remove_from_queue: bool = True) -> None:
        if remove_from_queue:
            self.ns.Queue(name=self.origin, connection=self.connection, serializer=self.serializer).remove(
                self, pipeline=pipeline)
        base = STATUS_REGISTRY.get(self.get_status())
        if base is StartedJobRegistry:
            self._registry(base).remove_executions(self, pipeline=pipeline)
        elif base is not None:
            self._registry(base).remove(self, pipeline=pipeline)

    def _handle_success(self, result_ttl: int, pipeline: Pipeline, worker_name: str = "",
                        execution_id: str | None = None, execution_started_at: Any = None,
                        execution_ended_at: Any = None) -> None:
        self.set_status(JobStatus.FINISHED, pipeline=pipeline)
        self.save(pipeline=pipeline, include_meta=False, include_result=False)
        self.ns.Result.create(self, Result.Type.SUCCESSFUL, return_value=self._result, ttl=result_ttl,
                              worker_name=worker_name, pipeline=pipeline, execution_id=execution_id,
                              execution_started_at=execution_started_at, execution_ended_at=execution_ended_at)
        if result_ttl != 0:
            self.finished_job_registry.add(self, result_ttl, pipeline)

    def _handle_failure(self, exc_string: str, pipeline: Pipeline, worker_name: str = "",
                        execution_id: str | None = None, execution_started_at: Any = None,
                        execution_ended_at: Any = None) -> None:
        self.failed_job_registry.add(self, ttl=self.failure_ttl, exc_string=exc_string, pipeline=pipeline)
        self.ns.Result.create_failure(self, self.failure_ttl, exc_string=exc_string, worker_name=worker_name,
                                      pipeline=pipeline, execution_id=execution_id,
                                      execution_started_at=execution_started_at,
                                      execution_ended_at=execution_ended_at)


class NamespacedWorker(BaseWorker):
    """Mixed in before SimpleWorker (or a subclass): registration, registry cleaning, executions and the
    suspension flag go through this namespace's keys instead of RQ's module-level ones."""

    ns: RQNamespace

    @property
    def pubsub_channel_name(self) -> str:
        return self.ns.key(f"rq:pubsub:{self.name}")

    @classmethod
    def _worker_keys(cls, connection: Redis, queue: Queue | None = None) -> set[str]:
        key = cls.ns.workers_by_queue_key(queue.name) if queue else cls.ns.workers_key
        return {as_text(k) for k in connection.smembers(key)}

    @classmethod
    def _connection(cls, connection: Redis | None, queue: Queue | None) -> Redis:
        """The queue's connection, else the one given (rq's own methods require one of the two)."""
        found = queue.connection if queue else connection
        if found is None:
            raise TypeError("a Redis connection or a queue is needed")
        return found

    @classmethod
    def all(cls, connection: Redis | None = None, job_class: type[Job] | None = None,
            queue_class: type[Queue] | None = None, queue: Queue | None = None, serializer: Any = None) -> list:
        connection = cls._connection(connection, queue)
        return compact([cls.find_by_key(key, connection=connection, job_class=job_class, queue_class=queue_class,
                                        serializer=serializer) for key in cls._worker_keys(connection, queue)])

    @classmethod
    def all_keys(cls, connection: Redis | None = None, queue: Queue | None = None) -> list[str]:
        return list(cls._worker_keys(cls._connection(connection, queue), queue))

    @classmethod
    def count(cls, connection: Redis | None = None, queue: Queue | None = None) -> int:
        return len(cls._worker_keys(cls._connection(connection, queue), queue))

    def register_birth(self) -> None:
        key = self.key
        if self.connection.exists(key) and not self.connection.hexists(key, "death"):
            raise ValueError(f"There exists an active worker named {self.name!r} already")
        with self.connection.pipeline() as pipeline:
            pipeline.delete(key)
            self.birth_date = self.last_heartbeat = now()
            pipeline.hset(key, mapping=self.serialize())
            pipeline.sadd(self.ns.workers_key, key)
            for name in self.queue_names():
                pipeline.sadd(self.ns.workers_by_queue_key(name), key)
            pipeline.expire(key, self.worker_ttl + 60)
            pipeline.execute()

    def register_death(self) -> None:
        with self.connection.pipeline() as pipeline:
            pipeline.srem(self.ns.workers_key, self.key)
            for name in self.queue_names():
                pipeline.srem(self.ns.workers_by_queue_key(name), self.key)
            pipeline.hset(self.key, "death", utcformat(now()))
            pipeline.expire(self.key, 60)
            pipeline.execute()

    def run_maintenance_tasks(self) -> None:
        """Neither RQ's scheduler nor its job groups are used here, so only this namespace's registries are
        cleaned (RQ would also clean every group on the Redis database)."""
        self.clean_registries()

    def clean_registries(self) -> None:
        for queue in self.queues:
            if queue.acquire_maintenance_lock():
                self.log.info("Worker %s: cleaning registries for queue: %s", self.name, queue.name)
                queue.finished_job_registry.cleanup()
                queue.started_job_registry.cleanup(exception_handlers=self._exc_handlers)
                queue.failed_job_registry.cleanup()
                queue.deferred_job_registry.cleanup()
                self._clean_worker_registry(queue)
                queue.intermediate_queue.cleanup(self, queue)
                queue.release_maintenance_lock()
        self.last_cleaned_at = now()  # type: ignore[assignment]  # rq leaves it unannotated: inferred as None

    def _clean_worker_registry(self, queue: Queue) -> None:
        """Drop the keys of workers that died without unregistering (their hash expired)."""
        keys = list(self._worker_keys(queue.connection, queue))
        with queue.connection.pipeline() as pipeline:
            for key in keys:
                pipeline.exists(key)
            dead = [key for key, alive in zip(keys, pipeline.execute()) if not alive]
            if dead:
                pipeline.srem(self.ns.workers_by_queue_key(queue.name), *dead)
                pipeline.srem(self.ns.workers_key, *dead)
                pipeline.execute()

    def prepare_execution(self, job: Job) -> Execution:
        with self.connection.pipeline() as pipeline:
            self.execution = self.ns.Execution.create(job, self.get_heartbeat_ttl(job), pipeline=pipeline,
                                                      worker_name=self.name)
            self.set_state(WorkerStatus.BUSY, pipeline=pipeline)
            pipeline.execute()
        return self.execution

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        """RQ takes the job off the intermediate list of a plain `Queue` named like its origin; ours is
        elsewhere."""
        super().prepare_job_execution(job, remove_from_intermediate_queue=False)
        if remove_from_intermediate_queue:
            queue = self.queue_class(job.origin, connection=self.connection)
            self.connection.lrem(queue.intermediate_queue_key, 1, job.id)

    def check_for_suspension(self, burst: bool) -> None:
        """`{prefix}:rq:suspended` pauses this namespace's workers, as `rq suspend` pauses plain RQ workers."""
        before_state = None
        while not self._stop_requested and self._suspended():
            if burst:
                self.log.info("Worker %s: suspended in burst mode, exiting", self.name)
                raise StopRequested
            if before_state is None:
                self.log.info("Worker %s: suspended (%s is set)", self.name, self.ns.suspended_key)
                before_state = self.get_state()
                self.set_state(WorkerStatus.SUSPENDED)
            time.sleep(1)
        if before_state is not None:
            self.set_state(before_state)

    def _suspended(self) -> bool:
        with self.connection.pipeline() as pipeline:
            self.heartbeat(pipeline=pipeline)
            pipeline.exists(self.ns.suspended_key)
            return bool(pipeline.execute()[-1])
