"""Account rules: sign-in with throttling, passwords and reset links, people and their import.

Services take plain values, the acting user and ``now``; they never touch the request.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import aliased
from werkzeug.security import check_password_hash, generate_password_hash

from program.accounts.models import (
    Department,
    LoginAttempt,
    PasswordResetRequest,
    PasswordResetToken,
    PeopleImport,
    Role,
    Team,
    ThrottleKey,
    User,
    new_session_token,
)
from program.errors import DomainError, NotAllowed, ValidationFailed
from program.extensions import db
from program.timeutil import is_valid_timezone
from program.validation import CONTROL_CHARACTERS, column_length, control_character_line

MIN_PASSWORD_LENGTH = 10


class InvalidCredentials(DomainError):
    pass


class LoginThrottled(DomainError):
    pass


class InvalidResetLink(DomainError):
    pass


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
        raise ValidationFailed(
            f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters.", field="new_password"
        )


def set_password(user: User, password: str) -> None:
    """Set a new password and end every other session of this user."""
    check_new_password(password)
    user.password_hash = hash_password(password)
    user.session_token = new_session_token()


# --- throttling ----------------------------------------------------------------------------
#
# Sign-in is throttled two ways. Per client (IP): LOGIN_MAX_FAILURES failures within LOGIN_LOCK_MINUTES
# lock that client for the rest of the window. Per address: no lock, which anyone could keep on any
# account, but a growing wait — after LOGIN_MAX_FAILURES failures each further attempt waits
# LOGIN_DELAY_SECONDS, doubling with every failure, up to LOGIN_LOCK_MINUTES. A successful sign-in or
# password reset clears the address's failures, and the failures of the client that made it for that
# address (its own typos), never its guesses at other addresses.
#
# Counting and recording must not race: every attempt first locks a row per address and per client
# (ThrottleKey), so concurrent attempts count one after another. The lock lasts until the caller commits.

ADDRESS_MEMORY = timedelta(days=1)  # failures for an address older than this no longer lengthen its wait


class ResetThrottled(DomainError):
    pass


def _lock_throttle_keys(*keys: tuple[str, str], now: datetime) -> None:
    """Lock the row of each (scope, key), creating it on first use, in the order given (addresses before
    clients, so two attempts never wait for each other in a circle). On PostgreSQL the UPDATE takes a row
    lock; on SQLite the first write takes the database's write lock."""
    table = ThrottleKey.__table__
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    for scope, key in keys:
        db.session.execute(insert(table).values(scope=scope, key=key, touched_at=now).on_conflict_do_nothing())
        db.session.execute(
            update(table).where(table.c.scope == scope, table.c.key == key).values(touched_at=now)
        )


def _wait_text(wait: timedelta) -> str:
    seconds = max(1, math.ceil(wait.total_seconds()))
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _client_wait(ip: str, now: datetime) -> timedelta | None:
    """How long this client is still locked, if it is."""
    lock = timedelta(minutes=current_app.config["LOGIN_LOCK_MINUTES"])
    limit = current_app.config["LOGIN_MAX_FAILURES"]
    later = aliased(LoginAttempt)
    forgiven = (
        select(later.id)
        .where(later.ip == LoginAttempt.ip, later.email == LoginAttempt.email, later.success.is_(True),
               later.at >= LoginAttempt.at)
        .exists()
    )
    failures = db.session.scalars(
        select(LoginAttempt.at)
        .where(LoginAttempt.ip == ip, LoginAttempt.success.is_(False), LoginAttempt.at > now - lock, ~forgiven)
        .order_by(LoginAttempt.at)
    ).all()
    if len(failures) < limit:
        return None
    return failures[-limit] + lock - now  # when the oldest failure that counts leaves the window


def _address_wait(email: str, now: datetime) -> timedelta | None:
    """How long an attempt for this address must still wait, if at all."""
    cfg = current_app.config
    limit = cfg["LOGIN_MAX_FAILURES"]
    last_success = db.session.scalar(
        select(func.max(LoginAttempt.at)).where(LoginAttempt.email == email, LoginAttempt.success.is_(True))
    )
    since = max(now - ADDRESS_MEMORY, last_success) if last_success else now - ADDRESS_MEMORY
    count, last_failure = db.session.execute(
        select(func.count(LoginAttempt.id), func.max(LoginAttempt.at)).where(
            LoginAttempt.email == email, LoginAttempt.success.is_(False), LoginAttempt.at > since
        )
    ).one()
    if count < limit:
        return None
    longest = cfg["LOGIN_LOCK_MINUTES"] * 60
    delay = min(cfg["LOGIN_DELAY_SECONDS"] * 2 ** min(count - limit, 32), longest)
    allowed_at = last_failure + timedelta(seconds=delay)
    return allowed_at - now if allowed_at > now else None


