"""Tandem's people and teams as SCIM resources: the scim2-models object, its JSON with its entity tag
(``meta.version``), and the ``attributes``/``excludedAttributes`` a client asked for."""

from __future__ import annotations

from typing import Any

from scim2_models import Context, Meta, ResponseParameters

from program.accounts.models import Team, User
from program.scim.protocol import etag_of
from program.scim.resources import (
    EmailAddress,
    GroupMemberReference,
    ManagerReference,
    RoleGrant,
    ScimGroup,
    TandemEnterpriseUser,
    TeamMembership,
    UserModel,
)


def user_model(person: User, base: str) -> Any:
    """A person as a SCIM User (``base``: the server's absolute /scim/v2 URL)."""
    resource = UserModel.model_construct(
        schemas=[str(UserModel.__schema__)],
        id=str(person.id),
        external_id=person.external_id,
        user_name=person.email,
        display_name=person.name,
        active=person.active,
        emails=[EmailAddress.model_construct(value=person.email, type="work", primary=True)],
        roles=[RoleGrant.model_construct(value=person.role)] if person.role != "staff" else None,
        groups=(
            [
                TeamMembership.model_construct(
                    value=str(person.team_id), ref=f"{base}/Groups/{person.team_id}", display=person.team.name
                )
            ]
            if person.team_id and person.team is not None
            else None
        ),
        meta=Meta(
            resource_type="User",
            created=person.created_at,
            last_modified=person.updated_at or person.created_at,
            location=f"{base}/Users/{person.id}",
        ),
    )
    department = person.department.name if person.department_id and person.department else None
    manager = (
        ManagerReference.model_construct(value=str(person.manager_id), ref=f"{base}/Users/{person.manager_id}")
        if person.manager_id
        else None
    )
    if department or manager:
        resource[TandemEnterpriseUser] = TandemEnterpriseUser.model_construct(department=department, manager=manager)
    return resource


def group_model(team: Team, member_ids: list[int], base: str) -> ScimGroup:
    """A team as a SCIM Group, with the ids of the people in it."""
    return ScimGroup.model_construct(
        schemas=[str(ScimGroup.__schema__)],
        id=str(team.id),
        external_id=team.external_id,
        display_name=team.name,
        members=[
            GroupMemberReference.model_construct(value=str(i), ref=f"{base}/Users/{i}", type="User")
            for i in sorted(member_ids)
        ]
        or None,
        meta=Meta(resource_type="Group", location=f"{base}/Groups/{team.id}"),
    )


def versioned(resource: Any) -> str:
    """Give the resource its entity tag (computed from everything else it shows); returns the tag."""
    full = resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    tag = etag_of(full)
    resource.meta.version = tag
    return tag


def dump(resource: Any, context: Context, params: ResponseParameters | None = None) -> dict[str, Any]:
    return resource.model_dump(scim_ctx=context, response_parameters=params)
