"""The TypedDicts that type the API's JSON answers name exactly the fields of the response models that document
them in OpenAPI, so the type checker and the document describe one shape."""

from __future__ import annotations

import pytest

from cronmanager.alerts.schemas import ChannelJson, ChannelOut, NotificationJson, NotificationOut
from cronmanager.audit.schemas import AuditJson, AuditOut, SecurityEventJson, SecurityEventOut
from cronmanager.auth.schemas import TokenCreatedOut, TokenJson
from cronmanager.jobs.schemas import JobJson, JobOut
from cronmanager.logs.queries import COLUMNS
from cronmanager.logs.schemas import ExecutionJson, ExecutionOut
from cronmanager.rules.schemas import Effective, EffectiveJson, ProposalJson, ProposalOut, RuleJson, RuleOut
from cronmanager.teams.schemas import MemberJson, MemberOut, TeamJson, TeamOut
from cronmanager.users.schemas import UserAdminJson, UserAdminOut

PAIRS = [
    (JobJson, JobOut), (TokenJson, TokenCreatedOut), (ChannelJson, ChannelOut), (NotificationJson, NotificationOut),
    (TeamJson, TeamOut), (MemberJson, MemberOut), (UserAdminJson, UserAdminOut), (AuditJson, AuditOut),
    (SecurityEventJson, SecurityEventOut), (ExecutionJson, ExecutionOut), (RuleJson, RuleOut),
    (ProposalJson, ProposalOut), (EffectiveJson, Effective),
]


@pytest.mark.parametrize(("typed", "model"), PAIRS, ids=[typed.__name__ for typed, _ in PAIRS])
def test_typed_json_names_the_response_models_fields(typed, model):
    documented = {field.alias or name for name, field in model.model_fields.items()}
    assert set(typed.__annotations__) == documented


def test_execution_json_columns_are_its_keys():
    assert {*COLUMNS, "job_name", "first_attempt_id"} == set(ExecutionJson.__annotations__)
