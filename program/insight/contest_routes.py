"""The debrief contest: the leaderboard per period (everyone), HR's reproducible weighted draw, and a draw's
record with its replay check (HR and admins)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from program.accounts.models import User
from program.debriefs.models import ContestDraw
from program.insight import contest
from program.insight.contest import MONTH, PERIOD_KINDS, Period
from program.insight.permissions import can_draw_contest
from program.timeutil import utcnow
from program.web import ConfirmForm, page_args, run_post

bp = Blueprint("contest", __name__)


def _org_timezone() -> str:
    """Contest periods are the organisation's months and quarters (DEFAULT_TIMEZONE), so every viewer and
    every HR person means the same "November" and a period can be drawn only once."""
    return current_app.config["DEFAULT_TIMEZONE"]


@dataclass
class ListPage:
    """One page of an in-memory list, with the attributes the ``pager`` macro reads."""

    items: list[Any]
    page: int
    per_page: int
    total: int

    @classmethod
    def of(cls, rows: list[Any], page: int, per_page: int) -> ListPage:
        pages = max(math.ceil(len(rows) / per_page), 1)
        page = min(page, pages)
        return cls(rows[(page - 1) * per_page : page * per_page], page, per_page, len(rows))

    @property
    def pages(self) -> int:
        return max(math.ceil(self.total / self.per_page), 1)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int | None:
        return self.page - 1 if self.has_prev else None

    @property
    def next_num(self) -> int | None:
        return self.page + 1 if self.has_next else None


def _chosen_period(kind: str | None, token: str | None, tz: str, now) -> tuple[Period, bool]:
    """The period asked for in the query string (default: the current month here), and whether what was
    asked for could not be read."""
    kind = kind if kind in PERIOD_KINDS else MONTH
    if token:
        period = contest.parse_period(kind, token, tz)
        if period is not None:
            return period, False
    return contest.period_containing(kind, now, tz), bool(token)


def _entries_or_none(draw: ContestDraw) -> list[tuple[int, int]] | None:
    try:
        return contest.recorded_entries(draw)
    except ValueError:
        return None


@bp.route("/contest")
@login_required
def index():
    now = utcnow()
    tz = _org_timezone()
    period, unreadable = _chosen_period(request.args.get("period"), request.args.get("date"), tz, now)
    rows = contest.leaderboard(*period.bounds)
    page, per_page = page_args(25)
    may_draw = can_draw_contest(current_user)
    draws: list[ContestDraw] = []
    draw_entries: dict[int, list[tuple[int, int]] | None] = {}
    names: dict[int, User] = {}
    draw_block = ""
    if may_draw:
        draws = contest.draws_overlapping(*period.bounds)
        draw_entries = {d.id: _entries_or_none(d) for d in draws}
        names = contest.users_by_id({uid for entries in draw_entries.values() for uid, _ in entries or []})
        # The service refuses these too; saying so here spares HR a click that can only fail.
        if now < period.end:
            draw_block = "This period isn't over yet. Draw a winner once it has ended and every entry is in."
        elif any((d.period_start, d.period_end) == period.bounds for d in draws):
            draw_block = "A winner has already been drawn for this period."
        elif not any(r.entries for r in rows):
            draw_block = "No entries in this period, so there is no one to draw."
    nxt = period.next()
    return render_template(
        "insight/contest.html",
        period=period,
        unreadable=unreadable,
        asked=request.args.get("date", ""),
        previous=period.previous(),
        next=nxt if nxt.start <= now else None,
        other_kind=contest.period_containing("quarter" if period.kind == MONTH else MONTH, period.start, tz),
        pagination=ListPage.of(rows, page, per_page),
        mine=next((r for r in rows if r.user.id == current_user.id), None),
        people=len(rows),
        total_entries=sum(r.entries for r in rows),
        may_draw=may_draw,
        draw_block=draw_block,
        draws=draws,
        draw_entries=draw_entries,
        draw_periods={d.id: contest.period_matching(d.period_start, d.period_end, tz) for d in draws},
        names=names,
        now=now,
    )


@bp.route("/contest/draw", methods=["POST"])
@login_required
def draw():
    if not can_draw_contest(current_user):
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    period = contest.parse_period(request.form.get("period", ""), request.form.get("date", ""), _org_timezone())
    if period is None:
        abort(400)
    done, record = run_post(
        lambda: contest.draw_winner(current_user, period.start, period.end, utcnow()),
        lambda record: (
            f"{record.winner.name} wins the draw for {period.label}. The seed and the entries used are recorded."
        ),
    )
    if not done:
        return redirect(url_for("contest.index", period=period.kind, date=period.token))
    return redirect(url_for("contest.draw_detail", draw_id=record.id))


@bp.route("/contest/draws/<int:draw_id>")
@login_required
def draw_detail(draw_id: int):
    if not can_draw_contest(current_user):
        abort(404)
    record = contest.draw_record(draw_id)
    if record is None:
        abort(404)
    tz = _org_timezone()
    entries = _entries_or_none(record)
    total = sum(n for _, n in entries) if entries else 0
    # Ticket ranges (1-based, inclusive) in the recorded order, so a reader can follow the pick by hand.
    table, first = [], 1
    for user_id, n in entries or []:
        table.append(
            {
                "user_id": user_id,
                "entries": n,
                "first": first,
                "last": first + n - 1,
                "share": n / total if total else 0,
            }
        )
        first += n
    ticket = contest.winning_ticket(record.seed, total) + 1 if total else None
    current = contest.canonical_entries(contest.leaderboard(record.period_start, record.period_end))
    return render_template(
        "insight/contest_draw.html",
        draw=record,
        period=contest.period_matching(record.period_start, record.period_end, tz),
        entries=table,
        total=total,
        ticket=ticket,
        names=contest.users_by_id({row["user_id"] for row in table}),
        verified=contest.verify_draw(record),
        readable=entries is not None,
        unchanged_since=entries is not None and current == entries,
    )
