"""Goal progress statements on PostgreSQL: the plans of the very statements the pages run (issue 18).

A company of a few hundred people is built with bulk INSERTs (tests/factories/reports_scale.py) and analysed. The
"would count" suggestions walk the (kind, starts_at) index of activity in start order and stop at the limit (never
a join of activity to a subquery of itself, never a read of every participation); the tallies run with JIT off and
hash their groups. Plans are printed with ``-s``.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from program.extensions import db
from tests.factories.reports_scale import populate
from tests.plans import client_as, explain, nodes, print_plan, statements_of

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def company(app, now, pg_required):
    built = populate(400, 8000, now)
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    return built


def test_suggestions_walk_the_start_index_and_stop_early(app, company):
    client = client_as(app, company.staff_id)
    seen = statements_of(lambda: client.get("/goals/").get_data())
    [(statement, parameters)] = [(s, p) for s, p in seen if "found" in s and "ix_" not in s and "UNION ALL" in s]
    plan = explain(statement, parameters, analyze=True)
    print_plan(" ".join(statement.split())[:160], plan["Plan"])
    found = list(nodes(plan["Plan"]))
    assert "ix_activity_kind_starts_at" in {n.get("Index Name") for n in found}
    assert not {n.get("Relation Name") for n in found if n["Node Type"] == "Seq Scan"} & {"activity", "participation"}
    assert sum(n["Node Type"] == "Limit" for n in found) >= 2  # per kind, and over all
    # Stopping early: the activities read are a handful, not every one ahead (about a fifth of them all).
    read = sum(
        n.get("Actual Rows", 0) * n.get("Actual Loops", 1) for n in found if n.get("Relation Name") == "activity"
    )
    activities = db.session.scalar(text("SELECT count(*) FROM activity"))
    assert read < activities / 20, (read, activities)


def test_the_tallies_run_without_jit_and_hash_their_groups(app, company):
    client = client_as(app, company.hr_id)
    seen = statements_of(lambda: client.get("/goals/overview").get_data())
    at = next(n for n, (s, _) in enumerate(seen) if "open_activity" in s)
    assert seen[at - 1][0] == "SET LOCAL jit = off"  # the transaction the tallies run in compiles nothing
    statement, parameters = seen[at]
    plan = explain(statement, parameters)
    print_plan(" ".join(statement.split())[:160], plan["Plan"])
    kinds = [n["Node Type"] for n in nodes(plan["Plan"])]
    assert "Aggregate" in kinds or "HashAggregate" in kinds
    strategies = {n.get("Strategy") for n in nodes(plan["Plan"]) if n["Node Type"] == "Aggregate"}
    assert "Hashed" in strategies, strategies  # grouped by booleans the planner can count, not sorted
