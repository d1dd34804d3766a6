"""DebriefTemplate ──< DebriefQuestion; DebriefTask ──1 Debrief ──< Answer ──< AnswerCode ── ReasonCode."""

from __future__ import annotations

import enum
import json
from datetime import datetime
from typing import Any

from sqlalchemy import DDL, ForeignKey, Index, String, Text, UniqueConstraint, event, false, text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from program.accounts.models import User
from program.activities.models import Activity, Participation
from program.extensions import db
from program.timeutil import UTCDateTime, utcnow


class QuestionType(enum.StrEnum):
    SHORT_TEXT = "short_text"
    LONG_TEXT = "long_text"
    RATING = "rating"
    YES_NO = "yes_no"
    SINGLE_CHOICE = "single_choice"
    MULTI_CHOICE = "multi_choice"
    REASON_CODES = "reason_codes"
    DATE = "date"

    @property
    def label(self) -> str:
        return QUESTION_TYPE_LABELS[self]


QUESTION_TYPE_LABELS = {
    QuestionType.SHORT_TEXT: "Short text",
    QuestionType.LONG_TEXT: "Long text",
    QuestionType.RATING: "Rating 1–5",
    QuestionType.YES_NO: "Yes / no",
    QuestionType.SINGLE_CHOICE: "Single choice",
    QuestionType.MULTI_CHOICE: "Multiple choice",
    QuestionType.REASON_CODES: "Reason codes",
    QuestionType.DATE: "Date",
}


class CodeCategory(enum.StrEnum):
    WHY_BUY = "why_buy"
    OBJECTION = "objection"
    LOSS_REASON = "loss_reason"
    LEAD_QUALITY = "lead_quality"

    @property
    def label(self) -> str:
        return CODE_CATEGORY_LABELS[self]


CODE_CATEGORY_LABELS = {
    CodeCategory.WHY_BUY: "Why the customer buys",
    CodeCategory.OBJECTION: "Objection heard",
    CodeCategory.LOSS_REASON: "Loss reason",
    CodeCategory.LEAD_QUALITY: "Lead-quality issue",
}


class TaskStatus(enum.StrEnum):
    """A debrief task is open until its debrief is submitted."""

    OPEN = "open"
    SUBMITTED = "submitted"


