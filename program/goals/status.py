"""The status rule and the shapes of goal progress: pure, no database.

Status, judged on the local day ``today``:
    met       done ≥ target (a target that rounds to 0 is met);
    behind    the period is over and the target was missed, or done is below the pro-rata line:
              fewer than ⌊target × share of the person's available days already gone⌋;
    at risk   not behind, but the rest can't be reached: either there are not enough seats —
              attended-awaiting-debrief + seats already held + open seats left in the period < remaining —
              or, once a quarter of the available days has gone, the pace so far (done per available day,
              projected over the available days left, plus what is in hand) falls short;
    on track  otherwise.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from functools import lru_cache
from math import floor

from program.activities.models import ActivityKind
from program.goals.models import Goal
from program.periods import Period, PeriodType, Span, available_days, expected_target, round_half_up

KINDS: tuple[str, ...] = tuple(k.value for k in ActivityKind)
KIND_LABELS = {k.value: k.label for k in ActivityKind}
PACE_MIN_SHARE = Fraction(1, 4)


class Status(enum.StrEnum):
    MET = "met"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BEHIND = "behind"

    @property
    def label(self) -> str:
        return {"met": "Met", "on_track": "On track", "at_risk": "At risk", "behind": "Behind"}[self.value]

    @property
    def severity(self) -> int:
        return _SEVERITY[self]

    @property
    def badge(self) -> str:
        return {"met": "ok", "on_track": "info", "at_risk": "warn", "behind": "bad"}[self.value]


_SEVERITY = {s: n for n, s in enumerate(Status)}
NO_GOAL = "no_goal"
LONGER = "longer_period"  # every goal the person has runs over a longer period than the one reported
LONGER_LABEL = "n/a (longer period)"
STATUS_CHOICES = [(s.value, s.label) for s in Status] + [(LONGER, LONGER_LABEL), (NO_GOAL, "No goal")]


# --- status --------------------------------------------------------------------------------------


def classify(
    *,
    target: int,
    done: int,
    in_hand: int,
    ahead: int,
    open_seats: int,
    line: int,
    days_left: int,
    available: int,
    elapsed: int,
) -> Status:
    """The status from the numbers (see the module docstring). ``line`` is ⌊pro-rata target so far⌋;
    ``available`` and ``elapsed`` are the person's available days in the period and those already gone."""
    if done >= target:
        return Status.MET
    if days_left <= 0 or done < line:
        return Status.BEHIND
    remaining = target - done
    if in_hand + ahead + open_seats < remaining:
        return Status.AT_RISK
    # elapsed / available ≥ PACE_MIN_SHARE, and done + in_hand + ahead + done / elapsed × (available − elapsed)
    # < target: the same comparisons in whole numbers (both sides multiplied by positive denominators).
    if (
        available > 0
        and elapsed > 0
        and elapsed * PACE_MIN_SHARE.denominator >= available * PACE_MIN_SHARE.numerator
        and (done + in_hand + ahead - target) * elapsed + done * (available - elapsed) < 0
    ):
        return Status.AT_RISK
    return Status.ON_TRACK


@dataclass(slots=True)
class KindNumbers:
    booked: int = 0  # seats held through the activity: booked, attended or no-show
    attended: int = 0
    no_show: int = 0
    debriefed: int = 0  # attended with the debrief submitted
    ahead: int = 0  # seats held (or invitations) not yet attended
    mine: int = 0  # open activities ahead that this person hosts or is already on


@dataclass(slots=True)
class Progress:
    """One person's progress on one goal over one stretch of local days [start, end)."""

    kind: str
    goal: Goal
    start: date
    end: date
    period_label: str
    target: int
    done: int
    in_hand: int  # attended, debrief not submitted yet: counts once it is
    ahead: int
    open_seats: int
    days_left: int
    line: int
    status: Status

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def remaining(self) -> int:
        return max(self.target - self.done, 0)

    @property
    def achieved(self) -> int:
        return min(self.done, self.target)

    @property
    def percent(self) -> int:
        return 100 if not self.target else round(100 * self.achieved / self.target)


