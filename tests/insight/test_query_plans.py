"""The hot statements of issue 18 use their indexes on PostgreSQL (EXPLAIN of the very statements the pages run).

A company of a few hundred people is built with bulk INSERTs (tests/factories/reports_scale.py) and analysed, so
the planner weighs real row counts; each page is requested and its statements are EXPLAINed with their own
parameters. The plans are printed (``-s``); the assertions name the index each statement must use, or the big
table it must not read whole.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select, text

from program.activities.models import Activity
from program.debriefs.defaults import ensure_defaults
from program.debriefs.models import Answer, Debrief, DebriefQuestion, DebriefTask, DebriefTemplate
from program.extensions import db
from tests.factories.reports_scale import populate
from tests.plans import client_as, explain, nodes, print_plan, statements_of

pytestmark = pytest.mark.postgres_only

WORDS = "customer security review onboarding pricing budget renewal webinar spreadsheet integration".split()


def _learnings(now) -> None:
    """A submitted debrief for each submitted task, answering every question of its template (the text ones with
    150 words, about a kilobyte); one "learned" answer in fifty mentions "procurement"."""
    ensure_defaults(now)
    templates = {t.kind: t for t in db.session.scalars(select(DebriefTemplate))}
    questions = {
        t.id: list(db.session.scalars(select(DebriefQuestion).where(DebriefQuestion.template_id == t.id)))
        for t in templates.values()
    }
    tasks = db.session.execute(
        select(DebriefTask.id, DebriefTask.user_id, DebriefTask.due_at, Activity.kind)
        .join(Activity, Activity.id == DebriefTask.activity_id)
        .where(DebriefTask.status == "submitted")
        .order_by(DebriefTask.id)
    ).all()
    debriefs = list(
        db.session.scalars(
            insert(Debrief).returning(Debrief.id, sort_by_parameter_order=True),
            [
                {
                    "task_id": task_id,
                    "template_id": templates[kind].id,
                    "author_id": user_id,
                    "state": "submitted",
                    "submitted_at": due - timedelta(hours=n % 40 + 1),
                    "created_at": due - timedelta(days=2),
                    "updated_at": due - timedelta(hours=1),
                }
                for n, (task_id, user_id, due, kind) in enumerate(tasks)
            ],
        )
    )
    rows = []
    for n, (debrief_id, (_, _, _, kind)) in enumerate(zip(debriefs, tasks, strict=True)):
        for q in questions[templates[kind].id]:
            words = ""
            if q.qtype == "long_text":
                words = " ".join(WORDS[(n * 7 + k + q.position) % len(WORDS)] for k in range(150))
                if q.key == "learned" and n % 50 == 0:
                    words += " Procurement took over."
            rows.append({"debrief_id": debrief_id, "question_id": q.id, "text": words})
    db.session.execute(insert(Answer), rows)
    db.session.commit()


@pytest.fixture
def company(app, now, pg_required):
    built = populate(400, 8000, now)
    _learnings(now)
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    return built


def _explained(statements, containing: str) -> dict:
    found = [(s, p) for s, p in statements if containing in s and s.lstrip().startswith("SELECT")]
    assert found, f"no statement with {containing!r} among:\n" + "\n".join(s[:120] for s, _ in statements)
    statement, parameters = found[0]
    plan = explain(statement, parameters)["Plan"]
    print_plan(f"{containing}\n{' '.join(statement.split())[:300]}", plan)
    return plan


def _indexes(plan: dict) -> set[str]:
    return {n["Index Name"] for n in nodes(plan) if "Index Name" in n}


def _scanned_whole(plan: dict) -> set[str]:
    return {n["Relation Name"] for n in nodes(plan) if n["Node Type"] == "Seq Scan"}


def test_the_hot_statements_use_their_indexes(app, company, now):
    """One company for all (building it is most of the time): debrief status, learnings search, browse with free
    seats, then a booking."""
    hr, staff = client_as(app, company.hr_id), client_as(app, company.staff_id)

    # HR's debrief status: a page of ids read off the (due_at, id) index, not every task sorted
    statements = statements_of(lambda: hr.get("/debriefs/status?state=overdue"))
    plan = _explained(statements, "SELECT debrief_task.id \nFROM debrief_task")
    assert "ix_debrief_task_due_at_id" in _indexes(plan)
    assert "debrief_task" not in _scanned_whole(plan)

    # the learnings search: the full-text index, not every answer
    statements = statements_of(lambda: hr.get("/learnings?q=procurement"))
    plan = _explained(statements, "FROM answer JOIN debrief_question")
    assert "ix_answer_search_vector" in _indexes(plan)
    assert "answer" not in _scanned_whole(plan)
    page = hr.get("/learnings?q=procurement").get_data(as_text=True)
    assert page.count('<tr id="learning-') == 20 and "Procurement took over." in page

    # browse, "has a free seat": seats counted per upcoming call through an index; the page's seat counts are
    # one aggregate over its calls' places
    statements = statements_of(lambda: staff.get("/ride-alongs/?free=1"))
    plan = _explained(statements, "SELECT count(*)")
    assert "participation" not in _scanned_whole(plan)
    counts = _explained(statements, "sum(CASE WHEN")
    assert "participation" not in _scanned_whole(counts)

    # a booking reads the activity's own rows only
    call = db.session.scalar(
        select(Activity.id)
        .where(Activity.kind == "ride_along", Activity.starts_at > now + timedelta(days=1))
        .order_by(Activity.starts_at)
        .limit(1)
    )
    statements = statements_of(lambda: staff.post(f"/activities/{call}/book"))
    plan = _explained(statements, "FROM activity LEFT OUTER JOIN participation")
    assert not _scanned_whole(plan) & {"activity", "participation"}
    assert any(s.startswith("INSERT INTO participation ") for s, _ in statements)  # it did book
