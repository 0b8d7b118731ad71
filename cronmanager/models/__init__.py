"""All tables, importable from one place for Alembic and the app."""

from cronmanager.models.alert import AlertChannel, Notification
from cronmanager.models.audit import AuditLog, SecurityEvent
from cronmanager.models.badge import StatusBadge  # noqa: F401 - registered for Alembic
from cronmanager.models.calendar import Calendar
from cronmanager.models.dependency import JobDependency, RunOn
from cronmanager.models.execution import CronExecution, ExecutionStatus, Trigger
from cronmanager.models.fence import SchedulerFence  # noqa: F401 - registered for Alembic
from cronmanager.models.health import (  # noqa: F401 - registered for Alembic
    JobHealthBucket,
    JobHealthHourly,
    JobHealthRank,
    JobPause,
    JobSlo,
)
from cronmanager.models.job import CronJob, JobStatus, ScheduleChange
from cronmanager.models.job_version import JobVersion  # noqa: F401 - registered for Alembic
from cronmanager.models.maintenance import RetentionRun  # noqa: F401 - registered for Alembic
from cronmanager.models.monitoring import AlertDelivery, Incident, JobAlertState  # noqa: F401 - registered for Alembic
from cronmanager.models.rules import Rule, RuleProposal  # noqa: F401 - registered for Alembic
from cronmanager.models.second_factor import RecoveryCode
from cronmanager.models.session import LoginSession, SessionKind
from cronmanager.models.team import Team, TeamMember, TeamRole
from cronmanager.models.types import utcnow
from cronmanager.models.user import SCOPES, ApiToken, Role, User

__all__ = [
    "SCOPES", "AlertChannel", "ApiToken", "AuditLog", "Calendar", "CronExecution", "CronJob", "ExecutionStatus",
    "JobDependency", "JobStatus", "LoginSession", "Notification", "RecoveryCode", "Role", "RunOn", "ScheduleChange",
    "SecurityEvent",
    "SessionKind", "Team", "TeamMember", "TeamRole", "Trigger", "User", "utcnow",
]
