"""Funnel reality check and win/loss playback: the maths (pure functions) and the services.

The maths, exactly (``fractions.Fraction`` inside, money rounded to whole cents only for display):

- a stage's conversion is the share of the prospects entering it that enter the next stage,
  ``entering(i+1) / entering(i)``; the last stage (Won) has no conversion. A stage nobody entered
  converts 0 (0 of 0 moved on) — shown as unknown, counted as 0;
- ``revenue = prospects entering the first stage × Π conversions × average deal value``
  (which equals the prospects entering the last stage × the average deal value);
- a stage's sensitivity is the revenue added by raising its conversion by 1 percentage point
  (to at most 100 %) with every other conversion fixed;
- an idea adds the revenue of its own lift on its stage (same rule, same cap); its ranking score is
  ``revenue × confidence ÷ effort weight`` with S = 1, M = 2, L = 3.

Rules kept here:
- funnel input (form or CSV) is checked as a whole and saved all-or-nothing: every stage named, every
  count a whole number ≥ 0, no count larger than the stage before, at least two stages, the first
  entered by someone; CSV problems name their line;
- mini-teams are pairs (one three when the count is odd) drawn from the meeting's attendees with a
  stored seed: as many teams as possible mix sales and marketing, and transition stages are dealt
  round-robin so teams and stages are balanced; a swap exchanges two people, so sizes never change;
- attendees are those marked attended once anyone is; before that, the booked and invited who
  haven't answered "no";
- members add ideas for their own team's stages; the facilitator (host, host's manager, admin) for any;
- deal feedback is one entry per attendee per deal: lead quality 1–5, reason codes of the category
  the outcome calls for (why-buy for won deals, loss reasons otherwise), free text.
"""

from __future__ import annotations

import csv
import io
import random
import re
import secrets
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from program.accounts.models import Role, User
from program.activities.models import Activity, ActivityKind, Participation, State
from program.activities.permissions import can_manage_activity
from program.activities.services import lock_activity
from program.debriefs.models import CodeCategory, ReasonCode
from program.errors import NotAllowed, ValidationFailed
from program.extensions import db
from program.reviews.funnel_models import (
    EFFORT_WEIGHTS,
    DealFeedback,
    DealFeedbackCode,
    DealOutcome,
    Effort,
    FunnelIdea,
    FunnelSnapshot,
    FunnelStage,
    FunnelStageReason,
    FunnelTeam,
    FunnelTeamMember,
    FunnelTeamStage,
    PlaybackDeal,
)
from program.spreadsheet import neutralise
from program.validation import CONTROL_CHARACTERS, column_length

ONE_PP = Fraction(1, 100)
MAX_STAGES = 12
MAX_COUNT = 10**9
MAX_AVG_VALUE_CENTS = 10**13  # 100 billion
STAGE_NAME_MAX = column_length(FunnelStage.name)
MAX_DEAL_ROWS = 500
STAGE_REASON_CATEGORIES = (CodeCategory.LOSS_REASON.value, CodeCategory.LEAD_QUALITY.value)
FUNCTION_LABELS = {"sales": "Sales", "marketing": "Marketing"}


# --- the maths (pure) --------------------------------------------------------------------------


def conversions(entering: Sequence[int]) -> list[Fraction]:
    """One conversion per stage transition (one fewer than stages): ``entering(i+1) / entering(i)``.
    A stage nobody entered converts 0, so a zero never divides."""
    return [Fraction(after, before) if before > 0 else Fraction(0) for before, after in zip(entering[:-1], entering[1:], strict=True)]


def funnel_revenue(first: int, convs: Sequence[Fraction], avg_value: Fraction | int) -> Fraction:
    """Prospects entering the first stage × the product of the conversions × the average deal value."""
    product = Fraction(1)
    for conversion in convs:
        product *= conversion
    return first * product * Fraction(avg_value)


def lifted(convs: Sequence[Fraction], index: int, lift: Fraction) -> list[Fraction]:
    """The conversions with stage ``index`` raised by ``lift`` (1 pp = 1/100), never above 100 %."""
    out = list(convs)
    out[index] = min(out[index] + lift, Fraction(1))
    return out


def revenue_gain(first: int, convs: Sequence[Fraction], avg_value: Fraction | int, index: int, lift: Fraction) -> Fraction:
    """The revenue added by ``lift`` on stage ``index``'s conversion, every other conversion fixed."""
    return funnel_revenue(first, lifted(convs, index, lift), avg_value) - funnel_revenue(first, convs, avg_value)


def idea_score(gain: Fraction, confidence: int, effort: str) -> Fraction:
    """revenue × confidence (0–100 %) ÷ effort weight (S = 1, M = 2, L = 3)."""
    return gain * Fraction(confidence, 100) / EFFORT_WEIGHTS[Effort(effort)]


def round_cents(value: Fraction) -> int:
    """To the nearest whole cent, halves away from zero."""
    magnitude = abs(value)
    rounded = (2 * magnitude.numerator + magnitude.denominator) // (2 * magnitude.denominator)
    return -rounded if value < 0 else rounded


def money(cents: int) -> str:
    """12345678 → '123,456.78'."""
    return f"{Decimal(cents).scaleb(-2):,.2f}"


def percent(value: Fraction | None, places: int = 1) -> str:
    """A fraction as a percentage: Fraction(1, 3) → '33.3 %'; None → '—'."""
    if value is None:
        return "—"
    exact = Decimal(value.numerator * 100) / Decimal(value.denominator)
    return f"{exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)} %"


def points(centi_pp: int) -> str:
    """Hundredths of a percentage point for people: 250 → '+2.5 pp'."""
    text = f"{Decimal(centi_pp).scaleb(-2):f}".rstrip("0").rstrip(".")
    return f"+{text} pp"


# --- parsing input (pure) -------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input. ``row`` indexes the rows given (None: the input as a whole);
    ``where`` names it for people ("Line 4", "Row 2")."""

    row: int | None
    field: str | None
    message: str
    where: str = ""

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.sentence

    @property
    def sentence(self) -> str:
        """The message on its own (beside a form field), starting with a capital."""
        return self.message[:1].upper() + self.message[1:]


class InputProblems(ValidationFailed):
    """The input was refused as a whole; ``problems`` says every reason, in order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        if len(problems) == 1:
            summary = str(problems[0])
        else:
            summary = f"Nothing was saved: {len(problems)} problems. " + " ".join(str(p) for p in problems[:3])
        super().__init__(summary)


@dataclass(frozen=True)
class RawStage:
    name: str
    entering: str
    where: str = ""