@lru_cache(maxsize=4096)
def _calendar(
    target: int, period: str, start: date, end: date, today: date, away: tuple[Span, ...]
) -> tuple[int, int, int, int, int]:
    """(pro-rated target, line so far, available days, available days gone, days left): pure, and the same
    for most people (everyone who joined before the period and took no leave), so it is cached."""
    mid = min(max(today, start), end)
    whole = round_half_up(expected_target(target, period, start, end, away))
    line = min(floor(expected_target(target, period, start, mid, away)), whole)
    return whole, line, available_days(start, end, away), available_days(start, mid, away), (end - mid).days


def evaluate(
    goal: Goal,
    numbers: KindNumbers,
    *,
    start: date,
    end: date,
    period_label: str,
    today: date,
    away: Sequence[Span],
    open_total: int,
) -> Progress:
    """Progress on ``goal`` over the local days [start, end), judged on ``today``."""
    counted = numbers.debriefed if goal.requires_debrief else numbers.attended
    in_hand = numbers.attended - numbers.debriefed if goal.requires_debrief else 0
    # Only the days inside [start, end) matter: clipped, everyone who was there all along shares one entry.
    inside = tuple((max(a, start), min(b, end)) for a, b in away if min(b, end) > max(a, start))
    target, line, available, elapsed, days_left = _calendar(goal.target, goal.period, start, end, today, inside)
    open_seats = max(open_total - numbers.mine, 0)
    status = classify(
        target=target,
        done=counted,
        in_hand=in_hand,
        ahead=numbers.ahead,
        open_seats=open_seats,
        line=line,
        days_left=days_left,
        available=available,
        elapsed=elapsed,
    )
    return Progress(
        kind=goal.kind,
        goal=goal,
        start=start,
        end=end,
        period_label=period_label,
        target=target,
        done=counted,
        in_hand=in_hand,
        ahead=numbers.ahead,
        open_seats=open_seats,
        days_left=days_left,
        line=line,
        status=status,
    )


@dataclass(frozen=True)
class LongerGoal:
    """A goal not judged over the reported period because its own period is longer; ``period`` is the
    goal's period that contains the reported one (where it is judged)."""

    kind: str
    goal: Goal
    period: Period

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def describe(self) -> str:
        return (
            f"{self.kind_label}: {self.goal.target} {PeriodType(self.goal.period).per}, judged over {self.period.label}"
        )


# --- one row of numbers per person ---------------------------------------------------------------


@dataclass(slots=True)
class PersonProgress:
    user_id: int
    name: str
    email: str
    role: str
    department_id: int | None
    department: str
    team_id: int | None
    team: str
    manager: str
    numbers: dict[str, KindNumbers]
    debriefs_submitted: int = 0
    debriefs_overdue: int = 0
    goals: list[Progress] = field(default_factory=list)
    longer: list[LongerGoal] = field(default_factory=list)  # goals not judged over this (shorter) period

    @property
    def has_goal(self) -> bool:
        return bool(self.goals)

    def standing(self) -> tuple[str, int, int]:
        """(status key, target, achieved) in one pass, for roll-ups (target and achieved are 0 without a goal)."""
        if not self.goals:
            return (LONGER if self.longer else NO_GOAL), 0, 0
        worst, target, achieved = self.goals[0].status, 0, 0
        for p in self.goals:
            target += p.target
            achieved += min(p.done, p.target)
            if _SEVERITY[p.status] > _SEVERITY[worst]:
                worst = p.status
        return worst.value, target, achieved

    @property
    def target(self) -> int | None:
        return sum(p.target for p in self.goals) if self.goals else None

    @property
    def done(self) -> int:
        return sum(p.done for p in self.goals)

    @property
    def achieved(self) -> int:
        """Done, counted up to each goal's target (five ride-alongs don't make up for a missing shadow day)."""
        return sum(p.achieved for p in self.goals)

    @property
    def percent(self) -> int | None:
        target = self.target
        if target is None:
            return None
        return 100 if target == 0 else round(100 * self.achieved / target)

    @property
    def status(self) -> Status | None:
        """The worst status over the person's goals (None: no goal applies)."""
        return max((p.status for p in self.goals), key=lambda s: s.severity) if self.goals else None

    @property
    def status_key(self) -> str:
        status = self.status
        return status.value if status else LONGER if self.longer else NO_GOAL

    @property
    def status_label(self) -> str:
        status = self.status
        return status.label if status else LONGER_LABEL if self.longer else "No goal"
