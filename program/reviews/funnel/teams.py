"""Mini-teams of a funnel reality check: drawn from the meeting's attendees, given the funnel's stages.

Teams are pairs (one three when the count is odd) drawn with a stored seed: as many teams as possible mix
sales and marketing, and transition stages are dealt round-robin so teams and stages are balanced; a swap
exchanges two people, so sizes never change. Attendees are those marked attended once anyone is; before
that, the booked and invited who haven't answered "no".
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from program.accounts.models import User
from program.activities.models import Activity, Participation, State
from program.activities.services import lock_activity
from program.errors import ValidationFailed
from program.extensions import db
from program.reviews.funnel.models import FunnelIdea, FunnelTeam, FunnelTeamMember, FunnelTeamStage
from program.reviews.funnel.permissions import require_edit
from program.reviews.funnel.services import snapshot_for

FUNCTION_LABELS = {"sales": "Sales", "marketing": "Marketing"}


@dataclass
class TeamPlan:
    members: list[int]
    stage_ids: list[int] = field(default_factory=list)


def plan_teams(people: Sequence[tuple[int, str]], stage_ids: Sequence[int], seed: str) -> list[TeamPlan]:
    """Split (user id, function) into pairs — one three when the count is odd — the same way for the
    same seed. As many teams as possible get one salesperson and one marketer; the rest pair up among
    themselves. Stages are then dealt round-robin: every stage gets a team and every team a stage,
    as evenly as the numbers allow."""
    if len(people) < 2:
        raise ValidationFailed("Mini-teams need at least two attendees.")
    if not stage_ids:
        raise ValidationFailed("The funnel needs at least two stages before teams can be given stages.")
    rng = random.Random(seed)
    ordered = sorted(set(people))  # the draw depends on the seed alone, not on query order
    sales = [uid for uid, fn in ordered if fn == "sales"]
    marketing = [uid for uid, fn in ordered if fn == "marketing"]
    others = [uid for uid, fn in ordered if fn not in ("sales", "marketing")]
    for group in (sales, marketing, others):
        rng.shuffle(group)
    function = dict(ordered)
    count = len(ordered)
    mixed = min(len(sales), len(marketing))  # never more than count // 2
    teams = [TeamPlan([sales[i], marketing[i]]) for i in range(mixed)]
    rest = sales[mixed:] + marketing[mixed:] + others
    rng.shuffle(rest)
    extra = rest.pop() if count % 2 else None
    teams += [TeamPlan(rest[i : i + 2]) for i in range(0, len(rest), 2)]
    if extra is not None:
        # Join a team it would make mixed (it brings the missing side), else the last team.
        opposite = {"sales": "marketing", "marketing": "sales"}.get(function[extra])
        target = teams[-1]
        if opposite:
            for team in teams:
                functions = {function[m] for m in team.members}
                if opposite in functions and function[extra] not in functions:
                    target = team
                    break
        target.members.append(extra)
    rng.shuffle(teams)
    for i in range(max(len(teams), len(stage_ids))):
        teams[i % len(teams)].stage_ids.append(stage_ids[i % len(stage_ids)])
    return teams


# --- the meeting's teams ---------------------------------------------------------------------


def meeting_attendees(activity_id: int) -> list[User]:
    """Those marked attended, once anyone is; before that the booked and invited who haven't said no."""
    rows = list(
        db.session.scalars(
            select(Participation)
            .options(joinedload(Participation.user).joinedload(User.department))
            .where(
                Participation.activity_id == activity_id,
                Participation.state.in_([State.ATTENDED.value, State.BOOKED.value, State.INVITED.value]),
            )
            .order_by(Participation.user_id)
        )
    )
    attended = [p.user for p in rows if p.state == State.ATTENDED.value]
    if attended:
        return attended
    return [p.user for p in rows if p.rsvp != "no"]


@dataclass(frozen=True)
class MemberView:
    user_id: int
    name: str
    function: str

    @property
    def function_label(self) -> str:
        return FUNCTION_LABELS.get(self.function, "Other")


@dataclass(frozen=True)
class TeamView:
    id: int
    number: int
    members: tuple[MemberView, ...]
    stages: tuple[tuple[int, str], ...]  # (stage id, name)

    @property
    def name(self) -> str:
        return f"Team {self.number}"

    @property
    def mixed(self) -> bool:
        return {"sales", "marketing"} <= {m.function for m in self.members}


