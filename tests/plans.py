"""Helpers for tests that read PostgreSQL query plans: the statements a call runs, their EXPLAIN, its nodes, and
a client signed in as a given person."""

from __future__ import annotations

import json

from sqlalchemy import event

from program.accounts.models import User
from program.extensions import db


def statements_of(fn) -> list[tuple[str, dict]]:
    """Every (statement, parameters) the engine runs while ``fn()`` runs (the session is started afresh)."""
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


def explain(statement: str, parameters, analyze: bool = False) -> dict:
    """The JSON plan of one statement (the top object: "Plan", and with ANALYZE the timings)."""
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(f"EXPLAIN (FORMAT JSON{', ANALYZE' if analyze else ''}) " + statement, parameters)
        plan = cursor.fetchone()[0]
    finally:
        raw.close()
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]


def nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def print_plan(title: str, plan: dict) -> None:
    print(f"\n--- {title}")
    for node in nodes(plan):
        print(f"  {node['Node Type']:<22} {node.get('Relation Name', '')} {node.get('Index Name', '')}")


def client_as(app, user_id: int):
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = db.session.get(User, user_id).get_id()
        session["_fresh"] = True
    return client
