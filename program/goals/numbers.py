"""The numbers behind goal progress, for one person or thousands, in one aggregate statement.

Per person and kind, for the activities starting in each of a few nested stretches of time ("windows": the
month, quarter, half-year and year that hold today, or a single report period): seats held (booked, attended
or no-show), attended, no-show, attended with the debrief submitted, ahead (booked, or a seat or invitation
for an activity still to come), debriefs submitted and overdue; the open activities ahead that the person
hosts or is already on ("mine"); and per kind the activities with an open seat.

An open seat is a seat still free on a scheduled activity of the kind that starts later in the window (after
now), whose booking is still open and which the person neither hosts nor is already on (one per activity);
only activities with a seat limit (self-booked ones such as ride-alongs) have open seats.

The statement groups by person, kind and the smallest window that holds the activity, so a row is a handful
of integers; ``Tallies`` adds the windows up (each window holds the smaller ones). Who the people are comes
from ``people_statement`` (one row each, in the order every list shows them: department, then name).

On PostgreSQL the aggregate runs with JIT compilation off (``SET LOCAL jit = off``, for the rest of the
transaction). Measured with EXPLAIN ANALYZE at 5,000 people / 100,000 participations: the statement it
replaced spent ~105 ms of ~290 compiling; this one costs below ``jit_above_cost`` there, but at about four
times the data it crosses it (forced on at this size: +140 ms, 225 → 455 ms), and past
``jit_optimize_above_cost`` compiling took ~1.9 s. Nothing it evaluates per row runs long enough to win that
back, and no other statement of these pages is big enough to want it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Integer, Select, and_, case, cast, func, literal_column, null, or_, select, text, union_all
from sqlalchemy.orm import aliased

from program.accounts.models import Department, Team, User
from program.activities.models import Activity, ActivityStatus, Participation, State
from program.activities.services import seat_taken_clause
from program.debriefs.models import DebriefTask
from program.extensions import db
from program.goals.models import Leave
from program.goals.status import KINDS, KindNumbers, PersonProgress

HELD = (State.BOOKED.value, State.ATTENDED.value, State.NO_SHOW.value)  # a seat was held through the activity
ON_IT = (State.BOOKED.value, State.OFFERED.value, State.WAITLISTED.value, State.INVITED.value)
_COUNTED = ("booked", "attended", "no_show", "debriefed", "ahead", "submitted", "overdue")

Window = tuple[datetime, datetime]  # [start, end) as UTC instants

_NUMBERS, _MINE, _OPEN = 0, 1, 2  # the three parts of the tallies statement


def _flag(condition) -> object:
    return case((condition, 1), else_=0)


def seats_taken(activity, now: datetime) -> object:
    """The seats held on ``activity`` now (booked, or offered and the offer not yet expired): a count
    correlated to the activity row, served by the (activity_id, state) index."""
    p = aliased(Participation)
    return (
        select(func.count(p.id))
        .where(
            p.activity_id == activity.id,
            or_(p.state == State.BOOKED.value, and_(p.state == State.OFFERED.value, p.offer_expires_at > now)),
        )
        .correlate(activity)
        .scalar_subquery()
    )


def open_seat(activity, now: datetime, taken: object | None = None) -> list:
    """Conditions on the activity row itself that it has an open seat now: scheduled, still ahead, booking
    open, a seat limit and fewer seats taken than that. Applied to the row (never through a join to a
    subquery of open activities), so the planner walks the (kind, starts_at) index and counts each one's seats."""
    return [
        activity.kind.in_(KINDS),  # lets the (kind, starts_at) index serve the time range
        activity.status == ActivityStatus.SCHEDULED.value,
        activity.starts_at > now,
        activity.booking_cutoff_at > now,
        activity.seats.is_not(None),
        activity.seats > (taken if taken is not None else seats_taken(activity, now)),
    ]