def _member(user: User) -> MemberView:
    return MemberView(user.id, user.name, user.function)


def teams_for(activity_id: int) -> list[TeamView]:
    teams = db.session.scalars(
        select(FunnelTeam)
        .options(
            selectinload(FunnelTeam.members).joinedload(FunnelTeamMember.user).joinedload(User.department),
            selectinload(FunnelTeam.stage_links).joinedload(FunnelTeamStage.stage),
        )
        .where(FunnelTeam.activity_id == activity_id)
        .order_by(FunnelTeam.number)
        .execution_options(populate_existing=True)
    )
    return [
        TeamView(
            t.id,
            t.number,
            tuple(_member(m.user) for m in t.members),
            tuple((link.stage.id, link.stage.name) for link in sorted(t.stage_links, key=lambda x: x.stage.position)),
        )
        for t in teams
    ]


def unassigned_attendees(activity_id: int, teams: Sequence[TeamView]) -> list[MemberView]:
    placed = {m.user_id for t in teams for m in t.members}
    return [_member(u) for u in meeting_attendees(activity_id) if u.id not in placed]


def form_teams(activity: Activity, actor: User, now: datetime, seed: str | None = None) -> list[FunnelTeam]:
    """Draw the mini-teams afresh from the attendees (see ``plan_teams``) and store the seed.
    Refused once teams have ideas: swap people instead."""
    require_edit(actor, activity)
    lock_activity(activity.id)
    snapshot = snapshot_for(activity.id)
    if snapshot is None or len(snapshot.stages) < 2:
        raise ValidationFailed("Enter the funnel first: teams are given its stages.")
    if db.session.scalar(
        select(func.count(FunnelIdea.id)).where(FunnelIdea.activity_id == activity.id, FunnelIdea.team_id.is_not(None))
    ):
        raise ValidationFailed("Teams already have ideas, so they can't be drawn again; swap people instead.")
    people = meeting_attendees(activity.id)
    seed = (seed or "").strip()[:64] or secrets.token_hex(4)
    plans = plan_teams([(u.id, u.function) for u in people], [s.id for s in snapshot.stages[:-1]], seed)
    # Through the ORM (not a bulk DELETE), so the members and stage links leave the session too.
    for old in db.session.scalars(
        select(FunnelTeam)
        .options(selectinload(FunnelTeam.members), selectinload(FunnelTeam.stage_links))
        .where(FunnelTeam.activity_id == activity.id)
    ):
        db.session.delete(old)
    db.session.flush()
    teams = []
    for number, plan in enumerate(plans, start=1):
        team = FunnelTeam(activity_id=activity.id, number=number, created_at=now)
        team.members = [FunnelTeamMember(activity_id=activity.id, user_id=uid) for uid in plan.members]
        team.stage_links = [FunnelTeamStage(stage_id=sid) for sid in plan.stage_ids]
        db.session.add(team)
        teams.append(team)
    snapshot.team_seed = seed
    db.session.flush()
    return teams


def swap_people(activity: Activity, actor: User, user_a: int, user_b: int) -> None:
    """Exchange two people's teams, or put an attendee without a team in a member's place.
    Team sizes never change, so every team stays a pair or a three."""
    require_edit(actor, activity)
    lock_activity(activity.id)
    if user_a == user_b:
        raise ValidationFailed("Choose two different people.", field="user_b")
    members = {
        m.user_id: m
        for m in db.session.scalars(
            select(FunnelTeamMember).where(
                FunnelTeamMember.activity_id == activity.id, FunnelTeamMember.user_id.in_([user_a, user_b])
            )
        )
    }
    a, b = members.get(user_a), members.get(user_b)
    if a is None and b is None:
        raise ValidationFailed("Neither person is in a team.", field="user_a")
    if a is None:
        a, b, user_a, user_b = b, None, user_b, user_a
    if b is not None:
        if a.team_id == b.team_id:
            raise ValidationFailed("Both are already in the same team.", field="user_b")
        a.team_id, b.team_id = b.team_id, a.team_id
    else:
        if user_b not in {u.id for u in meeting_attendees(activity.id)}:
            raise ValidationFailed("That person is not an attendee of this meeting.", field="user_b")
        a.user_id = user_b
    db.session.flush()
