"""Detectors over the audit trail (SPEC §11): each new audit row is checked once its transaction commits.

Every check is one or two indexed SQL lookups bounded by a time window and a subject (an IP, a token, a user),
never a scan of the trail; thresholds and windows are settings. An event is raised once per subject per window
(cronmanager.audit.security_events.raise_event), so a burst becomes one alert, not one per request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import ColumnElement, Connection, Select, and_, distinct, event, func, or_, select
from sqlalchemy.orm import Session

from cronmanager.audit.changes import is_change
from cronmanager.audit.kinds import SecurityKind, Severity
from cronmanager.audit.security_events import raise_event
from cronmanager.extensions import db
from cronmanager.models import AuditLog, User

log = logging.getLogger("cronmanager.audit")

FAILURES = ("auth.login_failed", "auth.credential_failed")  # the partial index ix_audit_auth_failures
NOT_A_USE = (*FAILURES, "auth.lockout")  # rows with a user_id that do not show the account was used
DELETES = ("cron.delete", "cron.bulk_delete")
_PENDING = "audit_facts"


@dataclass(frozen=True)
class AuditFacts:
    """What the detectors need from one committed audit row."""

    id: int
    action: str
    timestamp: datetime
    user_id: str | None
    token_id: str | None
    ip: str | None
    network: str | None
    method: str | None
    status: int | None
    deleted: int  # jobs this row deleted

    @classmethod
    def of(cls, row: AuditLog) -> AuditFacts:
        ok = row.response_status is None or row.response_status < 400
        deleted = deleted_jobs(row.action, row.changes) if ok else 0
        return cls(row.id, row.action, row.timestamp, row.user_id, row.token_id, row.ip_address, row.ip_network,
                   row.method, row.response_status, deleted)


def deleted_jobs(action: str, changes: dict | None) -> int:
    """A single delete is one job; a batch lists its jobs in its changes (cronmanager.jobs.bulk)."""
    if action == "cron.delete":
        return 1
    if action == "cron.bulk_delete":
        old = ((changes or {}).get("deleted") or {}).get("old") or []
        return old.get("items", 0) if isinstance(old, dict) else len(old)  # a long batch is capped, with its count
    return 0


def analyse(facts: AuditFacts, conn: Connection) -> list[SecurityKind]:
    """Run the detectors that apply to this row; returns the kinds raised (for tests and logs)."""
    raised: list[SecurityKind] = []
    if facts.action in FAILURES:
        if facts.ip and failed_burst(facts, conn):
            raised.append(SecurityKind.AUTH_FAILED_BURST)
        return raised
    if facts.action in NOT_A_USE:
        return raised
    if facts.network and (facts.token_id or facts.user_id) and new_network(facts, conn):
        raised.append(SecurityKind.TOKEN_NEW_IP)
    if facts.deleted and facts.user_id and bulk_delete(facts, conn):
        raised.append(SecurityKind.CRON_BULK_DELETE)
    if facts.user_id and is_change(facts.action, facts.method, facts.status) and off_hours(facts, conn):
        raised.append(SecurityKind.ACTIVITY_OFF_HOURS)
    return raised


def _cfg(name: str) -> int:
    return int(current_app.config[name])


def failed_burst(facts: AuditFacts, conn: Connection) -> bool:
    """N failed sign-ins or refused credentials from one IP within the window, or failures against M accounts."""
    window = _cfg("DETECT_FAILED_AUTH_WINDOW_S")
    count, accounts = conn.execute(failed_auth_query(facts.ip, facts.timestamp, window)).one()
    limit, account_limit = _cfg("DETECT_FAILED_AUTH_MAX"), _cfg("DETECT_FAILED_AUTH_ACCOUNTS")
    if count < limit and accounts < account_limit:
        return False
    return raise_event(
        SecurityKind.AUTH_FAILED_BURST,
        f"{count} failed sign-ins or refused credentials from {facts.ip} within {window // 60 or 1} min"
        + (f", against {accounts} accounts" if accounts > 1 else ""),
        ip=facts.ip, severity=Severity.WARNING, subject=f"ip:{facts.ip}", once_per_s=window,
        details={"failures": count, "accounts": accounts, "window_s": window},
    )


def failed_auth_query(ip: str | None, now: datetime, window_s: int) -> Select:
    """Failures from one IP in (now - window, now]: a range of the partial index, whatever the trail's size."""
    return select(func.count(), func.count(distinct(func.coalesce(AuditLog.user_id, AuditLog.resource_id)))).where(
        AuditLog.action.in_(FAILURES), AuditLog.ip_address == ip,
        AuditLog.timestamp > now - timedelta(seconds=window_s), AuditLog.timestamp <= now)


def _subject_rows(facts: AuditFacts) -> tuple[str, ColumnElement[bool]]:
    """A token's own rows, or an account's rows made without a token (sign-ins, dashboard, login tokens)."""
    if facts.token_id:
        return f"token:{facts.token_id}", AuditLog.token_id == facts.token_id
    return f"user:{facts.user_id}", and_(AuditLog.user_id == facts.user_id, AuditLog.token_id.is_(None),
                                         AuditLog.action.not_in(NOT_A_USE))


