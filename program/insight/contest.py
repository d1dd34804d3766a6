"""The debrief contest: periods, the leaderboard, and HR's reproducible weighted draw.

Rules:
- A period is a calendar month or quarter in a given timezone (the viewer's, or HR's when drawing), held as
  the UTC instants [start, end). A debrief counts in the period in which it was *submitted*.
- Entries per debrief come from ``contest_entries`` (1 for submitting, 1 on time, 1 per reason code with the
  customer's words, 1 for a proposed tactic); a person's entries are the sum over their debriefs.
- A draw is recorded with its seed and the entries it used, in a canonical order (by user id). The winner is
  a pure function of those two things (``pick_weighted``), so anyone can replay a recorded draw.
- One draw per period (the same [start, end)); only HR and admins draw, and only once the period is over.
"""

from __future__ import annotations

import json
import random
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from program.accounts.models import User
from program.debriefs.models import Answer, ContestDraw, Debrief, DebriefState
from program.errors import NotAllowed, ValidationFailed
from program.extensions import db
from program.insight.permissions import can_draw_contest
from program.timeutil import UTC

MONTH = "month"
QUARTER = "quarter"
PERIOD_KINDS = (MONTH, QUARTER)
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


# --- periods ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A calendar month (index 1–12) or quarter (index 1–4) of ``year``, as seen in timezone ``tz``."""

    kind: str
    year: int
    index: int
    tz: str

    @property
    def first_day(self) -> date:
        return date(self.year, self.index if self.kind == MONTH else 3 * self.index - 2, 1)

    @property
    def start(self) -> datetime:
        """The first instant of the period (local midnight of its first day), in UTC."""
        return _local_midnight(self.first_day, self.tz)

    @property
    def end(self) -> datetime:
        """The first instant after the period (the next period's start), in UTC."""
        return self.next().start

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return self.start, self.end

    @property
    def token(self) -> str:
        """How the period is written in a URL: 2026-11 or 2026-Q4."""
        return f"{self.year:04d}-{self.index:02d}" if self.kind == MONTH else f"{self.year:04d}-Q{self.index}"

    @property
    def label(self) -> str:
        if self.kind == MONTH:
            return f"{MONTH_NAMES[self.index - 1]} {self.year}"
        first = 3 * self.index - 3
        return f"Q{self.index} {self.year} ({MONTH_NAMES[first][:3]}–{MONTH_NAMES[first + 2][:3]})"

    def next(self) -> Period:
        size = 12 if self.kind == MONTH else 4
        year, index = (self.year + 1, 1) if self.index == size else (self.year, self.index + 1)
        return Period(self.kind, year, index, self.tz)

    def previous(self) -> Period:
        size = 12 if self.kind == MONTH else 4
        year, index = (self.year - 1, size) if self.index == 1 else (self.year, self.index - 1)
        return Period(self.kind, year, index, self.tz)


def _local_midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(tz)).astimezone(UTC)


def _local_day(when: date | datetime, tz: str) -> date:
    """A date is taken as it is; an instant is turned into the date it is in ``tz``."""
    if isinstance(when, datetime):
        if when.tzinfo is None:
            raise ValueError("naive datetime; pass an aware instant")
        return when.astimezone(ZoneInfo(tz)).date()
    return when


def month_containing(when: date | datetime, tz: str) -> Period:
    """The calendar month containing ``when`` in timezone ``tz``."""
    day = _local_day(when, tz)
    return Period(MONTH, day.year, day.month, tz)


