"""Account rules: email addresses and passwords, people (create, edit, deactivate), departments and teams,
and the lists the admin pages show. Sign-in and reset links are in ``signin``; the people import in
``people_import``.

Services take plain values, the acting user and ``now``; they never touch the request.
"""

from __future__ import annotations

from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func, or_, select
from sqlalchemy.orm import contains_eager, selectinload
from werkzeug.security import check_password_hash, generate_password_hash

from program.accounts.models import Department, Role, Team, User, new_session_token
from program.accounts.signals import person_deactivated
from program.errors import NotAllowed, ValidationFailed
from program.extensions import db
from program.mail.models import OutboxMessage
from program.timeutil import is_valid_timezone, utcnow

MIN_PASSWORD_LENGTH = 10


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def check_email(email: str) -> str:
    """Return the normalised address or raise ValidationFailed with a readable reason."""
    email = normalise_email(email)
    if not email:
        raise ValidationFailed("Email is required.", field="email")
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationFailed(f"Invalid email address: {exc}", field="email") from None
    return email


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def check_new_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters.", field="new_password")


def set_password(user: User, password: str) -> None:
    """Set a new password and end every other session of this user."""
    check_new_password(password)
    user.password_hash = hash_password(password)
    user.session_token = new_session_token()


def change_password(user: User, current_password: str, new_password: str) -> None:
    if not (user.password_hash and check_password_hash(user.password_hash, current_password or "")):
        raise ValidationFailed("Your current password is not correct.", field="current_password")
    set_password(user, new_password)


# --- people --------------------------------------------------------------------------------


@dataclass
class PersonData:
    email: str
    name: str
    role: str = Role.STAFF.value
    department_id: int | None = None
    team_id: int | None = None
    manager_id: int | None = None
    timezone: str = "UTC"
    active: bool = True


def require_admin(actor: User) -> None:
    if actor.role != Role.ADMIN.value:
        raise NotAllowed("Only an admin can manage people.")


