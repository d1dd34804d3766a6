"""The app as .ci/bench_pages.py serves it (gunicorn ``--pythonpath .ci bench_app:app``): Tandem's own app, unchanged,
plus what only the benchmark needs — nothing here belongs in program/.

- The clock is pinned to the instant the synthetic company was built around (``BENCH_NOW``).
- ``/bench/bare``: a bare page of the same app (the base layout, signed in, no content) — the floor every page is
  compared with.
- ``/bench/floor/participation.csv``: the CSV export's floor — ONE SQL statement (per-person numbers of the period)
  written by ``csv.writer``, streamed, same number of rows and columns as the real export.
- ``/bench/floor/feed/<token>.ics``: the personal feed's floor — ONE SQL statement for the same events, written by
  icalendar alone.
- Statement counting: a WSGI wrapper counts the SQL statements of each request (SQLAlchemy's
  ``before_cursor_execute``) until its body is closed, so a streamed body counts too. A request carrying
  ``X-Bench-Id`` gets its count and SQL time written to ``$BENCH_DIR/counts-<pid>.txt``; every response also carries
  ``X-Bench-Queries`` (the count when its headers were sent).
- Slow statements: any statement taking ``BENCH_SLOW_MS`` (default 20) ms or more is pickled, with its parameters
  and the request path, to ``$BENCH_DIR/slow-<pid>.pkl``; the benchmark runs EXPLAIN (ANALYZE) on them at the end.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import pickle
import threading
import time
from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, abort, render_template_string, request, stream_with_context
from flask_login import login_required
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from program import create_app
from program.extensions import db

BENCH_NOW = datetime.fromisoformat(os.environ.get("BENCH_NOW", "2026-11-23T10:00:00+00:00")).astimezone(UTC)
SLOW_MS = float(os.environ.get("BENCH_SLOW_MS", "20"))
BENCH_DIR = os.environ.get("BENCH_DIR", "")

_state = threading.local()


def _reset() -> None:
    _state.count = 0
    _state.sql = 0.0
    _state.path = ""


@event.listens_for(Engine, "before_cursor_execute")
def _before(conn, cursor, statement, parameters, context, executemany) -> None:
    if not hasattr(_state, "count"):
        _reset()
    _state.count += 1
    conn.info.setdefault("bench_started", []).append(time.perf_counter())


@event.listens_for(Engine, "after_cursor_execute")
def _after(conn, cursor, statement, parameters, context, executemany) -> None:
    started = conn.info.get("bench_started")
    if not started:
        return
    seconds = time.perf_counter() - started.pop()
    _state.sql = getattr(_state, "sql", 0.0) + seconds
    if BENCH_DIR and seconds * 1000 >= SLOW_MS and not executemany:
        record = {"ms": seconds * 1000, "path": getattr(_state, "path", ""), "sql": statement, "params": parameters}
        try:
            blob = pickle.dumps(record)
        except Exception:  # noqa: BLE001 — a parameter pickle can't carry: keep the statement, EXPLAIN without ANALYZE
            blob = pickle.dumps({**record, "params": None})
        with open(os.path.join(BENCH_DIR, f"slow-{os.getpid()}.pkl"), "ab") as out:
            out.write(blob)


class _Counted:
    """The response body, passed through; when it is closed the request's totals are written (if asked for)."""

    def __init__(self, body, bench_id: str) -> None:
        self.body, self.bench_id = body, bench_id

    def __iter__(self):
        return iter(self.body)

    def close(self) -> None:
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            if self.bench_id and BENCH_DIR:
                with open(os.path.join(BENCH_DIR, f"counts-{os.getpid()}.txt"), "a") as out:
                    out.write(f"{self.bench_id} {_state.count} {_state.sql * 1000:.1f}\n")


class CountingMiddleware:
    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        _reset()
        _state.path = environ.get("PATH_INFO", "") + (
            "?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else ""
        )

        def counting_start_response(status, headers, exc_info=None):
            headers.append(("X-Bench-Queries", str(_state.count)))
            return start_response(status, headers, exc_info)

        return _Counted(self.wsgi_app(environ, counting_start_response), environ.get("HTTP_X_BENCH_ID", ""))


bench = Blueprint("bench", __name__, url_prefix="/bench")

BARE = (
    """{% extends "base.html" %}{% block title %}Bench{% endblock %}{% block content %}<h1>Bench</h1>{% endblock %}"""
)


@bench.route("/bare")
@login_required
def bare():
    return render_template_string(BARE)