def no_jit() -> None:
    """PostgreSQL: no JIT compilation for the rest of this transaction (see the module docstring)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL jit = off"))


def tallies_statement(where: Sequence, windows: Sequence[Window], now: datetime):
    """One statement, three parts, each row ``(part, user_id, kind, *inner, *counts)``:

    0. per person and kind: booked, attended, no-show, debriefed, ahead, debriefs submitted, overdue;
    1. per person and kind: open activities ahead that the person hosts or is already on (first count);
    2. per kind (no person): activities with an open seat (first count).

    ``windows`` are nested, smallest first. The rows are split by the smallest window that holds them: ``inner``
    says, for each window but the last, whether the activity is inside it (for open activities: whether it
    starts before the window ends). They are grouped by those booleans rather than by a bucket number because
    the planner knows a boolean has two values: with a computed bucket it expected a group per row and sorted
    100,000 rows on disk instead of hashing them."""
    last = windows[-1]
    state = Participation.state
    seat = seat_taken_clause(now)
    flags = (
        select(
            Participation.user_id.label("user_id"),
            Activity.kind.label("kind"),
            *[and_(Activity.starts_at >= s, Activity.starts_at < e).label(f"in_{n}") for n, (s, e) in _inner(windows)],
            _flag(state.in_(HELD)).label("booked"),
            _flag(state == State.ATTENDED.value).label("attended"),
            _flag(state == State.NO_SHOW.value).label("no_show"),
            _flag(and_(state == State.ATTENDED.value, DebriefTask.status == "submitted")).label("debriefed"),
            _flag(
                or_(
                    state == State.BOOKED.value, and_(Activity.starts_at > now, or_(seat, state == State.INVITED.value))
                )
            ).label("ahead"),
            _flag(DebriefTask.status == "submitted").label("submitted"),
            _flag(and_(DebriefTask.status == "open", DebriefTask.due_at < now)).label("overdue"),
        )
        .select_from(Participation)
        .join(Activity, Activity.id == Participation.activity_id)
        .join(User, User.id == Participation.user_id)
        .outerjoin(DebriefTask, DebriefTask.participation_id == Participation.id)
        .where(
            Activity.kind.in_(KINDS),
            Activity.starts_at >= last[0],
            Activity.starts_at < last[1],
            User.active.is_(True),
            *where,
        )
        .subquery("flags")
    )
    inner = [flags.c[f"in_{n}"] for n, _ in _inner(windows)]
    numbers = select(
        literal_column(str(_NUMBERS), Integer).label("part"),
        flags.c.user_id,
        flags.c.kind,
        *inner,
        *[func.sum(flags.c[name]).label(name) for name in _COUNTED],
    ).group_by(flags.c.user_id, flags.c.kind, *inner)

    # The activities with an open seat ahead, found once (a CTE: PostgreSQL materialises one used thrice).
    opened = (
        select(
            Activity.id.label("id"),
            Activity.kind.label("kind"),
            Activity.host_id.label("host_id"),
            *[(Activity.starts_at < e).label(f"in_{n}") for n, (_, e) in _inner(windows)],
        )
        .where(*open_seat(Activity, now), Activity.starts_at < last[1])
        .cte("open_activity")
    )
    before = [opened.c[f"in_{n}"] for n, _ in _inner(windows)]
    on = (
        select(Participation.user_id.label("user_id"), opened.c.kind, *before)
        .select_from(Participation)
        .join(opened, opened.c.id == Participation.activity_id)
        .join(User, User.id == Participation.user_id)
        # The host's own place is counted once, as hosting (a participation is unique per activity and person).
        .where(Participation.state.in_(ON_IT), Participation.user_id != opened.c.host_id)
        .where(User.active.is_(True), *where)
    )
    hosting = (
        select(opened.c.host_id.label("user_id"), opened.c.kind, *before)
        .join(User, User.id == opened.c.host_id)
        .where(User.active.is_(True), *where)
    )
    mine_rows = union_all(on, hosting).subquery("mine_rows")
    mine_inner = [mine_rows.c[f"in_{n}"] for n, _ in _inner(windows)]
    zeros = [literal_column("0", Integer).label(name) for name in _COUNTED[1:]]
    mine = select(
        literal_column(str(_MINE), Integer),
        mine_rows.c.user_id,
        mine_rows.c.kind,
        *mine_inner,
        func.count(),
        *zeros,
    ).group_by(mine_rows.c.user_id, mine_rows.c.kind, *mine_inner)
    totals = select(
        literal_column(str(_OPEN), Integer),
        cast(null(), Integer),
        opened.c.kind,
        *before,
        func.count(),
        *zeros,
    ).group_by(opened.c.kind, *before)
    return union_all(numbers, mine, totals)


def _inner(windows: Sequence[Window]) -> list[tuple[int, Window]]:
    """Every window but the last (the last holds everything the statement reads)."""
    return list(enumerate(windows))[:-1]


def _bucket(inner: Sequence, size: int) -> int:
    """The smallest window a row belongs to, from its ``inner`` booleans (none true: the last)."""
    for n, inside in enumerate(inner):
        if inside:
            return n
    return size - 1


def _running(per_bucket: list) -> list:
    """Window n holds buckets 0..n: running sums of per-bucket count tuples (None: nothing in that bucket)."""
    found, running = [], None
    for counts in per_bucket:
        if counts is not None:
            running = counts if running is None else tuple(a + b for a, b in zip(running, counts, strict=True))
        found.append(running)
    return found


@dataclass(slots=True)
class Tallies:
    """The numbers of ``tallies_statement``, added up per window (window ``n`` holds buckets 0..n). Each
    entry is a list with one count tuple per window (None: nothing there)."""

    windows: list[Window]
    numbers: dict[tuple[int, str], list] = field(default_factory=dict)  # (booked, …, submitted, overdue)
    mine: dict[tuple[int, str], list] = field(default_factory=dict)  # (mine,)
    opened: dict[str, list] = field(default_factory=dict)  # (open activities,)
    debriefs: dict[int, list] = field(default_factory=dict)  # (submitted, overdue), over every kind

    def kind_numbers(self, user_id: int, kind: str, window: int = 0) -> KindNumbers:
        counts = self.numbers.get((user_id, kind))
        counts = counts[window] if counts else None
        mine = self.mine.get((user_id, kind))
        mine = mine[window] if mine else None
        if counts is None:
            return KindNumbers(mine=mine[0]) if mine else KindNumbers()
        return KindNumbers(counts[0], counts[1], counts[2], counts[3], counts[4], mine[0] if mine else 0)

    def debriefs_of(self, user_id: int, window: int = 0) -> tuple[int, int]:
        """(submitted, overdue) for the activities of every kind starting in the window."""
        counts = self.debriefs.get(user_id)
        return (counts[window] or (0, 0)) if counts else (0, 0)

    def open_total(self, kind: str, window: int = 0) -> int:
        counts = self.opened.get(kind)
        return counts[window][0] if counts and counts[window] else 0


def load_tallies(where: Sequence, windows: Sequence[Window], now: datetime) -> Tallies:
    """Run ``tallies_statement`` (one query, after the JIT switch on PostgreSQL) and add the windows up.
    Everything kept is tuples of numbers, which the garbage collector stops tracking."""
    size = len(windows)
    parts: tuple[dict, dict, dict] = ({}, {}, {})
    debriefs: dict[int, list] = {}
    no_jit()
    rows = db.session.execute(tallies_statement(where, windows, now)).tuples()
    for row in (row for chunk in rows.partitions(1000) for row in chunk):
        part, user_id, kind = row[0], row[1], row[2]
        bucket = _bucket(row[3 : 2 + size], size) if size > 1 else 0
        if part == _NUMBERS:
            counts = tuple(row[2 + size :])
            parts[0].setdefault((user_id, kind), [None] * size)[bucket] = counts
            slot = debriefs.setdefault(user_id, [None] * size)
            had = slot[bucket]
            slot[bucket] = (counts[5], counts[6]) if had is None else (had[0] + counts[5], had[1] + counts[6])
        else:
            key = (user_id, kind) if part == _MINE else kind
            parts[part].setdefault(key, [None] * size)[bucket] = (row[2 + size],)
    for found in (*parts, debriefs):
        for key, per_bucket in found.items():
            found[key] = tuple(_running(per_bucket)) if size > 1 else tuple(per_bucket)
    return Tallies(list(windows), *parts, debriefs)


def people_ids(where: Sequence) -> Select:
    return select(User.id).where(User.active.is_(True), *where).correlate(None)


def people_statement(where: Sequence) -> Select:
    """One row per active person matching ``where`` — who they are, their department, team and manager —
    by department name (none last), then name."""
    manager = aliased(User)
    return (
        select(
            User.id,
            User.name,
            User.email,
            User.role,
            User.department_id,
            User.team_id,
            User.created_at,
            Department.name.label("department"),
            Team.name.label("team"),
            manager.name.label("manager"),
        )
        .select_from(User)
        .outerjoin(Department, Department.id == User.department_id)
        .outerjoin(Team, Team.id == User.team_id)
        .outerjoin(manager, manager.id == User.manager_id)
        .where(User.active.is_(True), *where)
        .order_by(Department.name.is_(None), Department.name, User.name, User.id)
    )


def leaves_for(where: Sequence, first: date, after: date) -> dict[int, list[tuple[date, date]]]:
    """user id -> leave ranges overlapping [first, after), for the people matching ``where`` (one query)."""
    rows = db.session.execute(
        select(Leave.user_id, Leave.starts_on, Leave.ends_on).where(
            Leave.user_id.in_(people_ids(where)), Leave.ends_on >= first, Leave.starts_on < after
        )
    )
    found: dict[int, list[tuple[date, date]]] = {}
    for user_id, starts_on, ends_on in rows:
        found.setdefault(user_id, []).append((starts_on, ends_on))
    return found


def person_from_row(row, tallies: Tallies, window: int = 0) -> PersonProgress:
    """A person (a ``people_statement`` row) with their numbers of every kind over one window."""
    user_id, name, email, role, department_id, team_id, _, department, team, manager = row
    submitted, overdue = tallies.debriefs_of(user_id, window)
    return PersonProgress(
        user_id,
        name,
        email,
        role,
        department_id,
        department or "",
        team_id,
        team or "",
        manager or "",
        {kind: tallies.kind_numbers(user_id, kind, window) for kind in KINDS},
        submitted,
        overdue,
    )
