"""Debrief templates: one published version of the questions per kind and edit, never changed afterwards.
Publishing checks the questions and adds the next version; debriefs keep the version they were started on.
Also what the template admin pages list (versions, question and debrief counts)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from program.accounts.models import User
from program.activities.models import ActivityKind
from program.debriefs.models import Debrief, DebriefQuestion, DebriefTemplate, QuestionType
from program.debriefs.permissions import can_manage_templates
from program.debriefs.sharing import SHAREABLE_TYPES
from program.errors import NotAllowed, ValidationFailed
from program.extensions import db

PUBLISHED_MEANWHILE = (
    "Someone published a version at the same moment, so nothing was saved. Publish again to replace it."
)


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


def publish_template(
    actor: User, kind: str, specs: list[QuestionSpec], now: datetime, note: str = ""
) -> DebriefTemplate:
    """Publish a new version for a kind. Debriefs keep the version they were started on."""
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
        if s.qtype == QuestionType.REASON_CODES.value and s.code_category not in {
            "why_buy",
            "objection",
            "loss_reason",
            "lead_quality",
        }:
            errors.append(f"Question {n}: choose a reason-code category.")
        if s.shared_in_feed and s.qtype not in SHAREABLE_TYPES:
            errors.append(f"Question {n}: only text answers can be shared in the learnings feed.")
        if s.key in keys:
            errors.append(f"Question {n}: the key '{s.key}' is used twice.")
        keys.add(s.key)
    if errors:
        raise ValidationFailed(" ".join(errors))
    last = latest_version(kind) or 0
    template = DebriefTemplate(
        kind=kind, version=last + 1, published_at=now, published_by=actor, note=note.strip()[:300]
    )
    for position, s in enumerate(specs):
        template.questions.append(
            DebriefQuestion(
                position=position,
                key=s.key,
                qtype=s.qtype,
                prompt=s.prompt.strip(),
                help_text=s.help_text.strip(),
                required=s.required,
                options_json=json.dumps(s.options),
                code_category=s.code_category,
                ask_words=s.ask_words,
                shared_in_feed=s.shared_in_feed,
            )
        )
    try:
        with db.session.begin_nested():
            db.session.add(template)
    except IntegrityError:  # the same version number, published by someone else a moment ago
        raise ValidationFailed(PUBLISHED_MEANWHILE) from None
    return template


# --- what the admin pages list -----------------------------------------------------------------


def latest_version(kind: str) -> int | None:
    return db.session.scalar(select(func.max(DebriefTemplate.version)).where(DebriefTemplate.kind == kind))


def current_versions() -> dict[str, DebriefTemplate]:
    """kind -> its current (highest) version, with who published it."""
    latest = (
        select(DebriefTemplate.kind, func.max(DebriefTemplate.version).label("version"))
        .group_by(DebriefTemplate.kind)
        .subquery()
    )
    return {
        t.kind: t
        for t in db.session.scalars(
            select(DebriefTemplate)
            .options(joinedload(DebriefTemplate.published_by))
            .join(latest, and_(DebriefTemplate.kind == latest.c.kind, DebriefTemplate.version == latest.c.version))
        )
    }


def template_version(kind: str, version: int) -> DebriefTemplate | None:
    """One version with its questions and who published it."""
    return db.session.scalar(
        select(DebriefTemplate)
        .options(selectinload(DebriefTemplate.questions), joinedload(DebriefTemplate.published_by))
        .where(DebriefTemplate.kind == kind, DebriefTemplate.version == version)
    )


def versions_page(kind: str, page: int, per_page: int):
    """Every published version of a kind, newest first, a page at a time."""
    return db.paginate(
        select(DebriefTemplate)
        .options(joinedload(DebriefTemplate.published_by))
        .where(DebriefTemplate.kind == kind)
        .order_by(DebriefTemplate.version.desc()),
        page=page,
        per_page=per_page,
        error_out=False,
    )


def question_counts(template_ids: list[int]) -> dict[int, int]:
    """template id -> how many questions it has, in one grouped query."""
    if not template_ids:
        return {}
    rows = db.session.execute(
        select(DebriefQuestion.template_id, func.count(DebriefQuestion.id))
        .where(DebriefQuestion.template_id.in_(template_ids))
        .group_by(DebriefQuestion.template_id)
    ).all()
    return dict(rows)


def debrief_counts(template_ids: list[int]) -> dict[int, int]:
    """template id -> how many debriefs were given on it, in one grouped query."""
    if not template_ids:
        return {}
    rows = db.session.execute(
        select(Debrief.template_id, func.count(Debrief.id))
        .where(Debrief.template_id.in_(template_ids))
        .group_by(Debrief.template_id)
    ).all()
    return dict(rows)