# The floor of the CSV export: every active person of the filters' scope, their numbers for the period in one
# statement (participations by kind and state, debriefs submitted and overdue), ordered by department and name.
CSV_FLOOR_SQL = """
SELECT u.name, u.email, d.name AS department, t.name AS team, m.name AS manager,
       count(*) FILTER (WHERE a.kind = 'ride_along' AND p.state IN ('booked', 'attended', 'no_show')),
       count(*) FILTER (WHERE a.kind = 'ride_along' AND p.state = 'attended'),
       count(*) FILTER (WHERE a.kind = 'ride_along' AND p.state = 'no_show'),
       count(*) FILTER (WHERE a.kind = 'shadow_day' AND p.state IN ('booked', 'attended', 'no_show')),
       count(*) FILTER (WHERE a.kind = 'shadow_day' AND p.state = 'attended'),
       count(*) FILTER (WHERE a.kind = 'shadow_day' AND p.state = 'no_show'),
       count(*) FILTER (WHERE a.kind = 'review_meeting' AND p.state IN ('booked', 'attended', 'no_show')),
       count(*) FILTER (WHERE a.kind = 'review_meeting' AND p.state = 'attended'),
       count(*) FILTER (WHERE a.kind = 'review_meeting' AND p.state = 'no_show'),
       count(dt.id) FILTER (WHERE dt.status = 'submitted'),
       count(dt.id) FILTER (WHERE dt.status = 'open' AND dt.due_at < :now)
FROM "user" u
LEFT JOIN department d ON d.id = u.department_id
LEFT JOIN team t ON t.id = u.team_id
LEFT JOIN "user" m ON m.id = u.manager_id
LEFT JOIN participation p ON p.user_id = u.id
     AND EXISTS (SELECT 1 FROM activity x WHERE x.id = p.activity_id AND x.starts_at >= :start AND x.starts_at < :end)
LEFT JOIN activity a ON a.id = p.activity_id
LEFT JOIN debrief_task dt ON dt.participation_id = p.id
WHERE u.active
GROUP BY u.id, u.name, u.email, d.name, t.name, m.name
ORDER BY d.name NULLS LAST, u.name, u.id
"""


def _period_bounds() -> tuple[datetime, datetime]:
    from program.periods import Period, local_today

    period = Period.parse(request.args.get("period", "")) or Period.containing(
        "month", local_today(BENCH_NOW, "Europe/London")
    )
    return period.bounds("Europe/London")


@bench.route("/floor/participation.csv")
@login_required
def csv_floor():
    from program.reports.services import header

    start, end = _period_bounds()
    columns = header()

    def lines():
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(columns)
        yield "\ufeff" + out.getvalue()
        result = db.session.execute(
            text(CSV_FLOOR_SQL).execution_options(stream_results=True, yield_per=500),
            {"start": start, "end": end, "now": BENCH_NOW},
        )
        pad = [""] * (len(columns) - 16)  # goal target, achieved, %, status, longer goals: not computed here
        for row in result:
            out.seek(0)
            out.truncate()
            writer.writerow([*row, *pad])
            yield out.getvalue()

    return Response(stream_with_context(lines()), content_type="text/csv; charset=utf-8")


# The floor of the personal feed: the same events (booked, attended or no-show places and hosted activities from
# 180 days back; cancelled ones 30 days) in one statement, written by icalendar alone.
FEED_FLOOR_SQL = """
SELECT a.id, a.ical_uid, a.ical_sequence, a.title, a.starts_at, a.ends_at, a.location, a.video_url,
       a.briefing, h.email AS host_email, h.name AS host_name,
       (a.status <> 'scheduled' OR coalesce(p.state NOT IN ('booked', 'attended', 'no_show'), false)) AS cancelled
FROM activity a
JOIN "user" h ON h.id = a.host_id
LEFT JOIN participation p ON p.activity_id = a.id AND p.user_id = :user
WHERE a.ends_at >= :recent AND (
      (p.id IS NOT NULL AND (p.state IN ('booked', 'attended', 'no_show')
                             OR (p.state IN ('cancelled_by_user', 'cancelled_by_host')
                                 AND p.state_changed_at >= :cancelled_since)))
   OR (a.host_id = :user AND (a.status = 'scheduled' OR a.cancelled_at >= :cancelled_since)))
ORDER BY a.starts_at
"""


@bench.route("/floor/feed/<token>.ics")
def feed_floor(token: str):
    from icalendar import Calendar, Event, vCalAddress, vText

    user_id = db.session.execute(
        text('SELECT u.id FROM calendar_feed f JOIN "user" u ON u.id = f.user_id WHERE f.token_hash = :h AND u.active'),
        {"h": hashlib.sha256(token.encode()).hexdigest()},
    ).scalar()
    if user_id is None:
        abort(404)
    rows = db.session.execute(
        text(FEED_FLOOR_SQL),
        {
            "user": user_id,
            "recent": BENCH_NOW - timedelta(days=180),
            "cancelled_since": BENCH_NOW - timedelta(days=30),
        },
    ).all()
    base = request.host_url.rstrip("/")
    cal = Calendar()
    cal.add("prodid", "-//Tandem//bench floor//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "Tandem")
    for r in rows:
        ev = Event()
        ev.add("uid", r.ical_uid)
        ev.add("sequence", r.ical_sequence)
        ev.add("dtstamp", BENCH_NOW)
        ev.add("dtstart", r.starts_at.astimezone(UTC))
        ev.add("dtend", r.ends_at.astimezone(UTC))
        ev.add("summary", r.title)
        if r.briefing:
            ev.add("description", r.briefing)
        if r.location or r.video_url:
            ev.add("location", r.location or r.video_url)
        ev.add("url", f"{base}/ride-alongs/{r.id}")
        ev.add("status", "CANCELLED" if r.cancelled else "CONFIRMED")
        ev.add("transp", "OPAQUE")
        organizer = vCalAddress(f"mailto:{r.host_email}")
        organizer.params["cn"] = vText(r.host_name)
        ev.add("organizer", organizer)
        cal.add_component(ev)
    return Response(cal.to_ical(), content_type="text/calendar; charset=utf-8")


def make_app(overrides: dict | None = None):
    app = create_app({"FIXED_NOW": BENCH_NOW, **(overrides or {})})
    app.register_blueprint(bench)
    app.wsgi_app = CountingMiddleware(app.wsgi_app)
    return app


app = make_app() if os.environ.get("BENCH_SERVE") == "1" else None
