"""The programme's default codebook and templates, created when missing (seed and first use)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from program.activities.models import ActivityKind
from program.debriefs.models import CodeCategory, DebriefQuestion, DebriefTemplate, QuestionType, ReasonCode
from program.extensions import db

CODEBOOK = {
    CodeCategory.WHY_BUY: [
        ("Saves time", "The product removes manual work the customer does today."),
        ("Reduces risk", "Compliance, security or continuity concerns drive the purchase."),
        ("Integrates with their stack", "Works with tools they already use."),
        ("Peer recommendation", "A peer or reference customer recommended us."),
        ("Cost saving", "Cheaper than their current solution or process."),
        ("Executive mandate", "A leader asked for a change."),
    ],
    CodeCategory.OBJECTION: [
        ("Price", "Too expensive, or budget not allocated."),
        ("Timing", "Not now; other priorities this quarter."),
        ("Missing feature", "A capability they need is not there."),
        ("Switching cost", "Migration effort or contract lock-in with the incumbent."),
        ("Security review", "Concerns that need the security team's approval."),
        ("No clear owner", "Nobody owns the problem internally."),
    ],
    CodeCategory.LOSS_REASON: [
        ("Lost to competitor", "They chose another vendor."),
        ("No decision", "The project stalled or was cancelled."),
        ("Price", "Our price was the deciding factor."),
        ("Product fit", "The product did not fit the need."),
    ],
    CodeCategory.LEAD_QUALITY: [
        ("Wrong persona", "The contact can't buy or influence the purchase."),
        ("No budget", "No budget now or planned."),
        ("Too early", "Researching, not ready to evaluate."),
        ("Wrong segment", "Company too small or too large for the offer."),
    ],
}


# Answers to these keys are shared in the learnings feed by default; every other question is not.
SHARED_BY_DEFAULT = ("learned", "tactic")


def _q(key, qtype, prompt, help_text="", required=False, options=None, category="", ask_words=False):
    import json

    return dict(
        key=key,
        qtype=qtype.value,
        prompt=prompt,
        help_text=help_text,
        required=required,
        options_json=json.dumps(options or []),
        code_category=category,
        ask_words=ask_words,
        shared_in_feed=key in SHARED_BY_DEFAULT,
    )


DEFAULT_QUESTIONS = {
    ActivityKind.RIDE_ALONG.value: [
        _q(
            "why_buy",
            QuestionType.REASON_CODES,
            "Why is the customer buying or considering?",
            "Pick every reason you heard. Use “Unknown / other” rather than guessing.",
            True,
            category=CodeCategory.WHY_BUY.value,
        ),
        _q(
            "objections",
            QuestionType.REASON_CODES,
            "Which objections did you hear?",
            "Add the customer's own words where you can.",
            False,
            category=CodeCategory.OBJECTION.value,
            ask_words=True,
        ),
        _q(
            "lead_quality",
            QuestionType.RATING,
            "Lead quality from your point of view",
            "1 = poor fit, 5 = ideal customer.",
            True,
        ),
        _q(
            "learned",
            QuestionType.LONG_TEXT,
            "What did you learn?",
            "What would help colleagues sell or market better?",
            True,
        ),
        _q(
            "tactic",
            QuestionType.LONG_TEXT,
            "A sales tactic that could become a scalable marketing programme",
            "Optional. Marketing leaders review every proposal.",
        ),
        _q("collateral", QuestionType.LONG_TEXT, "Content or collateral that would have helped"),
    ],
    ActivityKind.REVIEW_MEETING.value: [
        _q("learned", QuestionType.LONG_TEXT, "Takeaways", "What you take away from the meeting.", True),
        _q("actions", QuestionType.LONG_TEXT, "Action items you own or propose"),
    ],
    ActivityKind.SHADOW_DAY.value: [
        _q("learned", QuestionType.LONG_TEXT, "What I learned about the other function", "", True),
        _q("surprised", QuestionType.LONG_TEXT, "What surprised me", "", True),
        _q("team_change", QuestionType.LONG_TEXT, "One thing my team will change", "", True),
    ],
}


def ensure_codebook(now: datetime) -> int:
    if db.session.scalar(select(func.count(ReasonCode.id))):
        return 0
    n = 0
    for category, codes in CODEBOOK.items():
        for position, (label, description) in enumerate(codes):
            db.session.add(
                ReasonCode(
                    category=category.value, label=label, description=description, position=position, created_at=now
                )
            )
            n += 1
    db.session.flush()
    return n


def ensure_templates(now: datetime) -> int:
    n = 0
    for kind, questions in DEFAULT_QUESTIONS.items():
        if db.session.scalar(select(DebriefTemplate.id).where(DebriefTemplate.kind == kind).limit(1)):
            continue
        template = DebriefTemplate(kind=kind, version=1, published_at=now, note="Programme default")
        for position, spec in enumerate(questions):
            template.questions.append(DebriefQuestion(position=position, **spec))
        db.session.add(template)
        n += 1
    db.session.flush()
    return n


def ensure_defaults(now: datetime) -> None:
    ensure_codebook(now)
    ensure_templates(now)