# --- sign-in -------------------------------------------------------------------------------


def authenticate(email: str, password: str, ip: str, now: datetime) -> User:
    """Return the user for these credentials, or raise InvalidCredentials (the same message for an
    unknown address and a wrong password) or LoginThrottled (see "throttling" above: nothing is checked).

    The caller commits, also after a refusal, to keep the record and release the throttle's row locks.
    """
    email = normalise_email(email)[:254]
    ip = (ip or "")[:64]
    _lock_throttle_keys(("sign-in-address", email), ("sign-in-client", ip), now=now)
    client_wait = _client_wait(ip, now)
    address_wait = _address_wait(email, now)
    if client_wait and (address_wait is None or client_wait >= address_wait):
        raise LoginThrottled(
            f"Too many failed sign-in attempts from your connection. Try again in {_wait_text(client_wait)}, "
            "or reset your password."
        )
    if address_wait:
        raise LoginThrottled(
            f"Too many failed sign-in attempts for this address. Try again in {_wait_text(address_wait)}, "
            "or reset your password to sign in at once."
        )
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None or not user.password_hash:
        # Hash anyway, so the time taken doesn't tell whether the address has an account.
        check_password_hash(_dummy_hash(), password or "")
    ok = bool(user and user.password_hash and check_password_hash(user.password_hash, password or ""))
    if ok and not user.active:
        ok = False
    db.session.add(LoginAttempt(email=email, ip=ip, success=ok, kind="sign_in", at=now))
    if not ok:
        raise InvalidCredentials("That email and password don't match an active account.")
    return user


@lru_cache(maxsize=4)
def _dummy_hash_for(method: str) -> str:
    return generate_password_hash(secrets.token_hex(16), method=method)


def _dummy_hash() -> str:
    return _dummy_hash_for(current_app.config["PASSWORD_HASH_METHOD"])


def change_password(user: User, current_password: str, new_password: str) -> None:
    if not (user.password_hash and check_password_hash(user.password_hash, current_password or "")):
        raise ValidationFailed("Your current password is not correct.", field="current_password")
    set_password(user, new_password)


def _token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def record_reset_request(email: str, ip: str, now: datetime) -> str:
    """Accept a "forgot password" request, or raise ResetThrottled; returns the normalised address.

    At most PASSWORD_RESET_MAX_PER_ADDRESS requests per address and PASSWORD_RESET_MAX_PER_CLIENT per
    client within PASSWORD_RESET_WINDOW_MINUTES, counted for every address, with or without an account,
    so neither the answer nor its timing tells which addresses have one. Counting holds under
    concurrency (row locks, as for sign-in); the caller commits.
    """
    email = normalise_email(email)[:254]
    ip = (ip or "")[:64]
    cfg = current_app.config
    window = timedelta(minutes=cfg["PASSWORD_RESET_WINDOW_MINUTES"])
    _lock_throttle_keys(("reset-address", email), ("reset-client", ip), now=now)
    refusals = []
    for column, value, limit, message in (
        (PasswordResetRequest.email, email, cfg["PASSWORD_RESET_MAX_PER_ADDRESS"],
         "Too many reset requests for this address. If it has an account, the links already sent are in its "
         "inbox (look in spam too); or try again in {wait}."),
        (PasswordResetRequest.ip, ip, cfg["PASSWORD_RESET_MAX_PER_CLIENT"],
         "Too many reset requests from your connection. Try again in {wait}."),
    ):
        recent = db.session.scalars(
            select(PasswordResetRequest.at).where(column == value, PasswordResetRequest.at > now - window)
            .order_by(PasswordResetRequest.at)
        ).all()
        if len(recent) >= limit:
            refusals.append((recent[-limit] + window - now, message))
    if refusals:
        wait, message = max(refusals, key=lambda r: r[0])
        raise ResetThrottled(message.format(wait=_wait_text(wait)), field="email")
    db.session.add(PasswordResetRequest(email=email, ip=ip, at=now))
    return email


