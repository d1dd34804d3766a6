"""Debrief rules: tasks on attendance, due dates, templates and versions, drafts, submission, the edit window.

Answers are validated here, per question, so the page, the CLI and tests share one set of rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from program.accounts.models import User
from program.activities.models import Activity, ActivityKind, Participation, State
from program.activities.signals import participation_changed
from program.debriefs.defaults import ensure_defaults
from program.debriefs.models import (
    Answer,
    AnswerCode,
    Debrief,
    DebriefQuestion,
    DebriefTask,
    DebriefTemplate,
    QuestionType,
    ReasonCode,
    Tactic,
)
from program.debriefs.sharing import SHAREABLE_TYPES, SharingChoice, apply_choice
from program.debriefs.signals import task_created
from program.errors import DomainError, NotAllowed, ValidationFailed
from program.extensions import db
from program.validation import column_length, has_control_characters

# How long after the activity a debrief is due, per kind: ("working_days" | "days", n).
DUE_RULES: dict[str, tuple[str, int]] = {
    ActivityKind.RIDE_ALONG.value: ("working_days", 2),
    ActivityKind.SHADOW_DAY.value: ("days", 7),
    ActivityKind.REVIEW_MEETING.value: ("working_days", 2),
}
EDIT_WINDOW = timedelta(hours=48)
OTHER = "other"
ANSWER_MAX_CHARS = 10_000  # a long-text answer, and the customer's words beside a reason code (see the README)


def add_working_days(day: date, n: int) -> date:
    """n working days (Mon–Fri) after ``day``."""
    while n > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def parse_due_rules(text: str) -> dict[str, tuple[str, int]]:
    """"ride_along=2 working_days,shadow_day=7 days" → {"ride_along": ("working_days", 2), ...}."""
    rules = dict(DUE_RULES)
    for item in (text or "").split(","):
        if "=" not in item:
            continue
        kind, _, spec = item.partition("=")
        number, _, unit = spec.strip().partition(" ")
        if number.isdigit() and unit.strip() in ("working_days", "days"):
            rules[kind.strip()] = (unit.strip(), int(number))
    return rules


def due_at_for(
    activity: Activity,
    rules: dict[str, tuple[str, int]] | None = None,
    marked_at: datetime | None = None,
    tz: str | None = None,
) -> datetime:
    """The end of the due day (its last second, 23:59:59 in the writer's timezone ``tz``, else the activity's),
    counted from the activity's local date — or from when attendance was marked, if later, so a correction never
    starts overdue.

    Per kind, from DEBRIEF_DUE (default: ride-alongs and meetings 2 working days, shadow days 7 days).
    """
    if rules is None:
        from flask import current_app, has_app_context

        rules = parse_due_rules(current_app.config.get("DEBRIEF_DUE", "")) if has_app_context() else DUE_RULES
    unit, n = rules.get(activity.kind, ("working_days", 2))
    zone = ZoneInfo(tz or activity.timezone)
    last_moment = activity.ends_at - timedelta(microseconds=1)  # an all-day event ends at the next midnight
    base = max(last_moment, marked_at) if marked_at else last_moment
    local_day = base.astimezone(zone).date()
    due_day = add_working_days(local_day, n) if unit == "working_days" else local_day + timedelta(days=n)
    # The last second before the next local day starts: 23:59:59 on the wall clock, and the second one when the
    # clocks go back at midnight and 23:00–24:00 happens twice (America/Santiago).
    next_day = datetime.combine(due_day + timedelta(days=1), time(0), zone)
    return next_day.astimezone(ZoneInfo("UTC")) - timedelta(seconds=1)


def create_task(p: Participation, now: datetime) -> DebriefTask:
    """Attendance creates the debrief task (once per participation)."""
    task = db.session.scalar(select(DebriefTask).where(DebriefTask.participation_id == p.id))
    if task is None:
        ensure_defaults(now)
        task = DebriefTask(participation=p, user_id=p.user_id, activity_id=p.activity_id,
                           due_at=due_at_for(p.activity, marked_at=now, tz=p.user.timezone), created_at=now)
        db.session.add(task)
        db.session.flush()
        task_created.send(task, now=now)
    return task


@participation_changed.connect
def _on_participation_changed(p: Participation, old_state, new_state, actor, now, note, **_):
    if new_state == State.ATTENDED.value:
        create_task(p, now)
    elif old_state == State.ATTENDED.value:
        task = db.session.scalar(select(DebriefTask).where(DebriefTask.participation_id == p.id))
        if task is not None and (task.debrief is None or not task.debrief.is_submitted):
            db.session.delete(task)  # marked attended by mistake: nothing is owed
            db.session.flush()


def current_template(kind: str) -> DebriefTemplate:
    template = db.session.scalar(
        select(DebriefTemplate).where(DebriefTemplate.kind == kind).order_by(DebriefTemplate.version.desc()).limit(1)
    )
    if template is None:
        raise DomainError("No debrief template exists for this kind yet.")
    return template


def is_overdue(task: DebriefTask, now: datetime) -> bool:
    return task.status == "open" and now > task.due_at


def can_edit(debrief: Debrief | None, user: User, task: DebriefTask, now: datetime) -> bool:
    """The author edits a draft any time, and a submitted debrief for 48 hours; then it is read-only."""
    if user.id != task.user_id:
        return False
    if debrief is None or not debrief.is_submitted:
        return True
    return now < debrief.submitted_at + EDIT_WINDOW


def start_debrief(task: DebriefTask, user: User, now: datetime) -> Debrief:
    if user.id != task.user_id:
        raise NotAllowed("Only the participant writes this debrief.")
    if task.debrief is None:
        ensure_defaults(now)
        task.debrief = Debrief(task=task, template=current_template(task.activity.kind), author=user, created_at=now, updated_at=now)
        db.session.add(task.debrief)
        db.session.flush()
    return task.debrief


# --- answers ---------------------------------------------------------------------------------


@dataclass
class CodeAnswer:
    codes: list[str] = field(default_factory=list)  # reason-code ids as strings, or "other"
    other_text: str = ""
    words: dict[str, str] = field(default_factory=dict)  # code id (or "other") -> customer's words


def parse_form(questions: list[DebriefQuestion], form) -> dict[int, object]:
    """Turn posted fields (q_<id>, q_<id>_codes, q_<id>_other, q_<id>_words_<code>) into raw values."""
    values: dict[int, object] = {}
    for q in questions:
        name = f"q_{q.id}"
        if q.qtype == QuestionType.MULTI_CHOICE.value:
            values[q.id] = form.getlist(name)
        elif q.qtype == QuestionType.REASON_CODES.value:
            codes = form.getlist(f"{name}_codes")
            words = {c: (form.get(f"{name}_words_{c}") or "").strip() for c in codes}
            values[q.id] = CodeAnswer(codes=codes, other_text=(form.get(f"{name}_other") or "").strip(), words=words)
        else:
            values[q.id] = (form.get(name) or "").strip()
    return values


def values_from_debrief(debrief: Debrief) -> dict[int, object]:
    """The stored answers, in the same shape ``parse_form`` gives (for showing the form again)."""
    values: dict[int, object] = {}
    for a in debrief.answers:
        q = a.question
        if q.qtype == QuestionType.MULTI_CHOICE.value:
            values[q.id] = a.choices
        elif q.qtype == QuestionType.RATING.value:
            values[q.id] = str(a.number) if a.number is not None else ""
        elif q.qtype == QuestionType.REASON_CODES.value:
            ca = CodeAnswer()
            for c in a.codes:
                key = str(c.reason_code_id) if c.reason_code_id else OTHER
                ca.codes.append(key)
                ca.words[key] = c.words
                if c.reason_code_id is None:
                    ca.other_text = c.other_text
            values[q.id] = ca
        else:
            values[q.id] = a.text
    return values


def _is_empty(q: DebriefQuestion, value) -> bool:
    if isinstance(value, CodeAnswer):
        return not value.codes
    if isinstance(value, list):
        return not value
    return not value


def validate_answers(questions: list[DebriefQuestion], values: dict[int, object], *, final: bool) -> dict[int, str]:
    """Per-question errors. Drafts may leave required questions empty; nothing may be malformed."""
    errors: dict[int, str] = {}
    codes = {str(c.id): c for c in db.session.scalars(select(ReasonCode))}
    for q in questions:
        value = values.get(q.id)
        if _is_empty(q, value):
            if final and q.required:
                errors[q.id] = "This question needs an answer before you submit."
            continue
        unstorable = _unstorable_text(value)
        if unstorable:
            errors[q.id] = unstorable
            continue
        t = q.qtype
        if t == QuestionType.RATING.value:
            if value not in {"1", "2", "3", "4", "5"}:
                errors[q.id] = "Choose a rating from 1 to 5."
        elif t == QuestionType.YES_NO.value:
            if value not in ("yes", "no"):
                errors[q.id] = "Answer yes or no."
        elif t == QuestionType.SINGLE_CHOICE.value:
            if value not in q.options:
                errors[q.id] = "Choose one of the options."
        elif t == QuestionType.MULTI_CHOICE.value:
            if any(v not in q.options for v in value):
                errors[q.id] = "Choose from the options given."
        elif t == QuestionType.DATE.value:
            try:
                date.fromisoformat(value)
            except ValueError:
                errors[q.id] = "Give a date as YYYY-MM-DD."
        elif t == QuestionType.SHORT_TEXT.value:
            if len(value) > 300:
                errors[q.id] = "Keep it under 300 characters."
        elif t == QuestionType.LONG_TEXT.value:
            if len(value) > ANSWER_MAX_CHARS:
                errors[q.id] = f"Keep it under {ANSWER_MAX_CHARS:,} characters."
        elif t == QuestionType.REASON_CODES.value:
            for c in value.codes:
                if c == OTHER:
                    if not value.other_text:
                        errors[q.id] = "Say briefly what “Unknown / other” was."
                    continue
                code = codes.get(c)
                if code is None or code.category != q.code_category:
                    errors[q.id] = "One of the codes is unknown; choose from the list."
                    break
    return errors


def _unstorable_text(value) -> str | None:
    """Why the database can't take an answer's text (a control character such as a NUL byte; an “Unknown / other”
    or customer's words longer than they may be), or None."""
    if isinstance(value, CodeAnswer):
        texts = [*value.codes, value.other_text, *value.words.values()]
    else:
        texts = list(value) if isinstance(value, list) else [value]
    if any(isinstance(text, str) and has_control_characters(text) for text in texts):
        return "Remove the control character (such as a NUL byte) from this answer; it can't be saved."
    if isinstance(value, CodeAnswer):
        other_max = column_length(AnswerCode.other_text)
        if len(value.other_text) > other_max:
            return f"Keep “Unknown / other” to {other_max:,} characters."
        if any(len(words) > ANSWER_MAX_CHARS for words in value.words.values()):
            return f"Keep the customer's words to {ANSWER_MAX_CHARS:,} characters."
    return None


def save_debrief(
    debrief: Debrief, user: User, values: dict[int, object], now: datetime, *, submit: bool,
    sharing: SharingChoice | None = None,
) -> Debrief:
    """Save a draft, or submit. Refuses with per-question errors; a refused save changes nothing.
    ``sharing``, when given, is the writer's choice about the learnings feed (kept as it was when None)."""
    task = debrief.task
    if not can_edit(debrief, user, task, now):
        raise NotAllowed("This debrief can no longer be edited (48 hours after submitting it becomes read-only).")
    questions = debrief.template.questions
    final = submit or debrief.is_submitted
    errors = validate_answers(questions, values, final=final)
    if errors:
        exc = ValidationFailed("Some answers need attention.")
        exc.errors = errors  # type: ignore[attr-defined]
        raise exc
    if sharing is not None:
        apply_choice(debrief, task.activity.kind, sharing)
    by_question = {a.question_id: a for a in debrief.answers}
    for q in questions:
        value = values.get(q.id)
        answer = by_question.get(q.id)
        if answer is None:
            answer = Answer(question=q)
            debrief.answers.append(answer)
        answer.text, answer.number, answer.choices_json = "", None, "[]"
        answer.codes.clear()
        if q.qtype == QuestionType.RATING.value:
            answer.number = int(value) if value else None
        elif q.qtype == QuestionType.MULTI_CHOICE.value:
            answer.set_choices(value or [])
        elif q.qtype == QuestionType.REASON_CODES.value:
            for c in (value or CodeAnswer()).codes:
                answer.codes.append(
                    AnswerCode(
                        reason_code_id=None if c == OTHER else int(c),
                        other_text=value.other_text if c == OTHER else "",
                        words=value.words.get(c, "") if q.ask_words else "",
                    )
                )
        else:
            answer.text = value or ""
    debrief.updated_at = now
    if submit and not debrief.is_submitted:
        debrief.state = "submitted"
        debrief.submitted_at = now
        task.status = "submitted"
    db.session.flush()
    if debrief.is_submitted:
        _sync_tactic(debrief, now)
    return debrief


def _sync_tactic(debrief: Debrief, now: datetime) -> None:
    for answer in debrief.answers:
        if answer.question.key != "tactic":
            continue
        tactic = db.session.scalar(select(Tactic).where(Tactic.answer_id == answer.id))
        if answer.text and tactic is None:
            db.session.add(Tactic(answer=answer, updated_at=now))
        elif not answer.text and tactic is not None and tactic.status == "new":
            db.session.delete(tactic)
    db.session.flush()


# --- templates -------------------------------------------------------------------------------


@dataclass
class QuestionSpec:
    key: str
    qtype: str
    prompt: str
    help_text: str = ""
    required: bool = False
    options: list[str] = field(default_factory=list)
    code_category: str = ""
    ask_words: bool = False
    shared_in_feed: bool = False  # text answers shown in the learnings feed (see sharing.py)


def publish_template(actor: User, kind: str, specs: list[QuestionSpec], now: datetime, note: str = "") -> DebriefTemplate:
    """Publish a new version for a kind. Debriefs keep the version they were started on."""
    from program.debriefs.permissions import can_manage_templates

    if not can_manage_templates(actor):
        raise NotAllowed("Only HR and admins edit debrief templates.")
    if kind not in {k.value for k in ActivityKind}:
        raise ValidationFailed("Unknown activity kind.")
    errors: list[str] = []
    if not specs:
        errors.append("A template needs at least one question.")
    keys = set()
    for n, s in enumerate(specs, 1):
        if not s.prompt.strip():
            errors.append(f"Question {n}: write the question.")
        if s.qtype not in {t.value for t in QuestionType}:
            errors.append(f"Question {n}: choose a type.")
        if s.qtype in (QuestionType.SINGLE_CHOICE.value, QuestionType.MULTI_CHOICE.value) and len(s.options) < 2:
            errors.append(f"Question {n}: give at least two options, one per line.")
        if s.qtype == QuestionType.REASON_CODES.value and s.code_category not in {"why_buy", "objection", "loss_reason", "lead_quality"}:
            errors.append(f"Question {n}: choose a reason-code category.")
        if s.shared_in_feed and s.qtype not in SHAREABLE_TYPES:
            errors.append(f"Question {n}: only text answers can be shared in the learnings feed.")
        if s.key in keys:
            errors.append(f"Question {n}: the key '{s.key}' is used twice.")
        keys.add(s.key)
    if errors:
        raise ValidationFailed(" ".join(errors))
    last = db.session.scalar(select(func.max(DebriefTemplate.version)).where(DebriefTemplate.kind == kind)) or 0
    template = DebriefTemplate(kind=kind, version=last + 1, published_at=now, published_by=actor, note=note.strip()[:300])
    for position, s in enumerate(specs):
        template.questions.append(
            DebriefQuestion(position=position, key=s.key, qtype=s.qtype, prompt=s.prompt.strip(), help_text=s.help_text.strip(),
                            required=s.required, options_json=json.dumps(s.options), code_category=s.code_category,
                            ask_words=s.ask_words, shared_in_feed=s.shared_in_feed)
        )
    db.session.add(template)
    db.session.flush()
    return template


# --- contest entries -------------------------------------------------------------------------


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


def open_tasks_for(user: User, limit: int = 5) -> list[DebriefTask]:
    """The person's open debrief tasks, soonest due first (for the dashboard)."""
    from sqlalchemy.orm import joinedload

    return list(
        db.session.scalars(
            select(DebriefTask)
            .options(joinedload(DebriefTask.activity).joinedload(Activity.host), joinedload(DebriefTask.debrief))
            .where(DebriefTask.user_id == user.id, DebriefTask.status == "open")
            .order_by(DebriefTask.due_at)
            .limit(limit)
        )
    )