@dataclass(frozen=True)
class StageInput:
    name: str
    entering: int


_COUNT = re.compile(r"-?(\d{1,3}(,\d{3})+|\d+)")


def _parse_count(raw: str) -> int | None:
    text = raw.strip().replace(" ", "")
    if not _COUNT.fullmatch(text):
        return None
    return int(text.replace(",", ""))


def check_stages(rows: Sequence[RawStage]) -> list[StageInput]:
    """The stages in order, or ``InputProblems`` naming every bad row. Rows with neither a name nor
    a count are ignored (the blank rows of a form). Each count is compared with the row above it."""
    problems: list[Problem] = []
    stages: list[StageInput] = []
    seen: dict[str, str] = {}
    previous: StageInput | None = None  # the nearest row above with a usable count
    given = 0
    for index, row in enumerate(rows):
        name, raw = row.name.strip(), row.entering.strip()
        if not name and not raw:
            continue
        given += 1
        ok = True
        label = f"“{name}”" if name else "this stage"

        def problem(field_name: str, message: str, index: int = index, where: str = row.where) -> None:
            problems.append(Problem(index, field_name, message, where))

        if not name:
            problem("name", f"the stage name is missing (its count is {raw}).")
            ok = False
        elif len(name) > STAGE_NAME_MAX:
            problem("name", f"the stage name is longer than {STAGE_NAME_MAX} characters.")
            ok = False
        elif name.casefold() in seen:
            also = f" (also {seen[name.casefold()]})" if seen[name.casefold()] else ""
            problem("name", f"the stage “{name}” appears twice{also}.")
            ok = False
        else:
            seen[name.casefold()] = row.where
        count = _parse_count(raw) if raw else None
        wrong = ""
        if not raw:
            wrong = f"the number entering {label} is missing."
        elif count is None:
            wrong = f"“{raw}” is not a whole number of prospects."
        elif count < 0:
            wrong = f"the number entering {label} can't be negative ({count})."
        elif count > MAX_COUNT:
            wrong = f"{count:,} is more than Tandem accepts ({MAX_COUNT:,})."
        elif given == 1 and count == 0:
            wrong = "the first stage needs at least one prospect."
        elif previous is not None and count > previous.entering:
            wrong = f"{label} has {count:,}, more than the {previous.entering:,} entering “{previous.name}” before it."
        if wrong:
            problem("entering", wrong)
        if count is not None and 0 <= count <= MAX_COUNT:
            previous = StageInput(name or "the stage above", count)
        if ok and not wrong:
            stages.append(StageInput(name, count))
    if given < 2:
        problems.append(Problem(None, None, "Give at least two stages (for example Lead and Won): "
                                            "a conversion needs a stage and the one after it."))
    elif given > MAX_STAGES:
        problems.append(Problem(None, None, f"A funnel has at most {MAX_STAGES} stages."))
    if problems:
        raise InputProblems(problems)
    return stages


def parse_money(raw: str, field_name: str = "avg_deal_value") -> int:
    """'24,000.50' → 2400050 cents. Refuses negatives, more than two decimals and absurd sizes."""
    text = (raw or "").strip().replace(",", "").replace(" ", "")
    if not text:
        raise ValidationFailed("Give the average deal value.", field=field_name)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValidationFailed(f"“{raw.strip()}” is not an amount (write it like 24000 or 24,000.50).", field=field_name) from None
    if not value.is_finite():
        raise ValidationFailed(f"“{raw.strip()}” is not an amount.", field=field_name)
    if value < 0:
        raise ValidationFailed("The average deal value can't be negative.", field=field_name)
    if value * 100 > MAX_AVG_VALUE_CENTS:  # before quantize, which can't give two decimals of a 30-digit number
        raise ValidationFailed("That amount is larger than Tandem accepts.", field=field_name)
    if value != value.quantize(Decimal("0.01")):
        raise ValidationFailed("Give the amount to at most two decimals.", field=field_name)
    return int(value * 100)


def _header_key(name: str) -> str:
    return (name or "").strip().lower().replace(" ", "_").replace("-", "_")


def _csv_records(content: str, columns: Sequence[str], required: Sequence[str]) -> tuple[list[tuple[int, dict[str, str]]], list[Problem]]:
    """Rows of a CSV with a header, as (line number, {column: value}), and the problems of its shape."""
    reader = csv.reader(io.StringIO(content), strict=True)  # strict: stray quotes are errors, not guesses
    problems: list[Problem] = []
    last_line = 0  # where the last good row ended; a broken row starts on the next line
    records: list[tuple[int, dict[str, str]]] = []
    expected = ", ".join(columns)
    try:
        header = next(reader, None)
        while header is not None and not any(h.strip() for h in header):
            header = next(reader, None)
        if header is None:
            return [], [Problem(None, None, f"The file is empty. Its first line should be the header: {expected}.")]
        keys = [_header_key(h) for h in header]
        while keys and not keys[-1]:
            keys.pop()
        header_line = reader.line_num
        missing = [c for c in required if c not in keys]
        unknown = [k for k in keys if k not in columns]
        if missing or unknown or len(set(keys)) != len(keys):
            detail = f"it lacks {', '.join(missing)}" if missing else "it has unknown or repeated columns"
            return [], [Problem(None, None, f"the header must name the columns {expected} ({detail}).", f"Line {header_line}")]
        last_line = reader.line_num
        for values in reader:
            line = last_line + 1
            last_line = reader.line_num
            while values and not values[-1].strip() and len(values) > len(keys):
                values = values[:-1]
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(keys):
                problems.append(Problem(len(records), None,
                                        f"expected {len(keys)} values ({', '.join(keys)}), found {len(values)}.", f"Line {line}"))
                records.append((line, {}))
                continue
            if any(CONTROL_CHARACTERS.search(v) for v in values):  # a NUL byte can't be stored in any text
                problems.append(Problem(len(records), None, "a value contains a control character (such as a NUL byte); "
                                        "remove it.", f"Line {line}"))
                records.append((line, {}))
                continue
            records.append((line, {k: v.strip() for k, v in zip(keys, values, strict=True)}))
    except csv.Error as exc:
        problems.append(Problem(None, None, f"not valid CSV ({exc}); check its quotes. Nothing after it was read.",
                                f"Line {last_line + 1}"))
    return records, problems


