"""The names SecurityEvents carry (SPEC §11): dotted kinds and a small severity scale."""

from __future__ import annotations

import enum


class SecurityKind(enum.StrEnum):
    AUTH_FAILED_BURST = "auth.failed_burst"
    AUTH_LOCKOUT = "auth.lockout"
    TOKEN_NEW_IP = "token.new_ip"
    TOKEN_REVOKED_USED = "token.revoked_used"
    TOKEN_EXPIRED_USED = "token.expired_used"
    TOKEN_IP_REFUSED = "token.ip_refused"
    TOKEN_REFRESH_REUSE = "token.refresh_reuse"
    CRON_BULK_DELETE = "cron.bulk_delete"
    ACTIVITY_OFF_HOURS = "activity.off_hours"


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"