def request_password_reset(email: str, now: datetime) -> tuple[User, str] | None:
    """Create a reset token for an active user with this address; None when there is none.

    The caller answers the same way in both cases, so the reply reveals nothing.
    """
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not user.active:
        return None
    raw = secrets.token_urlsafe(32)
    hours = current_app.config["PASSWORD_RESET_HOURS"]
    db.session.add(
        PasswordResetToken(user=user, token_hash=_token_digest(raw), created_at=now, expires_at=now + timedelta(hours=hours))
    )
    return user, raw


def find_reset_token(raw: str, now: datetime) -> PasswordResetToken:
    token = db.session.scalar(select(PasswordResetToken).where(PasswordResetToken.token_hash == _token_digest(raw or "")))
    if token is None or token.used_at is not None or token.expires_at <= now or not token.user.active:
        raise InvalidResetLink("This reset link is invalid, already used or expired. Ask for a new one.")
    return token


def reset_password(raw: str, new_password: str, now: datetime, ip: str = "") -> User:
    """Use a reset token once: set the password, spend this and every other open token of the user.

    Using the link proves the person owns the mailbox, so it counts as a successful sign-in for the
    throttle: it ends the address's wait and forgives this client's failures for the address.
    """
    token = find_reset_token(raw, now)
    set_password(token.user, new_password)
    for other in db.session.scalars(
        select(PasswordResetToken).where(PasswordResetToken.user_id == token.user_id, PasswordResetToken.used_at.is_(None))
    ):
        other.used_at = now
    db.session.add(LoginAttempt(email=token.user.email, ip=(ip or "")[:64], success=True, kind="reset", at=now))
    return token.user


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


def _require_admin(actor: User) -> None:
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
    _require_admin(actor)
    errors = _validate_person(data, person)
    if password:
        try:
            check_new_password(password)
        except ValidationFailed as exc:
            errors["password"] = exc.message
    if errors:
        exc = ValidationFailed("Please correct the marked fields.")
        exc.errors = errors  # type: ignore[attr-defined]
        raise exc
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
        release_places(person, actor)
    if password:
        set_password(person, password)
    return person


def deactivate_person(actor: User, person: User) -> None:
    """A deactivated person can't sign in; everything they did stays."""
    _require_admin(actor)
    if person.id == actor.id:
        raise NotAllowed("You can't deactivate yourself.")
    person.active = False
    person.session_token = new_session_token()
    release_places(person, actor)


def release_places(person: User, actor: User) -> None:
    """A person who leaves gives up their upcoming seats, offers and waitlist places (seats go to the next
    person waiting); their history stays."""
    from program.activities import services as core
    from program.activities.models import Activity, Participation, State
    from program.timeutil import utcnow

    now = utcnow()
    places = db.session.scalars(
        select(Participation).join(Activity).where(
            Participation.user_id == person.id,
            Participation.state.in_([State.BOOKED.value, State.OFFERED.value, State.WAITLISTED.value]),
            Activity.starts_at > now,
        )
    ).all()
    for p in places:
        activity = core.lock_activity(p.activity_id)
        freed = p.state in (State.BOOKED.value, State.OFFERED.value)
        core.transition(p, State.CANCELLED_BY_USER, actor, now, note="deactivated")
        if freed:
            core.offer_next(activity, now)


def reactivate_person(actor: User, person: User) -> None:
    _require_admin(actor)
    person.active = True


def add_department(actor: User, name: str, function: str) -> Department:
    _require_admin(actor)
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
    _require_admin(actor)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("Name is required.", field="name")
    if db.session.get(Department, department_id) is None:
        raise ValidationFailed("Choose a department.", field="department_id")
    if db.session.scalar(select(Team).where(Team.department_id == department_id, func.lower(Team.name) == name.lower())):
        raise ValidationFailed("This department already has a team with this name.", field="name")
    team = Team(name=name, department_id=department_id, manager_id=manager_id or None)
    db.session.add(team)
    return team


# --- people import -------------------------------------------------------------------------

