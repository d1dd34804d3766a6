"""Goal progress statements on PostgreSQL: the plans of the very statements the pages run (issue 18).

A company of a few hundred people is built with bulk INSERTs (tests/factories/reports_scale.py) and analysed. The
"would count" suggestions walk the (kind, starts_at) index of activity in start order and stop at the limit (never
a join of activity to a subquery of itself, never a read of every participation); the tallies run with JIT off and
hash their groups. Plans are printed with ``-s``.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import event, text

from program.accounts.models import User
from program.extensions import db
from tests.factories.reports_scale import populate

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def company(app, now, pg_required):
    built = populate(400, 8000, now)
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    return built


def _statements(fn) -> list[tuple[str, dict]]:
    seen: list[tuple[str, dict]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    db.session.remove()
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return seen


def _plan(statement: str, parameters, analyze: bool = False) -> dict:
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(f"EXPLAIN (FORMAT JSON{', ANALYZE' if analyze else ''}) " + statement, parameters)
        plan = cursor.fetchone()[0]
    finally:
        raw.close()
    plan = (json.loads(plan) if isinstance(plan, str) else plan)[0]
    print(f"\n--- {' '.join(statement.split())[:160]}")
    for node in _nodes(plan["Plan"]):
        print(f"  {node['Node Type']:<22} {node.get('Relation Name', '')} {node.get('Index Name', '')}")
    return plan


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _client(app, user_id: int):
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = db.session.get(User, user_id).get_id()
        session["_fresh"] = True
    return client


def test_suggestions_walk_the_start_index_and_stop_early(app, company):
    client = _client(app, company.staff_id)
    seen = _statements(lambda: client.get("/goals/").get_data())
    [(statement, parameters)] = [(s, p) for s, p in seen if "found" in s and "ix_" not in s and "UNION ALL" in s]
    plan = _plan(statement, parameters, analyze=True)
    nodes = list(_nodes(plan["Plan"]))
    assert "ix_activity_kind_starts_at" in {n.get("Index Name") for n in nodes}
    assert not {n.get("Relation Name") for n in nodes if n["Node Type"] == "Seq Scan"} & {"activity", "participation"}
    assert sum(n["Node Type"] == "Limit" for n in nodes) >= 2  # per kind, and over all
    # Stopping early: the activities read are a handful, not every one ahead (about a fifth of them all).
    read = sum(
        n.get("Actual Rows", 0) * n.get("Actual Loops", 1) for n in nodes if n.get("Relation Name") == "activity"
    )
    activities = db.session.scalar(text("SELECT count(*) FROM activity"))
    assert read < activities / 20, (read, activities)


def test_the_tallies_run_without_jit_and_hash_their_groups(app, company):
    client = _client(app, company.hr_id)
    seen = _statements(lambda: client.get("/goals/overview").get_data())
    at = next(n for n, (s, _) in enumerate(seen) if "open_activity" in s)
    assert seen[at - 1][0] == "SET LOCAL jit = off"  # the transaction the tallies run in compiles nothing
    statement, parameters = seen[at]
    plan = _plan(statement, parameters)
    kinds = [n["Node Type"] for n in _nodes(plan["Plan"])]
    assert "Aggregate" in kinds or "HashAggregate" in kinds
    strategies = {n.get("Strategy") for n in _nodes(plan["Plan"]) if n["Node Type"] == "Aggregate"}
    assert "Hashed" in strategies, strategies  # grouped by booleans the planner can count, not sorted
