"""All tables, importable from one place for Alembic and the app."""

from cronmanager.models.alert import AlertChannel, Notification
from cronmanager.models.audit import AuditLog, SecurityEvent
from cronmanager.models.execution import CronExecution, ExecutionStatus, Trigger
from cronmanager.models.job import CronJob, JobStatus, ScheduleChange
from cronmanager.models.job_version import JobVersion  # noqa: F401 - registered for Alembic
from cronmanager.models.monitoring import AlertDelivery, JobAlertState  # noqa: F401 - registered for Alembic
from cronmanager.models.rules import Rule, RuleProposal  # noqa: F401 - registered for Alembic
from cronmanager.models.session import LoginSession, SessionKind
from cronmanager.models.team import Team, TeamMember, TeamRole
from cronmanager.models.types import utcnow
from cronmanager.models.user import SCOPES, ApiToken, Role, User

__all__ = [
    "SCOPES", "AlertChannel", "ApiToken", "AuditLog", "CronExecution", "CronJob", "ExecutionStatus",
    "JobStatus", "LoginSession", "Notification", "Role", "ScheduleChange", "SecurityEvent", "SessionKind",
    "Team", "TeamMember", "TeamRole", "Trigger", "User", "utcnow",
]