def parse_funnel_csv(content: str) -> list[StageInput]:
    """A funnel CSV (header ``stage,entering``, one line per stage in funnel order) → stages, or
    ``InputProblems`` naming every bad line."""
    records, problems = _csv_records(content, ("stage", "entering"), ("stage", "entering"))
    if problems and not records:
        raise InputProblems(problems)
    rows = [RawStage(r.get("stage", ""), r.get("entering", ""), f"Line {line}") for line, r in records if r]
    if not records and not problems:
        raise InputProblems([Problem(None, None, "The file has a header but no stages.")])
    broken = any(p.row is None for p in problems)  # unreadable CSV: the whole-file checks would only add noise
    try:
        stages = check_stages(rows) if rows else []
    except InputProblems as exc:
        problems.extend(p for p in exc.problems if not (broken and p.row is None))
    if problems:
        problems.sort(key=lambda p: (int(p.where.split()[-1]) if p.where.startswith("Line ") else 10**9))
        raise InputProblems(problems)
    return stages


def normalise_outcome(raw: str) -> str | None:
    key = _header_key(raw).replace("__", "_")
    aliases = {"won": "won", "win": "won", "lost": "lost", "loss": "lost", "no_decision": "no_decision",
               "nodecision": "no_decision", "no_decision_made": "no_decision", "stalled": "no_decision"}
    return aliases.get(key)


@dataclass(frozen=True)
class DealInput:
    name: str
    segment: str
    outcome: str
    lead_source: str


def check_deal(name: str, segment: str, outcome: str, lead_source: str) -> tuple[DealInput | None, list[tuple[str, str]]]:
    """A deal's fields, or the (field, message) problems with them."""
    problems: list[tuple[str, str]] = []
    name, segment, lead_source = name.strip(), segment.strip(), lead_source.strip()
    if not name:
        problems.append(("name", "the deal name is missing."))
    elif len(name) > column_length(PlaybackDeal.name):
        problems.append(("name", f"the deal name is longer than {column_length(PlaybackDeal.name)} characters."))
    if len(segment) > column_length(PlaybackDeal.segment):
        problems.append(("segment", f"the segment is longer than {column_length(PlaybackDeal.segment)} characters."))
    if len(lead_source) > column_length(PlaybackDeal.lead_source):
        problems.append(("lead_source", f"the lead source is longer than {column_length(PlaybackDeal.lead_source)} characters."))
    normal = normalise_outcome(outcome) if outcome.strip() else None
    if not outcome.strip():
        problems.append(("outcome", "the outcome is missing (won, lost or no decision)."))
    elif normal is None:
        problems.append(("outcome", f"the outcome “{outcome.strip()}” is not won, lost or no decision."))
    if problems:
        return None, problems
    return DealInput(name, segment, normal or "", lead_source), []


def parse_deals_csv(content: str, existing_names: Iterable[str] = ()) -> list[DealInput]:
    """A deals CSV (header ``deal,segment,outcome,lead_source``) → deals, or ``InputProblems`` naming
    every bad line. A deal already in the list, or twice in the file, is a problem too."""
    columns = ("deal", "segment", "outcome", "lead_source")
    records, problems = _csv_records(content, columns, ("deal", "outcome"))
    if problems and not records:
        raise InputProblems(problems)
    if not records and not problems:
        raise InputProblems([Problem(None, None, "The file has a header but no deals.")])
    if len(records) > MAX_DEAL_ROWS:
        raise InputProblems([Problem(None, None, f"The file has more than {MAX_DEAL_ROWS} deals; split it.")])
    existing = {n.casefold() for n in existing_names}
    seen: dict[str, int] = {}
    deals: list[DealInput] = []
    for index, (line, record) in enumerate(records):
        if not record:
            continue  # its shape was already reported
        deal, row_problems = check_deal(record.get("deal", ""), record.get("segment", ""),
                                        record.get("outcome", ""), record.get("lead_source", ""))
        for field_name, message in row_problems:
            problems.append(Problem(index, field_name, message, f"Line {line}"))
        if deal is None:
            continue
        key = deal.name.casefold()
        if key in seen:
            problems.append(Problem(index, "name", f"the deal “{deal.name}” appears twice (also line {seen[key]}).", f"Line {line}"))
        elif key in existing:
            problems.append(Problem(index, "name", f"the deal “{deal.name}” is already in the list.", f"Line {line}"))
        else:
            seen[key] = line
            deals.append(deal)
    if problems:
        problems.sort(key=lambda p: int(p.where.split()[-1]) if p.where.startswith("Line ") else 0)
        raise InputProblems(problems)
    return deals


# --- mini-teams (pure) -----------------------------------------------------------------------


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
    teams += [TeamPlan(rest[i:i + 2]) for i in range(0, len(rest), 2)]
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


# --- permissions (pure) -----------------------------------------------------------------------

VIEW_ROLES = (Role.LEADER.value, Role.HR.value, Role.ADMIN.value)
GONE = (State.CANCELLED_BY_USER.value, State.CANCELLED_BY_HOST.value, State.DECLINED.value)
ATTENDING = (State.INVITED.value, State.BOOKED.value, State.ATTENDED.value)


def is_attendee(p: Participation | None) -> bool:
    """Invited, booked or attended, and not having answered "no"."""
    return p is not None and p.state in ATTENDING and p.rsvp != "no"


def can_view_funnel(user: User, activity: Activity, participation: Participation | None) -> bool:
    """The facilitator, leaders, HR, admins and the meeting's participants see the funnel work."""
    if can_manage_activity(user, activity) or user.role in VIEW_ROLES:
        return True
    return participation is not None and participation.state not in GONE


def can_edit_funnel(user: User, activity: Activity) -> bool:
    """The facilitator edits the funnel, forms and swaps teams, and keeps the deal list: the host,
    the host's manager and admins (the same people who manage the activity)."""
    return can_manage_activity(user, activity)


def can_add_idea(user: User, activity: Activity, own_team_id: int | None, team_id: int | None) -> bool:
    """Members add ideas for their own team; the facilitator for any team."""
    return can_edit_funnel(user, activity) or (own_team_id is not None and own_team_id == team_id)


def can_give_feedback(user: User, activity: Activity, participation: Participation | None) -> bool:
    """Attendees (and the host) record feedback on the deals."""
    return user.id == activity.host_id or is_attendee(participation) or (
        participation is not None and participation.state == State.ATTENDED.value
    )


@dataclass(frozen=True)
class Viewer:
    user: User
    participation: Participation | None
    team_id: int | None
    can_view: bool
    can_edit: bool
    can_give_feedback: bool

    def may_add_idea(self, activity: Activity, team_id: int | None) -> bool:
        return can_add_idea(self.user, activity, self.team_id, team_id)


FUNNEL_FORMATS = ("funnel_reality_check", "win_loss_playback")