IMPORT_COLUMNS = ["email", "name", "department", "team", "role", "manager_email", "timezone"]
REQUIRED_COLUMNS = {"email", "name", "department"}
MAX_IMPORT_ROWS = 10_000
SAMPLE_CSV = (
    "email,name,department,team,role,manager_email,timezone\r\n"
    "ana.lead@example.com,Ana Lead,Sales,Enterprise,leader,,Europe/London\r\n"
    "sam.rep@example.com,Sam Rep,Sales,Enterprise,staff,ana.lead@example.com,Europe/London\r\n"
    "mia.marketer@example.com,Mia Marketer,Marketing,Demand Gen,staff,max.lead@example.com,America/New_York\r\n"
    "max.lead@example.com,Max Lead,Marketing,Demand Gen,leader,,America/New_York\r\n"
)


@dataclass
class ImportRow:
    line: int
    email: str
    name: str
    department: str
    team: str
    role: str
    manager_email: str
    timezone: str
    action: str = "create"  # create | update | unchanged
    errors: list[str] = field(default_factory=list)


@dataclass
class ImportPreview:
    rows: list[ImportRow]
    file_errors: list[str]

    @property
    def ok(self) -> bool:
        return not self.file_errors and all(not r.errors for r in self.rows)

    @property
    def error_count(self) -> int:
        return len(self.file_errors) + sum(1 for r in self.rows if r.errors)

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action and not r.errors)


def _header_key(name: str) -> str:
    return (name or "").strip().lower().replace(" ", "_").replace("-", "_")


def store_people_import(actor: User, filename: str, content: str) -> PeopleImport:
    """Keep an uploaded people file for its preview. A control character (a NUL byte...) can't be stored in
    any text, so such a file is refused whole, naming the line; the file name is only a label, so it is
    cleaned and shortened to fit."""
    _require_admin(actor)
    line = control_character_line(content)
    if line is not None:
        raise ValidationFailed(
            f"Line {line} contains a control character (such as a NUL byte). Remove it and upload the file again.",
            field="file",
        )
    label = CONTROL_CHARACTERS.sub("", filename or "")[: column_length(PeopleImport.filename)]
    batch = PeopleImport(uploaded_by_id=actor.id, filename=label, content=content)
    db.session.add(batch)
    return batch


