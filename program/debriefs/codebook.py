"""The reason-code codebook: one list shared by every activity kind, in categories.

Rules:
- Only HR and admins change the codebook (``can_manage_templates``).
- A label is unique within its category (compared without regard to case or surrounding spaces),
  retired codes included: bring a retired code back rather than adding a twin.
- A code is never deleted. Answers point at it, and old debriefs must keep showing what was said;
  a code that should no longer be offered is retired, and can be un-retired.
- A code keeps its category for life: moving it would silently change what old answers meant.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError

from program.accounts.models import User
from program.debriefs.models import CODE_CATEGORY_LABELS, AnswerCode, CodeCategory, ReasonCode
from program.debriefs.permissions import can_manage_templates
from program.errors import NotAllowed, ValidationFailed
from program.extensions import db

LABEL_MAX = 120
DESCRIPTION_MAX = 1000


def _require_manager(actor: User) -> None:
    if not can_manage_templates(actor):
        raise NotAllowed("Only HR and admins change the reason-code codebook.")


def _clean_label(label: str | None) -> str:
    cleaned = " ".join((label or "").split())
    if not cleaned:
        raise ValidationFailed("Give the code a label.", field="label")
    if len(cleaned) > LABEL_MAX:
        raise ValidationFailed(f"Keep the label to {LABEL_MAX} characters.", field="label")
    return cleaned


def _clean_description(description: str | None) -> str:
    cleaned = (description or "").strip()
    if len(cleaned) > DESCRIPTION_MAX:
        raise ValidationFailed(f"Keep the description to {DESCRIPTION_MAX:,} characters.", field="description")
    return cleaned


def _refuse_duplicate(category: str, label: str, exclude_id: int | None = None) -> None:
    """A label may appear once per category, retired codes included."""
    stmt = select(ReasonCode).where(ReasonCode.category == category, func.lower(ReasonCode.label) == label.lower())
    if exclude_id is not None:
        stmt = stmt.where(ReasonCode.id != exclude_id)
    twin = db.session.scalars(stmt.limit(1)).first()
    if twin is not None:
        where = CODE_CATEGORY_LABELS[CodeCategory(category)]
        hint = " It is retired: un-retire it instead of adding it again." if twin.retired else ""
        raise ValidationFailed(f"“{twin.label}” is already a code in {where}.{hint}", field="label")


def add_code(actor: User, category: str, label: str, description: str, now: datetime) -> ReasonCode:
    """Add a code at the end of its category. Refuses an unknown category and a duplicate label."""
    _require_manager(actor)
    if category not in {c.value for c in CodeCategory}:
        raise ValidationFailed("Choose a category.", field="category")
    label = _clean_label(label)
    description = _clean_description(description)
    _refuse_duplicate(category, label)
    last = db.session.scalar(select(func.max(ReasonCode.position)).where(ReasonCode.category == category))
    code = ReasonCode(
        category=category,
        label=label,
        description=description,
        retired=False,
        position=(last + 1) if last is not None else 0,
        created_at=now,
    )
    try:
        with db.session.begin_nested():
            db.session.add(code)
    except IntegrityError:  # the same label, added a moment ago by someone else
        raise ValidationFailed("That label was just added to this category by someone else.", field="label") from None
    return code


def edit_code(actor: User, code: ReasonCode, label: str, description: str, now: datetime) -> ReasonCode:
    """Change a code's label or description. Old debriefs that used it show the new label."""
    _require_manager(actor)
    label = _clean_label(label)
    description = _clean_description(description)
    _refuse_duplicate(code.category, label, exclude_id=code.id)
    try:
        with db.session.begin_nested():
            code.label = label
            code.description = description
    except IntegrityError:  # another code of the category took this label a moment ago
        raise ValidationFailed("That label was just given to another code in this category.", field="label") from None
    return code


def retire_code(actor: User, code: ReasonCode, now: datetime) -> ReasonCode:
    """Stop offering a code in new debriefs. Answers that used it keep it, and still show it."""
    _require_manager(actor)
    if code.retired:
        raise ValidationFailed(f"“{code.label}” is already retired.")
    code.retired = True
    db.session.flush()
    return code


def unretire_code(actor: User, code: ReasonCode, now: datetime) -> ReasonCode:
    """Offer a retired code in new debriefs again."""
    _require_manager(actor)
    if not code.retired:
        raise ValidationFailed(f"“{code.label}” is not retired.")
    code.retired = False
    db.session.flush()
    return code


def usage_counts(code_ids: list[int] | None = None) -> dict[int, int]:
    """How many answers use each code, in one grouped query (optionally only for some codes)."""
    stmt = (
        select(AnswerCode.reason_code_id, func.count(func.distinct(AnswerCode.answer_id)))
        .where(AnswerCode.reason_code_id.is_not(None))
        .group_by(AnswerCode.reason_code_id)
    )
    if code_ids is not None:
        if not code_ids:
            return {}
        stmt = stmt.where(AnswerCode.reason_code_id.in_(code_ids))
    return {code_id: n for code_id, n in db.session.execute(stmt).all()}


# --- what the pages list -------------------------------------------------------------------------


def codes_by_category() -> dict[str, list[ReasonCode]]:
    """Every code, grouped by category, in the order the debrief form offers them."""
    grouped: dict[str, list[ReasonCode]] = {}
    for code in db.session.scalars(
        select(ReasonCode).order_by(ReasonCode.category, ReasonCode.position, ReasonCode.label)
    ):
        grouped.setdefault(code.category, []).append(code)
    return grouped


def codes_page(category: str, show_retired: bool, page: int, per_page: int):
    """The codebook a page at a time: one category or all (in category order), retired codes when asked."""
    stmt = select(ReasonCode)
    if category:
        stmt = stmt.where(ReasonCode.category == category)
    if not show_retired:
        stmt = stmt.where(ReasonCode.retired.is_(False))
    category_order = case(
        *[(ReasonCode.category == c.value, n) for n, c in enumerate(CodeCategory)], else_=len(CodeCategory)
    )
    stmt = stmt.order_by(category_order, ReasonCode.position, ReasonCode.label, ReasonCode.id)
    return db.paginate(stmt, page=page, per_page=per_page, error_out=False)