def quarter_containing(when: date | datetime, tz: str) -> Period:
    """The calendar quarter containing ``when`` in timezone ``tz``."""
    day = _local_day(when, tz)
    return Period(QUARTER, day.year, (day.month - 1) // 3 + 1, tz)


def period_containing(kind: str, when: date | datetime, tz: str) -> Period:
    return quarter_containing(when, tz) if kind == QUARTER else month_containing(when, tz)


def period_matching(start: datetime, end: datetime, tz: str) -> Period | None:
    """The month or quarter in ``tz`` that is exactly [start, end), if there is one (to name a draw's period)."""
    local_start = start.astimezone(ZoneInfo(tz))
    for candidate in (month_containing(local_start, tz), quarter_containing(local_start, tz)):
        if candidate.bounds == (start, end):
            return candidate
    return None


def parse_period(kind: str, token: str, tz: str) -> Period | None:
    """Read "2026-11" (a month) or "2026-Q4" (a quarter); a month token with kind "quarter" gives the quarter
    containing that month. None when the text isn't a period we understand."""
    if kind not in PERIOD_KINDS:
        return None
    year_text, _, rest = (token or "").strip().upper().partition("-")
    if not (year_text.isdigit() and len(year_text) == 4) or not 1 <= int(year_text) <= 9998:
        return None
    year = int(year_text)
    if rest.startswith("Q") and rest[1:].isdigit() and 1 <= int(rest[1:]) <= 4:
        quarter = int(rest[1:])
        if kind == QUARTER:
            return Period(QUARTER, year, quarter, tz)
        return Period(MONTH, year, 3 * quarter - 2, tz)
    if rest.isdigit() and 1 <= int(rest) <= 12:
        return period_containing(kind, date(year, int(rest), 1), tz)
    return None


# --- entries and the leaderboard -------------------------------------------------------------


def contest_entries(debrief: Debrief) -> int:
    """Entries a submitted debrief earns: 1 for submitting, 1 if on time, 1 per reason code given with
    the customer's words, 1 for proposing a tactic."""
    if not debrief.is_submitted:
        return 0
    entries = 1
    if debrief.submitted_at <= debrief.task.due_at:
        entries += 1
    for a in debrief.answers:
        entries += sum(1 for c in a.codes if c.words.strip())
        if a.question.key == "tactic" and a.text.strip():
            entries += 1
    return entries


@dataclass
class LeaderboardRow:
    user: User
    debriefs: int
    entries: int
    rank: int = 0  # 1-based; people with the same entries share a rank


def leaderboard(period_start: datetime, period_end: datetime) -> list[LeaderboardRow]:
    """Everyone with a debrief submitted in [period_start, period_end): their debriefs and entries, most
    entries first, then by name. A fixed handful of queries however many debriefs there are."""
    debriefs = db.session.scalars(
        select(Debrief)
        .options(
            joinedload(Debrief.author),
            selectinload(Debrief.task),
            selectinload(Debrief.answers).options(selectinload(Answer.codes), selectinload(Answer.question)),
        )
        .where(
            Debrief.state == DebriefState.SUBMITTED.value,
            Debrief.submitted_at >= period_start,
            Debrief.submitted_at < period_end,
        )
    ).unique()
    rows: dict[int, LeaderboardRow] = {}
    for debrief in debriefs:
        row = rows.setdefault(debrief.author_id, LeaderboardRow(user=debrief.author, debriefs=0, entries=0))
        row.debriefs += 1
        row.entries += contest_entries(debrief)
    ordered = sorted(rows.values(), key=lambda r: (-r.entries, r.user.name.casefold(), r.user.id))
    for position, row in enumerate(ordered, 1):
        tied_with_above = position > 1 and ordered[position - 2].entries == row.entries
        row.rank = ordered[position - 2].rank if tied_with_above else position
    return ordered


def canonical_entries(rows: list[LeaderboardRow]) -> list[tuple[int, int]]:
    """The entries a draw uses: (user id, entries) for everyone with at least one, ordered by user id."""
    return sorted((r.user.id, r.entries) for r in rows if r.entries > 0)


# --- the draw --------------------------------------------------------------------------------


def pick_weighted(seed: str | int, entries: list[tuple[int, int]]) -> int:
    """The winner's user id: one number from ``random.Random(seed)`` picks a ticket among all entries, walking
    the cumulative sums in the order given. Pure, so a recorded seed and entries always give the same winner.

    It uses ``Random.random()``, the one output Python promises stays the same for a seed across versions
    (``randrange`` may change), so old draws still replay after an upgrade."""
    total = 0
    for user_id, weight in entries:
        if not isinstance(weight, int) or isinstance(weight, bool) or weight <= 0:
            raise ValueError(f"entries must be positive whole numbers (user {user_id} has {weight!r})")
        total += weight
    if total == 0:
        raise ValueError("no entries to draw from")
    ticket = winning_ticket(seed, total)
    for user_id, weight in entries:
        if ticket < weight:
            return user_id
        ticket -= weight
    raise AssertionError("unreachable: the ticket is below the total")


def winning_ticket(seed: str | int, total: int) -> int:
    """The 0-based ticket, out of ``total``, that ``seed`` picks (shown on the draw page so a person can follow)."""
    return min(int(random.Random(seed).random() * total), total - 1)


# Any fixed number: the PostgreSQL advisory lock that makes draws take turns.
DRAW_LOCK_KEY = 0x7A4D_C0DE


def _serialise_draws() -> None:
    """Two people pressing "Draw" at once must not both draw the same period. On PostgreSQL a
    transaction-scoped advisory lock makes the second wait until the first commits, and then see its draw.
    (SQLite, the single-user default, has no such lock; a unique constraint on the period would cover both.)"""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": DRAW_LOCK_KEY})


def draw_winner(
    actor: User, period_start: datetime, period_end: datetime, now: datetime, seed: str | int | None = None
) -> ContestDraw:
    """HR (or an admin) draws the period's winner at random, weighted by entries, and the draw is recorded
    with its seed and entries. Refused before the period is over, for a period with no entries, and for a
    period that already has a draw (a redraw would let someone draw until they liked the result)."""
    if not can_draw_contest(actor):
        raise NotAllowed("Only HR and admins draw the contest winner.")
    if period_end <= period_start:
        raise ValidationFailed("That period is empty: it ends before it starts.")
    if now < period_end:
        raise ValidationFailed("This period isn't over yet: debriefs can still earn entries. Draw once it has ended.")
    _serialise_draws()
    existing = db.session.scalar(
        select(ContestDraw)
        .where(ContestDraw.period_start == period_start, ContestDraw.period_end == period_end)
        .limit(1)
    )
    if existing is not None:
        raise ValidationFailed("A winner has already been drawn for this period; each period has one draw.")
    entries = canonical_entries(leaderboard(period_start, period_end))
    if not entries:
        raise ValidationFailed("No entries in this period: nobody submitted a debrief, so there is no one to draw.")
    seed = secrets.token_hex(16) if seed is None else str(seed)
    if not seed or len(seed) > 64:
        raise ValidationFailed("A seed is 1 to 64 characters.")
    draw = ContestDraw(
        period_start=period_start,
        period_end=period_end,
        seed=seed,
        entries_json=json.dumps([[user_id, n] for user_id, n in entries]),
        winner_id=pick_weighted(seed, entries),
        drawn_by_id=actor.id,
        drawn_at=now,
    )
    try:
        with db.session.begin_nested():
            db.session.add(draw)
    except IntegrityError:
        raise ValidationFailed("A winner has already been drawn for this period; each period has one draw.") from None
    return draw


def recorded_entries(draw: ContestDraw) -> list[tuple[int, int]]:
    """The entries a draw recorded, as (user id, entries). Raises ValueError when the record is malformed."""
    try:
        raw = json.loads(draw.entries_json)
        entries = [(user_id, n) for user_id, n in raw]
    except (TypeError, ValueError) as exc:
        raise ValueError("the recorded entries are not a list of [user id, entries] pairs") from exc
    for user_id, n in entries:
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            raise ValueError("the recorded entries name a user by something other than an id")
        if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
            raise ValueError(f"the recorded entries give user {user_id} {n!r} entries")
    return entries


def replay_draw(draw: ContestDraw) -> int:
    """The winner the recorded seed and entries give, recomputed from those two alone."""
    return pick_weighted(draw.seed, recorded_entries(draw))


def verify_draw(draw: ContestDraw) -> bool:
    """True when the record is canonical (ordered by user id, each person once) and replaying its seed
    over its entries gives the recorded winner."""
    try:
        entries = recorded_entries(draw)
        ids = [user_id for user_id, _ in entries]
        if ids != sorted(set(ids)):
            return False
        return replay_draw(draw) == draw.winner_id
    except ValueError:
        return False


def draws_overlapping(period_start: datetime, period_end: datetime) -> list[ContestDraw]:
    """Draws whose period overlaps [period_start, period_end), newest first (a quarter's draw shows on its
    months; a draw made in another timezone shows on the matching period here)."""
    return list(
        db.session.scalars(
            select(ContestDraw)
            .options(joinedload(ContestDraw.winner), joinedload(ContestDraw.drawn_by))
            .where(ContestDraw.period_start < period_end, ContestDraw.period_end > period_start)
            .order_by(ContestDraw.drawn_at.desc(), ContestDraw.id.desc())
        )
    )


def draw_record(draw_id: int) -> ContestDraw | None:
    """One recorded draw, with its winner and who drew it."""
    return db.session.scalar(
        select(ContestDraw)
        .options(joinedload(ContestDraw.winner), joinedload(ContestDraw.drawn_by))
        .where(ContestDraw.id == draw_id)
    )


def users_by_id(ids: set[int]) -> dict[int, User]:
    """The people a draw's entries name, in one query."""
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
