"""The people import: an admin uploads a CSV of people, sees a preview of every row checked against the file
and the database, and applies it whole (any bad row rejects the file)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select

from program.accounts.models import Department, PeopleImport, Role, Team, User
from program.accounts.services import normalise_email, require_admin
from program.errors import ValidationFailed
from program.extensions import db
from program.timeutil import is_valid_timezone
from program.validation import CONTROL_CHARACTERS, column_length, control_character_line

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
    require_admin(actor)
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
        return ImportPreview(
            [], [f"Line 1: the header lacks the column(s) {', '.join(missing)}. Expected: {', '.join(IMPORT_COLUMNS)}."]
        )
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
            record = {
                k: (CONTROL_CHARACTERS.sub("", values[i]).strip() if i < len(values) else "")
                for i, k in enumerate(keys)
            }
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

    existing = (
        {u.email: u for u in db.session.scalars(select(User).where(User.email.in_([r.email for r in rows if r.email])))}
        if rows
        else {}
    )
    manager_emails = {r.manager_email for r in rows if r.manager_email} - set(emails_in_file)
    known_managers = (
        set(db.session.scalars(select(User.email).where(User.email.in_(manager_emails)))) if manager_emails else set()
    )
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
    require_admin(actor)
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
        people[row.email].manager = (
            (people.get(row.manager_email) or outside.get(row.manager_email)) if row.manager_email else None
        )
    db.session.flush()
    return preview