def network_queries(facts: AuditFacts, days: int) -> tuple[Select, Select]:
    """(a row of this subject from this network within `days`, any other row of it within `days`): two seeks of
    ix_audit_token_network / ix_audit_user_network, each stopping at the first row found."""
    _, rows = _subject_rows(facts)
    recent = and_(rows, AuditLog.id != facts.id, AuditLog.timestamp >= facts.timestamp - timedelta(days=days),
                  AuditLog.timestamp <= facts.timestamp)
    # ordered as the index is, so the planner walks this subject's index entries rather than the table
    order = ((AuditLog.token_id, AuditLog.ip_network, AuditLog.timestamp) if facts.token_id else
             (AuditLog.user_id, AuditLog.token_id, AuditLog.ip_network, AuditLog.timestamp))
    return (select(AuditLog.id).where(recent, AuditLog.ip_network == facts.network).order_by(*order).limit(1),
            select(AuditLog.id).where(recent).order_by(*order).limit(1))


def new_network(facts: AuditFacts, conn: Connection) -> bool:
    """Used from a network not seen for this token (or account) in the last N days, while it has a history there:
    the first use ever teaches the network; alternating between known networks stays silent."""
    days = _cfg("DETECT_NEW_IP_DAYS")
    subject, _ = _subject_rows(facts)
    seen_query, history_query = network_queries(facts, days)
    if conn.execute(seen_query).first() is not None:
        return False
    if conn.execute(history_query).first() is None:
        return False
    what = "API token" if facts.token_id else "Account"
    return raise_event(
        SecurityKind.TOKEN_NEW_IP, f"{what} used from {facts.ip}, a network ({facts.network}) not seen for it "
        f"in the last {days} days", user_id=facts.user_id, token_id=facts.token_id, ip=facts.ip,
        severity=Severity.WARNING, subject=f"{subject}:{facts.network}", once_per_s=days * 86400,
        details={"network": facts.network, "days": days},
    )


def deletes_query(user_id: str | None, now: datetime, window_s: int) -> Select:
    """One user's successful deletes in (now - window, now]: a range of ix_audit_user_timestamp."""
    return select(AuditLog.action, AuditLog.changes).where(
        AuditLog.user_id == user_id, AuditLog.action.in_(DELETES),
        AuditLog.timestamp > now - timedelta(seconds=window_s), AuditLog.timestamp <= now,
        or_(AuditLog.response_status.is_(None), AuditLog.response_status < 400))


def bulk_delete(facts: AuditFacts, conn: Connection) -> bool:
    """N or more jobs deleted by one user within the window, by any mix of single and batch deletes."""
    window = _cfg("DETECT_BULK_DELETE_WINDOW_S")
    rows = conn.execute(deletes_query(facts.user_id, facts.timestamp, window)).all()
    deleted = sum(deleted_jobs(action, changes) for action, changes in rows)
    if deleted < _cfg("DETECT_BULK_DELETE_MAX"):
        return False
    return raise_event(
        SecurityKind.CRON_BULK_DELETE, f"{deleted} jobs deleted within {window // 60 or 1} min",
        user_id=facts.user_id, token_id=facts.token_id, ip=facts.ip, severity=Severity.WARNING,
        subject=f"user:{facts.user_id}", once_per_s=window, details={"deleted": deleted, "window_s": window},
    )


def off_hours(facts: AuditFacts, conn: Connection) -> bool:
    """A change outside BUSINESS_HOURS in the acting user's own timezone."""
    zone_name = conn.execute(select(User.timezone).where(User.id == facts.user_id)).scalar() or "UTC"
    try:
        zone = ZoneInfo(zone_name)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    local = facts.timestamp.astimezone(zone)
    hours = current_app.config["BUSINESS_HOURS"]
    if hours.contains(local.weekday(), local.time()):
        return False
    window = _cfg("DETECT_OFF_HOURS_WINDOW_S")
    return raise_event(
        SecurityKind.ACTIVITY_OFF_HOURS,
        f"{facts.action} at {local:%a %H:%M} {zone_name}, outside business hours",
        user_id=facts.user_id, token_id=facts.token_id, ip=facts.ip, severity=Severity.WARNING,
        subject=f"user:{facts.user_id}", once_per_s=window,
        details={"action": facts.action, "local_time": local.isoformat(), "timezone": zone_name},
    )


# ---- wiring: collect audit rows at flush, analyse them after commit ---------------------------------------------
def _collect(session: Session, _context: object) -> None:
    rows = [obj for obj in session.new if isinstance(obj, AuditLog)]
    if rows:
        session.info.setdefault(_PENDING, []).extend(AuditFacts.of(r) for r in rows)


def _analyse_committed(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    try:
        with db.engine.connect() as conn:  # the committing session cannot run SQL inside its after_commit hook
            for facts in pending:
                analyse(facts, conn)
    except Exception:  # analysis must never fail the change it looks at
        log.exception("audit analysis failed")


def _forget(session: Session, *_args: object) -> None:
    session.info.pop(_PENDING, None)


def install() -> None:
    """Hook the detectors into every session once per process (create_app may run several times)."""
    for name, fn in (("after_flush", _collect), ("after_commit", _analyse_committed),
                     ("after_rollback", _forget)):
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)
