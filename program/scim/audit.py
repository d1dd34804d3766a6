"""Who acts for a SCIM client, and what the provisioning log records of people and teams.

A SCIM client is no person, yet the accounts services take an acting admin. ``ClientActor`` stands in for
one: it has the admin role (an identity provider manages people) and no id, so what the services record of
the actor (a participation's history, when a deactivation gives up a seat) names nobody rather than an admin
who did not act. The provisioning log names the client: ``scim:<token name>``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select

from program.accounts import provisioning
from program.accounts.models import Role, Team, User
from program.extensions import db

# Never a person's id: see ClientActor.as_editor.
NO_PERSON = -1


@dataclass(frozen=True)
class ClientActor:
    """The acting "admin" the accounts services see when a SCIM client changes people."""

    label: str  # "scim:<token name>", as the provisioning log shows it
    id: int | None = None
    role: str = Role.ADMIN.value
    name: str = "identity provider"
    email: str = ""

    @property
    def is_admin(self) -> bool:
        return True

    @property
    def is_hr(self) -> bool:
        return True

    def as_editor(self) -> ClientActor:
        """The actor for ``accounts.services.save_person``, which refuses to let an admin demote or deactivate
        themselves by comparing the actor's id with the person's — and a person being created has no id yet
        (None == None). An id no person has keeps that rule for people and out of the client's way.
        (save_person records the actor only when it deactivates, which SCIM never asks it to do: deactivation
        goes through ``deactivate_person`` with the id-less actor.)"""
        return replace(self, id=NO_PERSON)


def client_actor(token_name: str) -> ClientActor:
    return ClientActor(label=f"scim:{token_name}")


def person_snapshot(person: User | None) -> dict[str, Any]:
    """What the log shows of a person: the fields provisioning can change, readable."""
    if person is None:
        return {}
    return {
        "email": person.email,
        "name": person.name,
        "role": person.role,
        "active": person.active,
        "department": person.department.name if person.department else None,
        "team": person.team.name if person.team else None,
        "manager": person.manager.email if person.manager else None,
        "external_id": person.external_id,
    }


def team_snapshot(team: Team | None, members: list[User] | None = None) -> dict[str, Any]:
    if team is None:
        return {}
    snapshot: dict[str, Any] = {
        "name": team.name,
        "department": team.department.name if team.department else None,
        "external_id": team.external_id,
    }
    if members is not None:
        snapshot["members"] = sorted(m.email for m in members)
    return snapshot


def log(
    actor: ClientActor,
    action: str,
    resource_type: str,
    resource_id: object,
    before: dict[str, Any],
    after: dict[str, Any],
    now: datetime,
) -> None:
    """One provisioning event (skipped when an "updated" changed nothing)."""
    if action == "updated" and before == after:
        return
    provisioning.record(actor.label, action, resource_type, resource_id, before, after, now)


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(field, before, after) for each field an entry changed, in a stable order: the log's readable diff."""
    fields = list(before) + [key for key in after if key not in before]
    return [(key, before.get(key), after.get(key)) for key in fields if before.get(key) != after.get(key)]


def log_actors() -> list[str]:
    """Everyone the provisioning log names, for its filter."""
    return list(
        db.session.scalars(
            select(provisioning.ProvisioningEvent.actor).distinct().order_by(provisioning.ProvisioningEvent.actor)
        )
    )