def _validate_person(data: PersonData, existing: User | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    try:
        data.email = check_email(data.email)
    except ValidationFailed as exc:
        errors["email"] = exc.message
    else:
        clash = db.session.scalar(select(User).where(User.email == data.email))
        if clash is not None and clash is not existing:
            errors["email"] = "Someone already has this email address."
    data.name = (data.name or "").strip()
    if not data.name:
        errors["name"] = "Name is required."
    if data.role not in {r.value for r in Role}:
        errors["role"] = "Choose a role."
    if not is_valid_timezone(data.timezone):
        errors["timezone"] = "Choose a timezone from the list."
    if data.team_id:
        team = db.session.get(Team, data.team_id)
        if team is None:
            errors["team_id"] = "Choose a team from the list."
        elif data.department_id and team.department_id != data.department_id:
            errors["team_id"] = "That team belongs to another department."
    if data.manager_id:
        manager = db.session.get(User, data.manager_id)
        if manager is None:
            errors["manager_id"] = "Choose a manager from the list."
        elif existing is not None:
            seen = {existing.id}
            while manager is not None:
                if manager.id in seen:
                    errors["manager_id"] = "That would make a circle of managers."
                    break
                seen.add(manager.id)
                manager = manager.manager
    return errors


def save_person(actor: User, data: PersonData, person: User | None = None, password: str | None = None) -> User:
    """Create (person=None) or update a person. Raises ValidationFailed with per-field errors."""
    require_admin(actor)
    errors = _validate_person(data, person)
    if password:
        try:
            check_new_password(password)
        except ValidationFailed as exc:
            errors["password"] = exc.message
    if errors:
        raise ValidationFailed("Please correct the marked fields.", errors=errors)
    if person is None:
        person = User(email=data.email, name=data.name)
        db.session.add(person)
    if person.id == actor.id and (not data.active or data.role != Role.ADMIN.value):
        raise ValidationFailed("You can't remove your own admin role or deactivate yourself.")
    was_active = person.active
    person.email = data.email
    person.name = data.name
    person.role = data.role
    person.department_id = data.department_id or None
    person.team_id = data.team_id or None
    person.manager_id = data.manager_id or None
    person.timezone = data.timezone
    person.active = data.active
    if was_active and not data.active:
        person.session_token = new_session_token()
        db.session.flush()
        person_deactivated.send(person, actor=actor, now=utcnow())
    if password:
        set_password(person, password)
    return person


def deactivate_person(actor: User, person: User) -> None:
    """A deactivated person can't sign in; everything they did stays."""
    require_admin(actor)
    if person.id == actor.id:
        raise NotAllowed("You can't deactivate yourself.")
    person.active = False
    person.session_token = new_session_token()
    person_deactivated.send(person, actor=actor, now=utcnow())


def reactivate_person(actor: User, person: User) -> None:
    require_admin(actor)
    person.active = True


def add_department(actor: User, name: str, function: str) -> Department:
    require_admin(actor)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("Name is required.", field="name")
    if db.session.scalar(select(Department).where(func.lower(Department.name) == name.lower())):
        raise ValidationFailed("A department with this name exists.", field="name")
    if function not in ("sales", "marketing", "other"):
        raise ValidationFailed("Choose sales, marketing or other.", field="function")
    dept = Department(name=name, function=function)
    db.session.add(dept)
    return dept


def add_team(actor: User, name: str, department_id: int, manager_id: int | None) -> Team:
    require_admin(actor)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("Name is required.", field="name")
    if db.session.get(Department, department_id) is None:
        raise ValidationFailed("Choose a department.", field="department_id")
    if db.session.scalar(
        select(Team).where(Team.department_id == department_id, func.lower(Team.name) == name.lower())
    ):
        raise ValidationFailed("This department already has a team with this name.", field="name")
    team = Team(name=name, department_id=department_id, manager_id=manager_id or None)
    db.session.add(team)
    return team


# --- lists for the admin pages ---------------------------------------------------------------


@dataclass(frozen=True)
class PeopleFilter:
    q: str = ""
    role: str = ""
    department: int | None = None
    status: str = "active"  # active | inactive | anything else: everyone


def people_page(f: PeopleFilter, page: int, per_page: int) -> Pagination:
    """People matching the filter (name or email contains ``q``), by name, with department, team and manager."""
    stmt = select(User).options(selectinload(User.department), selectinload(User.team), selectinload(User.manager))
    if f.q:
        like = f"%{f.q.lower()}%"
        stmt = stmt.where(or_(func.lower(User.name).like(like), func.lower(User.email).like(like)))
    if f.role:
        stmt = stmt.where(User.role == f.role)
    if f.department:
        stmt = stmt.where(User.department_id == f.department)
    if f.status == "active":
        stmt = stmt.where(User.active.is_(True))
    elif f.status == "inactive":
        stmt = stmt.where(User.active.is_(False))
    return db.paginate(stmt.order_by(User.name, User.id), page=page, per_page=per_page, error_out=False)


def departments() -> list[Department]:
    return list(db.session.scalars(select(Department).order_by(Department.name)))


def teams() -> list[Team]:
    return list(db.session.scalars(select(Team).order_by(Team.name)))


def teams_by_department() -> list[Team]:
    """Every team with its department loaded, by department name, then team name."""
    return list(
        db.session.scalars(
            select(Team)
            .join(Department, Department.id == Team.department_id)
            .options(contains_eager(Team.department))
            .order_by(Department.name, Team.name)
        )
    )


def active_people_choices() -> list[tuple[int, str, str]]:
    """(id, name, email) of everyone active, by name: the choices for a manager."""
    return [
        tuple(row)
        for row in db.session.execute(
            select(User.id, User.name, User.email).where(User.active.is_(True)).order_by(User.name)
        )
    ]


def departments_with_counts() -> list[tuple[Department, int]]:
    """Each department with its number of active people, by name."""
    return [
        tuple(row)
        for row in db.session.execute(
            select(Department, func.count(User.id))
            .outerjoin(User, (User.department_id == Department.id) & User.active.is_(True))
            .group_by(Department.id)
            .order_by(Department.name)
        )
    ]


def teams_page(page: int, per_page: int) -> Pagination:
    return db.paginate(
        select(Team).options(selectinload(Team.manager)).join(Department).order_by(Department.name, Team.name),
        page=page,
        per_page=per_page,
        error_out=False,
    )


def outbox_page(to: str, status: str, page: int, per_page: int) -> Pagination:
    """The mail Tandem queued, newest first; ``to`` filters on the address (contains, any case), ``status`` on
    the delivery status."""
    stmt = select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    if to:
        stmt = stmt.where(func.lower(OutboxMessage.to).like(f"%{to}%"))
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    return db.paginate(stmt, page=page, per_page=per_page, error_out=False)


def outbox_counts() -> dict[str, int]:
    """How many messages are in each delivery status."""
    rows = db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
    return {status: count for status, count in rows}