class DebriefState(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"


class ReasonCode(db.Model):
    """One shared codebook. A code in use is retired, never deleted."""

    __tablename__ = "reason_code"
    __table_args__ = (UniqueConstraint("category", "label", name="uq_reason_code_category_label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(20), index=True)
    label: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    retired: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DebriefTemplate(db.Model):
    """One published version of the questions for a kind. Editing publishes a new version."""

    __tablename__ = "debrief_template"
    __table_args__ = (UniqueConstraint("kind", "version", name="uq_debrief_template_kind_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column()
    published_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    note: Mapped[str] = mapped_column(String(300), default="")

    questions: Mapped[list[DebriefQuestion]] = relationship(
        back_populates="template", order_by="DebriefQuestion.position", cascade="all, delete-orphan"
    )
    published_by: Mapped[User | None] = relationship()


class DebriefQuestion(db.Model):
    __tablename__ = "debrief_question"

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("debrief_template.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    # A stable key across versions; "learned" feeds the learnings feed, "tactic" the tactics triage.
    key: Mapped[str] = mapped_column(String(40))
    qtype: Mapped[str] = mapped_column(String(20))
    prompt: Mapped[str] = mapped_column(String(300))
    help_text: Mapped[str] = mapped_column(String(500), default="")
    required: Mapped[bool] = mapped_column(default=False)
    options_json: Mapped[str] = mapped_column(Text, default="[]")  # choices for single/multi choice
    code_category: Mapped[str] = mapped_column(String(20), default="")  # for reason-code questions
    ask_words: Mapped[bool] = mapped_column(default=False)  # reason codes: ask for the customer's own words
    # Text answers to this question are shown, with the writer's name, in the learnings feed (and, for the
    # "tactic" question, the tactics triage). Off unless chosen; the form says so beside the question.
    shared_in_feed: Mapped[bool] = mapped_column(default=False, server_default=false())

    template: Mapped[DebriefTemplate] = relationship(back_populates="questions")

    @property
    def options(self) -> list[str]:
        return json.loads(self.options_json or "[]")

    @property
    def type_enum(self) -> QuestionType:
        return QuestionType(self.qtype)


class DebriefTask(db.Model):
    """Created when a participation is marked attended: this person owes a debrief by ``due_at``."""

    __tablename__ = "debrief_task"
    __table_args__ = (
        Index("ix_debrief_task_user_status", "user_id", "status"),
        # HR's submission status lists the latest due first: a page is read off this index (backwards).
        Index("ix_debrief_task_due_at_id", "due_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participation_id: Mapped[int] = mapped_column(ForeignKey("participation.id", ondelete="CASCADE"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"), index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default=TaskStatus.OPEN.value)  # TaskStatus
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    participation: Mapped[Participation] = relationship()
    user: Mapped[User] = relationship()
    activity: Mapped[Activity] = relationship()
    debrief: Mapped[Debrief | None] = relationship(back_populates="task", uselist=False)


class Debrief(db.Model):
    __tablename__ = "debrief"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("debrief_task.id", ondelete="CASCADE"), unique=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("debrief_template.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    state: Mapped[str] = mapped_column(String(20), default=DebriefState.DRAFT.value)  # DebriefState
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The writer's choices about sharing (see program/debriefs/sharing.py; program/insight/permissions.py reads
    # them): keep every answer of this debrief out of the feed; for a shadow day, share with everyone rather
    # than with leaders only.
    keep_out_of_feed: Mapped[bool] = mapped_column(default=False, server_default=false())
    share_with_everyone: Mapped[bool] = mapped_column(default=False, server_default=false())

    task: Mapped[DebriefTask] = relationship(back_populates="debrief")
    template: Mapped[DebriefTemplate] = relationship()
    author: Mapped[User] = relationship()
    answers: Mapped[list[Answer]] = relationship(back_populates="debrief", cascade="all, delete-orphan")

    @property
    def is_submitted(self) -> bool:
        return self.state == DebriefState.SUBMITTED.value


class Answer(db.Model):
    __tablename__ = "answer"
    __table_args__ = (
        UniqueConstraint("debrief_id", "question_id", name="uq_answer_debrief_question"),
        # The learnings search on PostgreSQL (full text, GIN). Empty on SQLite, where the column stays NULL.
        Index(
            "ix_answer_search_vector",
            "search_vector",
            postgresql_using="gin",
            postgresql_where=text("search_vector IS NOT NULL"),
            sqlite_where=text("search_vector IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    debrief_id: Mapped[int] = mapped_column(ForeignKey("debrief.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("debrief_question.id"))
    text: Mapped[str] = mapped_column(Text, default="")  # text answers, single choice, yes/no, ISO date
    number: Mapped[int | None] = mapped_column()  # rating
    choices_json: Mapped[str] = mapped_column(Text, default="[]")  # multiple choice
    # PostgreSQL: the words of ``text`` (config "simple": no language, no stemming), kept by the trigger below on
    # every insert and every change of ``text``, whoever writes the row. SQLite: always NULL (its search is a LIKE).
    # Never loaded with the answer.
    search_vector: Mapped[str | None] = mapped_column(Text().with_variant(TSVECTOR(), "postgresql"), deferred=True)

    debrief: Mapped[Debrief] = relationship(back_populates="answers")
    question: Mapped[DebriefQuestion] = relationship()
    codes: Mapped[list[AnswerCode]] = relationship(back_populates="answer", cascade="all, delete-orphan")

    @property
    def choices(self) -> list[str]:
        return json.loads(self.choices_json or "[]")

    def set_choices(self, values: list[Any]) -> None:
        self.choices_json = json.dumps(list(values))


# The trigger that keeps ``answer.search_vector``; the migration creates the same (a10a00000006), and this makes
# it for schemas built from the models (the tests).
ANSWER_SEARCH_FUNCTION = """
CREATE OR REPLACE FUNCTION answer_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector := CASE WHEN NEW.text <> '' THEN to_tsvector('simple', NEW.text) END;
    RETURN NEW;
END
$$
"""
ANSWER_SEARCH_TRIGGER = (
    "CREATE TRIGGER answer_search_vector BEFORE INSERT OR UPDATE OF text ON answer "
    "FOR EACH ROW EXECUTE FUNCTION answer_search_vector()"
)
event.listen(Answer.__table__, "after_create", DDL(ANSWER_SEARCH_FUNCTION).execute_if(dialect="postgresql"))
event.listen(Answer.__table__, "after_create", DDL(ANSWER_SEARCH_TRIGGER).execute_if(dialect="postgresql"))


class AnswerCode(db.Model):
    """A reason code given in an answer; ``reason_code_id`` None means "Unknown / other" (then ``other_text``)."""

    __tablename__ = "answer_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answer.id", ondelete="CASCADE"), index=True)
    reason_code_id: Mapped[int | None] = mapped_column(ForeignKey("reason_code.id"), index=True)
    other_text: Mapped[str] = mapped_column(String(300), default="")
    words: Mapped[str] = mapped_column(Text, default="")  # the customer's own words

    answer: Mapped[Answer] = relationship(back_populates="codes")
    reason_code: Mapped[ReasonCode | None] = relationship()


class LearningUseful(db.Model):
    """Someone marked a "what I learned" answer as useful."""

    __tablename__ = "learning_useful"
    __table_args__ = (UniqueConstraint("answer_id", "user_id", name="uq_learning_useful_answer_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answer.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TacticStatus(enum.StrEnum):
    NEW = "new"
    EXPLORING = "exploring"
    LAUNCHED = "launched"
    NOT_PURSUED = "not_pursued"

    @property
    def label(self) -> str:
        return {"new": "New", "exploring": "Exploring", "launched": "Programme launched", "not_pursued": "Not pursued"}[
            self.value
        ]


class Tactic(db.Model):
    """A proposed sales tactic that could become a scalable marketing programme, under triage."""

    __tablename__ = "tactic"

    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answer.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=TacticStatus.NEW.value, index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    answer: Mapped[Answer] = relationship()
    updated_by: Mapped[User | None] = relationship()


class ContestDraw(db.Model):
    """A recorded, reproducible prize draw: the seed and the entries it used."""

    __tablename__ = "contest_draw"
    __table_args__ = (UniqueConstraint("period_start", "period_end", name="uq_contest_draw_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    seed: Mapped[str] = mapped_column(String(64))
    entries_json: Mapped[str] = mapped_column(Text)  # [[user_id, entries], ...] in the order used
    winner_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    drawn_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    winner: Mapped[User] = relationship(foreign_keys=[winner_id])
    drawn_by: Mapped[User] = relationship(foreign_keys=[drawn_by_id])