def preview_people_import(content: str, default_timezone: str) -> ImportPreview:
    """Validate every row of a people CSV against the file and the database; change nothing."""
    reader = csv.reader(io.StringIO(content))
    try:
        header = next(reader)
    except StopIteration:
        return ImportPreview([], ["The file is empty."])
    except csv.Error as exc:
        return ImportPreview([], [f"Line 1: not valid CSV ({exc})."])
    keys = [_header_key(h) for h in header]
    if "manager" in keys and "manager_email" not in keys:
        keys[keys.index("manager")] = "manager_email"
    missing = sorted(REQUIRED_COLUMNS - set(keys))
    if missing:
        return ImportPreview([], [f"Line 1: the header lacks the column(s) {', '.join(missing)}. "
                                  f"Expected: {', '.join(IMPORT_COLUMNS)}."])
    rows: list[ImportRow] = []
    file_errors: list[str] = []
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(rows) >= MAX_IMPORT_ROWS:
                file_errors.append(f"The file has more than {MAX_IMPORT_ROWS} rows; split it.")
                break
            # A control character (a NUL byte...) can't be stored: the row is refused, and its values are
            # looked up without it so the checks below can still say what else is wrong.
            controlled = any(CONTROL_CHARACTERS.search(v) for v in values)
            record = {k: (CONTROL_CHARACTERS.sub("", values[i]).strip() if i < len(values) else "")
                      for i, k in enumerate(keys)}
            row = ImportRow(
                line=line,
                email=normalise_email(record.get("email", "")),
                name=record.get("name", ""),
                department=record.get("department", ""),
                team=record.get("team", ""),
                role=(record.get("role", "") or Role.STAFF.value).lower(),
                manager_email=normalise_email(record.get("manager_email", "")),
                timezone=record.get("timezone", "") or default_timezone,
            )
            if len(values) > len(keys):
                row.errors.append(f"has {len(values)} values but the header has {len(keys)} columns")
            if controlled:
                row.errors.append("contains a control character (such as a NUL byte); remove it")
            rows.append(row)
    except csv.Error as exc:
        file_errors.append(f"Line {reader.line_num}: not valid CSV ({exc}).")

    departments = {d.name.lower(): d for d in db.session.scalars(select(Department))}
    emails_in_file: dict[str, int] = {}
    for row in rows:
        if not row.email:
            row.errors.append("email is missing")
        else:
            try:
                validate_email(row.email, check_deliverability=False)
            except EmailNotValidError:
                row.errors.append(f"invalid email '{row.email}'")
            if row.email in emails_in_file:
                row.errors.append(f"duplicate email '{row.email}' (also on line {emails_in_file[row.email]})")
            else:
                emails_in_file[row.email] = row.line
        if not row.name:
            row.errors.append("name is missing")
        elif len(row.name) > column_length(User.name):
            row.errors.append(f"name is longer than {column_length(User.name)} characters")
        if len(row.team) > column_length(Team.name):
            row.errors.append(f"team is longer than {column_length(Team.name)} characters")
        if not row.department:
            row.errors.append("department is missing")
        elif row.department.lower() not in departments:
            row.errors.append(f"unknown department '{row.department}' (an admin adds departments first)")
        if row.role not in {r.value for r in Role}:
            row.errors.append(f"unknown role '{row.role}' (use staff, leader, hr or admin)")
        if not is_valid_timezone(row.timezone):
            row.errors.append(f"unknown timezone '{row.timezone}' (use an IANA name such as Europe/London)")

    existing = {
        u.email: u
        for u in db.session.scalars(select(User).where(User.email.in_([r.email for r in rows if r.email])))
    } if rows else {}
    manager_emails = {r.manager_email for r in rows if r.manager_email} - set(emails_in_file)
    known_managers = set(
        db.session.scalars(select(User.email).where(User.email.in_(manager_emails)))
    ) if manager_emails else set()
    file_manager = {r.email: r.manager_email for r in rows if r.email}
    for row in rows:
        if row.manager_email:
            if row.manager_email == row.email:
                row.errors.append("a person can't be their own manager")
            elif row.manager_email not in emails_in_file and row.manager_email not in known_managers:
                row.errors.append(f"unknown manager '{row.manager_email}' (not in this file or in Tandem)")
            else:
                seen, cursor = {row.email}, row.manager_email
                while cursor in file_manager and cursor:
                    if cursor in seen:
                        row.errors.append("managers form a circle in this file")
                        break
                    seen.add(cursor)
                    cursor = file_manager[cursor]
        user = existing.get(row.email)
        if user is not None:
            same = (
                user.name == row.name
                and (user.department.name.lower() if user.department else "") == row.department.lower()
                and (user.team.name.lower() if user.team else "") == row.team.lower()
                and user.role == row.role
                and (user.manager.email if user.manager else "") == row.manager_email
                and user.timezone == row.timezone
            )
            row.action = "unchanged" if same else "update"
    return ImportPreview(rows, file_errors)


def apply_people_import(actor: User, content: str, default_timezone: str) -> ImportPreview:
    """Create or update every person in the file, or nobody: any bad row rejects the whole file.

    Managers are set in a second pass, so a manager listed after their report still works.
    New people get no password; they set one through "Forgot password".
    """
    _require_admin(actor)
    preview = preview_people_import(content, default_timezone)
    if not preview.ok:
        raise ValidationFailed(f"The file has {preview.error_count} error(s); nothing was imported.")
    departments = {d.name.lower(): d for d in db.session.scalars(select(Department))}
    teams = {(t.department_id, t.name.lower()): t for t in db.session.scalars(select(Team))}
    people: dict[str, User] = {
        u.email: u for u in db.session.scalars(select(User).where(User.email.in_([r.email for r in preview.rows])))
    }
    for row in preview.rows:
        dept = departments[row.department.lower()]
        team = None
        if row.team:
            team = teams.get((dept.id, row.team.lower()))
            if team is None:
                team = Team(name=row.team, department=dept)
                db.session.add(team)
                db.session.flush()
                teams[(dept.id, row.team.lower())] = team
        user = people.get(row.email)
        if user is None:
            user = User(email=row.email, name=row.name)
            db.session.add(user)
            people[row.email] = user
        user.name = row.name
        user.department = dept
        user.team = team
        user.role = row.role
        user.timezone = row.timezone
    db.session.flush()
    outside = {
        u.email: u
        for u in db.session.scalars(
            select(User).where(User.email.in_([r.manager_email for r in preview.rows if r.manager_email]))
        )
    }
    for row in preview.rows:
        people[row.email].manager = (people.get(row.manager_email) or outside.get(row.manager_email)) if row.manager_email else None
    db.session.flush()
    return preview
