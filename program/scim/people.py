"""SCIM Users → Tandem people. Every change goes through ``accounts.services`` (``save_person``,
``deactivate_person``, ``reactivate_person``, ``add_department``), so provisioning obeys the same rules as the
people admin — and a deactivation gives up the person's upcoming seats and places through the accounts signal,
as it does there — and each change is written to the provisioning log in its transaction.

Rules that are Tandem's own:

- Tandem never deletes a person. A DELETE deactivates them and hides them from the client (the log's
  "deleted" entry says so), so the client sees the 404 RFC 7644 §3.6 asks for; their history stays. A later
  POST with the same userName brings the same person back ("restored"). ``active: false`` also deactivates,
  but the person stays visible with ``active: false``.
- A PUT that leaves out ``roles`` or the enterprise extension leaves the person's role, department and manager
  as they are: clients that don't manage them must not wipe what HR set in Tandem. Saying them empty clears them.
- An admin keeps their role whatever a client says; a client can't make anyone admin.
- A department that changes takes the person out of a team of another department (a team lives in one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, String, and_, cast, exists, func, not_, select
from sqlalchemy.orm import aliased, selectinload

from program.accounts import services as accounts
from program.accounts.models import Department, Role, User
from program.accounts.provisioning import ProvisioningEvent
from program.errors import DomainError, ValidationFailed
from program.extensions import db
from program.scim.audit import ClientActor, log, person_snapshot
from program.scim.protocol import ScimError, check_text, invalid_value, uniqueness
from program.scim.resources import SCIM_ROLES, USER_SCHEMA, TandemEnterpriseUser
from program.validation import column_length

UNHIDING = ("reactivated", "restored")  # log actions after which a deleted person is visible again


def deleted_condition() -> ColumnElement[bool]:
    """People a client deleted: inactive, with a "deleted" log entry that no later restoration undid."""
    deleted, later = aliased(ProvisioningEvent), aliased(ProvisioningEvent)
    return and_(
        User.active.is_(False),
        exists().where(
            deleted.resource_type == "User",
            deleted.action == "deleted",
            deleted.resource_id == cast(User.id, String),
            ~exists().where(
                later.resource_type == "User",
                later.resource_id == deleted.resource_id,
                later.action.in_(UNHIDING),
                later.id > deleted.id,
            ),
        ),
    )


def visible() -> ColumnElement[bool]:
    """People a client may see: everyone but those it deleted."""
    return not_(deleted_condition())


def _id(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 10 else None


def find_person(user_id: str | None, *, for_update: bool = False) -> User | None:
    """The person with this SCIM id, unless the client deleted them. ``for_update``: locked until the commit,
    so a change checked against an ETag (If-Match) is applied to the version it was checked against."""
    ident = _id(user_id)
    if ident is None:
        return None
    stmt = select(User).where(User.id == ident, visible())
    if for_update:
        stmt = stmt.with_for_update(of=User).execution_options(populate_existing=True)
    return db.session.scalar(stmt)


def people_page(condition: ColumnElement[bool] | None, start: int, count: int) -> tuple[int, list[User]]:
    """(total, the page): people matching the filter, by id, with what their representation shows loaded in
    a fixed number of queries whatever the page size."""
    where = [visible()] + ([condition] if condition is not None else [])
    total = db.session.scalar(select(func.count()).select_from(User).where(*where)) or 0
    if count <= 0:
        return total, []
    people = db.session.scalars(
        select(User)
        .where(*where)
        .options(selectinload(User.department), selectinload(User.team))
        .order_by(User.id)
        .offset(start - 1)
        .limit(count)
    ).all()
    return total, list(people)


# --- what a client asks for ---------------------------------------------------------------------------


@dataclass
class Wanted:
    """A person as a client wants them, in Tandem's terms. ``None`` for role/department/manager: unchanged."""

    email: str
    name: str
    external_id: str | None
    active: bool
    role: str | None = None
    set_organisation: bool = False  # whether department and manager below are meant
    department: str | None = None
    manager_id: int | None = None


def prepare_payload(payload: Any, person: User | None) -> dict[str, Any]:
    """Fill what Tandem requires from what identity providers send: a displayName from ``name`` when it is
    missing, and ``active`` (true for a new person, unchanged in a PUT)."""
    if not isinstance(payload, dict):
        raise ScimError(400, "The body must be a JSON object", "invalidSyntax")
    payload = dict(payload)
    keys = {key.lower(): key for key in payload}
    if not payload.get(keys.get("displayname", "displayName")):
        name = payload.get(keys.get("name", "name"))
        if isinstance(name, dict):
            parts = {k.lower(): v for k, v in name.items() if isinstance(v, str)}
            built = parts.get("formatted") or " ".join(
                p for p in (parts.get("givenname"), parts.get("familyname")) if p
            )
            if built:
                payload[keys.get("displayname", "displayName")] = built
    if keys.get("active") is None or payload.get(keys["active"]) is None:
        payload.pop(keys.get("active", "active"), None)
        payload["active"] = True if person is None else person.active
    return payload


