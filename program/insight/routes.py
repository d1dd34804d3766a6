"""Learnings feed, tactics triage, reason-code insight (and its CSV). Thin: parse, call learnings.py /
tactics.py / reason_codes.py, render.

Who sees what: the feed is for everyone signed in, each reading only the answers the sharing rules
(permissions.py) allow them; tactics for marketing leaders and admins (same sharing rules); the insight for
leaders, HR and admins. Everyone else gets 404 (the page or the item does not exist for them), on GET and POST.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from program import charts
from program.activities.models import ActivityKind
from program.debriefs.models import TacticStatus
from program.filters import viewer_timezone
from program.insight import learnings as feed
from program.insight import reason_codes
from program.insight import tactics as triage
from program.insight.forms import TacticForm, UsefulForm
from program.insight.permissions import can_triage_tactics, can_view_insight, sees_leader_shared
from program.rides.models import FUNNEL_STAGES, SEGMENTS
from program.timeutil import utcnow
from program.web import page_args, run_post, save_form

bp = Blueprint("insight", __name__)

KINDS = [(k.value, k.label) for k in ActivityKind]
KIND_VALUES = {k.value for k in ActivityKind}


def _parse_day(value: str) -> date | None:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date() if value else None
    except ValueError:
        return None


def _args(source, names: tuple[str, ...]) -> dict[str, str]:
    return {name: (source.get(name) or "").strip() for name in names}


def _kept(values: dict[str, str]) -> dict[str, str]:
    """Only the non-empty values, for building a URL back to the same list."""
    return {k: v for k, v in values.items() if v}


# --- learnings ---------------------------------------------------------------------------------

LEARNING_ARGS = ("q", "kind", "segment", "department", "from", "to")


def _learning_filters(f: dict[str, str]) -> feed.LearningFilters:
    return feed.LearningFilters(
        q=f["q"][:200],
        kind=f["kind"] if f["kind"] in KIND_VALUES else "",
        segment=f["segment"],
        department_id=int(f["department"]) if f["department"].isdigit() else None,
        day_from=_parse_day(f["from"]),
        day_to=_parse_day(f["to"]),
        tz=viewer_timezone(),
    )


@bp.route("/learnings")
@login_required
def learnings():
    page, per_page = page_args(20)
    f = _args(request.args, LEARNING_ARGS)
    pagination, items = feed.learning_page(_learning_filters(f), current_user, page, per_page)
    back = _kept({**f, "page": str(page) if page > 1 else ""})
    return render_template(
        "insight/learnings.html",
        pagination=pagination,
        items=items,
        f=f,
        back=back,
        filtered=any(f.values()),
        kinds=KINDS,
        segments=SEGMENTS,
        departments=feed.departments(),
        leader_view=sees_leader_shared(current_user),
        count_cap=feed.COUNT_CAP,
    )


@bp.route("/learnings/<int:answer_id>/useful", methods=["POST"])
@login_required
def useful(answer_id: int):
    form = UsefulForm()
    if not form.validate_on_submit():
        abort(400)
    answer = feed.learning_answer(answer_id, current_user)
    if answer is None:
        abort(404)
    run_post(lambda: feed.set_useful(current_user, answer, form.useful.data == "1", utcnow()))
    # Back to the same filtered page; only known arguments, so this can't redirect elsewhere.
    back = _kept(_args(request.form, (*LEARNING_ARGS, "page")))
    if not back.get("page", "").isdigit():
        back.pop("page", None)
    return redirect(url_for("insight.learnings", **back, _anchor=f"learning-{answer_id}"))


# --- tactics -----------------------------------------------------------------------------------


def _require_triage() -> None:
    if not can_triage_tactics(current_user):
        abort(404)


def _tactic_status_arg() -> str:
    status = (request.args.get("status") or "").strip()
    return status if status in {s.value for s in TacticStatus} else ""


def _render_tactics(failed: tuple[int, TacticForm] | None = None):
    status = _tactic_status_arg()
    page, per_page = page_args(20)
    pagination, rows = triage.tactics_page(status, current_user, page, per_page)
    forms = {}
    for row in rows:
        t = row.tactic
        if failed and failed[0] == t.id:
            forms[t.id] = failed[1]  # what they typed, with the errors beside the fields
        else:
            current = t.status if t.status != TacticStatus.NEW.value else TacticStatus.EXPLORING.value
            forms[t.id] = TacticForm(formdata=None, prefix=f"t{t.id}", data={"status": current, "note": t.note})
    return render_template(
        "insight/tactics.html",
        pagination=pagination,
        rows=rows,
        forms=forms,
        status=status,
        statuses=list(TacticStatus),
        counts=triage.tactic_status_counts(current_user),
        list_args=_kept({"status": status, "page": str(page) if page > 1 else ""}),
        failed_id=failed[0] if failed else None,
        failed_errors=[e for errs in failed[1].errors.values() for e in errs] if failed else [],
    ), (422 if failed else 200)


@bp.route("/tactics")
@login_required
def tactics():
    _require_triage()
    return _render_tactics()


@bp.route("/tactics/<int:tactic_id>", methods=["POST"])
@login_required
def update_tactic(tactic_id: int):
    _require_triage()
    tactic = triage.visible_tactic(tactic_id, current_user)
    if tactic is None:
        abort(404)
    form = TacticForm(prefix=f"t{tactic_id}")
    if form.validate_on_submit():
        saved, _ = save_form(
            form, lambda: triage.update_tactic(current_user, tactic, form.status.data, form.note.data or "", utcnow())
        )
        if saved:
            flash(f"Tactic marked “{TacticStatus(tactic.status).label}”.", "success")
            back = _kept({"status": _tactic_status_arg(), "page": request.args.get("page", "")})
            if not back.get("page", "").isdigit():
                back.pop("page", None)
            return redirect(url_for("insight.tactics", **back, _anchor=f"tactic-{tactic_id}"))
    return _render_tactics(failed=(tactic_id, form))


# --- insight -----------------------------------------------------------------------------------

INSIGHT_ARGS = ("segment", "stage", "kind", "from", "to", "group_by")
# Without dates in the address the insight covers the last 90 days (shown in the form): the reason codes of all
# time are counted only when asked for (both dates left empty), so the page's cost does not grow with history.
DEFAULT_DAYS = 90


def _insight_args() -> dict[str, str]:
    f = _args(request.args, INSIGHT_ARGS)
    if "from" not in request.args and "to" not in request.args:
        today = utcnow().astimezone(ZoneInfo(viewer_timezone())).date()
        f["from"] = (today - timedelta(days=DEFAULT_DAYS)).isoformat()
    return f


def _require_insight() -> None:
    if not can_view_insight(current_user):
        abort(404)


def _insight_filters(f: dict[str, str]) -> reason_codes.InsightFilters:
    return reason_codes.InsightFilters(
        segment=f["segment"],
        stage=f["stage"],
        kind=f["kind"] if f["kind"] in KIND_VALUES else "",
        day_from=_parse_day(f["from"]),
        day_to=_parse_day(f["to"]),
        tz=viewer_timezone(),
        group_by=f["group_by"] if f["group_by"] in reason_codes.DIMENSIONS else "segment",
    )


@bp.route("/insight")
@login_required
def index():
    _require_insight()
    f = _insight_args()
    report = reason_codes.insight_report(_insight_filters(f))
    svgs = {
        table.category: charts.bar_chart(
            table.label,
            [(r.label, r.all.count) for r in table.rows],
            chart_id=f"chart-{table.category}",
        )
        for table in report.categories
        if table.total
    }
    return render_template(
        "insight/insight.html",
        report=report,
        charts=svgs,
        f={**f, "group_by": report.filters.group_by},
        csv_args={**_kept(f), "from": f["from"]},  # the CSV covers what the page shows, all time included
        segments=SEGMENTS,
        stages=FUNNEL_STAGES,
        kinds=KINDS,
        dimensions=reason_codes.DIMENSIONS,
        default_days=DEFAULT_DAYS,
    )


@bp.route("/insight.csv")
@login_required
def index_csv():
    """The same filtered table as a CSV download. Returned whole: it is one line per reason code."""
    _require_insight()
    f = _insight_args()
    report = reason_codes.insight_report(_insight_filters(f))
    filename = f"reason-codes-by-{report.filters.group_by}-{utcnow():%Y-%m-%d}.csv"
    return Response(
        reason_codes.insight_csv(report),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
