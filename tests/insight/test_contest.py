"""The debrief contest: entries per debrief, the leaderboard per period (in the viewer's timezone), the
reproducible weighted draw, and who may draw."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from program.accounts.models import User
from program.debriefs.models import ContestDraw
from program.errors import NotAllowed, ValidationFailed
from program.extensions import db
from program.insight import contest
from tests.conftest import FIXED_NOW

LONDON = "Europe/London"
NEW_YORK = "America/New_York"
OCTOBER_DAY = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
DRAW_FORM = 'action="/contest/draw"'
FULL_MARKS = {
    "objections": [("Price", "too pricey"), ("Timing", "not this quarter"), ("Missing feature", "")],
    "tactic": "Run a webinar on onboarding speed",
}


def october() -> contest.Period:
    return contest.Period(contest.MONTH, 2026, 10, LONDON)


def november(tz: str = LONDON) -> contest.Period:
    return contest.Period(contest.MONTH, 2026, 11, tz)


def submitted(make, answers=None, *, at, rider=None, name=None):
    """A rider (new unless given) who attended a ride-along and submitted its debrief at ``at``."""
    rider = rider or make.marketer(name=name)
    task = make.attended_task(rider)
    return make.submit_debrief(task, answers or {}, at=at)


def board(period: contest.Period) -> dict[str, tuple[int, int]]:
    return {r.user.name: (r.debriefs, r.entries) for r in contest.leaderboard(*period.bounds)}


# --- entries ---------------------------------------------------------------------------------


def test_entries_reward_time_words_and_tactics(make, now):
    late = submitted(make, at=datetime(2026, 11, 27, 9, 0, tzinfo=UTC), name="Late Lee")
    assert late.submitted_at > late.task.due_at
    full = submitted(make, FULL_MARKS, at=now, name="Prompt Pat")
    assert full.submitted_at <= full.task.due_at
    draft_task = make.attended_task(make.marketer(name="Drafty Dee"))
    make.submit_debrief(draft_task, FULL_MARKS, at=now, submit=False)

    # Late, no codes with words, no tactic: 1. On time + 2 codes with words (+1 without) + tactic: 1+1+2+1.
    assert board(november()) == {"Late Lee": (1, 1), "Prompt Pat": (1, 5)}


def test_a_persons_entries_add_up_and_the_board_orders_by_entries_then_name(make, now):
    ann = make.marketer(name="Ann")
    submitted(make, at=now, rider=ann)  # 2
    submitted(make, {"tactic": "Case study"}, at=now, rider=ann)  # 3
    submitted(make, FULL_MARKS, at=now, name="Zed")  # 5
    submitted(make, FULL_MARKS, at=now, name="Bob")  # 5
    submitted(make, at=now, name="Cy")  # 2

    rows = contest.leaderboard(*november().bounds)
    assert [(r.user.name, r.debriefs, r.entries, r.rank) for r in rows] == [
        ("Ann", 2, 5, 1),
        ("Bob", 1, 5, 1),
        ("Zed", 1, 5, 1),
        ("Cy", 1, 2, 4),
    ]


def test_only_debriefs_submitted_in_the_period_count(make, now):
    submitted(make, at=now, name="In November")
    submitted(make, at=datetime(2026, 10, 31, 23, 59, tzinfo=UTC), name="Last Minute October")
    submitted(make, at=datetime(2026, 12, 1, 0, 0, tzinfo=UTC), name="First Thing December")

    assert set(board(november())) == {"In November"}
    assert set(board(october())) == {"Last Minute October"}
    quarter = contest.quarter_containing(now, LONDON)
    assert set(board(quarter)) == {"In November", "Last Minute October", "First Thing December"}


def test_the_month_is_the_organisations_month(make, login, now, app):
    # 23:30 on 30 November in New York is already 04:30 on 1 December in UTC (and in London).
    late_evening = datetime(2026, 11, 30, 23, 30).replace(tzinfo=ZoneInfo(NEW_YORK))
    submitted(make, at=late_evening, name="Night Owl")

    ny = contest.month_containing(now, NEW_YORK)
    assert ny == november(NEW_YORK)
    # 1 November 2026 is the day US summer time ends: midnight is still EDT, 1 December is EST.
    assert ny.bounds == (datetime(2026, 11, 1, 4, 0, tzinfo=UTC), datetime(2026, 12, 1, 5, 0, tzinfo=UTC))
    assert "Night Owl" in board(ny)
    assert "Night Owl" not in board(november(LONDON))
    assert "Night Owl" in board(contest.Period(contest.MONTH, 2026, 12, LONDON))

    # The page uses the organisation's timezone (DEFAULT_TIMEZONE), whoever looks: one "November" for all.
    app.config["DEFAULT_TIMEZONE"] = NEW_YORK
    for viewer_tz in (NEW_YORK, LONDON):
        assert "Night Owl" in login(make.user(timezone=viewer_tz)).get("/contest").get_data(as_text=True)
    app.config["DEFAULT_TIMEZONE"] = LONDON
    londoner = login(make.user(timezone=NEW_YORK))
    page = londoner.get("/contest").get_data(as_text=True)
    assert "November 2026" in page and "Night Owl" not in page
    assert "Night Owl" in londoner.get("/contest?period=month&date=2026-12").get_data(as_text=True)


def test_periods_parse_step_and_name_themselves():
    q4 = contest.parse_period("quarter", "2026-Q4", NEW_YORK)
    assert q4.bounds == (datetime(2026, 10, 1, 4, 0, tzinfo=UTC), datetime(2027, 1, 1, 5, 0, tzinfo=UTC))
    assert q4.label.startswith("Q4 2026") and q4.token == "2026-Q4"
    assert q4.next().token == "2027-Q1" and q4.previous().token == "2026-Q3"
    assert contest.parse_period("quarter", "2026-11", LONDON) == q4.__class__("quarter", 2026, 4, LONDON)
    assert contest.parse_period("month", "2026-Q2", LONDON).token == "2026-04"
    jan = contest.parse_period("month", "2027-01", LONDON)
    assert jan.previous().token == "2026-12" and jan.previous().label == "December 2026"
    for bad in ("", "2026", "2026-13", "2026-Q5", "26-11", "next month"):
        assert contest.parse_period("month", bad, LONDON) is None
    assert contest.parse_period("year", "2026-11", LONDON) is None
    assert contest.month_containing(date(2026, 2, 28), LONDON).end == datetime(2026, 3, 1, tzinfo=UTC)


def test_the_leaderboard_runs_a_fixed_number_of_queries(make, now, count_queries):
    submitted(make, FULL_MARKS, at=now)
    db.session.commit()
    with count_queries() as few:
        assert len(contest.leaderboard(*november().bounds)) == 1
    for _ in range(4):
        submitted(make, FULL_MARKS, at=now)
    db.session.commit()
    with count_queries() as many:
        rows = contest.leaderboard(*november().bounds)
        assert [r.entries for r in rows] == [5] * 5
    assert many.count == few.count <= 6


# --- the draw --------------------------------------------------------------------------------


def test_pick_weighted_is_pure_and_really_weighted():
    entries = [(7, 9), (8, 1)]
    wins = sum(contest.pick_weighted(seed, entries) == 7 for seed in range(1000))
    assert 800 <= wins <= 970
    assert [contest.pick_weighted("abc", entries) for _ in range(5)] == [contest.pick_weighted("abc", entries)] * 5
    assert {contest.pick_weighted(seed, [(3, 1)]) for seed in range(50)} == {3}
    for broken in ([], [(1, 0)], [(1, -2)], [(1, 1.5)]):
        with pytest.raises(ValueError):
            contest.pick_weighted("abc", broken)


def test_a_draw_is_recorded_and_replays_to_the_same_winner(make, now):
    hr = make.user(role="hr")
    a = submitted(make, FULL_MARKS, at=OCTOBER_DAY).author
    b = submitted(make, at=OCTOBER_DAY).author

    draw = contest.draw_winner(hr, *october().bounds, now, seed="fixed-seed")
    assert draw.id and draw.drawn_by_id == hr.id and draw.drawn_at == now and draw.seed == "fixed-seed"
    assert json.loads(draw.entries_json) == sorted([[a.id, 5], [b.id, 2]])
    assert draw.winner_id == contest.pick_weighted("fixed-seed", sorted([(a.id, 5), (b.id, 2)]))
    assert contest.replay_draw(draw) == draw.winner_id
    assert contest.verify_draw(draw)

    # Tampering with the record breaks the replay: give all the weight to the person who lost.
    loser = b.id if draw.winner_id == a.id else a.id
    draw.entries_json = json.dumps([[loser, 7]])
    assert not contest.verify_draw(draw)
    draw.entries_json = json.dumps([[draw.winner_id, 0], [loser, 7]])
    assert not contest.verify_draw(draw)
    draw.entries_json = "not json"
    assert not contest.verify_draw(draw)


def test_a_draw_without_a_seed_gets_a_fresh_random_one(make, now):
    hr = make.user(role="hr")
    winner = submitted(make, at=OCTOBER_DAY).author
    draw = contest.draw_winner(hr, *october().bounds, now)
    assert re.fullmatch(r"[0-9a-f]{32}", draw.seed)
    assert draw.winner_id == winner.id and contest.verify_draw(draw)


def test_draw_refusals(make, now):
    hr, leader = make.user(role="hr"), make.user(role="leader")
    submitted(make, at=OCTOBER_DAY)
    submitted(make, at=now)

    with pytest.raises(NotAllowed):
        contest.draw_winner(leader, *october().bounds, now)
    with pytest.raises(ValidationFailed, match="No entries in this period"):
        contest.draw_winner(hr, *contest.Period(contest.MONTH, 2026, 9, LONDON).bounds, now)
    with pytest.raises(ValidationFailed, match="isn't over yet"):
        contest.draw_winner(hr, *november().bounds, now)

    contest.draw_winner(hr, *october().bounds, now)
    with pytest.raises(ValidationFailed, match="already been drawn"):
        contest.draw_winner(make.user(role="admin"), *october().bounds, now)
    assert db.session.scalar(db.select(db.func.count(ContestDraw.id))) == 1


# --- pages -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role, status", [("hr", 302), ("admin", 302), ("leader", 404), ("staff", 404)])
def test_who_may_draw(make, as_role, role, status):
    submitted(make, at=OCTOBER_DAY)
    c, _ = as_role(role)
    resp = c.post("/contest/draw", data={"period": "month", "date": "2026-10"})
    assert resp.status_code == status
    drawn = db.session.scalar(db.select(db.func.count(ContestDraw.id)))
    if status == 302:
        assert drawn == 1 and re.search(r"/contest/draws/\d+$", resp.headers["Location"])
    else:
        assert drawn == 0


@pytest.mark.parametrize("role", ["staff", "leader", "hr", "admin"])
def test_everyone_sees_the_leaderboard_only_hr_and_admins_the_draw(make, as_role, role, now):
    submitted(make, FULL_MARKS, at=now, name="Prompt Pat")
    submitted(make, at=OCTOBER_DAY)
    c, _ = as_role(role)
    resp = c.get("/contest")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Leaderboard · November 2026" in page and "Prompt Pat" in page
    october_page = c.get("/contest?period=month&date=2026-10").get_data(as_text=True)
    assert (DRAW_FORM in october_page) == (role in ("hr", "admin"))


def test_the_draw_form_reports_why_it_cannot_draw(make, as_role, now):
    submitted(make, at=now)
    c, _ = as_role("hr")
    november_page = c.get("/contest").get_data(as_text=True)
    assert "period isn&#39;t over yet" in november_page and DRAW_FORM not in november_page
    september = c.get("/contest?period=month&date=2026-09").get_data(as_text=True)
    assert "No entries in this period" in september and DRAW_FORM not in september


def test_draw_then_second_draw_refused_and_the_record_shows_everything(make, as_role, login, now):
    winner = submitted(make, FULL_MARKS, at=OCTOBER_DAY, name="Only Olive").author
    c, hr = as_role("hr")
    first = c.post("/contest/draw", data={"period": "month", "date": "2026-10"})
    draw = db.session.scalar(db.select(ContestDraw))
    assert first.headers["Location"].endswith(f"/contest/draws/{draw.id}")

    detail = c.get(f"/contest/draws/{draw.id}").get_data(as_text=True)
    assert draw.seed in detail and "Only Olive" in detail and "Verified" in detail
    assert "Replaying the seed over the recorded entries gives the same winner" in detail
    assert f'<td class="num">{winner.id}</td><td class="num">5</td>' in detail

    again = c.post("/contest/draw", data={"period": "month", "date": "2026-10"}, follow_redirects=True)
    text = again.get_data(as_text=True)
    assert "already been drawn" in text and db.session.scalar(db.select(db.func.count(ContestDraw.id))) == 1
    # The period page lists the draw with its winner, seed, drawer and the entries it used.
    assert "Only Olive" in text and draw.seed in text and hr.name in text and "1 person, 5 entries" in text

    # A tampered record (the entries handed to someone else) says so.
    draw.entries_json = json.dumps([[hr.id, 5]])
    db.session.commit()
    assert "Not verified" in c.get(f"/contest/draws/{draw.id}").get_data(as_text=True)

    staff = login(make.user())
    assert staff.get(f"/contest/draws/{draw.id}").status_code == 404
    assert c.get("/contest/draws/999999").status_code == 404


def test_empty_period_draw_is_refused_on_the_page(as_role):
    c, _ = as_role("admin")
    resp = c.post("/contest/draw", data={"period": "month", "date": "2026-09"}, follow_redirects=True)
    assert "No entries in this period" in resp.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(ContestDraw.id))) == 0
    assert c.post("/contest/draw", data={"period": "month", "date": "whenever"}).status_code == 400


def test_the_leaderboard_pages_and_reads_bad_periods_kindly(make, login, now):
    for n in range(6):
        submitted(make, at=now, name=f"Person {n}")
    c = login(make.user())
    first = c.get("/contest?per_page=5").get_data(as_text=True)
    assert "Page 1 of 2" in first and "Person 5" not in first
    second = c.get("/contest?per_page=5&page=2").get_data(as_text=True)
    assert "Person 5" in second and "Person 0" not in second
    odd = c.get("/contest?period=month&date=someday")
    assert odd.status_code == 200 and "isn't a period we can read" in odd.get_data(as_text=True)
    assert c.get("/contest?period=quarter&date=2026-Q4").status_code == 200


@pytest.mark.postgres_only
def test_two_simultaneous_draws_make_one_record(app, make, pg_required):
    submitted(make, at=OCTOBER_DAY)
    hr_ids = [make.user(role="hr").id, make.user(role="admin").id]
    db.session.commit()
    both_ready = threading.Barrier(2)
    outcomes: list[str] = []

    def press_draw(user_id: int) -> None:
        with app.app_context():
            try:
                actor = db.session.get(User, user_id)
                both_ready.wait(timeout=10)
                contest.draw_winner(actor, *october().bounds, FIXED_NOW)
                time.sleep(0.3)  # still in the transaction: the other one has to wait or it would draw too
                db.session.commit()
                outcomes.append("drawn")
            except ValidationFailed as exc:
                db.session.rollback()
                outcomes.append("refused" if "already been drawn" in exc.message else exc.message)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=press_draw, args=(uid,)) for uid in hr_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert sorted(outcomes) == ["drawn", "refused"]
    assert db.session.scalar(db.select(db.func.count(ContestDraw.id))) == 1
