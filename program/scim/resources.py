"""What Tandem's SCIM server serves, as scim2-models classes: the User and Group resources cut down to the
attributes Tandem stores, the enterprise extension's department and manager, and the three discovery documents
(``/ServiceProviderConfig``, ``/ResourceTypes``, ``/Schemas``) built from those same classes, so what is
published is exactly what is read and written.

A Tandem person has one address, one name and one role, so:

- ``userName`` is the person's email address (case-insensitive, unique). ``emails`` mirrors it and is
  read-only: an identity provider may send it (it is ignored), and a PATCH may only repeat the current address.
- ``displayName`` is the person's name and is required; a payload with only ``name`` gets its displayName from
  ``name.formatted`` or ``givenName familyName`` (see ``people.prepare_payload``).
- ``active`` is required (a POST without it creates an active person; a PUT without it keeps the current state).
- ``roles`` holds at most the one Tandem role that is not the default: ``leader`` or ``hr``. No role is staff.
  Admin is granted in Tandem, never through provisioning.
- ``groups`` (read-only) is the person's team; a team is a Group, its members are people.
- enterprise ``department`` is a department name (created when new); ``manager`` references another User.
"""

from typing import Annotated

from pydantic import EmailStr, Field
from scim2_models import (
    AnyExtension,
    AuthenticationScheme,
    Bulk,
    CaseExact,
    ChangePassword,
    ComplexAttribute,
    ETag,
    Extension,
    Filter,
    Mutability,
    Patch,
    Reference,
    Required,
    Resource,
    ResourceType,
    Schema,
    ScimPolicy,
    ServiceProviderConfig,
    Sort,
    Uniqueness,
)
from scim2_models.urn import URN

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

MAX_RESULTS = 200  # the most resources one list answers (ServiceProviderConfig.filter.maxResults)
DEFAULT_COUNT = 100  # a list without ``count``
SCIM_ROLES = ("leader", "hr")  # the roles an identity provider may give; no role is staff

# Identity providers send more than Tandem keeps (titles, phone numbers, addresses): unknown attributes are
# dropped rather than refused, and a PATCH on one changes nothing. Microsoft Entra's dialect (a remove carrying
# the value to remove, a filter naming an entry that does not exist yet) is read as Entra means it.
POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)


# References name the resource type they point to (RFC 7643 §2.3.7): these strings are not forward references.
GroupReference = Reference["Group"]
UserReference = Reference["User"]


class EmailAddress(ComplexAttribute):
    """The person's address: Tandem keeps one, the userName."""

    value: Annotated[EmailStr | None, Mutability.read_only] = None
    """The address (the same as userName)."""

    type: Annotated[str | None, Mutability.read_only] = Field(None, examples=["work"])
    """Always 'work'."""

    primary: Annotated[bool | None, Mutability.read_only] = None
    """Always true: it is the only one."""


class TeamMembership(ComplexAttribute):
    """The team the person is in (a Group)."""

    value: Annotated[str | None, Mutability.read_only, CaseExact.true] = None
    """The id of the Group."""

    ref: Annotated[GroupReference | None, Mutability.read_only] = Field(
        None, serialization_alias="$ref", validation_alias="$ref"
    )
    """The URI of the Group."""

    display: Annotated[str | None, Mutability.read_only] = None
    """The team's name."""


class RoleGrant(ComplexAttribute):
    """A Tandem role beyond the default (staff)."""

    value: Annotated[str | None, Required.true] = Field(None, examples=list(SCIM_ROLES))
    """'leader' or 'hr' ('staff' is accepted and means no role)."""


class ManagerReference(ComplexAttribute):
    """The person's manager, another User."""

    value: Annotated[str | None, Required.true, CaseExact.true] = None
    """The id of the manager's User resource."""

    ref: Annotated[UserReference | None, Mutability.read_write] = Field(
        None, serialization_alias="$ref", validation_alias="$ref"
    )
    """The URI of the manager's User resource."""


class TandemEnterpriseUser(Extension):
    """Enterprise User: the attributes of the extension that Tandem keeps."""

    __schema__ = URN(ENTERPRISE_SCHEMA)

    department: str | None = None
    """The name of the person's department (created in Tandem when it is new)."""

    manager: ManagerReference | None = None
    """The person's manager."""


class ScimUser(Resource[AnyExtension]):
    """A person who may take part in the programme."""

    __schema__ = URN(USER_SCHEMA)

    user_name: Annotated[str | None, Uniqueness.server, Required.true] = None
    """The person's email address, with which they sign in. Case-insensitive."""

    display_name: Annotated[str | None, Required.true] = None
    """The person's name as Tandem shows it."""

    active: Annotated[bool | None, Required.true] = None
    """False: the person is deactivated (cannot sign in; their upcoming places are given up)."""

    emails: Annotated[list[EmailAddress] | None, Mutability.read_only] = None
    """The person's address (the userName), read-only."""

    roles: list[RoleGrant] | None = None
    """The person's Tandem role when it is not staff."""

    groups: Annotated[list[TeamMembership] | None, Mutability.read_only] = None
    """The person's team."""


class GroupMemberReference(ComplexAttribute):
    """A person in the team."""

    value: Annotated[str | None, Mutability.immutable, CaseExact.true] = None
    """The id of the member's User resource."""

    ref: Annotated[UserReference | None, Mutability.immutable] = Field(
        None, serialization_alias="$ref", validation_alias="$ref"
    )
    """The URI of the member's User resource."""

    type: Annotated[str | None, Mutability.immutable] = Field(None, examples=["User"])
    """Always 'User': teams hold people, not other teams."""


class ScimGroup(Resource[AnyExtension]):
    """A team: people who work together in one department."""

    __schema__ = URN(GROUP_SCHEMA)

    display_name: Annotated[str | None, Required.true] = None
    """The team's name (unique within its department)."""

    members: list[GroupMemberReference] | None = None
    """The people in the team; a person is in at most one team."""


UserModel = ScimUser[TandemEnterpriseUser]


def _published(schema: Schema, name: str, description: str) -> Schema:
    schema.name = name
    schema.description = description
    return schema


def _schemas() -> list[Schema]:
    """What /Schemas publishes: Tandem's three, and the three of discovery itself (RFC 7643 §7)."""
    return [
        _published(ScimUser.to_schema(), "User", "A person in Tandem"),
        _published(TandemEnterpriseUser.to_schema(), "EnterpriseUser", "Enterprise User (department, manager)"),
        _published(ScimGroup.to_schema(), "Group", "A team in Tandem"),
        _published(ServiceProviderConfig.to_schema(), "ServiceProviderConfig", "Service Provider Configuration"),
        _published(ResourceType.to_schema(), "ResourceType", "Resource Type"),
        _published(Schema.to_schema(), "Schema", "Schema"),
    ]


def service_provider_config() -> ServiceProviderConfig:
    """What Tandem's server supports, and nothing more: PATCH, filters (up to MAX_RESULTS per page), ETags and
    bearer tokens; no bulk, no sorting, no password changes."""
    return ServiceProviderConfig(
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=True),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="Bearer token",
                description="A token an admin creates on Tandem's SCIM tokens page or with `flask scim-token create`.",
                primary=True,
            )
        ],
    )


def resource_types() -> list[ResourceType]:
    user = ResourceType.from_resource(UserModel)
    user.description = "People"
    group = ResourceType.from_resource(ScimGroup)
    group.description = "Teams"
    return [user, group]


SCHEMAS = _schemas()
SCHEMAS_BY_ID = {schema.id.lower(): schema for schema in SCHEMAS}
