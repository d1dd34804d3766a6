"""Debrief rules: tasks on attendance, drafts, submission, the edit window, and the task lists.

Answers are validated here, per question, so the page, the CLI and tests share one set of rules. Due dates are
in ``due_dates``, template versions in ``template_versions``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from program.accounts.models import Department, User
from program.activities.models import Activity, Participation, State
from program.debriefs import mail
from program.debriefs.defaults import ensure_defaults
from program.debriefs.due_dates import due_at_for
from program.debriefs.models import (
    Answer,
    AnswerCode,
    Debrief,
    DebriefQuestion,
    DebriefState,
    DebriefTask,
    DebriefTemplate,
    QuestionType,
    ReasonCode,
    Tactic,
    TacticStatus,
    TaskStatus,
)
from program.debriefs.sharing import SharingChoice, apply_choice
from program.debriefs.signals import task_created
from program.errors import DomainError, NotAllowed, ValidationFailed
from program.extensions import db
from program.validation import column_length, has_control_characters

EDIT_WINDOW = timedelta(hours=48)
OTHER = "other"
ANSWER_MAX_CHARS = 10_000  # a long-text answer, and the customer's words beside a reason code (see the README)


def create_task(p: Participation, now: datetime) -> DebriefTask:
    """Attendance creates the debrief task (once per participation)."""
    task = db.session.scalar(select(DebriefTask).where(DebriefTask.participation_id == p.id))
    if task is None:
        ensure_defaults(now)
        task = DebriefTask(
            participation=p,
            user_id=p.user_id,
            activity_id=p.activity_id,
            due_at=due_at_for(p.activity, marked_at=now, tz=p.user.timezone),
            created_at=now,
        )
        db.session.add(task)
        db.session.flush()
        mail.send_task(task)
        task_created.send(task, now=now)  # for the kinds (shadow days add their follow-ups)
    return task


def on_participation_changed(p: Participation, old_state, new_state, actor, now, note, **_):
    """Attendance (from the core's ``participation_changed``) creates the debrief task; taking attendance back
    removes a task that was not submitted."""
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
    return task.status == TaskStatus.OPEN.value and now > task.due_at


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
        task.debrief = Debrief(
            task=task, template=current_template(task.activity.kind), author=user, created_at=now, updated_at=now
        )
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
    debrief: Debrief,
    user: User,
    values: dict[int, object],
    now: datetime,
    *,
    submit: bool,
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
        raise ValidationFailed("Some answers need attention.", errors=errors)
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
        debrief.state = DebriefState.SUBMITTED.value
        debrief.submitted_at = now
        task.status = TaskStatus.SUBMITTED.value
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
        elif not answer.text and tactic is not None and tactic.status == TacticStatus.NEW.value:
            db.session.delete(tactic)
    db.session.flush()


# --- lists -------------------------------------------------------------------------------------


def open_tasks_for(user: User, limit: int = 5) -> list[DebriefTask]:
    """The person's open debrief tasks, soonest due first (for the dashboard)."""
    return list(
        db.session.scalars(
            select(DebriefTask)
            .options(joinedload(DebriefTask.activity).joinedload(Activity.host), joinedload(DebriefTask.debrief))
            .where(DebriefTask.user_id == user.id, DebriefTask.status == TaskStatus.OPEN.value)
            .order_by(DebriefTask.due_at)
            .limit(limit)
        )
    )


def my_tasks_page(user: User, show: str, page: int, per_page: int):
    """The person's tasks a page at a time: "done" (submitted, latest due first) or open (soonest due first)."""
    stmt = (
        select(DebriefTask)
        .options(joinedload(DebriefTask.activity).joinedload(Activity.host), joinedload(DebriefTask.debrief))
        .where(DebriefTask.user_id == user.id)
    )
    if show == "done":
        stmt = stmt.where(DebriefTask.status == TaskStatus.SUBMITTED.value).order_by(DebriefTask.due_at.desc())
    else:
        stmt = stmt.where(DebriefTask.status == TaskStatus.OPEN.value).order_by(DebriefTask.due_at)
    return db.paginate(stmt, page=page, per_page=per_page, error_out=False)


def status_page(state: str, kind: str, department: int | None, q: str, now: datetime, page: int, per_page: int):
    """HR's submission status: every task, filtered by state ("submitted", "open" = not yet due, "overdue"),
    activity kind, the writer's department and a piece of their name; latest due first.

    A page's ids are read off the (due_at, id) index, stopping after the page; the count reads only what the
    filters need. Four statements whatever the data."""
    conditions = []
    if state == "submitted":
        conditions.append(DebriefTask.status == TaskStatus.SUBMITTED.value)
    elif state == "open":
        conditions += [DebriefTask.status == TaskStatus.OPEN.value, DebriefTask.due_at >= now]
    elif state == "overdue":
        conditions += [DebriefTask.status == TaskStatus.OPEN.value, DebriefTask.due_at < now]
    if kind:
        conditions.append(DebriefTask.activity.has(Activity.kind == kind))
    if department:
        conditions.append(DebriefTask.user.has(User.department_id == department))
    if q:
        conditions.append(DebriefTask.user.has(func.lower(User.name).like(f"%{q}%")))
    # The page's ids first (a narrow statement whatever the filters), then those tasks with what a row shows.
    ids = select(DebriefTask.id).where(*conditions).order_by(DebriefTask.due_at.desc(), DebriefTask.id)
    pagination = db.paginate(ids, page=page, per_page=per_page, error_out=False, count=False)
    page_ids = list(pagination.items)
    tasks = {}
    if page_ids:
        tasks = {
            t.id: t
            for t in db.session.scalars(
                select(DebriefTask)
                .options(
                    joinedload(DebriefTask.user).joinedload(User.department),
                    joinedload(DebriefTask.activity).joinedload(Activity.host),
                    joinedload(DebriefTask.debrief),
                )
                .where(DebriefTask.id.in_(page_ids))
            )
        }
    pagination.items = [tasks[i] for i in page_ids]
    pagination.total = db.session.scalar(select(func.count(DebriefTask.id)).where(*conditions))
    return pagination


def departments() -> list[Department]:
    return list(db.session.scalars(select(Department).order_by(Department.name)))


def answers_by_question(debrief: Debrief) -> dict[int, Answer]:
    """question id -> the debrief's answer to it, with its codes (for reading a debrief)."""
    return {
        a.question_id: a
        for a in db.session.scalars(
            select(Answer).options(selectinload(Answer.codes)).where(Answer.debrief_id == debrief.id)
        )
    }