def get_meeting(activity_id: int) -> Activity | None:
    """A review meeting whose format has funnel or playback work (with its host loaded), or None."""
    activity = db.session.scalar(
        select(Activity).options(joinedload(Activity.host)).where(
            Activity.id == activity_id, Activity.kind == ActivityKind.REVIEW_MEETING.value
        )
    )
    meeting = getattr(activity, "meeting", None) if activity is not None else None
    if meeting is not None and meeting.format not in FUNNEL_FORMATS:
        return None  # a lead-definition session or an "other" meeting has no funnel pages
    return activity


def viewer_for(user: User, activity: Activity) -> Viewer:
    participation = db.session.scalar(
        select(Participation).where(Participation.activity_id == activity.id, Participation.user_id == user.id)
    )
    team_id = db.session.scalar(
        select(FunnelTeamMember.team_id).where(FunnelTeamMember.activity_id == activity.id, FunnelTeamMember.user_id == user.id)
    )
    return Viewer(
        user=user,
        participation=participation,
        team_id=team_id,
        can_view=can_view_funnel(user, activity, participation),
        can_edit=can_edit_funnel(user, activity),
        can_give_feedback=can_give_feedback(user, activity, participation),
    )


class MeetingClosed(NotAllowed):
    """The meeting was cancelled: its funnel work is read-only."""


def _require_open(activity: Activity) -> None:
    if activity.is_cancelled:
        raise MeetingClosed("This meeting was cancelled; its funnel work can be read but not changed.")


def _require_edit(actor: User, activity: Activity) -> None:
    if not can_edit_funnel(actor, activity):
        raise NotAllowed("Only the facilitator can change this.")
    _require_open(activity)


# --- the funnel --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReasonView:
    id: int
    label: str
    category: str
    count: int
    retired: bool


@dataclass(frozen=True)
class StageView:
    id: int
    position: int
    name: str
    entering: int
    conversion: Fraction | None  # None for the last stage
    unknown: bool  # nobody entered it, so its conversion is unknown (counted as 0)
    lost: int | None
    lost_share: Fraction | None
    reasons: tuple[ReasonView, ...]
    is_last: bool


@dataclass(frozen=True)
class FunnelView:
    snapshot_id: int
    period_label: str
    avg_value_cents: int
    stages: tuple[StageView, ...]
    team_seed: str
    updated_at: datetime

    @property
    def transition_stages(self) -> tuple[StageView, ...]:
        return self.stages[:-1]

    @property
    def overall(self) -> Fraction | None:
        """The share of the first stage's prospects that reach the last stage."""
        first = self.stages[0].entering
        return Fraction(self.stages[-1].entering, first) if first else None


def snapshot_for(activity_id: int) -> FunnelSnapshot | None:
    return db.session.scalar(
        select(FunnelSnapshot)
        .options(selectinload(FunnelSnapshot.stages).selectinload(FunnelStage.reasons).joinedload(FunnelStageReason.reason_code))
        .where(FunnelSnapshot.activity_id == activity_id)
        .execution_options(populate_existing=True)
    )


def funnel_view(snapshot: FunnelSnapshot | None) -> FunnelView | None:
    """The funnel with each stage's conversion, loss and loss reasons."""
    if snapshot is None or not snapshot.stages:
        return None
    stages = snapshot.stages
    convs = conversions([s.entering for s in stages])
    views = []
    for i, stage in enumerate(stages):
        last = i == len(stages) - 1
        unknown = not last and stage.entering == 0
        lost = None if last else stage.entering - stages[i + 1].entering
        views.append(StageView(
            id=stage.id,
            position=i,
            name=stage.name,
            entering=stage.entering,
            conversion=None if last or unknown else convs[i],
            unknown=unknown,
            lost=lost,
            lost_share=None if last or unknown else 1 - convs[i],
            reasons=tuple(
                ReasonView(r.id, r.reason_code.label, r.reason_code.category, r.count, r.reason_code.retired)
                for r in stage.reasons
            ),
            is_last=last,
        ))
    return FunnelView(snapshot.id, snapshot.period_label, snapshot.avg_deal_value_cents, tuple(views),
                      snapshot.team_seed, snapshot.updated_at)


def save_funnel(activity: Activity, actor: User, period_label: str, avg_value_cents: int,
                stages: Sequence[StageInput], now: datetime) -> FunnelSnapshot:
    """Replace the meeting's funnel with these stages (already checked by ``check_stages``).

    Stages keep their identity by name, so ideas, team assignments and loss reasons follow them.
    A stage that has ideas can't be removed or become the last stage (it would lose its
    conversion), and a loss reason can't count more prospects than are now lost at its stage.
    """
    _require_edit(actor, activity)
    activity = lock_activity(activity.id)
    if len(stages) < 2:
        raise ValidationFailed("Give at least two stages.")
    if avg_value_cents < 0:
        raise ValidationFailed("The average deal value can't be negative.", field="avg_deal_value")
    snapshot = snapshot_for(activity.id)
    if snapshot is None:
        snapshot = FunnelSnapshot(activity_id=activity.id, created_at=now)
        db.session.add(snapshot)
    existing = {s.name.casefold(): s for s in snapshot.stages}
    ideas_per_stage = dict(db.session.execute(
        select(FunnelIdea.stage_id, func.count(FunnelIdea.id)).where(FunnelIdea.activity_id == activity.id).group_by(FunnelIdea.stage_id)
    ).all())
    wanted = {s.name.casefold() for s in stages}
    problems = []
    for key, stage in existing.items():
        if key not in wanted and ideas_per_stage.get(stage.id):
            problems.append(f"“{stage.name}” has {ideas_per_stage[stage.id]} idea(s); delete them before removing the stage.")
    last = existing.get(stages[-1].name.casefold())
    if last is not None and ideas_per_stage.get(last.id):
        problems.append(f"“{last.name}” has ideas, so it can't be the last stage (the last stage has no conversion).")
    for i, item in enumerate(stages):
        stage = existing.get(item.name.casefold())
        if stage is None or not stage.reasons:
            continue
        lost = 0 if i == len(stages) - 1 else item.entering - stages[i + 1].entering
        too_many = [r for r in stage.reasons if r.count > lost]
        if too_many:
            problems.append(f"“{stage.name}” would lose {lost:,} prospect(s) but its loss reason "
                            f"“{too_many[0].reason_code.label}” counts {too_many[0].count:,}; lower or remove it first.")
    if problems:
        raise InputProblems([Problem(None, None, p) for p in problems])
    kept = []
    for position, item in enumerate(stages):
        stage = existing.get(item.name.casefold())
        if stage is None:
            stage = FunnelStage(name=item.name, position=position, entering=item.entering)
        stage.name, stage.position, stage.entering = item.name, position, item.entering
        kept.append(stage)
    snapshot.stages = kept  # removed stages go (delete-orphan), with their team assignments
    snapshot.period_label = period_label.strip()[:80]
    snapshot.avg_deal_value_cents = avg_value_cents
    snapshot.updated_by_id = actor.id
    snapshot.updated_at = now
    db.session.flush()
    return snapshot