def _role(resource: Any) -> str:
    values = [(r.value or "").strip().lower() for r in resource.roles or [] if r.value]
    if not values:
        return Role.STAFF.value
    wanted = values[-1]  # a PATCH "add" appends: the role added last is the one meant
    if wanted == Role.ADMIN.value:
        raise invalid_value("The admin role is granted in Tandem, not by provisioning")
    if wanted != Role.STAFF.value and wanted not in SCIM_ROLES:
        raise invalid_value(f"Unknown role {wanted!r}: use one of {', '.join(SCIM_ROLES)} (or none, for staff)")
    return wanted


def wanted_from(resource: Any, *, put: bool = False, person: User | None = None) -> Wanted:
    """Read a validated SCIM User; ``put``: attributes left out of a PUT keep their value (see the module)."""
    fields = resource.model_fields_set
    email = check_text("userName", resource.user_name, column_length(User.email)) or ""
    try:
        email = accounts.check_email(email)
    except ValidationFailed as exc:
        raise invalid_value(f"userName must be an email address ({exc.message})") from None
    name = check_text("displayName", resource.display_name, column_length(User.name))
    if not name:
        raise invalid_value("displayName is required")
    wanted = Wanted(
        email=email,
        name=name,
        external_id=check_text("externalId", resource.external_id, column_length(User.external_id)) or None,
        active=bool(resource.active),
    )
    is_admin = person is not None and person.role == Role.ADMIN.value
    if not is_admin and not (put and "roles" not in fields):
        wanted.role = _role(resource)
    enterprise = resource[TandemEnterpriseUser]
    if not (put and enterprise is None):
        wanted.set_organisation = True
        if enterprise is not None:
            wanted.department = check_text("department", enterprise.department, column_length(Department.name)) or None
            if enterprise.manager is not None and enterprise.manager.value:
                manager_id = _id(enterprise.manager.value.strip())
                if manager_id is None or (person is not None and manager_id == person.id):
                    raise invalid_value("manager.value must be the id of another User")
                if find_person(str(manager_id)) is None:
                    raise invalid_value(f"There is no User {manager_id} to be the manager")
                wanted.manager_id = manager_id
    return wanted


def _addresses(value: Any) -> list[str]:
    """The addresses a PATCH value on ``emails`` carries: plain strings, or the ``value`` of each entry."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [v for k, v in value.items() if k.lower() == "value" and isinstance(v, str)]
    if isinstance(value, list):
        return [address for item in value for address in _addresses(item)]
    return []


def drop_address_repeats(body: Any, person: User) -> dict[str, Any] | None:
    """Identity providers send ``emails`` with their changes; Tandem's address is the userName. A PATCH
    operation on ``emails`` that repeats the current address is dropped; one that changes or removes it is
    refused (400 mutability: change the userName instead). Returns the body left, None when nothing is."""
    if not isinstance(body, dict):
        raise ScimError(400, "The body must be a PatchOp", "invalidSyntax")
    key = next((k for k in body if k.lower() == "operations"), None)
    operations = body.get(key) if key else None
    if not isinstance(operations, list):
        return body

    def refuse() -> ScimError:
        return ScimError(400, "emails mirrors userName: change the userName to change the address", "mutability")

    def repeats(value: Any) -> bool:
        found = _addresses(value)
        return bool(found) and all(a.strip().lower() == person.email for a in found)

    kept = []
    for operation in operations:
        if not isinstance(operation, dict):
            kept.append(operation)
            continue
        path = str(operation.get("path") or "").lower()
        if path.startswith("emails") or path.startswith(f"{USER_SCHEMA.lower()}:emails"):
            if str(operation.get("op", "")).lower() == "remove" or not repeats(operation.get("value")):
                raise refuse()
            continue
        value = operation.get("value")
        if not path and isinstance(value, dict):
            emails_key = next((k for k in value if k.lower() == "emails"), None)
            if emails_key is not None:
                if not repeats(value[emails_key]):
                    raise refuse()
                operation = {**operation, "value": {k: v for k, v in value.items() if k != emails_key}}
        kept.append(operation)
    return {**body, key: kept} if kept else None


# --- changes ------------------------------------------------------------------------------------------


_FIELD_NAMES = {"email": "userName", "name": "displayName", "manager_id": "manager", "team_id": "groups"}


def refusal(exc: DomainError) -> ScimError:
    """An accounts service's refusal as a SCIM error (409 for an address someone has, else 400)."""
    errors = getattr(exc, "errors", None) or {exc.field or "": exc.message}
    detail = "; ".join(f"{_FIELD_NAMES.get(k, k)}: {m}" if k else m for k, m in errors.items())
    if "email" in errors and "already" in errors["email"]:
        return uniqueness(detail)
    return invalid_value(detail)


