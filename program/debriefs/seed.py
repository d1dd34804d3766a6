"""Demo debriefs for the seeded ride-alongs: most submitted (some late), a few still open."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import select

from program.debriefs import services as ds
from program.debriefs.defaults import ensure_defaults
from program.debriefs.models import DebriefTask, ReasonCode, TaskStatus
from program.extensions import db

LEARNINGS = [
    "Customers describe the problem as 'chasing spreadsheets', never as 'workflow automation'. Our ads should use their words.",
    "The buyer cared more about onboarding time than price. We barely mention onboarding on the website.",
    "Security review is the real gate for Enterprise; the rep had a one-pager ready and it changed the tone of the call.",
    "Prospects from the webinar already knew the pricing model, which made the demo much shorter.",
    "The rep spends ten minutes re-explaining what our last email promised. Our nurture emails overpromise.",
    "Renewal calls are where we hear the best customer stories; marketing should be in more of them.",
]
TACTICS = [
    "A 'first 30 days' onboarding checklist the rep sends before the demo — could be a gated asset.",
    "Reference calls with a peer in the same segment closed the deal; a peer-community programme could scale it.",
    "",
    "",
]
WORDS = [
    "We just can't justify it this quarter",
    "Our security team will want to see this",
    "It saves my team a day a week",
    "",
]


def seed_debriefs(now: datetime) -> str:
    ensure_defaults(now)
    tasks = db.session.scalars(
        select(DebriefTask).where(DebriefTask.status == TaskStatus.OPEN.value).order_by(DebriefTask.id)
    ).all()
    if not tasks or db.session.scalar(
        select(DebriefTask.id).where(DebriefTask.status == TaskStatus.SUBMITTED.value).limit(1)
    ):
        return ""
    rng = random.Random(11)
    codes: dict[str, list[ReasonCode]] = {}
    for code in db.session.scalars(select(ReasonCode)):
        codes.setdefault(code.category, []).append(code)
    keep_open = {t.id for t in tasks if t.user.email == "marketer@example.com"}
    keep_open = set(list(keep_open)[:1])
    db.session.info["suppress_mail"] = True
    submitted = 0
    try:
        for i, task in enumerate(tasks):
            if task.id in keep_open or i % 6 == 5:
                continue
            late = i % 4 == 3
            at = min(task.due_at + (timedelta(days=2) if late else -timedelta(hours=20)), now)
            at = max(at, task.created_at)
            debrief = ds.start_debrief(task, task.user, at)
            values: dict[int, object] = {}
            for q in debrief.template.questions:
                if q.qtype == "reason_codes":
                    pool = codes.get(q.code_category, [])
                    chosen = rng.sample(pool, k=min(len(pool), rng.randint(1, 2)))
                    answer = ds.CodeAnswer(codes=[str(c.id) for c in chosen])
                    if q.ask_words:
                        answer.words = {str(c.id): rng.choice(WORDS) for c in chosen}
                    values[q.id] = answer
                elif q.qtype == "rating":
                    values[q.id] = str(rng.randint(2, 5))
                elif q.key == "learned":
                    values[q.id] = LEARNINGS[i % len(LEARNINGS)]
                elif q.key == "tactic":
                    values[q.id] = TACTICS[i % len(TACTICS)]
                elif q.qtype == "long_text":
                    values[q.id] = "A customer case study for this segment." if i % 2 else ""
            ds.save_debrief(debrief, task.user, values, at, submit=True)
            submitted += 1
        db.session.flush()
    finally:
        db.session.info.pop("suppress_mail", None)
    return f", {submitted} debriefs submitted"
