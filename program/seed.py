"""Demo data: a realistic company of about 40 people. Idempotent: people are matched by email."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from program.accounts.models import Department, Role, Team, User
from program.extensions import db

DEMO_PASSWORD = "demo-password"

DEPARTMENTS = [("Sales", "sales"), ("Marketing", "marketing"), ("People", "other"), ("Operations", "other")]
TEAMS = {
    "Sales": ["Enterprise", "Mid-Market", "SMB"],
    "Marketing": ["Demand Generation", "Product Marketing", "Content & Brand"],
    "People": ["People Operations"],
    "Operations": ["Revenue Operations"],
}

# email, name, department, team, role, manager email, timezone
PEOPLE = [
    ("admin@example.com", "Alex Admin", "Operations", "Revenue Operations", "admin", None, "Europe/London"),
    ("hr@example.com", "Harper Hughes", "People", "People Operations", "hr", None, "Europe/London"),
    ("hr.partner@example.com", "Hana Okafor", "People", "People Operations", "hr", "hr@example.com", "Europe/Berlin"),
    ("sales.lead@example.com", "Sofia Alvarez", "Sales", None, "leader", None, "Europe/London"),
    ("marketing.lead@example.com", "Marcus Chen", "Marketing", None, "leader", None, "Europe/London"),
    # Sales team leads
    (
        "ent.lead@example.com",
        "Elena Petrova",
        "Sales",
        "Enterprise",
        "leader",
        "sales.lead@example.com",
        "Europe/London",
    ),
    (
        "mm.lead@example.com",
        "Daniel Brooks",
        "Sales",
        "Mid-Market",
        "leader",
        "sales.lead@example.com",
        "America/New_York",
    ),
    ("smb.lead@example.com", "Priya Raman", "Sales", "SMB", "leader", "sales.lead@example.com", "Europe/Berlin"),
    # Marketing team leads
    (
        "demand.lead@example.com",
        "Grace Kim",
        "Marketing",
        "Demand Generation",
        "leader",
        "marketing.lead@example.com",
        "Europe/London",
    ),
    (
        "pmm.lead@example.com",
        "Tomás Silva",
        "Marketing",
        "Product Marketing",
        "leader",
        "marketing.lead@example.com",
        "America/New_York",
    ),
    (
        "content.lead@example.com",
        "Olivia Grant",
        "Marketing",
        "Content & Brand",
        "leader",
        "marketing.lead@example.com",
        "Europe/London",
    ),
    # The two demo staff logins
    ("rep@example.com", "Riley Patel", "Sales", "Enterprise", "staff", "ent.lead@example.com", "Europe/London"),
    (
        "marketer@example.com",
        "Morgan Lee",
        "Marketing",
        "Demand Generation",
        "staff",
        "demand.lead@example.com",
        "Europe/London",
    ),
]
SALES_STAFF = [
    (
        "Enterprise",
        "ent.lead@example.com",
        "Europe/London",
        ["James O'Connor", "Aisha Bello", "Lukas Novak", "Chloe Martin", "Hugo Laurent"],
    ),
    (
        "Mid-Market",
        "mm.lead@example.com",
        "America/New_York",
        ["Ethan Walker", "Maya Johnson", "Noah Davis", "Zoe Rivera", "Caleb Turner"],
    ),
    (
        "SMB",
        "smb.lead@example.com",
        "Europe/Berlin",
        ["Felix Wagner", "Sara Lindqvist", "Omar Haddad", "Marta Kowalska"],
    ),
]
MARKETING_STAFF = [
    (
        "Demand Generation",
        "demand.lead@example.com",
        "Europe/London",
        ["Isla Campbell", "Ben Carter", "Nina Rossi", "Yusuf Demir"],
    ),
    (
        "Product Marketing",
        "pmm.lead@example.com",
        "America/New_York",
        ["Liam Nguyen", "Emma Wilson", "Jonah Price", "Freya Holm"],
    ),
    (
        "Content & Brand",
        "content.lead@example.com",
        "Europe/London",
        ["Ava Thompson", "Leo Fischer", "Ruby Evans", "Kai Morgan"],
    ),
]


def _email_for(name: str) -> str:
    clean = name.lower().replace("'", "").replace("á", "a")
    first, _, last = clean.partition(" ")
    return f"{first}.{last.replace(' ', '')}@example.com"


def all_demo_people() -> list[tuple]:
    people = list(PEOPLE)
    for team, manager, tz, names in SALES_STAFF:
        people += [(_email_for(n), n, "Sales", team, "staff", manager, tz) for n in names]
    for team, manager, tz, names in MARKETING_STAFF:
        people += [(_email_for(n), n, "Marketing", team, "staff", manager, tz) for n in names]
    return people


def seed_demo() -> str:
    """Create or update the demo company; returns a one-line summary."""
    departments = {d.name: d for d in db.session.scalars(select(Department))}
    for name, function in DEPARTMENTS:
        if name not in departments:
            departments[name] = Department(name=name, function=function)
            db.session.add(departments[name])
    db.session.flush()
    teams = {(t.department_id, t.name): t for t in db.session.scalars(select(Team))}
    for dept_name, names in TEAMS.items():
        dept = departments[dept_name]
        for name in names:
            if (dept.id, name) not in teams:
                teams[(dept.id, name)] = Team(name=name, department=dept)
                db.session.add(teams[(dept.id, name)])
    db.session.flush()

    password_hash = generate_password_hash(DEMO_PASSWORD, method=current_app.config["PASSWORD_HASH_METHOD"])
    users = {u.email: u for u in db.session.scalars(select(User))}
    created = 0
    people = all_demo_people()
    for email, name, dept_name, team_name, role, _manager, tz in people:
        user = users.get(email)
        if user is None:
            user = User(email=email, name=name, password_hash=password_hash, timezone=tz, role=role)
            db.session.add(user)
            users[email] = user
            created += 1
        user.department = departments[dept_name]
        user.team = teams[(departments[dept_name].id, team_name)] if team_name else None
        user.role = Role(role).value
    db.session.flush()
    for email, _name, _dept, _team, _role, manager, _tz in people:
        users[email].manager = users[manager] if manager else None
    for (_dept_id, team_name), team in teams.items():
        lead = next((users[p[0]] for p in people if p[3] == team_name and p[4] == "leader"), None)
        if lead is None and team_name in ("People Operations",):
            lead = users["hr@example.com"]
        if lead is None and team_name in ("Revenue Operations",):
            lead = users["admin@example.com"]
        team.manager = lead
    db.session.flush()

    extra = seed_domains()
    return f"{len(people)} people ({created} new), {len(departments)} departments, {len(teams)} teams" + extra


def seed_domains() -> str:
    """Each domain adds its demo data (idempotently)."""
    from program.debriefs.defaults import ensure_defaults
    from program.debriefs.seed import seed_debriefs
    from program.goals.seed import seed_goals
    from program.reviews.seed import seed_reviews
    from program.rides.seed import seed_rides
    from program.shadow.seed import seed_shadow
    from program.timeutil import utcnow

    now = utcnow().replace(minute=0, second=0, microsecond=0)
    ensure_defaults(now)
    summary = seed_rides(now) + seed_debriefs(now)
    from program.reviews.funnel.seed import seed_funnel

    summary += seed_shadow(now) + seed_reviews(now) + seed_funnel(now)
    summary += seed_goals(now)
    return summary
