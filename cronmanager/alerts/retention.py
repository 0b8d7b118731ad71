"""Incident retention (SPEC §10, §19): resolved incidents older than INCIDENT_RETENTION_DAYS go, and with them the
outbox rows that were about them and are done with (sent or failed). Called by the retention run
(cronmanager.maintenance.retention), which records the counts for the compliance report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from cronmanager.alerts.delivery import FAILED, SENT
from cronmanager.extensions import db, dml_rowcount
from cronmanager.models.monitoring import AlertDelivery, Incident

BATCH = 5000  # short transactions: the incidents page and the recorder are never held up for long


@dataclass(frozen=True)
class Pruned:
    incidents: int
    deliveries: int


def prune_incidents(now: datetime, days: int, batch: int = BATCH) -> Pruned:
    """Delete incidents resolved more than `days` ago, and their finished deliveries; committed batch by batch.
    Open incidents stay whatever their age: someone may still be working on them."""
    cutoff = now - timedelta(days=days)
    incidents = deliveries = 0
    while True:
        ids = list(db.session.execute(select(Incident.id).where(Incident.resolved_at < cutoff)
                                      .order_by(Incident.resolved_at).limit(batch)).scalars())
        if not ids:
            break
        deliveries += dml_rowcount(delete(AlertDelivery).where(AlertDelivery.incident_id.in_(ids),
                                                               AlertDelivery.status.in_((SENT, FAILED))))
        incidents += dml_rowcount(delete(Incident).where(Incident.id.in_(ids)))
        db.session.commit()
        if len(ids) < batch:
            break
    db.session.rollback()
    return Pruned(incidents, deliveries)