def reason_choices(category_filter: Sequence[str], keep_ids: Iterable[int] = ()) -> list[ReasonCode]:
    """Codes of these categories in codebook order: the active ones, and retired ones already chosen."""
    keep = list(keep_ids)
    stmt = select(ReasonCode).where(ReasonCode.category.in_(list(category_filter)))
    stmt = stmt.where((ReasonCode.retired.is_(False)) | (ReasonCode.id.in_(keep))) if keep else stmt.where(ReasonCode.retired.is_(False))
    order = {c: i for i, c in enumerate(category_filter)}
    codes = list(db.session.scalars(stmt.order_by(ReasonCode.position, ReasonCode.id)))
    return sorted(codes, key=lambda c: order.get(c.category, 99))


def set_stage_reason(activity: Activity, actor: User, stage_id: int, reason_code_id: int, count: int, now: datetime) -> FunnelStageReason:
    """Record that ``count`` prospects were lost at a stage for a reason (replacing an earlier count
    for the same code). Loss reasons and lead-quality codes only; never more than were lost there."""
    _require_edit(actor, activity)
    lock_activity(activity.id)
    view = funnel_view(snapshot_for(activity.id))
    stage = next((s for s in view.stages if s.id == stage_id), None) if view else None
    if stage is None:
        raise ValidationFailed("Choose a stage of this funnel.", field="stage_id")
    code = db.session.get(ReasonCode, reason_code_id)
    if code is None or code.category not in STAGE_REASON_CATEGORIES:
        raise ValidationFailed("Choose a loss reason or a lead-quality code.", field="reason_code_id")
    if code.retired:
        raise ValidationFailed(f"“{code.label}” is retired from the codebook.", field="reason_code_id")
    if stage.is_last:
        raise ValidationFailed(f"Nobody is lost at “{stage.name}”: it is the last stage.", field="stage_id")
    if count < 1:
        raise ValidationFailed("Count at least one prospect.", field="count")
    if count > (stage.lost or 0):
        raise ValidationFailed(f"Only {stage.lost:,} prospect(s) were lost at “{stage.name}”.", field="count")
    stage_row = db.session.get(FunnelStage, stage_id)
    row = next((r for r in stage_row.reasons if r.reason_code_id == reason_code_id), None)
    if row is None:
        row = FunnelStageReason(reason_code_id=reason_code_id, count=count, reason_code=code)
        stage_row.reasons.append(row)
    row.count = count
    db.session.flush()
    return row


def remove_stage_reason(activity: Activity, actor: User, reason_id: int) -> None:
    _require_edit(actor, activity)
    row = db.session.scalar(
        select(FunnelStageReason)
        .join(FunnelStage, FunnelStage.id == FunnelStageReason.stage_id)
        .join(FunnelSnapshot, FunnelSnapshot.id == FunnelStage.snapshot_id)
        .where(FunnelStageReason.id == reason_id, FunnelSnapshot.activity_id == activity.id)
    )
    if row is None:
        raise ValidationFailed("That loss reason is not on this funnel.")
    row.stage.reasons.remove(row)  # delete-orphan: removed from the stage and from the database
    db.session.flush()


# --- mini-teams ------------------------------------------------------------------------------


