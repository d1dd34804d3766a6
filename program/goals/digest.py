"""The weekly manager digest: ``flask send-digests`` mails each manager a summary of their team.

Rules kept here:
- a manager is an active person with active direct reports or a team they manage (as on the dashboard);
- the digest covers the seven local days before today (the manager's timezone): activities attended and
  missed, debriefs submitted; then each person's goal status over the current period, who is behind or
  at risk, and the overdue debriefs;
- one digest per manager per ISO week (of the manager's local date): the key is claimed in
  ``sent_notice`` before the mail is queued, so running the command again — or from two hosts — sends
  nothing twice. Managers whose team is empty get nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from program.accounts.models import Team, User
from program.debriefs.models import Debrief
from program.extensions import db
from program.goals.dashboards import TeamSummary, team_summary, team_where
from program.goals.numbers import load_tallies
from program.goals.progress import GoalBook
from program.goals.status import KIND_LABELS, KINDS, PersonProgress
from program.jobs import claim
from program.mail.services import queue_email
from program.periods import local_bounds, local_today
from program.timeutil import utcnow
from program.web import absolute_url


def managers() -> list[User]:
    """Everyone who manages someone active (one query)."""
    direct = select(User.manager_id).where(User.active.is_(True), User.manager_id.is_not(None))
    teams = select(Team.manager_id).where(Team.manager_id.is_not(None))
    return list(
        db.session.scalars(
            select(User).where(User.active.is_(True), User.id.in_(direct.union(teams))).order_by(User.id)
        )
    )


@dataclass
class WeekLine:
    user_id: int
    name: str
    attended: dict[str, int]
    no_shows: int
    submitted: int

    @property
    def attended_total(self) -> int:
        return sum(self.attended.values())


@dataclass
class Digest:
    manager: User
    first_day: str
    last_day: str
    week: list[WeekLine]
    team: TeamSummary

    @property
    def attended_total(self) -> int:
        return sum(line.attended_total for line in self.week)

    def progress_of(self, user_id: int) -> PersonProgress | None:
        return next((p for p in self.team.people if p.user_id == user_id), None)

    @property
    def no_show_total(self) -> int:
        return sum(line.no_shows for line in self.week)

    @property
    def submitted_total(self) -> int:
        return sum(line.submitted for line in self.week)


def week_key(manager: User, now: datetime) -> str:
    year, week, _ = local_today(now, manager.timezone or "UTC").isocalendar()
    return f"digest:{manager.id}:{year}-W{week:02d}"


def build_digest(manager: User, now: datetime, book: GoalBook | None = None) -> Digest | None:
    """The digest for one manager, or None when they have no one to report on. A fixed number of queries."""
    tz = manager.timezone or "UTC"
    team = team_summary(manager, now, tz, book)
    if not team.people:
        return None
    today = local_today(now, tz)
    first = today - timedelta(days=7)
    start, end = local_bounds(first, today, tz)
    where = team_where(manager)
    tallies = load_tallies(where, [(start, end)], now)
    submitted = dict(
        db.session.execute(
            select(Debrief.author_id, func.count(Debrief.id))
            .join(User, User.id == Debrief.author_id)
            .where(Debrief.state == "submitted", Debrief.submitted_at >= start, Debrief.submitted_at < end, *where)
            .group_by(Debrief.author_id)
        ).all()
    )
    week = []
    for person in team.people:  # the same people, in the same order
        numbers = {k: tallies.kind_numbers(person.user_id, k) for k in KINDS}
        week.append(
            WeekLine(
                user_id=person.user_id,
                name=person.name,
                attended={KIND_LABELS[k]: numbers[k].attended for k in KINDS},
                no_shows=sum(n.no_show for n in numbers.values()),
                submitted=int(submitted.get(person.user_id, 0)),
            )
        )
    return Digest(
        manager=manager,
        first_day=first.strftime("%d %b"),
        last_day=(today - timedelta(days=1)).strftime("%d %b %Y"),
        week=week,
        team=team,
    )


def _goal_text(person: PersonProgress) -> str:
    if not person.goals:
        return "no goal"
    return "; ".join(f"{p.kind_label} {p.done}/{p.target} ({p.status.label.lower()})" for p in person.goals)


def send_digests(now: datetime) -> int:
    """Queue this week's digest for every manager who hasn't had it yet; returns how many were queued."""
    sent = 0
    book = GoalBook.load()  # the goals, read once for every manager
    for manager in managers():
        digest = build_digest(manager, now, book)
        if digest is None or not claim(week_key(manager, now), now):
            continue
        queue_email(
            manager.email,
            "goals/digest",
            f"Your team's participation: week to {digest.last_day}",
            person=manager,
            digest=digest,
            goal_text=_goal_text,
            url=absolute_url("goals.team"),
        )
        sent += 1
    return sent


@click.command("send-digests")
@with_appcontext
def send_digests_command() -> None:
    """Mail each manager the weekly summary of their team. Safe to run more than once a week."""
    from program.jobs import deliver_before_exit

    deliver_before_exit()
    count = send_digests(utcnow())
    db.session.commit()
    click.echo(f"manager digests sent: {count}")
