"""SCIM Groups → Tandem teams. A Group is a team; its members are the people whose team it is (a person is in
at most one team, so adding someone to a group moves them out of their previous team).

- Groups carry no department, so a team a client creates goes into the default department
  (``SCIM_DEFAULT_DEPARTMENT``, "Unassigned" unless configured); when its first members arrive it moves to
  the department of the first of them who has one, so teams land where their people are. Joining a team puts
  a person in the team's department (a team lives in one).
- A DELETE removes a team only when no one is in it; otherwise it answers 409 and changes nothing (remove the
  members first). Tandem never drops people out of a team because a group went away.
- A PUT that leaves out ``members`` leaves them as they are; ``"members": []`` empties the team.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import selectinload

from program.accounts import services as accounts
from program.accounts.models import Team, User
from program.errors import DomainError
from program.extensions import db
from program.scim.audit import ClientActor, log, person_snapshot, team_snapshot
from program.scim.people import department_id, find_person, refresh_person, refusal, visible
from program.scim.protocol import ScimError, check_text, invalid_value, uniqueness
from program.validation import column_length

DEFAULT_DEPARTMENT = "Unassigned"


def default_department_name() -> str:
    return current_app.config.get("SCIM_DEFAULT_DEPARTMENT") or DEFAULT_DEPARTMENT


def _id(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 10 else None


def find_team(group_id: str | None, *, for_update: bool = False) -> Team | None:
    """The team with this SCIM id; ``for_update``: locked until the commit (see ``people.find_person``)."""
    ident = _id(group_id)
    if ident is None:
        return None
    stmt = select(Team).where(Team.id == ident)
    if for_update:  # of=Team: the department comes by an outer join, which can't be locked
        stmt = stmt.with_for_update(of=Team).execution_options(populate_existing=True)
    return db.session.scalar(stmt)


def member_ids(team_ids: list[int]) -> dict[int, list[int]]:
    """The ids of the people (those the client may see) in each of these teams, in one query."""
    found: dict[int, list[int]] = {i: [] for i in team_ids}
    if team_ids:
        rows = db.session.execute(select(User.team_id, User.id).where(User.team_id.in_(team_ids), visible()))
        for team_id, user_id in rows:
            found[team_id].append(user_id)
    return found


def teams_page(condition: ColumnElement[bool] | None, start: int, count: int) -> tuple[int, list[Team]]:
    where = [condition] if condition is not None else []
    total = db.session.scalar(select(func.count()).select_from(Team).where(*where)) or 0
    if count <= 0:
        return total, []
    teams = db.session.scalars(
        select(Team)
        .where(*where)
        .options(selectinload(Team.department))
        .order_by(Team.id)
        .offset(start - 1)
        .limit(count)
    ).all()
    return total, list(teams)


@dataclass
class WantedTeam:
    name: str
    external_id: str | None
    member_ids: list[int] | None  # None: unchanged


def wanted_team_from(resource: Any, *, put: bool = False) -> WantedTeam:
    name = check_text("displayName", resource.display_name, column_length(Team.name))
    if not name:
        raise invalid_value("displayName is required")
    wanted = WantedTeam(
        name=name,
        external_id=check_text("externalId", resource.external_id, column_length(Team.external_id)) or None,
        member_ids=None,
    )
    if not (put and "members" not in resource.model_fields_set):
        ids: list[int] = []
        for member in resource.members or []:
            if member.type and member.type.lower() != "user":
                raise invalid_value("A team holds people only: members must be Users")
            ident = _id((member.value or "").strip())
            if ident is None or find_person(str(ident)) is None:
                raise invalid_value(f"There is no User {member.value!r} to add to the team")
            if ident not in ids:
                ids.append(ident)
        wanted.member_ids = ids
    return wanted


def _check_name_free(name: str, dept_id: int, team: Team | None) -> None:
    clash = db.session.scalar(select(Team).where(Team.department_id == dept_id, func.lower(Team.name) == name.lower()))
    if clash is not None and clash is not team:
        raise uniqueness(f"The department already has a team called {name!r}")


def _members(team: Team) -> list[User]:
    return list(db.session.scalars(select(User).where(User.team_id == team.id, visible()).order_by(User.id)))


def _move(actor: ClientActor, person: User, team: Team | None, now: datetime) -> None:
    """Put a person in a team (and the team's department), or out of their team, through save_person."""
    before = person_snapshot(person)
    data = accounts.PersonData(
        email=person.email,
        name=person.name,
        role=person.role,
        department_id=team.department_id if team is not None else person.department_id,
        team_id=team.id if team is not None else None,
        manager_id=person.manager_id,
        timezone=person.timezone,
        active=person.active,
    )
    try:
        accounts.save_person(actor.as_editor(), data, person)  # type: ignore[arg-type]
    except DomainError as exc:
        raise refusal(exc) from None
    refresh_person(person)
    log(actor, "updated", "User", person.id, before, person_snapshot(person), now)


def _settle_department(actor: ClientActor, team: Team, current: list[User], newcomers: list[User]) -> None:
    """An empty team still in the default department moves to its first member's department."""
    if current or not newcomers or team.department.name.lower() != default_department_name().lower():
        return
    first = next((p for p in newcomers if p.department_id and p.department_id != team.department_id), None)
    if first is None:
        return
    if db.session.scalar(
        select(Team.id).where(Team.department_id == first.department_id, func.lower(Team.name) == team.name.lower())
    ):
        return  # that department has a team of this name already: stay put
    team.department_id = first.department_id
    db.session.flush()
    db.session.expire(team, ["department"])


def _set_members(actor: ClientActor, team: Team, wanted_ids: list[int], now: datetime) -> None:
    current = _members(team)
    current_ids = {p.id for p in current}
    newcomers = [db.session.get(User, i) for i in wanted_ids if i not in current_ids]
    newcomers = [p for p in newcomers if p is not None]
    _settle_department(actor, team, current, newcomers)
    for person in current:
        if person.id not in wanted_ids:
            _move(actor, person, None, now)
    for person in newcomers:
        _move(actor, person, team, now)


def create_team(actor: ClientActor, wanted: WantedTeam, now: datetime) -> Team:
    dept_id = department_id(actor, default_department_name(), now)
    assert dept_id is not None
    _check_name_free(wanted.name, dept_id, None)
    try:
        team = accounts.add_team(actor, wanted.name, dept_id, None)  # type: ignore[arg-type]
    except DomainError as exc:
        raise refusal(exc) from None
    team.external_id = wanted.external_id
    db.session.flush()
    if wanted.member_ids:
        _set_members(actor, team, wanted.member_ids, now)
    db.session.expire(team, ["department"])
    log(actor, "created", "Group", team.id, {}, team_snapshot(team, _members(team)), now)
    return team


def update_team(actor: ClientActor, team: Team, wanted: WantedTeam, now: datetime) -> Team:
    """Rename, re-key and set the members of a team (accounts has no team-editing service: the rule it keeps
    for a new team — a name unique within its department — is kept here too)."""
    before = team_snapshot(team, _members(team))
    _check_name_free(wanted.name, team.department_id, team)
    team.name = wanted.name
    team.external_id = wanted.external_id
    if wanted.member_ids is not None:
        _set_members(actor, team, wanted.member_ids, now)
    db.session.flush()
    db.session.expire(team, ["department"])
    log(actor, "updated", "Group", team.id, before, team_snapshot(team, _members(team)), now)
    return team


def delete_team(actor: ClientActor, team: Team, now: datetime) -> None:
    members = _members(team)
    if members:
        raise ScimError(
            409,
            f"{len(members)} people are still in the team {team.name!r}; remove the members first, then delete it",
        )
    # Deactivated and deleted people may still name the team (their history does): they leave it with it.
    for person in db.session.scalars(select(User).where(User.team_id == team.id)):
        person.team_id = None
    before = team_snapshot(team, [])
    db.session.flush()
    db.session.delete(team)
    db.session.flush()
    log(actor, "deleted", "Group", team.id, before, {}, now)
