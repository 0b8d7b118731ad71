"""Dashboard statistics computed by the database (SPEC §7 stats, §14): counts, rates, percentiles, buckets.

Nothing here loads execution rows into Python; every figure is one aggregate query over the visible jobs.
p95 uses percentile_cont on PostgreSQL and a nearest-rank window query on SQLite. Time ranges filter on
created_at (indexed), which is when the fire was placed, within seconds of its scheduled time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, literal_column, select
from sqlalchemy.sql import ColumnElement, Select

from cronmanager.auth import visibility
from cronmanager.auth.principal import Principal
from cronmanager.extensions import db
from cronmanager.lib.dates import iso
from cronmanager.models import CronExecution, CronJob, utcnow

E, J = CronExecution, CronJob
SUCCESS, FAILED = "SUCCESS", "FAILED"


def _pg() -> bool:
    return db.engine.dialect.name == "postgresql"


def _visible(stmt: Select, p: Principal, job_id: str | None) -> Select:
    stmt = visibility.visible(stmt, p)
    if job_id:
        stmt = stmt.where(J.id == job_id)
    return stmt


def _n(cond: ColumnElement) -> ColumnElement:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def job_totals(p: Principal, job_id: str | None) -> dict:
    stmt = _visible(select(func.count(J.id), _n(J.is_active.is_(True))), p, job_id)
    total, active = db.session.execute(stmt).one()
    return {"total": total, "active": int(active), "inactive": total - int(active)}


def executions_since(p: Principal, job_id: str | None, since: datetime) -> dict:
    stmt = _visible(select(E.status, func.count()).join(J, J.id == E.cron_job_id)
                    .where(E.created_at >= since).group_by(E.status), p, job_id)
    counts = {status: n for status, n in db.session.execute(stmt)}
    return {"total": sum(counts.values()), **{s: counts.get(s, 0) for s in
                                               ("SUCCESS", "FAILED", "SKIPPED", "MISSED", "RUNNING", "PENDING")}}


def per_job(p: Principal, job_id: str | None, since: datetime, limit: int) -> list[dict]:
    """Success rate (of SUCCESS+FAILED), average and p95 duration per job over the window."""
    done = and_(E.created_at >= since, E.status.in_((SUCCESS, FAILED)))
    agg = (select(E.cron_job_id.label("job_id"), func.count().label("runs"), _n(E.status == SUCCESS).label("ok"),
                  _n(E.status == FAILED).label("failed"), func.avg(E.execution_time_ms).label("avg_ms"))
           .where(done).group_by(E.cron_job_id).subquery())
    p95 = _p95_subquery(done)
    stmt = _visible(
        select(J.id, J.name, J.is_active, func.coalesce(agg.c.runs, 0), func.coalesce(agg.c.ok, 0),
               func.coalesce(agg.c.failed, 0), agg.c.avg_ms, p95.c.p95_ms)
        .outerjoin(agg, agg.c.job_id == J.id).outerjoin(p95, p95.c.job_id == J.id)
        .order_by(func.coalesce(agg.c.runs, 0).desc(), J.name).limit(limit), p, job_id)
    out = []
    for jid, name, active, runs, ok, failed, avg_ms, p95_ms in db.session.execute(stmt):
        out.append({"job_id": jid, "name": name, "is_active": active, "runs": int(runs), "success": int(ok),
                    "failed": int(failed), "success_rate": round(int(ok) / int(runs), 4) if runs else None,
                    "avg_ms": round(float(avg_ms), 1) if avg_ms is not None else None,
                    "p95_ms": round(float(p95_ms), 1) if p95_ms is not None else None})
    return out


def _p95_subquery(done: ColumnElement):
    if _pg():
        return (select(E.cron_job_id.label("job_id"),
                       func.percentile_cont(0.95).within_group(E.execution_time_ms).label("p95_ms"))
                .where(done, E.execution_time_ms.is_not(None)).group_by(E.cron_job_id).subquery())
    # SQLite: nearest rank, the smallest value with at least 95 % of the values at or below it
    ranked = (select(E.cron_job_id.label("job_id"), E.execution_time_ms.label("ms"),
                     func.row_number().over(partition_by=E.cron_job_id, order_by=E.execution_time_ms).label("rn"),
                     func.count().over(partition_by=E.cron_job_id).label("cnt"))
              .where(done, E.execution_time_ms.is_not(None)).subquery())
    return (select(ranked.c.job_id, func.min(ranked.c.ms).label("p95_ms"))
            .where(ranked.c.rn * 100 >= ranked.c.cnt * 95).group_by(ranked.c.job_id).subquery())


def _bucket(unit: str, zone: str, now: datetime) -> ColumnElement:
    """Local wall-clock start of the hour/day of created_at, as a naive timestamp (PG) or text (SQLite)."""
    if _pg():
        return func.date_trunc(unit, func.timezone(zone, E.created_at))
    offset = int((now.astimezone(ZoneInfo(zone)).utcoffset() or timedelta()).total_seconds() // 60)
    fmt = "%Y-%m-%d %H:00:00" if unit == "hour" else "%Y-%m-%d 00:00:00"
    return func.strftime(fmt, E.created_at, literal_column(f"'{offset:+d} minutes'"))


def series(p: Principal, job_id: str | None, zone: str, unit: str, count: int, now: datetime) -> list[dict]:
    tz = ZoneInfo(zone)
    local_now = now.astimezone(tz)
    if unit == "hour":
        first = local_now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=count - 1)
    else:
        first = local_now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=count - 1)
    first_utc = first.astimezone(UTC)
    bucket = _bucket(unit, zone, now).label("bucket")
    stmt = _visible(
        select(bucket, _n(E.status == SUCCESS), _n(E.status == FAILED), func.count(), func.avg(E.execution_time_ms))
        .join(J, J.id == E.cron_job_id).where(E.created_at >= first_utc).group_by(bucket), p, job_id)
    found = {}
    for key, ok, failed, total, avg_ms in db.session.execute(stmt):
        stamp = key if isinstance(key, datetime) else datetime.fromisoformat(str(key))
        found[stamp.replace(tzinfo=None)] = (int(ok), int(failed), int(total), avg_ms)
    out = []
    for i in range(count):
        wall = (first.replace(tzinfo=None) + (timedelta(hours=i) if unit == "hour" else timedelta(days=i)))
        ok, failed, total, avg_ms = found.get(wall, (0, 0, 0, None))
        start = wall.replace(tzinfo=tz)
        out.append({"start": iso(start), "local": start.isoformat(), "success": ok, "failed": failed,
                    "other": total - ok - failed, "total": total,
                    "avg_ms": round(float(avg_ms), 1) if avg_ms is not None else None})
    return out


def stats(p: Principal, *, zone: str, job_id: str | None = None, days: int = 30, limit: int = 100,
          now: datetime | None = None) -> dict:
    now = now or utcnow()
    today = now.astimezone(ZoneInfo(zone)).replace(hour=0, minute=0, second=0, microsecond=0)
    window = now - timedelta(days=days)
    w = executions_since(p, job_id, window)
    data: dict[str, object] = {
        "generated_at": iso(now), "timezone": zone, "window_days": days,
        "jobs": job_totals(p, job_id),
        "executions_today": executions_since(p, job_id, today.astimezone(UTC)),
        "executions_window": w,
        "per_job": per_job(p, job_id, window, limit),
        "series": {"hourly": series(p, job_id, zone, "hour", 24, now),
                   "daily": series(p, job_id, zone, "day", 30, now)},
    }
    decided = w["SUCCESS"] + w["FAILED"]
    data["success_rate"] = round(w["SUCCESS"] / decided, 4) if decided else None
    db.session.rollback()
    return data