def department_id(actor: ClientActor, name: str | None, now: datetime) -> int | None:
    """The department called ``name`` (any case), created if it is new."""
    if not name:
        return None
    found = db.session.scalar(select(Department.id).where(func.lower(Department.name) == name.lower()))
    if found is not None:
        return found
    try:
        # A department's function (sales, marketing) decides who pairs with whom; a name says it at best.
        function = name.lower() if name.lower() in ("sales", "marketing") else "other"
        department = accounts.add_department(actor, name, function)  # type: ignore[arg-type]
    except DomainError as exc:
        raise invalid_value(f"department: {exc.message}") from None
    db.session.flush()
    log(actor, "created", "Department", department.id, {}, {"name": department.name}, now)
    return department.id


def refresh_person(person: User) -> None:
    """Write the change and forget the relationships its ids replaced (the log and the answer read them)."""
    db.session.flush()
    db.session.expire(person, ["department", "team", "manager"])


def save_person(actor: ClientActor, person: User | None, wanted: Wanted, now: datetime) -> User:
    """Create (``person`` None) or update a person to what the client wants; logs the change."""
    clash = db.session.scalar(select(User).where(User.email == wanted.email))
    restoring = False
    if clash is not None and clash is not person:
        if person is None and find_person(str(clash.id)) is None:
            person, restoring = clash, True  # the client deleted them once: the same person comes back
        else:
            raise uniqueness(f"Someone already has the userName {wanted.email}")
    before = person_snapshot(person)
    if wanted.set_organisation:
        dept_id = department_id(actor, wanted.department, now)
        manager_id = wanted.manager_id
    else:
        dept_id = person.department_id if person else None
        manager_id = person.manager_id if person else None
    team_id = None
    if person is not None and person.team_id and person.team is not None:
        team_id = person.team_id if person.team.department_id == dept_id else None
    role = wanted.role or (person.role if person else Role.STAFF.value)
    if person is not None and person.role == Role.ADMIN.value:
        role = Role.ADMIN.value
    data = accounts.PersonData(
        email=wanted.email,
        name=wanted.name,
        role=role,
        department_id=dept_id,
        team_id=team_id,
        manager_id=manager_id,
        timezone=person.timezone if person else current_app.config["DEFAULT_TIMEZONE"],
        active=person.active if person else True,
    )
    creating = person is None
    try:
        person = accounts.save_person(actor.as_editor(), data, person)  # type: ignore[arg-type]
    except DomainError as exc:
        raise refusal(exc) from None
    person.external_id = wanted.external_id
    refresh_person(person)
    if creating:
        log(actor, "created", "User", person.id, {}, person_snapshot(person), now)
    elif restoring:
        log(actor, "restored", "User", person.id, before, person_snapshot(person), now)
    else:
        log(actor, "updated", "User", person.id, before, person_snapshot(person), now)
    set_active(actor, person, wanted.active, now)
    return person


def set_active(actor: ClientActor, person: User, active: bool, now: datetime) -> None:
    """Deactivate (gives up the person's upcoming places) or reactivate, through the accounts services."""
    if person.active == active:
        return
    before = person_snapshot(person)
    try:
        if active:
            accounts.reactivate_person(actor, person)  # type: ignore[arg-type]
        else:
            accounts.deactivate_person(actor, person)  # type: ignore[arg-type]
    except DomainError as exc:
        raise invalid_value(exc.message) from None
    refresh_person(person)
    log(actor, "reactivated" if active else "deactivated", "User", person.id, before, person_snapshot(person), now)


def delete_person(actor: ClientActor, person: User, now: datetime) -> None:
    """What a client's DELETE does: deactivate (places given up) and hide; nothing is removed."""
    before = person_snapshot(person)
    if person.active:
        try:
            accounts.deactivate_person(actor, person)  # type: ignore[arg-type]
        except DomainError as exc:
            raise invalid_value(exc.message) from None
        refresh_person(person)
    log(actor, "deleted", "User", person.id, before, person_snapshot(person), now)