def meeting_attendees(activity_id: int) -> list[User]:
    """Those marked attended, once anyone is; before that the booked and invited who haven't said no."""
    rows = list(db.session.scalars(
        select(Participation)
        .options(joinedload(Participation.user).joinedload(User.department))
        .where(Participation.activity_id == activity_id,
               Participation.state.in_([State.ATTENDED.value, State.BOOKED.value, State.INVITED.value]))
        .order_by(Participation.user_id)
    ))
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
            t.id, t.number, tuple(_member(m.user) for m in t.members),
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
    _require_edit(actor, activity)
    lock_activity(activity.id)
    snapshot = snapshot_for(activity.id)
    if snapshot is None or len(snapshot.stages) < 2:
        raise ValidationFailed("Enter the funnel first: teams are given its stages.")
    if db.session.scalar(select(func.count(FunnelIdea.id)).where(FunnelIdea.activity_id == activity.id, FunnelIdea.team_id.is_not(None))):
        raise ValidationFailed("Teams already have ideas, so they can't be drawn again; swap people instead.")
    people = meeting_attendees(activity.id)
    seed = (seed or "").strip()[:64] or secrets.token_hex(4)
    plans = plan_teams([(u.id, u.function) for u in people], [s.id for s in snapshot.stages[:-1]], seed)
    # Through the ORM (not a bulk DELETE), so the members and stage links leave the session too.
    for old in db.session.scalars(
        select(FunnelTeam).options(selectinload(FunnelTeam.members), selectinload(FunnelTeam.stage_links))
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
    _require_edit(actor, activity)
    lock_activity(activity.id)
    if user_a == user_b:
        raise ValidationFailed("Choose two different people.", field="user_b")
    members = {
        m.user_id: m
        for m in db.session.scalars(select(FunnelTeamMember).where(
            FunnelTeamMember.activity_id == activity.id, FunnelTeamMember.user_id.in_([user_a, user_b])
        ))
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


# --- ideas -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdeaView:
    id: int
    title: str
    stage_id: int
    stage_name: str
    team_id: int | None
    team_name: str
    lift_centi_pp: int
    confidence: int
    effort: str
    author_id: int
    author_name: str


def ideas_for(activity_id: int) -> list[IdeaView]:
    ideas = db.session.scalars(
        select(FunnelIdea)
        .options(joinedload(FunnelIdea.stage), joinedload(FunnelIdea.team), joinedload(FunnelIdea.author))
        .where(FunnelIdea.activity_id == activity_id)
        .order_by(FunnelIdea.id)
    )
    return [
        IdeaView(i.id, i.title, i.stage_id, i.stage.name, i.team_id, i.team.name if i.team else "Facilitator",
                 i.lift_centi_pp, i.confidence, i.effort, i.author_id, i.author.name)
        for i in ideas
    ]


def parse_lift(value: Decimal | str | None) -> int:
    """Percentage points (up to two decimals, more than 0, at most 100) → hundredths of a point."""
    try:
        lift = Decimal(str(value).strip()) if value is not None and str(value).strip() else None
    except InvalidOperation:
        lift = None
    if lift is None or not lift.is_finite():
        raise ValidationFailed("Give the expected lift in percentage points, for example 2.5.", field="lift")
    if lift <= 0:
        raise ValidationFailed("The lift must be more than 0 percentage points.", field="lift")
    if lift > 100:
        raise ValidationFailed("A conversion can't rise by more than 100 percentage points.", field="lift")
    if lift != lift.quantize(Decimal("0.01")):
        raise ValidationFailed("Give the lift to at most two decimals.", field="lift")
    return int(lift * 100)


def add_idea(activity: Activity, actor: User, *, team_id: int | None, stage_id: int, title: str,
             lift: Decimal | str | None, confidence: int | None, effort: str, now: datetime) -> FunnelIdea:
    """A team's idea for one of its stages (the facilitator may add one for any team and stage)."""
    _require_open(activity)
    own_team = db.session.scalar(
        select(FunnelTeamMember.team_id).where(FunnelTeamMember.activity_id == activity.id, FunnelTeamMember.user_id == actor.id)
    )
    facilitator = can_edit_funnel(actor, activity)
    if team_id is None and not facilitator:
        team_id = own_team
    if not can_add_idea(actor, activity, own_team, team_id):
        raise NotAllowed("Only members of a team (and the facilitator) add its ideas.")
    team = db.session.get(FunnelTeam, team_id) if team_id is not None else None
    if team_id is not None and (team is None or team.activity_id != activity.id):
        raise ValidationFailed("Choose one of this meeting's teams.", field="team_id")
    snapshot = snapshot_for(activity.id)
    stages = snapshot.stages if snapshot else []
    stage = next((s for s in stages if s.id == stage_id), None)
    if stage is None:
        raise ValidationFailed("Choose a stage of this funnel.", field="stage_id")
    if stage is stages[-1]:
        raise ValidationFailed(f"“{stage.name}” is the last stage: it has no conversion to lift.", field="stage_id")
    if not facilitator and team is not None and stage_id not in {link.stage_id for link in team.stage_links}:
        raise ValidationFailed(f"“{stage.name}” is not one of {team.name}'s stages.", field="stage_id")
    title = (title or "").strip()
    if not title:
        raise ValidationFailed("Say what the idea is.", field="title")
    if len(title) > 200:
        raise ValidationFailed("Keep the idea under 200 characters.", field="title")
    centi = parse_lift(lift)
    if confidence is None or not 0 <= confidence <= 100:
        raise ValidationFailed("Give a confidence between 0 and 100 %.", field="confidence")
    if effort not in {e.value for e in Effort}:
        raise ValidationFailed("Choose an effort: S, M or L.", field="effort")
    idea = FunnelIdea(activity_id=activity.id, team_id=team_id, stage_id=stage_id, title=title, lift_centi_pp=centi,
                      confidence=confidence, effort=effort, author_id=actor.id, created_at=now)
    db.session.add(idea)
    db.session.flush()
    return idea


def delete_idea(activity: Activity, actor: User, idea_id: int) -> None:
    """The author, a member of the idea's team, or the facilitator removes an idea."""
    _require_open(activity)
    idea = db.session.get(FunnelIdea, idea_id)
    if idea is None or idea.activity_id != activity.id:
        raise ValidationFailed("That idea is not in this meeting.")
    own_team = db.session.scalar(
        select(FunnelTeamMember.team_id).where(FunnelTeamMember.activity_id == activity.id, FunnelTeamMember.user_id == actor.id)
    )
    if not (idea.author_id == actor.id or can_add_idea(actor, activity, own_team, idea.team_id)):
        raise NotAllowed("Only its author, its team or the facilitator can delete an idea.")
    db.session.delete(idea)
    db.session.flush()


# --- sensitivity -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StageGain:
    rank: int
    stage_id: int
    name: str
    entering: int
    conversion: Fraction
    unknown: bool
    lifted_to: Fraction
    gain_cents: int
    capped: bool


@dataclass(frozen=True)
class IdeaGain:
    rank: int
    idea: IdeaView
    conversion: Fraction
    lifted_to: Fraction
    weight: int
    gain_cents: int
    score_cents: int
    capped: bool


@dataclass(frozen=True)
class SensitivityReport:
    funnel: FunnelView | None
    first_entering: int
    last_entering: int
    conversions: tuple[Fraction, ...]
    baseline_cents: int
    stages: tuple[StageGain, ...]  # ranked by revenue added
    ideas: tuple[IdeaGain, ...]  # ranked by score


def sensitivity(funnel: FunnelView | None, ideas: Sequence[IdeaView]) -> SensitivityReport:
    """Every transition stage's +1 pp revenue and every idea's revenue and score, ranked (pure)."""
    if funnel is None:
        return SensitivityReport(None, 0, 0, (), 0, (), ())
    entering = [s.entering for s in funnel.stages]
    convs = conversions(entering)
    first, value = entering[0], funnel.avg_value_cents
    base = funnel_revenue(first, convs, value)
    stage_rows = []
    for i, stage in enumerate(funnel.transition_stages):
        new = lifted(convs, i, ONE_PP)[i]
        gain = revenue_gain(first, convs, value, i, ONE_PP)
        stage_rows.append((gain, i, stage, new))
    stage_rows.sort(key=lambda r: (-r[0], r[1]))
    stage_gains = tuple(
        StageGain(rank, stage.id, stage.name, stage.entering, convs[i], stage.unknown, new, round_cents(gain),
                  new - convs[i] < ONE_PP)
        for rank, (gain, i, stage, new) in enumerate(stage_rows, start=1)
    )
    index_of = {s.id: i for i, s in enumerate(funnel.transition_stages)}
    idea_rows = []
    for idea in ideas:
        i = index_of.get(idea.stage_id)
        if i is None:  # its stage became the last one; save_funnel refuses that, but never divide by it
            continue
        lift = Fraction(idea.lift_centi_pp, 10000)
        gain = revenue_gain(first, convs, value, i, lift)
        score = idea_score(gain, idea.confidence, idea.effort)
        new = lifted(convs, i, lift)[i]
        idea_rows.append((score, gain, idea, convs[i], new, new - convs[i] < lift))
    idea_rows.sort(key=lambda r: (-r[0], -r[1], r[2].id))
    idea_gains = tuple(
        IdeaGain(rank, idea, conv, new, EFFORT_WEIGHTS[Effort(idea.effort)], round_cents(gain), round_cents(score), capped)
        for rank, (score, gain, idea, conv, new, capped) in enumerate(idea_rows, start=1)
    )
    return SensitivityReport(funnel, first, entering[-1], tuple(convs), round_cents(base), stage_gains, idea_gains)


def sensitivity_report(activity_id: int) -> SensitivityReport:
    return sensitivity(funnel_view(snapshot_for(activity_id)), ideas_for(activity_id))


def _units(cents: int) -> float:
    return float(Decimal(cents).scaleb(-2).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def sensitivity_charts(report: SensitivityReport):
    """The two bar charts of the page and the PDF: revenue added per stage (+1 pp), score per idea."""
    from program.charts import bar_chart

    stage_chart = bar_chart(
        "Revenue added by +1 pp of conversion, per stage",
        [(s.name, _units(s.gain_cents)) for s in report.stages],
        chart_id="chart-stage-sensitivity",
    )
    idea_chart = bar_chart(
        "Ideas ranked by score (revenue × confidence ÷ effort weight)",
        [(f"{g.rank}. {g.idea.title}", _units(g.score_cents)) for g in report.ideas[:15]],
        chart_id="chart-idea-scores",
    )
    return stage_chart, idea_chart


def _decimal_text(value: Fraction, places: int = 2) -> str:
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return str(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


SENSITIVITY_COLUMNS = ("type", "rank", "name", "stage", "team", "conversion_pct", "lift_pp", "confidence_pct",
                       "effort", "effort_weight", "revenue_added", "score")


def sensitivity_csv(report: SensitivityReport) -> str:
    """One row per stage (+1 pp) and per idea, ranked; text cells neutralised against formulas."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(SENSITIVITY_COLUMNS)
    for s in report.stages:
        writer.writerow([neutralise(c) for c in (
            "stage", s.rank, s.name, s.name, "", _decimal_text(s.conversion * 100), "1", "", "", "",
            str(Decimal(s.gain_cents).scaleb(-2)), "",
        )])
    for g in report.ideas:
        i = g.idea
        writer.writerow([neutralise(c) for c in (
            "idea", g.rank, i.title, i.stage_name, i.team_name, _decimal_text(g.conversion * 100),
            f"{Decimal(i.lift_centi_pp).scaleb(-2)}", i.confidence, i.effort, g.weight,
            str(Decimal(g.gain_cents).scaleb(-2)), str(Decimal(g.score_cents).scaleb(-2)),
        )])
    return out.getvalue()


def html_to_pdf(html: str, static_folder: str | Path) -> bytes:
    """Render HTML to PDF with WeasyPrint, fetching nothing but our own static files."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    root = Path(static_folder).resolve()

    class StaticOnly(URLFetcher):
        def fetch(self, url, headers=None):
            if url.startswith("file:"):
                from urllib.request import url2pathname

                path = Path(url2pathname(url.split("?")[0].removeprefix("file:"))).resolve()
                if path.is_relative_to(root) and path.is_file():
                    return URLFetcherResponse(url, path.read_bytes())
            raise ValueError(f"not fetched (only static files are): {url}")

    return HTML(string=html, base_url=str(root) + "/", url_fetcher=StaticOnly()).write_pdf()


# --- win/loss playback ------------------------------------------------------------------------


def _require_deal_owner(actor: User, activity: Activity) -> None:
    _require_edit(actor, activity)


def deal_names(activity_id: int) -> list[str]:
    return list(db.session.scalars(select(PlaybackDeal.name).where(PlaybackDeal.activity_id == activity_id)))


def add_deal(activity: Activity, actor: User, name: str, segment: str, outcome: str, lead_source: str, now: datetime) -> PlaybackDeal:
    _require_deal_owner(actor, activity)
    deal, problems = check_deal(name, segment, outcome, lead_source)
    if problems:
        field_name, message = problems[0]
        raise ValidationFailed(message[0].upper() + message[1:], field=field_name)
    if deal.name.casefold() in {n.casefold() for n in deal_names(activity.id)}:
        raise ValidationFailed(f"“{deal.name}” is already in the list.", field="name")
    row = PlaybackDeal(activity_id=activity.id, name=deal.name, segment=deal.segment, outcome=deal.outcome,
                       lead_source=deal.lead_source, created_by_id=actor.id, created_at=now)
    db.session.add(row)
    db.session.flush()
    return row


def import_deals(activity: Activity, actor: User, content: str, now: datetime) -> list[PlaybackDeal]:
    """Every row of a deals CSV, or none of them (``InputProblems`` names each bad line)."""
    _require_deal_owner(actor, activity)
    lock_activity(activity.id)
    deals = parse_deals_csv(content, deal_names(activity.id))
    rows = [
        PlaybackDeal(activity_id=activity.id, name=d.name, segment=d.segment, outcome=d.outcome,
                     lead_source=d.lead_source, created_by_id=actor.id, created_at=now)
        for d in deals
    ]
    db.session.add_all(rows)
    db.session.flush()
    return rows


def get_deal(activity_id: int, deal_id: int) -> PlaybackDeal | None:
    deal = db.session.scalar(
        select(PlaybackDeal)
        .options(selectinload(PlaybackDeal.feedback).selectinload(DealFeedback.codes))
        .where(PlaybackDeal.id == deal_id, PlaybackDeal.activity_id == activity_id)
        .execution_options(populate_existing=True)
    )
    return deal


def delete_deal(activity: Activity, actor: User, deal: PlaybackDeal) -> None:
    _require_deal_owner(actor, activity)
    db.session.delete(deal)
    db.session.flush()


@dataclass(frozen=True)
class DealFilters:
    outcome: str = ""
    segment: str = ""
    lead_source: str = ""


def deals_query(activity_id: int, filters: DealFilters):
    stmt = select(PlaybackDeal).where(PlaybackDeal.activity_id == activity_id)
    if filters.outcome:
        stmt = stmt.where(PlaybackDeal.outcome == filters.outcome)
    if filters.segment:
        stmt = stmt.where(PlaybackDeal.segment == filters.segment)
    if filters.lead_source:
        stmt = stmt.where(PlaybackDeal.lead_source == filters.lead_source)
    return stmt.order_by(PlaybackDeal.name, PlaybackDeal.id)


def deal_facets(activity_id: int) -> tuple[list[str], list[str]]:
    """The segments and lead sources of the meeting's deals, for the filters."""
    rows = db.session.execute(
        select(PlaybackDeal.segment, PlaybackDeal.lead_source).where(PlaybackDeal.activity_id == activity_id)
    ).all()
    return sorted({r[0] for r in rows if r[0]}), sorted({r[1] for r in rows if r[1]})


def feedback_counts(deal_ids: Sequence[int], user: User) -> tuple[dict[int, int], set[int]]:
    """How many people gave feedback on each deal, and which deals this user has given it on."""
    if not deal_ids:
        return {}, set()
    counts = dict(db.session.execute(
        select(DealFeedback.deal_id, func.count(DealFeedback.id)).where(DealFeedback.deal_id.in_(deal_ids)).group_by(DealFeedback.deal_id)
    ).all())
    mine = set(db.session.scalars(select(DealFeedback.deal_id).where(DealFeedback.deal_id.in_(deal_ids), DealFeedback.user_id == user.id)))
    return counts, mine


def feedback_of(deal: PlaybackDeal, user: User) -> DealFeedback | None:
    return next((f for f in deal.feedback if f.user_id == user.id), None)


def save_feedback(activity: Activity, deal: PlaybackDeal, actor: User, lead_quality: int | None,
                  code_ids: Sequence[int], note: str, now: datetime) -> DealFeedback:
    """Create or replace this attendee's feedback on a deal."""
    _require_open(activity)
    participation = db.session.scalar(
        select(Participation).where(Participation.activity_id == activity.id, Participation.user_id == actor.id)
    )
    if not can_give_feedback(actor, activity, participation):
        raise NotAllowed("Only the meeting's attendees record feedback on its deals.")
    if lead_quality is None or not 1 <= lead_quality <= 5:
        raise ValidationFailed("Rate the lead quality from 1 to 5.", field="lead_quality")
    note = (note or "").strip()
    if len(note) > 2000:
        raise ValidationFailed("Keep the note under 2,000 characters.", field="note")
    existing = feedback_of(deal, actor)
    before = {c.reason_code_id for c in existing.codes} if existing else set()
    wanted = list(dict.fromkeys(code_ids))
    category = deal.outcome_enum.code_category
    allowed = {c.id for c in reason_choices((category,), before)}
    if any(cid not in allowed for cid in wanted):
        kind = "why-buy reasons" if category == CodeCategory.WHY_BUY.value else "loss reasons"
        raise ValidationFailed(f"Choose {kind}: this deal was {deal.outcome_enum.label.lower()}.", field="codes")
    if existing is None:
        existing = DealFeedback(deal_id=deal.id, user_id=actor.id, lead_quality=lead_quality, created_at=now)
        db.session.add(existing)
        deal.feedback.append(existing)
    existing.lead_quality = lead_quality
    existing.note = note
    existing.updated_at = now
    # Keep the rows of codes still chosen (the unique key would clash if they were deleted and re-added).
    existing.codes = [c for c in existing.codes if c.reason_code_id in wanted] + [
        DealFeedbackCode(reason_code_id=cid) for cid in wanted if cid not in before
    ]
    db.session.flush()
    return existing


@dataclass(frozen=True)
class ReasonTally:
    label: str
    category: str
    mentions: int
    deals: int
    share: Fraction | None  # of the mentions in its category
    retired: bool


@dataclass(frozen=True)
class GroupTally:
    label: str
    deals: int
    won: int
    lost: int
    no_decision: int
    feedback: int
    avg_lead_quality: Fraction | None

    @property
    def win_rate(self) -> Fraction | None:
        return Fraction(self.won, self.deals) if self.deals else None


@dataclass(frozen=True)
class DealSummary:
    deals: int
    feedback: int
    reasons: dict[str, list[ReasonTally]]  # category → tallies, most mentioned first
    by_lead_source: list[GroupTally]
    by_segment: list[GroupTally]
    notes: list[tuple[str, str, str]]  # (deal, outcome label, note) — unattributed


NOT_GIVEN = "(not given)"


def deal_summary(activity_id: int) -> DealSummary:
    """The meeting's deals and feedback, aggregated by reason code, lead source and segment."""
    deals = list(db.session.scalars(
        select(PlaybackDeal)
        .options(selectinload(PlaybackDeal.feedback).selectinload(DealFeedback.codes).joinedload(DealFeedbackCode.reason_code))
        .where(PlaybackDeal.activity_id == activity_id)
        .order_by(PlaybackDeal.name)
        .execution_options(populate_existing=True)
    ))
    mentions: Counter = Counter()
    deals_per_code: dict[int, set[int]] = defaultdict(set)
    codes: dict[int, ReasonCode] = {}
    notes = []
    for deal in deals:
        for fb in deal.feedback:
            for c in fb.codes:
                mentions[c.reason_code_id] += 1
                deals_per_code[c.reason_code_id].add(deal.id)
                codes[c.reason_code_id] = c.reason_code
            if fb.note:
                notes.append((deal.name, deal.outcome_enum.label, fb.note))
    per_category: dict[str, int] = Counter()
    for cid, n in mentions.items():
        per_category[codes[cid].category] += n
    reasons: dict[str, list[ReasonTally]] = defaultdict(list)
    for cid, n in sorted(mentions.items(), key=lambda kv: (-kv[1], codes[kv[0]].position, codes[kv[0]].label)):
        code = codes[cid]
        reasons[code.category].append(ReasonTally(code.label, code.category, n, len(deals_per_code[cid]),
                                                  Fraction(n, per_category[code.category]), code.retired))

    def tally(key) -> list[GroupTally]:
        groups: dict[str, list[PlaybackDeal]] = defaultdict(list)
        for deal in deals:
            groups[key(deal) or NOT_GIVEN].append(deal)
        out = []
        for label, members in groups.items():
            ratings = [fb.lead_quality for d in members for fb in d.feedback]
            out.append(GroupTally(
                label, len(members),
                sum(d.outcome == DealOutcome.WON.value for d in members),
                sum(d.outcome == DealOutcome.LOST.value for d in members),
                sum(d.outcome == DealOutcome.NO_DECISION.value for d in members),
                len(ratings),
                Fraction(sum(ratings), len(ratings)) if ratings else None,
            ))
        return sorted(out, key=lambda g: (-g.deals, g.label == NOT_GIVEN, g.label))

    return DealSummary(
        deals=len(deals),
        feedback=sum(len(d.feedback) for d in deals),
        reasons=dict(reasons),
        by_lead_source=tally(lambda d: d.lead_source),
        by_segment=tally(lambda d: d.segment),
        notes=notes,
    )


def average(value: Fraction | None) -> str:
    return "—" if value is None else _decimal_text(value, 1)

